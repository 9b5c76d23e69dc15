//! The file probe (keepalived's FILE_CHECK with its track_file): the server's state is a
//! number another tool writes into a file. Read as keepalived reads it (strtol with base 0:
//! decimal, 0x hex, 0 octal, leading blanks, trailing text ignored; missing, empty or not a
//! number is 0). With `weight` 0, anything but 0 takes the server down; otherwise value ×
//! weight is added to the server's weight, and a product at or below -2^31 takes it down.
//! The file is watched (inotify on its directory), never polled.

use std::path::{Path, PathBuf};

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::outcome::{Outcome, Reason};
use crate::config::model::FileCheck;

pub(super) fn probe(f: &FileCheck) -> Outcome {
    judge(read(&f.file), f.weight)
}

/// The value in the file; keepalived reads at most 127 bytes.
pub(crate) fn read(path: &Path) -> i64 {
    let Ok(bytes) = std::fs::read(path) else {
        return 0;
    };
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(127)]).into_owned();
    parse(&text)
}

/// C's strtol(text, NULL, 0), saturating instead of failing with ERANGE.
pub(crate) fn parse(text: &str) -> i64 {
    let t = text.trim_start();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (16, h)
    } else if t.starts_with('0') {
        (8, t)
    } else {
        (10, t)
    };
    let mut v: i64 = 0;
    for c in digits.chars() {
        let Some(d) = c.to_digit(radix) else { break };
        v = v
            .saturating_mul(i64::from(radix))
            .saturating_add(i64::from(d));
    }
    if neg { -v } else { v }
}

/// The verdict on a value.
pub(crate) fn judge(value: i64, weight: i32) -> Outcome {
    if weight == 0 {
        return if value == 0 {
            Outcome::Up
        } else {
            Outcome::Down(Reason::File(value))
        };
    }
    let product = value.saturating_mul(i64::from(weight));
    if product <= i64::from(i32::MIN) {
        return Outcome::Down(Reason::File(value));
    }
    match product.min(i64::from(i32::MAX)) as i32 {
        0 => Outcome::Up,
        o => Outcome::UpOffset(o),
    }
}

/// Whether an event leaves the file with a value to read: a write closed, a rename over it or
/// away, a removal (keepalived's IN_CLOSE_WRITE | IN_DELETE | IN_MOVE, track_file.c). Not a
/// bare modification: `tool > file` truncates first, and the file would read as 0 while
/// the tool runs.
fn settles(kind: &notify::EventKind) -> bool {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode, ModifyKind};
    matches!(
        kind,
        EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Modify(ModifyKind::Name(_))
            | EventKind::Remove(_)
    )
}

/// Wakes when the file is written, replaced or removed.
pub(crate) struct Watch {
    rx: mpsc::UnboundedReceiver<()>,
    _watcher: notify::RecommendedWatcher,
}

impl Watch {
    pub(crate) fn new(file: &Path) -> notify::Result<Watch> {
        let (tx, rx) = mpsc::unbounded_channel();
        let name: PathBuf = file.file_name().map(PathBuf::from).unwrap_or_default();
        let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            let Ok(ev) = ev else { return };
            if !settles(&ev.kind) {
                return;
            }
            if ev
                .paths
                .iter()
                .any(|p| p.file_name() == Some(name.as_os_str()))
            {
                let _ = tx.send(());
            }
        })?;
        let dir = file.parent().unwrap_or(Path::new("/"));
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
        Ok(Watch {
            rx,
            _watcher: watcher,
        })
    }

    /// Waits for the next change, then lets the burst that came with it pass.
    pub(crate) async fn changed(&mut self) {
        if self.rx.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
        while self.rx.try_recv().is_ok() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_as_strtol_reads_them() {
        assert_eq!(parse("42\n"), 42);
        assert_eq!(parse("  -7 servers"), -7);
        assert_eq!(parse("0x1f"), 31);
        assert_eq!(parse("010"), 8);
        assert_eq!(parse(""), 0);
        assert_eq!(parse("down"), 0);
        assert_eq!(parse("99999999999999999999999"), i64::MAX);
    }

    #[test]
    fn values_map_to_state_and_weight_as_keepalived_maps_them() {
        assert_eq!(judge(0, 0), Outcome::Up);
        assert_eq!(judge(1, 0), Outcome::Down(Reason::File(1)));
        assert_eq!(judge(3, 10), Outcome::UpOffset(30));
        assert_eq!(judge(0, 10), Outcome::Up, "0 adds nothing and stays up");
        assert_eq!(judge(-1, 10), Outcome::UpOffset(-10));
        assert_eq!(
            judge(i64::from(i32::MIN), 1),
            Outcome::Down(Reason::File(i64::from(i32::MIN)))
        );
        assert_eq!(judge(i64::MAX, 2), Outcome::UpOffset(i32::MAX));
    }
}
