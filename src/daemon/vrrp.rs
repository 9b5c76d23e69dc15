//! The VRRP side of the daemon: the running instances, what they track (interfaces through
//! one watcher of the kernel's link events, scripts run like misc checks) and their sync
//! groups. A reload starts and stops only the instances that changed; the others keep their
//! state and their addresses. The instances run on VRRP's own thread
//! ([`crate::vrrp::thread`]); this side only sends them commands and reads what they report.

use std::collections::{HashMap, HashSet};

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{error, warn};

/// What an instance may take beyond the budget to remove its addresses after its scripts.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

use crate::config::Config;
use crate::config::model::VrrpInstance;
use crate::health::Target;
use crate::health::runner::{Checks, Event};
use crate::health::verdict::Health;
use crate::identity::Identity;
use crate::vrrp::command::TrackedKind;
use crate::vrrp::fsm::State;
use crate::vrrp::instance::{self, Command, Report, Transition};
use crate::vrrp::thread::VrrpThread;

pub(super) struct VrrpSet {
    handles: Vec<(String, instance::Handle)>,
    /// Each instance's state as last reported.
    pub states: HashMap<String, State>,
    /// Each instance's own tracking fault, apart from its sync group's.
    own_faults: HashMap<String, bool>,
    transitions: mpsc::UnboundedSender<Report>,
    script_user: Option<Identity>,
    scripts: Checks,
    script_names: HashMap<Target, String>,
    link_tx: mpsc::UnboundedSender<(String, bool)>,
    links: Option<(HashSet<String>, tokio::task::JoinHandle<()>)>,
    /// Last, so that it stops after the handles above are gone.
    thread: VrrpThread,
}

impl VrrpSet {
    pub(super) fn new(
        script_user: Option<Identity>,
        transitions: mpsc::UnboundedSender<Report>,
        scripts: Checks,
        link_tx: mpsc::UnboundedSender<(String, bool)>,
    ) -> std::io::Result<Self> {
        Ok(VrrpSet {
            handles: Vec::new(),
            states: HashMap::new(),
            own_faults: HashMap::new(),
            transitions,
            script_user,
            scripts,
            script_names: HashMap::new(),
            link_tx,
            links: None,
            thread: VrrpThread::start()?,
        })
    }

    /// Starts an instance; its track scripts with `init_fail` start as failed.
    pub(super) fn start(
        &mut self,
        cfg: &VrrpInstance,
        scripts: &[crate::config::model::TrackScript],
    ) -> std::io::Result<()> {
        let failed: Vec<String> = scripts
            .iter()
            .filter(|s| s.init_fail)
            .map(|s| s.name.clone())
            .collect();
        let h = instance::spawn(
            &self.thread,
            cfg.clone(),
            self.script_user,
            self.transitions.clone(),
            &failed,
        )?;
        self.handles.push((cfg.name.clone(), h));
        Ok(())
    }

    /// Resigns (priority 0, addresses removed) and waits for the instance to finish, until
    /// `deadline`: its stop scripts get the caller's stop budget (a reload that removes an
    /// instance).
    pub(super) async fn stop(&mut self, name: &str, deadline: Instant) {
        let Some(i) = self.handles.iter().position(|(n, _)| n == name) else {
            return;
        };
        let (name, h) = self.handles.remove(i);
        h.commands.send(Command::Shutdown);
        if !h.finished(deadline, STOP_GRACE).await {
            warn!(instance = %name, "VRRP instance did not stop in time");
        }
        self.states.remove(&name);
        self.own_faults.remove(&name);
    }

    /// Stops every instance, all resigning at once so that backups take over together; their
    /// stop scripts run side by side until `deadline`.
    pub(super) async fn stop_all(&mut self, deadline: Instant) {
        for (_, h) in &self.handles {
            h.commands.send(Command::Shutdown);
        }
        for (name, h) in std::mem::take(&mut self.handles) {
            if !h.finished(deadline, STOP_GRACE).await {
                warn!(instance = %name, "VRRP instance did not stop in time");
            }
        }
        self.states.clear();
        self.own_faults.clear();
    }

    /// Whether VRRP's thread answered the daemon's last ping (see `VrrpThread::answering`).
    pub(super) fn answering(&self) -> bool {
        self.thread.answering()
    }

    pub(super) fn statuses(&self) -> Vec<instance::Status> {
        self.handles
            .iter()
            .map(|(_, h)| h.status.borrow().clone())
            .collect()
    }

    /// Runs the track scripts and watches the tracked interfaces this configuration names.
    pub(super) fn sync_tracking(&mut self, config: &Config) -> std::io::Result<()> {
        self.script_names = config
            .track_scripts
            .iter()
            .map(|t| (crate::vrrp::tracking_target(t), t.name.clone()))
            .collect();
        self.scripts
            .sync(self.script_names.keys().cloned().map(std::sync::Arc::new));
        let links: HashSet<String> = config
            .vrrp_instances
            .iter()
            .flat_map(|i| i.track_interface.iter().map(|t| t.name.clone()))
            .collect();
        if self.links.as_ref().map(|(l, _)| l) != Some(&links) {
            if let Some((_, task)) = self.links.take() {
                task.abort();
            }
            if !links.is_empty() {
                let task = crate::iface::watch(links.clone(), self.link_tx.clone())?;
                self.links = Some((links, task));
            }
        }
        Ok(())
    }

    /// A track script's verdict changed.
    pub(super) fn on_script(&self, config: &Config, ev: &Event) {
        let (Some(name), Some(h)) = (self.script_names.get(&*ev.target), ev.state.health()) else {
            return;
        };
        let up = !matches!(h, Health::Down);
        if !up {
            warn!(script = %name, reason = %ev.outcome, "track script failed");
        }
        self.track(config, TrackedKind::Script, name, up);
    }

    /// Hands a tracked object's change to the instances that track it.
    pub(super) fn track(&self, config: &Config, kind: TrackedKind, name: &str, up: bool) {
        for (inst, h) in &self.handles {
            let Some(cfg) = config.vrrp_instances.iter().find(|i| &i.name == inst) else {
                continue;
            };
            let tracks = match kind {
                TrackedKind::Script => cfg.track_script.iter().any(|t| t.name == name),
                TrackedKind::Interface => cfg.track_interface.iter().any(|t| t.name == name),
            };
            if tracks {
                h.commands.send(Command::Track {
                    kind,
                    name: name.to_string(),
                    up,
                });
            }
        }
    }

    /// A tracked file's new value, to the instances that track it.
    pub(super) fn track_file(&self, config: &Config, name: &str, value: i64) {
        for (inst, h) in &self.handles {
            let tracks = config
                .vrrp_instances
                .iter()
                .find(|i| &i.name == inst)
                .is_some_and(|cfg| cfg.track_file.iter().any(|t| t.name == name));
            if tracks {
                h.commands.send(Command::TrackFile {
                    name: name.to_string(),
                    value,
                });
            }
        }
    }

    /// Records a transition and keeps its sync group together; returns whether the
    /// instance became or stopped being master.
    pub(super) fn on_transition(&mut self, config: &Config, t: &Transition) -> bool {
        self.sync_group(config, t);
        let before = self.states.insert(t.name.clone(), t.to);
        (before == Some(State::Master)) != (t.to == State::Master)
    }

    /// Keeps the members of a sync group together (see [`crate::vrrp::group`]).
    fn sync_group(&mut self, config: &Config, t: &Transition) {
        let Some(group) = config
            .sync_groups
            .iter()
            .find(|g| g.instances.contains(&t.name))
        else {
            return;
        };
        self.own_faults.insert(t.name.clone(), t.own_fault);
        let running: Vec<&str> = self
            .handles
            .iter()
            .filter(|(n, _)| group.instances.contains(n))
            .map(|(n, _)| n.as_str())
            .collect();
        for (member, cmd) in crate::vrrp::group::commands(&running, &self.own_faults, t) {
            if let Some((_, h)) = self.handles.iter().find(|(n, _)| *n == member) {
                if !matches!(cmd, Command::GroupFault(_)) {
                    tracing::debug!(group = %group.name, from = %t.name, to = %member, "sync group follows");
                }
                h.commands.send(cmd);
            }
        }
    }
}

/// Why the VRRP instances could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VrrpStartError {
    #[error("cannot start VRRP instance {instance} on {interface}: {source}")]
    Instance {
        instance: String,
        interface: String,
        source: std::io::Error,
    },
    #[error("cannot watch interface state: {0}")]
    Links(std::io::Error),
}

/// Starts every instance of a configuration; the first that cannot start is an error.
pub(super) fn start_all(set: &mut VrrpSet, config: &Config) -> Result<(), VrrpStartError> {
    for inst in &config.vrrp_instances {
        set.start(inst, &config.track_scripts)
            .map_err(|source| VrrpStartError::Instance {
                instance: inst.name.clone(),
                interface: inst.interface.clone(),
                source,
            })?;
    }
    set.sync_tracking(config).map_err(|e| {
        error!(error = %e, "cannot watch interface state for track_interface");
        VrrpStartError::Links(e)
    })
}
