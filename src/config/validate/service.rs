//! Virtual servers and their real servers.

use std::sync::Arc;
use std::time::Duration;

use super::super::leaf::{Leaf, Sp, opt};
use super::super::model::{
    RealServer, RsAddr, ServerNotify, ServiceKey, Tunnel, VirtualServer, VrrpInstance,
};
use super::super::raw;
use super::super::source::{Diag, Diags, Loc};
use super::super::types::{
    Family, Forwarding, Protocol, Scheduler, SchedulerFlag, TunnelChecksum, TunnelType,
};
use super::{Unique, check, command, int_or, or, whole_seconds};

const WHAT: &str = "[[virtual_server]]";

pub(super) fn virtual_servers(
    services: Vec<super::ServiceSlot<'_>>,
    instances: &[(Loc, VrrpInstance)],
    alerts: &super::Alerts,
    d: &mut Diags,
) -> Vec<Arc<VirtualServer>> {
    let mut names = Unique::new("virtual_server name");
    let mut keys = Unique::new("virtual server");
    let mut out = Vec::with_capacity(services.len());
    for slot in services {
        let (vs, name_at, key_at) = match slot {
            super::ServiceSlot::Written(sp) => {
                let Some(vs) = virtual_server(sp, instances, alerts, d) else {
                    continue;
                };
                let name_at = sp.value.name.as_ref().map_or(sp.loc, Leaf::loc);
                let key_at = sp
                    .value
                    .address
                    .as_ref()
                    .map(Leaf::loc)
                    .or(sp.value.fwmark.as_ref().map(Leaf::loc))
                    .unwrap_or(sp.loc);
                (Arc::new(vs), name_at, key_at)
            }
            // Validated before: only a duplicate can be wrong with it, and then the file is
            // read whole, where the duplicate has its place.
            super::ServiceSlot::Kept(vs) => (Arc::clone(vs), Loc::default(), Loc::default()),
        };
        let key = match vs.key {
            ServiceKey::Address(a) => Ident::Address(vs.protocol, a),
            ServiceKey::Fwmark { mark, family } => Ident::Fwmark(mark, family),
        };
        // A duplicate service also has a duplicate default name: report it once.
        if keys.insert(key, key_at, d) && names.insert(vs.name.clone(), name_at, d) {
            out.push(vs);
        }
    }
    out
}

/// What makes two services the same to IPVS; written out only when it is a duplicate (a
/// string per service was most of the time to take 1,000 services over in a reload).
#[derive(PartialEq, Eq, Hash)]
enum Ident {
    Address(Protocol, std::net::SocketAddr),
    Fwmark(u32, Family),
}

impl std::fmt::Display for Ident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ident::Address(protocol, a) => write!(f, "{protocol} {a}"),
            Ident::Fwmark(mark, family) => write!(f, "fwmark {mark} ({family})"),
        }
    }
}

fn virtual_server(
    sp: &Sp<raw::VirtualServer>,
    instances: &[(Loc, VrrpInstance)],
    alerts: &super::Alerts,
    d: &mut Diags,
) -> Option<VirtualServer> {
    let r = &sp.value;
    // Keys that do not depend on the service's address are checked even when it is wrong.
    let key = service_key(sp, d);
    let protocol = or(&r.protocol, "protocol", Protocol::Tcp, d);
    let scheduler = or(&r.scheduler, "scheduler", Scheduler::Wlc, d);
    let scheduler_flags = scheduler_flags(r, scheduler, d);
    let forwarding = or(&r.forwarding, "forwarding", Forwarding::Nat, d);
    let tunnel = r.tunnel.as_ref().and_then(|t| tunnel(t, d));

    let (quorum, hysteresis) = quorum(r, d);
    let alpha = or(&r.alpha, "alpha", false, d);
    let inhibit_on_failure = or(&r.inhibit_on_failure, "inhibit_on_failure", false, d);
    let one_packet = one_packet(r, protocol, d);
    let service_check = r.check.as_deref();
    let check = service_check
        .and_then(|c| check::effective(None, Some(c), d))
        .map(std::sync::Arc::new);

    let key = key?;
    let (persistence_timeout, persistence_netmask) = persistence(r, key, d);
    let (sorry_server, sorry) = sorry(r, &key, forwarding, d);
    let vrrp_instance = vrrp_binding(r, key, instances, d);

    let service = Service {
        key: &key,
        forwarding,
        tunnel,
        check: service_check,
        effective_check: check.as_ref(),
        inhibit_on_failure,
        alerts,
    };
    let real_servers = real_servers(r, &service, d);
    let uses_tun = forwarding == Forwarding::Tun
        || real_servers.iter().any(|s| s.forwarding == Forwarding::Tun);
    if let (Some(t), false) = (&r.tunnel, uses_tun) {
        d.error(t.loc, "`tunnel` applies to `forwarding = \"tun\"`, which neither the service nor its real servers use");
    }
    let name = service_name(r, key, d)?;
    Some(VirtualServer {
        name,
        key,
        protocol,
        scheduler,
        scheduler_flags,
        forwarding,
        tunnel: if uses_tun { tunnel } else { None },
        persistence_timeout,
        persistence_netmask,
        one_packet,
        quorum,
        hysteresis,
        alpha,
        inhibit_on_failure,
        sorry_server,
        sorry_server_forwarding: sorry.0,
        sorry_server_tunnel: sorry.1,
        sorry_server_inhibit: sorry.2,
        vrrp_instance,
        quorum_up: r
            .quorum_up
            .as_ref()
            .and_then(|c| command(c, "quorum_up", d)),
        quorum_down: r
            .quorum_down
            .as_ref()
            .and_then(|c| command(c, "quorum_down", d)),
        smtp_alert: super::email::alert(&r.smtp_alert, alerts.quorum, d),
        omega: or(&r.omega, "omega", false, d),
        check,
        real_servers,
    })
}

/// `one_packet`, for UDP services only.
fn one_packet(r: &raw::VirtualServer, protocol: Protocol, d: &mut Diags) -> bool {
    let one_packet = or(&r.one_packet, "one_packet", false, d);
    if let (true, Some(l)) = (one_packet && protocol != Protocol::Udp, &r.one_packet) {
        d.error(
            l.loc(),
            format!("`one_packet` is for UDP services; this one is {protocol}"),
        );
    }
    one_packet
}

/// `quorum` and `hysteresis`, the second no larger than the first.
fn quorum(r: &raw::VirtualServer, d: &mut Diags) -> (u32, u32) {
    let quorum = int_or(&r.quorum, "quorum", 0, i64::from(u32::MAX), 1u32, d);
    let hysteresis = int_or(&r.hysteresis, "hysteresis", 0, i64::from(u32::MAX), 0u32, d);
    if let (true, Some(l)) = (hysteresis > quorum, &r.hysteresis) {
        d.error(l.loc(), format!("`hysteresis` ({hysteresis}) is larger than `quorum` ({quorum}): the service could never lose quorum"));
    }
    (quorum, hysteresis)
}

/// The service's real servers, each address once.
fn real_servers(r: &raw::VirtualServer, service: &Service, d: &mut Diags) -> Vec<RealServer> {
    let mut seen = Unique::new("real server");
    let mut out = Vec::new();
    for rs in r.real_server.as_deref().unwrap_or(&[]) {
        if let Some(server) = real_server(rs, service, d) {
            let at = rs.value.address.as_ref().map_or(rs.loc, Leaf::loc);
            if seen.insert(server.address, at, d) {
                out.push(server);
            }
        }
    }
    // Kept for the daemon's life: no room for servers that will never come.
    out.shrink_to_fit();
    out
}

/// The scheduler's flags: its own, each once.
fn scheduler_flags(
    r: &raw::VirtualServer,
    scheduler: Scheduler,
    d: &mut Diags,
) -> Vec<SchedulerFlag> {
    let mut out = Vec::new();
    for leaf in r.scheduler_flags.as_ref().map_or(&[][..], |l| &l.value[..]) {
        let Some(flag) = leaf.get("scheduler_flags", d) else {
            continue;
        };
        if !scheduler.flags().contains(&flag) {
            let owner = flag.as_str().split('-').next().unwrap_or_default();
            d.error(
                leaf.loc(),
                format!("`{flag}` is a flag of the {owner} scheduler, not of {scheduler}"),
            );
        } else if out.contains(&flag) {
            d.error(leaf.loc(), format!("`{flag}` is listed twice"));
        } else {
            out.push(flag);
        }
    }
    out
}

/// `persistence_timeout` (needed on port 0) and `persistence_netmask` (needing it).
fn persistence(r: &raw::VirtualServer, key: ServiceKey, d: &mut Diags) -> (Duration, Option<u8>) {
    let family = key.family();
    let persistence_timeout = r
        .persistence_timeout
        .as_ref()
        .and_then(|l| whole_seconds(l, "persistence_timeout", d))
        .unwrap_or(Duration::ZERO);
    if let (ServiceKey::Address(a), true, Some(l)) =
        (key, persistence_timeout.is_zero(), &r.address)
        && a.port() == 0
    {
        d.push(
            Diag::error(l.loc(), "port 0 (every port) needs `persistence_timeout`")
                .with_help("ipvsadm refuses a non-persistent service on port 0, and keepalived makes it persistent for 360 s"),
        );
    }
    let persistence_netmask = r.persistence_netmask.as_ref().and_then(|l| {
        let bits = l.get("persistence_netmask", d)?;
        if persistence_timeout.is_zero() {
            d.error(l.loc(), "`persistence_netmask` needs `persistence_timeout`");
        }
        let dotted = matches!(l.raw.value, super::super::leaf::Scalar::Str(_));
        if family == Family::Ipv6 && dotted {
            d.error(
                l.loc(),
                "an IPv6 service takes a prefix length, such as `persistence_netmask = 64`",
            );
        } else if bits > family.max_prefix() {
            d.error(
                l.loc(),
                format!("a {family} prefix is at most {} bits", family.max_prefix()),
            );
        }
        Some(bits)
    });
    (persistence_timeout, persistence_netmask)
}

/// The vrrp_instance a service follows: one that exists, and whose addresses should hold
/// the service's.
fn vrrp_binding(
    r: &raw::VirtualServer,
    key: ServiceKey,
    instances: &[(Loc, VrrpInstance)],
    d: &mut Diags,
) -> Option<String> {
    r.vrrp_instance.as_ref().and_then(|l| {
        let name = l.get("vrrp_instance", d)?;
        match instances.iter().find(|(_, i)| i.name == name) {
            None => super::unknown_reference(
                d,
                l.loc(),
                "vrrp_instance",
                &name,
                instances.iter().map(|(_, i)| i.name.as_str()),
            ),
            Some((_, inst)) => {
                if let ServiceKey::Address(a) = key
                    && !inst.virtual_ipaddress.iter().any(|n| n.addr() == a.ip())
                {
                    d.warning(
                        l.loc(),
                        format!(
                            "{} is not among the virtual addresses of vrrp_instance `{name}`",
                            a.ip()
                        ),
                    );
                }
            }
        }
        Some(name)
    })
}

/// The name given, or the address ("fwmark-N" for a mark).
fn service_name(r: &raw::VirtualServer, key: ServiceKey, d: &mut Diags) -> Option<String> {
    let name = match &r.name {
        Some(l) => l.get("name", d)?,
        None => match key {
            ServiceKey::Address(a) => a.to_string(),
            ServiceKey::Fwmark { mark, .. } => format!("fwmark-{mark}"),
        },
    };
    if let Some(l) = &r.name
        && name.trim().is_empty()
    {
        d.error(l.loc(), "`name` is empty");
    }
    Some(name)
}

fn service_key(sp: &Sp<raw::VirtualServer>, d: &mut Diags) -> Option<ServiceKey> {
    let r = &sp.value;
    match (&r.address, &r.fwmark) {
        (Some(a), Some(f)) => {
            d.push(
                Diag::error(
                    f.loc(),
                    "a virtual server has `address` or `fwmark`, not both",
                )
                .with_related(a.loc(), "`address` is set"),
            );
            None
        }
        (None, None) => {
            d.error(
                sp.loc,
                format!("{WHAT} needs `address` (\"10.0.0.1:80\") or `fwmark`"),
            );
            None
        }
        (Some(a), None) => {
            let addr = a.get("address", d)?;
            if let Some(f) = &r.family {
                d.error(
                    f.loc(),
                    "`family` is for fwmark services; this one takes it from its address",
                );
            }
            // Port 0 is every port: valid with persistence (checked with the rest).
            Some(ServiceKey::Address(addr))
        }
        (None, Some(f)) => {
            let mark = f.int_in("fwmark", 1, i64::from(u32::MAX), d)?;
            let family = match &r.family {
                Some(l) => l.get("family", d)?,
                None => first_rs_family(r).unwrap_or(Family::Ipv4),
            };
            Some(ServiceKey::Fwmark { mark, family })
        }
    }
}

/// A fwmark service with no `family` takes its real servers' family.
fn first_rs_family(r: &raw::VirtualServer) -> Option<Family> {
    r.real_server.as_ref()?.iter().find_map(|rs| {
        let leaf = rs.value.address.as_ref()?;
        match &leaf.raw.value {
            super::super::leaf::Scalar::Str(s) => {
                s.parse::<RsAddr>().ok().map(|a| Family::of(&a.ip))
            }
            _ => None,
        }
    })
}

/// The sorry server, and its `sorry_server_forwarding`, `sorry_server_tunnel` and
/// `sorry_server_inhibit`, which need one (keepalived: "sorry_server forwarding used without
/// sorry_server").
fn sorry(
    r: &raw::VirtualServer,
    key: &ServiceKey,
    forwarding: Forwarding,
    d: &mut Diags,
) -> (Option<RsAddr>, (Option<Forwarding>, Option<Tunnel>, bool)) {
    let own = r
        .sorry_server_forwarding
        .as_ref()
        .and_then(|l| l.get("sorry_server_forwarding", d));
    let tunnel = r.sorry_server_tunnel.as_ref().and_then(|t| tunnel(t, d));
    let inhibit = or(&r.sorry_server_inhibit, "sorry_server_inhibit", false, d);
    let set = [
        r.sorry_server_forwarding.as_ref().map(|l| l.loc()),
        r.sorry_server_tunnel.as_ref().map(|t| t.loc),
        r.sorry_server_inhibit.as_ref().map(|l| l.loc()),
    ];
    if r.sorry_server.is_none() {
        for at in set.into_iter().flatten() {
            d.error(
                at,
                "this applies to a `sorry_server`, and the service has none",
            );
        }
    }
    if let (Some(t), false) = (
        &r.sorry_server_tunnel,
        own.unwrap_or(forwarding) == Forwarding::Tun,
    ) {
        d.error(
            t.loc,
            "`sorry_server_tunnel` applies to a sorry server reached by \"tun\"",
        );
    }
    let server = r
        .sorry_server
        .as_ref()
        .and_then(|l| rs_address(l, "sorry_server", key, own.unwrap_or(forwarding), d));
    (server, (own, tunnel, inhibit))
}

/// A real or sorry server address: the port defaults to the service's, and a fwmark service's
/// servers take none.
fn rs_address(
    leaf: &Leaf<String>,
    key: &str,
    service: &ServiceKey,
    forwarding: Forwarding,
    d: &mut Diags,
) -> Option<RsAddr> {
    let text = leaf.get(key, d)?;
    let Ok(mut addr) = text.parse::<RsAddr>() else {
        d.error(leaf.loc(), format!("`{key}` must be an address with an optional port, such as \"10.0.0.1:80\", \"10.0.0.1\" or \"[2001:db8::1]:80\"; found \"{text}\""));
        return None;
    };
    if Family::of(&addr.ip) != service.family() {
        d.error(
            leaf.loc(),
            format!(
                "{} is {} but the virtual server is {}",
                addr.ip,
                Family::of(&addr.ip),
                service.family()
            ),
        );
        return None;
    }
    match (service, addr.port) {
        // NAT rewrites the destination: the marked packets go to that port (as keepalived
        // keeps a NAT real server's port on a fwmark service).
        (ServiceKey::Fwmark { .. }, Some(p)) if forwarding == Forwarding::Nat && p > 0 => {}
        (ServiceKey::Fwmark { .. }, Some(_)) => {
            d.push(
                Diag::error(
                    leaf.loc(),
                    format!(
                        "a fwmark service's {forwarding} real servers take no port: write \"{}\"",
                        addr.ip
                    ),
                )
                .with_help("the mark selects the packets; their destination port is kept (with nat a port maps them to it)"),
            );
            return None;
        }
        (ServiceKey::Address(_), Some(0)) => {
            d.error(leaf.loc(), "the port is 1 to 65535");
            return None;
        }
        (ServiceKey::Address(a), None) => addr.port = Some(a.port()),
        _ => {}
    }
    Some(addr)
}

/// What a real server takes from its virtual server unless it says otherwise.
struct Service<'a> {
    key: &'a ServiceKey,
    forwarding: Forwarding,
    tunnel: Option<Tunnel>,
    check: Option<&'a Sp<raw::Check>>,
    /// The service's check as its servers without one of their own share it.
    effective_check: Option<&'a std::sync::Arc<super::super::model::Check>>,
    inhibit_on_failure: bool,
    alerts: &'a super::Alerts,
}

fn real_server(sp: &Sp<raw::RealServer>, vs: &Service, d: &mut Diags) -> Option<RealServer> {
    let (service, service_fwd, service_tunnel, service_check) =
        (vs.key, vs.forwarding, vs.tunnel, vs.check);
    let r = &sp.value;
    let Some(addr_leaf) = &r.address else {
        d.error(sp.loc, "[[virtual_server.real_server]] needs `address`");
        return None;
    };
    let forwarding = opt(&r.forwarding, "forwarding", d).unwrap_or(service_fwd);
    let address = rs_address(addr_leaf, "address", service, forwarding, d);
    let weight = int_or(&r.weight, "weight", 0, 65535, 1u32, d);
    if let (
        ServiceKey::Address(vip),
        Some(RsAddr { port: Some(p), .. }),
        Forwarding::Dr | Forwarding::Tun,
    ) = (service, address, forwarding)
        && p != vip.port()
    {
        d.push(
            Diag::error(addr_leaf.loc(), format!("with {forwarding} forwarding the real server receives the packets unchanged, so it must use the service's port {}, not {p}", vip.port()))
                .with_help("use `forwarding = \"nat\"` to map to another port"),
        );
    }
    let tunnel = server_tunnel(r, forwarding, service_tunnel, d);
    let (upper_threshold, lower_threshold) = thresholds(r, d);
    let check = match &r.check {
        None => vs.effective_check.cloned(),
        Some(own) => check::effective(Some(own), service_check, d).map(std::sync::Arc::new),
    };
    if let (Some(c), Some(RsAddr { port: None, .. })) = (&check, address)
        && c.port.is_none()
        && !matches!(c.kind, crate::config::model::CheckKind::Misc { .. })
    {
        d.error(
            addr_leaf.loc(),
            format!(
                "this real server has no port (fwmark service), so its {} check needs `port`",
                c.kind.check_type()
            ),
        );
    }
    Some(RealServer {
        address: address?,
        weight,
        forwarding,
        tunnel,
        upper_threshold,
        lower_threshold,
        notify: notify(
            r.notify_up
                .as_ref()
                .and_then(|c| command(c, "notify_up", d)),
            r.notify_down
                .as_ref()
                .and_then(|c| command(c, "notify_down", d)),
        ),
        inhibit_on_failure: or(
            &r.inhibit_on_failure,
            "inhibit_on_failure",
            vs.inhibit_on_failure,
            d,
        ),
        smtp_alert: super::email::alert(&r.smtp_alert, vs.alerts.checker, d),
        check,
    })
}

/// A TUN server's tunnel: its own, else the service's, else plain IPIP.
fn server_tunnel(
    r: &raw::RealServer,
    forwarding: Forwarding,
    service_tunnel: Option<Tunnel>,
    d: &mut Diags,
) -> Option<Tunnel> {
    let own_tunnel = r.tunnel.as_ref().and_then(|t| tunnel(t, d));
    if let (Some(t), false) = (&r.tunnel, forwarding == Forwarding::Tun) {
        d.error(
            t.loc,
            format!(
                "`tunnel` applies to `forwarding = \"tun\"`; this real server uses {forwarding}"
            ),
        );
    }
    (forwarding == Forwarding::Tun).then(|| {
        own_tunnel.or(service_tunnel).unwrap_or(Tunnel {
            kind: TunnelType::Ipip,
            port: None,
            checksum: TunnelChecksum::None,
        })
    })
}

/// `upper_threshold` and `lower_threshold`, the lower not above the upper.
fn thresholds(r: &raw::RealServer, d: &mut Diags) -> (u32, u32) {
    let max = i64::from(u32::MAX);
    let upper = int_or(&r.upper_threshold, "upper_threshold", 0, max, 0u32, d);
    let lower = int_or(&r.lower_threshold, "lower_threshold", 0, max, 0u32, d);
    if let (true, Some(l)) = (upper > 0 && lower > upper, &r.lower_threshold) {
        d.error(
            l.loc(),
            format!("`lower_threshold` ({lower}) is above `upper_threshold` ({upper})"),
        );
    }
    (upper, lower)
}

fn tunnel(sp: &Sp<raw::Tunnel>, d: &mut Diags) -> Option<Tunnel> {
    let t = &sp.value;
    let kind = super::req(&t.kind, "type", "tunnel", sp.loc, d)?;
    let port = match (&t.port, kind) {
        (Some(l), TunnelType::Gue) => l.int_in("port", 1, 65535, d),
        (None, TunnelType::Gue) => {
            d.error(
                sp.loc,
                "a gue tunnel needs `port`, the UDP port the real servers decapsulate on",
            );
            None
        }
        (Some(l), _) => {
            d.error(l.loc(), format!("`port` is for gue tunnels, not {kind}"));
            None
        }
        (None, _) => None,
    };
    let checksum = or(&t.checksum, "checksum", TunnelChecksum::None, d);
    if let Some(l) = &t.checksum {
        match (kind, checksum) {
            (TunnelType::Ipip, c) if c != TunnelChecksum::None => {
                d.error(l.loc(), "ipip tunnels carry no checksum");
            }
            (TunnelType::Gre, TunnelChecksum::Remcsum) => {
                d.error(
                    l.loc(),
                    "remote checksum offload (`remcsum`) is for gue tunnels",
                );
            }
            _ => {}
        }
    }
    Some(Tunnel {
        kind,
        port,
        checksum,
    })
}

/// A real server's commands, boxed only when it has one.
fn notify(up: Option<Vec<String>>, down: Option<Vec<String>>) -> Option<Box<ServerNotify>> {
    (up.is_some() || down.is_some()).then(|| Box::new(ServerNotify { up, down }))
}
