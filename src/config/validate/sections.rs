//! [global], [[fwmark]], [netfilter], [ipvs] and [realserver].

use std::path::PathBuf;
use std::time::Duration;

use super::super::leaf::{Leaf, Sp};
use super::super::model::{
    FwmarkRule, Global, Ipvs, Netfilter, RealServerRole, ServiceKey, Static, SyncDaemon, Timeouts,
    VirtualServer, VrrpInstance,
};
use super::super::raw;
use super::super::source::{Diags, Loc};
use super::super::types::{Family, NetfilterBackend, OnStop, RealServerMode};
use super::{int_or, interface_name, list, opt_int, or, positive, req, whole_seconds};

pub(super) fn absolute_path(
    leaf: &Option<Leaf<String>>,
    key: &str,
    default: PathBuf,
    d: &mut Diags,
) -> PathBuf {
    let Some(l) = leaf else { return default };
    match l.get(key, d) {
        Some(p) if p.starts_with('/') => PathBuf::from(p),
        Some(p) => {
            d.error(
                l.loc(),
                format!("`{key}` must be an absolute path; \"{p}\" is not"),
            );
            default
        }
        None => default,
    }
}

pub(super) fn global(sp: Option<&Sp<raw::Global>>, host_name: &str, d: &mut Diags) -> Global {
    let empty = raw::Global::default();
    let g = sp.map_or(&empty, |s| &s.value);
    let router_id = or(&g.router_id, "router_id", host_name.to_string(), d);
    if let (true, Some(l)) = (router_id.trim().is_empty(), &g.router_id) {
        d.error(l.loc(), "`router_id` is empty");
    }
    let state_dir = absolute_path(&g.state_dir, "state_dir", PathBuf::from("/run/haldir"), d);
    // Drains must outlive a reboot, the record of the kernel must not: by default they live
    // apart (/run is emptied at boot). A state_dir of one's own keeps both, as before.
    let drain_default = match g.state_dir {
        Some(_) => state_dir.clone(),
        None => PathBuf::from("/var/lib/haldir"),
    };
    let drain_dir = absolute_path(&g.drain_dir, "drain_dir", drain_default, d);
    let control_socket = absolute_path(
        &g.control_socket,
        "control_socket",
        state_dir.join("control.sock"),
        d,
    );
    let script_user = match &g.script_user {
        Some(l) => super::identity(l, "script_user", d).unwrap_or_default(),
        None => "haldir-script".to_string(),
    };
    let net_namespace = g.net_namespace.as_ref().and_then(|l| {
        let name = l.get("net_namespace", d)?;
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            d.error(
                l.loc(),
                format!("`net_namespace` \"{name}\" is not a name of /run/netns"),
            );
            return None;
        }
        Some(name)
    });
    let umask = g.umask.as_ref().and_then(|l| {
        let text = l.get("umask", d)?;
        match u32::from_str_radix(&text, 8) {
            Ok(m) if m <= 0o777 && !text.is_empty() => Some(m),
            _ => {
                d.error(
                    l.loc(),
                    format!("`umask` \"{text}\" is not an octal mask from \"0000\" to \"0777\""),
                );
                None
            }
        }
    });
    Global {
        router_id,
        net_namespace,
        umask,
        no_swap: or(&g.no_swap, "no_swap", false, d),
        log_all_failures: or(&g.log_all_failures, "log_all_failures", false, d),
        notify_fifo: g.notify_fifo.as_ref().and_then(|f| notify_fifo(f, d)),
        vrrp_notify_fifo: g.vrrp_notify_fifo.as_ref().and_then(|f| notify_fifo(f, d)),
        lvs_notify_fifo: g.lvs_notify_fifo.as_ref().and_then(|f| notify_fifo(f, d)),
        notify_priority_changes: or(
            &g.notify_priority_changes,
            "notify_priority_changes",
            false,
            d,
        ),
        state_dir,
        drain_dir,
        control_socket,
        metrics_listen: super::super::leaf::opt(&g.metrics_listen, "metrics_listen", d),
        script_user,
        reconcile_interval: positive(
            &g.reconcile_interval,
            "reconcile_interval",
            Duration::from_secs(30),
            d,
        ),
    }
}

fn notify_fifo(
    sp: &Sp<raw::NotifyFifo>,
    d: &mut Diags,
) -> Option<crate::config::model::NotifyFifo> {
    let path = absolute_path(&sp.value.path, "path", PathBuf::new(), d);
    if sp.value.path.is_none() {
        d.error(sp.loc, "a notify FIFO needs `path`");
        return None;
    }
    let command = sp
        .value
        .command
        .as_ref()
        .and_then(|c| super::command(c, "command", d));
    Some(crate::config::model::NotifyFifo { path, command })
}

pub(super) fn static_(sp: Option<&Sp<raw::Static>>, d: &mut Diags) -> Static {
    let Some(sp) = sp else {
        return Static::default();
    };
    let s = &sp.value;
    let addresses = list(&s.addresses, "addresses", d);
    if let Some(l) = &s.addresses {
        for (leaf, vip) in l.value.iter().zip(&addresses) {
            if vip.dev.is_none() {
                d.error(
                    leaf.loc(),
                    format!(
                        "a static address names its interface: \"{} dev IF\"",
                        vip.net
                    ),
                );
            }
        }
    }
    Static {
        addresses,
        routes: list(&s.routes, "routes", d),
        rules: list(&s.rules, "rules", d),
    }
}

pub(super) fn fwmarks(
    raw: &[Sp<raw::FwmarkRule>],
    services: &[std::sync::Arc<VirtualServer>],
    d: &mut Diags,
) -> Vec<FwmarkRule> {
    let mut out = Vec::new();
    for sp in raw {
        let r = &sp.value;
        let mark = match &r.mark {
            Some(l) => l.int_in::<u32>("mark", 1, i64::from(u32::MAX), d),
            None => {
                d.error(sp.loc, "[[fwmark]] needs `mark`");
                None
            }
        };
        let destination = req(&r.destination, "destination", "[[fwmark]]", sp.loc, d);
        let protocol = super::super::leaf::opt(&r.protocol, "protocol", d);
        let ports = list(&r.ports, "ports", d);
        if let (Some(l), None) = (&r.ports, &r.protocol) {
            d.error(
                l.loc,
                "`ports` need a `protocol` (\"tcp\", \"udp\" or \"sctp\")",
            );
        }
        if let Some(l) = &r.ports
            && l.value.is_empty()
        {
            d.error(
                l.loc,
                "`ports` is empty: list ports, or remove it to mark every port",
            );
        }
        let interface = r
            .interface
            .as_ref()
            .and_then(|l| interface_name(l, "interface", d));
        let exclude_source_mac = list(&r.exclude_source_mac, "exclude_source_mac", d);
        let exclude_peers = list(&r.exclude_peers, "exclude_peers", d);
        if let (Some(dest), Some(l)) = (destination, &r.exclude_peers) {
            for (leaf, peer) in l.value.iter().zip(&exclude_peers) {
                if Family::of(peer) != Family::of(&dest.addr()) {
                    d.error(leaf.loc(), format!("peer {peer} is not of the destination's family; its MAC is looked up in that family's neighbour table"));
                }
            }
        }
        if let (Some(mark), Some(l)) = (mark, &r.mark)
            && !services
                .iter()
                .any(|s| matches!(s.key, ServiceKey::Fwmark { mark: m, .. } if m == mark))
        {
            d.warning(l.loc(), format!("no virtual_server has `fwmark = {mark}`: the marked packets reach no IPVS service of haldir's"));
        }
        if let (Some(mark), Some(destination)) = (mark, destination) {
            out.push(FwmarkRule {
                mark,
                destination,
                protocol,
                ports,
                interface,
                exclude_source_mac,
                exclude_peers,
            });
        }
    }
    out
}

pub(super) fn netfilter(sp: Option<&Sp<raw::Netfilter>>, d: &mut Diags) -> Netfilter {
    let empty = raw::Netfilter::default();
    let n = sp.map_or(&empty, |s| &s.value);
    let backend = or(&n.backend, "backend", NetfilterBackend::Nftables, d);
    let table = or(&n.table, "table", "haldir".to_string(), d);
    if let Some(l) = &n.table {
        let ok = !table.is_empty()
            && table.len() <= 28
            && table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            && table.starts_with(|c: char| c.is_ascii_alphabetic());
        if !ok {
            d.error(l.loc(), format!("`table` = \"{table}\": use 1 to 28 letters, digits, '_' or '-', starting with a letter (an nftables table or iptables chain name)"));
        }
    }
    Netfilter { backend, table }
}

pub(super) fn ipvs(
    sp: Option<&Sp<raw::Ipvs>>,
    instances: &[(Loc, VrrpInstance)],
    d: &mut Diags,
) -> Ipvs {
    let empty = raw::Ipvs::default();
    let i = sp.map_or(&empty, |s| &s.value);
    let on_stop = or(&i.on_stop, "on_stop", OnStop::Keep, d);
    let timeouts = i.timeouts.as_ref().map(|t| {
        let one = |leaf: &Option<Leaf<super::super::types::Dur>>, key: &str, d: &mut Diags| {
            let l = leaf.as_ref()?;
            let v = whole_seconds(l, key, d)?;
            if v.is_zero() {
                d.error(
                    l.loc(),
                    format!("`{key}` must be at least \"1s\"; omit it to keep the kernel's value"),
                );
                return None;
            }
            Some(v)
        };
        Timeouts {
            tcp: one(&t.value.tcp, "tcp", d),
            tcp_fin: one(&t.value.tcp_fin, "tcp_fin", d),
            udp: one(&t.value.udp, "udp", d),
        }
    });
    let sync_daemon = i
        .sync_daemon
        .as_ref()
        .and_then(|s| sync_daemon(s, instances, d));
    Ipvs {
        on_stop,
        timeouts,
        sync_daemon,
        sloppy_tcp: super::super::leaf::opt(&i.sloppy_tcp, "sloppy_tcp", d),
    }
}

fn sync_daemon(
    sp: &Sp<raw::SyncDaemon>,
    instances: &[(Loc, VrrpInstance)],
    d: &mut Diags,
) -> Option<SyncDaemon> {
    let s = &sp.value;
    let interface = match &s.interface {
        Some(l) => interface_name(l, "interface", d),
        None => {
            d.error(sp.loc, "sync_daemon needs `interface`");
            None
        }
    };
    let vrrp_instance = s.vrrp_instance.as_ref().and_then(|l| {
        let name = l.get("vrrp_instance", d)?;
        if !instances.iter().any(|(_, i)| i.name == name) {
            super::unknown_reference(
                d,
                l.loc(),
                "vrrp_instance",
                &name,
                instances.iter().map(|(_, i)| i.name.as_str()),
            );
        }
        Some(name)
    });
    let mcast_group = super::super::leaf::opt(&s.mcast_group, "mcast_group", d);
    if let (Some(g), Some(l)) = (mcast_group, &s.mcast_group)
        && !g.is_multicast()
    {
        d.error(
            l.loc(),
            format!("`mcast_group` {g} is not a multicast address"),
        );
    }
    Some(SyncDaemon {
        interface: interface?,
        sync_id: int_or(&s.sync_id, "sync_id", 0, 255, 0u8, d),
        vrrp_instance,
        mcast_group,
        mcast_port: opt_int(&s.mcast_port, "mcast_port", 1, 65535, d),
        mcast_ttl: opt_int(&s.mcast_ttl, "mcast_ttl", 1, 255, d),
        max_len: opt_int(&s.max_len, "max_len", 1, 65507, d),
    })
}

pub(super) fn realserver(sp: &Sp<raw::RealServerRole>, d: &mut Diags) -> Option<RealServerRole> {
    let r = &sp.value;
    let Some(l) = &r.vips else {
        d.error(
            sp.loc,
            "[realserver] needs `vips`, the addresses this host serves",
        );
        return None;
    };
    if l.value.is_empty() {
        d.error(l.loc, "`vips` is empty");
    }
    let vips = list(&r.vips, "vips", d);
    let mode = or(&r.mode, "mode", RealServerMode::Dr, d);
    Some(RealServerRole {
        vips,
        mode,
        local_routes: Vec::new(),
        local_protocol: 0,
    })
}
