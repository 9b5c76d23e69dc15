//! `haldir run`: the daemon. It keeps the IPVS table equal to the configuration and the health
//! of the real servers: a full reconcile on start, every `reconcile_interval` (repairing drift
//! made behind haldir's back) and after a reload; a health change applies only the operations
//! it causes, at once. SIGTERM stops it, leaving or removing the services as `ipvs.on_stop`
//! says.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::config::types::OnStop;
use crate::config::{self, Config};
use crate::health::runner::{Checks, Event};
use crate::health::{self, Consumers};
use crate::reconcile::desired::{self, Desired, Health, HealthMap, Roles};
use crate::reconcile::diff::{self, Actual, Owned};
use crate::reconcile::{Reconciler, Report};
use crate::vrrp::fsm::State as VrrpState;
use crate::vrrp::instance::{self, Command as VrrpCommand};

pub fn run(path: &Path) -> ExitCode {
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
    runtime.block_on(main_loop(path.to_path_buf()))
}

/// Hands memory freed after a large one-off job (reading the configuration, the first full
/// reconcile) back to the system: glibc keeps it otherwise, and a daemon lives long.
fn release_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn log_report(report: &Report) {
    for op in &report.applied {
        info!(op = %op, "applied");
    }
    for (op, e) in &report.failed {
        warn!(op = %op, error = %e, "not applied");
    }
}

/// Whether a configuration asks anything of IPVS: a VRRP-only director runs without it.
pub fn needs_ipvs(c: &Config) -> bool {
    !c.virtual_servers.is_empty() || c.ipvs.timeouts.is_some() || c.ipvs.sync_daemon.is_some()
}

struct Daemon {
    path: PathBuf,
    config: Config,
    reconciler: Option<Reconciler>,
    vrrp: Vec<(String, instance::Handle)>,
    /// Each instance's state as last reported.
    vrrp_states: std::collections::HashMap<String, VrrpState>,
    /// Each instance's own tracking fault, apart from its sync group's.
    own_faults: std::collections::HashMap<String, bool>,
    health: HealthMap,
    consumers: Consumers,
    checks: Checks,
    /// The desired state last applied: health changes are diffed against it.
    last: Desired,
    /// The mark rules last loaded (None: not yet, or removed).
    marks: Option<Vec<crate::netfilter::rules::MarkRule>>,
}

impl Daemon {
    /// Without VRRP every service is programmed; with it, those bound to an instance only
    /// while that instance is master.
    fn roles(&self) -> Roles {
        if self.config.vrrp_instances.is_empty() {
            Roles::All
        } else {
            Roles::Masters(
                self.vrrp_states
                    .iter()
                    .filter(|(_, s)| **s == VrrpState::Master)
                    .map(|(n, _)| n.clone())
                    .collect(),
            )
        }
    }

    fn desired(&self) -> Desired {
        desired::desired(&self.config, &self.health, &self.roles())
    }

    /// Reads the kernel and brings it to the desired state.
    fn reconcile(&mut self, why: &str) {
        let want = self.desired();
        self.health.record_quorum(&want.services);
        let Some(reconciler) = self.reconciler.as_mut() else {
            return;
        };
        match reconciler.apply(&want) {
            Ok(report) => {
                if !report.applied.is_empty() || !report.failed.is_empty() {
                    info!(
                        reason = why,
                        applied = report.applied.len(),
                        failed = report.failed.len(),
                        "reconciled"
                    );
                }
                log_report(&report);
                self.last = want;
            }
            Err(e) => error!(reason = why, error = %e, "reconcile failed"),
        }
    }

    /// Applies what changed in these virtual servers since the state last applied, without
    /// reading the kernel: only their desired state is computed and compared, so a change
    /// costs the same with ten services or ten thousand.
    fn update(&mut self, affected: &HashSet<String>) {
        let mut want = Desired::default();
        let mut had = Desired::default();
        for vs in self
            .config
            .virtual_servers
            .iter()
            .filter(|v| affected.contains(&v.name))
        {
            if !desired::active(vs, &Roles::All) {
                continue;
            }
            let new = desired::desired_service(vs, &self.health);
            if new.quorum_lost != self.health.quorum_lost.contains(&new.name) {
                warn!(virtual_server = %new.name, lost = new.quorum_lost, "quorum {}", if new.quorum_lost { "lost" } else { "regained" });
            }
            if let Some(old) = self
                .last
                .services
                .iter()
                .find(|s| s.service.id == new.service.id)
            {
                had.services.push(old.clone());
            }
            want.services.push(new);
        }
        self.health.record_quorum(&want.services);
        let ops = diff::diff(&want, &Actual::from_desired(&had), &Owned::default());
        if !ops.is_empty() {
            let Some(reconciler) = self.reconciler.as_mut() else {
                return;
            };
            let owned = match reconciler.owned() {
                Ok(o) => o,
                Err(e) => {
                    error!(error = %e, "cannot read the ownership record");
                    return;
                }
            };
            match reconciler.apply_ops(&want, &owned, ops) {
                Ok(report) => {
                    log_report(&report);
                    if !report.is_clean() {
                        // The kernel is not what haldir last made it: read it and repair.
                        self.reconcile("repair after a failed update");
                        return;
                    }
                }
                Err(e) => {
                    error!(error = %e, "update failed");
                    return;
                }
            }
        }
        for new in want.services {
            match self
                .last
                .services
                .iter_mut()
                .find(|s| s.service.id == new.service.id)
            {
                Some(slot) => *slot = new,
                None => self.last.services.push(new),
            }
        }
    }

    /// Records a check's verdict for every server it feeds; returns the virtual servers whose
    /// health changed.
    fn on_event(&mut self, ev: Event, affected: &mut HashSet<String>) {
        let Some(health) = ev.state.health() else {
            return;
        };
        // An event of a check that a reload removed meanwhile feeds no one.
        let Some(users) = self.consumers.get(&*ev.target) else {
            return;
        };
        for (vs, rs) in users {
            // A server with no verdict yet counts as up (or down with alpha): a first "up"
            // for a server already taken as up changes nothing.
            if self.health.get(vs, rs) == health {
                self.health.servers.insert((vs.clone(), *rs), health);
                continue;
            }
            self.health.servers.insert((vs.clone(), *rs), health);
            affected.insert(vs.clone());
            match health {
                Health::Down => {
                    warn!(virtual_server = %vs, real_server = %rs, check = %ev.target, reason = %ev.outcome, "real server down")
                }
                Health::Up => {
                    info!(virtual_server = %vs, real_server = %rs, check = %ev.target, "real server up")
                }
                Health::UpWithWeight(w) => {
                    info!(virtual_server = %vs, real_server = %rs, check = %ev.target, weight = w, "real server up")
                }
            }
        }
    }

    /// Starts the checks of the current configuration; checks that did not change keep
    /// running and keep their servers' health.
    fn start_checks(&mut self, previous: Option<(Consumers, HealthMap)>) {
        let consumers = health::targets(&self.config);
        let mut map = health::initial(&self.config);
        if let Some((old_consumers, old_health)) = previous {
            for (target, users) in &consumers {
                if old_consumers.contains_key(target) {
                    for key in users {
                        let key = (key.0.clone(), key.1);
                        if let Some(h) = old_health.servers.get(&key) {
                            map.servers.insert(key, *h);
                        }
                    }
                }
            }
        }
        self.checks.sync(consumers.keys().cloned());
        self.consumers = consumers;
        self.health = map;
        info!(checks = self.checks.len(), "health checks running");
    }

    /// A new configuration replaces the running one only if it is valid.
    fn reload(&mut self) {
        match config::load(&self.path) {
            Ok(loaded) => {
                if loaded.config.vrrp_instances != self.config.vrrp_instances
                    || loaded.config.sync_groups != self.config.sync_groups
                    || loaded.config.track_scripts != self.config.track_scripts
                {
                    // Instances keep running as they are: restarting them here would flap the
                    // VIPs, and applying a diff to them is not implemented yet.
                    warn!("VRRP settings changed: they take effect when haldir restarts");
                }
                if loaded.config.realserver != self.config.realserver {
                    self.realserver(
                        loaded.config.realserver.as_ref(),
                        &loaded.config.global.state_dir,
                    );
                }
                self.config = loaded.config;
                info!(path = %self.path.display(), "configuration reloaded");
                let previous = (
                    std::mem::take(&mut self.consumers),
                    std::mem::take(&mut self.health),
                );
                self.start_checks(Some(previous));
                self.reconcile("reload");
                self.marks = None;
                self.netfilter();
                release_memory();
            }
            Err(e) => error!("reload refused, the running configuration stays:\n{e}"),
        }
    }

    /// Loads the mark rules when they differ from those loaded (a peer's MAC learned or
    /// changed, a reload), or removes haldir's table when the configuration has none.
    fn netfilter(&mut self) {
        if !crate::netfilter::wanted(&self.config) {
            if self.marks.take().is_some()
                && let Err(e) = crate::netfilter::remove(&self.config)
            {
                error!(error = %e, "cannot remove the mark rules");
            }
            return;
        }
        let rules = crate::netfilter::desired(&self.config, false);
        if self.marks.as_ref() == Some(&rules) {
            return;
        }
        match crate::netfilter::apply(&self.config, &rules) {
            Ok(()) => {
                let excluded: usize = rules.iter().map(|r| r.exclude_macs.len()).sum();
                info!(backend = %self.config.netfilter.backend, table = %self.config.netfilter.table, rules = rules.len(), excluded_macs = excluded, "mark rules loaded");
                self.marks = Some(rules);
            }
            Err(e) => error!(error = %e, "cannot load the mark rules"),
        }
    }

    /// Replaces the real-server role (undo the old, set up the new).
    fn realserver(
        &self,
        role: Option<&crate::config::model::RealServerRole>,
        state_dir: &std::path::Path,
    ) {
        if let Err(e) = crate::realserver::remove(&self.config.global.state_dir) {
            error!(error = %e, "cannot undo the real-server role");
        }
        if let Some(role) = role
            && let Err(e) = crate::realserver::apply(role, state_dir)
        {
            error!(error = %e, "cannot set up the real-server role");
        }
    }

    /// Hands a tracked object's change to the instances that track it.
    fn track(&self, script: bool, name: &str, up: bool) {
        for (inst, h) in &self.vrrp {
            let Some(cfg) = self.config.vrrp_instances.iter().find(|i| &i.name == inst) else {
                continue;
            };
            let tracks = if script {
                cfg.track_script.iter().any(|t| t.name == name)
            } else {
                cfg.track_interface.iter().any(|t| t.name == name)
            };
            if tracks {
                let _ = h.commands.send(VrrpCommand::Track {
                    script,
                    name: name.to_string(),
                    up,
                });
            }
        }
    }

    /// Keeps the members of a sync group together: one member's own fault takes the group to
    /// FAULT; a member becoming master brings the others; a master member yielding takes the
    /// others along.
    fn sync_group(&mut self, t: &instance::Transition) {
        let Some(group) = self
            .config
            .sync_groups
            .iter()
            .find(|g| g.instances.contains(&t.name))
        else {
            return;
        };
        self.own_faults.insert(t.name.clone(), t.own_fault);
        // A member's group fault is the others' own faults, never its own echoed back.
        let others_fault = |member: &str| {
            group
                .instances
                .iter()
                .any(|m| m != member && self.own_faults.get(m).copied().unwrap_or(false))
        };
        for (member, h) in self
            .vrrp
            .iter()
            .filter(|(n, _)| group.instances.contains(n))
        {
            let _ = h
                .commands
                .send(VrrpCommand::GroupFault(others_fault(member)));
            if *member == t.name {
                continue;
            }
            if t.by_group {
                continue;
            }
            let cmd = match (t.from, t.to) {
                (_, VrrpState::Master) => Some(VrrpCommand::GroupMaster),
                (VrrpState::Master, VrrpState::Backup) => Some(VrrpCommand::GroupBackup),
                _ => None,
            };
            if let Some(cmd) = cmd {
                tracing::debug!(group = %group.name, from = %t.name, to = %member, "sync group follows");
                let _ = h.commands.send(cmd);
            }
        }
    }

    /// A VRRP instance changed state: services bound to it follow.
    fn on_vrrp(&mut self, t: instance::Transition) {
        self.sync_group(&t);
        let (name, state) = (t.name, t.to);
        let before = self.vrrp_states.insert(name, state);
        let was_master = before == Some(VrrpState::Master);
        if was_master != (state == VrrpState::Master) && self.reconciler.is_some() {
            self.reconcile("vrrp role");
        }
    }

    async fn stop(&mut self) {
        // Resign first (priority 0, addresses removed), so the backup takes over at once.
        for (_, h) in &self.vrrp {
            let _ = h.commands.send(VrrpCommand::Shutdown);
        }
        for (name, h) in self.vrrp.drain(..) {
            if tokio::time::timeout(std::time::Duration::from_secs(3), h.task)
                .await
                .is_err()
            {
                warn!(instance = %name, "VRRP instance did not stop in time");
            }
        }
        if self.marks.is_some()
            && let Err(e) = crate::netfilter::remove(&self.config)
        {
            error!(error = %e, "cannot remove the mark rules");
        }
        if self.config.realserver.is_some()
            && let Err(e) = crate::realserver::remove(&self.config.global.state_dir)
        {
            error!(error = %e, "cannot undo the real-server role");
        }
        let Some(reconciler) = self.reconciler.as_mut() else {
            info!("stopped");
            return;
        };
        if self.config.ipvs.on_stop == OnStop::Remove {
            match reconciler.remove_owned() {
                Ok(report) => log_report(&report),
                Err(e) => error!(error = %e, "could not remove haldir's services"),
            }
        }
        info!("stopped");
    }
}

async fn main_loop(path: PathBuf) -> ExitCode {
    let config = match config::load(&path) {
        Ok(l) => {
            if !l.warnings.is_empty() {
                warn!("{}", l.render_warnings());
            }
            l.config
        }
        Err(e) => {
            error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let reconciler = if needs_ipvs(&config) {
        match Reconciler::new(config.global.state_dir.clone()) {
            Ok(r) => Some(r),
            Err(e) => {
                error!("{e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    // The script user must exist only if something is to run as it.
    let runs_scripts = !config.track_scripts.is_empty()
        || config.vrrp_instances.iter().any(|i| {
            let n = &i.notify;
            n.master.is_some()
                || n.backup.is_some()
                || n.fault.is_some()
                || n.stop.is_some()
                || n.any.is_some()
        })
        || config
            .virtual_servers
            .iter()
            .flat_map(|v| &v.real_servers)
            .any(|r| {
                matches!(
                    r.check.as_ref().map(|c| &c.kind),
                    Some(crate::config::model::CheckKind::Misc { .. })
                )
            });
    let script_user = if config.global.script_user == "root" || !runs_scripts {
        None
    } else {
        match health::probe::lookup_user(&config.global.script_user) {
            Ok(u) => Some(u),
            Err(e) => {
                error!("script_user \"{}\": {e}", config.global.script_user);
                return ExitCode::FAILURE;
            }
        }
    };
    let ctx = match health::probe::Context::with_identity(script_user) {
        Ok(c) => c,
        Err(e) => {
            error!("script_user \"{}\": {e}", config.global.script_user);
            return ExitCode::FAILURE;
        }
    };
    let (mut term, mut int, mut hup) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(t), Ok(i), Ok(h)) => (t, i, h),
        _ => {
            error!("cannot install signal handlers");
            return ExitCode::FAILURE;
        }
    };
    let (tx, mut events) = mpsc::unbounded_channel();
    let (vrrp_tx, mut vrrp_events) = mpsc::unbounded_channel();
    let mut vrrp = Vec::new();
    for inst in &config.vrrp_instances {
        match instance::spawn(inst.clone(), script_user, vrrp_tx.clone()) {
            Ok(h) => vrrp.push((inst.name.clone(), h)),
            Err(e) => {
                error!(instance = %inst.name, interface = %inst.interface, error = %e, "cannot start the VRRP instance");
                return ExitCode::FAILURE;
            }
        }
    }
    // Tracked interfaces: one watcher of the kernel's link events for all instances.
    let (link_tx, mut link_events) = mpsc::unbounded_channel::<(String, bool)>();
    let tracked_links: HashSet<String> = config
        .vrrp_instances
        .iter()
        .flat_map(|i| i.track_interface.iter().map(|t| t.name.clone()))
        .collect();
    if !tracked_links.is_empty()
        && let Err(e) = crate::vrrp::link::watch(tracked_links, link_tx)
    {
        error!(error = %e, "cannot watch interface state for track_interface");
        return ExitCode::FAILURE;
    }
    // Track scripts: run like misc checks, one task each, shared by the instances using them.
    let (script_tx, mut script_events) = mpsc::unbounded_channel();
    let mut scripts = match health::probe::Context::with_identity(script_user) {
        Ok(c) => Checks::new(c, script_tx),
        Err(e) => {
            error!("script_user \"{}\": {e}", config.global.script_user);
            return ExitCode::FAILURE;
        }
    };
    let script_targets: std::collections::HashMap<health::Target, String> = config
        .track_scripts
        .iter()
        .map(|t| (crate::vrrp::tracking_target(t), t.name.clone()))
        .collect();
    scripts.sync(script_targets.keys().cloned());
    if let Some(role) = &config.realserver
        && let Err(e) = crate::realserver::apply(role, &config.global.state_dir)
    {
        error!(error = %e, "cannot set up the real-server role");
        return ExitCode::FAILURE;
    }
    let mut d = Daemon {
        path,
        config,
        reconciler,
        vrrp,
        vrrp_states: std::collections::HashMap::new(),
        own_faults: std::collections::HashMap::new(),
        health: HealthMap::default(),
        consumers: Consumers::new(),
        checks: Checks::new(ctx, tx),
        last: Desired::default(),
        marks: None,
    };
    info!(router_id = %d.config.global.router_id, "haldir started");
    d.start_checks(None);
    d.reconcile("start");
    d.netfilter();
    release_memory();
    let mut tick = tokio::time::interval(d.config.global.reconcile_interval);
    tick.tick().await;
    // Peers' MACs are looked up again every 2 s: a new or changed one rewrites the rules.
    let mut peers_tick = tokio::time::interval(std::time::Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = peers_tick.tick() => d.netfilter(),
            Some(t) = vrrp_events.recv() => d.on_vrrp(t),
            Some((name, up)) = link_events.recv() => d.track(false, &name, up),
            Some(ev) = script_events.recv() => {
                if let (Some(name), Some(h)) = (script_targets.get(&*ev.target), ev.state.health()) {
                    if !matches!(h, Health::Down) {
                        d.track(true, name, true);
                    } else {
                        warn!(script = %name, reason = %ev.outcome, "track script failed");
                        d.track(true, name, false);
                    }
                }
            }
            Some(ev) = events.recv() => {
                // Everything already queued is taken in one update.
                let mut affected = HashSet::new();
                d.on_event(ev, &mut affected);
                while let Ok(ev) = events.try_recv() {
                    d.on_event(ev, &mut affected);
                }
                if !affected.is_empty() {
                    d.update(&affected);
                }
            }
            _ = tick.tick() => d.reconcile("interval"),
            _ = hup.recv() => {
                d.reload();
                tick = tokio::time::interval(d.config.global.reconcile_interval);
                tick.tick().await;
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    d.stop().await;
    ExitCode::SUCCESS
}
