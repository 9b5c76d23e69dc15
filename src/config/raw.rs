//! The configuration as written: every key optional, every scalar kept with its location.
//! This is what serde reads and what the JSON Schema describes; `validate` turns it into the
//! typed [`super::model::Config`] and explains everything that is wrong with it.
//!
//! The serde `rename` of each struct is the name used in "unknown key … in …" messages.

use schemars::JsonSchema;
use serde::Deserialize;

use super::leaf::{Leaf, Sp};
use super::types::*;

pub(crate) type Int = Leaf<i64>;
pub(crate) type Str = Leaf<String>;
pub(crate) type Command = Sp<Vec<Str>>;

/// A haldir configuration file.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "the top level")]
#[schemars(rename = "HaldirConfig")]
pub(crate) struct Document {
    /// More files to merge, as globs relative to this file: `["conf.d/*.toml"]`.
    pub include: Option<Sp<Vec<Str>>>,
    pub global: Option<Sp<Global>>,
    pub vrrp_instance: Option<Vec<Sp<VrrpInstance>>>,
    pub vrrp_sync_group: Option<Vec<Sp<SyncGroup>>>,
    pub track_script: Option<Vec<Sp<TrackScript>>>,
    pub track_file: Option<Vec<Sp<TrackFile>>>,
    pub virtual_server: Option<Vec<Sp<VirtualServer>>>,
    pub fwmark: Option<Vec<Sp<FwmarkRule>>>,
    pub netfilter: Option<Sp<Netfilter>>,
    pub ipvs: Option<Sp<Ipvs>>,
    pub realserver: Option<Sp<RealServerRole>>,
    pub email: Option<Sp<Email>>,
    #[serde(rename = "static")]
    pub static_: Option<Sp<Static>>,
    pub routing: Option<Sp<Routing>>,
    pub announce: Option<Vec<Sp<Announce>>>,
}

/// Active-active directors: the kernel routing table in which haldir puts a route for each
/// announced VIP, for the host's routing daemon (BIRD, FRR) to export over BGP.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "[routing]")]
#[schemars(rename = "Routing")]
pub(crate) struct Routing {
    /// The kernel routing table haldir owns (default 200).
    pub table: Option<Int>,
    /// The route protocol its routes carry (default 200), for the daemon's filters.
    pub protocol: Option<Int>,
    /// Nothing is announced before the first round of checks is done and this has passed
    /// (default "3s").
    pub startup_delay: Option<Leaf<Dur>>,
    /// "withdraw" (default) or "keep": what a clean stop does to the routes.
    pub on_stop: Option<Leaf<RoutesOnStop>>,
    /// BIRD's control socket (default "/run/bird/bird.ctl"), read for `haldir status` to show
    /// what BIRD exports; nothing else depends on it.
    pub bird_socket: Option<Str>,
}

/// One VIP this director offers to the routers while its virtual servers can serve it.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "[[announce]]")]
#[schemars(rename = "Announce")]
pub(crate) struct Announce {
    /// A host prefix, "192.0.2.10/32" or "2001:db8::10/128" (a bare address is taken as one).
    pub prefix: Option<Leaf<Prefix>>,
    /// The virtual servers that must be up (default: every one on that address).
    pub virtual_servers: Option<Sp<Vec<Str>>>,
    /// "all" (default) or "any": all of them, or at least one, above their quorum.
    pub when: Option<Leaf<AnnounceWhen>>,
    /// After a withdrawal, wait this long before announcing again (default "10s").
    pub hold_down: Option<Leaf<Dur>>,
    /// The route's metric (default 0): the routing daemon may map it to MED or communities.
    pub metric: Option<Int>,
}

/// Addresses, routes and policy rules held for as long as haldir runs, whatever the VRRP
/// state (keepalived's static_ipaddress, static_routes, static_rules).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "[static]")]
#[schemars(rename = "Static")]
pub(crate) struct Static {
    /// As in `virtual_ipaddress`, each with its `dev`: "192.168.1.1/24 dev eth0".
    pub addresses: Option<Sp<Vec<Leaf<super::vip::VipSpec>>>>,
    /// As in `virtual_routes`.
    pub routes: Option<Sp<Vec<Leaf<super::route::RouteSpec>>>>,
    /// As in `virtual_rules`.
    pub rules: Option<Sp<Vec<Leaf<super::route::RuleSpec>>>>,
}

/// Alerts by mail on VRRP transitions, real servers going up or down and quorum changes
/// (keepalived's notification_email, smtp_server and smtp_alert).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "[email]")]
#[schemars(rename = "Email")]
pub(crate) struct Email {
    /// Recipients, at least one.
    pub to: Option<Sp<Vec<Str>>>,
    /// Default "haldir@<host name>".
    pub from: Option<Str>,
    /// "host" or "host:port" (default port 25); no TLS, as keepalived.
    pub smtp_server: Option<Str>,
    /// Name given in HELO/EHLO (default: the host name).
    pub smtp_helo_name: Option<Str>,
    /// Connecting and each reply must not take longer (default "30s").
    pub smtp_connect_timeout: Option<Leaf<Dur>>,
    /// Default of every VRRP instance's and sync group's `smtp_alert` (default false).
    pub vrrp: Option<Leaf<bool>>,
    /// Default of every real server's `smtp_alert` (default true, as keepalived).
    pub checker: Option<Leaf<bool>>,
    /// Default of every virtual server's `smtp_alert`: mail on quorum lost/regained (default false).
    pub quorum: Option<Leaf<bool>>,
}

/// Settings of the whole daemon.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "[global]")]
#[schemars(rename = "Global")]
pub(crate) struct Global {
    /// Name of this director in logs, status and notifications (default: the host name).
    pub router_id: Option<Str>,
    /// Where haldir remembers what it owns in the kernel (default "/run/haldir").
    pub state_dir: Option<Str>,
    /// Where the drains an operator set (`haldir drain`) are kept across restarts and reboots
    /// (default "/var/lib/haldir", or `state_dir` when that is set).
    pub drain_dir: Option<Str>,
    /// Unix socket of `haldir status`, `reload`, `drain` (default "/run/haldir/control.sock").
    pub control_socket: Option<Str>,
    /// Prometheus endpoint, "127.0.0.1:9474"; absent means no metrics.
    pub metrics_listen: Option<Leaf<std::net::SocketAddr>>,
    /// User that notify, track and misc scripts run as (default "haldir-script").
    pub script_user: Option<Str>,
    /// How often the kernel is re-read and drift repaired (default "30s").
    pub reconcile_interval: Option<Leaf<Dur>>,
    /// Run inside this network namespace, made by `ip netns add NAME` (keepalived's
    /// net_namespace).
    pub net_namespace: Option<Str>,
    /// The file-mode mask of the daemon and the scripts it runs, octal: "0022" (keepalived's
    /// umask; default: the one haldir was started with).
    pub umask: Option<Str>,
    /// Lock the daemon's memory so that it is never swapped out (keepalived's vrrp_no_swap
    /// and checker_no_swap; default false).
    pub no_swap: Option<Leaf<bool>>,
    /// Log every failed probe, not only changes of state (keepalived's
    /// checker_log_all_failures; default false).
    pub log_all_failures: Option<Leaf<bool>>,
    /// A FIFO that gets a line for every VRRP and real-server event (keepalived's notify_fifo
    /// and notify_fifo_script).
    pub notify_fifo: Option<Sp<NotifyFifo>>,
    /// The same for VRRP events only (vrrp_notify_fifo).
    pub vrrp_notify_fifo: Option<Sp<NotifyFifo>>,
    /// The same for real servers and services only (lvs_notify_fifo).
    pub lvs_notify_fifo: Option<Sp<NotifyFifo>>,
    /// Also write an instance's priority changes to the FIFOs (vrrp_notify_priority_changes).
    pub notify_priority_changes: Option<Leaf<bool>>,
}

/// A notify FIFO and the program that reads it.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NotifyFifo {
    /// The FIFO; made (mode 0644) if it does not exist, and then removed at stop.
    pub path: Option<Str>,
    /// Started at start as `script_user` with the FIFO's path appended; stopped at stop.
    pub command: Option<Command>,
}

/// A VRRP instance: one virtual router and the addresses it moves.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "[[vrrp_instance]]")]
#[schemars(rename = "VrrpInstance")]
pub(crate) struct VrrpInstance {
    pub name: Option<Str>,
    pub interface: Option<Str>,
    /// 1 to 255, the same on every router of the pair.
    pub virtual_router_id: Option<Int>,
    /// 1 to 255 (default 100); 255 is the address owner.
    pub priority: Option<Int>,
    /// 2 or 3 (default 2 for IPv4, as keepalived; IPv6 needs 3).
    pub version: Option<Int>,
    /// v3: 10ms steps up to 40.95s; v2: whole seconds (default "1s").
    pub advert_interval: Option<Leaf<Dur>>,
    /// Take over from a lower-priority master (default true).
    pub preempt: Option<Leaf<bool>>,
    pub preempt_delay: Option<Leaf<Dur>>,
    /// As master, do not answer a lower-priority master's advert at once: wait for the
    /// interval (default false; keepalived's lower_prio_no_advert).
    pub lower_prio_no_advert: Option<Leaf<bool>>,
    /// As master, send one advert before yielding to a higher priority (default false;
    /// keepalived's higher_prio_send_advert).
    pub higher_prio_send_advert: Option<Leaf<bool>>,
    /// The addresses moved with this instance and sent in its adverts; one address family.
    /// Each may name another interface and a label, scope or broadcast address:
    /// "10.0.0.2/24 dev eth2 label eth2:1".
    pub virtual_ipaddress: Option<Sp<Vec<Leaf<super::vip::VipSpec>>>>,
    /// Moved with the instance but left out of its adverts (any family, any number).
    pub virtual_ipaddress_excluded: Option<Sp<Vec<Leaf<super::vip::VipSpec>>>>,
    /// Routes held while master, as `ip route` takes them: "10.9.0.0/16 via 10.0.0.1 table 100".
    pub virtual_routes: Option<Sp<Vec<Leaf<super::route::RouteSpec>>>>,
    /// Policy rules held while master, as `ip rule` takes them: "from 10.0.0.0/24 table 100".
    pub virtual_rules: Option<Sp<Vec<Leaf<super::route::RuleSpec>>>>,
    pub unicast_source: Option<Leaf<std::net::IpAddr>>,
    pub unicast_peers: Option<Sp<Vec<Leaf<std::net::IpAddr>>>>,
    /// Source address of multicast adverts (default: the interface's primary address);
    /// keepalived's mcast_src_ip.
    pub mcast_source: Option<Leaf<std::net::IpAddr>>,
    /// Hold the addresses on a macvlan interface with the VRRP virtual MAC
    /// (00:00:5e:00:01:VRID), created by haldir: `true` names it `vrrp.VRID`, a string names
    /// it (keepalived's use_vmac).
    pub use_vmac: Option<Leaf<super::types::VmacName>>,
    /// With use_vmac, send and receive the adverts on `interface`, not the macvlan
    /// (keepalived's vmac_xmit_base).
    pub vmac_xmit_base: Option<Leaf<bool>>,
    /// v2 only.
    pub authentication: Option<Sp<Authentication>>,
    /// "pseudo-header" (keepalived's default) or "rfc9568"; VRRPv3 over IPv4 only.
    pub v3_ipv4_checksum: Option<Leaf<V3Checksum>>,
    pub garp: Option<Sp<Garp>>,
    pub track_interface: Option<Vec<Sp<TrackRef>>>,
    pub track_script: Option<Vec<Sp<TrackRef>>>,
    /// Files whose number moves the priority (`[[track_file]]`).
    pub track_file: Option<Vec<Sp<TrackFileRef>>>,
    pub notify: Option<Sp<Notify>>,
    /// Mail on every transition (default `[email] vrrp`).
    pub smtp_alert: Option<Leaf<bool>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "authentication")]
#[schemars(rename = "Authentication")]
pub(crate) struct Authentication {
    #[serde(rename = "type")]
    pub kind: Option<Leaf<AuthType>>,
    /// At most 8 bytes.
    pub password: Option<Str>,
}

/// Gratuitous ARP / unsolicited neighbour advertisements on becoming master.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "garp")]
#[schemars(rename = "Garp")]
pub(crate) struct Garp {
    /// Delay before the second burst (default "5s").
    pub delay: Option<Leaf<Dur>>,
    /// Messages per burst (default 5).
    pub repeat: Option<Int>,
    /// Re-announce periodically while master; "0s" turns it off (default).
    pub refresh: Option<Leaf<Dur>>,
    /// Messages per refresh (default 1).
    pub refresh_repeat: Option<Int>,
    /// Time between two gratuitous ARP messages (default "0s": back to back); keepalived's
    /// garp_interval.
    pub interval: Option<Leaf<Dur>>,
    /// The same for IPv6 neighbour advertisements; keepalived's gna_interval.
    pub na_interval: Option<Leaf<Dur>>,
    /// Messages per burst when a lower-priority master is heard, 0 for none (default
    /// `repeat`); keepalived's garp_lower_prio_repeat.
    pub lower_prio_repeat: Option<Int>,
    /// Delay before the second such burst, "0s" for none (default `delay`); keepalived's
    /// garp_lower_prio_delay.
    pub lower_prio_delay: Option<Leaf<Dur>>,
}

/// A tracked interface or script; without a weight its failure means FAULT.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "a tracking entry")]
#[schemars(rename = "TrackRef")]
pub(crate) struct TrackRef {
    pub name: Option<Str>,
    /// -254 to 254: added to the priority while the tracked object is down (negative) or up.
    pub weight: Option<Int>,
}

/// Commands run on state changes (argv arrays, no shell).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "notify")]
#[schemars(rename = "Notify")]
pub(crate) struct Notify {
    pub master: Option<Command>,
    pub backup: Option<Command>,
    pub fault: Option<Command>,
    pub stop: Option<Command>,
    /// Run on every change with keepalived's arguments appended: "INSTANCE" name state priority.
    pub any: Option<Command>,
    /// Run as written when, as master, the instance hears a lower-priority master
    /// (keepalived's notify_master_rx_lower_pri; instances only).
    pub master_rx_lower_pri: Option<Command>,
    /// The user these commands run as, "user" or "user:group" (default: `script_user`).
    pub user: Option<Str>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "[[vrrp_sync_group]]")]
#[schemars(rename = "SyncGroup")]
pub(crate) struct SyncGroup {
    pub name: Option<Str>,
    pub instances: Option<Sp<Vec<Str>>>,
    /// Mail when the group changes state (default `[email] vrrp`).
    pub smtp_alert: Option<Leaf<bool>>,
    /// Run when the group changes state; `any` gets "GROUP" name state 0 appended.
    pub notify: Option<Sp<Notify>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "[[track_script]]")]
#[schemars(rename = "TrackScript")]
pub(crate) struct TrackScript {
    pub name: Option<Str>,
    /// argv of the script; exit 0 means up.
    pub command: Option<Command>,
    /// Default "1s".
    pub interval: Option<Leaf<Dur>>,
    /// Default: the interval.
    pub timeout: Option<Leaf<Dur>>,
    /// Default 1.
    pub rise: Option<Int>,
    /// Default 1.
    pub fall: Option<Int>,
    /// Start as failed, not as up, until it succeeds `rise` times (keepalived's init_fail).
    pub init_fail: Option<Leaf<bool>>,
}

/// A file another tool writes a number into, tracked by VRRP instances (keepalived's
/// track_file): the number times the weight is added to the priority.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "[[track_file]]")]
#[schemars(rename = "TrackFile")]
pub(crate) struct TrackFile {
    pub name: Option<Str>,
    /// Absolute path; a missing or unreadable file reads as 0.
    pub file: Option<Str>,
    /// -254 to 254 (default 1): the value times the weight is added to the priority, clipped
    /// to -254..253, and -254 means FAULT; 0 means any value but 0 is a FAULT.
    pub weight: Option<Int>,
    /// The value counts negated (with weight 0: 0 is the FAULT).
    pub reverse: Option<Leaf<bool>>,
    /// Write the file at start if it does not exist (keepalived's init_file).
    pub init: Option<Sp<TrackFileInit>>,
}

/// What `[[track_file]] init` writes.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "init")]
#[schemars(rename = "TrackFileInit")]
pub(crate) struct TrackFileInit {
    /// Default 0.
    pub value: Option<Int>,
    /// Write it even if the file exists, at start (never on a reload).
    pub overwrite: Option<Leaf<bool>>,
}

/// A tracked file on an instance; `weight` and `reverse` override the file's.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "a track_file entry")]
#[schemars(rename = "TrackFileRef")]
pub(crate) struct TrackFileRef {
    pub name: Option<Str>,
    pub weight: Option<Int>,
    pub reverse: Option<Leaf<bool>>,
}

/// An IPVS virtual service and its real servers.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "[[virtual_server]]")]
#[schemars(rename = "VirtualServer")]
pub(crate) struct VirtualServer {
    /// Default: the address, or "fwmark-N".
    pub name: Option<Str>,
    /// "10.240.0.201:80"; exactly one of address and fwmark.
    pub address: Option<Leaf<std::net::SocketAddr>>,
    pub fwmark: Option<Int>,
    /// fwmark services only: "ipv4" or "ipv6" (default: the real servers' family).
    pub family: Option<Leaf<Family>>,
    /// Default "tcp".
    pub protocol: Option<Leaf<Protocol>>,
    /// Default "wlc".
    pub scheduler: Option<Leaf<Scheduler>>,
    pub scheduler_flags: Option<Sp<Vec<Leaf<SchedulerFlag>>>>,
    /// Default "nat"; each real server may override it.
    pub forwarding: Option<Leaf<Forwarding>>,
    pub tunnel: Option<Sp<Tunnel>>,
    /// Whole seconds; "0s" (default) means no persistence.
    pub persistence_timeout: Option<Leaf<Dur>>,
    pub persistence_netmask: Option<Leaf<Netmask>>,
    /// UDP only.
    pub one_packet: Option<Leaf<bool>>,
    /// Sum of live weights needed to keep the real servers in (default 1).
    pub quorum: Option<Int>,
    pub hysteresis: Option<Int>,
    /// Real servers start down until their first check passes.
    pub alpha: Option<Leaf<bool>>,
    /// A failed server gets weight 0 instead of being removed.
    pub inhibit_on_failure: Option<Leaf<bool>>,
    /// Used while quorum is lost: "10.240.0.250:80" (an address alone for fwmark services).
    pub sorry_server: Option<Str>,
    /// How the sorry server is reached: "nat", "dr" or "tun" (default: the service's
    /// `forwarding`; keepalived's sorry_server_lvs_method).
    pub sorry_server_forwarding: Option<Leaf<Forwarding>>,
    /// With `sorry_server_forwarding = "tun"`: the tunnel (default the service's).
    // Boxed: a service's record stays small (see tests below).
    pub sorry_server_tunnel: Option<Box<Sp<Tunnel>>>,
    /// Keep the sorry server in the table at weight 0 while it is not needed (default false;
    /// keepalived's sorry_server_inhibit).
    pub sorry_server_inhibit: Option<Leaf<bool>>,
    /// Program this service only while that instance is MASTER.
    pub vrrp_instance: Option<Str>,
    /// The check of every real server, unless a real server overrides it.
    // Boxed: most servers have none, and a check is 1.6 kB of optional keys.
    pub check: Option<Box<Sp<Check>>>,
    pub real_server: Option<Vec<Sp<RealServer>>>,
    /// Run when the quorum is regained, and when it is lost (keepalived's quorum_up and
    /// quorum_down: no arguments added).
    pub quorum_up: Option<Command>,
    pub quorum_down: Option<Command>,
    /// Mail when the quorum is lost or regained (default `[email] quorum`).
    pub smtp_alert: Option<Leaf<bool>>,
    /// When haldir stops, tell as if every live real server went down: their notify_down,
    /// then quorum_down, and the mails (keepalived's omega; default false).
    pub omega: Option<Leaf<bool>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "tunnel")]
#[schemars(rename = "Tunnel")]
pub(crate) struct Tunnel {
    #[serde(rename = "type")]
    pub kind: Option<Leaf<TunnelType>>,
    /// gue only: the UDP port of the tunnel.
    pub port: Option<Int>,
    /// gue and gre: "none" (default), "csum" or "remcsum" (gue).
    pub checksum: Option<Leaf<TunnelChecksum>>,
}

/// A health check. Which keys apply depends on `type`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "check")]
#[schemars(rename = "Check")]
pub(crate) struct Check {
    #[serde(rename = "type")]
    pub kind: Option<Leaf<CheckType>>,
    /// keepalived: delay_loop (default "5s").
    pub interval: Option<Leaf<Dur>>,
    /// keepalived: connect_timeout (default "3s").
    pub timeout: Option<Leaf<Dur>>,
    /// Consecutive failures before a server is marked down (default 3).
    pub fall: Option<Int>,
    /// Consecutive successes before it is marked up again (default 1).
    pub rise: Option<Int>,
    /// keepalived: delay_before_retry (default "1s").
    pub retry_delay: Option<Leaf<Dur>>,
    /// Check this port instead of the real server's.
    pub port: Option<Int>,
    /// Check this address instead of the real server's.
    pub address: Option<Leaf<std::net::IpAddr>>,
    /// http/https: default "/".
    pub path: Option<Str>,
    /// http/https: default "200-299".
    pub status: Option<Leaf<StatusSet>>,
    /// http/https: the Host header.
    pub host: Option<Str>,
    /// http/https: the body must match this regular expression.
    pub body_regex: Option<Str>,
    /// https: verify the certificate (default false, as keepalived's SSL_GET).
    pub tls_verify: Option<Leaf<bool>>,
    /// https: server name sent in the TLS handshake.
    pub sni: Option<Str>,
    /// misc: argv with "{address}" and "{port}" placeholders.
    pub command: Option<Command>,
    /// misc: exit codes 2..255 set the weight to code - 2.
    pub dynamic_weight: Option<Leaf<bool>>,
    /// tcp: a SYN answered by a SYN-ACK instead of a connection (default false).
    pub half_open: Option<Leaf<bool>>,
    /// Source address of the probe (keepalived: bindto).
    pub source: Option<Leaf<std::net::IpAddr>>,
    /// The server starts down and enters after `rise` successes (keepalived: a checker's
    /// `alpha`).
    pub alpha: Option<Leaf<bool>>,
    /// http/https: MD5 of the body in hex, as `haldir genhash` prints it.
    pub digest: Option<Str>,
    /// http/https: "1.0", "1.0C" (with Connection: close) or "1.1" (default).
    pub http_protocol: Option<Leaf<HttpProtocol>>,
    /// http/https: several URLs, all of which must pass (instead of path/status/digest/body_regex).
    pub url: Option<Vec<Sp<Url>>>,
    /// udp: the datagram sent, as text.
    pub payload: Option<Str>,
    /// udp: the datagram sent, in hex ("0a1b 2c").
    pub payload_hex: Option<Str>,
    /// udp: silence until the timeout is a failure (default false: only an ICMP error fails).
    pub require_reply: Option<Leaf<bool>>,
    /// udp: the reply must start with these bytes, in hex; "x" matches any nibble.
    pub reply_hex: Option<Str>,
    /// udp: the reply must match this regular expression.
    pub reply_regex: Option<Str>,
    /// udp: shortest reply accepted.
    pub min_reply_length: Option<Int>,
    /// udp: longest reply accepted.
    pub max_reply_length: Option<Int>,
    /// dns: the name asked for (default ".").
    pub query_name: Option<Str>,
    /// dns: the record type asked for (default "SOA", as keepalived).
    pub query_type: Option<Leaf<DnsType>>,
    /// dns: a reply without an answer record is a failure (default false).
    pub require_answer: Option<Leaf<bool>>,
    /// smtp: the name sent with HELO (default the host name).
    pub helo_name: Option<Str>,
    /// smtp: more servers the check also talks to; all must answer.
    pub hosts: Option<Vec<Sp<SmtpHost>>>,
    /// file: the file another tool writes the server's state into.
    pub file: Option<Str>,
    /// file: the value read times this is added to the server's weight; with 0 (default) any
    /// value but 0 takes the server down.
    pub weight: Option<Int>,
}

/// One URL of an http/https check.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "url")]
#[schemars(rename = "CheckUrl")]
pub(crate) struct Url {
    pub path: Option<Str>,
    pub status: Option<Leaf<StatusSet>>,
    pub digest: Option<Str>,
    pub body_regex: Option<Str>,
}

/// One more server an smtp check talks to.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "hosts")]
#[schemars(rename = "SmtpHost")]
pub(crate) struct SmtpHost {
    pub address: Option<Leaf<std::net::IpAddr>>,
    pub port: Option<Int>,
    pub source: Option<Leaf<std::net::IpAddr>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "[[virtual_server.real_server]]")]
#[schemars(rename = "RealServer")]
pub(crate) struct RealServer {
    /// "10.240.0.101:80"; the port may be omitted (the service's), and must be for fwmark.
    pub address: Option<Str>,
    /// 0 to 65535 (default 1).
    pub weight: Option<Int>,
    pub forwarding: Option<Leaf<Forwarding>>,
    pub tunnel: Option<Sp<Tunnel>>,
    /// Stop sending new connections above this many (0: no limit).
    pub upper_threshold: Option<Int>,
    /// Resume below this many (0: no limit).
    pub lower_threshold: Option<Int>,
    /// Merged over the service's check.
    pub check: Option<Box<Sp<Check>>>,
    /// Kept at weight 0 when it fails instead of removed (default: the service's).
    pub inhibit_on_failure: Option<Leaf<bool>>,
    /// Run when the server comes back, and when it goes down (keepalived's notify_up and
    /// notify_down: no arguments added).
    pub notify_up: Option<Command>,
    pub notify_down: Option<Command>,
    /// Mail when this server goes down or comes back (default `[email] checker`).
    pub smtp_alert: Option<Leaf<bool>>,
}

/// A netfilter rule that marks packets for a fwmark virtual server.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "[[fwmark]]")]
#[schemars(rename = "FwmarkRule")]
pub(crate) struct FwmarkRule {
    pub mark: Option<Int>,
    /// Address or prefix.
    pub destination: Option<Leaf<Prefix>>,
    pub protocol: Option<Leaf<Protocol>>,
    pub ports: Option<Sp<Vec<Leaf<PortRange>>>>,
    /// Only packets arriving on this interface.
    pub interface: Option<Str>,
    /// Packets from these MACs (the other directors) are not marked.
    pub exclude_source_mac: Option<Sp<Vec<Leaf<MacAddr>>>>,
    /// Same, with the MAC learned from the neighbour table.
    pub exclude_peers: Option<Sp<Vec<Leaf<std::net::IpAddr>>>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "[netfilter]")]
#[schemars(rename = "Netfilter")]
pub(crate) struct Netfilter {
    /// Default "nftables".
    pub backend: Option<Leaf<NetfilterBackend>>,
    /// The one table (nftables) or chain (iptables) haldir owns (default "haldir").
    pub table: Option<Str>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "[ipvs]")]
#[schemars(rename = "Ipvs")]
pub(crate) struct Ipvs {
    /// "keep" (default) or "remove".
    pub on_stop: Option<Leaf<OnStop>>,
    pub timeouts: Option<Sp<Timeouts>>,
    pub sync_daemon: Option<Sp<SyncDaemon>>,
    /// net.ipv4.vs.sloppy_tcp: a TCP flow that reaches this director mid-stream (the routers
    /// moved it) is scheduled from any packet, not only a SYN. Unset: left as the kernel has it.
    pub sloppy_tcp: Option<Leaf<bool>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "timeouts")]
#[schemars(rename = "Timeouts")]
pub(crate) struct Timeouts {
    pub tcp: Option<Leaf<Dur>>,
    pub tcp_fin: Option<Leaf<Dur>>,
    pub udp: Option<Leaf<Dur>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "sync_daemon")]
#[schemars(rename = "SyncDaemon")]
pub(crate) struct SyncDaemon {
    pub interface: Option<Str>,
    /// 0 to 255 (default 0).
    pub sync_id: Option<Int>,
    /// The daemon is master while this instance is MASTER, backup otherwise.
    pub vrrp_instance: Option<Str>,
    /// Multicast group of the sync messages (default the kernel's 224.0.0.81).
    pub mcast_group: Option<Leaf<std::net::IpAddr>>,
    pub mcast_port: Option<Int>,
    pub mcast_ttl: Option<Int>,
    pub max_len: Option<Int>,
}

/// The real-server side: a host that serves a DR or TUN VIP.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "[realserver]")]
#[schemars(rename = "RealServerRole")]
pub(crate) struct RealServerRole {
    pub vips: Option<Sp<Vec<Leaf<Prefix>>>>,
    /// "dr" (VIPs on lo, arp_ignore/arp_announce) or "tun" (tunl0, rp_filter relaxed).
    pub mode: Option<Leaf<RealServerMode>>,
}
#[cfg(test)]
mod tests {
    use super::*;

    /// A file of 10,000 real servers holds 10,000 of these while it is read: a check written
    /// inline made each 2.3 kB (boxed, it is a pointer). Services are a hundred times fewer:
    /// theirs may hold their own keys inline.
    #[test]
    fn a_real_server_record_stays_small() {
        assert!(std::mem::size_of::<Sp<RealServer>>() <= 640);
        assert!(std::mem::size_of::<Sp<VirtualServer>>() <= 1408);
    }
}
