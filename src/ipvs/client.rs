//! The IPVS netlink socket. Requests are written back to back, many per write, and their
//! ACKs read afterwards — the kernel answers each in order — instead of one round trip per
//! request as ipvsadm does.

use std::fmt;
use std::io;

use neli::consts::socket::NlFamily;
use neli::router::synchronous::NlRouter;
use neli::utils::Groups;
use thiserror::Error;

use super::codec::{GENL_NAME, Reply, Request};
use super::types::*;
use crate::netlink::socket::{Protocol, Socket};
use crate::netlink::wire::WireError;

/// What went wrong talking to IPVS.
#[derive(Debug, Error)]
pub enum IpvsError {
    /// `detail` is netlink's own answer, for debugging; the message is what a person needs.
    #[error("IPVS is not available: load the ip_vs module")]
    Unavailable { detail: String },
    #[error("netlink socket: {0}")]
    Socket(#[from] io::Error),
    #[error("the kernel's reply could not be read: {0}")]
    Decode(#[from] WireError),
    #[error("{op}: {}", errno_text(*errno))]
    Rejected { op: String, errno: i32 },
    #[error("the kernel did not answer {op}")]
    NoAnswer { op: String },
    #[error("{op}: this kernel has no \"{scheduler}\" scheduler (module ip_vs_{scheduler})")]
    NoScheduler { op: String, scheduler: String },
}

/// The error of a request the kernel refused, named as precisely as the errno allows.
fn rejected(req: &Request, errno: i32) -> IpvsError {
    match req {
        Request::NewService(s) | Request::SetService(s) if errno == libc::ENOENT => {
            IpvsError::NoScheduler {
                op: req.to_string(),
                scheduler: s.scheduler.clone(),
            }
        }
        _ => IpvsError::Rejected {
            op: req.to_string(),
            errno,
        },
    }
}

impl IpvsError {
    /// The errno of a rejected request.
    pub fn errno(&self) -> Option<i32> {
        match self {
            IpvsError::Rejected { errno, .. } => Some(*errno),
            IpvsError::NoScheduler { .. } => Some(libc::ENOENT),
            _ => None,
        }
    }
}

fn errno_text(errno: i32) -> String {
    let meaning = match errno {
        libc::EEXIST => "it already exists",
        libc::ESRCH => "no such service",
        libc::ENOENT => "not found (no such destination, or the scheduler's module is missing)",
        libc::EPERM => "operation not permitted (haldir needs CAP_NET_ADMIN)",
        libc::EBUSY => "busy",
        _ => "",
    };
    let os = io::Error::from_raw_os_error(errno);
    if meaning.is_empty() {
        os.to_string()
    } else {
        format!("{meaning} ({os})")
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sa = |a: &std::net::IpAddr, p: u16| std::net::SocketAddr::new(*a, p);
        match self {
            Request::NewService(s) => write!(f, "add service {}", s.id),
            Request::SetService(s) => write!(f, "edit service {}", s.id),
            Request::DelService(id) => write!(f, "delete service {id}"),
            Request::NewDest(id, d) => write!(f, "add real server {} to {id}", sa(&d.addr, d.port)),
            Request::SetDest(id, d) => {
                write!(f, "edit real server {} of {id}", sa(&d.addr, d.port))
            }
            Request::DelDest(id, a, p) => write!(f, "delete real server {} of {id}", sa(a, *p)),
            Request::GetServices => f.write_str("list services"),
            Request::GetDests(id) => write!(f, "list real servers of {id}"),
            Request::NewDaemon(d) => {
                write!(f, "start {:?} sync daemon on {}", d.state, d.interface)
            }
            Request::DelDaemon(s) => write!(f, "stop {s:?} sync daemon"),
            Request::GetDaemons => f.write_str("list sync daemons"),
            Request::SetTimeouts(_) => f.write_str("set timeouts"),
            Request::GetTimeouts => f.write_str("read timeouts"),
            Request::GetInfo => f.write_str("read IPVS info"),
            Request::Flush => f.write_str("flush"),
        }
    }
}

/// A service with its destinations, as read from the kernel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableEntry {
    #[serde(flatten)]
    pub service: ServiceEntry,
    pub dests: Vec<DestEntry>,
}

/// Largest write of pipelined requests; the kernel refuses a message over its send buffer.
const CHUNK_BYTES: usize = 64 * 1024;
/// The receive buffer asked for: every ACK of a chunk must fit, or the kernel drops some.
const RCVBUF: i32 = 4 * 1024 * 1024;

pub struct Client {
    sock: Socket,
    family: u16,
}

impl Client {
    /// Resolves the IPVS family in this network namespace and opens a socket.
    pub fn connect() -> Result<Self, IpvsError> {
        let family =
            {
                let (router, _) = NlRouter::connect(NlFamily::Generic, None, Groups::empty())
                    .map_err(|e| IpvsError::Unavailable {
                        detail: e.to_string(),
                    })?;
                router
                    .resolve_genl_family(GENL_NAME)
                    .map_err(|e| IpvsError::Unavailable {
                        detail: e.to_string(),
                    })?
            };
        let sock = Socket::open(Protocol::Generic, 0, 256 * 1024)?;
        sock.set_rcvbuf(RCVBUF);
        Ok(Client { sock, family })
    }

    fn next_seq(&mut self) -> u32 {
        self.sock.next_seq()
    }

    fn recv(&mut self) -> Result<Vec<Reply>, IpvsError> {
        let buf = self.sock.recv()?;
        trace_buffer(self.family, buf);
        Ok(super::codec::decode(buf, self.family)?)
    }

    /// Sends non-dump requests pipelined and returns each one's outcome, in order. An `Err`
    /// of the outer result means the socket failed and the outcomes are unknown.
    pub fn execute(&mut self, reqs: &[Request]) -> Result<Vec<Result<(), IpvsError>>, IpvsError> {
        let mut outcomes = Vec::with_capacity(reqs.len());
        let mut start = 0;
        while start < reqs.len() {
            let mut buf = Vec::with_capacity(CHUNK_BYTES);
            let first_seq = self.sock.peek_seq();
            let mut end = start;
            while end < reqs.len() && (buf.len() < CHUNK_BYTES - 1024 || end == start) {
                let seq = self.next_seq();
                reqs[end].encode(self.family, seq, &mut buf);
                end += 1;
            }
            self.sock.send(&buf)?;
            let count = end - start;
            let mut answers: Vec<Option<i32>> = vec![None; count];
            let mut pending = count;
            while pending > 0 {
                for reply in self.recv()? {
                    if let Reply::Ack { seq, errno } = reply {
                        let i = seq.wrapping_sub(first_seq) as usize;
                        if i < count && answers[i].is_none() {
                            answers[i] = Some(errno);
                            pending -= 1;
                        }
                    }
                }
            }
            for (req, errno) in reqs[start..end].iter().zip(answers) {
                outcomes.push(match errno {
                    Some(0) => Ok(()),
                    Some(errno) => Err(rejected(req, errno)),
                    None => Err(IpvsError::NoAnswer {
                        op: req.to_string(),
                    }),
                });
            }
            start = end;
        }
        Ok(outcomes)
    }

    /// One request that must succeed.
    pub fn execute_one(&mut self, req: Request) -> Result<(), IpvsError> {
        self.execute(std::slice::from_ref(&req))?
            .pop()
            .unwrap_or_else(|| {
                Err(IpvsError::NoAnswer {
                    op: req.to_string(),
                })
            })
    }

    /// A dump request: every reply up to NLMSG_DONE.
    pub fn dump(&mut self, req: &Request) -> Result<Vec<Reply>, IpvsError> {
        let seq = self.next_seq();
        let mut buf = Vec::new();
        req.encode(self.family, seq, &mut buf);
        self.sock.send(&buf)?;
        let mut out = Vec::new();
        loop {
            for reply in self.recv()? {
                if reply.seq() != seq {
                    continue;
                }
                match reply {
                    Reply::Done { .. } => return Ok(out),
                    Reply::Ack { errno, .. } if errno != 0 => {
                        return Err(IpvsError::Rejected {
                            op: req.to_string(),
                            errno,
                        });
                    }
                    Reply::Ack { .. } => return Ok(out),
                    other => out.push(other),
                }
            }
        }
    }

    /// A request answered by one message (GET_CONFIG, GET_INFO).
    fn query(&mut self, req: &Request) -> Result<Reply, IpvsError> {
        let seq = self.next_seq();
        let mut buf = Vec::new();
        req.encode(self.family, seq, &mut buf);
        self.sock.send(&buf)?;
        let mut answer = None;
        loop {
            for reply in self.recv()? {
                match reply {
                    r if r.seq() != seq => {}
                    Reply::Ack { errno: 0, .. } => {
                        return answer.ok_or_else(|| IpvsError::NoAnswer {
                            op: req.to_string(),
                        });
                    }
                    Reply::Ack { errno, .. } => {
                        return Err(IpvsError::Rejected {
                            op: req.to_string(),
                            errno,
                        });
                    }
                    other => answer = Some(other),
                }
            }
        }
    }

    pub fn services(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        let replies = self.dump(&Request::GetServices)?;
        Ok(entries(replies, |r| match r {
            Reply::Service { entry, .. } => Some(entry),
            _ => None,
        }))
    }

    pub fn dests(&mut self, id: ServiceId) -> Result<Vec<DestEntry>, IpvsError> {
        let replies = self.dump(&Request::GetDests(id))?;
        Ok(entries(replies, |r| match r {
            Reply::Dest { entry, .. } => Some(entry),
            _ => None,
        }))
    }

    /// Every service with its destinations.
    pub fn table(&mut self) -> Result<Vec<TableEntry>, IpvsError> {
        self.table_with(|service, dests| TableEntry { service, dests })
    }

    /// Every service with its destinations, each made into what the caller keeps of it as
    /// soon as it is read: one service's full entries are held at a time.
    pub fn table_with<T>(
        &mut self,
        mut keep: impl FnMut(ServiceEntry, Vec<DestEntry>) -> T,
    ) -> Result<Vec<T>, IpvsError> {
        let services = self.services()?;
        let mut out = Vec::with_capacity(services.len());
        for service in services {
            let dests = self.dests(service.service.id)?;
            out.push(keep(service, dests));
        }
        Ok(out)
    }

    pub fn daemons(&mut self) -> Result<Vec<Daemon>, IpvsError> {
        let replies = self.dump(&Request::GetDaemons)?;
        Ok(entries(replies, |r| match r {
            Reply::Daemon { daemon, .. } => Some(daemon),
            _ => None,
        }))
    }

    pub fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        match self.query(&Request::GetTimeouts)? {
            Reply::Timeouts { timeouts, .. } => Ok(timeouts),
            _ => Err(IpvsError::NoAnswer {
                op: "read timeouts".into(),
            }),
        }
    }

    /// The IPVS version (as 0x010203 for 1.2.3) and the connection table size.
    pub fn info(&mut self) -> Result<(u32, u32), IpvsError> {
        match self.query(&Request::GetInfo)? {
            Reply::Info {
                version,
                conn_tab_size,
                ..
            } => Ok((version, conn_tab_size)),
            _ => Err(IpvsError::NoAnswer {
                op: "read IPVS info".into(),
            }),
        }
    }
}

/// With `HALDIR_NETLINK_TRACE=FILE`, every buffer received from the kernel is appended to FILE
/// as one line of hex after the family id: material for bug reports and decoder tests.
/// The entries of a dump, in a vector sized for them. Collected from the replies' vector,
/// they would be written in place and keep its allocation, sized for the larger `Reply` (176
/// bytes, a destination 136) and grown by doubling: a service's 10 destinations kept room for
/// 20.
fn entries<T>(replies: Vec<Reply>, pick: impl Fn(Reply) -> Option<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(replies.len());
    out.extend(replies.into_iter().filter_map(pick));
    out
}

fn trace_buffer(family: u16, buf: &[u8]) {
    use std::io::Write as _;
    let Some(path) = std::env::var_os("HALDIR_NETLINK_TRACE") else {
        return;
    };
    let hex: String = buf.iter().map(|b| format!("{b:02x}")).collect();
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{family} {hex}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::types::{Dest, FwdMethod, Stats};

    #[test]
    fn a_dumps_entries_take_their_own_room() {
        let dest = DestEntry {
            dest: Dest {
                addr: "10.0.0.1".parse().unwrap(),
                port: 80,
                fwd: FwdMethod::Route,
                weight: 1,
                upper_threshold: 0,
                lower_threshold: 0,
                tunnel: None,
            },
            active_conns: 0,
            inactive_conns: 0,
            persist_conns: 0,
            stats: Stats::default(),
        };
        let mut replies = Vec::with_capacity(16);
        replies.extend((0..10).map(|seq| Reply::Dest {
            seq,
            entry: dest.clone(),
        }));
        replies.push(Reply::Done { seq: 10 });
        let dests = entries(replies, |r| match r {
            Reply::Dest { entry, .. } => Some(entry),
            _ => None,
        });
        assert_eq!(dests, vec![dest; 10]);
        assert!(dests.capacity() <= 11, "capacity {}", dests.capacity());
    }
}
