//! `haldir run`: the daemon. One loop owns all state and takes, in turn: check results,
//! VRRP transitions, tracked interfaces and scripts, the reconcile timer, reloads (SIGHUP, a
//! change of the file, `haldir reload`), queries from the control socket and the metrics
//! endpoint, and the signals that stop it. SIGTERM resigns VRRP, removes the mark rules and
//! the real-server role, and leaves or removes the services as `ipvs.on_stop` says.

mod alerts;
mod announce;
mod changes;
mod control;
mod director;
mod drain;
mod fixed;
mod metrics;
mod process;
mod reload;
mod resident;
mod scrape;
mod status;
mod systemd;
mod table;
mod track_files;
mod vrrp;
mod wake;
mod watch;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::config::types::OnStop;
use crate::config::{self, Config};
use crate::control::{Reply, Request};
use crate::health::runner::Checks;
use crate::health::verdict::HealthMap;
use crate::health::{self, Consumers};
use crate::host::Host;
use crate::identity::Identity;
use metrics::Metrics;
use vrrp::VrrpSet;
pub(crate) use wake::Query;
use wake::{Due, Inputs, Wake};

pub(crate) fn run(path: &Path) -> ExitCode {
    crate::logging::panics_past_the_queue();
    resident::small_pages();
    // Before any thread but the log's (which only writes to stderr): the mappings the process
    // started with are the ones let go later.
    resident::note_start_mappings();
    // Before the runtime starts a thread: every thread inherits the namespace and the mask
    // (but the log's, started earlier, which needs neither).
    if let Ok(l) = config::load(path)
        && !process::apply(&l.config.global)
    {
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Shown by status and watched for changes: an absolute path stays right whatever the
    // working directory.
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    runtime.block_on(main_loop(path))
}

use resident::{release_code, release_memory};

/// The one budget of a clean stop: the VRRP instances' stop scripts (all instances side by
/// side, each instance's scripts in order after any still running), then the `omega`
/// notifications and mails, must be done within it; what still runs is then left (and
/// systemd's `KillMode=mixed` ends it). The unit's `TimeoutStopSec=20s` covers it with room
/// for the rest of the stop (mark rules, the real-server role, `on_stop = "remove"`).
pub(crate) const STOP_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

struct Daemon {
    path: PathBuf,
    /// Shared with a reload's reading off the loop, which takes its unchanged services over.
    config: std::sync::Arc<Config>,
    /// The text last accepted, for a reload to read only what changed in it.
    basis: Option<crate::config::reread::Basis>,
    started: Instant,
    /// The kernel state haldir keeps: IPVS, mark rules, real-server role.
    host: Host,
    vrrp: VrrpSet,
    health: HealthMap,
    consumers: Consumers,
    checks: Checks,
    metrics: Metrics,
    /// Where alerts are mailed ([email]); None without one.
    mailer: Option<crate::email::Mailer>,
    /// keepalived's notify FIFOs, opened at start.
    fifos: crate::notify::fifo::Fifos,
    /// The kernel's table for status and metrics, dumped off the loop.
    table: table::TableDump,
    /// Notify commands of groups, services and real servers, run in order.
    scripts: crate::notify::Chain,
    /// What `[static]` holds, and the handle that added it.
    fixed: Option<(crate::vrrp::held::Holdings, crate::netlink::rtnl::Rtnl)>,
    /// Each sync group's state as last told (a group's scripts run once per state).
    group_states: std::collections::HashMap<String, crate::email::VrrpState>,
    queries: mpsc::UnboundedSender<Query>,
    metrics_task: Option<tokio::task::JoinHandle<()>>,
    file_events: mpsc::UnboundedSender<()>,
    watcher: Option<watch::ConfigWatch>,
    file_tracks: track_files::FileTracks,
    track_file_events: mpsc::UnboundedSender<(String, i64)>,
    /// The VIPs offered to the routers ([routing], [[announce]]).
    announcements: announce::Announcements,
}

impl Daemon {
    /// One line for systemd's status: what runs.
    fn summary(&self) -> String {
        format!(
            "{} VRRP instance(s), {} virtual server(s), {} check(s)",
            self.config.vrrp_instances.len(),
            self.config.virtual_servers.len(),
            self.checks.len()
        )
    }

    /// Watches these files (the configuration and its includes) from now on.
    fn watch_files(&mut self, files: Vec<PathBuf>) {
        if self.watcher.as_ref().is_some_and(|w| w.files == files) {
            return;
        }
        match watch::watch(files, self.file_events.clone()) {
            Ok(w) => self.watcher = Some(w),
            Err(e) => {
                warn!(error = %e, "cannot watch the configuration: reload with SIGHUP or haldir reload")
            }
        }
    }

    /// Watches the tracked files the configuration names.
    fn watch_track_files(&mut self) {
        self.file_tracks
            .watch(&self.config.track_files, &self.track_file_events);
    }

    /// (Re)binds the metrics endpoint where the configuration says.
    async fn serve_metrics(&mut self) {
        if let Some(task) = self.metrics_task.take() {
            task.abort();
            // Let the aborted listener close before binding the same address again.
            tokio::task::yield_now().await;
        }
        let Some(addr) = self.config.global.metrics_listen else {
            return;
        };
        match scrape::bind(addr, self.queries.clone()).await {
            Ok(task) => {
                info!(%addr, "metrics endpoint listening");
                self.metrics_task = Some(task);
            }
            Err(e) => error!(%addr, error = %e, "cannot open the metrics endpoint"),
        }
    }

    async fn answer(&mut self, q: Query) {
        match q {
            Query::Metrics(tx) => {
                let status = self.status().await;
                let _ = tx.send(self.metrics.render(&status));
            }
            Query::Control(req, tx) => {
                let reply = match req {
                    Request::Status => Reply::Status(Box::new(self.status().await)),
                    Request::Reload => self.reload("haldir reload").await,
                    Request::Drain {
                        virtual_server,
                        real_server,
                    } => self.drain(&virtual_server, &real_server, true),
                    Request::Undrain {
                        virtual_server,
                        real_server,
                    } => self.drain(&virtual_server, &real_server, false),
                    Request::DrainDirector { drained } => self.drain_director(drained),
                };
                let _ = tx.send(reply);
            }
        }
    }

    /// A VRRP instance changed state (services bound to it follow) or priority.
    fn on_vrrp(&mut self, report: crate::vrrp::instance::Report) {
        use crate::vrrp::instance::Report;
        let t = match report {
            Report::State(t) => t,
            Report::Priority {
                name,
                state,
                priority,
            } => {
                self.fifos.priority(&name, state.into(), priority);
                return;
            }
            Report::LowerPriorityHeard { name, priority } => {
                self.fifos.lower_priority_heard(&name, priority);
                return;
            }
        };
        self.metrics.transition(&t.name, t.to.as_str());
        self.tell_transition(&t);
        if self.vrrp.on_transition(&self.config, &t) && self.host.has_ipvs() {
            self.reconcile("vrrp role");
        }
    }

    async fn stop(&mut self) {
        systemd::stopping();
        // The routers first: they move the flows away while this director still serves them.
        self.stop_announcing();
        // Resign first (priority 0, addresses removed), so the backup takes over at once.
        let deadline = tokio::time::Instant::now() + STOP_BUDGET;
        self.vrrp.stop_all(deadline).await;
        self.tell_shutdown(deadline).await;
        self.fifos.close();
        if let Err(e) = self.host.remove_marks(&self.config) {
            error!(error = %e, "cannot remove the mark rules");
        }
        // Routes kept at stop (`on_stop = "keep"`) keep bringing flows: so do their VIPs.
        let routes_kept = self
            .config
            .routing
            .as_ref()
            .is_some_and(|r| r.on_stop == crate::config::types::RoutesOnStop::Keep)
            && !self.config.announces.is_empty();
        if self.config.local_role().is_some()
            && !routes_kept
            && let Err(e) = self.host.undo_role(&self.config.global.state_dir)
        {
            error!(error = %e, "at stop");
        }
        if self.config.ipvs.on_stop == OnStop::Remove {
            match self.host.remove_owned() {
                Some(Ok(report)) => report.log(),
                Some(Err(e)) => error!(error = %e, "could not remove haldir's services"),
                None => {}
            }
        }
        self.release_static();
        let _ = std::fs::remove_file(&self.config.global.control_socket);
        info!("stopped");
    }
}

/// Whether mark rules name peers, whose MACs the daemon looks up again while it runs.
fn has_peers(config: &Config) -> bool {
    config.fwmarks.iter().any(|r| !r.exclude_peers.is_empty())
}

/// Whether anything is run as `script_user`: it must exist only then.
fn runs_scripts(config: &Config) -> bool {
    !config.scripts().is_empty()
}

/// The configuration as the daemon keeps it, the basis of a later reload's reading, and the
/// files to watch.
fn load(
    path: &Path,
) -> Result<(Config, Option<crate::config::reread::Basis>, Vec<PathBuf>), StartError> {
    let (loaded, basis) = crate::security::load_checked_since(path, None)?;
    if !loaded.warnings.is_empty() {
        warn!("{}", loaded.render_warnings());
    }
    let files: Vec<PathBuf> = loaded.sources.paths().map(Path::to_path_buf).collect();
    // The parsed document is gone by now: the copy lies in memory of its own.
    let config = crate::config::compact::compacted(&loaded.config);
    Ok((config, basis, files))
}

/// The user scripts run as (it must exist only when something runs scripts), and the probe
/// contexts of the checks and of the track scripts.
fn script_contexts(
    config: &Config,
) -> Result<
    (
        Option<Identity>,
        health::probe::Context,
        health::probe::Context,
    ),
    StartError,
> {
    let script_error = |source| StartError::ScriptUser {
        user: config.global.script_user.clone(),
        source,
    };
    let script_user = if runs_scripts(config) {
        crate::identity::resolve(&config.global.script_user).map_err(script_error)?
    } else {
        None
    };
    let ctx = health::probe::Context::with_identity(script_user).map_err(script_error)?;
    let script_ctx = health::probe::Context::with_identity(script_user).map_err(script_error)?;
    Ok((script_user, ctx, script_ctx))
}

/// Starts the VRRP instances, takes back the VMACs an earlier run left, and sets up the
/// real-server role; the caller stops the instances when this fails.
fn start_vrrp_and_role(vrrp: &mut VrrpSet, host: &Host, config: &Config) -> Result<(), StartError> {
    crate::vrrp::vmac_record::keep_in(&config.global.state_dir);
    vrrp::start_all(vrrp, config)?;
    match crate::netlink::rtnl::Rtnl::open() {
        Ok(mut rtnl) => crate::vrrp::vmac::take_back_left(&mut rtnl),
        Err(e) => warn!(error = %e, "cannot take back an earlier run's VMACs"),
    }
    if let Some(role) = &config.local_role() {
        host.set_up_role(role, &config.global.state_dir)?;
    }
    Ok(())
}

async fn main_loop(path: PathBuf) -> ExitCode {
    match Daemon::start(path).await {
        Ok((d, inputs)) => d.run(inputs).await,
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// What keeps the daemon from starting; each says what to fix.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error(transparent)]
    Config(#[from] crate::security::CheckedError),
    #[error(transparent)]
    Ipvs(#[from] crate::reconcile::ReconcileError),
    #[error("script_user \"{user}\": {source}")]
    ScriptUser {
        user: String,
        source: std::io::Error,
    },
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error(transparent)]
    Control(#[from] control::BindError),
    #[error("cannot start the VRRP thread: {0}")]
    VrrpThread(std::io::Error),
    #[error(transparent)]
    Vrrp(#[from] vrrp::VrrpStartError),
    #[error(transparent)]
    RealServer(#[from] crate::host::RoleError),
}

impl Daemon {
    /// Takes the configuration (validated, trusted), opens what the daemon needs and starts
    /// its VRRP instances first, so that no advert waits for the first reconcile; the IPVS
    /// table, checks and the rest come in [`Daemon::run`].
    async fn start(path: PathBuf) -> Result<(Daemon, Inputs), StartError> {
        let (config, basis, files) = load(&path)?;
        let host = Host::open(&config)?;
        track_files::FileTracks::init(&config.track_files, false);
        let (script_user, ctx, script_ctx) = script_contexts(&config)?;
        let (mut inputs, senders) = Inputs::open().map_err(StartError::Signals)?;
        inputs.files = files;
        inputs.control = Some(control::serve(
            &config.global.control_socket,
            senders.queries.clone(),
        )?);
        let mut vrrp = VrrpSet::new(
            script_user,
            senders.vrrp,
            Checks::new(script_ctx, senders.scripts),
            senders.links,
        )
        .map_err(StartError::VrrpThread)?;
        if let Err(e) = start_vrrp_and_role(&mut vrrp, &host, &config) {
            vrrp.stop_all(tokio::time::Instant::now() + STOP_BUDGET)
                .await;
            inputs.close();
            return Err(e);
        }
        let metrics = Metrics::default();
        let mailer = alerts::mailer(&config, &metrics);
        let fifos = alerts::fifos(&config, script_user);
        let daemon = Daemon {
            path,
            started: Instant::now(),
            host,
            vrrp,
            health: HealthMap::default(),
            consumers: Consumers::new(),
            checks: Checks::new(ctx, senders.events)
                .observe(metrics.observer(config.global.log_all_failures)),
            metrics,
            mailer,
            fifos,
            table: table::TableDump::default(),
            scripts: crate::notify::Chain::new(script_user),
            group_states: Default::default(),
            fixed: None,
            queries: senders.queries,
            metrics_task: None,
            file_events: senders.files,
            watcher: None,
            file_tracks: track_files::FileTracks::default(),
            track_file_events: senders.track_files,
            announcements: Default::default(),
            config: std::sync::Arc::new(config),
            basis,
        };
        Ok((daemon, inputs))
    }

    /// The daemon's life after start: the first reconcile, checks, mark rules, metrics and
    /// file watch, then the loop until a stop signal, then the clean stop.
    async fn run(mut self, mut inputs: Inputs) -> ExitCode {
        self.begin(std::mem::take(&mut inputs.files)).await;
        // Once every check has probed, the heap is trimmed again: the first round's
        // allocations land all over the pages freed after the first reconcile.
        let watchdog = systemd::watchdog_interval();
        let first_round = self.first_round_end();
        inputs
            .arm(self.config.global.reconcile_interval, watchdog, first_round)
            .await;
        loop {
            let wake = inputs.next(self.due()).await;
            if !self.on(wake).await {
                break;
            }
        }
        inputs.close();
        self.stop().await;
        ExitCode::SUCCESS
    }

    /// Brings the host to the configuration and tells systemd it is ready.
    async fn begin(&mut self, files: Vec<PathBuf>) {
        info!(router_id = %self.config.global.router_id, "haldir started");
        self.hold_static();
        self.start_checks(None);
        let g = &self.config.global;
        self.health.drained = drain::load(&g.drain_dir, &g.state_dir);
        drain::prune(&mut self.health.drained, &self.config);
        self.announcements.drained = drain::director_drained(&self.config.global.drain_dir);
        self.reconcile("start");
        self.announce();
        self.netfilter();
        self.serve_metrics().await;
        self.watch_files(files);
        self.watch_track_files();
        release_memory();
        release_code(&self.config);
        systemd::ready(&self.summary());
    }

    /// What the loop waits for next, as the configuration and the host now stand.
    fn due(&self) -> Due {
        Due {
            peers: has_peers(&self.config),
            repair: self.host.has_ipvs(),
            reconcile_interval: self.config.global.reconcile_interval,
            announce_at: self.announcements.next,
        }
    }

    /// Takes one wake of the loop; false when it is told to stop.
    async fn on(&mut self, wake: Wake) -> bool {
        match wake {
            Wake::PeersDue => self.netfilter(),
            Wake::Vrrp(r) => self.on_vrrp(r),
            Wake::Link { name, up } => {
                let kind = crate::vrrp::command::TrackedKind::Interface;
                self.vrrp.track(&self.config, kind, &name, up);
            }
            Wake::Script(ev) => self.vrrp.on_script(&self.config, &ev),
            Wake::TrackFile { name, value } => self.vrrp.track_file(&self.config, &name, value),
            Wake::Health(evs) => self.on_health(evs),
            Wake::Reannounce => self.announce(),
            Wake::Query(q) => {
                self.answer(q).await;
                self.announce();
            }
            Wake::Settled => self.reload_and_announce("file changed").await,
            Wake::Hangup => self.reload_and_announce("SIGHUP").await,
            Wake::RepairDue => self.on_repair_due(),
            Wake::FirstRoundOver => self.on_first_round_over(),
            Wake::Watchdog => self.on_watchdog(),
            Wake::Stop => return false,
        }
        true
    }

    /// Check results, taken in one update.
    fn on_health(&mut self, events: Vec<health::runner::Event>) {
        let mut affected = HashSet::new();
        for ev in events {
            self.on_event(ev, &mut affected);
        }
        if !affected.is_empty() {
            self.update(&affected);
        }
        self.announce();
    }

    async fn reload_and_announce(&mut self, why: &str) {
        self.reload(why).await;
        self.announce();
    }

    fn on_repair_due(&mut self) {
        crate::logging::report_dropped();
        self.reconcile("interval");
        // The table read and the probes since the last trim leave freed pages resident; a
        // trim costs a walk of the free lists.
        release_memory();
        // So does the code of a reconcile (the table's dump and diff), which runs once an
        // interval: it is faulted back from the page cache at the next.
        release_code(&self.config);
    }

    fn on_first_round_over(&mut self) {
        release_memory();
        // The code that ran only for the first round (the health changes of every server,
        // the table they wrote) is let go as start-up's was.
        release_code(&self.config);
    }

    /// Fed only while VRRP's thread answers too: a director whose adverts stopped must be
    /// restarted even if this loop runs on.
    fn on_watchdog(&mut self) {
        if self.vrrp.answering() {
            systemd::watchdog();
        } else {
            tracing::error!(
                "VRRP's thread has not answered since the last watchdog turn: the watchdog is \
                 no longer fed, for systemd to restart haldir"
            );
        }
        crate::logging::report_dropped();
    }
}
