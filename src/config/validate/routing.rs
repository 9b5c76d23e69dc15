//! `[routing]` and `[[announce]]`: active-active directors behind ECMP. Each announced VIP
//! needs virtual servers that every director schedules alike (`mh` with `mh-port`), and is
//! never a VRRP address too (a VIP that moves and one that every director holds at once do not
//! mix).

use std::time::Duration;

use super::super::leaf::{Leaf, Sp, opt};
use super::super::model::{Announce, Routing, ServiceKey, VirtualServer, VrrpInstance};
use super::super::raw;
use super::super::source::{Diag, Diags, Loc};
use super::super::types::{AnnounceWhen, RoutesOnStop, Scheduler, SchedulerFlag};
use super::sections::absolute_path;
use super::{Unique, int_or, or, unknown_reference};

/// Tables a route of haldir's must not go to: default, main, local (0 is out of range).
const RESERVED_TABLES: [i64; 3] = [253, 254, 255];

pub(super) fn routing(
    sp: Option<&Sp<raw::Routing>>,
    announces: &[Sp<raw::Announce>],
    services: &[std::sync::Arc<VirtualServer>],
    instances: &[(Loc, VrrpInstance)],
    d: &mut Diags,
) -> (Option<Routing>, Vec<Announce>) {
    let routing = sp.map(|s| table(s, d));
    let mut seen = Unique::new("announced prefix");
    let mut out = Vec::new();
    for sp in announces {
        if let Some(a) = announce(sp, services, instances, d) {
            let at = sp.value.prefix.as_ref().map_or(sp.loc, Leaf::loc);
            if seen.insert(a.prefix, at, d) {
                out.push(a);
            }
        }
    }
    let announces = out;
    let routing = match routing {
        None if !announces.is_empty() => Some(Routing::default()),
        r => r,
    };
    (routing, announces)
}

fn table(sp: &Sp<raw::Routing>, d: &mut Diags) -> Routing {
    let r = &sp.value;
    let defaults = Routing::default();
    let table = r.table.as_ref().and_then(|l| {
        let n: i64 = l.int_in("table", 1, i64::from(u32::MAX), d)?;
        if RESERVED_TABLES.contains(&n) {
            d.push(
                Diag::error(l.loc(), format!("table {n} is one of the kernel's own"))
                    .with_help("haldir owns the table it names and replaces what is in it: give it one of its own, such as 200"),
            );
            return None;
        }
        u32::try_from(n).ok()
    });
    let protocol = r.protocol.as_ref().and_then(|l| {
        let n: u8 = l.int_in("protocol", 0, 255, d)?;
        if n < 5 {
            d.push(
                Diag::error(l.loc(), format!("route protocol {n} is one the kernel itself uses"))
                    .with_help("0 to 4 are unspec, redirect, kernel, boot and static: give haldir's routes a number of their own, such as 200"),
            );
            return None;
        }
        Some(n)
    });
    Routing {
        table: table.unwrap_or(defaults.table),
        protocol: protocol.unwrap_or(defaults.protocol),
        startup_delay: or(&r.startup_delay, "startup_delay", defaults.startup_delay, d),
        on_stop: or(&r.on_stop, "on_stop", RoutesOnStop::Withdraw, d),
        bird_socket: absolute_path(&r.bird_socket, "bird_socket", defaults.bird_socket, d),
    }
}

fn announce(
    sp: &Sp<raw::Announce>,
    services: &[std::sync::Arc<VirtualServer>],
    instances: &[(Loc, VrrpInstance)],
    d: &mut Diags,
) -> Option<Announce> {
    let a = &sp.value;
    let Some(pl) = &a.prefix else {
        d.error(
            sp.loc,
            "[[announce]] needs `prefix`, the VIP it offers to the routers",
        );
        return None;
    };
    let prefix = pl.get("prefix", d)?;
    if prefix.prefix_len() != prefix.max_prefix_len() {
        d.push(
            Diag::error(pl.loc(), format!("`{prefix}` is not a single address"))
                .with_help("announce each VIP as a host route: /32 for IPv4, /128 for IPv6"),
        );
        return None;
    }
    let vip = prefix.addr();
    if let Some((_, i)) = instances
        .iter()
        .find(|(_, i)| i.virtual_ipaddress.iter().any(|n| n.addr() == vip))
    {
        d.push(
            Diag::error(pl.loc(), format!("{vip} is also a virtual address of vrrp_instance `{}`", i.name))
                .with_help("an announced VIP is held by every director at once; a VRRP address by one: use one or the other"),
        );
    }
    let names = match &a.virtual_servers {
        Some(list) => named(list, services, d),
        None => {
            let on_vip: Vec<String> = services
                .iter()
                .filter(|vs| matches!(vs.key, ServiceKey::Address(s) if s.ip() == vip))
                .map(|vs| vs.name.clone())
                .collect();
            if on_vip.is_empty() {
                d.push(
                    Diag::error(pl.loc(), format!("no virtual server has the address {vip}"))
                        .with_help("name the services that serve it in `virtual_servers` (fwmark services have no address)"),
                );
            }
            on_vip
        }
    };
    let at = a.virtual_servers.as_ref().map_or(pl.loc(), |l| l.loc);
    for vs in services.iter().filter(|vs| names.contains(&vs.name)) {
        same_on_every_director(vs, at, d);
    }
    Some(Announce {
        prefix,
        virtual_servers: names,
        when: or(&a.when, "when", AnnounceWhen::All, d),
        hold_down: opt(&a.hold_down, "hold_down", d).unwrap_or(Duration::from_secs(10)),
        metric: int_or(&a.metric, "metric", 0, i64::from(u32::MAX), 0u32, d),
    })
}

/// The names in `virtual_servers`, each of which must exist.
fn named(
    list: &Sp<Vec<raw::Str>>,
    services: &[std::sync::Arc<VirtualServer>],
    d: &mut Diags,
) -> Vec<String> {
    if list.value.is_empty() {
        d.error(
            list.loc,
            "`virtual_servers` is empty: leave it out to take every service on the VIP",
        );
    }
    let mut out = Vec::new();
    for l in &list.value {
        let Some(name) = l.get("virtual_servers", d) else {
            continue;
        };
        if services.iter().any(|vs| vs.name == name) {
            out.push(name);
        } else {
            let known = services.iter().map(|vs| vs.name.as_str());
            unknown_reference(d, l.loc(), "virtual_server", &name, known);
        }
    }
    out
}

/// An announced service must map a flow to the same real server on every director: the
/// routers may send its next packet to any of them.
fn same_on_every_director(vs: &VirtualServer, at: Loc, d: &mut Diags) {
    let mh_port = vs.scheduler_flags.contains(&SchedulerFlag::MhPort);
    if vs.scheduler == Scheduler::Mh && mh_port {
        return;
    }
    d.push(
        Diag::error(
            at,
            format!(
                "virtual_server `{}` is announced but scheduled with `{}`{}",
                vs.name,
                vs.scheduler.as_str(),
                if vs.scheduler == Scheduler::Mh { " without `mh-port`" } else { "" }
            ),
        )
        .with_help("behind ECMP every director must send a flow to the same real server: scheduler = \"mh\" with scheduler_flags = [\"mh-port\", \"mh-fallback\"]"),
    );
}

/// The failed servers of an announced service stay in its table at weight 0, as with
/// `inhibit_on_failure`. With `mh` a removed destination that comes back goes to the head of
/// the list and reshuffles the lookup table; at weight 0 every slot stays where it was and
/// `mh-fallback` moves exactly the failed server's share, the same way on every director.
pub(super) fn keep_failed_in_place(
    announces: &[Announce],
    services: &mut [std::sync::Arc<VirtualServer>],
) {
    for vs in services.iter_mut().filter(|vs| {
        announces
            .iter()
            .any(|a| a.virtual_servers.contains(&vs.name))
    }) {
        // A service taken over from the last reading has it already: not copied again.
        if vs.real_servers.iter().all(|rs| rs.inhibit_on_failure) {
            continue;
        }
        for rs in &mut std::sync::Arc::make_mut(vs).real_servers {
            rs.inhibit_on_failure = true;
        }
    }
}
