//! The ping probe (keepalived's PING_CHECK): one ICMP or ICMPv6 echo request, answered by the
//! echo reply with our identifier and sequence number. It uses an unprivileged ping socket
//! where the kernel allows one (net.ipv4.ping_group_range; the kernel then owns the
//! identifier and filters replies by it) and a raw socket otherwise, where the identifier is
//! ours to match and a destination unreachable quoting our request fails the probe at once.
//! Packets are built and read with pnet_packet.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};

use pnet_packet::icmp::{self, IcmpPacket, IcmpTypes};
use pnet_packet::icmpv6::{Icmpv6Packet, Icmpv6Types};
use pnet_packet::ipv4::Ipv4Packet;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::outcome::{Outcome, Reason};
use super::target::Target;

/// Bytes of payload after the 8-byte header, as ping(8) sends.
const PAYLOAD: &[u8] = b"haldir ping check: 56 bytes of payload, as ping sends...";

static SEQUENCE: AtomicU16 = AtomicU16::new(1);

pub(super) async fn probe(target: &Target) -> Outcome {
    let v6 = target.addr.is_ipv6();
    let (socket, raw) = match open(v6) {
        Ok(s) => s,
        Err(e) => return Outcome::Down(Reason::Spawn(format!("ICMP socket: {e}"))),
    };
    let peer = SocketAddr::new(target.addr, 0);
    let bound = match target.check.source {
        Some(src) => socket.bind(&SockAddr::from(SocketAddr::new(src, 0))),
        None => Ok(()),
    };
    if let Err(e) = bound.and_then(|()| socket.connect(&SockAddr::from(peer))) {
        return Outcome::Down(super::outcome::datagram_reason(&e));
    }
    let socket = match into_tokio(socket) {
        Ok(s) => s,
        Err(e) => return Outcome::Down(Reason::Spawn(e.to_string())),
    };
    let id: u16 = rand::random();
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    if let Err(e) = socket.send(&echo_request(v6, id, seq)).await {
        return Outcome::Down(super::outcome::datagram_reason(&e));
    }
    let mut buf = vec![0u8; 65535];
    // The probe's timeout bounds this loop: echoes that are not ours are skipped.
    loop {
        let n = match socket.recv(&mut buf).await {
            Ok(n) => n,
            Err(e) => return Outcome::Down(super::outcome::datagram_reason(&e)),
        };
        // A ping socket's kernel already matched the identifier (and wrote its own).
        let want_id = raw.then_some(id);
        if let Some(o) = judge(&buf[..n], v6, raw, want_id, seq) {
            return o;
        }
    }
}

/// A ping socket when allowed, else a raw one: (socket, is raw).
fn open(v6: bool) -> io::Result<(Socket, bool)> {
    let (domain, proto) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    match Socket::new(domain, Type::DGRAM, Some(proto)) {
        Ok(s) => Ok((s, false)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => {
            Socket::new(domain, Type::RAW, Some(proto)).map(|s| (s, true))
        }
        Err(e) => Err(e),
    }
}

fn into_tokio(s: Socket) -> io::Result<tokio::net::UdpSocket> {
    s.set_nonblocking(true)?;
    // An ICMP socket is a datagram socket: send and recv are all tokio's UdpSocket does here.
    tokio::net::UdpSocket::from_std(std::net::UdpSocket::from(s))
}

/// An echo request; the v4 checksum is ours to compute (the kernel fills ICMPv6's, and a
/// ping socket's).
pub(crate) fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut buf = vec![0u8; 8 + PAYLOAD.len()];
    buf[0] = if v6 {
        Icmpv6Types::EchoRequest.0
    } else {
        IcmpTypes::EchoRequest.0
    };
    buf[4..6].copy_from_slice(&id.to_be_bytes());
    buf[6..8].copy_from_slice(&seq.to_be_bytes());
    buf[8..].copy_from_slice(PAYLOAD);
    if !v6 && let Some(p) = IcmpPacket::new(&buf) {
        let sum = icmp::checksum(&p);
        buf[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    buf
}

/// The identifier and sequence of an echo header.
fn id_seq(icmp: &[u8]) -> Option<(u16, u16)> {
    let b = icmp.get(4..8)?;
    Some((
        u16::from_be_bytes([b[0], b[1]]),
        u16::from_be_bytes([b[2], b[3]]),
    ))
}

/// Judges one received packet: `None` when it is not about our echo. A raw IPv4 socket
/// receives the IP header too; ICMPv6 and ping sockets give the ICMP message alone.
pub(crate) fn judge(pkt: &[u8], v6: bool, raw: bool, id: Option<u16>, seq: u16) -> Option<Outcome> {
    let icmp: &[u8] = if raw && !v6 {
        let ip = Ipv4Packet::new(pkt)?;
        let start = usize::from(ip.get_header_length()) * 4;
        pkt.get(start..)?
    } else {
        pkt
    };
    let ours = |h: &[u8]| id_seq(h).is_some_and(|(i, s)| s == seq && id.is_none_or(|w| w == i));
    let (echo_reply, unreachable) = if v6 {
        let t = Icmpv6Packet::new(icmp)?.get_icmpv6_type();
        (
            t == Icmpv6Types::EchoReply,
            t == Icmpv6Types::DestinationUnreachable,
        )
    } else {
        let t = IcmpPacket::new(icmp)?.get_icmp_type();
        (
            t == IcmpTypes::EchoReply,
            t == IcmpTypes::DestinationUnreachable,
        )
    };
    if echo_reply {
        return ours(icmp).then_some(Outcome::Up);
    }
    if unreachable {
        // The error quotes our request: after 8 bytes of ICMP header, the original IP header
        // (IPv4, variable; IPv6, 40 bytes) and our echo header.
        let quoted = icmp.get(8..)?;
        let echo = if v6 {
            quoted.get(40..)?
        } else {
            let ip = Ipv4Packet::new(quoted)?;
            quoted.get(usize::from(ip.get_header_length()) * 4..)?
        };
        return ours(echo).then_some(Outcome::Down(Reason::Unreachable));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_of(req: &[u8], v6: bool) -> Vec<u8> {
        let mut r = req.to_vec();
        r[0] = if v6 { 129 } else { 0 };
        r
    }

    #[test]
    fn echo_replies_are_matched_by_identifier_and_sequence() {
        for v6 in [false, true] {
            let req = echo_request(v6, 0x1234, 9);
            let rep = reply_of(&req, v6);
            assert_eq!(judge(&rep, v6, false, None, 9), Some(Outcome::Up));
            assert_eq!(judge(&rep, v6, false, None, 10), None, "another sequence");
            assert_eq!(judge(&req, v6, false, None, 9), None, "our own request");
            if v6 {
                assert_eq!(judge(&rep, v6, true, Some(0x1234), 9), Some(Outcome::Up));
                assert_eq!(judge(&rep, v6, true, Some(0x4321), 9), None, "another id");
            }
        }
        let req = echo_request(false, 0x1234, 9);
        assert_eq!(
            icmp::checksum(&IcmpPacket::new(&req).unwrap()),
            u16::from_be_bytes([req[2], req[3]])
        );
    }

    #[test]
    fn a_raw_v4_unreachable_quoting_our_echo_fails_at_once() {
        let req = echo_request(false, 0x1234, 9);
        let ip = |payload: &[u8]| {
            let mut h = vec![
                0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
            ];
            h.extend_from_slice(payload);
            h
        };
        let mut icmp_err = vec![3, 1, 0, 0, 0, 0, 0, 0];
        icmp_err.extend_from_slice(&ip(&req[..8]));
        let pkt = ip(&icmp_err);
        assert_eq!(
            judge(&pkt, false, true, Some(0x1234), 9),
            Some(Outcome::Down(Reason::Unreachable))
        );
        assert_eq!(judge(&pkt, false, true, Some(0x9999), 9), None);
    }

    #[test]
    fn any_bytes_are_judged_without_panic() {
        let mut rng = crate::health::Xorshift(0x1357_9bdf);
        for len in 0..80 {
            for _ in 0..200 {
                let b = rng.bytes(len);
                for (v6, raw) in [(false, false), (false, true), (true, false), (true, true)] {
                    let _ = judge(&b, v6, raw, Some(1), 1);
                }
            }
        }
    }
}
