//! Netlink plumbing shared by IPVS (generic netlink) and VRRP, the real-server role and the
//! fixed routes (rtnetlink): [`wire`] frames and attributes as plain functions over bytes,
//! [`socket::Socket`] is the one socket type (sequence numbers, acknowledgements),
//! [`route`] builds the rtnetlink messages (addresses, routes, rules, links) with
//! netlink-packet-route's types, and [`rtnl::Rtnl`] sends them.

pub(crate) mod route;
pub(crate) mod rtnl;
pub(crate) mod socket;
pub mod wire;
