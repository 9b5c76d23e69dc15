//! Sockets that only send: the adverts' sending socket, the unsolicited NAs' ICMPv6 socket and
//! the gratuitous ARPs' packet socket. The kernel queues a copy of every packet a socket
//! matches until its receive buffer is full (about 208 kB), whether or not anyone reads it:
//! an ARP socket gets every ARP frame of the namespace, an ICMPv6 one every neighbour
//! solicitation and MLD report, a sending socket bound to the unicast source every advert of
//! a unicast peer. Measured on a master with a peer on the segment: the ARP socket and the
//! ICMPv6 socket each held 212,992 bytes, and the ICMPv6 one counted drops. keepalived gives
//! its sending and gratuitous ARP sockets a filter that refuses everything
//! (`vrrp_if.c`, `if_setsockopt_no_receive`); these do the same, or better where the
//! protocol lets a socket say it takes nothing at all.

use std::io;
use std::os::fd::AsRawFd;

use socket2::{SockFilter, Socket};

/// A classic BPF program of one instruction, `ret #0`: every packet is cut to nothing, so
/// none is queued (keepalived's `if_setsockopt_no_receive`).
pub(crate) fn refuse_everything(sock: &Socket) -> io::Result<()> {
    const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    sock.attach_filter(&[SockFilter::new(BPF_RET_K, 0, 0, 0)])?;
    drain(sock);
    Ok(())
}

/// ICMPv6 blocks every message type (`ICMP6_FILTER_SETBLOCKALL`): the kernel checks the type
/// filter before it copies a packet for the socket, where a BPF program runs on the copy.
pub(crate) fn block_icmpv6(sock: &Socket) -> io::Result<()> {
    // <linux/icmpv6.h>: ICMPV6_FILTER, a bitmap of 256 types where a set bit blocks.
    const ICMPV6_FILTER: libc::c_int = 1;
    let all = [u32::MAX; 8];
    // SAFETY: the option value is a live [u32; 8], the size of struct icmp6_filter.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_ICMPV6,
            ICMPV6_FILTER,
            all.as_ptr().cast(),
            std::mem::size_of_val(&all) as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    drain(sock);
    Ok(())
}

/// Reads away what was queued between the socket's creation and its filter: nothing reads it
/// later, and it would stay for the socket's life.
fn drain(sock: &Socket) {
    let mut buf = [std::mem::MaybeUninit::new(0u8); 64];
    while sock.recv_with_flags(&mut buf, libc::MSG_DONTWAIT).is_ok() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::{Domain, Protocol, Type};
    use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
    use std::time::Duration;

    /// Unprivileged stand-in for the raw sockets: a UDP socket with the filter holds nothing
    /// that is sent to it, before the filter or after; one without it receives.
    #[test]
    fn a_filtered_socket_queues_nothing() {
        let open = || {
            let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
            s.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
                .unwrap();
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            s
        };
        let (quiet, open_one) = (open(), open());
        let sender = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let send = |s: &Socket| {
            let to = s.local_addr().unwrap().as_socket().unwrap();
            sender.send_to(b"advert", to).unwrap();
        };
        // Queued before the filter: read away with it.
        send(&quiet);
        refuse_everything(&quiet).unwrap();
        send(&quiet);
        send(&open_one);
        let mut buf = [std::mem::MaybeUninit::new(0u8); 16];
        assert_eq!(
            open_one.recv(&mut buf).unwrap(),
            6,
            "the unfiltered one receives"
        );
        assert!(
            quiet.recv(&mut buf).is_err(),
            "the filtered one receives nothing"
        );
    }
}
