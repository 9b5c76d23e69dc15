//! VRRP advertisements (RFC 3768 v2, RFC 9568 v3) as bytes and back. The VRRP message only:
//! the IP header (TTL, addresses) is the socket's business, but the checksum of v3 needs the
//! addresses, so they are passed in.

use std::fmt;
use std::net::IpAddr;

pub const PROTO_VRRP: u8 = 112;
const TYPE_ADVERTISEMENT: u8 = 1;
const AUTH_NONE: u8 = 0;
const AUTH_PASS: u8 = 1;

/// The IPv4 checksum form of VRRPv3 (keepalived's `v3_checksum_as_v2` switches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V3Checksum {
    /// With an IPv4 pseudo-header, as keepalived and Seesaw do.
    PseudoHeader,
    /// Over the VRRP message alone, as RFC 9568, Cisco and Juniper do.
    MessageOnly,
}

/// One advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    pub version: u8,
    pub vrid: u8,
    pub priority: u8,
    /// v3: centiseconds (12 bits); v2: whole seconds.
    pub interval: u16,
    /// v2 simple password, NUL-padded to 8 bytes; `None` for no authentication.
    pub password: Option<[u8; 8]>,
    pub addrs: Vec<IpAddr>,
}

/// Why a received packet was dropped: counted per reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    Truncated,
    Version,
    Type,
    Checksum,
    Ttl,
    Vrid,
    Auth,
    Interval,
    Family,
    NotPeer,
    /// Longer than its header says: a well-formed advert is exactly its declared length.
    Length,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Truncated => "truncated",
            DropReason::Version => "version",
            DropReason::Type => "type",
            DropReason::Checksum => "checksum",
            DropReason::Ttl => "ttl",
            DropReason::Vrid => "vrid",
            DropReason::Auth => "auth",
            DropReason::Interval => "interval",
            DropReason::Family => "family",
            DropReason::NotPeer => "not_peer",
            DropReason::Length => "length",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The Internet checksum (RFC 1071) of several byte runs taken as one.
pub fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    // A part of odd length leaves its last byte to pair with the next part's first.
    let mut odd: Option<u8> = None;
    for part in parts {
        let mut rest: &[u8] = part;
        if let Some(hi) = odd.take() {
            match rest.split_first() {
                Some((&lo, tail)) => {
                    sum += u32::from(u16::from_be_bytes([hi, lo]));
                    rest = tail;
                }
                None => {
                    odd = Some(hi);
                    continue;
                }
            }
        }
        let mut pairs = rest.chunks_exact(2);
        for w in &mut pairs {
            sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [b] = pairs.remainder() {
            odd = Some(*b);
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The pseudo-header the v3 checksum covers, in a buffer of its own: 12 bytes for IPv4,
/// 40 for IPv6 (no allocation: every advert sent and received computes one).
fn pseudo_header(src: IpAddr, dst: IpAddr, len: usize) -> ([u8; 40], usize) {
    let mut p = [0u8; 40];
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p[..4].copy_from_slice(&s.octets());
            p[4..8].copy_from_slice(&d.octets());
            p[8..10].copy_from_slice(&[0, PROTO_VRRP]);
            p[10..12].copy_from_slice(&(len as u16).to_be_bytes());
            (p, 12)
        }
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V6(a) => a.octets(),
                IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            };
            p[..16].copy_from_slice(&v6(s));
            p[16..32].copy_from_slice(&v6(d));
            p[32..36].copy_from_slice(&(len as u32).to_be_bytes());
            p[36..40].copy_from_slice(&[0, 0, 0, PROTO_VRRP]);
            (p, 40)
        }
    }
}

/// The checksum a message should carry (with its checksum field zeroed).
fn message_checksum(version: u8, msg: &[u8], src: IpAddr, dst: IpAddr, v3v4: V3Checksum) -> u16 {
    let with_pseudo = version == 3 && (src.is_ipv6() || v3v4 == V3Checksum::PseudoHeader);
    if with_pseudo {
        let (pseudo, n) = pseudo_header(src, dst, msg.len());
        checksum(&[&pseudo[..n], msg])
    } else {
        checksum(&[msg])
    }
}

impl Advert {
    /// The message, checksum included, as sent from `src` to `dst`.
    pub fn encode(&self, src: IpAddr, dst: IpAddr, v3v4: V3Checksum) -> Vec<u8> {
        let mut m = Vec::with_capacity(8 + self.addrs.len() * 16 + 8);
        m.push((self.version << 4) | TYPE_ADVERTISEMENT);
        m.push(self.vrid);
        m.push(self.priority);
        m.push(self.addrs.len() as u8);
        if self.version == 2 {
            m.push(if self.password.is_some() {
                AUTH_PASS
            } else {
                AUTH_NONE
            });
            m.push(self.interval.min(255) as u8);
        } else {
            m.extend_from_slice(&(self.interval & 0x0fff).to_be_bytes());
        }
        m.extend_from_slice(&[0, 0]);
        for a in &self.addrs {
            match a {
                IpAddr::V4(a) => m.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => m.extend_from_slice(&a.octets()),
            }
        }
        if self.version == 2 {
            m.extend_from_slice(&self.password.unwrap_or([0; 8]));
        }
        let sum = message_checksum(self.version, &m, src, dst, v3v4);
        m[6..8].copy_from_slice(&sum.to_be_bytes());
        m
    }

    /// Reads a message received from `src` for `dst`. The family of the addresses it carries
    /// is that of `src`.
    pub fn decode(
        m: &[u8],
        src: IpAddr,
        dst: IpAddr,
        v3v4: V3Checksum,
    ) -> Result<Advert, DropReason> {
        if m.len() < 8 {
            return Err(DropReason::Truncated);
        }
        let version = m[0] >> 4;
        if version != 2 && version != 3 {
            return Err(DropReason::Version);
        }
        if version == 2 && src.is_ipv6() {
            return Err(DropReason::Version);
        }
        if m[0] & 0x0f != TYPE_ADVERTISEMENT {
            return Err(DropReason::Type);
        }
        let count = usize::from(m[3]);
        let alen = if src.is_ipv6() { 16 } else { 4 };
        let need = 8 + count * alen + if version == 2 { 8 } else { 0 };
        if m.len() < need {
            return Err(DropReason::Truncated);
        }
        if m.len() > need {
            return Err(DropReason::Length);
        }
        let mut zeroed = m.to_vec();
        zeroed[6] = 0;
        zeroed[7] = 0;
        let want = message_checksum(version, &zeroed, src, dst, v3v4);
        if u16::from_be_bytes([m[6], m[7]]) != want {
            return Err(DropReason::Checksum);
        }
        let (interval, password) = if version == 2 {
            let pw = match m[4] {
                AUTH_NONE => None,
                AUTH_PASS => {
                    let mut p = [0u8; 8];
                    p.copy_from_slice(&m[need - 8..need]);
                    Some(p)
                }
                _ => return Err(DropReason::Auth),
            };
            (u16::from(m[5]), pw)
        } else {
            (u16::from_be_bytes([m[4], m[5]]) & 0x0fff, None)
        };
        let addrs = m[8..8 + count * alen]
            .chunks_exact(alen)
            .map(|c| match c.len() {
                4 => IpAddr::from([c[0], c[1], c[2], c[3]]),
                _ => {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(c);
                    IpAddr::from(o)
                }
            })
            .collect();
        Ok(Advert {
            version,
            vrid: m[1],
            priority: m[2],
            interval,
            password,
            addrs,
        })
    }
}

/// A password as carried by v2 simple authentication: NUL-padded to 8 bytes.
pub fn password_bytes(p: &str) -> [u8; 8] {
    let mut out = [0u8; 8];
    for (o, b) in out.iter_mut().zip(p.as_bytes()) {
        *o = *b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: 0001 f203 f4f5 f6f7 sums to ddf2; the checksum is its complement.
        assert_eq!(
            checksum(&[&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]]),
            !0xddf2
        );
        // Split runs sum the same as one.
        assert_eq!(
            checksum(&[&[0x00, 0x01, 0xf2], &[0x03, 0xf4, 0xf5, 0xf6, 0xf7]]),
            !0xddf2
        );
    }

    #[test]
    fn v2_with_password_round_trips() {
        let a = Advert {
            version: 2,
            vrid: 51,
            priority: 150,
            interval: 1,
            password: Some(password_bytes("secret1")),
            addrs: vec![ip("10.240.0.201")],
        };
        let (src, dst) = (ip("10.0.0.11"), ip("224.0.0.18"));
        let bytes = a.encode(src, dst, V3Checksum::PseudoHeader);
        assert_eq!(bytes.len(), 8 + 4 + 8);
        assert_eq!(&bytes[..6], &[0x21, 51, 150, 1, 1, 1]);
        assert_eq!(
            Advert::decode(&bytes, src, dst, V3Checksum::PseudoHeader),
            Ok(a)
        );
    }

    #[test]
    fn v3_checksum_forms_differ_for_ipv4_only() {
        let a = Advert {
            version: 3,
            vrid: 7,
            priority: 100,
            interval: 100,
            password: None,
            addrs: vec![ip("10.0.0.1")],
        };
        let (src, dst) = (ip("10.0.0.11"), ip("224.0.0.18"));
        let pseudo = a.encode(src, dst, V3Checksum::PseudoHeader);
        let plain = a.encode(src, dst, V3Checksum::MessageOnly);
        assert_ne!(pseudo[6..8], plain[6..8]);
        assert_eq!(
            Advert::decode(&pseudo, src, dst, V3Checksum::PseudoHeader),
            Ok(a.clone())
        );
        assert_eq!(
            Advert::decode(&pseudo, src, dst, V3Checksum::MessageOnly),
            Err(DropReason::Checksum)
        );
        assert_eq!(
            Advert::decode(&plain, src, dst, V3Checksum::MessageOnly),
            Ok(a)
        );
    }

    #[test]
    fn v3_ipv6_uses_the_pseudo_header() {
        let a = Advert {
            version: 3,
            vrid: 9,
            priority: 200,
            interval: 10,
            password: None,
            addrs: vec![ip("2001:db8::1"), ip("fe80::1")],
        };
        let (src, dst) = (ip("fe80::a"), ip("ff02::12"));
        let bytes = a.encode(src, dst, V3Checksum::MessageOnly);
        assert_eq!(bytes.len(), 8 + 32);
        assert_eq!(
            Advert::decode(&bytes, src, dst, V3Checksum::MessageOnly),
            Ok(a.clone())
        );
        // Another source: another pseudo-header, so the checksum no longer holds.
        assert_eq!(
            Advert::decode(&bytes, ip("fe80::b"), dst, V3Checksum::MessageOnly),
            Err(DropReason::Checksum)
        );
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Adverts sent by keepalived 2.2.7 (Debian 12), captured on a raw socket in a peer
    /// namespace; haldir must read them and write the very same bytes.
    #[test]
    fn keepalived_adverts_decode_and_reencode_byte_for_byte() {
        let cases = [
            // vrrp_version 2, priority 150, advert_int 1, auth_type PASS "secret1"
            (
                "10.0.0.12",
                "224.0.0.18",
                "213396010101cec40af000c97365637265743100",
                Advert {
                    version: 2,
                    vrid: 51,
                    priority: 150,
                    interval: 1,
                    password: Some(password_bytes("secret1")),
                    addrs: vec![ip("10.240.0.201")],
                },
            ),
            // vrrp_version 3, priority 200, advert_int 0.5, two addresses
            (
                "10.0.0.12",
                "224.0.0.18",
                "3134c802003204830af000ca0af000cb",
                Advert {
                    version: 3,
                    vrid: 52,
                    priority: 200,
                    interval: 50,
                    password: None,
                    addrs: vec![ip("10.240.0.202"), ip("10.240.0.203")],
                },
            ),
            // IPv6, priority 120, advert_int 1
            (
                "fe80::788d:27ff:fe44:aafb",
                "ff02::12",
                "313d78010064dfb820010db8000000000000000000000100",
                Advert {
                    version: 3,
                    vrid: 61,
                    priority: 120,
                    interval: 100,
                    password: None,
                    addrs: vec![ip("2001:db8::100")],
                },
            ),
        ];
        for (src, dst, bytes, want) in cases {
            let (src, dst, bytes) = (ip(src), ip(dst), hex(bytes));
            assert_eq!(
                Advert::decode(&bytes, src, dst, V3Checksum::PseudoHeader),
                Ok(want.clone())
            );
            assert_eq!(
                want.encode(src, dst, V3Checksum::PseudoHeader),
                bytes,
                "{want:?}"
            );
        }
    }

    #[test]
    fn bad_packets_are_named() {
        let a = Advert {
            version: 3,
            vrid: 1,
            priority: 1,
            interval: 100,
            password: None,
            addrs: vec![ip("10.0.0.1")],
        };
        let (src, dst) = (ip("10.0.0.2"), ip("224.0.0.18"));
        let good = a.encode(src, dst, V3Checksum::PseudoHeader);
        for cut in 0..good.len() {
            assert_eq!(
                Advert::decode(&good[..cut], src, dst, V3Checksum::PseudoHeader),
                Err(DropReason::Truncated),
                "cut {cut}"
            );
        }
        let mut long = good.clone();
        long.extend_from_slice(&[0u8; 64]);
        assert_eq!(
            Advert::decode(&long, src, dst, V3Checksum::PseudoHeader),
            Err(DropReason::Length),
            "trailing bytes"
        );
        let mut bad = good.clone();
        bad[0] = 0x41;
        assert_eq!(
            Advert::decode(&bad, src, dst, V3Checksum::PseudoHeader),
            Err(DropReason::Version)
        );
        let mut bad = good.clone();
        bad[0] = 0x32;
        assert_eq!(
            Advert::decode(&bad, src, dst, V3Checksum::PseudoHeader),
            Err(DropReason::Type)
        );
        let mut bad = good.clone();
        bad[2] ^= 1;
        assert_eq!(
            Advert::decode(&bad, src, dst, V3Checksum::PseudoHeader),
            Err(DropReason::Checksum)
        );
        let mut big = good.clone();
        big[3] = 200; // claims 200 addresses
        assert_eq!(
            Advert::decode(&big, src, dst, V3Checksum::PseudoHeader),
            Err(DropReason::Truncated)
        );
    }
}
