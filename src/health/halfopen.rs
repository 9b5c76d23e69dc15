//! The half-open TCP probe (`type = "tcp"`, `half_open = true`; F5's "TCP half open"): a SYN
//! sent from a raw socket, and the server's answer, a SYN-ACK (up) or a RST (refused). Our
//! kernel has no connection for the SYN-ACK and resets it, so the server's listening socket
//! never hands the application a connection: no accept, no log line, no FIN exchange, and on
//! the director no socket made and destroyed per check, which is most of what a connecting
//! check costs (see the README's figures).
//!
//! One raw socket per address family, made on first use, takes the answers of every probe.
//! They all come back to one port, which a bound TCP socket holds so that no connection of
//! this host is ever given it; a socket filter lets only segments to that port be copied to
//! the raw socket. A probe waits on its own channel, keyed by the server's address and port
//! and its SYN's sequence number, and sends its SYN again at 1 s and 3 s as the kernel's
//! connect does, within the check's timeout.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, SockFilter, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use super::outcome::{Outcome, Reason};
use super::probe::Target;
use super::syn::{self, Answer, Syn};

/// The server, its port, and the probe's initial sequence number.
type Key = (IpAddr, u16, u32);

/// The raw sockets, each opened on the first probe of its family. A failure to open one
/// (no CAP_NET_RAW) is kept as the reason of every probe of that family.
#[derive(Default)]
pub struct Engine {
    v4: OnceLock<Result<Arc<Family>, String>>,
    v6: OnceLock<Result<Arc<Family>, String>>,
    readers: Mutex<Vec<AbortHandle>>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        for r in self
            .readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            r.abort();
        }
    }
}

struct Family {
    raw: UdpSocket,
    v6: bool,
    /// The port every answer comes back to, and the socket that holds it.
    port: u16,
    _holder: Socket,
    pending: Mutex<HashMap<Key, oneshot::Sender<Answer>>>,
    /// IPv4: the source address the kernel routes each server from, which the checksum
    /// covers. Forgotten when a SYN is not answered, so that a route's change is followed.
    sources: Mutex<HashMap<Ipv4Addr, Ipv4Addr>>,
}

impl Engine {
    fn family(&self, v6: bool) -> Result<Arc<Family>, String> {
        let cell = if v6 { &self.v6 } else { &self.v4 };
        cell.get_or_init(|| {
            let fam = Family::open(v6)
                .map(Arc::new)
                .map_err(|e| format!("raw TCP socket for half-open checks: {e}"))?;
            let reader = tokio::spawn(read(fam.clone())).abort_handle();
            self.readers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(reader);
            Ok(fam)
        })
        .clone()
    }
}

/// Removes a probe's channel however the probe ends: answered, timed out or cancelled.
struct Waiting<'a> {
    fam: &'a Family,
    key: Key,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        lock(&self.fam.pending).remove(&self.key);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One half-open probe; the caller bounds it by the check's timeout.
pub(super) async fn probe(target: &Target, engine: &Engine) -> Outcome {
    let fam = match engine.family(target.addr.is_ipv6()) {
        Ok(f) => f,
        Err(e) => return Outcome::Down(Reason::Spawn(e)),
    };
    fam.probe(target).await
}

impl Family {
    fn open(v6: bool) -> io::Result<Family> {
        let (domain, any) = if v6 {
            (Domain::IPV6, IpAddr::from(std::net::Ipv6Addr::UNSPECIFIED))
        } else {
            (Domain::IPV4, IpAddr::from(Ipv4Addr::UNSPECIFIED))
        };
        // Bound, never listening: the kernel gives this port to no connection, and a segment
        // that arrives for it finds no socket, so the kernel answers a SYN-ACK with a RST.
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
        let raw = Socket::new(domain, Type::RAW, Some(Protocol::TCP))?;
        // Before anything is queued: without it the socket gets every TCP segment of the host.
        raw.attach_filter(&filter(port, v6))?;
        let mut junk = [std::mem::MaybeUninit::new(0u8); 64];
        while raw.recv_with_flags(&mut junk, libc::MSG_DONTWAIT).is_ok() {}
        if v6 {
            // The kernel computes the TCP checksum at this offset, with the source it routes.
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
        raw.set_nonblocking(true)?;
        Ok(Family {
            raw: UdpSocket::from_std(std::net::UdpSocket::from(raw))?,
            v6,
            port,
            _holder: holder,
            pending: Mutex::new(HashMap::new()),
            sources: Mutex::new(HashMap::new()),
        })
    }

    async fn probe(&self, target: &Target) -> Outcome {
        let isn: u32 = rand::random();
        let key = (target.addr, target.port, isn);
        let (tx, mut rx) = oneshot::channel();
        lock(&self.pending).insert(key, tx);
        let _waiting = Waiting { fam: self, key };
        let s = Syn {
            local_port: self.port,
            port: target.port,
            isn,
        };
        let mut wait = Duration::from_secs(1);
        loop {
            match self.send(target, &s).await {
                // Dropped on the way out, by this host's firewall (EPERM) or a full queue: a
                // connect would not see it either, and would send again.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::ENOBUFS)) => {}
                Err(e) => return Outcome::Down(super::probe::datagram_reason(&e)),
                Ok(()) => {}
            }
            match tokio::time::timeout(wait, &mut rx).await {
                Ok(Ok(Answer::Open)) => return Outcome::Up,
                Ok(Ok(Answer::Refused)) => return Outcome::Down(Reason::Refused),
                Ok(Ok(Answer::Unreachable)) => return Outcome::Down(Reason::Unreachable),
                Ok(Err(_)) => return Outcome::Down(Reason::Spawn("half-open reader gone".into())),
                // The SYN or its answer was lost: again, as connect's retransmission does,
                // from the source the route gives now (it may have changed).
                Err(_) => {
                    if let IpAddr::V4(a) = target.addr {
                        lock(&self.sources).remove(&a);
                    }
                    wait *= 2;
                }
            }
        }
    }

    async fn send(&self, target: &Target, s: &Syn) -> io::Result<()> {
        let to = SocketAddr::new(target.addr, 0);
        match (target.addr, target.check.source) {
            (IpAddr::V4(dst), src) => {
                let src = match src {
                    Some(IpAddr::V4(s)) => s,
                    _ => self.source_v4(dst)?,
                };
                self.raw.send_to(&syn::packet_v4(src, dst, s), to).await?;
            }
            (IpAddr::V6(_), None) => {
                self.raw.send_to(&syn::segment(s, 1440), to).await?;
            }
            (IpAddr::V6(_), Some(IpAddr::V6(src))) => {
                let seg = syn::segment(s, 1440);
                self.raw
                    .async_io(Interest::WRITABLE, || {
                        send_from_v6(&self.raw, &seg, to, src)
                    })
                    .await?;
            }
            (IpAddr::V6(_), Some(IpAddr::V4(_))) => {
                return Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT));
            }
        }
        Ok(())
    }

    /// The address the kernel sends from to `dst`, as a connected UDP socket learns it.
    fn source_v4(&self, dst: Ipv4Addr) -> io::Result<Ipv4Addr> {
        if let Some(s) = lock(&self.sources).get(&dst) {
            return Ok(*s);
        }
        let probe = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        probe.connect((dst, 9))?;
        let src = match probe.local_addr()?.ip() {
            IpAddr::V4(s) => s,
            IpAddr::V6(_) => return Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT)),
        };
        lock(&self.sources).insert(dst, src);
        Ok(src)
    }

    fn deliver(&self, from: IpAddr, r: &syn::Reply) {
        if r.local_port != self.port {
            return;
        }
        if let Some(tx) = lock(&self.pending).remove(&(from, r.port, r.isn)) {
            let _ = tx.send(r.answer);
        }
    }
}

/// Reads every answer as it comes and hands it to its probe, and every ICMP error about a
/// SYN (the error queue, IP_RECVERR: the kernel quotes the SYN); what matches no probe
/// waiting (a late answer, another host's segment to the same port) is dropped.
async fn read(fam: Arc<Family>) {
    let mut buf = [0u8; 128];
    loop {
        if fam
            .raw
            .ready(Interest::READABLE | Interest::ERROR)
            .await
            .is_err()
        {
            return;
        }
        // Errors in a row: a pending ICMP error is also reported once by a read, then cleared.
        let mut errors = 0;
        loop {
            match fam.raw.try_recv_from(&mut buf) {
                Ok((n, from)) => {
                    let pkt = &buf[..n];
                    let got = if fam.v6 {
                        syn::reply(pkt).map(|r| (from.ip(), r))
                    } else {
                        syn::reply_v4(pkt).map(|(a, r)| (IpAddr::V4(a), r))
                    };
                    if let Some((from, r)) = got {
                        fam.deliver(from, &r);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) if errors < 8 => errors += 1,
                Err(_) => break,
            }
        }
        while let Ok((n, to)) = fam
            .raw
            .try_io(Interest::ERROR, || icmp_error(&fam.raw, &mut buf))
        {
            let got = match (to, fam.v6) {
                (Some(to), true) => syn::quoted(&buf[..n], Answer::Unreachable).map(|r| (to, r)),
                (_, false) => {
                    syn::quoted_v4(&buf[..n], Answer::Unreachable).map(|(a, r)| (IpAddr::V4(a), r))
                }
                (None, true) => None,
            };
            if let Some((to, r)) = got {
                fam.deliver(to, &r);
            }
        }
    }
}

/// One message of the error queue: the bytes the ICMP error quoted, and (IPv6) the address
/// the SYN was sent to; `None` for an error that did not come from an ICMP message.
fn icmp_error(raw: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, Option<IpAddr>)> {
    use std::os::fd::AsRawFd;
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

/// A classic BPF program: accept (the first 128 bytes of) a segment to `port`, drop the rest.
/// The IPv4 raw socket sees the IP header first, the IPv6 one the TCP header.
fn filter(port: u16, v6: bool) -> Vec<SockFilter> {
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
    use std::os::fd::AsRawFd;
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

/// Sends from a configured IPv6 source (`source`), named in an IPV6_PKTINFO message: the
/// kernel routes from it and computes the checksum with it.
fn send_from_v6(
    raw: &UdpSocket,
    seg: &[u8],
    to: SocketAddr,
    src: std::net::Ipv6Addr,
) -> io::Result<usize> {
    let info = libc::in6_pktinfo {
        ipi6_addr: libc::in6_addr {
            s6_addr: src.octets(),
        },
        ipi6_ifindex: 0,
    };
    let len = std::mem::size_of::<libc::in6_pktinfo>() as u32;
    // SAFETY: CMSG_SPACE and CMSG_LEN only compute sizes.
    let (space, cmsg_len) = unsafe { (libc::CMSG_SPACE(len), libc::CMSG_LEN(len)) };
    // u64 for the alignment a cmsghdr needs.
    let mut control = vec![0u64; (space as usize).div_ceil(8)];
    // SAFETY: `control` holds CMSG_SPACE(len) bytes, aligned for cmsghdr; the header and the
    // data written stay within it.
    unsafe {
        let hdr = control.as_mut_ptr().cast::<libc::cmsghdr>();
        (*hdr).cmsg_level = libc::IPPROTO_IPV6;
        (*hdr).cmsg_type = libc::IPV6_PKTINFO;
        (*hdr).cmsg_len = cmsg_len as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(hdr).cast::<libc::in6_pktinfo>(), info);
    }
    // SAFETY: the bytes of `control`, which outlives the borrow.
    let control_bytes =
        unsafe { std::slice::from_raw_parts(control.as_ptr().cast::<u8>(), space as usize) };
    let addr = SockAddr::from(to);
    let buf = [io::IoSlice::new(seg)];
    let msg = socket2::MsgHdr::new()
        .with_addr(&addr)
        .with_buffers(&buf)
        .with_control(control_bytes);
    socket2::SockRef::from(raw).sendmsg(&msg, 0)
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
