//! One task per distinct check: the same check of the same server used by several services
//! runs once and feeds all of them. Each task waits a random part of its interval before its
//! first probe (so ten thousand checks do not fire at once), then probes, tracks rise and fall,
//! and reports every change of state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rand::RngExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::outcome::Outcome;
use super::probe::{self, Context, Target};
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
    pub at: SystemTime,
    pub took: Duration,
}

/// Sees every probe (for metrics): the target, its result and how long it took.
pub type Observer = Arc<dyn Fn(&Target, &Outcome, Duration) + Send + Sync>;

struct Task {
    handle: JoinHandle<()>,
    last: Arc<Mutex<Option<Probed>>>,
}

pub struct Checks {
    tasks: HashMap<Target, Task>,
    tx: mpsc::UnboundedSender<Event>,
    ctx: Arc<Context>,
    observer: Option<Observer>,
}

impl Checks {
    pub fn new(ctx: Context, tx: mpsc::UnboundedSender<Event>) -> Self {
        Checks {
            tasks: HashMap::new(),
            tx,
            ctx: Arc::new(ctx),
            observer: None,
        }
    }

    /// Lets `observer` see every probe of the tasks started from now on.
    pub fn observe(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The last probe of a target, if it has been probed.
    pub fn last(&self, target: &Target) -> Option<Probed> {
        let task = self.tasks.get(target)?;
        task.last.lock().ok()?.clone()
    }

    /// Runs exactly these targets: new ones start, gone ones stop, unchanged ones go on with
    /// their state (a reload does not reset health).
    pub fn sync(&mut self, targets: impl IntoIterator<Item = Target>) {
        let wanted: std::collections::HashSet<Target> = targets.into_iter().collect();
        self.tasks.retain(|t, task| {
            let keep = wanted.contains(t);
            if !keep {
                task.handle.abort();
            }
            keep
        });
        for t in wanted {
            if !self.tasks.contains_key(&t) {
                let last = Arc::new(Mutex::new(None));
                let handle = tokio::spawn(run(
                    Arc::new(t.clone()),
                    self.ctx.clone(),
                    self.tx.clone(),
                    Sink {
                        last: last.clone(),
                        observer: self.observer.clone(),
                    },
                ));
                self.tasks.insert(t, Task { handle, last });
            }
        }
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

impl Drop for Checks {
    fn drop(&mut self) {
        for task in self.tasks.values() {
            task.handle.abort();
        }
    }
}

/// Where a task leaves each probe's result.
struct Sink {
    last: Arc<Mutex<Option<Probed>>>,
    observer: Option<Observer>,
}

impl Sink {
    fn record(&self, target: &Target, outcome: &Outcome, took: Duration) {
        if let Some(o) = &self.observer {
            o(target, outcome, took);
        }
        if let Ok(mut last) = self.last.lock() {
            *last = Some(Probed {
                outcome: outcome.clone(),
                at: SystemTime::now(),
                took,
            });
        }
    }
}

async fn run(target: Arc<Target>, ctx: Arc<Context>, tx: mpsc::UnboundedSender<Event>, sink: Sink) {
    if let CheckKind::File(f) = &target.check.kind {
        return watch_file(&f.file, &target, &ctx, &tx, &sink).await;
    }
    let check = &target.check;
    let mut tracker = Tracker::new(check.rise, check.fall);
    let warmup = rand::rng().random_range(0.0..1.0) * check.interval.as_secs_f64();
    tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
    loop {
        let started = tokio::time::Instant::now();
        let outcome = once(&target, &ctx, &sink).await;
        if !report(&mut tracker, &target, &outcome, &tx) {
            return;
        }
        let delay = tracker.next_delay(&outcome, check.interval, check.retry_delay);
        // The interval runs from the start of the probe, as keepalived's delay_loop does.
        tokio::time::sleep_until(started + delay).await;
    }
}

/// A file check reads its file at start and again whenever it changes; every reading is a
/// verdict (keepalived's FILE_CHECK has no retry).
async fn watch_file(
    file: &std::path::Path,
    target: &Arc<Target>,
    ctx: &Arc<Context>,
    tx: &mpsc::UnboundedSender<Event>,
    sink: &Sink,
) {
    let mut watch = match super::file::Watch::new(file) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::error!(file = %file.display(), error = %e, "cannot watch the file of a file check: it is read once");
            None
        }
    };
    let mut tracker = Tracker::new(1, 1);
    loop {
        let outcome = once(target, ctx, sink).await;
        if !report(&mut tracker, target, &outcome, tx) {
            return;
        }
        match watch.as_mut() {
            Some(w) => w.changed().await,
            None => std::future::pending::<()>().await,
        }
    }
}

async fn once(target: &Arc<Target>, ctx: &Arc<Context>, sink: &Sink) -> Outcome {
    let started = tokio::time::Instant::now();
    let outcome = probe::probe(target, ctx).await;
    let took = started.elapsed();
    tracing::trace!(target = %target, result = %outcome, took_ms = took.as_millis() as u64, "probe");
    sink.record(target, &outcome, took);
    outcome
}

/// Feeds the tracker and sends a change of state; false when nobody listens any more.
fn report(
    tracker: &mut Tracker,
    target: &Arc<Target>,
    outcome: &Outcome,
    tx: &mpsc::UnboundedSender<Event>,
) -> bool {
    let Some(state) = tracker.observe(outcome) else {
        return true;
    };
    let event = Event {
        target: target.clone(),
        state,
        outcome: outcome.clone(),
    };
    tx.send(event).is_ok()
}
