//! One task per distinct check: the same check of the same server used by several services
//! runs once and feeds all of them. Each task waits a random part of its interval before its
//! first probe (so ten thousand checks do not fire at once), then probes, tracks rise and fall,
//! and reports every change of state.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::outcome::Outcome;
use super::probe::{self, Context, Target};
use super::tracker::{State, Tracker};

/// A change of a target's state, with the probe result that caused it.
#[derive(Debug, Clone)]
pub struct Event {
    pub target: Arc<Target>,
    pub state: State,
    pub outcome: Outcome,
}

pub struct Checks {
    tasks: HashMap<Target, JoinHandle<()>>,
    tx: mpsc::UnboundedSender<Event>,
    ctx: Arc<Context>,
}

impl Checks {
    pub fn new(ctx: Context, tx: mpsc::UnboundedSender<Event>) -> Self {
        Checks {
            tasks: HashMap::new(),
            tx,
            ctx: Arc::new(ctx),
        }
    }

    /// Runs exactly these targets: new ones start, gone ones stop, unchanged ones go on with
    /// their state (a reload does not reset health).
    pub fn sync(&mut self, targets: impl IntoIterator<Item = Target>) {
        let wanted: std::collections::HashSet<Target> = targets.into_iter().collect();
        self.tasks.retain(|t, task| {
            let keep = wanted.contains(t);
            if !keep {
                task.abort();
            }
            keep
        });
        for t in wanted {
            if !self.tasks.contains_key(&t) {
                let task =
                    tokio::spawn(run(Arc::new(t.clone()), self.ctx.clone(), self.tx.clone()));
                self.tasks.insert(t, task);
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
            task.abort();
        }
    }
}

async fn run(target: Arc<Target>, ctx: Arc<Context>, tx: mpsc::UnboundedSender<Event>) {
    let check = &target.check;
    let mut tracker = Tracker::new(check.rise, check.fall);
    let warmup = rand::rng().random_range(0.0..1.0) * check.interval.as_secs_f64();
    tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
    loop {
        let started = tokio::time::Instant::now();
        let outcome = probe::probe(&target, &ctx).await;
        tracing::trace!(target = %target, result = %outcome, took_ms = started.elapsed().as_millis() as u64, "probe");
        if let Some(state) = tracker.observe(&outcome) {
            let event = Event {
                target: target.clone(),
                state,
                outcome: outcome.clone(),
            };
            if tx.send(event).is_err() {
                return;
            }
        }
        let delay = tracker.next_delay(&outcome, check.interval, check.retry_delay);
        // The interval runs from the start of the probe, as keepalived's delay_loop does.
        tokio::time::sleep_until(started + delay).await;
    }
}
