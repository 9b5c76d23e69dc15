//! Carries the announcements ([`crate::announce`] decides) to haldir's routing table: a
//! route per announced VIP, removed when it is withheld, at a clean stop unless
//! `[routing] on_stop = "keep"`, and when `[[announce]]` goes from the file.

use std::collections::HashMap;

use ipnet::IpNet;
use tokio::time::Instant;
use tracing::{info, warn};

use super::Daemon;
use crate::announce::{Announcer, Facts, Verdict};
use crate::config::types::RoutesOnStop;
use crate::netlink::rtnl::{Rtnl, Want};

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
    /// When to decide again by the clock alone (a startup delay or a hold-down ends, or the
    /// first round of checks is not over yet).
    pub(super) next: Option<Instant>,
}

impl Daemon {
    /// Decides the announcements and brings haldir's table to them.
    pub(super) fn announce(&mut self) {
        let Some(routing) = self.config.routing.clone() else {
            self.withdraw_all();
            return;
        };
        let now = std::time::Instant::now();
        let a = &mut self.announcements;
        if a.checks_done.is_none() && self.checks.all_probed() {
            a.checks_done = Some(now);
        }
        let lost = &self.health.quorum_lost;
        let up = |vs: &str| !lost.contains(vs);
        let facts = Facts {
            now,
            drained: false,
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
        let rtnl = match a.rtnl.as_mut() {
            Some(r) => r,
            None => match Rtnl::open() {
                Ok(r) => a.rtnl.insert(r),
                Err(e) => {
                    warn!(error = %e, "cannot open rtnetlink: no route is announced");
                    return;
                }
            },
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

    /// Each announcement as `haldir status` shows it.
    pub(super) fn announce_status(&self) -> Vec<crate::control::AnnounceStatus> {
        let table = self.config.routing.as_ref().map_or(0, |r| r.table);
        let a = &self.announcements;
        a.verdicts
            .iter()
            .map(|v| crate::control::AnnounceStatus {
                prefix: v.prefix.to_string(),
                table,
                wanted: v.announce.is_ok(),
                in_table: a.in_table.contains_key(&v.prefix),
                withheld: v.announce.err().map(|w| w.as_str().to_string()),
            })
            .collect()
    }
}
