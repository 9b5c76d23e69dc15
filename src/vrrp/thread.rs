//! VRRP's own execution context: a thread of its own on which every instance runs — its
//! sockets, timers, gratuitous ARPs and addresses — and nothing else does. The daemon's loop
//! (reload parsing, reconcile, netlink dumps for `status`, nft, state files, health checks) can
//! be as busy as it likes: an advert never waits for it. The two sides talk only through the
//! instances' channels (commands in, reports and status out).
//!
//! The thread is a plain loop over one epoll set, not an async runtime: each instance's timer
//! and receiving socket, and one eventfd for the daemon's messages. An idle master's advert is
//! one wakeup, a send and a re-arm. The same three system calls made on tokio's current-thread
//! runtime (its I/O driver's turn, the task's wake, schedule and poll, a select) cost 1.12
//! times as much CPU as made bare, in paired rounds at 100 ms adverts (scripts/bench/idle
//! with HALDIR_BENCH_TOKIO_FLOOR=1; README, "Idle cost"): more above the floor than all of an
//! instance's own work, and enough to put haldir above keepalived. Few instructions, but a
//! thread that sleeps between adverts wakes to cold caches, and a longer path through more
//! memory pays for them.
//!
//! Notify commands still run on a current-thread tokio runtime, on a second thread of VRRP's
//! (child processes, their exit and the order of each instance's commands are what tokio's
//! process and task machinery are for): the loop thread enters that runtime's context, so
//! what an instance spawns runs there, away from both the adverts and the daemon's loop.
//!
//! A thread rather than a process of its own (keepalived's way): the instances' channels stay
//! typed and in memory, and the cost is one small stack. A crash of either side takes both
//! down: a panic on this thread aborts the process. An instance that panicked cannot be
//! trusted to resign, and one left out of the loop would keep its addresses without adverts
//! while the peer takes them too; a process that ends is what the service manager restarts
//! (`Restart=on-failure`), and the restart adopts what is in the kernel (its addresses, as
//! after `kill -9`).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;
use tracing::error;

use super::command::Command;

/// What the loop drives: one VRRP instance. Each method does its work and sets the instance's
/// timer to its next deadline before it returns.
pub(crate) trait Driven: Send {
    /// Its timer's descriptor and its receiving socket's, both watched edge-triggered.
    fn descriptors(&self) -> [RawFd; 2];
    /// Once, when it joins the loop.
    fn start(&mut self);
    /// Its timer's descriptor became readable (the deadline may since have moved).
    fn timer(&mut self);
    /// Its socket became readable: read what is queued, or a batch and the rest at once
    /// after (edge-triggered: no new readiness comes for what is left).
    fn readable(&mut self);
    /// A command from the daemon; None when the daemon let go of the instance. False once the
    /// instance has finished: it then leaves the loop and is dropped.
    fn command(&mut self, cmd: Option<Command>) -> bool;
}

enum Message {
    Add(u32, Box<dyn Driven>),
    Command(u32, Option<Command>),
    /// The daemon asks whether the loop still turns; the loop answers by noting the number.
    Ping(u64),
    Stop,
}

/// The daemon's messages to the loop, the eventfd that wakes it for them, and the last ping
/// the loop answered.
struct Control {
    queue: Mutex<VecDeque<Message>>,
    wake: OwnedFd,
    answered: AtomicU64,
}

impl Control {
    fn post(&self, m: Message) {
        match self.queue.lock() {
            Ok(mut q) => q.push_back(m),
            Err(poisoned) => poisoned.into_inner().push_back(m),
        }
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live buffer to the eventfd this Control owns. A full
        // counter (never, at 2^64 - 1) would only mean the loop is already woken.
        unsafe { libc::write(self.wake.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }

    fn take(&self) -> VecDeque<Message> {
        let mut counter = [0u8; 8];
        // SAFETY: reads the eventfd's 8-byte counter into a live buffer (resets it; a
        // non-blocking read of a zero counter fails harmlessly).
        unsafe { libc::read(self.wake.as_raw_fd(), counter.as_mut_ptr().cast(), 8) };
        match self.queue.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

/// The daemon's side of one instance's commands. Dropping it tells the instance that the
/// daemon let go of it (it resigns and stops, as on a shutdown with no time for scripts).
pub(crate) struct Commands {
    id: u32,
    control: Arc<Control>,
}

impl Commands {
    pub(crate) fn send(&self, cmd: Command) {
        self.control.post(Message::Command(self.id, Some(cmd)));
    }
}

impl Drop for Commands {
    fn drop(&mut self) {
        self.control.post(Message::Command(self.id, None));
    }
}

pub(crate) struct VrrpThread {
    control: Arc<Control>,
    next_id: AtomicU32,
    /// The last ping posted to the loop.
    pinged: AtomicU64,
    thread: Option<JoinHandle<()>>,
    notify: Option<NotifyThread>,
}

impl VrrpThread {
    /// Starts the loop and the notify commands' runtime.
    pub(crate) fn start() -> io::Result<VrrpThread> {
        let notify = NotifyThread::start()?;
        // SAFETY: eventfd has no memory arguments; a valid descriptor is owned below.
        let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        let control = Arc::new(Control {
            queue: Mutex::new(VecDeque::new()),
            // SAFETY: raw is a new descriptor that nothing else owns.
            wake: unsafe { OwnedFd::from_raw_fd(raw) },
            answered: AtomicU64::new(0),
        });
        let epoll = epoll_create()?;
        add(&epoll, control.wake.as_raw_fd(), CONTROL)?;
        let (ctl, handle) = (control.clone(), notify.handle.clone());
        let thread = std::thread::Builder::new()
            .name("haldir-vrrp".into())
            .spawn(move || {
                // What an instance spawns (its notify commands) runs on the notify runtime.
                let _notify = handle.enter();
                if catch_unwind(AssertUnwindSafe(|| run(&epoll, &ctl))).is_err() {
                    crashed();
                }
            })?;
        Ok(VrrpThread {
            control,
            next_id: AtomicU32::new(0),
            pinged: AtomicU64::new(0),
            thread: Some(thread),
            notify: Some(notify),
        })
    }

    /// Hands an instance to the loop; its commands go through what is returned.
    pub(crate) fn add(&self, instance: Box<dyn Driven>) -> Commands {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.control.post(Message::Add(id, instance));
        Commands {
            id,
            control: self.control.clone(),
        }
    }

    /// Whether the loop answered the last ping; if so, pings it again. Called at each turn of
    /// the daemon's watchdog, which feeds systemd's only while this holds: a loop stuck in a
    /// system call or a bug keeps its addresses and sends no adverts (the peer takes them
    /// too), while the daemon's own loop, which sends the pings, may be fine. Without it
    /// systemd would never restart such a director. A ping is one wakeup of the loop per
    /// watchdog turn (half of `WatchdogSec`).
    pub(crate) fn answering(&self) -> bool {
        let asked = self.pinged.load(Ordering::Relaxed);
        if self.control.answered.load(Ordering::Acquire) < asked {
            return false;
        }
        self.pinged.store(asked + 1, Ordering::Relaxed);
        self.control.post(Message::Ping(asked + 1));
        true
    }
}

impl Drop for VrrpThread {
    fn drop(&mut self) {
        self.control.post(Message::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Then the notify runtime, after every instance has finished.
        self.notify.take();
    }
}

/// The epoll key of the daemon's messages. An instance's keys are its id in the high 32 bits,
/// its slot above the lowest bit, and 0 for its timer or 1 for its socket.
const CONTROL: u64 = u64::MAX;

fn key(id: u32, slot: usize, socket: bool) -> u64 {
    debug_assert!(slot < 1 << 31, "a slot is 31 bits of the key");
    (u64::from(id) << 32) | ((slot as u64) << 1) | u64::from(socket)
}

/// The instances in slots that a wakeup indexes directly (a hash map's lookup was a tenth of
/// an advert's instructions). A slot is used again once its instance finished: its key's id
/// tells an event of the instance that was there before (one earlier in the same batch) from
/// its successor's. Commands find their instance by id, through `by_id`.
#[derive(Default)]
struct Instances {
    slots: Vec<Option<(u32, Box<dyn Driven>)>>,
    free: Vec<usize>,
    by_id: HashMap<u32, usize>,
}

impl Instances {
    fn insert(&mut self, id: u32, instance: Box<dyn Driven>) -> usize {
        let slot = self.free.pop().unwrap_or(self.slots.len());
        if slot == self.slots.len() {
            self.slots.push(None);
        }
        self.slots[slot] = Some((id, instance));
        self.by_id.insert(id, slot);
        slot
    }

    /// The instance an event's key names, if it is still there.
    fn by_key(&mut self, key: u64) -> Option<&mut Box<dyn Driven>> {
        let slot = ((key & u64::from(u32::MAX)) >> 1) as usize;
        match self.slots.get_mut(slot) {
            Some(Some((id, instance))) if u64::from(*id) == key >> 32 => Some(instance),
            _ => None,
        }
    }

    fn slot(&self, id: u32) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    fn take(&mut self, slot: usize) -> Option<Box<dyn Driven>> {
        let (id, instance) = self.slots.get_mut(slot)?.take()?;
        self.by_id.remove(&id);
        self.free.push(slot);
        Some(instance)
    }
}

fn run(epoll: &OwnedFd, control: &Control) {
    let mut instances = Instances::default();
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 16];
    loop {
        // SAFETY: the buffer is live and holds `events.len()` entries.
        let n = unsafe {
            libc::epoll_wait(
                epoll.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                -1,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                error!(error = %e, "the VRRP loop cannot wait");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            continue;
        }
        for ev in &events[..n as usize] {
            let key = ev.u64;
            if key == CONTROL {
                if !messages(epoll, control, &mut instances) {
                    return;
                }
                continue;
            }
            // None: it finished earlier in this batch.
            if let Some(instance) = instances.by_key(key) {
                match key & 1 {
                    0 => instance.timer(),
                    _ => instance.readable(),
                }
            }
        }
    }
}

/// Carries out the daemon's messages; false on Stop.
fn messages(epoll: &OwnedFd, control: &Control, instances: &mut Instances) -> bool {
    for m in control.take() {
        match m {
            Message::Add(id, instance) => {
                let slot = instances.insert(id, instance);
                let Some(instance) = instances.by_key(key(id, slot, false)) else {
                    continue;
                };
                let [timer, socket] = instance.descriptors();
                match add(epoll, timer, key(id, slot, false))
                    .and_then(|()| add(epoll, socket, key(id, slot, true)))
                {
                    Ok(()) => instance.start(),
                    Err(e) => {
                        error!(error = %e, "a VRRP instance cannot be watched: it is stopped");
                        instance.command(None);
                        remove(epoll, instances, slot);
                    }
                }
            }
            Message::Command(id, cmd) => {
                let Some(slot) = instances.slot(id) else {
                    continue; // finished already
                };
                if let Some(instance) = instances.by_key(key(id, slot, false))
                    && !instance.command(cmd)
                {
                    remove(epoll, instances, slot);
                }
            }
            Message::Ping(n) => control.answered.store(n, Ordering::Release),
            Message::Stop => {
                // Any instance the daemon still held resigns as if let go.
                for slot in 0..instances.slots.len() {
                    if let Some(Some((_, instance))) = instances.slots.get_mut(slot) {
                        instance.command(None);
                    }
                    remove(epoll, instances, slot);
                }
                return false;
            }
        }
    }
    true
}

/// Takes a finished instance out of the loop: its descriptors out of the set, then the
/// instance dropped (which closes them).
fn remove(epoll: &OwnedFd, instances: &mut Instances, slot: usize) {
    if let Some(instance) = instances.take(slot) {
        for fd in instance.descriptors() {
            // SAFETY: removes a descriptor the instance still owns from the set; no memory.
            // One that was never added (its add failed) is refused harmlessly.
            unsafe {
                libc::epoll_ctl(
                    epoll.as_raw_fd(),
                    libc::EPOLL_CTL_DEL,
                    fd,
                    std::ptr::null_mut(),
                )
            };
        }
    }
}

/// A panic on the VRRP thread: the process ends at once (see the module's note).
fn crashed() -> ! {
    crate::logging::last_words(
        "the VRRP thread panicked: haldir stops at once, for its service manager to restart it \
         (the restart takes back the addresses it finds)",
    );
    std::process::abort()
}

fn epoll_create() -> io::Result<OwnedFd> {
    // SAFETY: epoll_create1 has no memory arguments; a valid descriptor is owned below.
    let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: raw is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Watches `fd` for input, edge-triggered, under `key`.
fn add(epoll: &OwnedFd, fd: RawFd, key: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLET) as u32,
        u64: key,
    };
    // SAFETY: ev is a live epoll_event; fd is open (owned by its instance or the Control).
    if unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The current-thread tokio runtime the notify commands run on.
struct NotifyThread {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl NotifyThread {
    fn start() -> io::Result<NotifyThread> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("haldir-notify".into())
            .spawn(move || {
                let rt = match Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(rt.handle().clone()));
                // Drives every task spawned on the handle until told to stop.
                rt.block_on(async {
                    let _ = stop_rx.await;
                });
            })?;
        let handle = ready_rx.recv().map_err(|_| {
            io::Error::other("the notify thread ended before its runtime started")
        })??;
        Ok(NotifyThread {
            handle,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

impl Drop for NotifyThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;
    use std::sync::mpsc;
    use std::time::Duration;

    use crate::vrrp::timer::Timer;
    use tokio::time::Instant;

    /// A stand-in instance: reports what the loop calls on which thread, and fires its timer
    /// three times 10 ms apart; a datagram pair plays its socket.
    struct Probe {
        timer: Timer,
        socket: std::os::unix::net::UnixDatagram,
        fired: u32,
        said: mpsc::Sender<String>,
    }

    impl Probe {
        fn tell(&self, what: &str) {
            let thread = std::thread::current().name().unwrap_or("").to_string();
            let _ = self.said.send(format!("{what} on {thread}"));
        }
    }

    impl Driven for Probe {
        fn descriptors(&self) -> [RawFd; 2] {
            [self.timer.fd(), self.socket.as_raw_fd()]
        }
        fn start(&mut self) {
            self.tell("start");
            let _ = self
                .timer
                .set(Some(Instant::now() + Duration::from_millis(10)));
        }
        fn timer(&mut self) {
            if self.timer.expired(Instant::now()) {
                self.fired += 1;
                self.tell(&format!("timer {}", self.fired));
                if self.fired < 3 {
                    let _ = self
                        .timer
                        .set(Some(Instant::now() + Duration::from_millis(10)));
                }
            }
        }
        fn readable(&mut self) {
            let mut buf = [0u8; 16];
            while let Ok(n) = self.socket.recv(&mut buf) {
                self.tell(&format!("read {}", String::from_utf8_lossy(&buf[..n])));
            }
        }
        fn command(&mut self, cmd: Option<Command>) -> bool {
            // A spawned task runs on the notify runtime.
            let said = self.said.clone();
            tokio::spawn(async move {
                let thread = std::thread::current().name().unwrap_or("").to_string();
                let _ = said.send(format!("spawned on {thread}"));
            });
            self.tell(if cmd.is_some() { "command" } else { "let go" });
            cmd.is_some()
        }
    }

    #[test]
    fn the_loop_drives_timers_sockets_and_commands_on_its_thread() {
        let t = VrrpThread::start().unwrap();
        let (said, heard) = mpsc::channel();
        let (ours, theirs) = std::os::unix::net::UnixDatagram::pair().unwrap();
        theirs.set_nonblocking(true).unwrap();
        let commands = t.add(Box::new(Probe {
            timer: Timer::new().unwrap(),
            socket: theirs,
            fired: 0,
            said,
        }));
        let next = || {
            heard
                .recv_timeout(Duration::from_secs(5))
                .expect("the loop went on")
        };
        assert_eq!(next(), "start on haldir-vrrp");
        for i in 1..=3 {
            assert_eq!(next(), format!("timer {i} on haldir-vrrp"));
        }
        ours.send(b"hello").unwrap();
        assert_eq!(next(), "read hello on haldir-vrrp");
        commands.send(Command::GroupBackup);
        let mut got = [next(), next()];
        got.sort();
        assert_eq!(got, ["command on haldir-vrrp", "spawned on haldir-notify"]);
        // Let go: the instance is told, once, and leaves the loop.
        drop(commands);
        let mut got = [next(), next()];
        got.sort();
        assert_eq!(got, ["let go on haldir-vrrp", "spawned on haldir-notify"]);
        let _ = ours.send(b"late");
        assert!(
            heard.recv_timeout(Duration::from_millis(200)).is_err(),
            "an instance that finished is no longer driven"
        );
        // The next instance takes the freed slot, under its own id.
        let (said, heard) = mpsc::channel();
        let (_ours, theirs) = std::os::unix::net::UnixDatagram::pair().unwrap();
        let _second = t.add(Box::new(Probe {
            timer: Timer::new().unwrap(),
            socket: theirs,
            fired: 0,
            said,
        }));
        let next = || heard.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(next(), "start on haldir-vrrp");
        assert_eq!(next(), "timer 1 on haldir-vrrp");
    }

    /// The same while stderr is a stream nobody reads, full (journald stopped): the panic's
    /// words are given up rather than waited for, and the process still ends at once. The
    /// default panic hook's blocking write would hang there, the addresses held.
    #[test]
    fn a_panic_ends_the_process_even_when_stderr_is_full() {
        const CHILD: &str = "HALDIR_TEST_VRRP_PANIC_FULL_CHILD";
        if std::env::var_os(CHILD).is_some() {
            crate::logging::panics_past_the_queue();
            let filler = [b'x'; 4096];
            // SAFETY: sends from a live buffer on descriptor 2 until the stream is full.
            while unsafe { libc::send(2, filler.as_ptr().cast(), filler.len(), libc::MSG_DONTWAIT) }
                > 0
            {}
            let t = VrrpThread::start().unwrap();
            let (panics, _ours) = OnTimer::new(|| panic!("a bug in an instance"));
            let _commands = t.add(panics);
            std::thread::sleep(Duration::from_secs(30));
            return; // still alive: the parent's assertion fails
        }
        let (unread, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "vrrp::thread::tests::a_panic_ends_the_process_even_when_stderr_is_full",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::os::fd::OwnedFd::from(theirs))
            .spawn()
            .unwrap();
        let until = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > until {
                let _ = child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        drop(unread);
        use std::os::unix::process::ExitStatusExt;
        let status = status.expect("the process ended within 10 s");
        assert_eq!(status.signal(), Some(libc::SIGABRT), "{status:?}");
    }

    /// A stand-in whose timer fires 10 ms after it joins and runs `on_timer`: a panic, as a
    /// bug would, or a wait, as a loop stuck in a system call would.
    struct OnTimer {
        timer: Timer,
        socket: std::os::unix::net::UnixDatagram,
        on_timer: Box<dyn FnMut() + Send>,
    }

    impl OnTimer {
        fn new(on_timer: impl FnMut() + Send + 'static) -> (Box<OnTimer>, UnixDatagram) {
            let (ours, theirs) = UnixDatagram::pair().unwrap();
            let t = OnTimer {
                timer: Timer::new().unwrap(),
                socket: theirs,
                on_timer: Box::new(on_timer),
            };
            (Box::new(t), ours)
        }
    }

    impl Driven for OnTimer {
        fn descriptors(&self) -> [RawFd; 2] {
            [self.timer.fd(), self.socket.as_raw_fd()]
        }
        fn start(&mut self) {
            let _ = self
                .timer
                .set(Some(Instant::now() + Duration::from_millis(10)));
        }
        fn timer(&mut self) {
            (self.on_timer)();
        }
        fn readable(&mut self) {}
        fn command(&mut self, _: Option<Command>) -> bool {
            false
        }
    }

    /// A panic on the loop ends the process (abort), for the service manager to restart it,
    /// rather than leave an instance out of the loop holding its addresses. Run in a child
    /// process of this test binary, which must die of SIGABRT.
    #[test]
    fn a_panic_on_the_loop_ends_the_process() {
        const CHILD: &str = "HALDIR_TEST_VRRP_PANIC_CHILD";
        if std::env::var_os(CHILD).is_some() {
            crate::logging::panics_past_the_queue();
            let t = VrrpThread::start().unwrap();
            let (panics, _ours) = OnTimer::new(|| panic!("a bug in an instance"));
            let _commands = t.add(panics);
            std::thread::sleep(Duration::from_secs(5));
            return; // still alive: the parent's assertion fails
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "vrrp::thread::tests::a_panic_on_the_loop_ends_the_process",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{stderr}");
        assert!(stderr.contains("a bug in an instance"), "{stderr}");
        // Written past the log thread's queue, which the abort would lose.
        assert!(stderr.contains("the VRRP thread panicked"), "{stderr}");
    }

    fn answers_within(t: &VrrpThread, d: Duration) -> bool {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if t.answering() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    /// The daemon feeds systemd's watchdog only while the loop answers its pings: a loop
    /// that stopped turning is reported at the next ask, and one that turns again answers.
    #[test]
    fn the_loop_answers_pings_only_while_it_turns() {
        let t = VrrpThread::start().unwrap();
        assert!(t.answering(), "the first ask waits for nothing");
        assert!(
            answers_within(&t, Duration::from_secs(2)),
            "the loop answers"
        );
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (entered, stuck) = std::sync::mpsc::channel::<()>();
        let (blocks, _ours) = OnTimer::new(move || {
            let _ = entered.send(());
            let _ = released.recv();
        });
        let _commands = t.add(blocks);
        stuck
            .recv_timeout(Duration::from_secs(5))
            .expect("the loop runs the timer");
        // The ping before may have been answered before the loop stuck; this one cannot be.
        let _ = t.answering();
        std::thread::sleep(Duration::from_millis(200));
        assert!(!t.answering(), "a stuck loop does not answer");
        assert!(!t.answering(), "nor when asked again");
        release.send(()).unwrap();
        assert!(
            answers_within(&t, Duration::from_secs(2)),
            "the loop answers once it turns again"
        );
    }
}
