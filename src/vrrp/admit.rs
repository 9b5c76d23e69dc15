//! Whether a received packet is an advert this instance listens to (RFC 9568 §6.4.2/§6.4.3,
//! RFC 3768 §7.1 for v2, and keepalived's vrrp_check_packet): the TTL, the sender when
//! unicast peers are set, then the message itself — version, type, length, checksum — then
//! the VRID, the version the instance speaks, and for v2 the password and the interval.
//! Pure: the instance counts the drops and feeds the state machine.

use std::net::IpAddr;
use std::time::Duration;

use super::packet::{Advert, DropReason, V3Checksum};
use super::socket::Packet;

/// What an instance expects of the adverts it hears.
#[derive(Debug, Clone)]
pub(crate) struct Expect<'a> {
    /// The instance's own address: its own adverts come back on multicast.
    pub own: IpAddr,
    pub vrid: u8,
    pub version: u8,
    pub advert_interval: Duration,
    /// v2 simple authentication; None for none.
    pub password: Option<[u8; 8]>,
    /// Only these may speak, when set.
    pub unicast_peers: &'a [IpAddr],
    pub checksum: V3Checksum,
}

/// The verdict on one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The instance's own advert, looped back: ignored, not counted.
    Own,
    Dropped(DropReason),
    /// An advert of the instance's virtual router; `interval` is what the sender advertises.
    Advert {
        src: IpAddr,
        priority: u8,
        interval: Duration,
    },
}

pub(crate) fn admit(p: &Packet, e: &Expect<'_>) -> Verdict {
    if p.src == e.own {
        return Verdict::Own;
    }
    match check(p, e) {
        Ok(adv) => Verdict::Advert {
            src: p.src,
            priority: adv.priority,
            interval: match adv.version {
                2 => Duration::from_secs(u64::from(adv.interval)),
                _ => Duration::from_millis(u64::from(adv.interval) * 10),
            },
        },
        Err(why) => Verdict::Dropped(why),
    }
}

fn check(p: &Packet, e: &Expect<'_>) -> Result<Advert, DropReason> {
    // A router forwards no VRRP packet: one that came through a router is not a peer's.
    if p.ttl != 255 {
        return Err(DropReason::Ttl);
    }
    if !e.unicast_peers.is_empty() && !e.unicast_peers.contains(&p.src) {
        return Err(DropReason::NotPeer);
    }
    let adv = Advert::decode(&p.payload, p.src, p.dst, e.checksum)?;
    if adv.vrid != e.vrid {
        return Err(DropReason::Vrid);
    }
    if adv.version != e.version {
        return Err(DropReason::Version);
    }
    if e.version == 2 {
        if adv.password != e.password {
            return Err(DropReason::Auth);
        }
        // RFC 3768 §7.1: an advert with another interval is dropped.
        if u64::from(adv.interval) != e.advert_interval.as_secs() {
            return Err(DropReason::Interval);
        }
    }
    Ok(adv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::packet::password_bytes;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const OWN: &str = "10.0.0.11";
    const PEER: &str = "10.0.0.12";
    const GROUP: &str = "224.0.0.18";

    fn expect(version: u8) -> Expect<'static> {
        Expect {
            own: ip(OWN),
            vrid: 51,
            version,
            advert_interval: if version == 2 {
                Duration::from_secs(1)
            } else {
                Duration::from_millis(100)
            },
            password: (version == 2).then(|| password_bytes("secret")),
            unicast_peers: &[],
            checksum: V3Checksum::PseudoHeader,
        }
    }

    /// The packet a peer would send: `f` changes the advert first.
    fn packet(version: u8, src: &str, ttl: u8, f: impl FnOnce(&mut Advert)) -> Packet {
        let mut adv = Advert {
            version,
            vrid: 51,
            priority: 100,
            interval: if version == 2 { 1 } else { 10 },
            password: (version == 2).then(|| password_bytes("secret")),
            addrs: vec![ip("10.0.0.100")],
        };
        f(&mut adv);
        Packet {
            src: ip(src),
            dst: ip(GROUP),
            ttl,
            payload: adv.encode(ip(src), ip(GROUP), V3Checksum::PseudoHeader),
        }
    }

    #[test]
    fn a_peers_advert_is_admitted_with_its_interval() {
        let got = admit(&packet(3, PEER, 255, |_| {}), &expect(3));
        assert_eq!(
            got,
            Verdict::Advert {
                src: ip(PEER),
                priority: 100,
                interval: Duration::from_millis(100)
            }
        );
        // v3 adopts the master's interval (RFC 9568 §6.4.2): another interval is admitted.
        let slower = admit(&packet(3, PEER, 255, |a| a.interval = 100), &expect(3));
        assert!(
            matches!(slower, Verdict::Advert { interval, .. } if interval == Duration::from_secs(1))
        );
    }

    #[test]
    fn the_own_advert_is_ignored_uncounted() {
        assert_eq!(
            admit(&packet(3, OWN, 255, |_| {}), &expect(3)),
            Verdict::Own
        );
    }

    #[test]
    fn every_reason_to_drop_is_named() {
        let dropped = |p: Packet, e: &Expect<'_>| match admit(&p, e) {
            Verdict::Dropped(why) => why,
            other => panic!("admitted: {other:?}"),
        };
        let v3 = expect(3);
        assert_eq!(dropped(packet(3, PEER, 254, |_| {}), &v3), DropReason::Ttl);
        assert_eq!(
            dropped(packet(3, PEER, 255, |a| a.vrid = 52), &v3),
            DropReason::Vrid
        );
        assert_eq!(
            dropped(packet(2, PEER, 255, |_| {}), &v3),
            DropReason::Version
        );
        let mut corrupt = packet(3, PEER, 255, |_| {});
        corrupt.payload[2] ^= 1;
        assert_eq!(dropped(corrupt, &v3), DropReason::Checksum);
        let peers = [ip("10.0.0.13")];
        let unicast = Expect {
            unicast_peers: &peers,
            ..expect(3)
        };
        assert_eq!(
            dropped(packet(3, PEER, 255, |_| {}), &unicast),
            DropReason::NotPeer
        );
        let v2 = expect(2);
        let wrong = |a: &mut Advert| a.password = Some(password_bytes("guess"));
        assert_eq!(dropped(packet(2, PEER, 255, wrong), &v2), DropReason::Auth);
        let none = |a: &mut Advert| a.password = None;
        assert_eq!(dropped(packet(2, PEER, 255, none), &v2), DropReason::Auth);
        // RFC 3768: a v2 advert with another interval is dropped, not adopted.
        assert_eq!(
            dropped(packet(2, PEER, 255, |a| a.interval = 2), &v2),
            DropReason::Interval
        );
        assert!(matches!(
            admit(&packet(2, PEER, 255, |_| {}), &v2),
            Verdict::Advert { .. }
        ));
    }
}
