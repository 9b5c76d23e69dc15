//! Raw IP sockets for VRRP (protocol 112), IPv4: adverts leave with TTL 255 to 224.0.0.18 (or
//! each unicast peer) and arrive with their IP header, whose TTL and addresses are read here.
//! One socket receives (unbound, so multicast reaches it); one bound to the primary address
//! sends, so adverts leave from it.
//!
//! IPv4 adverts carry the IP header haldir writes (IP_HDRINCL), as keepalived's do
//! (`vrrp_build_ip4` in keepalived/vrrp/vrrp.c): precedence "internetwork control" (TOS 0xc0,
//! so a congested link queues them ahead of data), no DF, and an identification of its own
//! counter. Besides the TOS, that is cheaper per advert: the kernel copies one buffer instead
//! of assembling a datagram and hashing an identification for it.

use std::io;
use std::io::IoSlice;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};

use super::packet::PROTO_VRRP;

pub(crate) const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
pub(crate) const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// A received packet, owned: source, destination, TTL or hop limit, VRRP payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Packet {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub payload: Vec<u8>,
}

/// A received IPv4 packet's addresses, TTL and VRRP payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Received<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub payload: &'a [u8],
}

/// Splits an IPv4 packet as a raw socket delivers it. `None` for anything that is not a
/// whole IPv4 VRRP packet.
pub(crate) fn parse_ipv4(pkt: &[u8]) -> Option<Received<'_>> {
    if pkt.len() < 20 || pkt[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
    if ihl < 20 || pkt.len() < ihl || pkt[9] != PROTO_VRRP {
        return None;
    }
    let end = total.clamp(ihl, pkt.len());
    Some(Received {
        src: IpAddr::from([pkt[12], pkt[13], pkt[14], pkt[15]]),
        dst: IpAddr::from([pkt[16], pkt[17], pkt[18], pkt[19]]),
        ttl: pkt[8],
        payload: &pkt[ihl..end],
    })
}

pub(crate) struct VrrpSocket {
    rx: Socket,
    tx: Socket,
    /// IPv6: the interface, for link-local destinations.
    scope: Option<u32>,
    /// IPv4: the source written in each header, and the last identification used.
    source: Ipv4Addr,
    ip_id: AtomicU16,
}

/// TOS of IPv4 adverts: precedence 6, internetwork control (keepalived's 0xc0).
pub(crate) const TOS_NETWORK_CONTROL: u8 = 0xc0;

/// The IPv4 header of an advert: TTL 255, no options, no DF. The kernel writes the total
/// length and the checksum of an IP_HDRINCL packet itself; both are filled in here all the
/// same, so that the header is whole on its own.
pub(crate) fn ipv4_header(src: Ipv4Addr, dst: Ipv4Addr, id: u16, payload_len: usize) -> [u8; 20] {
    let total = u16::try_from(20 + payload_len).unwrap_or(u16::MAX);
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[1] = TOS_NETWORK_CONTROL;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    h[8] = 255;
    h[9] = PROTO_VRRP;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let sum = h
        .chunks(2)
        .fold(0u32, |a, w| a + u32::from(u16::from_be_bytes([w[0], w[1]])));
    let folded = (sum & 0xffff) + (sum >> 16);
    let folded = (folded & 0xffff) + (folded >> 16);
    h[10..12].copy_from_slice(&(!(folded as u16)).to_be_bytes());
    h
}

/// The next identification: never 0, which would make the kernel choose one (and hash for it).
fn next_id(counter: &AtomicU16) -> u16 {
    let id = counter.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
    if id == 0 {
        counter.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    } else {
        id
    }
}

fn raw_v4() -> io::Result<Socket> {
    Socket::new(
        Domain::IPV4,
        Type::RAW,
        Some(Protocol::from(i32::from(PROTO_VRRP))),
    )
}

/// IP_MULTICAST_IF by interface index (with the source address): the interface may hold no
/// address of its own (a VMAC), and a bound socket takes only its own device.
fn multicast_if_v4(sock: &Socket, ifindex: u32, source: Ipv4Addr) -> io::Result<()> {
    let mreq = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr {
            s_addr: u32::from_ne_bytes(source.octets()),
        },
        imr_ifindex: i32::try_from(ifindex).map_err(io::Error::other)?,
    };
    // SAFETY: mreq is a valid ip_mreqn that outlives the call; the length is its size.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            std::ptr::from_ref(&mreq).cast(),
            std::mem::size_of::<libc::ip_mreqn>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl VrrpSocket {
    /// `multicast` joins 224.0.0.18 on the interface; with unicast peers it stays out.
    pub(crate) fn open_v4(
        ifname: &str,
        ifindex: u32,
        primary: Ipv4Addr,
        multicast: bool,
    ) -> io::Result<Self> {
        let rx = raw_v4()?;
        rx.bind_device(Some(ifname.as_bytes()))?;
        if multicast {
            rx.join_multicast_v4_n(&GROUP_V4, &InterfaceIndexOrAddress::Index(ifindex))?;
        }
        rx.set_nonblocking(true)?;
        let tx = raw_v4()?;
        // First: until bound it matches every VRRP packet of the namespace, and then every
        // advert a unicast peer sends to the source.
        super::sendonly::refuse_everything(&tx)?;
        tx.bind_device(Some(ifname.as_bytes()))?;
        tx.bind(&SocketAddr::new(IpAddr::V4(primary), 0).into())
            .map_err(|e| source_error(e, IpAddr::V4(primary)))?;
        tx.set_header_included_v4(true)?;
        tx.set_multicast_loop_v4(false)?;
        multicast_if_v4(&tx, ifindex, primary)?;
        Ok(VrrpSocket {
            rx,
            tx,
            scope: None,
            source: primary,
            ip_id: AtomicU16::new(0),
        })
    }

    /// IPv6: adverts from the interface's link-local address to ff02::12 (or the peers) with
    /// hop limit 255; the hop limit and destination of received ones come as ancillary data.
    pub(crate) fn open_v6(
        ifname: &str,
        ifindex: u32,
        primary: Ipv6Addr,
        multicast: bool,
    ) -> io::Result<Self> {
        let raw_v6 = || {
            Socket::new(
                Domain::IPV6,
                Type::RAW,
                Some(Protocol::from(i32::from(PROTO_VRRP))),
            )
        };
        let rx = raw_v6()?;
        rx.bind_device(Some(ifname.as_bytes()))?;
        if multicast {
            rx.join_multicast_v6(&GROUP_V6, ifindex)?;
        }
        for opt in [libc::IPV6_RECVHOPLIMIT, libc::IPV6_RECVPKTINFO] {
            setsockopt_int(&rx, libc::IPPROTO_IPV6, opt, 1)?;
        }
        rx.set_nonblocking(true)?;
        let tx = raw_v6()?;
        super::sendonly::refuse_everything(&tx)?;
        tx.bind_device(Some(ifname.as_bytes()))?;
        tx.bind(&SocketAddr::V6(SocketAddrV6::new(primary, 0, 0, ifindex)).into())
            .map_err(|e| source_error(e, IpAddr::V6(primary)))?;
        tx.set_unicast_hops_v6(255)?;
        tx.set_multicast_hops_v6(255)?;
        tx.set_multicast_loop_v6(false)?;
        tx.set_multicast_if_v6(ifindex)?;
        Ok(VrrpSocket {
            rx,
            tx,
            scope: Some(ifindex),
            source: Ipv4Addr::UNSPECIFIED,
            ip_id: AtomicU16::new(0),
        })
    }

    pub(crate) fn send(&self, payload: &[u8], dst: IpAddr) -> io::Result<()> {
        match (dst, self.scope) {
            (IpAddr::V6(a), Some(scope)) => {
                let to = SocketAddr::V6(SocketAddrV6::new(a, 0, 0, scope));
                self.tx.send_to(payload, &to.into()).map(|_| ())
            }
            (IpAddr::V4(a), _) => {
                let header = ipv4_header(self.source, a, next_id(&self.ip_id), payload.len());
                let parts = [IoSlice::new(&header), IoSlice::new(payload)];
                let to = SocketAddr::new(dst, 0).into();
                self.tx.send_to_vectored(&parts, &to).map(|_| ())
            }
            (IpAddr::V6(_), None) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an IPv6 destination on an IPv4 socket",
            )),
        }
    }

    /// The receiving descriptor, for the VRRP thread's loop to watch (edge-triggered: every
    /// readiness is read to the end).
    pub(crate) fn rx_fd(&self) -> RawFd {
        self.rx.as_raw_fd()
    }

    /// Reads the packets queued into `out`, until none is left or `most` were read: true
    /// then, as more may wait. An error stops the reading; what was read before it stays in
    /// `out`.
    pub(crate) fn recv_some(
        &self,
        buf: &mut [u8],
        out: &mut Vec<Packet>,
        most: usize,
    ) -> io::Result<bool> {
        let v4 = self.scope.is_none();
        for _ in 0..most {
            let got = match v4 {
                true => recv_v4(&self.rx, buf),
                false => recv_v6(self.rx.as_raw_fd(), buf),
            };
            match got {
                Ok(Some(p)) => out.push(p),
                Ok(None) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

/// One IPv4 packet: None when it is not a whole VRRP packet.
fn recv_v4(sock: &Socket, buf: &mut [u8]) -> io::Result<Option<Packet>> {
    // SAFETY: socket2 wants MaybeUninit; the bytes it reports are initialised by the kernel.
    let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) };
    let n = sock.recv(uninit)?;
    Ok(parse_ipv4(&buf[..n]).map(|r| Packet {
        src: r.src,
        dst: r.dst,
        ttl: r.ttl,
        payload: r.payload.to_vec(),
    }))
}

/// The adverts' source cannot be bound: say which (a unicast_source that is not this host's).
fn source_error(e: io::Error, source: IpAddr) -> io::Error {
    io::Error::new(e.kind(), format!("the adverts' source {source}: {e}"))
}

fn setsockopt_int(s: &Socket, level: i32, opt: i32, value: i32) -> io::Result<()> {
    // SAFETY: a plain integer option on an open socket.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            opt,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One IPv6 datagram with its source, and the hop limit and destination from ancillary data.
/// `Ok(None)` for one without them (which a VRRP check could not judge).
fn recv_v6(fd: i32, buf: &mut [u8]) -> io::Result<Option<Packet>> {
    // SAFETY: every pointer handed to recvmsg points into a live local of the right size, and
    // the control messages are read only within the length the kernel reports.
    unsafe {
        let mut name: libc::sockaddr_in6 = std::mem::zeroed();
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut control = [0u64; 32];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = (&mut name as *mut libc::sockaddr_in6).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as u32;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        let n = libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let (mut hops, mut dst) = (None, None);
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let data = libc::CMSG_DATA(c);
            match ((*c).cmsg_level, (*c).cmsg_type) {
                (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                    hops = Some(std::ptr::read_unaligned(data.cast::<i32>()))
                }
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                    let info = std::ptr::read_unaligned(data.cast::<libc::in6_pktinfo>());
                    dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
                }
                _ => {}
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
        let (Some(hops), Some(dst)) = (hops, dst) else {
            return Ok(None);
        };
        Ok(Some(Packet {
            src: IpAddr::V6(Ipv6Addr::from(name.sin6_addr.s6_addr)),
            dst: IpAddr::V6(dst),
            ttl: hops.clamp(0, 255) as u8,
            payload: buf[..n as usize].to_vec(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_headers() {
        let mut p = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18,
        ];
        p.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let r = parse_ipv4(&p).unwrap();
        assert_eq!(
            (r.ttl, r.src, r.dst),
            (
                255,
                "10.0.0.1".parse().unwrap(),
                "224.0.0.18".parse().unwrap()
            )
        );
        assert_eq!(r.payload, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(parse_ipv4(&p[..19]).is_none());
        let mut other = p.clone();
        other[9] = 6;
        assert!(parse_ipv4(&other).is_none(), "not VRRP");
    }

    #[test]
    fn advert_header_as_keepalived_writes_it() {
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), GROUP_V4);
        let h = ipv4_header(src, dst, 7, 8);
        // keepalived's vrrp_build_ip4: version 4, IHL 5, TOS 0xc0, no DF, TTL 255, proto 112.
        assert_eq!(&h[..10], &[0x45, 0xc0, 0, 28, 0, 7, 0, 0, 255, 112]);
        // The header's checksum sums to zero with it.
        let sum = h
            .chunks(2)
            .fold(0u32, |a, w| a + u32::from(u16::from_be_bytes([w[0], w[1]])));
        assert_eq!((sum & 0xffff) + (sum >> 16), 0xffff);
        let mut p = h.to_vec();
        p.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let r = parse_ipv4(&p).unwrap();
        assert_eq!((r.src, r.dst, r.ttl), (src.into(), dst.into(), 255));
        assert_eq!(r.payload, &[1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn identification_skips_zero() {
        let c = AtomicU16::new(u16::MAX - 1);
        assert_eq!(next_id(&c), u16::MAX);
        assert_eq!(next_id(&c), 1, "0 would let the kernel choose");
        assert_eq!(next_id(&c), 2);
    }
}
