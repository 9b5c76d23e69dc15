//! rtnetlink messages for the routes and policy rules a master holds (keepalived's
//! virtual_routes and virtual_rules). Pure: the payloads only; [`super::link::Rtnl`] sends them.

use std::net::IpAddr;

use crate::config::route::{Route, RouteType, Rule};
use crate::ipvs::wire::AttrWriter;

pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const RTM_NEWRULE: u16 = 32;
pub const RTM_DELRULE: u16 = 33;

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_PREFSRC: u16 = 7;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
/// Routes haldir adds carry the "static" protocol, as routes an administrator adds.
const RTPROT_STATIC: u8 = 4;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTNH_F_ONLINK: u32 = 4;

const FRA_DST: u16 = 1;
const FRA_SRC: u16 = 2;
const FRA_IIFNAME: u16 = 3;
const FRA_PRIORITY: u16 = 6;
const FRA_FWMARK: u16 = 10;
const FRA_TABLE: u16 = 15;
const FRA_FWMASK: u16 = 16;
const FRA_OIFNAME: u16 = 17;
const FR_ACT_TO_TBL: u8 = 1;

fn family(v6: bool) -> u8 {
    if v6 {
        libc::AF_INET6 as u8
    } else {
        libc::AF_INET as u8
    }
}

fn octets(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// A table number as the header's byte: itself below 256, else 0 and the attribute decides.
fn table_byte(t: u32) -> u8 {
    u8::try_from(t).unwrap_or(0)
}

/// The interface indexes of a route's `dev` and of each of its nexthops' `dev`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Devices {
    pub route: Option<u32>,
    pub nexthops: Vec<Option<u32>>,
}

/// The body of RTM_NEWROUTE / RTM_DELROUTE.
pub fn route(r: &Route, devices: &Devices) -> Vec<u8> {
    let ifindex = devices.route;
    let kind = match r.kind {
        RouteType::Unicast => 1,
        RouteType::Blackhole => 6,
        RouteType::Unreachable => 7,
        RouteType::Prohibit => 8,
    };
    // `ip route`'s default: a unicast route without a gateway is on the link.
    let scope = r.scope.unwrap_or(
        if r.kind == RouteType::Unicast && r.via.is_none() && r.nexthops.is_empty() {
            RT_SCOPE_LINK
        } else {
            RT_SCOPE_UNIVERSE
        },
    );
    let mut out = vec![
        family(r.to.addr().is_ipv6()),
        r.to.prefix_len(),
        0,
        0,
        table_byte(r.table),
        RTPROT_STATIC,
        scope,
        kind,
    ];
    out.extend_from_slice(&(if r.onlink { RTNH_F_ONLINK } else { 0 }).to_ne_bytes());
    let mut w = AttrWriter::new();
    if r.to.prefix_len() > 0 {
        w.bytes(RTA_DST, &octets(r.to.network()));
    }
    if let Some(s) = r.src {
        w.bytes(RTA_PREFSRC, &octets(s));
    }
    if let Some(g) = r.via {
        w.bytes(RTA_GATEWAY, &octets(g));
    }
    if let Some(i) = ifindex {
        w.u32(RTA_OIF, i);
    }
    if let Some(m) = r.metric {
        w.u32(RTA_PRIORITY, m);
    }
    if !r.nexthops.is_empty() {
        w.bytes(RTA_MULTIPATH, &multipath(r, &devices.nexthops));
    }
    w.u32(RTA_TABLE, r.table);
    out.extend_from_slice(&w.finish());
    out
}

/// RTA_MULTIPATH: one `struct rtnexthop` (length, flags, hops = weight - 1, ifindex) per
/// path, each followed by its gateway attribute.
fn multipath(r: &Route, ifindexes: &[Option<u32>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, h) in r.nexthops.iter().enumerate() {
        let mut attrs = AttrWriter::new();
        if let Some(g) = h.via {
            attrs.bytes(RTA_GATEWAY, &octets(g));
        }
        let attrs = attrs.finish();
        let len = u16::try_from(8 + attrs.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_ne_bytes());
        out.push(if h.onlink { RTNH_F_ONLINK as u8 } else { 0 });
        out.push(u8::try_from(h.weight.unwrap_or(1) - 1).unwrap_or(u8::MAX));
        let ifindex = ifindexes.get(i).copied().flatten().unwrap_or(0);
        out.extend_from_slice(&ifindex.to_ne_bytes());
        out.extend_from_slice(&attrs);
    }
    out
}

/// The body of RTM_NEWRULE / RTM_DELRULE.
pub fn rule(r: &Rule) -> Vec<u8> {
    let mut out = vec![
        family(r.is_ipv6()),
        r.to.map_or(0, |n| n.prefix_len()),
        r.from.map_or(0, |n| n.prefix_len()),
        0,
        table_byte(r.table),
        0,
        0,
        FR_ACT_TO_TBL,
    ];
    out.extend_from_slice(&0u32.to_ne_bytes());
    let mut w = AttrWriter::new();
    if let Some(n) = r.to {
        w.bytes(FRA_DST, &octets(n.network()));
    }
    if let Some(n) = r.from {
        w.bytes(FRA_SRC, &octets(n.network()));
    }
    if let Some(i) = &r.iif {
        w.string(FRA_IIFNAME, i);
    }
    if let Some(o) = &r.oif {
        w.string(FRA_OIFNAME, o);
    }
    if let Some((mark, mask)) = r.fwmark {
        w.u32(FRA_FWMARK, mark);
        if let Some(m) = mask {
            w.u32(FRA_FWMASK, m);
        }
    }
    if let Some(p) = r.priority {
        w.u32(FRA_PRIORITY, p);
    }
    w.u32(FRA_TABLE, r.table);
    out.extend_from_slice(&w.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let b = route(&r, &devices);
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
        let b = route(&r, &dev(Some(3)));
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
        assert_eq!(route(&link, &dev(Some(5)))[6], RT_SCOPE_LINK);
        let hole: Route = "blackhole 192.168.113.1/32".parse().unwrap();
        let b = route(&hole, &dev(None));
        assert_eq!((b[4], b[6], b[7]), (254, RT_SCOPE_UNIVERSE, 6));
    }

    #[test]
    fn a_rule_from_a_prefix_to_a_table() {
        let r: Rule = "from 192.168.200.0/24 priority 100 table 2"
            .parse()
            .unwrap();
        let b = rule(&r);
        assert_eq!(&b[..8], &[2, 0, 24, 0, 2, 0, 0, FR_ACT_TO_TBL]);
    }
}
