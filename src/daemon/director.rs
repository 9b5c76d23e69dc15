//! The director's work in the daemon: keeping IPVS equal to the configuration and the health
//! of the real servers (a full reconcile on start, every `reconcile_interval` and after a
//! reload; a health change applies only the operations it causes), the mark rules and the
//! real-server role.

use std::collections::HashSet;

use tracing::{error, info, warn};

use super::Daemon;
use crate::health::runner::Event;
use crate::health::{self, Consumers};
use crate::reconcile::Report;
use crate::reconcile::desired::{self, Desired, Health, HealthMap, Roles};
use crate::reconcile::diff::{self, Actual, Owned};
use crate::vrrp::fsm::State as VrrpState;

pub fn log_report(report: &Report) {
    for op in &report.applied {
        info!(op = %op, "applied");
    }
    for (op, e) in &report.failed {
        warn!(op = %op, error = %e, "not applied");
    }
}

impl Daemon {
    /// Without VRRP every service is programmed; with it, those bound to an instance only
    /// while that instance is master.
    pub(super) fn roles(&self) -> Roles {
        if self.config.vrrp_instances.is_empty() {
            Roles::All
        } else {
            Roles::Masters(
                self.vrrp
                    .states
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

    fn note(&self, report: &Report) {
        self.metrics.netlink(
            report.applied.len() + report.failed.len(),
            report.failed.len(),
        );
    }

    /// Reads the kernel and brings it to the desired state; returns what was done.
    pub(super) fn reconcile(&mut self, why: &str) -> Vec<String> {
        let t = std::time::Instant::now();
        let want = self.desired();
        tracing::debug!(took = ?t.elapsed(), "reconcile: desired state");
        self.health.record_quorum(&want.services);
        let Some(reconciler) = self.reconciler.as_mut() else {
            return Vec::new();
        };
        let result = reconciler.apply(&want);
        self.applied(why, want, result)
    }

    /// A reload's IPVS changes: the new desired state against the one last applied, without
    /// reading the kernel (the periodic reconcile repairs drift), so that one changed weight
    /// costs one operation whatever the table's size. Never applied yet, or an operation
    /// failed: the full reconcile.
    pub(super) fn reconcile_changes(&mut self, why: &str) -> Vec<String> {
        if self.last == Desired::default() {
            return self.reconcile(why);
        }
        let want = self.desired();
        self.health.record_quorum(&want.services);
        let Some(reconciler) = self.reconciler.as_mut() else {
            return Vec::new();
        };
        let result = reconciler.owned().and_then(|owned| {
            let ops = diff::diff(&want, &Actual::from_desired(&self.last), &owned);
            reconciler.apply_ops(&want, &owned, ops)
        });
        if result.as_ref().is_ok_and(|r| !r.is_clean()) {
            let mut lines = self.applied(why, want, result);
            lines.extend(self.reconcile("repair after a failed reload"));
            return lines;
        }
        self.applied(why, want, result)
    }

    /// Logs and records what a reconcile did; its lines for the reload's reply.
    fn applied(
        &mut self,
        why: &str,
        want: Desired,
        result: Result<crate::reconcile::Report, crate::reconcile::ReconcileError>,
    ) -> Vec<String> {
        self.table.stale();
        match result {
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
                self.note(&report);
                self.last = want;
                report
                    .applied
                    .iter()
                    .map(|op| format!("ipvs: {op}"))
                    .chain(
                        report
                            .failed
                            .iter()
                            .map(|(op, e)| format!("ipvs: {op} FAILED: {e}")),
                    )
                    .collect()
            }
            Err(e) => {
                error!(reason = why, error = %e, "reconcile failed");
                self.metrics.netlink(0, 1);
                vec![format!("ipvs: reconcile failed: {e}")]
            }
        }
    }

    /// Applies what changed in these virtual servers since the state last applied, without
    /// reading the kernel: only their desired state is computed and compared, so a change
    /// costs the same with ten services or ten thousand.
    pub(super) fn update(&mut self, affected: &HashSet<String>) {
        let mut want = Desired::default();
        let mut had = Desired::default();
        let roles = self.roles();
        let mut quorum_changes = Vec::new();
        for vs in self
            .config
            .virtual_servers
            .iter()
            .filter(|v| affected.contains(&v.name))
        {
            if !desired::active(vs, &roles) {
                continue;
            }
            let new = desired::desired_service(vs, &self.health);
            if new.quorum_lost != self.health.quorum_lost.contains(&new.name) {
                warn!(virtual_server = %new.name, lost = new.quorum_lost, "quorum {}", if new.quorum_lost { "lost" } else { "regained" });
                let live = desired::live_weight(vs, &self.health);
                quorum_changes.push((new.name.clone(), new.quorum_lost, live));
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
        for (name, lost, live) in quorum_changes {
            self.tell_quorum(&name, lost, live);
        }
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
            let result = reconciler.apply_ops(&want, &owned, ops);
            self.table.stale();
            match result {
                Ok(report) => {
                    log_report(&report);
                    self.note(&report);
                    if !report.is_clean() {
                        // The kernel is not what haldir last made it: read it and repair.
                        self.reconcile("repair after a failed update");
                        return;
                    }
                }
                Err(e) => {
                    error!(error = %e, "update failed");
                    self.metrics.netlink(0, 1);
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
    pub(super) fn on_event(&mut self, ev: Event, affected: &mut HashSet<String>) {
        let Some(health) = ev.state.health() else {
            return;
        };
        // An event of a check that a reload removed meanwhile feeds no one.
        let Some(users) = self.consumers.get(&*ev.target) else {
            return;
        };
        let mut changed = Vec::new();
        for (vs, rs) in users {
            // A server with no verdict yet counts as up (or down with alpha): a first "up"
            // for a server already taken as up changes nothing.
            if self.health.get(vs, rs) == health {
                self.health.servers.insert((vs.clone(), *rs), health);
                continue;
            }
            self.health.servers.insert((vs.clone(), *rs), health);
            affected.insert(vs.clone());
            changed.push((vs.clone(), *rs));
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
                Health::UpWithOffset(o) => {
                    info!(virtual_server = %vs, real_server = %rs, check = %ev.target, weight_offset = o, "real server up")
                }
            }
        }
        for (vs, rs) in changed {
            self.tell_health(&vs, rs, health, &ev);
        }
    }

    /// Starts the checks of the current configuration; checks that did not change keep
    /// running and keep their servers' health.
    pub(super) fn start_checks(&mut self, previous: Option<(Consumers, HealthMap)>) {
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
            map.quorum_lost = old_health.quorum_lost;
            map.drained = old_health.drained;
        }
        self.checks.sync(consumers.keys().cloned());
        self.consumers = consumers;
        self.health = map;
        info!(checks = self.checks.len(), "health checks running");
    }

    /// Loads the mark rules when they differ from those loaded (a peer's MAC learned or
    /// changed, a reload), or removes haldir's table when the configuration has none.
    pub(super) fn netfilter(&mut self) {
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
    pub(super) fn realserver(
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
}
