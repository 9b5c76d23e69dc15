//! What wakes the daemon's loop, by name. Every input — signals, the control socket, the
//! parts' reports, the loop's own timers — becomes one [`Wake`]; `Daemon::on` takes each in
//! turn. The timers' bookkeeping (a change on disk settling, the first round of checks, the
//! reconcile interval after a reload) stays here, so the daemon sees only what it must act on.

use std::path::PathBuf;
use std::time::Duration;

use tokio::signal::unix::Signal;
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval};

use tokio::sync::oneshot;

use crate::control::{Reply, Request};
use crate::health::runner::Event;
use crate::vrrp::instance::Report;

/// A question for the daemon's loop from one of its servers, with where to answer.
pub(crate) enum Query {
    Control(Request, oneshot::Sender<Reply>),
    Metrics(oneshot::Sender<String>),
}

/// What the loop acts on.
pub(super) enum Wake {
    /// Peers' MACs are due to be looked up again (mark rules name peers).
    PeersDue,
    Vrrp(Report),
    /// A tracked interface went up or down.
    Link {
        name: String,
        up: bool,
    },
    /// A track script's verdict.
    Script(Event),
    /// Check results: every one already queued, to be taken in one update.
    Health(Vec<Event>),
    /// The routers are due to hear the announced addresses again.
    Reannounce,
    Query(Query),
    /// The configuration's files changed and the writes have settled.
    Settled,
    /// The reconcile interval: drift is repaired.
    RepairDue,
    Hangup,
    /// Every check has probed once.
    FirstRoundOver,
    /// systemd's watchdog is due to be fed.
    Watchdog,
    /// SIGTERM or SIGINT.
    Stop,
}

/// How long the configuration's files stay unchanged before a change on disk is reloaded:
/// an editor's save is several writes, and a reload should read the last.
pub(super) const SETTLE: Duration = Duration::from_millis(500);

/// What the daemon says, before each wait, about what it waits for.
pub(super) struct Due {
    /// Mark rules name peers: their MACs are looked up every 2 s.
    pub peers: bool,
    /// There is an IPVS table to repair.
    pub repair: bool,
    pub reconcile_interval: Duration,
    /// When the announced addresses are due again.
    pub announce_at: Option<Instant>,
}

/// What the daemon's loop listens to: signals, the control socket, its parts' reports, and
/// its own timers.
pub(super) struct Inputs {
    pub term: Signal,
    pub int: Signal,
    pub hup: Signal,
    pub control: tokio::task::JoinHandle<()>,
    pub queries: mpsc::UnboundedReceiver<Query>,
    pub events: mpsc::UnboundedReceiver<Event>,
    pub vrrp_events: mpsc::UnboundedReceiver<Report>,
    pub link_events: mpsc::UnboundedReceiver<(String, bool)>,
    pub script_events: mpsc::UnboundedReceiver<Event>,
    pub file_events: mpsc::UnboundedReceiver<()>,
    /// The configuration's files, watched from the start of the loop.
    pub files: Vec<PathBuf>,
    pub timers: Option<Timers>,
}

/// The loop's own timers.
pub(super) struct Timers {
    repair: Interval,
    peers: Interval,
    watchdog: Option<Interval>,
    /// A change on disk reloads once the writes have settled.
    settle: Option<Instant>,
    first_round: Option<Instant>,
}

/// Sleeps until `at`; never without one.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Waits for `interval`'s next tick when `on`; never otherwise.
async fn tick_if(on: bool, interval: &mut Interval) {
    match on {
        true => {
            interval.tick().await;
        }
        false => std::future::pending().await,
    }
}

/// An interval whose first tick is a period away (tokio's first is at once).
async fn interval(period: Duration) -> Interval {
    let mut i = tokio::time::interval(period);
    i.tick().await;
    i
}

impl Inputs {
    /// Starts the loop's timers: the reconcile interval, the peers' lookups, the watchdog,
    /// and the end of the first round of checks.
    pub(super) async fn arm(
        &mut self,
        reconcile_interval: Duration,
        watchdog: Option<Duration>,
        first_round: Option<Instant>,
    ) {
        self.timers = Some(Timers {
            repair: interval(reconcile_interval).await,
            peers: tokio::time::interval(Duration::from_secs(2)),
            watchdog: watchdog.map(tokio::time::interval),
            settle: None,
            first_round,
        });
    }

    /// Waits for the next thing the daemon must act on.
    pub(super) async fn next(&mut self, due: Due) -> Wake {
        let Some(t) = self.timers.as_mut() else {
            return Wake::Stop;
        };
        if t.repair.period() != due.reconcile_interval {
            t.repair = interval(due.reconcile_interval).await;
        }
        let Timers {
            repair,
            peers,
            watchdog,
            settle,
            first_round,
        } = t;
        loop {
            let watchdog = async {
                match watchdog.as_mut() {
                    Some(w) => {
                        w.tick().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tick_if(due.peers, peers) => return Wake::PeersDue,
                Some(r) = self.vrrp_events.recv() => return Wake::Vrrp(r),
                Some((name, up)) = self.link_events.recv() => return Wake::Link { name, up },
                Some(ev) = self.script_events.recv() => return Wake::Script(ev),
                Some(ev) = self.events.recv() => {
                    let mut all = vec![ev];
                    while let Ok(ev) = self.events.try_recv() {
                        all.push(ev);
                    }
                    return Wake::Health(all);
                }
                _ = until(due.announce_at) => return Wake::Reannounce,
                Some(q) = self.queries.recv() => {
                    // An operator's reload reads the file as it is now: the watch's pending
                    // one would only read it again.
                    if matches!(q, Query::Control(Request::Reload, _)) {
                        *settle = None;
                    }
                    return Wake::Query(q);
                }
                Some(()) = self.file_events.recv() => {
                    *settle = Some(Instant::now() + SETTLE);
                }
                _ = until(*settle) => {
                    *settle = None;
                    return Wake::Settled;
                }
                _ = tick_if(due.repair, repair) => return Wake::RepairDue,
                _ = self.hup.recv() => return Wake::Hangup,
                _ = until(*first_round) => {
                    *first_round = None;
                    return Wake::FirstRoundOver;
                }
                _ = watchdog => return Wake::Watchdog,
                _ = self.term.recv() => return Wake::Stop,
                _ = self.int.recv() => return Wake::Stop,
            }
        }
    }
}
