//! What the daemon tells the outside when something changes: a VRRP instance or sync group
//! changing state, a real server going down or coming back, a virtual server losing or
//! regaining its quorum. Each is mailed where its `smtp_alert` is on
//! ([`crate::email::Mailer`]), and runs its notify commands (a group's notify, a real server's
//! notify_up/notify_down, a service's quorum_up/quorum_down) as keepalived runs them: the
//! state's own command with nothing added, then a group's `any` with "GROUP" name state 0.
//! Both happen in the background.

use crate::config::Config;
use crate::config::model::RsAddr;
use crate::email::{Mailer, VrrpState, message};
use crate::health::runner::Event;
use crate::health::verdict::Health;
use crate::vrrp::instance::Transition;

use super::Daemon;
use super::metrics::Metrics;
use crate::identity::Identity;
use crate::notify::Scope;
use crate::notify::fifo::{Fifo, Fifos};
use tracing::error;

/// The mailer of a configuration, counting its sends in the metrics.
pub(super) fn mailer(config: &Config, metrics: &Metrics) -> Option<Mailer> {
    let email = config.email.clone()?;
    Some(Mailer::new(
        email,
        config.global.router_id.clone(),
        metrics.email_outcome(),
    ))
}

/// The notify FIFOs a configuration names; one that cannot be opened is left out, as
/// keepalived leaves it, with the reason logged.
pub(super) fn fifos(config: &Config, user: Option<Identity>) -> Fifos {
    let g = &config.global;
    let open = |f: &Option<crate::config::model::NotifyFifo>| {
        let f = f.as_ref()?;
        Fifo::open(f, user)
            .map_err(
                |e| error!(fifo = %f.path.display(), error = %e, "cannot open the notify FIFO"),
            )
            .ok()
    };
    Fifos {
        all: open(&g.notify_fifo),
        vrrp: open(&g.vrrp_notify_fifo),
        lvs: open(&g.lvs_notify_fifo),
        priority_changes: g.notify_priority_changes,
    }
}

impl Daemon {
    pub(super) fn tell_transition(&mut self, t: &Transition) {
        self.fifos.instance(&t.name, t.to.into(), t.priority);
        let Some(state) = VrrpState::parse(t.to.as_str()) else {
            return;
        };
        if let Some(mailer) = &self.mailer
            && self
                .config
                .vrrp_instances
                .iter()
                .any(|i| i.name == t.name && i.smtp_alert)
        {
            mailer.send(message::instance(mailer.router_id(), &t.name, state));
        }
        // The group changes state with the member that moved first (the others follow it),
        // and only once per state (vrrp/vrrp_sync.c returns early when already there).
        let Some(g) = self
            .config
            .sync_groups
            .iter()
            .find(|g| g.instances.contains(&t.name))
        else {
            return;
        };
        if t.by_group || self.group_states.get(&g.name) == Some(&state) {
            return;
        }
        self.group_states.insert(g.name.clone(), state);
        self.fifos.group(&g.name, state.word());
        if let Some(mailer) = &self.mailer
            && g.smtp_alert
        {
            mailer.send(message::group(mailer.router_id(), &g.name, state));
        }
        let n = &g.notify;
        let commands = crate::notify::commands(n, Scope::Group, &g.name, state, 0);
        let owner = format!("vrrp_sync_group {}", g.name);
        match n.user.as_deref().map(crate::identity::resolve) {
            None => self.scripts.run(&owner, commands),
            Some(Ok(user)) => self.scripts.run_as(&owner, commands, user),
            Some(Err(e)) => error!(group = %g.name, error = %e, "notify user: commands not run"),
        }
    }

    pub(super) fn tell_health(&mut self, vs: &str, rs: RsAddr, health: Health, ev: &Event) {
        let up = health != Health::Down;
        let Some((service, server)) = self
            .config
            .virtual_servers
            .iter()
            .filter(|v| v.name == vs)
            .flat_map(|v| v.real_servers.iter().map(move |r| (v, r)))
            .find(|(_, r)| r.address == rs)
        else {
            return;
        };
        self.fifos.real_server(service, &rs, up);
        let command = if up {
            server.notify_up()
        } else {
            server.notify_down()
        };
        if let Some(argv) = command {
            self.scripts
                .run(&format!("real_server {rs} of {vs}"), vec![argv.to_vec()]);
        }
        let Some(mailer) = &self.mailer else { return };
        if !server.smtp_alert {
            return;
        }
        let reason = (!up).then(|| ev.outcome.to_string());
        let kind = ev.target.check.kind.check_type().to_string();
        mailer.send(message::real_server(
            mailer.router_id(),
            vs,
            &rs.to_string(),
            up,
            &kind,
            reason.as_deref(),
        ));
    }

    /// At stop, each `omega` service tells as keepalived's checker does when it shuts down
    /// (check/ipwrapper.c clear_service_rs, update_vs_notifies): every live real server's
    /// notify_down and mail, then quorum_down and the service's mail; then waits until `deadline`
    /// for those commands and mails.
    pub(super) async fn tell_shutdown(&mut self, deadline: tokio::time::Instant) {
        let mut mails = Vec::new();
        for v in self.config.virtual_servers.iter().filter(|v| v.omega) {
            for rs in &v.real_servers {
                if self.health.get(&v.name, &rs.address) == Health::Down {
                    continue;
                }
                if let Some(argv) = rs.notify_down() {
                    let owner = format!("real_server {} of {}", rs.address, v.name);
                    self.scripts.run(&owner, vec![argv.to_vec()]);
                }
                if let Some(m) = self.mailer.as_ref().filter(|_| rs.smtp_alert) {
                    let rs_name = rs.address.to_string();
                    mails.push(m.send(message::shutting_down(
                        m.router_id(),
                        &v.name,
                        Some(&rs_name),
                    )));
                }
            }
            if let Some(argv) = v.quorum_down.clone() {
                self.scripts
                    .run(&format!("virtual_server {}", v.name), vec![argv]);
            }
            if let Some(m) = self.mailer.as_ref().filter(|_| v.smtp_alert) {
                mails.push(m.send(message::shutting_down(m.router_id(), &v.name, None)));
            }
        }
        let limit = deadline.saturating_duration_since(tokio::time::Instant::now());
        let wait = async {
            self.scripts.finish(limit).await;
            for m in mails {
                let _ = m.await;
            }
        };
        let _ = tokio::time::timeout_at(deadline, wait).await;
    }

    pub(super) fn tell_quorum(&mut self, vs: &str, lost: bool, live: u64) {
        let Some(v) = self.config.virtual_servers.iter().find(|v| v.name == vs) else {
            return;
        };
        self.fifos.virtual_server(v, !lost);
        let command = if lost { &v.quorum_down } else { &v.quorum_up };
        if let Some(argv) = command.clone() {
            self.scripts
                .run(&format!("virtual_server {vs}"), vec![argv]);
        }
        let Some(mailer) = &self.mailer else { return };
        if v.smtp_alert {
            mailer.send(message::quorum(
                mailer.router_id(),
                vs,
                !lost,
                v.quorum,
                v.hysteresis,
                live,
            ));
        }
    }
}
