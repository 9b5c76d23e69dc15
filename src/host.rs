//! Bringing the host to the configuration: the IPVS table, haldir's mark rules and the
//! real-server role. One orchestration, used once by `haldir apply` (every real server up,
//! every instance master) and continuously by the daemon (at start, on a reload, a VRRP role
//! change, a health change, and the periodic repair). What to change is decided by the pure
//! cores ([`crate::reconcile::desired`], [`crate::reconcile::diff`],
//! [`crate::reconcile::increment`], [`crate::netfilter::rules`]); this module only carries
//! their decisions to the kernel and remembers what it carried.

use std::path::Path;

use crate::config::Config;
use crate::config::model::RealServerRole;
use crate::netfilter::NetfilterError;
use crate::netfilter::rules::MarkRule;
use crate::reconcile::desired::Desired;
use crate::reconcile::diff;
use crate::reconcile::increment::Increment;
use crate::reconcile::{ReconcileError, Reconciler, Report};

/// Whether the configuration has anything for IPVS: without, haldir never opens it (a
/// VRRP-only director runs on a kernel without the module).
pub(crate) fn needs_ipvs(c: &Config) -> bool {
    !c.virtual_servers.is_empty()
        || c.ipvs.timeouts.is_some()
        || c.ipvs.sync_daemon.is_some()
        || c.ipvs.sloppy_tcp.is_some()
}

/// Where the kernel keeps IPVS's sloppy_tcp switch (per network namespace).
const SLOPPY_TCP: &str = "/proc/sys/net/ipv4/vs/sloppy_tcp";

/// Sets net.ipv4.vs.sloppy_tcp when the configuration says and the kernel differs. A failure
/// is logged and the rest goes on: the table matters more than the switch.
fn sloppy_tcp(want: Option<bool>) {
    let Some(on) = want else { return };
    let value = if on { "1" } else { "0" };
    match std::fs::read_to_string(SLOPPY_TCP) {
        Ok(now) if now.trim() == value => {}
        _ => match std::fs::write(SLOPPY_TCP, value) {
            Ok(()) => tracing::info!(sloppy_tcp = value, "set net.ipv4.vs.sloppy_tcp"),
            Err(e) => tracing::warn!(path = SLOPPY_TCP, error = %e, "cannot set sloppy_tcp"),
        },
    }
}

/// What a pass did to the IPVS table: nothing to do (no IPVS in the configuration), or the
/// report of the operations, or why the table could not be read or written.
pub(crate) type IpvsOutcome = Option<Result<Report, ReconcileError>>;

/// What loading the mark rules did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Marks {
    /// The rules loaded are already these.
    Unchanged,
    /// Loaded: so many rules, so many MACs excluded.
    Loaded { rules: usize, excluded_macs: usize },
    /// The configuration has none: haldir's table or chain was removed.
    Removed,
    /// The configuration has none and none were loaded.
    None,
}

/// The kernel state haldir keeps for one configuration, and what it last put there.
pub(crate) struct Host {
    ipvs: Option<Reconciler>,
    /// The desired state last applied: reloads and health changes are diffed against it.
    last: Desired,
    /// The mark rules last loaded (None: not yet, or removed).
    marks: Option<Vec<MarkRule>>,
}

impl Host {
    /// Opens IPVS when the configuration needs it.
    pub(crate) fn open(config: &Config) -> Result<Host, ReconcileError> {
        let ipvs = if needs_ipvs(config) {
            Some(Reconciler::new(config.global.state_dir.clone())?)
        } else {
            None
        };
        Ok(Host {
            ipvs,
            last: Desired::default(),
            marks: None,
        })
    }

    pub(crate) fn has_ipvs(&self) -> bool {
        self.ipvs.is_some()
    }

    /// The desired state last applied.
    pub(crate) fn last(&self) -> &Desired {
        &self.last
    }

    /// Reads the kernel and brings it to `want` (start, drift repair, a role change).
    pub(crate) fn reconcile(&mut self, want: Desired) -> IpvsOutcome {
        let reconciler = self.ipvs.as_mut()?;
        sloppy_tcp(want.sloppy_tcp);
        let result = reconciler.apply(&want);
        self.remember(want, &result);
        Some(result)
    }

    /// The operations that would bring the kernel to `want`, changing nothing.
    pub(crate) fn plan(&mut self, want: &Desired) -> Option<Result<Vec<diff::Op>, ReconcileError>> {
        Some(self.ipvs.as_mut()?.plan(want))
    }

    /// A reload: `want` against the state last applied, without reading the kernel, so that
    /// one changed weight costs one operation whatever the table's size. Never applied yet:
    /// the full reconcile. The caller repairs with [`Host::reconcile`] when an operation
    /// failed (the kernel is then not what haldir last made it).
    pub(crate) fn apply_changes(&mut self, want: Desired) -> IpvsOutcome {
        if self.last == Desired::default() {
            return self.reconcile(want);
        }
        let reconciler = self.ipvs.as_mut()?;
        sloppy_tcp(want.sloppy_tcp);
        let result = reconciler.owned().and_then(|owned| {
            let t = std::time::Instant::now();
            let ops = diff::diff_from(&want, &self.last, &owned);
            tracing::debug!(took = ?t.elapsed(), ops = ops.len(), "reload: diff");
            reconciler.apply_ops(&want, &owned, ops)
        });
        self.remember(want, &result);
        Some(result)
    }

    /// A health change: the operations [`crate::reconcile::increment`] computed for the
    /// services it touched. None when there was nothing to do.
    pub(crate) fn apply_increment(&mut self, inc: Increment) -> IpvsOutcome {
        let result = if inc.ops.is_empty() {
            None
        } else {
            let reconciler = self.ipvs.as_mut()?;
            Some(
                reconciler
                    .owned()
                    .and_then(|owned| reconciler.apply_ops(&inc.want, &owned, inc.ops)),
            )
        };
        if result
            .as_ref()
            .is_none_or(|r| r.as_ref().is_ok_and(Report::is_clean))
        {
            self.last.replace_services(inc.want.services);
        }
        result
    }

    fn remember(&mut self, want: Desired, result: &Result<Report, ReconcileError>) {
        if result.is_ok() {
            self.last = want;
        }
    }

    /// Loads the mark rules when they differ from those loaded, or removes haldir's table when
    /// the configuration has none. `patient`: wait briefly for peers not yet in the neighbour
    /// table (one-shot apply; the daemon looks again instead).
    pub(crate) fn marks(
        &mut self,
        config: &Config,
        patient: bool,
    ) -> Result<Marks, NetfilterError> {
        if !crate::netfilter::wanted(config) {
            if self.marks.take().is_some() {
                crate::netfilter::remove(config)?;
                return Ok(Marks::Removed);
            }
            return Ok(Marks::None);
        }
        let rules = crate::netfilter::desired(config, patient);
        if self.marks.as_ref() == Some(&rules) {
            return Ok(Marks::Unchanged);
        }
        crate::netfilter::apply(config, &rules)?;
        let loaded = Marks::Loaded {
            rules: rules.len(),
            excluded_macs: rules.iter().map(|r| r.exclude_macs.len()).sum(),
        };
        self.marks = Some(rules);
        Ok(loaded)
    }

    /// Loads the mark rules at the next [`Host::marks`] even if they look the same (a reload
    /// may have changed the backend or the table).
    pub(crate) fn forget_marks(&mut self) {
        self.marks = None;
    }

    /// Removes the mark rules haldir loaded (at stop).
    pub(crate) fn remove_marks(&mut self, config: &Config) -> Result<(), NetfilterError> {
        match self.marks.take() {
            Some(_) => crate::netfilter::remove(config),
            None => Ok(()),
        }
    }

    /// Sets up the real-server role (kept as it is where it already is: a restart does not
    /// take the VIPs off the loopback, even for an instant).
    pub(crate) fn set_up_role(
        &self,
        role: &RealServerRole,
        state_dir: &Path,
    ) -> Result<(), RoleError> {
        crate::realserver::apply(role, state_dir).map_err(RoleError::SetUp)
    }

    /// Undoes the real-server role recorded in `state_dir`.
    pub(crate) fn undo_role(&self, state_dir: &Path) -> Result<(), RoleError> {
        crate::realserver::remove(state_dir).map_err(RoleError::Undo)
    }

    /// Replaces the real-server role: undoes the one recorded in `old_state_dir`, sets up
    /// `role`. Both are attempted; the first failure is returned.
    pub(crate) fn role(
        &self,
        old_state_dir: &Path,
        role: Option<&RealServerRole>,
        state_dir: &Path,
    ) -> Result<(), RoleError> {
        let undone = self.undo_role(old_state_dir);
        let done = match role {
            Some(role) => self.set_up_role(role, state_dir),
            None => Ok(()),
        };
        undone.and(done)
    }

    /// Removes every service and daemon haldir owns (`ipvs.on_stop = "remove"`).
    pub(crate) fn remove_owned(&mut self) -> IpvsOutcome {
        Some(self.ipvs.as_mut()?.remove_owned())
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum RoleError {
    #[error("cannot undo the real-server role: {0}")]
    Undo(std::io::Error),
    #[error("cannot set up the real-server role: {0}")]
    SetUp(std::io::Error),
}
