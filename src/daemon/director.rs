//! The director's work in the daemon: keeping IPVS equal to the configuration and the health
//! of the real servers (a full reconcile on start, every `reconcile_interval` and after a
//! reload; a health change applies only the operations it causes), the mark rules and the
//! real-server role.

use std::collections::HashSet;

use tracing::{error, info, warn};

use super::Daemon;
use crate::health::runner::Event;
use crate::health::verdict::{self, Health, HealthMap};
use crate::health::{self, Consumers};
use crate::host::{IpvsOutcome, Marks};
use crate::reconcile::Report;
use crate::reconcile::desired::{self, Desired, Roles};
use crate::reconcile::increment;
use crate::vrrp::fsm::State as VrrpState;

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
        self.health.record_quorum(want.quorum_verdicts());
        let outcome = self.host.reconcile(want);
        self.applied(why, outcome)
    }

    /// A reload's IPVS changes, against the state last applied (see
    /// [`crate::host::Host::apply_changes`]); a failed operation is repaired by a full
    /// reconcile.
    pub(super) fn reconcile_changes(&mut self, why: &str) -> Vec<String> {
        let t = std::time::Instant::now();
        let want = self.desired();
        self.health.record_quorum(want.quorum_verdicts());
        tracing::debug!(took = ?t.elapsed(), "reload: desired state");
        let t = std::time::Instant::now();
        let outcome = self.host.apply_changes(want);
        tracing::debug!(took = ?t.elapsed(), "reload: applied");
        let failed = matches!(&outcome, Some(Ok(r)) if !r.is_clean());
        let mut lines = self.applied(why, outcome);
        if failed {
            lines.extend(self.reconcile("repair after a failed reload"));
        }
        lines
    }

    /// Logs and counts what a pass did; its lines for the reload's reply.
    fn applied(&mut self, why: &str, outcome: IpvsOutcome) -> Vec<String> {
        let Some(result) = outcome else {
            return Vec::new();
        };
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
                report.log();
                self.note(&report);
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
    /// reading the kernel (see [`crate::reconcile::increment`]).
    pub(super) fn update(&mut self, affected: &HashSet<String>) {
        let inc = increment::increment(
            &self.config,
            &self.health,
            &self.roles(),
            self.host.last(),
            affected,
        );
        self.health.record_quorum(inc.want.quorum_verdicts());
        for q in &inc.quorum_changes {
            warn!(virtual_server = %q.service, lost = q.lost, "quorum {}", if q.lost { "lost" } else { "regained" });
            self.tell_quorum(&q.service, q.lost, q.live_weight);
        }
        match self.host.apply_increment(inc) {
            None => {}
            Some(Ok(report)) => {
                self.table.stale();
                report.log();
                self.note(&report);
                if !report.is_clean() {
                    // The kernel is not what haldir last made it: read it and repair.
                    self.reconcile("repair after a failed update");
                }
            }
            Some(Err(e)) => {
                self.table.stale();
                error!(error = %e, "update failed");
                self.metrics.netlink(0, 1);
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
                self.health.set(vs, *rs, health);
                continue;
            }
            self.health.set(vs, *rs, health);
            affected.insert(vs.to_string());
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
            map = verdict::carried_over(map, &consumers, &old_consumers, old_health);
        }
        self.checks.sync(consumers.keys().cloned());
        self.consumers = consumers;
        self.health = map;
        info!(checks = self.checks.len(), "health checks running");
    }

    /// When every check has had its first probe answered or timed out: the longest interval
    /// (the first probe comes within one) plus its timeout. None without checks.
    pub(super) fn first_round_end(&self) -> Option<tokio::time::Instant> {
        let longest = self
            .consumers
            .keys()
            .map(|t| t.check.interval + t.check.timeout)
            .max()?;
        Some(tokio::time::Instant::now() + longest)
    }

    /// Loads the mark rules when they differ from those loaded (a peer's MAC learned or
    /// changed, a reload), or removes haldir's table when the configuration has none.
    pub(super) fn netfilter(&mut self) {
        match self.host.marks(&self.config, false) {
            Ok(Marks::Loaded {
                rules,
                excluded_macs,
            }) => {
                info!(backend = %self.config.netfilter.backend, table = %self.config.netfilter.table, rules, excluded_macs, "mark rules loaded")
            }
            Ok(Marks::Removed) => info!("mark rules removed"),
            Ok(Marks::Unchanged | Marks::None) => {}
            Err(e) => error!(error = %e, "cannot load the mark rules"),
        }
    }

    /// Replaces the real-server role (undo the old, set up the new).
    pub(super) fn realserver(
        &self,
        role: Option<&crate::config::model::RealServerRole>,
        state_dir: &std::path::Path,
    ) {
        if let Err(e) = self
            .host
            .role(&self.config.global.state_dir, role, state_dir)
        {
            error!(error = %e, "real-server role");
        }
    }
}
