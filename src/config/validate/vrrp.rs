//! VRRP instances, sync groups and track scripts.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use super::super::leaf::Sp;
use super::super::model::{
    Authentication, Garp, Notify, SyncGroup, TrackFile, TrackRef, TrackScript, VrrpInstance,
};
use super::super::raw;
use super::super::source::{Diag, Diags, Loc};
use super::super::types::{Family, V3Checksum, VmacName};
use super::super::vip::Vip;
use super::{Unique, command, int_or, interface_name, list, or, positive, req};

const WHAT: &str = "[[vrrp_instance]]";

pub(super) fn track_scripts(
    raw: &[Sp<raw::TrackScript>],
    d: &mut Diags,
) -> Vec<(Loc, TrackScript)> {
    let mut names = Unique::new("track_script name");
    let mut out = Vec::new();
    for sp in raw {
        let t = &sp.value;
        let name = req(&t.name, "name", "[[track_script]]", sp.loc, d);
        let cmd = match &t.command {
            Some(c) => command(c, "command", d),
            None => {
                d.error(sp.loc, "[[track_script]] needs `command`");
                None
            }
        };
        let interval = positive(&t.interval, "interval", Duration::from_secs(1), d);
        let timeout = positive(&t.timeout, "timeout", interval, d);
        let rise = int_or(&t.rise, "rise", 1, 1000, 1, d);
        let fall = int_or(&t.fall, "fall", 1, 1000, 1, d);
        if let (Some(name), Some(command)) = (name, cmd) {
            let at = t.name.as_ref().map_or(sp.loc, |n| n.loc());
            if names.insert(name.clone(), at, d) {
                out.push((
                    at,
                    TrackScript {
                        name,
                        command,
                        interval,
                        timeout,
                        rise,
                        fall,
                        init_fail: or(&t.init_fail, "init_fail", false, d),
                    },
                ));
            }
        }
    }
    out
}

pub(super) fn unused_track_scripts(
    raw: &[Sp<raw::TrackScript>],
    instances: &[(Loc, VrrpInstance)],
    d: &mut Diags,
) {
    let used: HashSet<&str> = instances
        .iter()
        .flat_map(|(_, i)| i.track_script.iter().map(|t| t.name.as_str()))
        .collect();
    super::warn_unused(
        raw.iter().map(|sp| &sp.value.name),
        &used,
        "track_script",
        d,
    );
}

/// The objects an instance may track by name: `[[track_script]]`s and `[[track_file]]`s.
pub(super) type Trackable<'a> = (&'a [(Loc, TrackScript)], &'a [(Loc, TrackFile)]);

pub(super) fn instances(
    raw: &[Sp<raw::VrrpInstance>],
    tracked: Trackable<'_>,
    alerts: &super::Alerts,
    d: &mut Diags,
) -> Vec<(Loc, VrrpInstance)> {
    let mut names = Unique::new("vrrp_instance name");
    let mut routers = Unique::new("virtual router (interface, family, virtual_router_id)");
    let mut vips = Unique::new("virtual_ipaddress");
    let mut vmacs = VmacNames::new(raw);
    let mut out = Vec::new();
    for sp in raw {
        if let Some(mut inst) = instance(sp, tracked, alerts, d) {
            let name_at = sp.value.name.as_ref().map_or(sp.loc, |n| n.loc());
            let vrid_at = sp
                .value
                .virtual_router_id
                .as_ref()
                .map_or(sp.loc, |n| n.loc());
            let key = format!(
                "{} {} {}",
                inst.interface,
                inst.family(),
                inst.virtual_router_id
            );
            let mut ok = names.insert(inst.name.clone(), name_at, d);
            ok &= routers.insert(key, vrid_at, d);
            let lists = [
                (&sp.value.virtual_ipaddress, &inst.virtual_ipaddress),
                (
                    &sp.value.virtual_ipaddress_excluded,
                    &inst.virtual_ipaddress_excluded,
                ),
            ];
            for (list, parsed) in lists {
                if let Some(list) = list {
                    for (leaf, vip) in list.value.iter().zip(parsed) {
                        ok &= vips.insert(vip.addr(), leaf.loc(), d);
                    }
                }
            }
            ok &= vmacs.claim(sp, &mut inst, d);
            if ok {
                out.push((sp.loc, inst));
            }
        }
    }
    out
}

/// The VMACs' names, one instance each: two instances on one macvlan would put their
/// addresses on one segment's interface and take it away from each other. As keepalived
/// names them (vrrp/vrrp.c, create_vmac_name): `use_vmac = true` is `vrrp.VRID`, or, when
/// another instance of the file has that name, `vrrp1.VRID`, `vrrp2.VRID`, … (the same VRID
/// on two interfaces). A name given twice is an error; keepalived ignores the second and
/// makes one up, which would leave the file saying one thing and the host another.
struct VmacNames {
    named: HashSet<String>,
    used: Unique<'static, String>,
}

impl VmacNames {
    /// The names the file gives, which `true` must not take.
    fn new(raw: &[Sp<raw::VrrpInstance>]) -> VmacNames {
        let named = raw
            .iter()
            .filter_map(|sp| match &sp.value.use_vmac {
                Some(l) => match &l.raw.value {
                    super::super::leaf::Scalar::Str(n) => Some(n.clone()),
                    _ => None,
                },
                None => None,
            })
            .collect();
        VmacNames {
            named,
            used: Unique::new("`use_vmac` interface"),
        }
    }

    /// Gives `inst` its VMAC's name (or refuses a name another instance has): false then.
    fn claim(
        &mut self,
        sp: &Sp<raw::VrrpInstance>,
        inst: &mut VrrpInstance,
        d: &mut Diags,
    ) -> bool {
        let (Some(vmac), Some(leaf)) = (&mut inst.vmac, &sp.value.use_vmac) else {
            return true;
        };
        if matches!(leaf.raw.value, super::super::leaf::Scalar::Bool(true)) {
            let vrid = inst.virtual_router_id;
            let mut num = 0;
            while self.named.contains(&vmac.name) || self.used.seen.contains_key(&vmac.name) {
                num += 1;
                vmac.name = format!("vrrp{num}.{vrid}");
            }
        }
        self.used.insert(vmac.name.clone(), leaf.loc(), d)
    }
}

fn instance(
    sp: &Sp<raw::VrrpInstance>,
    (scripts, files): Trackable<'_>,
    alerts: &super::Alerts,
    d: &mut Diags,
) -> Option<VrrpInstance> {
    let r = &sp.value;
    let name = req(&r.name, "name", WHAT, sp.loc, d);
    let interface = match &r.interface {
        Some(l) => interface_name(l, "interface", d),
        None => {
            d.error(sp.loc, format!("{WHAT} needs `interface`"));
            None
        }
    };
    let vrid = match &r.virtual_router_id {
        Some(l) => l.int_in("virtual_router_id", 1, 255, d),
        None => {
            d.error(sp.loc, format!("{WHAT} needs `virtual_router_id`"));
            None
        }
    };
    let priority = int_or(&r.priority, "priority", 1, 255, 100u8, d);
    let (virtual_ipaddress, family) = addresses(sp, d)?;
    let version = version(r, family, d);
    let advert_interval = advert_interval(&r.advert_interval, version, d);
    let (preempt, preempt_delay) = preemption(r, d);
    let (unicast_source, unicast_peers, mcast_source) = sources(r, family, d);
    let vmac = vmac(r, vrid, family, &unicast_peers, d);
    let authentication = r
        .authentication
        .as_ref()
        .and_then(|a| authentication(a, version, d));
    let v3_ipv4_checksum = v3_checksum(r, version, family, d);
    let garp = r.garp.as_ref().map(|g| garp(g, d)).unwrap_or_default();
    let (track_interface, track_script) = tracking(r, scripts, d);
    let track_file = super::track_file::refs(r.track_file.as_deref(), files, d);
    let notify = r.notify.as_ref().map(|n| notify(n, d)).unwrap_or_default();
    let smtp_alert = super::email::alert(&r.smtp_alert, alerts.vrrp, d);

    Some(VrrpInstance {
        name: name?,
        interface: interface?,
        virtual_router_id: vrid?,
        priority,
        version,
        advert_interval,
        preempt,
        preempt_delay,
        lower_prio_no_advert: or(&r.lower_prio_no_advert, "lower_prio_no_advert", false, d),
        higher_prio_send_advert: or(
            &r.higher_prio_send_advert,
            "higher_prio_send_advert",
            false,
            d,
        ),
        virtual_ipaddress,
        virtual_ipaddress_excluded: list(
            &r.virtual_ipaddress_excluded,
            "virtual_ipaddress_excluded",
            d,
        ),
        virtual_routes: list(&r.virtual_routes, "virtual_routes", d),
        virtual_rules: list(&r.virtual_rules, "virtual_rules", d),
        unicast_source,
        unicast_peers,
        mcast_source,
        vmac,
        authentication,
        v3_ipv4_checksum,
        smtp_alert,
        garp,
        track_interface,
        track_script,
        track_file,
        notify,
    })
}

/// The virtual addresses and the instance's family, set by its first address (or its
/// source): every address of one family. An empty list is an instance that moves no
/// address: it only elects and runs its notify scripts (keepalived allows it with VRRPv2,
/// "at least one is sensible").
fn addresses(sp: &Sp<raw::VrrpInstance>, d: &mut Diags) -> Option<(Vec<Vip>, Family)> {
    let r = &sp.value;
    let Some(vip_list) = &r.virtual_ipaddress else {
        d.error(sp.loc, format!("{WHAT} needs `virtual_ipaddress`"));
        return None;
    };
    let virtual_ipaddress = list(&r.virtual_ipaddress, "virtual_ipaddress", d);
    let family = virtual_ipaddress
        .first()
        .map(|n| n.addr())
        .or_else(|| r.unicast_source.as_ref().and_then(|l| l.peek()))
        .or_else(|| r.mcast_source.as_ref().and_then(|l| l.peek()))
        .map_or(Family::Ipv4, |a| Family::of(&a));
    for (leaf, net) in vip_list.value.iter().zip(&virtual_ipaddress) {
        if Family::of(&net.addr()) != family {
            d.push(
                Diag::error(leaf.loc(), format!("{} is {} but this instance's first address is {family}", net.net, Family::of(&net.addr())))
                    .with_help("one address family per instance: make a second vrrp_instance for the other family"),
            );
        }
    }
    Some((virtual_ipaddress, family))
}

/// The VRRP version: 2 for IPv4 and 3 for IPv6 unless given; IPv6 needs 3.
fn version(r: &raw::VrrpInstance, family: Family, d: &mut Diags) -> u8 {
    match &r.version {
        None => match family {
            Family::Ipv4 => 2,
            Family::Ipv6 => 3,
        },
        Some(l) => match l.int_in::<u8>("version", 2, 3, d) {
            Some(2) if family == Family::Ipv6 => {
                d.error(
                    l.loc(),
                    "VRRPv2 is IPv4 only: IPv6 instances need `version = 3`",
                );
                3
            }
            Some(v) => v,
            None => 3,
        },
    }
}

/// `preempt` and `preempt_delay`.
fn preemption(r: &raw::VrrpInstance, d: &mut Diags) -> (bool, Duration) {
    let preempt = or(&r.preempt, "preempt", true, d);
    let preempt_delay = or(&r.preempt_delay, "preempt_delay", Duration::ZERO, d);
    if let Some(l) = &r.preempt_delay {
        if preempt_delay > Duration::from_secs(1000) {
            d.error(l.loc(), "`preempt_delay` is at most \"1000s\"");
        } else if !preempt && !preempt_delay.is_zero() {
            d.warning(
                l.loc(),
                "`preempt_delay` has no effect with `preempt = false`",
            );
        }
    }
    (preempt, preempt_delay)
}

/// The unicast source and peers, and the multicast source: of the instance's family, and
/// never both unicast and multicast.
fn sources(
    r: &raw::VrrpInstance,
    family: Family,
    d: &mut Diags,
) -> (Option<IpAddr>, Vec<IpAddr>, Option<IpAddr>) {
    let unicast_source = super::super::leaf::opt(&r.unicast_source, "unicast_source", d);
    if let (Some(src), Some(l)) = (unicast_source, &r.unicast_source)
        && Family::of(&src) != family
    {
        d.error(
            l.loc(),
            format!("`unicast_source` {src} is not {family} like the virtual addresses"),
        );
    }
    let unicast_peers = list(&r.unicast_peers, "unicast_peers", d);
    if let Some(l) = &r.unicast_peers {
        let mut seen = Unique::new("unicast peer");
        for (leaf, peer) in l.value.iter().zip(&unicast_peers) {
            if Family::of(peer) != family {
                d.error(
                    leaf.loc(),
                    format!("unicast peer {peer} is not {family} like the virtual addresses"),
                );
            } else if Some(*peer) == unicast_source {
                d.error(
                    leaf.loc(),
                    format!("unicast peer {peer} is this router's own `unicast_source`"),
                );
            }
            seen.insert(*peer, leaf.loc(), d);
        }
    }
    if let (Some(l), true) = (&r.unicast_source, unicast_peers.is_empty()) {
        d.error(
            l.loc(),
            "`unicast_source` without `unicast_peers`: list the peers, or drop it to use multicast",
        );
    }
    let mcast_source = super::super::leaf::opt(&r.mcast_source, "mcast_source", d);
    if let (Some(src), Some(l)) = (mcast_source, &r.mcast_source) {
        if Family::of(&src) != family {
            d.error(
                l.loc(),
                format!("`mcast_source` {src} is not {family} like the virtual addresses"),
            );
        } else if !unicast_peers.is_empty() {
            d.error(
                l.loc(),
                "`mcast_source` with `unicast_peers`: the adverts go unicast, from `unicast_source`",
            );
        }
    }
    (unicast_source, unicast_peers, mcast_source)
}

/// Which checksum a VRRPv3 advert over IPv4 carries (nothing else has the choice).
fn v3_checksum(
    r: &raw::VrrpInstance,
    version: u8,
    family: Family,
    d: &mut Diags,
) -> Option<V3Checksum> {
    let applies = version == 3 && family == Family::Ipv4;
    match &r.v3_ipv4_checksum {
        Some(l) => {
            let v = l.get("v3_ipv4_checksum", d);
            if !applies {
                d.error(
                    l.loc(),
                    "`v3_ipv4_checksum` applies to VRRPv3 over IPv4 only",
                );
            }
            v.filter(|_| applies)
        }
        // keepalived's form by default, so that a mixed pair with keepalived agrees.
        None => applies.then_some(V3Checksum::PseudoHeader),
    }
}

/// The tracked interfaces and scripts; a script must be one of the `[[track_script]]`s.
fn tracking(
    r: &raw::VrrpInstance,
    scripts: &[(Loc, TrackScript)],
    d: &mut Diags,
) -> (Vec<TrackRef>, Vec<TrackRef>) {
    let track_interface = track_refs(
        r.track_interface.as_deref(),
        "track_interface",
        d,
        |leaf, d| interface_name(leaf, "name", d),
    );
    let track_script = track_refs(r.track_script.as_deref(), "track_script", d, |leaf, d| {
        let name = leaf.get("name", d)?;
        if scripts.iter().any(|(_, s)| s.name == name) {
            Some(name)
        } else {
            super::unknown_reference(
                d,
                leaf.loc(),
                "[[track_script]]",
                &name,
                scripts.iter().map(|(_, s)| s.name.as_str()),
            );
            None
        }
    });
    (track_interface, track_script)
}

/// `use_vmac` and `vmac_xmit_base`. haldir makes IPv4 VMACs; unicast adverts leave from the
/// base interface (the macvlan has no address to route them from).
fn vmac(
    r: &raw::VrrpInstance,
    vrid: Option<u8>,
    family: Family,
    unicast_peers: &[std::net::IpAddr],
    d: &mut Diags,
) -> Option<crate::config::model::Vmac> {
    let xmit_base = super::or(&r.vmac_xmit_base, "vmac_xmit_base", false, d);
    let Some(l) = &r.use_vmac else {
        if let (true, Some(x)) = (xmit_base, &r.vmac_xmit_base) {
            d.error(x.loc(), "`vmac_xmit_base` without `use_vmac`");
        }
        return None;
    };
    let name = match l.get("use_vmac", d)? {
        VmacName::Off => return None,
        VmacName::Default => format!("vrrp.{}", vrid?),
        VmacName::Named(n) => n,
    };
    if name.is_empty() || name.len() >= 16 || name.contains(['/', ' ']) {
        d.error(
            l.loc(),
            format!("`use_vmac` \"{name}\" is not an interface name (1 to 15 characters)"),
        );
        return None;
    }
    if family == Family::Ipv6 {
        d.error(
            l.loc(),
            "`use_vmac` is for IPv4 instances: haldir makes no IPv6 VMAC yet",
        );
        return None;
    }
    if !unicast_peers.is_empty() && !xmit_base {
        d.push(
            Diag::error(
                l.loc(),
                "`use_vmac` with `unicast_peers` needs `vmac_xmit_base = true`",
            )
            .with_help("the macvlan holds no address to send unicast adverts from; the base interface does"),
        );
        return None;
    }
    Some(crate::config::model::Vmac { name, xmit_base })
}

/// v2 carries whole seconds in one byte; v3 centiseconds in 12 bits.
fn advert_interval(
    leaf: &Option<super::super::leaf::Leaf<super::super::types::Dur>>,
    version: u8,
    d: &mut Diags,
) -> Duration {
    let default = Duration::from_secs(1);
    let Some(l) = leaf else { return default };
    let Some(v) = l.get("advert_interval", d) else {
        return default;
    };
    let ok = match version {
        2 => v.subsec_nanos() == 0 && (1..=255).contains(&v.as_secs()),
        _ => v.as_nanos() % 10_000_000 == 0 && (1..=4095).contains(&(v.as_millis() / 10)),
    };
    if !ok {
        let (range, hint) = match version {
            2 => (
                "whole seconds from \"1s\" to \"255s\"",
                "use `version = 3` for sub-second intervals",
            ),
            _ => (
                "steps of 10ms from \"10ms\" to \"40.95s\"",
                "VRRPv3 carries the interval in centiseconds",
            ),
        };
        d.push(
            Diag::error(
                l.loc(),
                format!(
                    "`advert_interval` = {} cannot be sent in VRRPv{version}: it takes {range}",
                    l.raw.value.describe()
                ),
            )
            .with_help(hint),
        );
        return default;
    }
    v
}

fn authentication(
    sp: &Sp<raw::Authentication>,
    version: u8,
    d: &mut Diags,
) -> Option<Authentication> {
    if version != 2 {
        d.push(
            Diag::error(
                sp.loc,
                "`authentication` is VRRPv2 only: RFC 5798 removed it from VRRPv3",
            )
            .with_help("set `version = 2` (IPv4) or remove `authentication`"),
        );
        return None;
    }
    let kind = req(&sp.value.kind, "type", "authentication", sp.loc, d);
    let password = req(&sp.value.password, "password", "authentication", sp.loc, d);
    if let (Some(p), Some(l)) = (&password, &sp.value.password)
        && (p.is_empty() || p.len() > 8)
    {
        d.error(
            l.loc(),
            format!(
                "the VRRP password is 1 to 8 bytes; this one has {}",
                p.len()
            ),
        );
    }
    Some(Authentication {
        kind: kind?,
        password: password?,
    })
}

fn garp(sp: &Sp<raw::Garp>, d: &mut Diags) -> Garp {
    let g = &sp.value;
    let def = Garp::default();
    let delay = or(&g.delay, "delay", def.delay, d);
    let repeat = int_or(&g.repeat, "repeat", 1, 255, def.repeat, d);
    Garp {
        delay,
        repeat,
        lower_prio_repeat: int_or(&g.lower_prio_repeat, "lower_prio_repeat", 0, 255, repeat, d),
        lower_prio_delay: or(&g.lower_prio_delay, "lower_prio_delay", delay, d),
        refresh: or(&g.refresh, "refresh", def.refresh, d),
        refresh_repeat: int_or(
            &g.refresh_repeat,
            "refresh_repeat",
            1,
            255,
            def.refresh_repeat,
            d,
        ),
        interval: or(&g.interval, "interval", def.interval, d),
        na_interval: or(&g.na_interval, "na_interval", def.na_interval, d),
    }
}

fn track_refs(
    raw: Option<&[Sp<raw::TrackRef>]>,
    what: &str,
    d: &mut Diags,
    name_of: impl Fn(&super::super::leaf::Leaf<String>, &mut Diags) -> Option<String>,
) -> Vec<TrackRef> {
    let mut seen = Unique::new(what);
    let mut out = Vec::new();
    for sp in raw.unwrap_or(&[]) {
        let weight = sp
            .value
            .weight
            .as_ref()
            .and_then(|w| w.int_in("weight", -254, 254, d));
        let Some(name_leaf) = &sp.value.name else {
            d.error(sp.loc, format!("each `{what}` entry needs `name`"));
            continue;
        };
        if let Some(name) = name_of(name_leaf, d)
            && seen.insert(name.clone(), name_leaf.loc(), d)
        {
            out.push(TrackRef { name, weight });
        }
    }
    out
}

/// A sync group's notify: the instances' keys but `master_rx_lower_pri`, an instance's event.
fn group_notify(sp: &Sp<raw::Notify>, d: &mut Diags) -> Notify {
    if let Some(c) = &sp.value.master_rx_lower_pri {
        d.error(
            c.loc,
            "`master_rx_lower_pri` is an instance's: a sync group hears no adverts",
        );
    }
    notify(sp, d)
}

fn notify(sp: &Sp<raw::Notify>, d: &mut Diags) -> Notify {
    let n = &sp.value;
    let cmd = |c: &Option<raw::Command>, key: &str, d: &mut Diags| {
        c.as_ref().and_then(|c| command(c, key, d))
    };
    Notify {
        master: cmd(&n.master, "master", d),
        backup: cmd(&n.backup, "backup", d),
        fault: cmd(&n.fault, "fault", d),
        stop: cmd(&n.stop, "stop", d),
        any: cmd(&n.any, "any", d),
        master_rx_lower_pri: cmd(&n.master_rx_lower_pri, "master_rx_lower_pri", d),
        user: n.user.as_ref().and_then(|l| super::identity(l, "user", d)),
    }
}

pub(super) fn sync_groups(
    raw: &[Sp<raw::SyncGroup>],
    instances: &[(Loc, VrrpInstance)],
    alerts: &super::Alerts,
    d: &mut Diags,
) -> Vec<SyncGroup> {
    let mut names = Unique::new("vrrp_sync_group name");
    let mut member_of: HashMap<String, Loc> = HashMap::new();
    let mut out = Vec::new();
    for sp in raw {
        let g = &sp.value;
        let name = req(&g.name, "name", "[[vrrp_sync_group]]", sp.loc, d);
        let Some(list) = &g.instances else {
            d.error(sp.loc, "[[vrrp_sync_group]] needs `instances`");
            continue;
        };
        if list.value.is_empty() {
            d.error(
                list.loc,
                "`instances` is empty: a sync group needs at least one instance",
            );
        }
        let mut members = Vec::new();
        for leaf in &list.value {
            let Some(inst) = leaf.get("instances", d) else {
                continue;
            };
            if !instances.iter().any(|(_, i)| i.name == inst) {
                super::unknown_reference(
                    d,
                    leaf.loc(),
                    "vrrp_instance",
                    &inst,
                    instances.iter().map(|(_, i)| i.name.as_str()),
                );
                continue;
            }
            if let Some(first) = member_of.get(&inst) {
                d.push(
                    Diag::error(
                        leaf.loc(),
                        format!("vrrp_instance `{inst}` is already in a sync group"),
                    )
                    .with_related(*first, "listed"),
                );
                continue;
            }
            member_of.insert(inst.clone(), leaf.loc());
            members.push(inst);
        }
        if let Some(name) = name {
            let at = g.name.as_ref().map_or(sp.loc, |n| n.loc());
            if names.insert(name.clone(), at, d) {
                out.push(SyncGroup {
                    name,
                    instances: members,
                    smtp_alert: super::email::alert(&g.smtp_alert, alerts.vrrp, d),
                    notify: g
                        .notify
                        .as_ref()
                        .map(|n| group_notify(n, d))
                        .unwrap_or_default(),
                });
            }
        }
    }
    out
}
