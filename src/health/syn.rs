//! The packets of the half-open TCP probe (`half_open = true`): the SYN it sends and the
//! reading of the answer, a SYN-ACK (something listens) or a RST (nothing does). Pure: the
//! sockets are in [`super::halfopen`].
//!
//! The SYN carries one option, the MSS, as every SYN a Linux stack sends does: a SYN without
//! options is what some firewalls take for a scan.

use std::net::Ipv4Addr;

const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;
/// TCP header with the MSS option: 20 + 4 bytes.
pub(crate) const TCP_LEN: usize = 24;
/// IPv4 header without options.
const IP_LEN: usize = 20;
const IPPROTO_TCP: u8 = 6;

/// Which probe: the port the answers come back to, the server's port, and the initial
/// sequence number, which the answer acknowledges plus one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Syn {
    pub local_port: u16,
    pub port: u16,
    pub isn: u32,
}

/// What the server said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A SYN-ACK: the port listens. Our kernel, which has no connection for it, resets it.
    Open,
    /// A RST acknowledging the SYN: nothing listens (connection refused).
    Refused,
    /// An ICMP error about the SYN (host or network unreachable, prohibited).
    Unreachable,
}

/// An answer read from the wire: who sent it (the server's port), to which of our ports, and
/// the sequence number of the SYN it acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reply {
    pub port: u16,
    pub local_port: u16,
    pub isn: u32,
    pub answer: Answer,
}

/// The TCP segment of a SYN, checksum zero (IPv6: the kernel computes it, IPV6_CHECKSUM).
pub(crate) fn segment(s: &Syn, mss: u16) -> [u8; TCP_LEN] {
    let mut t = [0u8; TCP_LEN];
    t[0..2].copy_from_slice(&s.local_port.to_be_bytes());
    t[2..4].copy_from_slice(&s.port.to_be_bytes());
    t[4..8].copy_from_slice(&s.isn.to_be_bytes());
    // Data offset: six 32-bit words.
    t[12] = ((TCP_LEN / 4) as u8) << 4;
    t[13] = SYN;
    t[14..16].copy_from_slice(&64240u16.to_be_bytes());
    t[20..24].copy_from_slice(&[2, 4, (mss >> 8) as u8, mss as u8]);
    t
}

/// A whole IPv4 packet (the socket has IP_HDRINCL): the source must be known to compute the
/// TCP checksum. The kernel fills in the IP header's identification, length and checksum.
pub(crate) fn packet_v4(src: Ipv4Addr, dst: Ipv4Addr, s: &Syn) -> [u8; IP_LEN + TCP_LEN] {
    let mut p = [0u8; IP_LEN + TCP_LEN];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&((IP_LEN + TCP_LEN) as u16).to_be_bytes());
    p[6] = 0x40; // don't fragment
    p[8] = 64;
    p[9] = IPPROTO_TCP;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let mut t = segment(s, 1460);
    let sum = checksum_v4(src, dst, &t);
    t[16..18].copy_from_slice(&sum.to_be_bytes());
    p[IP_LEN..].copy_from_slice(&t);
    p
}

/// The TCP checksum over the IPv4 pseudo-header and the segment.
pub(crate) fn checksum_v4(src: Ipv4Addr, dst: Ipv4Addr, seg: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for w in b.chunks(2) {
            sum += u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&[0, IPPROTO_TCP]);
    add(&(seg.len() as u16).to_be_bytes());
    add(seg);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Reads a packet from the IPv4 raw socket (IP header included): its source and the answer.
pub(crate) fn reply_v4(pkt: &[u8]) -> Option<(Ipv4Addr, Reply)> {
    let first = *pkt.first()?;
    if first >> 4 != 4 || *pkt.get(9)? != IPPROTO_TCP {
        return None;
    }
    // A later fragment has no TCP header at its start.
    let frag = u16::from_be_bytes([*pkt.get(6)?, *pkt.get(7)?]) & 0x1fff;
    if frag != 0 {
        return None;
    }
    let a = pkt.get(12..16)?;
    let from = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
    let ihl = usize::from(first & 0x0f) * 4;
    Some((from, reply(pkt.get(ihl..)?)?))
}

/// Reads a TCP segment (the IPv6 raw socket gives the segment alone): `None` unless it is a
/// SYN-ACK or a RST that acknowledges a SYN.
pub(crate) fn reply(seg: &[u8]) -> Option<Reply> {
    let h = seg.get(..20)?;
    let flags = h[13];
    if flags & ACK == 0 {
        return None;
    }
    let answer = if flags & RST != 0 {
        Answer::Refused
    } else if flags & SYN != 0 {
        Answer::Open
    } else {
        return None;
    };
    let ack = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
    Some(Reply {
        port: u16::from_be_bytes([h[0], h[1]]),
        local_port: u16::from_be_bytes([h[2], h[3]]),
        isn: ack.wrapping_sub(1),
        answer,
    })
}

/// The SYN an ICMP error quotes, as the error queue of the raw socket gives it: the quoted
/// TCP header's first eight bytes (IPv6), or the quoted IPv4 packet whole (IP_HDRINCL).
/// Read as the reply it stands for: the server's port, ours, our sequence number.
pub(crate) fn quoted(seg: &[u8], answer: Answer) -> Option<Reply> {
    let h = seg.get(..8)?;
    Some(Reply {
        port: u16::from_be_bytes([h[2], h[3]]),
        local_port: u16::from_be_bytes([h[0], h[1]]),
        isn: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        answer,
    })
}

/// [`quoted`] of an IPv4 packet: its destination (the server) and the SYN.
pub(crate) fn quoted_v4(pkt: &[u8], answer: Answer) -> Option<(Ipv4Addr, Reply)> {
    let first = *pkt.first()?;
    if first >> 4 != 4 || *pkt.get(9)? != IPPROTO_TCP {
        return None;
    }
    let a = pkt.get(16..20)?;
    let to = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
    let ihl = usize::from(first & 0x0f) * 4;
    Some((to, quoted(pkt.get(ihl..)?, answer)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYN_PROBE: Syn = Syn {
        local_port: 40000,
        port: 80,
        isn: 0xffff_ffff,
    };

    /// The answer a server's stack gives to a SYN: its own sequence, our ISN + 1.
    fn answer_to(s: &Syn, flags: u8) -> [u8; 20] {
        let mut t = [0u8; 20];
        t[0..2].copy_from_slice(&s.port.to_be_bytes());
        t[2..4].copy_from_slice(&s.local_port.to_be_bytes());
        t[4..8].copy_from_slice(&7u32.to_be_bytes());
        t[8..12].copy_from_slice(&s.isn.wrapping_add(1).to_be_bytes());
        t[12] = 5 << 4;
        t[13] = flags;
        t
    }

    #[test]
    fn a_syn_ack_is_open_and_a_rst_ack_refused_for_the_isn_they_acknowledge() {
        let open = reply(&answer_to(&SYN_PROBE, SYN | ACK)).unwrap();
        assert_eq!(
            open,
            Reply {
                port: 80,
                local_port: 40000,
                isn: 0xffff_ffff,
                answer: Answer::Open
            }
        );
        let refused = reply(&answer_to(&SYN_PROBE, RST | ACK)).unwrap();
        assert_eq!(refused.answer, Answer::Refused);
        assert_eq!(reply(&answer_to(&SYN_PROBE, SYN)), None, "no ACK");
        assert_eq!(reply(&answer_to(&SYN_PROBE, ACK)), None, "a plain ACK");
        assert_eq!(reply(&answer_to(&SYN_PROBE, SYN | ACK)[..19]), None);
    }

    #[test]
    fn the_v4_packet_carries_a_valid_tcp_checksum_and_is_read_back() {
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let p = packet_v4(src, dst, &SYN_PROBE);
        // The checksum over a segment that includes its own checksum is zero (one's complement).
        assert_eq!(checksum_v4(src, dst, &p[20..]), 0);
        assert_eq!(p[20 + 13], SYN);
        assert_eq!(&p[20 + 20..], &[2, 4, 0x05, 0xb4], "MSS 1460");
        // The same bytes, as the server would see them and answer them.
        let mut back = p[..20].to_vec();
        back[12..16].copy_from_slice(&dst.octets());
        back[16..20].copy_from_slice(&src.octets());
        back.extend_from_slice(&answer_to(&SYN_PROBE, SYN | ACK));
        let (from, r) = reply_v4(&back).unwrap();
        assert_eq!(from, dst);
        assert_eq!((r.port, r.local_port, r.isn), (80, 40000, 0xffff_ffff));
        // A later fragment is not read as a header.
        back[7] = 1;
        assert_eq!(reply_v4(&back), None);
    }

    #[test]
    fn an_icmp_error_is_read_as_the_syn_it_quotes() {
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let p = packet_v4(src, dst, &SYN_PROBE);
        let want = Reply {
            port: 80,
            local_port: 40000,
            isn: 0xffff_ffff,
            answer: Answer::Unreachable,
        };
        // ICMP quotes the IP header and at least eight bytes of what follows.
        assert_eq!(quoted_v4(&p[..28], Answer::Unreachable), Some((dst, want)));
        assert_eq!(quoted_v4(&p[..27], Answer::Unreachable), None);
        assert_eq!(quoted(&p[20..], Answer::Unreachable), Some(want));
    }

    #[test]
    fn a_checksum_matches_a_known_segment() {
        // RFC 1071's example words summed into a segment: computed and verified by hand once,
        // then by the property above; here the odd length pads with a zero byte.
        let seg = [0x00, 0x01, 0xf2, 0x03, 0xf4];
        let (a, b) = (Ipv4Addr::new(0, 0, 0, 0), Ipv4Addr::new(0, 0, 0, 0));
        // 0x0001 + 0xf203 + 0xf400 + 6 + 5 = 0x1e60f -> 0xe610 -> !0xe610 = 0x19ef
        assert_eq!(checksum_v4(a, b, &seg), 0x19ef);
    }

    #[test]
    fn any_bytes_are_read_without_panic() {
        let mut rng = crate::health::Xorshift(0x2468_ace1);
        for len in 0..80 {
            for _ in 0..300 {
                let b = rng.bytes(len);
                let _ = reply_v4(&b);
                let _ = reply(&b);
                let _ = quoted_v4(&b, Answer::Unreachable);
            }
        }
    }
}
