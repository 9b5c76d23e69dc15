//! rtnetlink requests, one at a time and acknowledged: what a master holds (addresses,
//! routes, rules), the real-server role's addresses, the macvlan of `use_vmac`; and the
//! kernel's link announcements.

use std::io;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST,
    NetlinkDeserializable, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::AddressMessage;

use super::route::{self, Devices};
use super::socket::{Protocol, Socket};
use super::wire;
use crate::config::route::{Route, Rule};
use crate::config::vip::Vip;

/// The loopback's interface index, the same in every network namespace.
const LOOPBACK: u32 = 1;

/// What a request may find already done: an object that exists (adding) or is gone
/// (removing) is fine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    Present,
    Absent,
}

pub(crate) struct Rtnl {
    sock: Socket,
}

/// A message framed as a request of `flags` with sequence number `seq`.
fn frame(msg: RouteNetlinkMessage, flags: u16, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    header.sequence_number = seq;
    let mut m = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
    m.finalize();
    let mut buf = vec![0; m.header.length as usize];
    m.serialize(&mut buf);
    buf
}

impl Rtnl {
    pub(crate) fn open() -> io::Result<Self> {
        Ok(Rtnl {
            sock: Socket::open(Protocol::Route, 0, 8192)?,
        })
    }

    /// One request and its acknowledgement. A delete must carry no create flags: 0x200 is
    /// NLM_F_BULK there.
    pub(crate) fn request(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        let seq = self.sock.next_seq();
        self.sock.acknowledged(&frame(msg, flags, seq), seq)
    }

    /// Adds (with `create` flags) or removes; what is already there, or already gone, is
    /// fine.
    fn set(
        &mut self,
        want: Want,
        new: RouteNetlinkMessage,
        del: RouteNetlinkMessage,
        create: u16,
    ) -> io::Result<()> {
        let r = match want {
            Want::Present => self.request(new, create),
            Want::Absent => self.request(del, 0),
        };
        match (want, r) {
            (Want::Present, Err(e)) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            (Want::Absent, Err(e))
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EADDRNOTAVAIL | libc::ENOENT | libc::ESRCH)
                ) =>
            {
                Ok(())
            }
            (_, other) => other,
        }
    }

    /// A route is prepended, as keepalived adds its routes (`ip route prepend`: before any
    /// matching route, rather than refused because one exists).
    pub(crate) fn route(&mut self, want: Want, r: &Route, devices: &Devices) -> io::Result<()> {
        let m = route::route(r, devices);
        let (new, del) = (
            RouteNetlinkMessage::NewRoute(m.clone()),
            RouteNetlinkMessage::DelRoute(m),
        );
        self.set(want, new, del, NLM_F_CREATE)
    }

    /// The route of an announced VIP in haldir's table (see [`route::announced`]).
    pub(crate) fn announced(
        &mut self,
        want: Want,
        prefix: &ipnet::IpNet,
        table: u32,
        protocol: u8,
        metric: u32,
    ) -> io::Result<()> {
        let m = route::announced(prefix, table, protocol, metric, LOOPBACK);
        let (new, del) = (
            RouteNetlinkMessage::NewRoute(m.clone()),
            RouteNetlinkMessage::DelRoute(m),
        );
        self.set(want, new, del, NLM_F_CREATE | NLM_F_REPLACE)
    }

    /// A prefix accepted as local (see [`route::local_route`]).
    pub(crate) fn local_route(
        &mut self,
        want: Want,
        prefix: &ipnet::IpNet,
        protocol: u8,
    ) -> io::Result<()> {
        let m = route::local_route(prefix, protocol, LOOPBACK);
        let (new, del) = (
            RouteNetlinkMessage::NewRoute(m.clone()),
            RouteNetlinkMessage::DelRoute(m),
        );
        self.set(want, new, del, NLM_F_CREATE | NLM_F_REPLACE)
    }

    /// The messages of a dump, of both families (`request` builds one family's request).
    fn dump(
        &mut self,
        request: impl Fn(bool) -> RouteNetlinkMessage,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        let mut out = Vec::new();
        for v6 in [false, true] {
            out.extend(self.dump_one(request(v6))?);
        }
        Ok(out)
    }

    /// The messages of one dump request.
    fn dump_one(&mut self, request: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
        let seq = self.sock.next_seq();
        let answer = self.sock.dump(&frame(request, NLM_F_DUMP, seq), seq)?;
        Ok(answer
            .into_iter()
            .filter_map(|(kind, payload)| {
                let mut header = NetlinkHeader::default();
                header.message_type = kind;
                RouteNetlinkMessage::deserialize(&header, &payload).ok()
            })
            .collect())
    }

    /// The interface that interface `index` stands on (a macvlan's base), if any.
    pub(crate) fn link_parent(&mut self, index: u32) -> io::Result<Option<u32>> {
        let all = self.dump_one(RouteNetlinkMessage::GetLink(route::link(0)))?;
        Ok(all.iter().find_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) if l.header.index == index => route::link_parent(l),
            _ => None,
        }))
    }

    /// Every route in `table`, of both families.
    pub(crate) fn routes_in(&mut self, table: u32) -> io::Result<Vec<route::TableRoute>> {
        let all = self.dump(|v6| RouteNetlinkMessage::GetRoute(route::route_dump(v6)))?;
        Ok(all
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r) => route::table_route(r, table),
                _ => None,
            })
            .collect())
    }

    /// The priorities of the policy rules that look up `table`, of both families.
    pub(crate) fn rules_to(&mut self, table: u32) -> io::Result<Vec<u32>> {
        let all = self.dump(|v6| RouteNetlinkMessage::GetRule(route::rule_dump(v6)))?;
        Ok(all
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewRule(r) => route::rule_to_table(r, table),
                _ => None,
            })
            .collect())
    }

    pub(crate) fn rule(&mut self, want: Want, r: &Rule) -> io::Result<()> {
        let m = route::rule(r);
        let (new, del) = (
            RouteNetlinkMessage::NewRule(m.clone()),
            RouteNetlinkMessage::DelRule(m),
        );
        self.set(want, new, del, NLM_F_CREATE | NLM_F_EXCL)
    }

    fn address(&mut self, want: Want, m: AddressMessage) -> io::Result<()> {
        let (new, del) = (
            RouteNetlinkMessage::NewAddress(m.clone()),
            RouteNetlinkMessage::DelAddress(m),
        );
        self.set(want, new, del, NLM_F_CREATE | NLM_F_EXCL)
    }

    /// Adds the address; one already there is fine.
    pub(crate) fn add(&mut self, ifindex: u32, vip: &Vip) -> io::Result<()> {
        self.address(Want::Present, route::address(ifindex, vip))
    }

    /// Removes the address; one already gone is fine.
    pub(crate) fn remove(&mut self, ifindex: u32, vip: &Vip) -> io::Result<()> {
        self.address(Want::Absent, route::address(ifindex, vip))
    }

    /// Makes the macvlan `name` on `base` with `mac` (see [`route::macvlan`]).
    pub(crate) fn add_macvlan(&mut self, name: &str, base: u32, mac: [u8; 6]) -> io::Result<()> {
        let m = route::macvlan(name, base, mac);
        self.request(RouteNetlinkMessage::NewLink(m), NLM_F_CREATE | NLM_F_EXCL)
    }

    pub(crate) fn delete_link(&mut self, index: u32) -> io::Result<()> {
        self.request(RouteNetlinkMessage::DelLink(route::link(index)), 0)
    }
}

const RTMGRP_LINK: u32 = 1;

/// Link state changes as the kernel announces them.
pub(crate) struct LinkEvents {
    fd: tokio::io::unix::AsyncFd<Socket>,
}

impl LinkEvents {
    pub(crate) fn open() -> io::Result<Self> {
        let sock = Socket::open(Protocol::Route, RTMGRP_LINK, 64 * 1024)?;
        sock.nonblock()?;
        // SAFETY: the Socket owns its descriptor and the AsyncFd owns the Socket.
        let fd =
            unsafe { tokio::io::unix::AsyncFd::register(sock) }.map_err(|e| e.into_parts().1)?;
        Ok(LinkEvents { fd })
    }

    /// The next batch of (interface index, up) changes.
    pub(crate) async fn next(&mut self) -> io::Result<Vec<(u32, bool)>> {
        loop {
            let mut guard = self.fd.readable_mut().await?;
            match guard.get_inner_mut().recv() {
                Ok(buf) => {
                    let out = link_states(buf);
                    if !out.is_empty() {
                        return Ok(out);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => guard.clear_ready(),
                Err(e) => return Err(e),
            }
        }
    }
}

/// The (index, up) of each link message in a datagram; what does not parse is skipped.
pub(crate) fn link_states(buf: &[u8]) -> Vec<(u32, bool)> {
    wire::messages(buf)
        .filter_map(Result::ok)
        .filter_map(|m| {
            let mut header = NetlinkHeader::default();
            header.message_type = m.kind;
            RouteNetlinkMessage::deserialize(&header, m.payload).ok()
        })
        .filter_map(|m| route::link_state(&m))
        .collect()
}
