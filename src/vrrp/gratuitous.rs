//! Telling the network where a virtual address now lives: gratuitous ARP for IPv4. The frame
//! is built as bytes (pure) and sent on a packet socket, addressed to the interface.

use std::io;
use std::net::Ipv4Addr;

const ETH_P_ARP: u16 = 0x0806;

/// A gratuitous ARP request: sender and target are both the address, so every neighbour
/// updates its entry for it to `mac`.
pub(crate) fn garp_frame(mac: [u8; 6], addr: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    f.extend_from_slice(&[0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]); // Ethernet, IPv4, request
    f.extend_from_slice(&mac);
    f.extend_from_slice(&addr.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&addr.octets());
    f
}

/// An unsolicited Neighbour Advertisement (ICMPv6 type 136) for `addr` with the override flag,
/// so that neighbours replace their entry with `mac`. The kernel fills in the checksum.
pub(crate) fn na_message(mac: [u8; 6], addr: std::net::Ipv6Addr) -> Vec<u8> {
    let mut m = Vec::with_capacity(32);
    m.extend_from_slice(&[136, 0, 0, 0]);
    m.extend_from_slice(&0x2000_0000u32.to_be_bytes()); // Override
    m.extend_from_slice(&addr.octets());
    m.extend_from_slice(&[2, 1]); // target link-layer address option, 8 bytes
    m.extend_from_slice(&mac);
    m
}

/// Sends unsolicited NAs to all nodes (ff02::1) on one interface, with hop limit 255 as
/// neighbour discovery requires.
pub(crate) struct NaSender {
    sock: socket2::Socket,
    ifindex: u32,
}

impl NaSender {
    pub(crate) fn open(ifname: &str, ifindex: u32) -> io::Result<Self> {
        use socket2::{Domain, Protocol, Socket, Type};
        let sock = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
        // Else every ICMPv6 message of the segment is queued for it, and never read.
        super::sendonly::block_icmpv6(&sock)?;
        sock.bind_device(Some(ifname.as_bytes()))?;
        sock.set_multicast_hops_v6(255)?;
        sock.set_multicast_if_v6(ifindex)?;
        Ok(NaSender { sock, ifindex })
    }

    pub(crate) fn send(&self, message: &[u8]) -> io::Result<()> {
        let all_nodes = std::net::SocketAddrV6::new(
            std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
            0,
            0,
            self.ifindex,
        );
        self.sock
            .send_to(message, &std::net::SocketAddr::V6(all_nodes).into())
            .map(|_| ())
    }
}

/// A packet socket on one interface for announcements.
pub(crate) struct Announcer {
    fd: std::os::fd::OwnedFd,
    ifindex: i32,
}

impl Announcer {
    pub(crate) fn open(ifindex: u32) -> io::Result<Self> {
        use std::os::fd::FromRawFd;
        // Protocol 0: the socket is given no frame at all (with ETH_P_ARP it would get a copy
        // of every ARP frame of the namespace, and never read them). Each send names its
        // protocol in the address.
        // SAFETY: plain socket(2); the result is checked and owned at once.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Announcer {
            // SAFETY: fd is a fresh descriptor we own.
            fd: unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) },
            ifindex: ifindex as i32,
        })
    }

    pub(crate) fn send(&self, frame: &[u8]) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid start.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ARP.to_be();
        sll.sll_ifindex = self.ifindex;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&[0xff; 6]);
        // SAFETY: the buffer and address are valid for the call.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn na_layout() {
        let m = na_message([2, 0, 0, 0, 0, 1], "2001:db8::100".parse().unwrap());
        assert_eq!(m.len(), 32);
        assert_eq!((m[0], m[4]), (136, 0x20), "NA with the override flag");
        assert_eq!(
            &m[8..24],
            &"2001:db8::100"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets()
        );
        assert_eq!(&m[24..32], &[2, 1, 2, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn garp_layout() {
        let f = garp_frame([2, 0, 0, 0, 0, 1], Ipv4Addr::new(10, 0, 0, 100));
        assert_eq!(f.len(), 42);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[20..22], &[0, 1], "request");
        assert_eq!(&f[28..32], &[10, 0, 0, 100], "sender address");
        assert_eq!(&f[38..42], &[10, 0, 0, 100], "target address: the same");
    }
}
