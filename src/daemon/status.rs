//! `haldir status`: the daemon's view (VRRP instances, health, drains, last checks) joined
//! with the kernel's (weights, connections, counters), read at most a second ago (see table.rs).

use std::collections::HashMap;

use super::Daemon;
use crate::config::model::RsAddr;
use crate::control::{Counters, LastCheck, RsStatus, Status, VrrpStatus, VsStatus};
use crate::health::Target;
use crate::health::verdict::Health;
use crate::ipvs::client::TableEntry;
use crate::ipvs::types::Stats;
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

impl Daemon {
    pub(super) async fn status(&mut self) -> Status {
        let table = if self.host.has_ipvs() {
            self.table.get().await
        } else {
            std::sync::Arc::new(Vec::new())
        };
        let by_id: HashMap<_, &TableEntry> =
            table.iter().map(|e| (e.service.service.id, e)).collect();
        let mut checked: HashMap<(&str, RsAddr), &Target> = HashMap::new();
        for (target, users) in &self.consumers {
            for (vs, rs) in users {
                checked.insert((&**vs, *rs), target);
            }
        }
        let vrrp = self
            .vrrp
            .statuses()
            .into_iter()
            .map(|s| VrrpStatus {
                interface: self
                    .config
                    .vrrp_instances
                    .iter()
                    .find(|i| i.name == s.name)
                    .map(|i| i.interface.clone())
                    .unwrap_or_default(),
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
            .collect();
        let mut services = Vec::new();
        for vs in &self.config.virtual_servers {
            let id = desired::service_id(vs);
            let entry = by_id.get(&id).copied();
            let mut real_servers = Vec::new();
            for rs in &vs.real_servers {
                let dest = entry.and_then(|e| {
                    e.dests.iter().find(|d| {
                        d.dest.addr == rs.address.ip && d.dest.port == rs.address.port.unwrap_or(0)
                    })
                });
                let target = checked.get(&(vs.name.as_str(), rs.address));
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
                real_servers.push(RsStatus {
                    address: rs.address.to_string(),
                    health: health.to_string(),
                    drained: self.health.drained.contains(&(vs.name.clone(), rs.address)),
                    configured_weight: rs.weight,
                    weight: dest.map(|d| d.dest.weight),
                    last_check: last,
                    active_conns: dest.map_or(0, |d| d.active_conns),
                    inactive_conns: dest.map_or(0, |d| d.inactive_conns),
                    counters: dest.map(|d| counters(&d.stats)).unwrap_or_default(),
                });
            }
            let service = crate::ipvs::render::service_name(&id)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            services.push(VsStatus {
                name: vs.name.clone(),
                service,
                scheduler: vs.scheduler.as_str().to_string(),
                programmed: entry.is_some(),
                quorum_lost: self.health.quorum_lost.contains(&vs.name),
                counters: entry
                    .map(|e| counters(&e.service.stats))
                    .unwrap_or_default(),
                real_servers,
            });
        }
        Status {
            router_id: self.config.global.router_id.clone(),
            config: self.path.clone(),
            pid: std::process::id(),
            uptime_secs: self.started.elapsed().as_secs(),
            reloads_applied: self.metrics.reloads(true),
            reloads_refused: self.metrics.reloads(false),
            tasks: tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks() as u64,
            vrrp,
            virtual_servers: services,
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
}
