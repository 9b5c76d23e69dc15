//! The MAC addresses of `exclude_peers`, learned from the neighbour table. A peer not there yet
//! is probed (one UDP datagram makes the kernel resolve it) and left out of the rules until its
//! MAC is known; the daemon rewrites the rules when it appears or changes.

use std::net::{IpAddr, SocketAddr, UdpSocket};

use crate::config::types::MacAddr;

/// `/proc/net/arp`: "IP address  HW type  Flags  HW address  Mask  Device".
pub(crate) fn parse_arp(text: &str, ip: &IpAddr) -> Option<MacAddr> {
    text.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // Flags 0x0 is an incomplete entry.
        (f.len() >= 4 && f[0].parse::<IpAddr>().ok() == Some(*ip) && f[2] != "0x0")
            .then(|| f[3].parse().ok())
            .flatten()
    })
}

/// The peer's MAC if the kernel knows it; otherwise a probe is sent and `None` returned.
pub(crate) fn mac_of(ip: &IpAddr) -> Option<MacAddr> {
    if let IpAddr::V4(_) = ip
        && let Some(mac) = std::fs::read_to_string("/proc/net/arp")
            .ok()
            .and_then(|t| parse_arp(&t, ip))
    {
        return Some(mac);
    }
    // The discard port: nothing answers, but the kernel resolves the neighbour to send it.
    if let Ok(sock) = UdpSocket::bind(SocketAddr::new(
        if ip.is_ipv6() {
            "::".parse().ok()?
        } else {
            "0.0.0.0".parse().ok()?
        },
        0,
    )) {
        let _ = sock.send_to(b"", SocketAddr::new(*ip, 9));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_table() {
        let t = "IP address       HW type     Flags       HW address            Mask     Device\n10.0.0.12        0x1         0x2         08:00:27:48:90:6c     *        eth0\n10.0.0.13        0x1         0x0         00:00:00:00:00:00     *        eth0\n";
        assert_eq!(
            parse_arp(t, &"10.0.0.12".parse().unwrap())
                .map(|m| m.to_string())
                .as_deref(),
            Some("08:00:27:48:90:6c")
        );
        assert_eq!(
            parse_arp(t, &"10.0.0.13".parse().unwrap()),
            None,
            "incomplete"
        );
        assert_eq!(parse_arp(t, &"10.0.0.14".parse().unwrap()), None);
    }
}
