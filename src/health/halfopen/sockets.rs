//! The half-open probe's sockets and the system calls socket2 and tokio do not wrap: the
//! port's holder, the raw sockets and their filter, a send with a chosen source
//! (IP_PKTINFO), and a read of the error queue.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, SockAddr, SockFilter, Socket, Type};
use tokio::net::UdpSocket;

/// A TCP socket bound to the wildcard address and a port of the kernel's choosing, never
/// listening: connect() is never given a port bound this way, and a segment that arrives for
/// it finds no socket, so the kernel answers a SYN-ACK with a RST.
pub(super) fn holder(v6: bool) -> io::Result<(Socket, u16)> {
    let (domain, any) = if v6 {
        (Domain::IPV6, IpAddr::from(Ipv6Addr::UNSPECIFIED))
    } else {
        (Domain::IPV4, IpAddr::from(Ipv4Addr::UNSPECIFIED))
    };
    let holder = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    if v6 {
        holder.set_only_v6(true)?;
    }
    holder.bind(&SockAddr::from(SocketAddr::new(any, 0)))?;
    let port = holder
        .local_addr()?
        .as_socket()
        .map(|a| a.port())
        .ok_or_else(|| io::Error::other("the holding socket has no port"))?;
    Ok((holder, port))
}

/// The raw TCP socket that receives the answers to `port` and, from the error queue, the
/// ICMP errors quoting a SYN (IPv4: the quoted packet whole, as IP_HDRINCL has the kernel
/// give it). IPv6 sends from it too, the kernel computing the checksum.
pub(super) fn receiver(v6: bool, port: u16) -> io::Result<UdpSocket> {
    let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
    let raw = Socket::new(domain, Type::RAW, Some(Protocol::TCP))?;
    // Before anything is queued: without it the socket gets every TCP segment of the host.
    raw.attach_filter(&filter(port, v6))?;
    let mut junk = [std::mem::MaybeUninit::new(0u8); 64];
    while raw.recv_with_flags(&mut junk, libc::MSG_DONTWAIT).is_ok() {}
    if v6 {
        set_int(&raw, libc::IPPROTO_IPV6, libc::IPV6_CHECKSUM, 16)?;
        set_int(&raw, libc::IPPROTO_IPV6, libc::IPV6_RECVERR, 1)?;
    } else {
        raw.set_header_included_v4(true)?;
        set_int(&raw, libc::IPPROTO_IP, libc::IP_RECVERR, 1)?;
    }
    // Room for a burst of ten thousand answers; past the maximum a root process may force.
    let room = 4 << 20;
    if raw.set_recv_buffer_size(room).is_ok() {
        let _ = set_int(&raw, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, room as i32);
    }
    tokio_socket(raw)
}

/// IPv4's sending socket, of protocol IPPROTO_RAW: it receives nothing and is told of no
/// ICMP error. Sending from the receiving socket would not do: the kernel marks a raw socket
/// with every ICMP error it queues for it (any TCP flow's, `raw_err`), and its next IPv4
/// send fails with that error, whichever probe it was about.
pub(super) fn sender_v4() -> io::Result<UdpSocket> {
    tokio_socket(Socket::new(
        Domain::IPV4,
        Type::RAW,
        Some(Protocol::from(libc::IPPROTO_RAW)),
    )?)
}

fn tokio_socket(s: Socket) -> io::Result<UdpSocket> {
    s.set_nonblocking(true)?;
    // Datagrams: tokio's UdpSocket is the readiness and send/recv wrapper needed.
    UdpSocket::from_std(std::net::UdpSocket::from(s))
}

/// A classic BPF program: accept (the first 128 bytes of) a segment to `port`, drop the rest.
/// The IPv4 raw socket sees the IP header first, the IPv6 one the TCP header.
pub(super) fn filter(port: u16, v6: bool) -> Vec<SockFilter> {
    const LDX_MSH: u16 = (libc::BPF_LDX | libc::BPF_B | libc::BPF_MSH) as u16;
    const LDH_IND: u16 = (libc::BPF_LD | libc::BPF_H | libc::BPF_IND) as u16;
    const LDH_ABS: u16 = (libc::BPF_LD | libc::BPF_H | libc::BPF_ABS) as u16;
    const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let mut prog = if v6 {
        vec![SockFilter::new(LDH_ABS, 0, 0, 2)]
    } else {
        // X = the IP header's length; then the destination port after it.
        vec![
            SockFilter::new(LDX_MSH, 0, 0, 0),
            SockFilter::new(LDH_IND, 0, 0, 2),
        ]
    };
    prog.extend([
        SockFilter::new(JEQ, 0, 1, u32::from(port)),
        SockFilter::new(RET, 0, 0, 128),
        SockFilter::new(RET, 0, 0, 0),
    ]);
    prog
}

fn set_int(s: &Socket, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: the value is a live c_int and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends `buf` to `to` from `src`, named in an IP_PKTINFO or IPV6_PKTINFO message: the
/// kernel routes from that source (policy rules on it apply, as to a bound connect) and
/// refuses one the host does not have.
pub(super) fn send_from(
    sock: &UdpSocket,
    buf: &[u8],
    to: SocketAddr,
    src: IpAddr,
) -> io::Result<usize> {
    // u64 for the alignment a cmsghdr needs; room for either pktinfo.
    let mut control = [0u64; 8];
    let space = match src {
        // SAFETY: `control` is 64 bytes, aligned for cmsghdr, more than CMSG_SPACE of either.
        IpAddr::V4(a) => unsafe {
            let info = libc::in_pktinfo {
                ipi_ifindex: 0,
                ipi_spec_dst: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.octets()),
                },
                ipi_addr: libc::in_addr { s_addr: 0 },
            };
            cmsg(&mut control, libc::IPPROTO_IP, libc::IP_PKTINFO, info)
        },
        // SAFETY: as above.
        IpAddr::V6(a) => unsafe {
            let info = libc::in6_pktinfo {
                ipi6_addr: libc::in6_addr {
                    s6_addr: a.octets(),
                },
                ipi6_ifindex: 0,
            };
            cmsg(&mut control, libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, info)
        },
    };
    // SAFETY: the first `space` bytes of `control`, which outlives the borrow.
    let control = unsafe { std::slice::from_raw_parts(control.as_ptr().cast::<u8>(), space) };
    let addr = SockAddr::from(to);
    let iov = [io::IoSlice::new(buf)];
    let msg = socket2::MsgHdr::new()
        .with_addr(&addr)
        .with_buffers(&iov)
        .with_control(control);
    socket2::SockRef::from(sock).sendmsg(&msg, 0)
}

/// Writes one control message holding `data` at the start of `control`; its space in bytes.
///
/// # Safety
/// `control` must hold at least CMSG_SPACE(size_of::<T>()) bytes.
unsafe fn cmsg<T>(control: &mut [u64], level: libc::c_int, kind: libc::c_int, data: T) -> usize {
    let len = std::mem::size_of::<T>() as u32;
    // SAFETY: the caller gives room for the header and the data, aligned for cmsghdr.
    unsafe {
        let hdr = control.as_mut_ptr().cast::<libc::cmsghdr>();
        (*hdr).cmsg_level = level;
        (*hdr).cmsg_type = kind;
        (*hdr).cmsg_len = libc::CMSG_LEN(len) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(hdr).cast::<T>(), data);
        libc::CMSG_SPACE(len) as usize
    }
}

/// One message of the error queue: the bytes the ICMP error quoted, and (IPv6) the address
/// the SYN was sent to; no bytes for an error that did not come from an ICMP message.
pub(super) fn icmp_error(raw: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, Option<IpAddr>)> {
    // SAFETY: zeroed sockaddr_storage and msghdr are valid values of these C structs.
    let mut name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut control = [0u64; 32];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: every pointer in `msg` points into a live buffer of the length given with it.
    let n = unsafe {
        libc::recvmsg(
            raw.as_raw_fd(),
            &mut msg,
            libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut from_icmp = false;
    // SAFETY: the kernel wrote msg_controllen bytes of control messages into `control`; the
    // CMSG macros walk them within that length.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let level_type = ((*c).cmsg_level, (*c).cmsg_type);
            if level_type == (libc::IPPROTO_IP, libc::IP_RECVERR)
                || level_type == (libc::IPPROTO_IPV6, libc::IPV6_RECVERR)
            {
                let ee: libc::sock_extended_err =
                    std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                from_icmp = matches!(
                    ee.ee_origin,
                    libc::SO_EE_ORIGIN_ICMP | libc::SO_EE_ORIGIN_ICMP6
                );
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    if !from_icmp {
        return Ok((0, None));
    }
    let to = (i32::from(name.ss_family) == libc::AF_INET6).then(|| {
        // SAFETY: the family says the storage holds a sockaddr_in6.
        let sin6 =
            unsafe { &*(&name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
        IpAddr::from(sin6.sin6_addr.s6_addr)
    });
    Ok((n as usize, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_is_well_formed() {
        for v6 in [false, true] {
            let f = filter(40000, v6);
            assert_eq!(f.len(), if v6 { 4 } else { 5 });
            let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
            s.attach_filter(&f).expect("the kernel accepts the program");
        }
    }
}
