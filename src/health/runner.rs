//! Runs the checks: one scheduler for all of them, and a task only for a probe in flight.
//! The same check of the same server used by several services runs once and feeds all of
//! them. Each check waits a random part of its interval before its first probe (so ten
//! thousand checks do not fire at once), then probes, tracks rise and fall, and reports every
//! change of state.
//!
//! Why a scheduler and not a task per check: an idle check is then a slot of about a hundred
//! bytes and one entry in a timer heap, where a task holding its probe's future cost a kilobyte
//! (docs/performance.md). A probe's future lives only while it runs, in its own task, so a slow probe never delays
//! another, and dropping it (a reload, a stop) kills what it started.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::RngExt;
use tokio::sync::{Notify, mpsc};
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;

use super::outcome::Outcome;
use super::probe::{self, Context};
use super::target::Target;
use super::tracker::{State, Tracker};
use crate::config::model::CheckKind;

/// A change of a target's state, with the probe result that caused it.
#[derive(Debug, Clone)]
pub struct Event {
    pub target: Arc<Target>,
    pub state: State,
    pub outcome: Outcome,
}

/// The last probe of a target, as shown by `haldir status`.
#[derive(Debug, Clone)]
pub struct Probed {
    pub outcome: Outcome,
    /// When it ended (a monotonic instant: status shows its age).
    pub at: Instant,
    pub took: Duration,
}

/// Sees every probe (for metrics): the target, its result and how long it took.
pub type Observer = Arc<dyn Fn(&Target, &Outcome, Duration) + Send + Sync>;

/// A slot number and the generation of its occupant: a late result or timer of a check that
/// has gone (and whose slot was reused) is told apart and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    slot: u32,
    generation: u32,
}

/// One check.
struct Slot {
    target: Arc<Target>,
    generation: u32,
    tracker: Tracker,
    last: Option<Probed>,
    /// The probe in flight (or a file check's watcher), aborted when the check goes.
    running: Option<AbortHandle>,
}

/// A probe's result, sent by its task to the scheduler.
struct Done {
    key: Key,
    outcome: Outcome,
    took: Duration,
    /// When the probe started: the next one is due an interval after it.
    started: Instant,
}

/// What the scheduler and the handle share. One lock, taken briefly by one thread: the
/// daemon's runtime runs both.
#[derive(Default)]
struct Table {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    index: HashMap<Arc<Target>, u32>,
    generations: u32,
    /// Checks that are new since the scheduler last looked, with their first probe time.
    fresh: Vec<(Instant, Key)>,
}

impl Table {
    fn get(&mut self, key: Key) -> Option<&mut Slot> {
        self.slots
            .get_mut(key.slot as usize)?
            .as_mut()
            .filter(|s| s.generation == key.generation)
    }

    fn add(&mut self, target: Arc<Target>) {
        self.generations = self.generations.wrapping_add(1);
        let tracker = match target.check.kind {
            // Every reading of a file check is a verdict.
            CheckKind::File(_) => Tracker::new(1, 1),
            _ => Tracker::new(target.check.rise, target.check.fall),
        };
        let slot = Slot {
            tracker,
            target: target.clone(),
            generation: self.generations,
            last: None,
            running: None,
        };
        let n = match self.free.pop() {
            Some(n) => {
                self.slots[n as usize] = Some(slot);
                n
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        let key = Key {
            slot: n,
            generation: self.generations,
        };
        let first = match target.check.kind {
            CheckKind::File(_) => Duration::ZERO,
            _ => target
                .check
                .interval
                .mul_f64(rand::rng().random_range(0.0..1.0)),
        };
        self.fresh.push((Instant::now() + first, key));
        self.index.insert(target, n);
    }

    fn remove(&mut self, n: u32) {
        if let Some(slot) = self.slots.get_mut(n as usize).and_then(Option::take) {
            if let Some(r) = slot.running {
                r.abort();
            }
            self.free.push(n);
        }
    }
}

/// What runs one probe: [`Context`], which probes the real server; the scheduler's tests give
/// it a scripted one on a paused clock.
pub trait Prober: Send + Sync + 'static {
    /// The probe of `target`, started at `started` (its timeout counts from then).
    fn probe(
        self: Arc<Self>,
        target: Arc<Target>,
        started: Instant,
    ) -> impl Future<Output = Outcome> + Send + 'static;
}

impl Prober for Context {
    async fn probe(self: Arc<Self>, target: Arc<Target>, started: Instant) -> Outcome {
        probe::probe_from(&target, &self, started).await
    }
}

/// The handle the daemon keeps: what runs, and the last probe of each.
pub struct Checks<P = Context> {
    table: Arc<Mutex<Table>>,
    wake: Arc<Notify>,
    tx: mpsc::UnboundedSender<Event>,
    prober: Arc<P>,
    observer: Option<Observer>,
    scheduler: Option<JoinHandle<()>>,
}

impl Checks {
    pub fn new(ctx: Context, tx: mpsc::UnboundedSender<Event>) -> Self {
        Checks::with_prober(ctx, tx)
    }
}

impl<P> Checks<P> {
    pub fn with_prober(prober: P, tx: mpsc::UnboundedSender<Event>) -> Self
    where
        P: Prober,
    {
        Checks {
            table: Arc::default(),
            wake: Arc::new(Notify::new()),
            tx,
            prober: Arc::new(prober),
            observer: None,
            scheduler: None,
        }
    }

    /// Lets `observer` see every probe.
    pub fn observe(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock leaves a table that is still consistent: each step
        // that changes it is complete before the next.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last probe of a target, if it has been probed.
    pub fn last(&self, target: &Target) -> Option<Probed> {
        let t = self.lock();
        let n = *t.index.get(target)?;
        t.slots.get(n as usize)?.as_ref()?.last.clone()
    }

    /// Runs exactly these targets: new ones start, gone ones stop, unchanged ones go on with
    /// their state (a reload does not reset health). A new check's slot shares the caller's
    /// target.
    pub fn sync(&mut self, targets: impl IntoIterator<Item = Arc<Target>>)
    where
        P: Prober,
    {
        let wanted: std::collections::HashSet<Arc<Target>> = targets.into_iter().collect();
        {
            let mut t = self.lock();
            let gone: Vec<u32> = t
                .index
                .iter()
                .filter(|(k, _)| !wanted.contains(k.as_ref()))
                .map(|(_, n)| *n)
                .collect();
            t.index.retain(|k, _| wanted.contains(k.as_ref()));
            for n in gone {
                t.remove(n);
            }
            // Room for the new ones at once: grown by doubling, large tables leave holes.
            let new = wanted.len().saturating_sub(t.index.len());
            let reused = t.free.len();
            t.slots.reserve(new.saturating_sub(reused));
            t.index.reserve(new);
            for target in wanted {
                if !t.index.contains_key(&target) {
                    t.add(target);
                }
            }
            t.index.shrink_to_fit();
            t.slots.shrink_to_fit();
        }
        if self.scheduler.is_none() && !self.is_empty() {
            self.scheduler = Some(tokio::spawn(schedule(Scheduler {
                table: self.table.clone(),
                wake: self.wake.clone(),
                tx: self.tx.clone(),
                prober: self.prober.clone(),
                observer: self.observer.clone(),
            })));
        }
        self.wake.notify_one();
    }

    pub fn len(&self) -> usize {
        self.lock().index.len()
    }

    /// Whether every check has been probed at least once (the first round is over).
    pub fn all_probed(&self) -> bool {
        self.lock().slots.iter().flatten().all(|s| s.last.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<P> Drop for Checks<P> {
    fn drop(&mut self) {
        if let Some(s) = &self.scheduler {
            s.abort();
        }
        let mut t = self.lock();
        let all: Vec<u32> = t.index.drain().map(|(_, n)| n).collect();
        for n in all {
            t.remove(n);
        }
    }
}

struct Scheduler<P> {
    table: Arc<Mutex<Table>>,
    wake: Arc<Notify>,
    tx: mpsc::UnboundedSender<Event>,
    prober: Arc<P>,
    observer: Option<Observer>,
}

/// The scheduler's loop: start the probes that are due, take the results that come back.
async fn schedule<P: Prober>(s: Scheduler<P>) {
    let mut due: BinaryHeap<Reverse<(Instant, Key)>> = BinaryHeap::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    loop {
        {
            let mut t = s.table.lock().unwrap_or_else(|e| e.into_inner());
            due.extend(std::mem::take(&mut t.fresh).into_iter().map(Reverse));
            let now = Instant::now();
            while let Some(Reverse((at, key))) = due.peek().copied()
                && at <= now
            {
                due.pop();
                if let Some(slot) = t.get(key) {
                    let task = tokio::spawn(probe_once(
                        key,
                        slot.target.clone(),
                        s.prober.clone(),
                        done_tx.clone(),
                    ));
                    slot.running = Some(task.abort_handle());
                }
            }
        }
        let next = due.peek().map(|Reverse((at, _))| *at);
        tokio::select! {
            // Results first, and all that are there: a finished probe's task is freed only
            // once its result is taken, and the next probe is scheduled from it.
            biased;
            Some(done) = done_rx.recv() => {
                if !s.take(done, &mut due) {
                    return;
                }
                while let Ok(done) = done_rx.try_recv() {
                    if !s.take(done, &mut due) {
                        return;
                    }
                }
            }
            () = sleep_until(next) => {}
            () = s.wake.notified() => {}
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl<P> Scheduler<P> {
    /// Records a result, reports a change of state and schedules the next probe; false when
    /// nobody listens any more.
    fn take(&self, done: Done, due: &mut BinaryHeap<Reverse<(Instant, Key)>>) -> bool {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let Some(slot) = t.get(done.key) else {
            return true; // the check has gone meanwhile
        };
        let target = slot.target.clone();
        tracing::trace!(target = %target, result = %done.outcome, took_ms = done.took.as_millis() as u64, "probe");
        if let Some(o) = &self.observer {
            o(&target, &done.outcome, done.took);
        }
        slot.last = Some(Probed {
            outcome: done.outcome.clone(),
            at: done.started + done.took,
            took: done.took,
        });
        let changed = slot.tracker.observe(&done.outcome);
        let check = &target.check;
        if !matches!(check.kind, CheckKind::File(_)) {
            slot.running = None;
            let delay = slot
                .tracker
                .next_delay(&done.outcome, check.interval, check.retry_delay);
            // The interval runs from the start of the probe, as keepalived's delay_loop does.
            due.push(Reverse((done.started + delay, done.key)));
        }
        drop(t);
        match changed {
            Some(state) => self
                .tx
                .send(Event {
                    target,
                    state,
                    outcome: done.outcome,
                })
                .is_ok(),
            None => true,
        }
    }
}

/// One probe in its own task; a file check's task instead reads its file at start and again
/// whenever it changes (keepalived's FILE_CHECK has no retry), every reading a result.
async fn probe_once<P: Prober>(
    key: Key,
    target: Arc<Target>,
    prober: Arc<P>,
    done: mpsc::UnboundedSender<Done>,
) {
    if let CheckKind::File(f) = &target.check.kind {
        return watch_file(key, &f.file, &target, &prober, &done).await;
    }
    // The clock is read where the probe starts, not where it was scheduled: on a saturated
    // runtime a task can wait in the queue, and that wait is no part of the probe's timeout.
    // Two readings a probe: its start (the timeout's deadline is counted from it) and its end.
    let started = Instant::now();
    let outcome = prober.probe(target, started).await;
    let _ = done.send(Done {
        key,
        outcome,
        took: started.elapsed(),
        started,
    });
}

async fn watch_file<P: Prober>(
    key: Key,
    file: &std::path::Path,
    target: &Arc<Target>,
    prober: &Arc<P>,
    done: &mpsc::UnboundedSender<Done>,
) {
    let mut watch = match super::file::Watch::new(file) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::error!(file = %file.display(), error = %e, "cannot watch the file of a file check: it is read once");
            None
        }
    };
    loop {
        let started = Instant::now();
        let outcome = prober.clone().probe(target.clone(), started).await;
        let result = Done {
            key,
            outcome,
            took: started.elapsed(),
            started,
        };
        if done.send(result).is_err() {
            return;
        }
        match watch.as_mut() {
            Some(w) => w.changed().await,
            None => std::future::pending::<()>().await,
        }
    }
}

/// The scheduler on tokio's paused clock: probes are scripted (how long each takes, what it
/// answers), the clock advances only when every task waits, so each start is exact.
#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::config::model::Check;
    use crate::health::outcome::Reason;

    type Script = Box<dyn Fn(usize) -> (Duration, Outcome) + Send + Sync>;

    /// What the scripted probes saw: each start, by port, and the probes dropped unfinished.
    #[derive(Default)]
    struct Log {
        started: Mutex<Vec<(u16, Instant)>>,
        dropped: AtomicUsize,
    }

    /// Answers the `n`th probe of a port (counted from 0, whatever its check) as the script
    /// says, after the script's time.
    struct Scripted {
        script: Script,
        log: Arc<Log>,
    }

    struct Unfinished(Option<Arc<Log>>);

    impl Drop for Unfinished {
        fn drop(&mut self) {
            if let Some(log) = &self.0 {
                log.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    impl Prober for Scripted {
        async fn probe(self: Arc<Self>, target: Arc<Target>, started: Instant) -> Outcome {
            let n = {
                let mut s = self.log.started.lock().unwrap();
                s.push((target.port, started));
                s.iter().filter(|(p, _)| *p == target.port).count() - 1
            };
            let (took, outcome) = (self.script)(n);
            let mut unfinished = Unfinished(Some(self.log.clone()));
            tokio::time::sleep(took).await;
            unfinished.0 = None;
            outcome
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn target(port: u16, interval: Duration, retry_delay: Duration, fall: u32) -> Arc<Target> {
        let check = Check {
            kind: CheckKind::Tcp { half_open: false },
            interval,
            timeout: Duration::from_secs(1),
            fall,
            rise: 1,
            retry_delay,
            port: None,
            address: None,
            source: None,
            alpha: false,
        };
        Arc::new(Target::new(
            Arc::new(check),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            port,
        ))
    }

    fn every(interval: Duration) -> impl Fn(u16) -> Arc<Target> {
        move |port| target(port, interval, ms(100), 1)
    }

    struct Run {
        checks: Checks<Scripted>,
        events: mpsc::UnboundedReceiver<Event>,
        log: Arc<Log>,
        t0: Instant,
    }

    fn run(script: impl Fn(usize) -> (Duration, Outcome) + Send + Sync + 'static) -> Run {
        let (tx, events) = mpsc::unbounded_channel();
        let log = Arc::new(Log::default());
        let prober = Scripted {
            script: Box::new(script),
            log: log.clone(),
        };
        Run {
            checks: Checks::with_prober(prober, tx),
            events,
            log,
            t0: Instant::now(),
        }
    }

    impl Run {
        /// When each probe of `port` started, from the run's start.
        fn starts(&self, port: u16) -> Vec<Duration> {
            let s = self.log.started.lock().unwrap();
            let t0 = self.t0;
            s.iter()
                .filter(|(p, _)| *p == port)
                .map(|(_, at)| *at - t0)
                .collect()
        }

        fn gaps(&self, port: u16) -> Vec<Duration> {
            self.starts(port).windows(2).map(|w| w[1] - w[0]).collect()
        }

        fn events(&mut self) -> Vec<(u16, State)> {
            let mut out = Vec::new();
            while let Ok(e) = self.events.try_recv() {
                out.push((e.target.port, e.state));
            }
            out
        }
    }

    /// The timer wheel counts in milliseconds: a deadline is met within one.
    fn assert_about(got: &[Duration], want: &[Duration]) {
        assert_eq!(got.len(), want.len(), "{got:?} against {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(*g >= *w && *g <= *w + ms(1), "{got:?} against {want:?}");
        }
    }

    /// At least `n` gaps, each of `gap`: the first probe's jitter decides how many fit.
    fn assert_every(gaps: &[Duration], gap: Duration, n: usize) {
        assert!(gaps.len() >= n, "{gaps:?}: fewer than {n}");
        assert_about(gaps, &vec![gap; gaps.len()]);
    }

    #[tokio::test(start_paused = true)]
    async fn first_probes_spread_over_one_interval() {
        let mut r = run(|_| (ms(5), Outcome::Up));
        let interval = Duration::from_secs(10);
        r.checks.sync((1..=100).map(every(interval)));
        tokio::time::sleep(interval).await;
        let firsts: Vec<Duration> = (1..=100).map(|p| r.starts(p)[0]).collect();
        assert!(firsts.iter().all(|f| *f <= interval), "{firsts:?}");
        let distinct: std::collections::HashSet<_> = firsts.iter().collect();
        assert!(
            distinct.len() >= 50,
            "ten thousand checks would fire at once: {firsts:?}"
        );
        let (lo, hi) = (firsts.iter().min().unwrap(), firsts.iter().max().unwrap());
        assert!(*hi - *lo >= interval / 2, "bunched: {lo:?}..{hi:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_interval_runs_from_the_start_of_the_probe() {
        let mut r = run(|_| (ms(300), Outcome::Up));
        r.checks.sync([every(Duration::from_secs(1))(1)]);
        tokio::time::sleep(Duration::from_millis(5500)).await;
        assert_every(&r.gaps(1), Duration::from_secs(1), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_longer_than_the_interval_is_followed_at_once() {
        let mut r = run(|_| (ms(1500), Outcome::Up));
        r.checks.sync([every(Duration::from_secs(1))(1)]);
        tokio::time::sleep(Duration::from_secs(7)).await;
        assert_every(&r.gaps(1), ms(1500), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_confirmed_after_the_retry_delay_until_the_fall() {
        let mut r = run(|n| match n {
            0 => (ms(10), Outcome::Up),
            _ => (ms(10), Outcome::Down(Reason::Refused)),
        });
        let (interval, retry) = (Duration::from_secs(5), Duration::from_secs(1));
        r.checks.sync([target(1, interval, retry, 3)]);
        tokio::time::sleep(Duration::from_secs(22)).await;
        // up; first failure; two retries, the second of which is the third failure: down;
        // then the interval again.
        assert_about(&r.gaps(1), &[interval, retry, retry, interval, interval]);
        assert_eq!(r.events(), [(1, State::Up(None)), (1, State::Down)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_replaced_by_a_reload_stops_and_its_successor_starts() {
        // The old check's first probe hangs; every later probe of the port answers at once.
        let mut r = run(|n| match n {
            0 => (Duration::from_secs(60), Outcome::Up),
            _ => (ms(10), Outcome::Up),
        });
        let old = every(Duration::from_secs(1))(1);
        r.checks.sync([old.clone()]);
        tokio::time::sleep(ms(1100)).await;
        assert_eq!(r.starts(1).len(), 1, "the old check's probe is in flight");
        let new = every(Duration::from_secs(2))(1);
        r.checks.sync([new.clone()]);
        tokio::time::sleep(Duration::from_secs(7)).await;
        assert_eq!(
            r.log.dropped.load(Ordering::Relaxed),
            1,
            "the hung probe is killed"
        );
        assert_eq!(r.checks.len(), 1);
        assert!(r.checks.last(&old).is_none(), "the old check is gone");
        assert!(r.checks.last(&new).is_some());
        assert_every(&r.gaps(1)[1..], Duration::from_secs(2), 2);
        assert_eq!(
            r.events(),
            [(1, State::Up(None))],
            "only the new check reports"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_reload_keeping_a_check_keeps_its_state_and_its_cadence() {
        let mut r = run(|_| (ms(10), Outcome::Up));
        let second = Duration::from_secs(1);
        r.checks.sync([every(second)(1)]);
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(r.events(), [(1, State::Up(None))]);
        // A reload: the same check, read again from the file, and a new one.
        r.checks.sync([every(second)(1), every(second)(2)]);
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            r.events(),
            [(2, State::Up(None))],
            "no second verdict for port 1"
        );
        assert_every(&r.gaps(1), second, 4);
    }
}
