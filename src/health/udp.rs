//! The udp probe (keepalived's UDP_CHECK): one datagram to the server on a connected socket,
//! so that an ICMP unreachable comes back as an error at once. Without `require_reply`,
//! silence until the timeout is success (keepalived's rule: only an ICMP error fails); with
//! it, the reply must arrive in time and match what is expected of it.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::outcome::{Outcome, Reason};
use super::target::Target;
use crate::config::model::UdpCheck;

/// The largest datagram a reply can be.
const MAX_REPLY: usize = 65535;

pub(super) async fn probe(target: &Target, u: &UdpCheck) -> Outcome {
    let timeout = target.check.timeout;
    let peer = SocketAddr::new(target.addr, target.port);
    let socket = match bind(peer, target.check.source).await {
        Ok(s) => s,
        Err(e) => return Outcome::Down(Reason::Spawn(e.to_string())),
    };
    if let Err(e) = socket.connect(peer).await {
        return Outcome::Down(super::outcome::datagram_reason(&e));
    }
    match socket.send(&u.payload).await {
        Ok(n) if n == u.payload.len() => {}
        Ok(n) => return Outcome::Down(Reason::Connect(format!("short send: {n} bytes"))),
        Err(e) => return Outcome::Down(super::outcome::datagram_reason(&e)),
    }
    let mut buf = vec![0u8; MAX_REPLY];
    match tokio::time::timeout(timeout, socket.recv(&mut buf)).await {
        Err(_) if u.require_reply => Outcome::Down(Reason::Timeout),
        Err(_) => Outcome::Up,
        Ok(Err(e)) => Outcome::Down(super::outcome::datagram_reason(&e)),
        Ok(Ok(n)) => judge(u, &buf[..n]),
    }
}

async fn bind(peer: SocketAddr, source: Option<IpAddr>) -> io::Result<tokio::net::UdpSocket> {
    let any = match peer {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    tokio::net::UdpSocket::bind(SocketAddr::new(source.unwrap_or(any), 0)).await
}

/// A reply's verdict: its length, its first bytes (masked), then the pattern.
pub(crate) fn judge(u: &UdpCheck, reply: &[u8]) -> Outcome {
    let len = reply.len();
    if len < usize::from(u.min_reply_length) {
        return Outcome::Down(Reason::Reply(format!(
            "{len} bytes, under min_reply_length {}",
            u.min_reply_length
        )));
    }
    if let Some(max) = u.max_reply_length
        && len > usize::from(max)
    {
        return Outcome::Down(Reason::Reply(format!(
            "{len} bytes, over max_reply_length {max}"
        )));
    }
    if len < u.reply_prefix.len() {
        return Outcome::Down(Reason::Reply(format!(
            "{len} bytes, shorter than reply_hex"
        )));
    }
    if let Some(at) = u
        .reply_prefix
        .iter()
        .zip(reply)
        .position(|((want, mask), got)| (want ^ got) & mask != 0)
    {
        return Outcome::Down(Reason::Reply(format!(
            "byte {at} is {:02x}, reply_hex wants {:02x}",
            reply[at], u.reply_prefix[at].0
        )));
    }
    if let Some(pattern) = &u.reply_regex {
        match regex::bytes::Regex::new(pattern) {
            Ok(re) if re.is_match(reply) => {}
            Ok(_) => return Outcome::Down(Reason::Reply("does not match reply_regex".into())),
            Err(e) => return Outcome::Down(Reason::Spawn(e.to_string())),
        }
    }
    Outcome::Up
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(prefix: Vec<(u8, u8)>, regex: Option<&str>, min: u16, max: Option<u16>) -> UdpCheck {
        UdpCheck {
            payload: Vec::new(),
            require_reply: true,
            reply_prefix: prefix,
            reply_regex: regex.map(str::to_string),
            min_reply_length: min,
            max_reply_length: max,
        }
    }

    #[test]
    fn replies_are_judged_by_length_prefix_and_pattern() {
        let any = check(Vec::new(), None, 0, None);
        assert_eq!(judge(&any, b""), Outcome::Up);
        let prefix = check(vec![(0xab, 0xff), (0x10, 0xf0)], None, 0, None);
        assert_eq!(judge(&prefix, &[0xab, 0x1f, 0]), Outcome::Up);
        assert!(!judge(&prefix, &[0xab, 0x2f]).is_up());
        assert!(!judge(&prefix, &[0xab]).is_up(), "shorter than the prefix");
        let sized = check(Vec::new(), None, 2, Some(3));
        assert!(!judge(&sized, b"a").is_up());
        assert!(judge(&sized, b"ab").is_up());
        assert!(!judge(&sized, b"abcd").is_up());
        let re = check(Vec::new(), Some("^PONG"), 0, None);
        assert!(judge(&re, b"PONG 1").is_up());
        assert!(!judge(&re, b"PING").is_up());
    }

    #[test]
    fn any_reply_bytes_are_judged_without_panic() {
        // A cheap fuzz: every short byte string, against a masked prefix and a length window.
        let c = check(
            vec![(0x01, 0xff), (0x20, 0xf0)],
            Some("[\\x00-\\xff]"),
            1,
            Some(4),
        );
        let mut rng = crate::health::Xorshift(0x9e37_79b9);
        for len in 0..64 {
            for _ in 0..64 {
                let bytes = rng.bytes(len);
                let _ = judge(&c, &bytes);
            }
        }
    }
}
