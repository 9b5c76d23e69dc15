//! The rtnetlink messages haldir sends, built with netlink-packet-route's types: the virtual
//! addresses a master holds (IPv6 ones without duplicate address detection, which would hold
//! a moved address back for a second or more), its routes and policy rules (keepalived's
//! virtual_routes and virtual_rules, and the fixed ones), the macvlan of `use_vmac`; and the
//! link state read from the kernel's link announcements. Pure: no socket.

use std::net::IpAddr;

use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage, AddressScope};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoMacVlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, MacVlanMode,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteNextHop, RouteNextHopFlags,
    RouteProtocol, RouteScope, RouteType as Kind,
};
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::config::route::{Route, RouteType, Rule};
use crate::config::vip::Vip;

fn family(v6: bool) -> AddressFamily {
    if v6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    }
}

/// A table number as the header's byte: itself below 256, else 0 and the attribute decides.
fn table_byte(t: u32) -> u8 {
    u8::try_from(t).unwrap_or(0)
}

/// The address message (RTM_NEWADDR / RTM_DELADDR) of a virtual address on `ifindex`.
pub(crate) fn address(ifindex: u32, vip: &Vip) -> AddressMessage {
    let net = &vip.net;
    let v6 = net.addr().is_ipv6();
    let mut m = AddressMessage::default();
    m.header.family = family(v6);
    // With a peer, its prefix length is the address's (as `ip` and keepalived take it).
    m.header.prefix_len = vip.peer.map_or(net.prefix_len(), |p| p.prefix_len());
    m.header.scope = AddressScope::from(vip.scope);
    m.header.index = ifindex;
    m.attributes.push(AddressAttribute::Local(net.addr()));
    // A point-to-point address: IFA_ADDRESS is the other end (as `ip address add … peer`).
    m.attributes.push(AddressAttribute::Address(
        vip.peer.map_or(net.addr(), |p| p.addr()),
    ));
    if let Some(IpAddr::V4(b)) = vip.brd {
        m.attributes.push(AddressAttribute::Broadcast(b));
    }
    if let Some(label) = &vip.label {
        m.attributes.push(AddressAttribute::Label(label.clone()));
    }
    // IPv6 addresses skip duplicate address detection unless `-nodad` (keepalived's sense).
    let nodad = if v6 && !vip.dad {
        AddressFlags::Nodad.bits()
    } else {
        0
    };
    let flags = AddressFlags::from_bits_truncate(nodad | vip.flags);
    if !flags.is_empty() {
        m.attributes.push(AddressAttribute::Flags(flags));
    }
    m
}

/// The interface indexes of a route's `dev` and of each of its nexthops' `dev`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Devices {
    pub route: Option<u32>,
    pub nexthops: Vec<Option<u32>>,
}

/// The route message (RTM_NEWROUTE / RTM_DELROUTE) of `r`, with the "static" protocol of
/// routes an administrator adds.
pub(crate) fn route(r: &Route, devices: &Devices) -> RouteMessage {
    let mut m = RouteMessage::default();
    let h = &mut m.header;
    h.address_family = family(r.to.addr().is_ipv6());
    h.destination_prefix_length = r.to.prefix_len();
    h.table = table_byte(r.table);
    h.protocol = RouteProtocol::Static;
    h.kind = match r.kind {
        RouteType::Unicast => Kind::Unicast,
        RouteType::Blackhole => Kind::BlackHole,
        RouteType::Unreachable => Kind::Unreachable,
        RouteType::Prohibit => Kind::Prohibit,
    };
    // `ip route`'s default: a unicast route without a gateway is on the link.
    h.scope = match r.scope {
        Some(s) => RouteScope::from(s),
        None if r.kind == RouteType::Unicast && r.via.is_none() && r.nexthops.is_empty() => {
            RouteScope::Link
        }
        None => RouteScope::Universe,
    };
    if r.onlink {
        h.flags = RouteFlags::Onlink;
    }
    let a = &mut m.attributes;
    if r.to.prefix_len() > 0 {
        a.push(RouteAttribute::Destination(r.to.network().into()));
    }
    if let Some(s) = r.src {
        a.push(RouteAttribute::PrefSource(s.into()));
    }
    if let Some(g) = r.via {
        a.push(RouteAttribute::Gateway(g.into()));
    }
    if let Some(i) = devices.route {
        a.push(RouteAttribute::Oif(i));
    }
    if let Some(metric) = r.metric {
        a.push(RouteAttribute::Priority(metric));
    }
    if !r.nexthops.is_empty() {
        a.push(RouteAttribute::MultiPath(nexthops(r, &devices.nexthops)));
    }
    a.push(RouteAttribute::Table(r.table));
    m
}

/// The route of an announced VIP: `PREFIX dev lo proto PROTOCOL metric METRIC table TABLE`,
/// for the routing daemon to learn from the table and export (the table is not one the host
/// forwards with: no rule points to it).
pub(crate) fn announced(
    prefix: &ipnet::IpNet,
    table: u32,
    protocol: u8,
    metric: u32,
    lo: u32,
) -> RouteMessage {
    let mut m = RouteMessage::default();
    let h = &mut m.header;
    h.address_family = family(prefix.addr().is_ipv6());
    h.destination_prefix_length = prefix.prefix_len();
    h.table = table_byte(table);
    h.protocol = RouteProtocol::from(protocol);
    h.kind = Kind::Unicast;
    h.scope = RouteScope::Link;
    let a = &mut m.attributes;
    a.push(RouteAttribute::Destination(prefix.addr().into()));
    a.push(RouteAttribute::Oif(lo));
    a.push(RouteAttribute::Priority(metric));
    a.push(RouteAttribute::Table(table));
    m
}

/// A prefix the host accepts as its own without an address: `local PREFIX dev lo proto
/// PROTOCOL table local` (scope host).
pub(crate) fn local_route(prefix: &ipnet::IpNet, protocol: u8, lo: u32) -> RouteMessage {
    const LOCAL_TABLE: u32 = 255;
    let mut m = RouteMessage::default();
    let h = &mut m.header;
    h.address_family = family(prefix.addr().is_ipv6());
    h.destination_prefix_length = prefix.prefix_len();
    h.table = table_byte(LOCAL_TABLE);
    h.protocol = RouteProtocol::from(protocol);
    h.kind = Kind::Local;
    h.scope = RouteScope::Host;
    let a = &mut m.attributes;
    a.push(RouteAttribute::Destination(prefix.addr().into()));
    a.push(RouteAttribute::Oif(lo));
    a.push(RouteAttribute::Table(LOCAL_TABLE));
    m
}

/// A route found in a table: what haldir needs to adopt its own and report the others'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TableRoute {
    pub prefix: ipnet::IpNet,
    pub protocol: u8,
    pub metric: u32,
}

/// The request for a dump of every IPv4 or IPv6 route (the kernel filters by table only
/// with strict checking: the caller keeps the table it wants).
pub(crate) fn route_dump(v6: bool) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = family(v6);
    m
}

/// The route of a dump, if it is in `table`.
pub(crate) fn table_route(m: &RouteMessage, table: u32) -> Option<TableRoute> {
    let mut in_table = u32::from(m.header.table);
    let mut dest = None;
    let mut metric = 0;
    for a in &m.attributes {
        match a {
            RouteAttribute::Table(t) => in_table = *t,
            RouteAttribute::Destination(RouteAddress::Inet(a)) => dest = Some(IpAddr::V4(*a)),
            RouteAttribute::Destination(RouteAddress::Inet6(a)) => dest = Some(IpAddr::V6(*a)),
            RouteAttribute::Priority(p) => metric = *p,
            _ => {}
        }
    }
    if in_table != table {
        return None;
    }
    let v6 = m.header.address_family == AddressFamily::Inet6;
    let addr = dest.unwrap_or(if v6 {
        IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
    });
    let prefix = ipnet::IpNet::new(addr, m.header.destination_prefix_length).ok()?;
    Some(TableRoute {
        prefix,
        protocol: u8::from(m.header.protocol),
        metric,
    })
}

/// The request for a dump of every IPv4 or IPv6 policy rule.
pub(crate) fn rule_dump(v6: bool) -> RuleMessage {
    let mut m = RuleMessage::default();
    m.header.family = family(v6);
    m
}

/// The priority of a dumped rule that looks up `table`, if it does.
pub(crate) fn rule_to_table(m: &RuleMessage, table: u32) -> Option<u32> {
    let mut to = u32::from(m.header.table);
    let mut priority = 0;
    for a in &m.attributes {
        match a {
            RuleAttribute::Table(t) => to = *t,
            RuleAttribute::Priority(p) => priority = *p,
            _ => {}
        }
    }
    (to == table && m.header.action == RuleAction::ToTable).then_some(priority)
}

/// RTA_MULTIPATH: one next hop per path (hops = weight - 1), each with its gateway.
fn nexthops(r: &Route, ifindexes: &[Option<u32>]) -> Vec<RouteNextHop> {
    r.nexthops
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut hop = RouteNextHop::default();
            if h.onlink {
                hop.flags = RouteNextHopFlags::Onlink;
            }
            hop.hops = u8::try_from(h.weight.unwrap_or(1).saturating_sub(1)).unwrap_or(u8::MAX);
            hop.interface_index = ifindexes.get(i).copied().flatten().unwrap_or(0);
            hop.attributes = h
                .via
                .map(|g| RouteAttribute::Gateway(RouteAddress::from(g)))
                .into_iter()
                .collect();
            hop
        })
        .collect()
}

/// The rule message (RTM_NEWRULE / RTM_DELRULE) of `r`: to its table.
pub(crate) fn rule(r: &Rule) -> RuleMessage {
    let mut m = RuleMessage::default();
    m.header.family = family(r.is_ipv6());
    m.header.dst_len = r.to.map_or(0, |n| n.prefix_len());
    m.header.src_len = r.from.map_or(0, |n| n.prefix_len());
    m.header.table = table_byte(r.table);
    m.header.action = RuleAction::ToTable;
    let a = &mut m.attributes;
    if let Some(n) = r.to {
        a.push(RuleAttribute::Destination(n.network()));
    }
    if let Some(n) = r.from {
        a.push(RuleAttribute::Source(n.network()));
    }
    if let Some(i) = &r.iif {
        a.push(RuleAttribute::Iifname(i.clone()));
    }
    if let Some(o) = &r.oif {
        a.push(RuleAttribute::Oifname(o.clone()));
    }
    if let Some((mark, mask)) = r.fwmark {
        a.push(RuleAttribute::FwMark(mark));
        if let Some(m) = mask {
            a.push(RuleAttribute::FwMask(m));
        }
    }
    if let Some(p) = r.priority {
        a.push(RuleAttribute::Priority(p));
    }
    a.push(RuleAttribute::Table(r.table));
    m
}

/// The link message (RTM_NEWLINK) making the macvlan `name` on `base`, up, in private mode,
/// with `mac`.
pub(crate) fn macvlan(name: &str, base: u32, mac: [u8; 6]) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.flags = LinkFlags::Up;
    m.header.change_mask = LinkFlags::Up;
    m.attributes = vec![
        LinkAttribute::IfName(name.to_string()),
        LinkAttribute::Link(base),
        LinkAttribute::Address(mac.to_vec()),
        LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::MacVlan),
            LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(
                MacVlanMode::Private,
            )])),
        ]),
    ];
    m
}

/// The link message (RTM_DELLINK) naming the interface `index`.
pub(crate) fn link(index: u32) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m
}

/// The interface a link stands on (IFLA_LINK: a macvlan's or VLAN's base).
pub(crate) fn link_parent(m: &LinkMessage) -> Option<u32> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::Link(parent) => Some(*parent),
        _ => None,
    })
}

/// An interface's index and whether it is up with a carrier, from a link announcement.
pub(crate) fn link_state(msg: &RouteNetlinkMessage) -> Option<(u32, bool)> {
    match msg {
        RouteNetlinkMessage::NewLink(l) => {
            let f = l.header.flags;
            Some((
                l.header.index,
                f.contains(LinkFlags::Up) && f.contains(LinkFlags::Running),
            ))
        }
        RouteNetlinkMessage::DelLink(l) => Some((l.header.index, false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    //! The bytes the kernel reads (`struct rtmsg`, `fib_rule_hdr`, `ifinfomsg` and their
    //! attributes, from linux/rtnetlink.h, fib_rules.h and if_link.h), checked by offset: an
    //! encoding the kernel would misread fails here, not only in the scenarios.

    use super::*;
    use netlink_packet_core::{Emitable, NetlinkDeserializable, NetlinkHeader};

    const RT_SCOPE_UNIVERSE: u8 = 0;
    const RT_SCOPE_LINK: u8 = 253;
    const RTPROT_STATIC: u8 = 4;
    const RTA_MULTIPATH: u16 = 9;
    const FR_ACT_TO_TBL: u8 = 1;
    const IFLA_LINKINFO: u16 = 18;
    const IFLA_INFO_DATA: u16 = 2;

    fn bytes<T: Emitable>(m: &T) -> Vec<u8> {
        let mut b = vec![0; m.buffer_len()];
        m.emit(&mut b);
        b
    }

    const RTM_NEWROUTE: u16 = 24;
    const RTM_NEWRULE: u16 = 32;

    /// A message as a dump would bring it back (the same decoding as `Rtnl`'s).
    fn read_back(kind: u16, payload: &[u8]) -> RouteNetlinkMessage {
        let mut h = NetlinkHeader::default();
        h.message_type = kind;
        RouteNetlinkMessage::deserialize(&h, payload).expect("it decodes")
    }

    #[test]
    fn a_local_route_for_an_announced_vip() {
        let b = bytes(&local_route(&"192.0.2.10/32".parse().unwrap(), 200, 1));
        // rtmsg: family, dst_len, src_len, tos, table (local), protocol, scope (host), type
        // (RTN_LOCAL).
        assert_eq!(&b[..8], &[2, 32, 0, 0, 255, 200, 254, 2]);
    }

    #[test]
    fn a_route_read_back_from_a_table_dump() {
        let prefix = "2001:db8::10/128".parse().unwrap();
        let m = announced(&prefix, 200, 201, 7, 1);
        let RouteNetlinkMessage::NewRoute(parsed) = read_back(RTM_NEWROUTE, &bytes(&m)) else {
            panic!("a route message reads back as a route");
        };
        assert_eq!(
            table_route(&parsed, 200),
            Some(TableRoute {
                prefix,
                protocol: 201,
                metric: 7
            })
        );
        assert_eq!(
            table_route(&parsed, 100),
            None,
            "another table's route is not ours"
        );
    }

    #[test]
    fn a_rule_that_looks_up_a_table() {
        let r: Rule = "from 198.51.100.0/24 table 200 priority 1234"
            .parse()
            .unwrap();
        let RouteNetlinkMessage::NewRule(parsed) = read_back(RTM_NEWRULE, &bytes(&rule(&r))) else {
            panic!("a rule message reads back as a rule");
        };
        assert_eq!(rule_to_table(&parsed, 200), Some(1234));
        assert_eq!(rule_to_table(&parsed, 201), None);
    }

    #[test]
    fn an_ipv6_address_without_dad() {
        let vip: Vip = "2001:db8::100/128".parse().unwrap();
        let b = bytes(&address(4, &vip));
        // ifaddrmsg: family, prefix length, flags, scope, index.
        assert_eq!(&b[..8], &[10, 128, 0, 0, 4, 0, 0, 0]);
        // IFA_FLAGS (8) last: IFA_F_NODAD (2).
        assert_eq!(&b[b.len() - 8..], &[8, 0, 8, 0, 2, 0, 0, 0]);
    }

    fn dev(route: Option<u32>) -> Devices {
        Devices {
            route,
            nexthops: Vec::new(),
        }
    }

    #[test]
    fn a_multipath_route() {
        let r: Route = "10.9.0.0/16 nexthop via 10.0.0.1 nexthop via 10.0.0.2 dev eth1 weight 3"
            .parse()
            .unwrap();
        let devices = Devices {
            route: None,
            nexthops: vec![None, Some(7)],
        };
        let b = bytes(&route(&r, &devices));
        assert_eq!(b[6], RT_SCOPE_UNIVERSE, "gateways: universe scope");
        let attrs = &b[12..];
        // RTA_DST (8 bytes), then RTA_MULTIPATH: 4 + 2 × (8 + RTA_GATEWAY 8) = 36.
        let mp = &attrs[8..44];
        assert_eq!(&mp[..4], &[36, 0, RTA_MULTIPATH as u8, 0]);
        // rtnexthop: len 16, flags 0, hops 0, ifindex 0; its gateway 10.0.0.1.
        assert_eq!(
            &mp[4..20],
            &[16, 0, 0, 0, 0, 0, 0, 0, 8, 0, 5, 0, 10, 0, 0, 1]
        );
        // weight 3 is hops 2, on ifindex 7.
        assert_eq!(&mp[20..28], &[16, 0, 0, 2, 7, 0, 0, 0]);
    }

    #[test]
    fn a_gateway_route_in_a_table() {
        let r: Route = "10.9.0.0/16 via 10.0.0.1 table 300 metric 7"
            .parse()
            .unwrap();
        let b = bytes(&route(&r, &dev(Some(3))));
        // family, dst_len, src_len, tos, table (300 > 255: 0), protocol, scope, type
        assert_eq!(
            &b[..8],
            &[2, 16, 0, 0, 0, RTPROT_STATIC, RT_SCOPE_UNIVERSE, 1]
        );
        let attrs = &b[12..];
        // RTA_DST 10.9.0.0 first: len 8, type 1.
        assert_eq!(&attrs[..8], &[8, 0, 1, 0, 10, 9, 0, 0]);
        // RTA_TABLE last carries the full number.
        assert_eq!(&attrs[attrs.len() - 8..], &[8, 0, 15, 0, 44, 1, 0, 0]);
    }

    #[test]
    fn a_link_route_and_a_blackhole() {
        let link: Route = "192.168.111.0/24 dev eth2".parse().unwrap();
        assert_eq!(bytes(&route(&link, &dev(Some(5))))[6], RT_SCOPE_LINK);
        let hole: Route = "blackhole 192.168.113.1/32".parse().unwrap();
        let b = bytes(&route(&hole, &dev(None)));
        assert_eq!((b[4], b[6], b[7]), (254, RT_SCOPE_UNIVERSE, 6));
    }

    #[test]
    fn a_rule_from_a_prefix_to_a_table() {
        let r: Rule = "from 192.168.200.0/24 priority 100 table 2"
            .parse()
            .unwrap();
        let b = bytes(&rule(&r));
        assert_eq!(&b[..8], &[2, 0, 24, 0, 2, 0, 0, FR_ACT_TO_TBL]);
    }
    #[test]
    fn a_private_macvlan_with_the_virtual_mac() {
        let b = bytes(&macvlan("vrrp.51", 7, [0, 0, 0x5e, 0, 1, 51]));
        // ifinfomsg: flags and change IFF_UP.
        assert_eq!(&b[8..16], &[1, 0, 0, 0, 1, 0, 0, 0]);
        let attrs = &b[16..];
        // IFLA_IFNAME "vrrp.51\0" (len 12), then IFLA_LINK 7.
        assert_eq!(&attrs[..4], &[12, 0, 3, 0]);
        assert_eq!(&attrs[4..12], b"vrrp.51\0");
        assert_eq!(&attrs[12..20], &[8, 0, 5, 0, 7, 0, 0, 0]);
        // IFLA_ADDRESS: the MAC, padded to 12.
        assert_eq!(&attrs[20..30], &[10, 0, 1, 0, 0, 0, 0x5e, 0, 1, 51]);
        // IFLA_LINKINFO { KIND "macvlan", DATA { MODE private } }.
        let info = &attrs[32..];
        // The nests carry no NLA_F_NESTED flag, as iproute2 sends them; the kernel parses
        // IFLA_LINKINFO either way.
        assert_eq!(
            u16::from_ne_bytes([info[2], info[3]]) & 0x7fff,
            IFLA_LINKINFO
        );
        // IFLA_INFO_KIND "macvlan", NUL-terminated (iproute2 leaves the NUL out; the kernel
        // reads the name either way).
        assert_eq!(&info[4..8], &[12, 0, 1, 0]);
        assert_eq!(&info[8..16], b"macvlan\0");
        assert_eq!(&info[16..19], &[12, 0, IFLA_INFO_DATA as u8]);
        assert_eq!(&info[20..28], &[8, 0, 1, 0, 1, 0, 0, 0]);
        assert_eq!(
            usize::from(u16::from_ne_bytes([info[0], info[1]])),
            info.len()
        );
    }
}
