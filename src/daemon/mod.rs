//! `haldir run`: the daemon. Today it keeps the IPVS table equal to the configuration with
//! static weights: a full reconcile on start, every `reconcile_interval` (repairing drift made
//! behind haldir's back) and after a reload; SIGTERM stops it, leaving or removing the
//! services as `ipvs.on_stop` says.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

use crate::config::types::OnStop;
use crate::config::{self, Config};
use crate::reconcile::desired::{self, HealthMap, Roles};
use crate::reconcile::{Reconciler, Report};

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

fn log_report(report: &Report) {
    for op in &report.applied {
        info!(op = %op, "applied");
    }
    for (op, e) in &report.failed {
        warn!(op = %op, error = %e, "not applied");
    }
}

struct Daemon {
    path: PathBuf,
    config: Config,
    reconciler: Reconciler,
}

impl Daemon {
    fn reconcile(&mut self, why: &str) {
        let want = desired::desired(&self.config, &HealthMap::default(), &Roles::All);
        match self.reconciler.apply(&want) {
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
            }
            Err(e) => error!(reason = why, error = %e, "reconcile failed"),
        }
    }

    /// A new configuration replaces the running one only if it is valid.
    fn reload(&mut self) {
        match config::load(&self.path) {
            Ok(loaded) => {
                self.config = loaded.config;
                info!(path = %self.path.display(), "configuration reloaded");
                self.reconcile("reload");
            }
            Err(e) => error!("reload refused, the running configuration stays:\n{e}"),
        }
    }

    fn stop(&mut self) {
        if self.config.ipvs.on_stop == OnStop::Remove {
            match self.reconciler.remove_owned() {
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
    let reconciler = match Reconciler::new(config.global.state_dir.clone()) {
        Ok(r) => r,
        Err(e) => {
            error!("{e}");
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
    let mut d = Daemon {
        path,
        config,
        reconciler,
    };
    info!(router_id = %d.config.global.router_id, "haldir started");
    d.reconcile("start");
    let mut tick = tokio::time::interval(d.config.global.reconcile_interval);
    tick.tick().await;
    loop {
        tokio::select! {
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
    d.stop();
    ExitCode::SUCCESS
}
