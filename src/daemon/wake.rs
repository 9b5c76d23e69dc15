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
    /// A tracked file's value, read after a change.
    TrackFile {
        name: String,
        value: i64,
    },
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
    /// The control socket's server, stopped with the loop.
    pub control: Option<tokio::task::JoinHandle<()>>,
    pub queries: mpsc::UnboundedReceiver<Query>,
    pub events: mpsc::UnboundedReceiver<Event>,
    pub vrrp_events: mpsc::UnboundedReceiver<Report>,
    pub link_events: mpsc::UnboundedReceiver<(String, bool)>,
    pub script_events: mpsc::UnboundedReceiver<Event>,
    pub track_file_events: mpsc::UnboundedReceiver<(String, i64)>,
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

/// The other ends of the loop's channels, for the parts that feed it.
pub(super) struct Senders {
    pub queries: mpsc::UnboundedSender<Query>,
    pub events: mpsc::UnboundedSender<Event>,
    pub vrrp: mpsc::UnboundedSender<Report>,
    pub links: mpsc::UnboundedSender<(String, bool)>,
    pub scripts: mpsc::UnboundedSender<Event>,
    pub track_files: mpsc::UnboundedSender<(String, i64)>,
    pub files: mpsc::UnboundedSender<()>,
}

impl Inputs {
    /// The loop's inputs with the signals handled, and the senders of its channels.
    pub(super) fn open() -> std::io::Result<(Inputs, Senders)> {
        use tokio::signal::unix::{SignalKind, signal};
        let (queries_tx, queries) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let (vrrp_tx, vrrp_events) = mpsc::unbounded_channel();
        let (links_tx, link_events) = mpsc::unbounded_channel();
        let (scripts_tx, script_events) = mpsc::unbounded_channel();
        let (files_tx, file_events) = mpsc::unbounded_channel();
        let (track_files_tx, track_file_events) = mpsc::unbounded_channel();
        let inputs = Inputs {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
            control: None,
            queries,
            events,
            vrrp_events,
            link_events,
            script_events,
            track_file_events,
            file_events,
            files: Vec::new(),
            timers: None,
        };
        let senders = Senders {
            queries: queries_tx,
            events: events_tx,
            vrrp: vrrp_tx,
            links: links_tx,
            scripts: scripts_tx,
            track_files: track_files_tx,
            files: files_tx,
        };
        Ok((inputs, senders))
    }

    /// Stops what serves the loop from outside (the control socket).
    pub(super) fn close(&mut self) {
        if let Some(c) = self.control.take() {
            c.abort();
        }
    }

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
                Some((name, value)) = self.track_file_events.recv() => {
                    return Wake::TrackFile { name, value };
                }
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

/// The loop's inputs on tokio's paused clock: what each input wakes it for, and the timers'
/// bookkeeping.
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::model::{Check, CheckKind};
    use crate::health::Target;
    use crate::health::outcome::Outcome;
    use crate::health::tracker::State;

    async fn inputs() -> (Inputs, Senders) {
        let (mut inputs, senders) = Inputs::open().expect("signal handlers");
        inputs.arm(Duration::from_secs(30), None, None).await;
        (inputs, senders)
    }

    fn due(repair: bool, reconcile_interval: Duration) -> Due {
        Due {
            peers: false,
            repair,
            reconcile_interval,
            announce_at: None,
        }
    }

    fn idle() -> Due {
        due(false, Duration::from_secs(30))
    }

    /// The next wake and when it came, from now; none within `limit`.
    async fn next(inputs: &mut Inputs, d: Due, limit: Duration) -> Option<(Wake, Duration)> {
        let start = Instant::now();
        let wake = tokio::time::timeout(limit, inputs.next(d)).await.ok()?;
        Some((wake, start.elapsed()))
    }

    fn event(port: u16) -> Event {
        let check = Check {
            kind: CheckKind::Tcp { half_open: false },
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            fall: 1,
            rise: 1,
            retry_delay: Duration::from_secs(1),
            port: None,
            address: None,
            source: None,
            alpha: false,
        };
        let addr = std::net::IpAddr::from([192, 0, 2, 1]);
        Event {
            target: Arc::new(Target::new(Arc::new(check), addr, port)),
            state: State::Down,
            outcome: Outcome::Up,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_on_disk_reloads_once_the_writes_have_settled() {
        let (mut inputs, feed) = inputs().await;
        // An editor's save: three writes 100 ms apart; the reload waits for the last.
        for _ in 0..3 {
            feed.files.send(()).expect("open");
            assert!(
                next(&mut inputs, idle(), Duration::from_millis(100))
                    .await
                    .is_none()
            );
        }
        let (wake, after) = next(&mut inputs, idle(), SETTLE * 2).await.expect("a wake");
        assert!(matches!(wake, Wake::Settled));
        assert_eq!(after, SETTLE - Duration::from_millis(100));
        assert!(
            next(&mut inputs, idle(), SETTLE * 4).await.is_none(),
            "once"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_operators_reload_replaces_the_pending_one() {
        let (mut inputs, feed) = inputs().await;
        feed.files.send(()).expect("open");
        assert!(
            next(&mut inputs, idle(), Duration::from_millis(100))
                .await
                .is_none()
        );
        let (tx, _rx) = tokio::sync::oneshot::channel();
        feed.queries
            .send(Query::Control(Request::Reload, tx))
            .expect("open");
        let (wake, _) = next(&mut inputs, idle(), SETTLE).await.expect("a wake");
        assert!(matches!(
            wake,
            Wake::Query(Query::Control(Request::Reload, _))
        ));
        assert!(
            next(&mut inputs, idle(), SETTLE * 4).await.is_none(),
            "the file as it is now was just read: no second reload"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn check_results_already_queued_come_as_one_wake() {
        let (mut inputs, feed) = inputs().await;
        for port in [80, 81, 82] {
            feed.events.send(event(port)).expect("open");
        }
        let (wake, _) = next(&mut inputs, idle(), SETTLE).await.expect("a wake");
        let Wake::Health(all) = wake else {
            panic!("not the checks' wake");
        };
        let ports: Vec<u16> = all.iter().map(|e| e.target.port).collect();
        assert_eq!(ports, [80, 81, 82]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_repair_follows_the_reconcile_interval_a_reload_sets() {
        let (mut inputs, _feed) = inputs().await;
        let thirty = Duration::from_secs(30);
        assert!(
            next(&mut inputs, due(false, thirty), thirty * 2)
                .await
                .is_none(),
            "no IPVS table: nothing to repair"
        );
        let (wake, after) = next(&mut inputs, due(true, thirty), thirty * 2)
            .await
            .expect("a wake");
        assert!(matches!(wake, Wake::RepairDue));
        assert!(after <= thirty);
        // A reload sets 5 s: the next repair is 5 s from the change, then every 5 s.
        let five = Duration::from_secs(5);
        for _ in 0..2 {
            let (wake, after) = next(&mut inputs, due(true, five), thirty)
                .await
                .expect("a wake");
            assert!(matches!(wake, Wake::RepairDue));
            assert_eq!(after, five);
        }
    }
}
