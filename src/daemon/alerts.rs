//! When the daemon mails: a VRRP instance or sync group changing state, a real server going
//! down or coming back, a virtual server losing or regaining its quorum — each only where its
//! `smtp_alert` is on. Sending happens in the background ([`crate::email::Mailer`]).

use crate::config::Config;
use crate::config::model::RsAddr;
use crate::email::{Mailer, VrrpState, message};
use crate::health::runner::Event;
use crate::reconcile::desired::Health;
use crate::vrrp::instance::Transition;

use super::Daemon;
use super::metrics::Metrics;

/// The mailer of a configuration, counting its sends in the metrics.
pub(super) fn mailer(config: &Config, metrics: &Metrics) -> Option<Mailer> {
    let email = config.email.clone()?;
    Some(Mailer::new(
        email,
        config.global.router_id.clone(),
        metrics.email_outcome(),
    ))
}

impl Daemon {
    pub(super) fn mail_transition(&self, t: &Transition) {
        let (Some(mailer), Some(state)) = (&self.mailer, VrrpState::parse(t.to.as_str())) else {
            return;
        };
        let id = mailer.router_id();
        if self
            .config
            .vrrp_instances
            .iter()
            .any(|i| i.name == t.name && i.smtp_alert)
        {
            mailer.send(message::instance(id, &t.name, state));
        }
        // The group changes state with the member that moved first; the others follow it.
        if !t.by_group
            && let Some(g) = self
                .config
                .sync_groups
                .iter()
                .find(|g| g.smtp_alert && g.instances.contains(&t.name))
        {
            mailer.send(message::group(id, &g.name, state));
        }
    }

    pub(super) fn mail_health(&self, vs: &str, rs: RsAddr, health: Health, ev: &Event) {
        let Some(mailer) = &self.mailer else { return };
        let wants = self
            .config
            .virtual_servers
            .iter()
            .filter(|v| v.name == vs)
            .flat_map(|v| &v.real_servers)
            .any(|r| r.smtp_alert && r.address == rs);
        if !wants {
            return;
        }
        let up = health != Health::Down;
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

    pub(super) fn mail_quorum(&self, vs: &str, lost: bool, live: u64) {
        let Some(mailer) = &self.mailer else { return };
        if let Some(v) = self
            .config
            .virtual_servers
            .iter()
            .find(|v| v.name == vs && v.smtp_alert)
        {
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
