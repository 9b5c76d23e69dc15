//! The validated configuration: std types, defaults filled in, inheritance resolved (a real
//! server carries its effective forwarding method and check). Serializing it gives TOML that
//! loads back to an equal model.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Serialize, Serializer};

use super::types::*;

mod check;
pub use check::*;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    pub global: Global,
    #[serde(rename = "vrrp_instance")]
    pub vrrp_instances: Vec<VrrpInstance>,
    #[serde(rename = "vrrp_sync_group")]
    pub sync_groups: Vec<SyncGroup>,
    #[serde(rename = "track_script")]
    pub track_scripts: Vec<TrackScript>,
    #[serde(rename = "track_file", skip_serializing_if = "Vec::is_empty")]
    pub track_files: Vec<TrackFile>,
    #[serde(rename = "virtual_server")]
    pub virtual_servers: Vec<std::sync::Arc<VirtualServer>>,
    #[serde(rename = "fwmark")]
    pub fwmarks: Vec<FwmarkRule>,
    pub netfilter: Netfilter,
    pub ipvs: Ipvs,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realserver: Option<RealServerRole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(rename = "static", skip_serializing_if = "Static::is_empty")]
    pub static_: Static,
    /// Present with `[routing]` or any `[[announce]]` (then with its defaults).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing: Option<Routing>,
    #[serde(rename = "announce")]
    pub announces: Vec<Announce>,
}

/// The kernel routing table haldir owns for announced VIPs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Routing {
    pub table: u32,
    pub protocol: u8,
    #[serde(serialize_with = "serialize_duration")]
    pub startup_delay: Duration,
    pub on_stop: RoutesOnStop,
    pub bird_socket: PathBuf,
}

impl Default for Routing {
    fn default() -> Self {
        Routing {
            table: 200,
            protocol: 200,
            startup_delay: Duration::from_secs(3),
            on_stop: RoutesOnStop::Withdraw,
            bird_socket: PathBuf::from("/run/bird/bird.ctl"),
        }
    }
}

/// One VIP offered to the routers while its virtual servers can serve it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Announce {
    /// A host route: /32 or /128.
    pub prefix: IpNet,
    /// The names of the virtual servers it depends on (never empty once validated).
    pub virtual_servers: Vec<String>,
    pub when: AnnounceWhen,
    #[serde(serialize_with = "serialize_duration")]
    pub hold_down: Duration,
    pub metric: u32,
}

/// What haldir holds for as long as it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Static {
    pub addresses: Vec<super::vip::Vip>,
    pub routes: Vec<super::route::Route>,
    pub rules: Vec<super::route::Rule>,
}

impl Static {
    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty() && self.routes.is_empty() && self.rules.is_empty()
    }
}

/// Where alerts are mailed, and which kinds are on by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Email {
    pub to: Vec<String>,
    pub from: String,
    /// "host:port".
    pub smtp_server: String,
    pub smtp_helo_name: String,
    #[serde(serialize_with = "serialize_duration")]
    pub smtp_connect_timeout: Duration,
    pub vrrp: bool,
    pub checker: bool,
    pub quorum: bool,
}

impl Config {
    /// What this host holds as a real server: `[realserver]`, and the announced prefixes of
    /// an active-active director, which it accepts as local routes (`local PREFIX dev lo
    /// table local`) with the ARP settings of a DR real server, announced or not, so that the
    /// flows the routers still send are served. A route rather than an address on `lo`:
    /// FRR 8.4 would see the address as a connected route, which hides the announcement it
    /// imports from haldir's table.
    pub fn local_role(&self) -> Option<RealServerRole> {
        let mut role = self.realserver.clone().or_else(|| {
            (!self.announces.is_empty()).then(|| RealServerRole {
                vips: Vec::new(),
                mode: RealServerMode::Dr,
                local_routes: Vec::new(),
                local_protocol: 0,
            })
        })?;
        for a in &self.announces {
            if !role.local_routes.contains(&a.prefix) {
                role.local_routes.push(a.prefix);
            }
        }
        if let Some(r) = &self.routing {
            role.local_protocol = r.protocol;
        }
        Some(role)
    }

    /// Every command haldir runs as root: all of them with `script_user` root, and the notify
    /// commands whose table names root as their `user`.
    pub fn root_scripts(&self) -> Vec<&[String]> {
        let is_root = |spec: &str| split_identity(spec).0 == "root";
        if is_root(&self.global.script_user) {
            return self.scripts();
        }
        self.vrrp_instances
            .iter()
            .map(|i| &i.notify)
            .chain(self.sync_groups.iter().map(|g| &g.notify))
            .filter(|n| n.user.as_deref().is_some_and(is_root))
            .flat_map(|n| [&n.master, &n.backup, &n.fault, &n.stop, &n.any])
            .flatten()
            .map(Vec::as_slice)
            .collect()
    }

    /// Every command haldir may run as the script user: track scripts, notify commands of
    /// instances, groups, services and real servers, misc checks.
    pub fn scripts(&self) -> Vec<&[String]> {
        let mut out: Vec<&[String]> = Vec::new();
        out.extend(self.track_scripts.iter().map(|t| t.command.as_slice()));
        let notifies = self
            .vrrp_instances
            .iter()
            .map(|i| &i.notify)
            .chain(self.sync_groups.iter().map(|g| &g.notify));
        for n in notifies {
            out.extend(
                [&n.master, &n.backup, &n.fault, &n.stop, &n.any]
                    .into_iter()
                    .flatten()
                    .map(Vec::as_slice),
            );
        }
        for vs in &self.virtual_servers {
            out.extend(
                [&vs.quorum_up, &vs.quorum_down]
                    .into_iter()
                    .flatten()
                    .map(Vec::as_slice),
            );
            for rs in &vs.real_servers {
                out.extend([rs.notify_up(), rs.notify_down()].into_iter().flatten());
            }
            let checks = vs
                .check
                .iter()
                .chain(vs.real_servers.iter().filter_map(|r| r.check.as_ref()));
            for c in checks {
                if let CheckKind::Misc { command, .. } = &c.kind {
                    out.push(command);
                }
            }
        }
        out
    }

    pub fn real_server_count(&self) -> usize {
        self.virtual_servers
            .iter()
            .map(|v| v.real_servers.len())
            .sum()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Global {
    pub router_id: String,
    pub state_dir: PathBuf,
    pub drain_dir: PathBuf,
    pub control_socket: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    pub script_user: String,
    #[serde(serialize_with = "serialize_duration")]
    pub reconcile_interval: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net_namespace: Option<String>,
    /// Octal file-mode mask; `None` keeps the one haldir was started with.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_umask"
    )]
    pub umask: Option<u32>,
    pub no_swap: bool,
    pub log_all_failures: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_fifo: Option<NotifyFifo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_notify_fifo: Option<NotifyFifo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lvs_notify_fifo: Option<NotifyFifo>,
    pub notify_priority_changes: bool,
}

/// A notify FIFO (keepalived's notify_fifo with its notify_fifo_script).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotifyFifo {
    pub path: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
}

/// A umask as written: "0022".
fn serialize_umask<S: serde::Serializer>(v: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(m) => s.serialize_str(&format!("{m:04o}")),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VrrpInstance {
    pub name: String,
    pub interface: String,
    pub virtual_router_id: u8,
    pub priority: u8,
    pub version: u8,
    #[serde(serialize_with = "serialize_duration")]
    pub advert_interval: Duration,
    pub preempt: bool,
    #[serde(serialize_with = "serialize_duration")]
    pub preempt_delay: Duration,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub virtual_ipaddress: Vec<super::vip::Vip>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub virtual_ipaddress_excluded: Vec<super::vip::Vip>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub virtual_routes: Vec<super::route::Route>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub virtual_rules: Vec<super::route::Rule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unicast_source: Option<IpAddr>,
    pub unicast_peers: Vec<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcast_source: Option<IpAddr>,
    /// The macvlan with the virtual MAC that holds the addresses (keepalived's use_vmac).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmac: Option<Vmac>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
    /// Present for VRRPv3 over IPv4 only, the one case where it matters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v3_ipv4_checksum: Option<V3Checksum>,
    /// Mail on every transition.
    pub smtp_alert: bool,
    pub garp: Garp,
    pub track_interface: Vec<TrackRef>,
    pub track_script: Vec<TrackRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub track_file: Vec<TrackFileRef>,
    pub notify: Notify,
}

/// A VRRP instance's virtual-MAC interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vmac {
    pub name: String,
    /// Adverts on the instance's `interface` rather than the macvlan.
    pub xmit_base: bool,
}

impl VrrpInstance {
    /// The interface the addresses go on by default: the VMAC's when there is one.
    pub fn address_interface(&self) -> &str {
        self.vmac.as_ref().map_or(&self.interface, |v| &v.name)
    }

    /// The interface adverts are sent and received on.
    pub fn advert_interface(&self) -> &str {
        match &self.vmac {
            Some(v) if !v.xmit_base => &v.name,
            _ => &self.interface,
        }
    }

    /// The family of the virtual addresses (validation makes them all one family).
    pub fn family(&self) -> Family {
        self.virtual_ipaddress
            .first()
            .map_or(Family::Ipv4, |n| Family::of(&n.addr()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Authentication {
    #[serde(rename = "type")]
    pub kind: AuthType,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Garp {
    #[serde(serialize_with = "serialize_duration")]
    pub delay: Duration,
    pub repeat: u32,
    #[serde(serialize_with = "serialize_duration")]
    pub refresh: Duration,
    pub refresh_repeat: u32,
    #[serde(serialize_with = "serialize_duration")]
    pub interval: Duration,
    #[serde(serialize_with = "serialize_duration")]
    pub na_interval: Duration,
    pub lower_prio_repeat: u32,
    #[serde(serialize_with = "serialize_duration")]
    pub lower_prio_delay: Duration,
}

impl Default for Garp {
    fn default() -> Self {
        Garp {
            delay: Duration::from_secs(5),
            repeat: 5,
            refresh: Duration::ZERO,
            refresh_repeat: 1,
            interval: Duration::ZERO,
            na_interval: Duration::ZERO,
            lower_prio_repeat: 5,
            lower_prio_delay: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackRef {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i16>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Notify {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub any: Option<Vec<String>>,
    /// As master, on hearing a lower-priority master (instances only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_rx_lower_pri: Option<Vec<String>>,
    /// "user" or "user:group"; `None` runs them as `script_user`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// A script identity as written, "user" or "user:group": the user's own group unless one is
/// named.
pub fn split_identity(spec: &str) -> (&str, Option<&str>) {
    match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncGroup {
    pub name: String,
    pub instances: Vec<String>,
    pub smtp_alert: bool,
    pub notify: Notify,
}

/// A file whose number moves the priority of the instances that track it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackFile {
    pub name: String,
    pub file: PathBuf,
    pub weight: i16,
    pub reverse: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<TrackFileInit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TrackFileInit {
    pub value: i64,
    pub overwrite: bool,
}

/// A tracked file on an instance, its weight and direction settled (the instance's, else the
/// file's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackFileRef {
    pub name: String,
    pub file: PathBuf,
    pub weight: i16,
    pub reverse: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackScript {
    pub name: String,
    pub command: Vec<String>,
    #[serde(serialize_with = "serialize_duration")]
    pub interval: Duration,
    #[serde(serialize_with = "serialize_duration")]
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
    /// Starts as failed (keepalived's init_fail).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub init_fail: bool,
}

/// How IPVS identifies a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKey {
    Address(SocketAddr),
    Fwmark { mark: u32, family: Family },
}

impl ServiceKey {
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Address(a) => Family::of(&a.ip()),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VirtualServer {
    pub name: String,
    #[serde(flatten, serialize_with = "serialize_key")]
    pub key: ServiceKey,
    pub protocol: Protocol,
    pub scheduler: Scheduler,
    pub scheduler_flags: Vec<SchedulerFlag>,
    pub forwarding: Forwarding,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<Tunnel>,
    #[serde(serialize_with = "serialize_duration")]
    pub persistence_timeout: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistence_netmask: Option<u8>,
    pub one_packet: bool,
    pub quorum: u32,
    pub hysteresis: u32,
    pub alpha: bool,
    pub inhibit_on_failure: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sorry_server: Option<RsAddr>,
    /// How the sorry server is reached, when not as the service's servers are (keepalived's
    /// sorry_server_lvs_method).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sorry_server_forwarding: Option<Forwarding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sorry_server_tunnel: Option<Tunnel>,
    /// The sorry server stays in the table at weight 0 while it is not needed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sorry_server_inhibit: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum_up: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum_down: Option<Vec<String>>,
    /// Mail when the quorum is lost or regained.
    pub smtp_alert: bool,
    /// At stop, run the live servers' notify_down and quorum_down, and mail (keepalived's omega).
    pub omega: bool,
    /// The service-wide check, as written (each real server carries its effective one: this
    /// same one, shared, when it has none of its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<std::sync::Arc<Check>>,
    #[serde(rename = "real_server")]
    pub real_servers: Vec<RealServer>,
}

fn serialize_key<S: Serializer>(key: &ServiceKey, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(None)?;
    match key {
        ServiceKey::Address(a) => m.serialize_entry("address", a)?,
        ServiceKey::Fwmark { mark, family } => {
            m.serialize_entry("fwmark", mark)?;
            m.serialize_entry("family", family)?;
        }
    }
    m.end()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tunnel {
    #[serde(rename = "type")]
    pub kind: TunnelType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub checksum: TunnelChecksum,
}

/// A real server's address: the port is absent for fwmark services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RsAddr {
    pub ip: IpAddr,
    pub port: Option<u16>,
}

impl fmt::Display for RsAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.ip, self.port) {
            (ip, None) => write!(f, "{ip}"),
            (ip, Some(p)) => write!(f, "{}", SocketAddr::new(ip, p)),
        }
    }
}

impl Serialize for RsAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::str::FromStr for RsAddr {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(RsAddr {
                ip: a.ip(),
                port: Some(a.port()),
            });
        }
        // "[2001:db8::1]" without a port is accepted as well as the bare address.
        let bare = s
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(s);
        bare.parse::<IpAddr>()
            .map(|ip| RsAddr { ip, port: None })
            .map_err(|_| ())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RealServer {
    pub address: RsAddr,
    pub weight: u32,
    pub forwarding: Forwarding,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<Tunnel>,
    pub upper_threshold: u32,
    pub lower_threshold: u32,
    /// `notify_up` and `notify_down`, boxed: 8 bytes per server without them, as nearly all.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Box<ServerNotify>>,
    /// Kept at weight 0 when it fails, instead of removed.
    pub inhibit_on_failure: bool,
    /// Mail when this server goes down or comes back.
    pub smtp_alert: bool,
    /// The effective check; `None` means always up, as keepalived treats an unchecked server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<std::sync::Arc<Check>>,
}

/// A real server's commands, run when it comes back and when it goes down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerNotify {
    #[serde(rename = "notify_up", skip_serializing_if = "Option::is_none")]
    pub up: Option<Vec<String>>,
    #[serde(rename = "notify_down", skip_serializing_if = "Option::is_none")]
    pub down: Option<Vec<String>>,
}

impl RealServer {
    pub fn notify_up(&self) -> Option<&[String]> {
        self.notify.as_ref()?.up.as_deref()
    }

    pub fn notify_down(&self) -> Option<&[String]> {
        self.notify.as_ref()?.down.as_deref()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FwmarkRule {
    pub mark: u32,
    pub destination: IpNet,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    pub ports: Vec<PortRange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    pub exclude_source_mac: Vec<MacAddr>,
    pub exclude_peers: Vec<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Netfilter {
    pub backend: NetfilterBackend,
    pub table: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ipvs {
    pub on_stop: OnStop,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<Timeouts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_daemon: Option<SyncDaemon>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sloppy_tcp: Option<bool>,
}

/// IPVS connection timeouts; an absent one is left as the kernel has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeouts {
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_duration"
    )]
    pub tcp: Option<Duration>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_duration"
    )]
    pub tcp_fin: Option<Duration>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_duration"
    )]
    pub udp: Option<Duration>,
}

fn ser_opt_duration<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => serialize_duration(d, s),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncDaemon {
    pub interface: String,
    pub sync_id: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp_instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcast_group: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcast_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcast_ttl: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_len: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RealServerRole {
    pub vips: Vec<IpNet>,
    pub mode: RealServerMode,
    /// Prefixes accepted as local routes rather than addresses (announced VIPs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub local_routes: Vec<IpNet>,
    /// The route protocol of those routes (haldir's `[routing] protocol`).
    #[serde(skip)]
    pub local_protocol: u8,
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// The daemon keeps one per configured server for as long as it runs (10,000 servers:
    /// each 8 bytes here is 80 kB resident). The optional commands are boxed for that.
    #[test]
    fn a_real_server_stays_small() {
        let size = std::mem::size_of::<RealServer>();
        assert!(size <= 64, "RealServer is {size} bytes");
    }

    /// Boxed or not, the commands are written under keepalived's names.
    #[test]
    fn the_commands_keep_their_names() {
        let config = crate::config::test_config(
            r#"
[[virtual_server]]
address = "10.0.0.1:80"
[[virtual_server.real_server]]
address = "10.0.1.1:80"
notify_up = ["/bin/up"]
[[virtual_server.real_server]]
address = "10.0.1.2:80"
"#,
        );
        let servers = &config.virtual_servers[0].real_servers;
        let json = serde_json::to_value(&servers[0]).unwrap();
        assert_eq!(json["notify_up"], serde_json::json!(["/bin/up"]));
        assert!(json.get("notify_down").is_none() && json.get("notify").is_none());
        assert_eq!(servers[0].notify_up(), Some(&["/bin/up".to_string()][..]));
        assert!(servers[1].notify.is_none());
    }
}
