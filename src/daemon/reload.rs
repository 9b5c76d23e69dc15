//! Reload and the operator's runtime commands. A new file is validated whole before anything
//! changes; a refused one leaves the running configuration in force. An accepted one is
//! applied as a diff: VRRP instances that did not change keep running (no flap), checks that
//! did not change keep their servers' health, and IPVS and the mark rules get only the
//! operations the new desired state needs.

use tracing::{error, info, warn};

use super::changes::{self, Changes};
use super::metrics::ReloadResult;
use super::{Daemon, drain, systemd};
use crate::config::Config;
use crate::control::Reply;

impl Daemon {
    pub(super) async fn reload(&mut self, why: &str) -> Reply {
        let started = std::time::Instant::now();
        systemd::reloading();
        let reply = self.reload_file(why).await;
        self.metrics.reload(match reply {
            Reply::Reloaded { .. } => ReloadResult::Applied,
            _ => ReloadResult::Refused,
        });
        systemd::ready(&self.summary());
        tracing::debug!(took = ?started.elapsed(), "reload: done");
        reply
    }

    async fn reload_file(&mut self, why: &str) -> Reply {
        let new = match self.read_new(why).await {
            Ok(new) => new,
            Err(refused) => return refused,
        };
        let t = std::time::Instant::now();
        let plan = changes::changes(&self.config, &new);
        tracing::debug!(took = ?t.elapsed(), "reload: changes");
        if plan.is_empty() {
            info!(reason = why, "configuration unchanged");
            return Reply::Reloaded {
                changes: Vec::new(),
            };
        }
        let lines = self.apply(new, &plan).await;
        for l in &lines {
            info!(change = %l, "reload");
        }
        info!(path = %self.path.display(), changes = lines.len(), "configuration reloaded");
        Reply::Reloaded { changes: lines }
    }

    /// Reads and validates the file, off the loop: a large file must not hold up the health
    /// checks and timers that share it (VRRP has a thread of its own). Read by its changed
    /// services when the last file allows ([`crate::config::reread`]). A refusal is the reply.
    async fn read_new(&mut self, why: &str) -> Result<Config, Reply> {
        let path = self.path.clone();
        let since = self.basis.clone().map(|b| (b, self.config.clone()));
        let started = std::time::Instant::now();
        let parsed = tokio::task::spawn_blocking(move || {
            let since = since.as_ref().map(|(b, c)| (b, &**c));
            crate::security::load_checked_since(&path, since)
        })
        .await;
        tracing::debug!(took = ?started.elapsed(), "reload: parsed and validated");
        let loaded = match parsed {
            Ok(Ok((l, basis))) => {
                self.basis = basis;
                l
            }
            Err(e) => {
                error!(reason = why, error = %e, "reload refused: the parse did not finish");
                return Err(Reply::Refused {
                    errors: e.to_string(),
                });
            }
            Ok(Err(e)) => {
                error!(
                    reason = why,
                    "reload refused, the running configuration stays:\n{e}"
                );
                return Err(Reply::Refused {
                    errors: e.to_string(),
                });
            }
        };
        if !loaded.warnings.is_empty() {
            warn!("{}", loaded.render_warnings());
        }
        let files: Vec<_> = loaded.sources.paths().map(|p| p.to_path_buf()).collect();
        self.watch_files(files);
        Ok(loaded.config)
    }

    /// Puts `new` in force as `plan` says; returns the changes made, with what failed.
    async fn apply(&mut self, new: Config, plan: &Changes) -> Vec<String> {
        let mut lines = plan.lines.clone();
        for name in &plan.vrrp_stop {
            self.vrrp
                .stop(name, tokio::time::Instant::now() + super::STOP_BUDGET)
                .await;
        }
        if new.local_role() != self.config.local_role() {
            self.realserver(new.local_role().as_ref(), &new.global.state_dir);
        }
        let metrics_moved = new.global.metrics_listen != self.config.global.metrics_listen;
        let static_changed = new.static_ != self.config.static_;
        self.config = std::sync::Arc::new(new);
        if static_changed {
            self.hold_static();
        }
        self.mailer = super::alerts::mailer(&self.config, &self.metrics);
        super::track_files::FileTracks::init(&self.config.track_files, true);
        self.start_vrrp(&plan.vrrp_start, &mut lines);
        self.watch_track_files();
        let t = std::time::Instant::now();
        let previous = (
            std::mem::take(&mut self.consumers),
            std::mem::take(&mut self.health),
        );
        self.start_checks(Some(previous));
        drain::prune(&mut self.health.drained, &self.config);
        self.save_drains();
        tracing::debug!(took = ?t.elapsed(), "reload: checks and drains");
        let t = std::time::Instant::now();
        lines.extend(self.reconcile_changes("reload"));
        tracing::debug!(took = ?t.elapsed(), "reload: reconcile");
        let t = std::time::Instant::now();
        self.host.forget_marks();
        self.netfilter();
        tracing::debug!(took = ?t.elapsed(), "reload: mark rules");
        if metrics_moved {
            self.serve_metrics().await;
        }
        super::resident::release_memory();
        lines
    }

    /// Starts the instances `names` of the configuration now in force, and watches what they
    /// track; what fails is a line of the reload's answer.
    fn start_vrrp(&mut self, names: &[String], lines: &mut Vec<String>) {
        for name in names {
            let Some(inst) = self.config.vrrp_instances.iter().find(|i| &i.name == name) else {
                continue;
            };
            if let Err(e) = self.vrrp.start(inst, &self.config.track_scripts) {
                error!(instance = %name, error = %e, "cannot start the VRRP instance");
                lines.push(format!("vrrp_instance {name}: cannot start: {e}"));
            }
        }
        if let Err(e) = self.vrrp.sync_tracking(&self.config) {
            lines.push(format!("track_interface: cannot watch interfaces: {e}"));
        }
    }

    /// `haldir drain` / `undrain`.
    pub(super) fn drain(&mut self, vs: &str, rs: &str, on: bool) -> Reply {
        let key = match drain::resolve(&self.config, vs, rs) {
            Ok(k) => k,
            Err(e) => {
                return Reply::Error {
                    message: e.to_string(),
                };
            }
        };
        let changed = if on {
            self.health.drained.insert(key.clone())
        } else {
            self.health.drained.remove(&key)
        };
        let (what, already) = if on {
            ("drained", "already drained")
        } else {
            ("back in rotation", "not drained")
        };
        if !changed {
            return Reply::Done {
                message: format!("{} {}: {already}", key.0, key.1),
            };
        }
        self.save_drains();
        info!(virtual_server = %key.0, real_server = %key.1, "{what}");
        self.update(&std::iter::once(key.0.clone()).collect());
        Reply::Done {
            message: format!("{} {}: {what}", key.0, key.1),
        }
    }

    fn save_drains(&self) {
        if let Err(e) = drain::save(&self.config.global.drain_dir, &self.health.drained) {
            warn!(error = %e, "cannot save the drains");
        }
    }
}
