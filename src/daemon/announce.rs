//! Carries the announcements ([`crate::announce`] decides) to haldir's routing table: a
//! route per announced VIP, removed when it is withheld, at a clean stop unless
//! `[routing] on_stop = "keep"`, and when `[[announce]]` goes from the file.

use std::collections::HashMap;

use ipnet::IpNet;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::Daemon;
use crate::announce::{Announcer, Facts, Verdict};
use crate::config::model::Routing;
use crate::config::types::RoutesOnStop;
use crate::control::Reply;
use crate::netlink::route::TableRoute;
use crate::netlink::rtnl::{Rtnl, Want};

/// How long `haldir status` waits for BIRD's view.
const BIRD_LIMIT: std::time::Duration = std::time::Duration::from_millis(500);

/// The routes haldir put, and what it knows to decide the next ones.
#[derive(Default)]
pub(super) struct Announcements {
    announcer: Announcer,
    rtnl: Option<Rtnl>,
    /// Each prefix in the table, with the (table, protocol, metric) it was put with.
    in_table: HashMap<IpNet, (u32, u8, u32)>,
    pub(super) verdicts: Vec<Verdict>,
    /// When the first round of checks ended.
    checks_done: Option<std::time::Instant>,
    /// The whole director is drained (`haldir drain --director`): nothing is announced.
    pub(super) drained: bool,
    /// Whether haldir's table was read (once, before the first decision).
    adopted: bool,
    /// Routes of someone else in haldir's table: left alone, reported.
    pub(super) foreign: Vec<TableRoute>,
    /// The priorities of policy rules that look up haldir's table (none of haldir's own).
    pub(super) foreign_rules: Vec<u32>,
    /// When to decide again by the clock alone (a startup delay or a hold-down ends, or the
    /// first round of checks is not over yet).
    pub(super) next: Option<Instant>,
}

/// The rtnetlink socket in `slot`, opened on first use.
fn socket(slot: &mut Option<Rtnl>) -> Option<&mut Rtnl> {
    if slot.is_none() {
        match Rtnl::open() {
            Ok(r) => *slot = Some(r),
            Err(e) => warn!(error = %e, "cannot open rtnetlink: no route is announced"),
        }
    }
    slot.as_mut()
}

impl Daemon {
    /// Decides the announcements and brings haldir's table to them.
    pub(super) fn announce(&mut self) {
        let Some(routing) = self.config.routing.clone() else {
            self.withdraw_all();
            return;
        };
        if !self.announcements.adopted {
            self.adopt_routes(&routing);
        }
        let now = std::time::Instant::now();
        let a = &mut self.announcements;
        if a.checks_done.is_none() && self.checks.all_probed() {
            a.checks_done = Some(now);
        }
        let lost = &self.health.quorum_lost;
        let up = |vs: &str| !lost.contains(vs);
        let facts = Facts {
            now,
            drained: a.drained,
            checks_done: a.checks_done,
            up: &up,
        };
        let (verdicts, next) = a.announcer.decide(&routing, &self.config.announces, &facts);
        a.next = match (a.checks_done, next) {
            // Until the first round is over, look again every half second.
            (None, _) => Some(Instant::now() + std::time::Duration::from_millis(500)),
            (_, Some(at)) => Some(Instant::now() + at.saturating_duration_since(now)),
            (_, None) => None,
        };
        let want: HashMap<IpNet, (u32, u8, u32)> = verdicts
            .iter()
            .filter(|v| v.announce.is_ok())
            .map(|v| (v.prefix, (routing.table, routing.protocol, v.metric)))
            .collect();
        a.verdicts = verdicts;
        self.put_routes(want);
    }

    /// Reads haldir's table once at start: its own routes (its protocol) are adopted, as the
    /// IPVS table is, so that a restart after a crash changes no route; the announcer keeps
    /// the configured ones until the first checks have a verdict, and the others go at the
    /// first decision. Anyone else's routes stay and are reported.
    fn adopt_routes(&mut self, routing: &Routing) {
        let a = &mut self.announcements;
        let Some(rtnl) = socket(&mut a.rtnl) else {
            return;
        };
        let found = match rtnl.routes_in(routing.table) {
            Ok(f) => f,
            Err(e) => {
                warn!(table = routing.table, error = %e, "cannot read haldir's routing table");
                return;
            }
        };
        a.adopted = true;
        let (own, foreign): (Vec<TableRoute>, Vec<TableRoute>) = found
            .into_iter()
            .partition(|r| r.protocol == routing.protocol);
        for r in &foreign {
            warn!(prefix = %r.prefix, protocol = r.protocol, table = routing.table,
                "a route of someone else is in haldir's table: left alone");
        }
        a.foreign = foreign;
        // A rule that looks up haldir's table makes the host forward with it: someone
        // else's choice, reported.
        a.foreign_rules = socket(&mut a.rtnl)
            .and_then(|r| r.rules_to(routing.table).ok())
            .unwrap_or_default();
        for priority in &a.foreign_rules {
            warn!(
                priority,
                table = routing.table,
                "a policy rule of someone else looks up haldir's table: left alone"
            );
        }
        let configured = |p: &IpNet| self.config.announces.iter().any(|x| x.prefix == *p);
        for r in &own {
            a.in_table
                .insert(r.prefix, (routing.table, r.protocol, r.metric));
        }
        let adopted: Vec<IpNet> = own.iter().map(|r| r.prefix).filter(configured).collect();
        if !adopted.is_empty() {
            info!(prefixes = ?adopted, table = routing.table, "routes adopted");
        }
        a.announcer.adopt(adopted);
    }

    /// `haldir drain --director` and its undrain: kept in the drain directory, acted on at
    /// once.
    pub(super) fn drain_director(&mut self, drained: bool) -> Reply {
        if self.config.announces.is_empty() {
            return Reply::Error {
                message:
                    "this director announces nothing ([[announce]]): there is nothing to drain"
                        .into(),
            };
        }
        if let Err(e) = super::drain::save_director(&self.config.global.drain_dir, drained) {
            return Reply::Error {
                message: format!(
                    "cannot record the drain in {}: {e}",
                    self.config.global.drain_dir.display()
                ),
            };
        }
        self.announcements.drained = drained;
        self.announce();
        let message = if drained {
            "director drained: its routes are withdrawn; IPVS serves the flows that still arrive"
        } else {
            "director undrained: it announces again what its services can serve"
        };
        info!("{message}");
        Reply::Done {
            message: message.into(),
        }
    }

    /// Withdraws every route haldir put (a stop with `on_stop = "withdraw"`, or `[routing]`
    /// gone from the file).
    pub(super) fn withdraw_all(&mut self) {
        self.put_routes(HashMap::new());
    }

    /// At a clean stop: the routes go unless the file says to keep them.
    pub(super) fn stop_announcing(&mut self) {
        let keep = self
            .config
            .routing
            .as_ref()
            .is_some_and(|r| r.on_stop == RoutesOnStop::Keep);
        if !keep {
            self.withdraw_all();
        }
    }

    fn put_routes(&mut self, want: HashMap<IpNet, (u32, u8, u32)>) {
        let a = &mut self.announcements;
        if want == a.in_table {
            return;
        }
        let Some(rtnl) = socket(&mut a.rtnl) else {
            return;
        };
        let gone: Vec<(IpNet, (u32, u8, u32))> = a
            .in_table
            .iter()
            .filter(|(p, how)| want.get(p) != Some(how))
            .map(|(p, how)| (*p, *how))
            .collect();
        for (prefix, (table, protocol, metric)) in gone {
            match rtnl.announced(Want::Absent, &prefix, table, protocol, metric) {
                Ok(()) => {
                    info!(%prefix, table, "withdrawn");
                    a.in_table.remove(&prefix);
                }
                Err(e) => warn!(%prefix, table, error = %e, "cannot withdraw the route"),
            }
        }
        for (prefix, how) in want {
            if a.in_table.get(&prefix) == Some(&how) {
                continue;
            }
            let (table, protocol, metric) = how;
            match rtnl.announced(Want::Present, &prefix, table, protocol, metric) {
                Ok(()) => {
                    info!(%prefix, table, "announced");
                    a.in_table.insert(prefix, how);
                }
                Err(e) => warn!(%prefix, table, error = %e, "cannot announce the route"),
            }
        }
    }

    /// Each announcement as `haldir status` shows it, with what BIRD exports where BIRD
    /// answers (within a short limit: status must not wait on it).
    pub(super) async fn announce_status(&self) -> Vec<crate::control::AnnounceStatus> {
        let Some(routing) = self.config.routing.as_ref() else {
            return Vec::new();
        };
        let table = routing.table;
        let a = &self.announcements;
        let exports = if a.verdicts.is_empty() {
            None
        } else {
            crate::bird::exports(&routing.bird_socket, BIRD_LIMIT)
                .await
                .inspect_err(|e| debug!(error = %e, "BIRD's view is not available"))
                .ok()
        };
        a.verdicts
            .iter()
            .map(|v| crate::control::AnnounceStatus {
                prefix: v.prefix.to_string(),
                table,
                wanted: v.announce.is_ok(),
                in_table: a.in_table.contains_key(&v.prefix),
                withheld: v.announce.err().map(|w| w.as_str().to_string()),
                exported_to: exports.as_ref().map(|e| {
                    e.get(&v.prefix)
                        .map(|s| s.iter().cloned().collect())
                        .unwrap_or_default()
                }),
            })
            .collect()
    }
}
