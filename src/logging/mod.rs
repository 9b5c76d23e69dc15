//! Logs go to stderr through `tracing`; text for people, JSON for machines. The level comes
//! from `HALDIR_LOG` (or `RUST_LOG`), default `info`.
//!
//! Under systemd, when stderr is the journal's stream (`JOURNAL_STREAM` names it), each line
//! starts with its syslog priority as sd-daemon(3) defines it (`<3>` error, `<4>` warning,
//! `<6>` info, `<7>` debug) and carries no timestamp of its own: journald records the
//! priority, so `journalctl -p err` finds haldir's errors, and adds the time itself.
//!
//! The daemon never waits for its log's reader. A journald that stops reading (stalled on a
//! slow disk, frozen, restarting) fills the stream socket (systemd gives it 8 MiB, about
//! 9,000 lines), and a write to it then blocks: the daemon's loop with it (no checks acted on, no watchdog ping,
//! so systemd kills it), and the VRRP thread at its next log line (no adverts: the peer takes
//! the addresses this director still holds). So `haldir run` hands its lines to a thread of
//! their own (`haldir-log`) through a queue ([`queue`]); when the queue is full a line is
//! dropped and counted, and the daemon says how many were lost once the log reads again
//! ([`report_dropped`]) and in `/metrics`. The commands other than `run` write directly.

mod queue;

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) use queue::Flush;
use queue::{Dropped, Queue};

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

/// The daemon's count of lines dropped by its queue.
static DROPPED: OnceLock<Dropped> = OnceLock::new();
/// The count of dropped lines at the last report that reached the queue.
static REPORTED: AtomicUsize = AtomicUsize::new(0);

/// Sets up the logs. With `background` (the daemon), lines go through the log thread, and
/// what is returned must live until the end: dropping it writes out what is queued.
pub(crate) fn init(format: LogFormat, background: bool) -> Option<Flush> {
    let filter = std::env::var("HALDIR_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour only for a person at a terminal, never into journald or a file.
        .with_ansi(std::io::stderr().is_terminal());
    if !background {
        install(builder.with_writer(std::io::stderr), format);
        return None;
    }
    match Queue::start(queue::raw_stderr(), queue::BUDGET) {
        Ok((queue, flush)) => {
            let _ = DROPPED.set(queue.counter());
            install(builder.with_writer(queue), format);
            Some(flush)
        }
        Err(e) => {
            // No thread for the logs: they are written directly, as by the other commands.
            install(builder.with_writer(std::io::stderr), format);
            tracing::warn!(error = %e, "no thread for the logs: they are written directly");
            None
        }
    }
}

fn install<W>(
    builder: tracing_subscriber::fmt::SubscriberBuilder<
        tracing_subscriber::fmt::format::DefaultFields,
        tracing_subscriber::fmt::format::Format,
        EnvFilter,
        W,
    >,
    format: LogFormat,
) where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    // A second initialisation (tests calling the CLI twice in one process) is harmless.
    let _ = match format {
        LogFormat::Text if stderr_is_journal() => builder.event_format(Journal).try_init(),
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Lines dropped since the daemon started because the log's reader did not read.
pub(crate) fn dropped_lines() -> usize {
    DROPPED.get().map_or(0, Dropped::get)
}

/// Says how many lines were dropped since the last report, if any; called at the daemon's
/// periodic turns (the watchdog's, the repair's), which wake it anyway. A report that is
/// itself dropped (the reader still stalled) is made again at a later turn.
pub(crate) fn report_dropped() {
    let dropped = dropped_lines();
    let reported = REPORTED.load(Ordering::Relaxed);
    if dropped <= reported {
        return;
    }
    queue::clear_queued_here();
    tracing::warn!(
        lines = dropped - reported,
        since_start = dropped,
        "log lines dropped: the log's reader (journald) was not reading, and the daemon does not wait for it"
    );
    // This thread's line, not another's: the count may have moved with other threads' lines.
    if queue::queued_here() {
        REPORTED.store(dropped, Ordering::Relaxed);
    }
}

/// Writes an error straight to stderr, past the log thread's queue: the last words of a
/// process about to abort, which the queue would lose with the process.
pub(crate) fn last_words(text: &str) {
    let line = if stderr_is_journal() {
        journal_lines(priority(&Level::ERROR), text)
    } else {
        format!("ERROR {text}\n")
    };
    queue::write_now(line.as_bytes());
}

/// Panics say so past the queue and without waiting for the log's reader: the default hook
/// writes to stderr with a blocking write, and a panic on the VRRP thread while journald does
/// not read would then hang there, holding the addresses without adverts, instead of ending
/// the process (`vrrp::thread`). For the daemon, before its first thread but the log's.
pub(crate) fn panics_past_the_queue() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_string());
        last_words(&format!("thread '{name}' panicked{place}: {what}"));
    }));
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
pub(crate) fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// Each line of `text` with the priority prefix: journald reads a stream line by line, so a
/// multi-line message (a refused reload's errors) keeps its priority on every line.
pub(crate) fn journal_lines(priority: u8, text: &str) -> String {
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
