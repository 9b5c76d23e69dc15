//! The kernel's IPVS table as plain data: services, destinations, counters, the sync daemon
//! and the connection timeouts. These are what the codec reads and writes and what the
//! reconciler compares.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;

pub const IPPROTO_TCP: u16 = 6;
pub const IPPROTO_UDP: u16 = 17;
pub const IPPROTO_SCTP: u16 = 132;

/// Service flags (`IP_VS_SVC_F_*`).
pub mod flags {
    pub const PERSISTENT: u32 = 0x1;
    /// Set by the kernel on every hashed service; never ours to compare or set.
    pub const HASHED: u32 = 0x2;
    pub const ONEPACKET: u32 = 0x4;
    pub const SCHED1: u32 = 0x8;
    pub const SCHED2: u32 = 0x10;
    pub const SCHED3: u32 = 0x20;
    /// sh and mh: fall back to another server when the chosen one is unavailable.
    pub const SCHED_FALLBACK: u32 = SCHED1;
    /// sh and mh: hash the source port as well as the address.
    pub const SCHED_PORT: u32 = SCHED2;
}

/// How IPVS names a service.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(untagged)]
pub enum ServiceId {
    Addr {
        protocol: u16,
        addr: IpAddr,
        port: u16,
    },
    Fwmark {
        af: u16,
        mark: u32,
    },
}

impl ServiceId {
    pub fn af(&self) -> u16 {
        match self {
            ServiceId::Addr { addr, .. } => af_of(addr),
            ServiceId::Fwmark { af, .. } => *af,
        }
    }
}

pub fn af_of(addr: &IpAddr) -> u16 {
    match addr {
        IpAddr::V4(_) => AF_INET,
        IpAddr::V6(_) => AF_INET6,
    }
}

pub fn protocol_name(p: u16) -> String {
    match p {
        IPPROTO_TCP => "TCP".into(),
        IPPROTO_UDP => "UDP".into(),
        IPPROTO_SCTP => "SCTP".into(),
        other => format!("proto-{other}"),
    }
}

impl fmt::Display for ServiceId {
    /// As ipvsadm -Ln names services: `TCP  10.0.0.1:80`, `FWM  3 IPv6`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceId::Addr {
                protocol,
                addr,
                port,
            } => write!(
                f,
                "{} {}",
                protocol_name(*protocol),
                std::net::SocketAddr::new(*addr, *port)
            ),
            ServiceId::Fwmark { af, mark } if *af == AF_INET6 => write!(f, "FWM {mark} IPv6"),
            ServiceId::Fwmark { mark, .. } => write!(f, "FWM {mark}"),
        }
    }
}

/// A service's settings: what haldir sets and compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub id: ServiceId,
    pub scheduler: String,
    /// `flags::*` without HASHED.
    pub flags: u32,
    /// Persistence timeout in seconds (meaningful with `flags::PERSISTENT`).
    pub timeout: u32,
    /// IPv4: the netmask as an address; IPv6: the prefix length. Kept as the kernel sends it.
    pub netmask: u32,
    pub pe_name: Option<String>,
}

impl Service {
    /// The netmask value IPVS uses when persistence has no explicit granularity.
    pub fn default_netmask(af: u16) -> u32 {
        if af == AF_INET6 {
            128
        } else {
            u32::from_ne_bytes([255, 255, 255, 255])
        }
    }

    /// IPVS netmask encoding of a prefix length: IPv4 as the mask's bytes in network order
    /// read natively, IPv6 as the length itself.
    pub fn netmask_of_prefix(af: u16, prefix: u8) -> u32 {
        if af == AF_INET6 {
            u32::from(prefix)
        } else {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            u32::from_ne_bytes(mask.to_be_bytes())
        }
    }

    /// The prefix length of an IPVS netmask.
    pub fn prefix_of_netmask(af: u16, netmask: u32) -> u8 {
        if af == AF_INET6 {
            netmask.min(128) as u8
        } else {
            u32::from_be_bytes(netmask.to_ne_bytes()).leading_ones() as u8
        }
    }
}

/// Packet forwarding method (`IP_VS_CONN_F_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FwdMethod {
    Masq,
    Local,
    Tunnel,
    Route,
    Bypass,
}

impl FwdMethod {
    pub fn code(self) -> u32 {
        match self {
            FwdMethod::Masq => 0,
            FwdMethod::Local => 1,
            FwdMethod::Tunnel => 2,
            FwdMethod::Route => 3,
            FwdMethod::Bypass => 4,
        }
    }

    pub fn from_code(c: u32) -> Option<Self> {
        Some(match c & 0x7 {
            0 => FwdMethod::Masq,
            1 => FwdMethod::Local,
            2 => FwdMethod::Tunnel,
            3 => FwdMethod::Route,
            4 => FwdMethod::Bypass,
            _ => return None,
        })
    }

    /// As ipvsadm -Ln prints it.
    pub fn ipvsadm_name(self) -> &'static str {
        match self {
            FwdMethod::Masq => "Masq",
            FwdMethod::Local => "Local",
            FwdMethod::Tunnel => "Tunnel",
            FwdMethod::Route => "Route",
            FwdMethod::Bypass => "Bypass",
        }
    }
}

/// Tunnel encapsulation of a `Tunnel` destination (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct TunnelSpec {
    /// 0 ipip, 1 gue, 2 gre.
    pub kind: u8,
    pub port: u16,
    /// 0 no checksum, 1 checksum, 2 remote checksum offload.
    pub flags: u16,
}

/// A destination's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dest {
    pub addr: IpAddr,
    pub port: u16,
    pub fwd: FwdMethod,
    pub weight: u32,
    pub upper_threshold: u32,
    pub lower_threshold: u32,
    pub tunnel: Option<TunnelSpec>,
}

/// Traffic counters (`ip_vs_stats64`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// A service as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceEntry {
    pub service: Service,
    pub stats: Stats,
}

/// A destination as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DestEntry {
    pub dest: Dest,
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub persist_conns: u32,
    pub stats: Stats,
}

/// Connection sync daemon role.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum DaemonState {
    Master,
    Backup,
}

impl DaemonState {
    pub fn code(self) -> u32 {
        match self {
            DaemonState::Master => 1,
            DaemonState::Backup => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Daemon {
    pub state: DaemonState,
    pub interface: String,
    pub sync_id: u32,
    pub max_len: Option<u16>,
    pub mcast_group: Option<IpAddr>,
    pub mcast_port: Option<u16>,
    pub mcast_ttl: Option<u8>,
}

/// Connection timeouts in seconds; 0 in a request leaves the kernel's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// `union nf_inet_addr`: 16 bytes, an IPv4 address in the first four.
pub fn addr_bytes(addr: &IpAddr) -> [u8; 16] {
    let mut out = [0u8; 16];
    match addr {
        IpAddr::V4(a) => out[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => out.copy_from_slice(&a.octets()),
    }
    out
}

pub fn addr_from_bytes(af: u16, b: &[u8]) -> Option<IpAddr> {
    match (af, b.len()) {
        (AF_INET, 4..=16) => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        (AF_INET6, 16) => {
            let mut o = [0u8; 16];
            o.copy_from_slice(b);
            Some(IpAddr::V6(Ipv6Addr::from(o)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmask_encoding() {
        let m = Service::netmask_of_prefix(AF_INET, 24);
        assert_eq!(m.to_ne_bytes(), [255, 255, 255, 0]);
        assert_eq!(Service::prefix_of_netmask(AF_INET, m), 24);
        assert_eq!(
            Service::netmask_of_prefix(AF_INET, 32),
            Service::default_netmask(AF_INET)
        );
        assert_eq!(Service::netmask_of_prefix(AF_INET, 0), 0);
        assert_eq!(Service::netmask_of_prefix(AF_INET6, 64), 64);
        assert_eq!(Service::prefix_of_netmask(AF_INET6, 64), 64);
    }
}
