//! The IPVS generic-netlink messages (`include/uapi/linux/ip_vs.h`): typed requests to bytes,
//! received bytes to typed replies. No I/O; the family id and sequence numbers are passed in.
//! Unknown attributes are skipped, so a newer kernel's additions do not break decoding.

use std::net::IpAddr;

use super::types::*;
use crate::netlink::wire::{self, Attr, AttrWriter, WireError};

pub const GENL_NAME: &str = "IPVS";
pub const GENL_VERSION: u8 = 1;

/// Commands (`IPVS_CMD_*`).
pub mod cmd {
    pub const NEW_SERVICE: u8 = 1;
    pub const SET_SERVICE: u8 = 2;
    pub const DEL_SERVICE: u8 = 3;
    pub const GET_SERVICE: u8 = 4;
    pub const NEW_DEST: u8 = 5;
    pub const SET_DEST: u8 = 6;
    pub const DEL_DEST: u8 = 7;
    pub const GET_DEST: u8 = 8;
    pub const NEW_DAEMON: u8 = 9;
    pub const DEL_DAEMON: u8 = 10;
    pub const GET_DAEMON: u8 = 11;
    pub const SET_CONFIG: u8 = 12;
    pub const GET_CONFIG: u8 = 13;
    pub const GET_INFO: u8 = 15;
    pub const FLUSH: u8 = 17;
}

mod attr {
    // IPVS_CMD_ATTR_*
    pub(super) const SERVICE: u16 = 1;
    pub(super) const DEST: u16 = 2;
    pub(super) const DAEMON: u16 = 3;
    pub(super) const TIMEOUT_TCP: u16 = 4;
    pub(super) const TIMEOUT_TCP_FIN: u16 = 5;
    pub(super) const TIMEOUT_UDP: u16 = 6;
    // IPVS_SVC_ATTR_*
    pub(super) const SVC_AF: u16 = 1;
    pub(super) const SVC_PROTOCOL: u16 = 2;
    pub(super) const SVC_ADDR: u16 = 3;
    pub(super) const SVC_PORT: u16 = 4;
    pub(super) const SVC_FWMARK: u16 = 5;
    pub(super) const SVC_SCHED_NAME: u16 = 6;
    pub(super) const SVC_FLAGS: u16 = 7;
    pub(super) const SVC_TIMEOUT: u16 = 8;
    pub(super) const SVC_NETMASK: u16 = 9;
    pub(super) const SVC_STATS: u16 = 10;
    pub(super) const SVC_PE_NAME: u16 = 11;
    pub(super) const SVC_STATS64: u16 = 12;
    // IPVS_DEST_ATTR_*
    pub(super) const DEST_ADDR: u16 = 1;
    pub(super) const DEST_PORT: u16 = 2;
    pub(super) const DEST_FWD_METHOD: u16 = 3;
    pub(super) const DEST_WEIGHT: u16 = 4;
    pub(super) const DEST_U_THRESH: u16 = 5;
    pub(super) const DEST_L_THRESH: u16 = 6;
    pub(super) const DEST_ACTIVE_CONNS: u16 = 7;
    pub(super) const DEST_INACT_CONNS: u16 = 8;
    pub(super) const DEST_PERSIST_CONNS: u16 = 9;
    pub(super) const DEST_STATS: u16 = 10;
    pub(super) const DEST_ADDR_FAMILY: u16 = 11;
    pub(super) const DEST_STATS64: u16 = 12;
    pub(super) const DEST_TUN_TYPE: u16 = 13;
    pub(super) const DEST_TUN_PORT: u16 = 14;
    pub(super) const DEST_TUN_FLAGS: u16 = 15;
    // IPVS_DAEMON_ATTR_*
    pub(super) const DAEMON_STATE: u16 = 1;
    pub(super) const DAEMON_MCAST_IFN: u16 = 2;
    pub(super) const DAEMON_SYNC_ID: u16 = 3;
    pub(super) const DAEMON_SYNC_MAXLEN: u16 = 4;
    pub(super) const DAEMON_MCAST_GROUP: u16 = 5;
    pub(super) const DAEMON_MCAST_GROUP6: u16 = 6;
    pub(super) const DAEMON_MCAST_PORT: u16 = 7;
    pub(super) const DAEMON_MCAST_TTL: u16 = 8;
    // IPVS_INFO_ATTR_*
    pub(super) const INFO_VERSION: u16 = 1;
    pub(super) const INFO_CONN_TAB_SIZE: u16 = 2;
}

/// A request to the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    NewService(Service),
    SetService(Service),
    DelService(ServiceId),
    NewDest(ServiceId, Dest),
    SetDest(ServiceId, Dest),
    DelDest(ServiceId, IpAddr, u16),
    /// Dump: every service.
    GetServices,
    /// Dump: the destinations of one service.
    GetDests(ServiceId),
    NewDaemon(Daemon),
    DelDaemon(DaemonState),
    GetDaemons,
    SetTimeouts(Timeouts),
    GetTimeouts,
    GetInfo,
    Flush,
}

impl Request {
    pub fn is_dump(&self) -> bool {
        matches!(
            self,
            Request::GetServices | Request::GetDests(_) | Request::GetDaemons
        )
    }

    /// Appends this request as one netlink message to `out`.
    pub fn encode(&self, family: u16, seq: u32, out: &mut Vec<u8>) {
        let mut w = AttrWriter::new();
        let command = match self {
            Request::NewService(s) => {
                service_attrs(&mut w, s);
                cmd::NEW_SERVICE
            }
            Request::SetService(s) => {
                service_attrs(&mut w, s);
                cmd::SET_SERVICE
            }
            Request::DelService(id) => {
                service_id_attrs(&mut w, id);
                cmd::DEL_SERVICE
            }
            Request::NewDest(id, d) => {
                service_id_attrs(&mut w, id);
                dest_attrs(&mut w, id.af(), d);
                cmd::NEW_DEST
            }
            Request::SetDest(id, d) => {
                service_id_attrs(&mut w, id);
                dest_attrs(&mut w, id.af(), d);
                cmd::SET_DEST
            }
            Request::DelDest(id, addr, port) => {
                service_id_attrs(&mut w, id);
                w.begin_nest(attr::DEST)
                    .bytes(attr::DEST_ADDR, &addr_bytes(addr))
                    .be16(attr::DEST_PORT, *port)
                    .u16(attr::DEST_ADDR_FAMILY, af_of(addr))
                    .end_nest();
                cmd::DEL_DEST
            }
            Request::GetServices => cmd::GET_SERVICE,
            Request::GetDests(id) => {
                service_id_attrs(&mut w, id);
                cmd::GET_DEST
            }
            Request::NewDaemon(d) => {
                daemon_attrs(&mut w, d);
                cmd::NEW_DAEMON
            }
            Request::DelDaemon(state) => {
                w.begin_nest(attr::DAEMON)
                    .u32(attr::DAEMON_STATE, state.code())
                    .end_nest();
                cmd::DEL_DAEMON
            }
            Request::GetDaemons => cmd::GET_DAEMON,
            Request::SetTimeouts(t) => {
                w.u32(attr::TIMEOUT_TCP, t.tcp)
                    .u32(attr::TIMEOUT_TCP_FIN, t.tcp_fin)
                    .u32(attr::TIMEOUT_UDP, t.udp);
                cmd::SET_CONFIG
            }
            Request::GetTimeouts => cmd::GET_CONFIG,
            Request::GetInfo => cmd::GET_INFO,
            Request::Flush => cmd::FLUSH,
        };
        let flags = wire::NLM_F_REQUEST
            | if self.is_dump() {
                wire::NLM_F_DUMP
            } else {
                wire::NLM_F_ACK
            };
        wire::push_genl_message(out, family, flags, seq, command, GENL_VERSION, &w.finish());
    }
}

fn service_id_inner(w: &mut AttrWriter, id: &ServiceId) {
    match id {
        ServiceId::Addr {
            protocol,
            addr,
            port,
        } => {
            w.u16(attr::SVC_AF, af_of(addr))
                .u16(attr::SVC_PROTOCOL, *protocol)
                .bytes(attr::SVC_ADDR, &addr_bytes(addr))
                .be16(attr::SVC_PORT, *port);
        }
        ServiceId::Fwmark { af, mark } => {
            w.u16(attr::SVC_AF, *af).u32(attr::SVC_FWMARK, *mark);
        }
    }
}

fn service_id_attrs(w: &mut AttrWriter, id: &ServiceId) {
    w.begin_nest(attr::SERVICE);
    service_id_inner(w, id);
    w.end_nest();
}

fn service_attrs(w: &mut AttrWriter, s: &Service) {
    w.begin_nest(attr::SERVICE);
    service_id_inner(w, &s.id);
    w.string(attr::SVC_SCHED_NAME, &s.scheduler);
    // struct ip_vs_flags { flags; mask }: the mask says which flags this request sets. HASHED
    // is the kernel's own and stays out of it.
    let mut fl = Vec::with_capacity(8);
    fl.extend_from_slice(&(s.flags & !flags::HASHED).to_ne_bytes());
    fl.extend_from_slice(&(!flags::HASHED).to_ne_bytes());
    w.bytes(attr::SVC_FLAGS, &fl)
        .u32(attr::SVC_TIMEOUT, s.timeout)
        .u32(attr::SVC_NETMASK, s.netmask);
    if let Some(pe) = &s.pe_name {
        w.string(attr::SVC_PE_NAME, pe);
    }
    w.end_nest();
}

fn dest_attrs(w: &mut AttrWriter, _service_af: u16, d: &Dest) {
    w.begin_nest(attr::DEST)
        .bytes(attr::DEST_ADDR, &addr_bytes(&d.addr))
        .be16(attr::DEST_PORT, d.port)
        .u32(attr::DEST_FWD_METHOD, d.fwd.code())
        .u32(attr::DEST_WEIGHT, d.weight)
        .u32(attr::DEST_U_THRESH, d.upper_threshold)
        .u32(attr::DEST_L_THRESH, d.lower_threshold)
        .u16(attr::DEST_ADDR_FAMILY, af_of(&d.addr));
    if let Some(t) = d.tunnel {
        w.u8(attr::DEST_TUN_TYPE, t.kind)
            .be16(attr::DEST_TUN_PORT, t.port)
            .u16(attr::DEST_TUN_FLAGS, t.flags);
    }
    w.end_nest();
}

fn daemon_attrs(w: &mut AttrWriter, d: &Daemon) {
    w.begin_nest(attr::DAEMON)
        .u32(attr::DAEMON_STATE, d.state.code())
        .string(attr::DAEMON_MCAST_IFN, &d.interface)
        .u32(attr::DAEMON_SYNC_ID, d.sync_id);
    if let Some(l) = d.max_len {
        w.u16(attr::DAEMON_SYNC_MAXLEN, l);
    }
    match d.mcast_group {
        Some(IpAddr::V4(a)) => {
            w.bytes(attr::DAEMON_MCAST_GROUP, &a.octets());
        }
        Some(IpAddr::V6(a)) => {
            w.bytes(attr::DAEMON_MCAST_GROUP6, &a.octets());
        }
        None => {}
    }
    if let Some(p) = d.mcast_port {
        w.u16(attr::DAEMON_MCAST_PORT, p);
    }
    if let Some(t) = d.mcast_ttl {
        w.u8(attr::DAEMON_MCAST_TTL, t);
    }
    w.end_nest();
}

/// A message from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// An ACK (errno 0) or an error for the request with this sequence number.
    Ack {
        seq: u32,
        errno: i32,
    },
    /// The end of a dump.
    Done {
        seq: u32,
    },
    Service {
        seq: u32,
        entry: ServiceEntry,
    },
    Dest {
        seq: u32,
        entry: DestEntry,
    },
    Daemon {
        seq: u32,
        daemon: Daemon,
    },
    Timeouts {
        seq: u32,
        timeouts: Timeouts,
    },
    Info {
        seq: u32,
        version: u32,
        conn_tab_size: u32,
    },
    /// A message of another kind (NOOP, an unknown command): skipped.
    Other {
        seq: u32,
    },
}

impl Reply {
    pub fn seq(&self) -> u32 {
        match self {
            Reply::Ack { seq, .. }
            | Reply::Done { seq }
            | Reply::Service { seq, .. }
            | Reply::Dest { seq, .. }
            | Reply::Daemon { seq, .. }
            | Reply::Timeouts { seq, .. }
            | Reply::Info { seq, .. }
            | Reply::Other { seq } => *seq,
        }
    }
}

/// Decodes every message of a received buffer. `family` is the IPVS family id; messages of
/// other types (there should be none) are reported as `Other`.
pub fn decode(buf: &[u8], family: u16) -> Result<Vec<Reply>, WireError> {
    let mut out = Vec::new();
    for msg in wire::messages(buf) {
        let msg = msg?;
        let seq = msg.seq;
        let reply = match msg.kind {
            wire::NLMSG_ERROR => {
                let (errno, orig_seq) = wire::error_payload(msg.payload)?;
                Reply::Ack {
                    seq: orig_seq,
                    errno,
                }
            }
            wire::NLMSG_DONE => Reply::Done { seq },
            k if k == family => decode_genl(seq, msg.payload)?,
            _ => Reply::Other { seq },
        };
        out.push(reply);
    }
    Ok(out)
}

fn decode_genl(seq: u32, payload: &[u8]) -> Result<Reply, WireError> {
    let (command, attrs) = wire::genl_payload(payload)?;
    let top: Vec<Attr> = wire::attrs(attrs).collect::<Result<_, _>>()?;
    let find = |kind: u16| top.iter().find(|a| a.kind == kind);
    Ok(match command {
        cmd::NEW_SERVICE => {
            let nest = find(attr::SERVICE).ok_or(WireError::Missing("IPVS_CMD_ATTR_SERVICE"))?;
            Reply::Service {
                seq,
                entry: decode_service(nest)?,
            }
        }
        cmd::NEW_DEST => {
            let nest = find(attr::DEST).ok_or(WireError::Missing("IPVS_CMD_ATTR_DEST"))?;
            Reply::Dest {
                seq,
                entry: decode_dest(nest)?,
            }
        }
        cmd::NEW_DAEMON => {
            let nest = find(attr::DAEMON).ok_or(WireError::Missing("IPVS_CMD_ATTR_DAEMON"))?;
            Reply::Daemon {
                seq,
                daemon: decode_daemon(nest)?,
            }
        }
        cmd::SET_CONFIG | cmd::GET_CONFIG => {
            let get = |kind| find(kind).map(|a| a.u32()).transpose();
            Reply::Timeouts {
                seq,
                timeouts: Timeouts {
                    tcp: get(attr::TIMEOUT_TCP)?.unwrap_or(0),
                    tcp_fin: get(attr::TIMEOUT_TCP_FIN)?.unwrap_or(0),
                    udp: get(attr::TIMEOUT_UDP)?.unwrap_or(0),
                },
            }
        }
        cmd::GET_INFO | 14 => {
            let get = |kind| find(kind).map(|a| a.u32()).transpose();
            Reply::Info {
                seq,
                version: get(attr::INFO_VERSION)?.unwrap_or(0),
                conn_tab_size: get(attr::INFO_CONN_TAB_SIZE)?.unwrap_or(0),
            }
        }
        _ => Reply::Other { seq },
    })
}

fn decode_stats(nest: &Attr, wide: bool) -> Result<Stats, WireError> {
    let mut s = Stats::default();
    for a in nest.nested() {
        let a = a?;
        // The 32-bit stats carry the byte counters as u64 all the same.
        let v = if wide || (4..=5).contains(&a.kind) {
            a.u64()?
        } else {
            u64::from(a.u32()?)
        };
        match a.kind {
            1 => s.conns = v,
            2 => s.inpkts = v,
            3 => s.outpkts = v,
            4 => s.inbytes = v,
            5 => s.outbytes = v,
            6 => s.cps = v,
            7 => s.inpps = v,
            8 => s.outpps = v,
            9 => s.inbps = v,
            10 => s.outbps = v,
            _ => {}
        }
    }
    Ok(s)
}

fn decode_service(nest: &Attr) -> Result<ServiceEntry, WireError> {
    let (mut af, mut protocol, mut addr, mut port, mut fwmark) = (None, None, None, None, None);
    let (mut sched, mut fl, mut timeout, mut netmask, mut pe) = (None, 0, 0, 0, None);
    let (mut stats, mut stats64) = (None, None);
    for a in nest.nested() {
        let a = a?;
        match a.kind {
            attr::SVC_AF => af = Some(a.u16()?),
            attr::SVC_PROTOCOL => protocol = Some(a.u16()?),
            attr::SVC_ADDR => addr = Some(a.payload),
            attr::SVC_PORT => port = Some(a.be16()?),
            attr::SVC_FWMARK => fwmark = Some(a.u32()?),
            attr::SVC_SCHED_NAME => sched = Some(a.string()?),
            attr::SVC_FLAGS => {
                if a.payload.len() < 4 {
                    return Err(WireError::AttrSize {
                        kind: a.kind,
                        len: a.payload.len(),
                        expected: "8",
                    });
                }
                fl = u32::from_ne_bytes([a.payload[0], a.payload[1], a.payload[2], a.payload[3]]);
            }
            attr::SVC_TIMEOUT => timeout = a.u32()?,
            attr::SVC_NETMASK => netmask = a.u32()?,
            attr::SVC_PE_NAME => pe = Some(a.string()?),
            attr::SVC_STATS => stats = Some(decode_stats(&a, false)?),
            attr::SVC_STATS64 => stats64 = Some(decode_stats(&a, true)?),
            _ => {}
        }
    }
    let af = af.ok_or(WireError::Missing("IPVS_SVC_ATTR_AF"))?;
    let id = match (fwmark, protocol, addr, port) {
        (Some(mark), _, _, _) if mark != 0 => ServiceId::Fwmark { af, mark },
        (_, Some(protocol), Some(addr), Some(port)) => ServiceId::Addr {
            protocol,
            addr: addr_from_bytes(af, addr).ok_or_else(|| {
                WireError::Invalid(format!(
                    "service address of {} bytes for family {af}",
                    addr.len()
                ))
            })?,
            port,
        },
        _ => {
            return Err(WireError::Missing(
                "IPVS_SVC_ATTR_FWMARK or PROTOCOL/ADDR/PORT",
            ));
        }
    };
    Ok(ServiceEntry {
        service: Service {
            id,
            scheduler: sched.unwrap_or_default(),
            flags: fl & !flags::HASHED,
            timeout,
            netmask,
            pe_name: pe.filter(|p| !p.is_empty()),
        },
        stats: stats64.or(stats).unwrap_or_default(),
    })
}

fn decode_dest(nest: &Attr) -> Result<DestEntry, WireError> {
    let (mut addr, mut port, mut fwd, mut af) = (None, None, None, None);
    let (mut weight, mut uth, mut lth) = (0, 0, 0);
    let (mut active, mut inact, mut persist) = (0, 0, 0);
    let (mut tun_type, mut tun_port, mut tun_flags) = (None, 0, 0);
    let (mut stats, mut stats64) = (None, None);
    for a in nest.nested() {
        let a = a?;
        match a.kind {
            attr::DEST_ADDR => addr = Some(a.payload),
            attr::DEST_PORT => port = Some(a.be16()?),
            attr::DEST_FWD_METHOD => fwd = Some(a.u32()?),
            attr::DEST_WEIGHT => weight = a.u32()?,
            attr::DEST_U_THRESH => uth = a.u32()?,
            attr::DEST_L_THRESH => lth = a.u32()?,
            attr::DEST_ACTIVE_CONNS => active = a.u32()?,
            attr::DEST_INACT_CONNS => inact = a.u32()?,
            attr::DEST_PERSIST_CONNS => persist = a.u32()?,
            attr::DEST_STATS => stats = Some(decode_stats(&a, false)?),
            attr::DEST_STATS64 => stats64 = Some(decode_stats(&a, true)?),
            attr::DEST_ADDR_FAMILY => af = Some(a.u16()?),
            attr::DEST_TUN_TYPE => tun_type = Some(a.u8()?),
            attr::DEST_TUN_PORT => tun_port = a.be16()?,
            attr::DEST_TUN_FLAGS => tun_flags = a.u16()?,
            _ => {}
        }
    }
    let raw = addr.ok_or(WireError::Missing("IPVS_DEST_ATTR_ADDR"))?;
    // Kernels before 3.18 send no family: a 16-byte address with 12 trailing zeros is IPv4.
    let af = af.unwrap_or(if raw.len() == 16 && raw[4..].iter().any(|b| *b != 0) {
        AF_INET6
    } else {
        AF_INET
    });
    let addr = addr_from_bytes(af, raw).ok_or_else(|| {
        WireError::Invalid(format!(
            "destination address of {} bytes for family {af}",
            raw.len()
        ))
    })?;
    let code = fwd.ok_or(WireError::Missing("IPVS_DEST_ATTR_FWD_METHOD"))?;
    let fwd = FwdMethod::from_code(code)
        .ok_or_else(|| WireError::Invalid(format!("forwarding method {code}")))?;
    Ok(DestEntry {
        dest: Dest {
            addr,
            port: port.ok_or(WireError::Missing("IPVS_DEST_ATTR_PORT"))?,
            fwd,
            weight,
            upper_threshold: uth,
            lower_threshold: lth,
            tunnel: (fwd == FwdMethod::Tunnel).then_some(TunnelSpec {
                kind: tun_type.unwrap_or(0),
                port: tun_port,
                flags: tun_flags,
            }),
        },
        active_conns: active,
        inactive_conns: inact,
        persist_conns: persist,
        stats: stats64.or(stats).unwrap_or_default(),
    })
}

fn decode_daemon(nest: &Attr) -> Result<Daemon, WireError> {
    let (mut state, mut ifn, mut id) = (None, None, 0);
    let (mut maxlen, mut group, mut port, mut ttl) = (None, None, None, None);
    for a in nest.nested() {
        let a = a?;
        match a.kind {
            attr::DAEMON_STATE => state = Some(a.u32()?),
            attr::DAEMON_MCAST_IFN => ifn = Some(a.string()?),
            attr::DAEMON_SYNC_ID => id = a.u32()?,
            attr::DAEMON_SYNC_MAXLEN => maxlen = Some(a.u16()?),
            attr::DAEMON_MCAST_GROUP => {
                let b: [u8; 4] = a.payload.try_into().map_err(|_| WireError::AttrSize {
                    kind: a.kind,
                    len: a.payload.len(),
                    expected: "4",
                })?;
                group = Some(IpAddr::from(b));
            }
            attr::DAEMON_MCAST_GROUP6 => {
                let b: [u8; 16] = a.payload.try_into().map_err(|_| WireError::AttrSize {
                    kind: a.kind,
                    len: a.payload.len(),
                    expected: "16",
                })?;
                group = Some(IpAddr::from(b));
            }
            attr::DAEMON_MCAST_PORT => port = Some(a.u16()?),
            attr::DAEMON_MCAST_TTL => ttl = Some(a.u8()?),
            _ => {}
        }
    }
    let state = match state.ok_or(WireError::Missing("IPVS_DAEMON_ATTR_STATE"))? {
        1 => DaemonState::Master,
        2 => DaemonState::Backup,
        other => return Err(WireError::Invalid(format!("sync daemon state {other}"))),
    };
    Ok(Daemon {
        state,
        interface: ifn.ok_or(WireError::Missing("IPVS_DAEMON_ATTR_MCAST_IFN"))?,
        sync_id: id,
        max_len: maxlen,
        mcast_group: group.filter(|g| !g.is_unspecified()),
        mcast_port: port,
        mcast_ttl: ttl,
    })
}
