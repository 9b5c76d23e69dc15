//! The interface side of VRRP: its index, MAC and primary address, and what a master holds
//! added and removed over rtnetlink: the virtual addresses (IPv6 ones without duplicate address
//! detection, which would hold a moved address back for a second or more), routes and rules.

use std::io;
use std::net::IpAddr;

use super::routing;
use crate::config::route::{Route, Rule};
use crate::config::vip::Vip;
use neli::consts::socket::{Msg, NlFamily};
use neli::socket::NlSocket;
use neli::utils::Groups;

use crate::ipvs::wire::{self, AttrWriter};

const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_EXCL: u16 = 0x200;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;
const IFA_FLAGS: u16 = 8;
const IFA_F_NODAD: u32 = 0x02;

/// The kernel's index of an interface.
pub fn index(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name)
        .map_err(|_| io::Error::other("interface name has a NUL byte"))?;
    // SAFETY: c is a valid NUL-terminated string.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no interface {name}"),
        )),
        i => Ok(i),
    }
}

/// An ioctl on an interface by name, through a socket of the calling thread's network
/// namespace (sysfs would show the namespace /sys was mounted in, which `net_namespace`
/// leaves behind).
fn ifreq_ioctl(name: &str, request: libc::c_ulong) -> io::Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::other(format!(
            "{name:?} is not an interface name"
        )));
    }
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
    // SAFETY: the request reads ifr_name and writes the union; ifr lives across the call.
    if unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&sock), request, &mut ifr) } != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{name}: {e}")));
    }
    Ok(ifr)
}

pub fn mac(name: &str) -> io::Result<[u8; 6]> {
    let ifr = ifreq_ioctl(name, libc::SIOCGIFHWADDR)?;
    // SAFETY: SIOCGIFHWADDR filled the hardware-address member of the union.
    let hw = unsafe { ifr.ifr_ifru.ifru_hwaddr };
    if hw.sa_family != libc::ARPHRD_ETHER {
        return Err(io::Error::other(format!("{name} has no Ethernet address")));
    }
    let mut out = [0u8; 6];
    for (o, b) in out.iter_mut().zip(hw.sa_data.iter()) {
        *o = *b as u8;
    }
    Ok(out)
}

/// Whether the interface is up and has a carrier (the kernel's IFF_RUNNING: operational
/// state up, or unknown for interfaces that do not report one).
pub fn is_up(name: &str) -> bool {
    ifreq_ioctl(name, libc::SIOCGIFFLAGS).is_ok_and(|ifr| {
        // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
        let flags = i32::from(unsafe { ifr.ifr_ifru.ifru_flags });
        flags & libc::IFF_UP != 0 && flags & libc::IFF_RUNNING != 0
    })
}

/// The interface's addresses of one family, in the kernel's order.
pub fn addresses(name: &str, v6: bool) -> io::Result<Vec<IpAddr>> {
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills ifap with a list we free below.
    if unsafe { libc::getifaddrs(&mut ifap) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut found = Vec::new();
    let mut cur = ifap;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let ifname = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) };
        if ifname.to_bytes() != name.as_bytes() {
            continue;
        }
        // SAFETY: ifa_addr is non-null; the family says which sockaddr it is.
        let addr = unsafe {
            match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET if !v6 => {
                    let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    Some(IpAddr::from(
                        u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                    ))
                }
                libc::AF_INET6 if v6 => {
                    let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    Some(IpAddr::from(sin6.sin6_addr.s6_addr))
                }
                _ => None,
            }
        };
        found.extend(addr);
    }
    // SAFETY: ifap came from getifaddrs.
    unsafe { libc::freeifaddrs(ifap) };
    Ok(found)
}

/// The interface's first address of the family that is not one of `skip` (the VIPs): what
/// adverts are sent from. IPv6 wants the link-local one.
pub fn primary(name: &str, v6: bool, skip: &[IpAddr]) -> io::Result<IpAddr> {
    addresses(name, v6)?
        .into_iter()
        .filter(|a| !skip.contains(a))
        .find(|a| !v6 || matches!(a, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{name} has no {} address",
                    if v6 { "link-local IPv6" } else { "IPv4" }
                ),
            )
        })
}

/// rtnetlink for what a master holds: addresses, routes, policy rules.
pub struct Rtnl {
    sock: NlSocket,
    seq: u32,
}

impl Rtnl {
    pub fn open() -> io::Result<Self> {
        Ok(Rtnl {
            sock: NlSocket::connect(NlFamily::Route, None, Groups::empty())?,
            seq: 0,
        })
    }

    /// One request, answered by the kernel's acknowledgement (an errno).
    fn send(&mut self, kind: u16, flags: u16, payload: &[u8]) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut buf = Vec::new();
        wire::push_message(
            &mut buf,
            kind,
            wire::NLM_F_REQUEST | wire::NLM_F_ACK | flags,
            self.seq,
            payload,
        );
        self.sock.send(&buf, Msg::empty())?;
        let mut rbuf = vec![0u8; 8192];
        loop {
            let (n, _) = self.sock.recv(&mut rbuf[..], Msg::empty())?;
            for msg in wire::messages(&rbuf[..n]) {
                let msg = msg.map_err(io::Error::other)?;
                if msg.kind == wire::NLMSG_ERROR {
                    let (errno, seq) =
                        wire::error_payload(msg.payload).map_err(io::Error::other)?;
                    if seq == self.seq {
                        return match errno {
                            0 => Ok(()),
                            e => Err(io::Error::from_raw_os_error(e)),
                        };
                    }
                }
            }
        }
    }

    /// One request of `kind` and its acknowledgement; `create` for a new object (a delete
    /// must not carry those flags: 0x200 is NLM_F_BULK there).
    pub fn request(&mut self, kind: u16, create: bool, payload: &[u8]) -> io::Result<()> {
        let flags = if create { NLM_F_CREATE | NLM_F_EXCL } else { 0 };
        self.send(kind, flags, payload)
    }

    /// Adds (`present`, with `create` flags) or removes; what is already there, or already
    /// gone, is fine.
    fn set(&mut self, present: bool, kinds: (u16, u16), payload: &[u8]) -> io::Result<()> {
        self.set_with(present, kinds, NLM_F_CREATE | NLM_F_EXCL, payload)
    }

    fn set_with(
        &mut self,
        present: bool,
        kinds: (u16, u16),
        create: u16,
        payload: &[u8],
    ) -> io::Result<()> {
        let (new, del) = kinds;
        let r = if present {
            self.send(new, create, payload)
        } else {
            self.send(del, 0, payload)
        };
        match r {
            Err(e) if present && e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            Err(e)
                if !present
                    && matches!(
                        e.raw_os_error(),
                        Some(libc::EADDRNOTAVAIL | libc::ENOENT | libc::ESRCH)
                    ) =>
            {
                Ok(())
            }
            other => other,
        }
    }

    /// A route is prepended, as keepalived adds its routes (`ip route prepend`: before any
    /// matching route, rather than refused because one exists).
    pub fn route(
        &mut self,
        present: bool,
        r: &Route,
        devices: &routing::Devices,
    ) -> io::Result<()> {
        let kinds = (routing::RTM_NEWROUTE, routing::RTM_DELROUTE);
        self.set_with(present, kinds, NLM_F_CREATE, &routing::route(r, devices))
    }

    pub fn rule(&mut self, present: bool, r: &Rule) -> io::Result<()> {
        let kinds = (routing::RTM_NEWRULE, routing::RTM_DELRULE);
        self.set(present, kinds, &routing::rule(r))
    }

    fn address(ifindex: u32, vip: &Vip) -> Vec<u8> {
        let net = &vip.net;
        let v6 = net.addr().is_ipv6();
        let mut payload = vec![
            if v6 {
                libc::AF_INET6 as u8
            } else {
                libc::AF_INET as u8
            },
            net.prefix_len(),
            0,
            vip.scope,
        ];
        payload.extend_from_slice(&ifindex.to_ne_bytes());
        let raw: Vec<u8> = match net.addr() {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        let mut w = AttrWriter::new();
        w.bytes(IFA_LOCAL, &raw).bytes(IFA_ADDRESS, &raw);
        if let Some(IpAddr::V4(b)) = vip.brd {
            w.bytes(IFA_BROADCAST, &b.octets());
        }
        if let Some(label) = &vip.label {
            w.string(IFA_LABEL, label);
        }
        if v6 {
            w.u32(IFA_FLAGS, IFA_F_NODAD);
        }
        payload.extend_from_slice(&w.finish());
        payload
    }

    /// Adds the address; one already there is fine.
    pub fn add(&mut self, ifindex: u32, vip: &Vip) -> io::Result<()> {
        self.set(
            true,
            (RTM_NEWADDR, RTM_DELADDR),
            &Self::address(ifindex, vip),
        )
    }

    /// Removes the address; one already gone is fine.
    pub fn remove(&mut self, ifindex: u32, vip: &Vip) -> io::Result<()> {
        self.set(
            false,
            (RTM_NEWADDR, RTM_DELADDR),
            &Self::address(ifindex, vip),
        )
    }
}

const RTMGRP_LINK: u32 = 1;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const IFF_UP: u32 = 0x1;
const IFF_RUNNING: u32 = 0x40;

/// An interface's index and whether it is up with a carrier, from an RTM_NEWLINK/DELLINK
/// message (`struct ifinfomsg`: family, pad, type, index, flags, change).
pub fn parse_link(kind: u16, payload: &[u8]) -> Option<(u32, bool)> {
    if (kind != RTM_NEWLINK && kind != RTM_DELLINK) || payload.len() < 16 {
        return None;
    }
    let index = u32::from_ne_bytes([payload[4], payload[5], payload[6], payload[7]]);
    let flags = u32::from_ne_bytes([payload[8], payload[9], payload[10], payload[11]]);
    let up = kind == RTM_NEWLINK && flags & IFF_UP != 0 && flags & IFF_RUNNING != 0;
    Some((index, up))
}

/// Link state changes as the kernel announces them.
pub struct LinkEvents {
    fd: tokio::io::unix::AsyncFd<NlSocket>,
    buf: Vec<u8>,
}

impl LinkEvents {
    pub fn open() -> io::Result<Self> {
        let sock = NlSocket::connect(NlFamily::Route, None, Groups::new_bitmask(RTMGRP_LINK))?;
        sock.nonblock()?;
        // SAFETY: the NlSocket owns its descriptor and the AsyncFd owns the NlSocket.
        let fd =
            unsafe { tokio::io::unix::AsyncFd::register(sock) }.map_err(|e| e.into_parts().1)?;
        Ok(LinkEvents {
            fd,
            buf: vec![0u8; 64 * 1024],
        })
    }

    /// The next batch of (interface index, up) changes.
    pub async fn next(&mut self) -> io::Result<Vec<(u32, bool)>> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.get_inner().recv(&mut self.buf[..], Msg::empty()) {
                Ok((n, _)) => {
                    let out = wire::messages(&self.buf[..n])
                        .filter_map(Result::ok)
                        .filter_map(|m| parse_link(m.kind, m.payload))
                        .collect::<Vec<_>>();
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

/// Watches the named interfaces and sends (name, up) on every change of their state.
pub fn watch(
    names: std::collections::HashSet<String>,
    tx: tokio::sync::mpsc::UnboundedSender<(String, bool)>,
) -> io::Result<tokio::task::JoinHandle<()>> {
    let mut events = LinkEvents::open()?;
    Ok(tokio::spawn(async move {
        let mut by_index: std::collections::HashMap<u32, String> = names
            .iter()
            .filter_map(|n| index(n).ok().map(|i| (i, n.clone())))
            .collect();
        while let Ok(changes) = events.next().await {
            for (ifindex, up) in changes {
                // An interface made after the start: look its name up.
                if let std::collections::hash_map::Entry::Vacant(slot) = by_index.entry(ifindex)
                    && let Some(n) = names.iter().find(|n| index(n).ok() == Some(ifindex))
                {
                    slot.insert(n.clone());
                }
                if let Some(name) = by_index.get(&ifindex)
                    && tx.send((name.clone(), up)).is_err()
                {
                    return;
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_messages() {
        let mut p = vec![0u8, 0, 1, 0];
        p.extend_from_slice(&7u32.to_ne_bytes());
        p.extend_from_slice(&(IFF_UP | IFF_RUNNING).to_ne_bytes());
        p.extend_from_slice(&0u32.to_ne_bytes());
        assert_eq!(parse_link(RTM_NEWLINK, &p), Some((7, true)));
        p[8..12].copy_from_slice(&IFF_UP.to_ne_bytes());
        assert_eq!(
            parse_link(RTM_NEWLINK, &p),
            Some((7, false)),
            "up but no carrier"
        );
        assert_eq!(parse_link(RTM_DELLINK, &p), Some((7, false)));
        assert_eq!(parse_link(RTM_NEWLINK, &p[..10]), None);
        assert_eq!(parse_link(20, &p), None);
    }
}
