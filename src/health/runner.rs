//! Runs the checks: one scheduler for all of them, and a task only for a probe in flight.
//! The same check of the same server used by several services runs once and feeds all of
//! them. Each check waits a random part of its interval before its first probe (so ten
//! thousand checks do not fire at once), then probes, tracks rise and fall, and reports every
//! change of state.
//!
//! Why a scheduler and not a task per check: an idle check is then a slot of about a hundred
//! bytes and one entry in a timer heap, where a task holding its probe's future cost a kilobyte
//! (measured with heaptrack at 10,000 TCP checks: 10 MB of tasks, most of them asleep). A
//! probe's future lives only while it runs, in its own task, so a slow probe never delays
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

/// The handle the daemon keeps: what runs, and the last probe of each.
pub struct Checks {
    table: Arc<Mutex<Table>>,
    wake: Arc<Notify>,
    tx: mpsc::UnboundedSender<Event>,
    ctx: Arc<Context>,
    observer: Option<Observer>,
    scheduler: Option<JoinHandle<()>>,
}

impl Checks {
    pub fn new(ctx: Context, tx: mpsc::UnboundedSender<Event>) -> Self {
        Checks {
            table: Arc::default(),
            wake: Arc::new(Notify::new()),
            tx,
            ctx: Arc::new(ctx),
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
    pub fn sync(&mut self, targets: impl IntoIterator<Item = Arc<Target>>) {
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
                ctx: self.ctx.clone(),
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

impl Drop for Checks {
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

struct Scheduler {
    table: Arc<Mutex<Table>>,
    wake: Arc<Notify>,
    tx: mpsc::UnboundedSender<Event>,
    ctx: Arc<Context>,
    observer: Option<Observer>,
}

/// The scheduler's loop: start the probes that are due, take the results that come back.
async fn schedule(s: Scheduler) {
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
                        s.ctx.clone(),
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

impl Scheduler {
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
async fn probe_once(
    key: Key,
    target: Arc<Target>,
    ctx: Arc<Context>,
    done: mpsc::UnboundedSender<Done>,
) {
    if let CheckKind::File(f) = &target.check.kind {
        return watch_file(key, &f.file, &target, &ctx, &done).await;
    }
    // The clock is read where the probe starts, not where it was scheduled: on a saturated
    // runtime a task can wait in the queue, and that wait is no part of the probe's timeout.
    // Two readings a probe: its start (the timeout's deadline is counted from it) and its end.
    let started = Instant::now();
    let outcome = probe::probe_from(&target, &ctx, started).await;
    let _ = done.send(Done {
        key,
        outcome,
        took: started.elapsed(),
        started,
    });
}

async fn watch_file(
    key: Key,
    file: &std::path::Path,
    target: &Target,
    ctx: &Arc<Context>,
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
        let outcome = probe::probe_from(target, ctx, started).await;
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
