//! `haldir status`: the daemon's view (VRRP instances, health, drains, last checks) joined
//! with the kernel's (weights, connections, counters), read at most a second ago (see table.rs).

use std::collections::HashMap;

use super::Daemon;
use super::metrics::ReloadResult;
use crate::config::model::{RealServer, RsAddr, VirtualServer};
use crate::control::{Counters, LastCheck, RsStatus, Status, VrrpStatus, VsStatus};
use crate::health::Target;
use crate::health::verdict::Health;
use crate::ipvs::client::TableEntry;
use crate::ipvs::types::{ServiceId, Stats};
use crate::reconcile::desired;

fn counters(s: &Stats) -> Counters {
    Counters {
        conns: s.conns,
        inpkts: s.inpkts,
        outpkts: s.outpkts,
        inbytes: s.inbytes,
        outbytes: s.outbytes,
    }
}

/// The table's entries by service id, and the checked servers' targets by service and address.
struct Joined<'a> {
    by_id: HashMap<ServiceId, &'a TableEntry>,
    checked: HashMap<(&'a str, RsAddr), &'a Target>,
}

impl Daemon {
    pub(super) async fn status(&mut self) -> Status {
        let table = if self.host.has_ipvs() {
            self.table.get().await
        } else {
            std::sync::Arc::new(Vec::new())
        };
        let mut checked: HashMap<(&str, RsAddr), &Target> = HashMap::new();
        for (target, users) in &self.consumers {
            for (vs, rs) in users {
                checked.insert((&**vs, *rs), target);
            }
        }
        let joined = Joined {
            by_id: table.iter().map(|e| (e.service.service.id, e)).collect(),
            checked,
        };
        let virtual_servers = self
            .config
            .virtual_servers
            .iter()
            .map(|vs| self.service_status(vs, &joined))
            .collect();
        Status {
            router_id: self.config.global.router_id.clone(),
            config: self.path.clone(),
            pid: std::process::id(),
            uptime_secs: self.started.elapsed().as_secs(),
            reloads_applied: self.metrics.reloads(ReloadResult::Applied),
            reloads_refused: self.metrics.reloads(ReloadResult::Refused),
            tasks: tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks() as u64,
            vrrp: self.vrrp_status(),
            virtual_servers,
            announced: self.announce_status().await,
            foreign_routes: self
                .announcements
                .foreign
                .iter()
                .map(|r| format!("{} proto {}", r.prefix, r.protocol))
                .collect(),
            foreign_rules: self
                .announcements
                .foreign_rules
                .iter()
                .map(|p| format!("rule {p}"))
                .collect(),
        }
    }

    fn vrrp_status(&self) -> Vec<VrrpStatus> {
        let interface = |name: &str| {
            let i = self.config.vrrp_instances.iter().find(|i| i.name == name);
            i.map(|i| i.interface.clone()).unwrap_or_default()
        };
        self.vrrp
            .statuses()
            .into_iter()
            .map(|s| VrrpStatus {
                interface: interface(&s.name),
                name: s.name,
                state: s.state.as_str().to_string(),
                priority: s.priority,
                master: s.master,
                adverts_sent: s.adverts_sent,
                adverts_received: s.adverts_received,
                dropped: s
                    .dropped
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            })
            .collect()
    }

    fn service_status(&self, vs: &VirtualServer, joined: &Joined) -> VsStatus {
        let id = desired::service_id(vs);
        let entry = joined.by_id.get(&id).copied();
        let real_servers = vs
            .real_servers
            .iter()
            .map(|rs| self.server_status(vs, rs, entry, joined))
            .collect();
        let service = crate::ipvs::render::service_name(&id)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        VsStatus {
            name: vs.name.clone(),
            service,
            scheduler: vs.scheduler.as_str().to_string(),
            programmed: entry.is_some(),
            quorum_lost: self.health.quorum_lost.contains(&vs.name),
            counters: entry
                .map(|e| counters(&e.service.stats))
                .unwrap_or_default(),
            real_servers,
        }
    }

    fn server_status(
        &self,
        vs: &VirtualServer,
        rs: &RealServer,
        entry: Option<&TableEntry>,
        joined: &Joined,
    ) -> RsStatus {
        let dest = entry.and_then(|e| {
            e.dests.iter().find(|d| {
                d.dest.addr == rs.address.ip && d.dest.port == rs.address.port.unwrap_or(0)
            })
        });
        let target = joined.checked.get(&(vs.name.as_str(), rs.address));
        let last = target.and_then(|t| self.checks.last(t)).map(|p| LastCheck {
            ok: p.outcome.is_up(),
            result: p.outcome.to_string(),
            age_ms: p.at.elapsed().as_millis() as u64,
            took_ms: p.took.as_millis() as u64,
        });
        let health = match (target, self.health.get(&vs.name, &rs.address)) {
            (None, _) => "unchecked",
            (Some(_), Health::Down) => "down",
            (Some(_), _) => "up",
        };
        RsStatus {
            address: rs.address.to_string(),
            health: health.to_string(),
            drained: self.health.drained.contains(&(vs.name.clone(), rs.address)),
            configured_weight: rs.weight,
            weight: dest.map(|d| d.dest.weight),
            last_check: last,
            active_conns: dest.map_or(0, |d| d.active_conns),
            inactive_conns: dest.map_or(0, |d| d.inactive_conns),
            counters: dest.map(|d| counters(&d.stats)).unwrap_or_default(),
        }
    }
}
