//! The daemon's log lines go through a queue to a thread of their own (`haldir-log`), which
//! writes them to stderr: the daemon never waits for its log's reader. The queue holds up to
//! [`BUDGET`] bytes; a line that finds it full is dropped and counted. It allocates only what
//! it holds: nothing while the reader keeps up, so an idle daemon pays for nothing but the
//! thread's stack.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::time::Duration;

/// What the queue may hold, in bytes of text and bookkeeping: about 12,000 lines, a burst of
/// every server of a large table changing health at once, or minutes of a stalled reader at
/// an ordinary rate. Held only while the reader lags.
pub(super) const BUDGET: usize = 2 << 20;

/// Counted for each line beyond its text: its allocation and its place in the channel.
const PER_LINE: usize = 64;

/// How long the end of the daemon waits for the queue to be written out.
const FLUSH_WAIT: Duration = Duration::from_secs(1);

thread_local! {
    /// Whether this thread's last line was queued (false: dropped).
    static QUEUED_HERE: Cell<bool> = const { Cell::new(false) };
}

/// Forgets whether this thread's last line was queued.
pub(super) fn clear_queued_here() {
    QUEUED_HERE.set(false);
}

/// Whether this thread's last line since [`clear_queued_here`] was queued.
pub(super) fn queued_here() -> bool {
    QUEUED_HERE.get()
}

/// Standard error as a plain file: written without std's lock on `Stderr`, which a writer
/// blocked on a reader that does not read would hold against every other writer (the last
/// words before an abort among them). Never closed.
pub(super) struct RawStderr(ManuallyDrop<File>);

pub(super) fn raw_stderr() -> RawStderr {
    // SAFETY: descriptor 2 stays open for the life of the process; ManuallyDrop never closes it.
    RawStderr(ManuallyDrop::new(unsafe { File::from_raw_fd(2) }))
}

impl Write for RawStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes `bytes` to standard error at once and without waiting: on a socket (journald's
/// stream) a send that would block gives up, losing the line rather than the process's
/// chance to end; otherwise (a terminal, a file, a pipe) a plain write.
pub(super) fn write_now(bytes: &[u8]) {
    // SAFETY: sends from a live buffer of the given length on descriptor 2; no memory kept.
    let sent = unsafe {
        libc::send(
            2,
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if sent < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOTSOCK) {
        let _ = raw_stderr().write_all(bytes);
    }
}

enum Msg {
    Line(Vec<u8>),
    /// Answered once every line queued before it is written.
    Flush(SyncSender<()>),
}

/// What the senders and the writer share.
#[derive(Default)]
struct Shared {
    held: AtomicUsize,
    dropped: AtomicUsize,
}

/// A reader of the count of dropped lines.
pub(super) struct Dropped(Arc<Shared>);

impl Dropped {
    pub(super) fn get(&self) -> usize {
        self.0.dropped.load(Ordering::Relaxed)
    }
}

/// The senders' side: a `MakeWriter` for tracing, each event one line (or a few) queued as
/// one message.
pub(super) struct Queue {
    tx: Sender<Msg>,
    shared: Arc<Shared>,
    budget: usize,
}

/// Ends the queue at the end of the daemon: what it holds is written out first (for at most
/// a second: a reader that still does not read loses the rest).
pub(crate) struct Flush {
    tx: Sender<Msg>,
}

impl Queue {
    /// The queue and its writer thread, writing to `out`.
    pub(super) fn start<W: Write + Send + 'static>(
        out: W,
        budget: usize,
    ) -> io::Result<(Queue, Flush)> {
        let (tx, rx) = channel();
        let shared = Arc::new(Shared::default());
        let theirs = shared.clone();
        std::thread::Builder::new()
            .name("haldir-log".into())
            .spawn(move || write_out(rx, out, &theirs))?;
        let flush = Flush { tx: tx.clone() };
        Ok((Queue { tx, shared, budget }, flush))
    }

    /// The count of dropped lines, to read where the queue itself is not at hand.
    pub(super) fn counter(&self) -> Dropped {
        Dropped(self.shared.clone())
    }

    fn push(&self, buf: Vec<u8>) {
        let cost = buf.len() + PER_LINE;
        let queued = self.shared.held.fetch_add(cost, Ordering::Relaxed) + cost <= self.budget
            // Refused only when the writer is gone (it panicked): nothing would read it.
            && self.tx.send(Msg::Line(buf)).is_ok();
        if !queued {
            self.shared.held.fetch_sub(cost, Ordering::Relaxed);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
        QUEUED_HERE.set(queued);
    }
}

fn write_out<W: Write>(rx: Receiver<Msg>, mut out: W, shared: &Shared) {
    for msg in rx {
        match msg {
            Msg::Line(line) => {
                // A reader that is gone loses the line, as it would have written directly.
                let _ = out.write_all(&line);
                shared
                    .held
                    .fetch_sub(line.len() + PER_LINE, Ordering::Relaxed);
            }
            Msg::Flush(done) => {
                let _ = out.flush();
                let _ = done.send(());
            }
        }
    }
}

impl Drop for Flush {
    fn drop(&mut self) {
        let (done, written) = sync_channel(1);
        if self.tx.send(Msg::Flush(done)).is_ok() {
            let _ = written.recv_timeout(FLUSH_WAIT);
        }
    }
}

/// One event's text, queued whole when the event is complete (a line is never split by
/// another thread's).
pub(super) struct Line<'a> {
    queue: &'a Queue,
    buf: Vec<u8>,
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            self.queue.push(std::mem::take(&mut self.buf));
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Queue {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            queue: self,
            buf: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tracing_subscriber::fmt::MakeWriter;

    /// A reader that reads nothing until it is let go.
    struct Stalled {
        open: Arc<Mutex<()>>,
        got: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            drop(self.open.lock().unwrap());
            self.got.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn line(q: &Queue, text: &str) {
        let mut w = q.make_writer();
        w.write_all(text.as_bytes()).unwrap();
    }

    /// While the reader does not read, lines are queued up to the budget and the rest
    /// dropped and counted, without the sender ever waiting; once it reads, what was queued
    /// arrives, in order, and the budget is free again.
    #[test]
    fn a_stalled_reader_costs_dropped_lines_never_a_wait() {
        let open = Arc::new(Mutex::new(()));
        let got = Arc::new(Mutex::new(Vec::new()));
        let stall = open.lock().unwrap();
        let out = Stalled {
            open: open.clone(),
            got: got.clone(),
        };
        // Room for ten lines of 32 bytes (96 counted each), one of them taken by the writer
        // as it blocks.
        let (q, flush) = Queue::start(out, 1_000).unwrap();
        let start = std::time::Instant::now();
        for i in 0..100 {
            line(&q, &format!("line {i:03} of a hundred, 32 bytes\n"));
        }
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "no send waited"
        );
        let dropped = q.counter().get();
        assert_eq!(dropped, 90, "ten lines fit");
        assert!(
            !queued_here(),
            "this thread knows its last line was dropped"
        );
        drop(stall);
        drop(flush);
        // The flush waits a second at most: on a loaded machine the writer may need longer.
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while q.shared.held.load(Ordering::Relaxed) > 0 && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        let got = String::from_utf8(got.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines.len(), 100 - dropped, "{got}");
        assert!(lines[0].starts_with("line 000"), "{got}");
        assert!(lines.windows(2).all(|w| w[0] < w[1]), "in order: {got}");
        assert_eq!(
            q.shared.held.load(Ordering::Relaxed),
            0,
            "the budget is free"
        );
        line(&q, "after\n");
        assert_eq!(q.counter().get(), dropped, "room again");
        assert!(queued_here(), "and that this one was queued");
    }
}
