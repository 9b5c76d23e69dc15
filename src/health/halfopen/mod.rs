//! The half-open TCP probe (`type = "tcp"`, `half_open = true`; F5's "TCP half open"): a SYN
//! sent from a raw socket, and the server's answer, a SYN-ACK (up) or a RST (refused). Our
//! kernel has no connection for the SYN-ACK and resets it, so the server's listening socket
//! never hands the application a connection: no accept, no log line, no FIN exchange, and on
//! the director no socket made and destroyed per check, which is most of what a connecting
//! check costs (see docs/performance.md).
//!
//! One raw socket per address family, made on first use, takes the answers of every probe.
//! They all come back to one port, which a bound TCP socket holds so that no connection of
//! this host is ever given it; a socket filter lets only segments to that port be copied to
//! the raw socket. A probe waits on a channel, under the server's address and port, for the
//! answer acknowledging its SYN's sequence number, and sends its SYN again at 1 s and 3 s as
//! the kernel's connect does, within the check's timeout. Two checks of one server and port
//! from one source (two services checking it at different intervals) share the question
//! asked first: one port means one connection tuple, and a second SYN while the server holds
//! the first would be answered only by an ACK.

mod sockets;

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use socket2::Socket;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::outcome::{Outcome, Reason};
use super::syn::{self, Answer, Syn};
use super::target::Target;

/// The server and its port.
type Server = (IpAddr, u16);

/// The raw sockets of each family with the task reading them, opened on its first probe. A
/// failure to open them (no CAP_NET_RAW, no descriptor left) is the reason of that probe, and
/// the next one tries again; so does a reader that has ended.
#[derive(Default)]
pub(crate) struct Engine {
    families: Mutex<[Option<Running>; 2]>,
}

/// A family's sockets and the task that reads them.
type Running = (Arc<Family>, JoinHandle<()>);

impl Drop for Engine {
    fn drop(&mut self) {
        for (_, reader) in lock(&self.families).iter().flatten() {
            reader.abort();
        }
    }
}

struct Family {
    v6: bool,
    /// Receives the answers and the ICMP errors; IPv6 sends from it too.
    raw: UdpSocket,
    /// IPv4 sends from a socket of its own (see [`sockets::sender_v4`]).
    send_v4: Option<UdpSocket>,
    /// The port every answer comes back to, and the socket that holds it.
    port: u16,
    _holder: Socket,
    /// The SYNs in flight to each server and port (one per source).
    asked: Mutex<HashMap<Server, Vec<Question>>>,
    /// IPv4: the source address the kernel routes each server from, which the checksum
    /// covers. Forgotten when a probe ends unanswered, so that a route's change is followed.
    sources: Mutex<HashMap<Ipv4Addr, Ipv4Addr>>,
    /// Configured sources seen on the host's interfaces; forgotten likewise.
    local: Mutex<HashSet<IpAddr>>,
}

/// A SYN in flight from one source, and who waits for its answer: the probe that sent it,
/// and any other probe of the same server and port from the same source that came meanwhile.
struct Question {
    source: Option<IpAddr>,
    isn: u32,
    waiting: Vec<oneshot::Sender<Answer>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Engine {
    fn family(&self, v6: bool) -> Result<Arc<Family>, String> {
        let mut families = lock(&self.families);
        let slot = &mut families[usize::from(v6)];
        if let Some((f, reader)) = slot
            && !reader.is_finished()
        {
            return Ok(f.clone());
        }
        let fam = Family::open(v6)
            .map(Arc::new)
            .map_err(|e| format!("raw TCP socket for half-open checks: {e}"))?;
        let reader = tokio::spawn(read(fam.clone()));
        *slot = Some((fam.clone(), reader));
        Ok(fam)
    }
}

/// One half-open probe; the caller bounds it by the check's timeout.
pub(super) async fn probe(target: &Target, engine: &Engine) -> Outcome {
    match engine.family(target.addr.is_ipv6()) {
        Ok(fam) => fam.probe(target).await,
        Err(e) => Outcome::Down(Reason::Spawn(e)),
    }
}

fn verdict(a: Answer) -> Outcome {
    match a {
        Answer::Open => Outcome::Up,
        Answer::Refused => Outcome::Down(Reason::Refused),
        Answer::Unreachable => Outcome::Down(Reason::Unreachable),
    }
}

/// Withdraws a probe's question however the probe ends (answered, timed out, cancelled), and
/// forgets the route's source when no answer came.
struct Asking<'a> {
    fam: &'a Family,
    target: &'a Target,
    isn: u32,
    answered: bool,
}

impl Drop for Asking<'_> {
    fn drop(&mut self) {
        let server = (self.target.addr, self.target.port);
        let mut asked = lock(&self.fam.asked);
        if let Some(questions) = asked.get_mut(&server) {
            // Those who joined it see their channel close and ask for themselves.
            questions.retain(|q| q.isn != self.isn);
            if questions.is_empty() {
                asked.remove(&server);
            }
        }
        drop(asked);
        if !self.answered {
            self.fam.forget_source(self.target);
        }
    }
}

impl Family {
    fn open(v6: bool) -> io::Result<Family> {
        let (holder, port) = sockets::holder(v6)?;
        Ok(Family {
            v6,
            raw: sockets::receiver(v6, port)?,
            send_v4: if v6 {
                None
            } else {
                Some(sockets::sender_v4()?)
            },
            port,
            _holder: holder,
            asked: Mutex::new(HashMap::new()),
            sources: Mutex::new(HashMap::new()),
            local: Mutex::new(HashSet::new()),
        })
    }

    async fn probe(&self, target: &Target) -> Outcome {
        let server = (target.addr, target.port);
        let source = target.check.source;
        loop {
            let (tx, rx) = oneshot::channel();
            let isn: u32 = rand::random();
            let joined = {
                let mut asked = lock(&self.asked);
                let questions = asked.entry(server).or_default();
                match questions.iter_mut().find(|q| q.source == source) {
                    Some(q) => {
                        q.waiting.push(tx);
                        true
                    }
                    None => {
                        questions.push(Question {
                            source,
                            isn,
                            waiting: vec![tx],
                        });
                        false
                    }
                }
            };
            if !joined {
                return self.ask(target, isn, rx).await;
            }
            if let Ok(a) = rx.await {
                return verdict(a);
            }
            // The probe that asked was cancelled or timed out first: ask ourselves.
        }
    }

    /// Sends the SYN of the question just registered, and again while it goes unanswered.
    async fn ask(&self, target: &Target, isn: u32, mut rx: oneshot::Receiver<Answer>) -> Outcome {
        let mut asking = Asking {
            fam: self,
            target,
            isn,
            answered: false,
        };
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
                Err(e) => return Outcome::Down(send_reason(&e, target.check.source)),
                Ok(()) => {}
            }
            match tokio::time::timeout(wait, &mut rx).await {
                Ok(Ok(a)) => {
                    asking.answered = true;
                    return verdict(a);
                }
                // Its sender lives in the question, which only an answer or this probe removes.
                Ok(Err(_)) => return Outcome::Down(Reason::Spawn("question withdrawn".into())),
                // The SYN or its answer was lost: again, as connect's retransmission does,
                // from the source the route gives now (it may have changed).
                Err(_) => {
                    self.forget_source(target);
                    wait *= 2;
                }
            }
        }
    }

    async fn send(&self, target: &Target, s: &Syn) -> io::Result<()> {
        let to = SocketAddr::new(target.addr, 0);
        let configured = target.check.source;
        match (target.addr, &self.send_v4) {
            (IpAddr::V4(dst), Some(sock)) => {
                let src = match configured {
                    Some(IpAddr::V4(s)) => {
                        self.local_source(IpAddr::V4(s))?;
                        s
                    }
                    Some(IpAddr::V6(_)) => {
                        return Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT));
                    }
                    None => self.source_v4(dst)?,
                };
                let pkt = syn::packet_v4(src, dst, s);
                // The source named as well as written: the route is looked up from it.
                sock.async_io(Interest::WRITABLE, || {
                    sockets::send_from(sock, &pkt, to, IpAddr::V4(src))
                })
                .await?;
            }
            (IpAddr::V6(_), _) => {
                let seg = syn::segment(s, 1440);
                match configured {
                    None => {
                        self.raw.send_to(&seg, to).await?;
                    }
                    Some(src @ IpAddr::V6(_)) => {
                        self.local_source(src)?;
                        self.raw
                            .async_io(Interest::WRITABLE, || {
                                sockets::send_from(&self.raw, &seg, to, src)
                            })
                            .await?;
                    }
                    Some(IpAddr::V4(_)) => {
                        return Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT));
                    }
                }
            }
            (IpAddr::V4(_), None) => return Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT)),
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

    /// A configured source must be one of the host's addresses: a raw socket that writes
    /// its own header may send from any (the kernel does not check), as may any socket under
    /// `ip_nonlocal_bind`, and the answers to one the host has not never come back here (to
    /// a VRRP backup using the VIP as source, they go to the master).
    fn local_source(&self, src: IpAddr) -> io::Result<()> {
        if lock(&self.local).contains(&src) {
            return Ok(());
        }
        if !crate::iface::is_local(src)? {
            return Err(io::Error::from_raw_os_error(libc::EADDRNOTAVAIL));
        }
        lock(&self.local).insert(src);
        Ok(())
    }

    fn forget_source(&self, target: &Target) {
        if let IpAddr::V4(a) = target.addr {
            lock(&self.sources).remove(&a);
        }
        if let Some(s) = target.check.source {
            lock(&self.local).remove(&s);
        }
    }

    /// Hands an answer to the question it answers: from that server and port, to our port,
    /// acknowledging that SYN.
    fn deliver(&self, from: IpAddr, r: &syn::Reply) {
        if r.local_port != self.port {
            return;
        }
        let mut asked = lock(&self.asked);
        let server = (from, r.port);
        let Some(questions) = asked.get_mut(&server) else {
            return;
        };
        let Some(i) = questions.iter().position(|q| q.isn == r.isn) else {
            return;
        };
        let q = questions.swap_remove(i);
        if questions.is_empty() {
            asked.remove(&server);
        }
        drop(asked);
        for w in q.waiting {
            let _ = w.send(r.answer);
        }
    }
}

/// A failed send: a configured source the host does not have is named as such.
fn send_reason(e: &io::Error, source: Option<IpAddr>) -> Reason {
    match (e.raw_os_error(), source) {
        (Some(libc::EINVAL | libc::EADDRNOTAVAIL), Some(src)) => {
            Reason::Connect(format!("source {src}: {e}"))
        }
        _ => super::outcome::datagram_reason(e),
    }
}

/// Reads every answer as it comes and hands it to its question, and every ICMP error about a
/// SYN (the error queue, IP_RECVERR: the kernel quotes the SYN); what matches no question
/// (a late answer, another flow's error, another host's segment to the port) is dropped.
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
            .try_io(Interest::ERROR, || sockets::icmp_error(&fam.raw, &mut buf))
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
