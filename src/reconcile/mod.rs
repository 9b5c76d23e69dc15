//! Keeping the kernel equal to the configuration: [`desired`] computes the table that should
//! exist, [`diff`] the operations that get there, and [`Reconciler`] reads the kernel, applies
//! them pipelined and remembers what haldir owns ([`state`]). Start, reload, drift repair and
//! restart after a crash all take this one path.

pub mod desired;
pub mod diff;
pub(crate) mod increment;
pub(crate) mod state;

use std::path::PathBuf;

use crate::ipvs::client::{Client, IpvsError};
use desired::Desired;
use diff::{Actual, Op, Owned};

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Ipvs(#[from] IpvsError),
    #[error(transparent)]
    State(#[from] state::StateError),
}

/// The outcome of one pass: every operation with its result.
#[derive(Debug, Default)]
pub struct Report {
    pub applied: Vec<Op>,
    pub failed: Vec<(Op, IpvsError)>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty()
    }

    /// Each operation in the log: applied at info, refused at warn.
    pub fn log(&self) {
        for op in &self.applied {
            tracing::info!(op = %op, "applied");
        }
        for (op, e) in &self.failed {
            tracing::warn!(op = %op, error = %e, "not applied");
        }
    }
}

pub struct Reconciler {
    client: Client,
    state_dir: PathBuf,
}

impl Reconciler {
    pub fn new(state_dir: PathBuf) -> Result<Self, ReconcileError> {
        let client = match Client::connect() {
            // IPVS registers its netlink family when its module loads; ask for it once, as
            // keepalived does, before giving up.
            Err(IpvsError::Unavailable { detail }) => {
                tracing::debug!(%detail, "IPVS family not found; trying modprobe ip_vs");
                let _ = std::process::Command::new("modprobe")
                    .arg("ip_vs")
                    .stderr(std::process::Stdio::null())
                    .status();
                Client::connect()?
            }
            other => other?,
        };
        Ok(Reconciler { client, state_dir })
    }

    /// Reads what the kernel has.
    pub fn actual(&mut self) -> Result<Actual, ReconcileError> {
        Ok(Actual {
            table: self.client.table_with(diff::KernelService::read)?,
            timeouts: self.client.timeouts()?,
            daemons: self.client.daemons()?,
        })
    }

    /// The kernel's services with their destinations and counters.
    pub fn table(&mut self) -> Result<Vec<crate::ipvs::client::TableEntry>, ReconcileError> {
        Ok(self.client.table()?)
    }

    pub fn owned(&self) -> Result<Owned, ReconcileError> {
        Ok(state::load(&self.state_dir)?)
    }

    /// The operations that would bring the kernel to `desired`, changing nothing.
    pub fn plan(&mut self, desired: &Desired) -> Result<Vec<Op>, ReconcileError> {
        let actual = self.actual()?;
        Ok(diff::diff(desired, &actual, &self.owned()?))
    }

    /// Brings the kernel to `desired`. Operations are sent pipelined; one that fails does not
    /// stop the others, and is reported.
    pub fn apply(&mut self, desired: &Desired) -> Result<Report, ReconcileError> {
        let owned = self.owned()?;
        let actual = self.actual()?;
        let ops = diff::diff(desired, &actual, &owned);
        self.apply_ops(desired, &owned, ops)
    }

    /// Applies operations computed elsewhere (a health change touches one destination; no need
    /// to read the whole table again).
    pub fn apply_ops(
        &mut self,
        desired: &Desired,
        owned: &Owned,
        ops: Vec<Op>,
    ) -> Result<Report, ReconcileError> {
        let requests: Vec<_> = ops.iter().map(Op::request).collect();
        let outcomes = self.client.execute(&requests)?;
        let done: Vec<bool> = outcomes.iter().map(Result::is_ok).collect();
        let next = diff::owned_after(owned, desired, &ops, &done);
        if next != *owned {
            state::save(&self.state_dir, &next)?;
        }
        let mut report = Report::default();
        for (op, outcome) in ops.into_iter().zip(outcomes) {
            match outcome {
                Ok(()) => report.applied.push(op),
                Err(e) => report.failed.push((op, e)),
            }
        }
        Ok(report)
    }

    /// Removes every service and daemon haldir owns (`ipvs.on_stop = "remove"`).
    pub fn remove_owned(&mut self) -> Result<Report, ReconcileError> {
        let owned = self.owned()?;
        let actual = self.actual()?;
        let ops = diff::diff(&Desired::default(), &actual, &owned);
        self.apply_ops(&Desired::default(), &owned, ops)
    }
}
