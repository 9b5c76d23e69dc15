//! Logs go to stderr through `tracing`; text for people, JSON for machines. The level comes
//! from `HALDIR_LOG` (or `RUST_LOG`), default `info`.
//!
//! Under systemd, when stderr is the journal's stream (`JOURNAL_STREAM` names it), each line
//! starts with its syslog priority as sd-daemon(3) defines it (`<3>` error, `<4>` warning,
//! `<6>` info, `<7>` debug) and carries no timestamp of its own: journald records the
//! priority, so `journalctl -p err` finds haldir's errors, and adds the time itself.

use std::fmt::Write as _;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init(format: LogFormat) {
    let filter = std::env::var("HALDIR_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, never into journald or a file.
        .with_ansi(std::io::stderr().is_terminal());
    // A second initialisation (tests calling the CLI twice in one process) is harmless.
    let _ = match format {
        LogFormat::Text if stderr_is_journal() => builder.event_format(Journal).try_init(),
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Whether stderr is the journal's stream: `JOURNAL_STREAM` is "DEVICE:INODE" of it
/// (systemd.exec(5)), checked against stderr itself so that a child whose stderr was
/// redirected does not inherit the format.
fn stderr_is_journal() -> bool {
    let Ok(named) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    // SAFETY: fstat fills the stat buffer for an open descriptor; stderr is one.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(2, &mut st) } != 0 {
        return false;
    }
    named == format!("{}:{}", st.st_dev, st.st_ino)
}

/// The syslog priority of a level (sd-daemon(3)'s prefixes).
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// Each line of `text` with the priority prefix: journald reads a stream line by line, so a
/// multi-line message (a refused reload's errors) keeps its priority on every line.
pub fn journal_lines(priority: u8, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.lines() {
        let _ = writeln!(out, "<{priority}>{line}");
    }
    out
}

/// The journal's line format: priority, the event's fields, no timestamp.
struct Journal;

impl<S, N> FormatEvent<S, N> for Journal
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut text = String::new();
        ctx.field_format()
            .format_fields(Writer::new(&mut text), event)?;
        w.write_str(&journal_lines(priority(event.metadata().level()), &text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_carries_the_priority_journald_reads() {
        assert_eq!(priority(&Level::ERROR), 3);
        assert_eq!(priority(&Level::WARN), 4);
        assert_eq!(priority(&Level::INFO), 6);
        assert_eq!(priority(&Level::DEBUG), 7);
        assert_eq!(
            journal_lines(3, "reload refused:\nhaldir.toml:3:1: unknown key"),
            "<3>reload refused:\n<3>haldir.toml:3:1: unknown key\n"
        );
    }
}
