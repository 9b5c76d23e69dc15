//! Desired state: what the kernel's IPVS table should hold, computed from the configuration,
//! the health of the real servers and the VRRP roles. A pure function: no kernel, no clock.

use crate::config::model::{Config, RealServer, RsAddr, ServiceKey, VirtualServer};
use crate::config::types::{Forwarding, Protocol, SchedulerFlag, TunnelChecksum, TunnelType};
use crate::health::verdict::{Health, HealthMap};
use crate::ipvs::types::{
    self as k, Daemon, DaemonState, Dest, FwdMethod, Service, ServiceId, Timeouts, TunnelSpec,
};

/// Which VRRP instances are master here. `All` stands for "no VRRP": `haldir apply` and a
/// daemon whose instances have not started yet program every service.
#[derive(Debug, Clone)]
pub enum Roles {
    All,
    Masters(Vec<String>),
}

impl Roles {
    pub fn is_master(&self, instance: &str) -> bool {
        match self {
            Roles::All => true,
            Roles::Masters(m) => m.iter().any(|n| n == instance),
        }
    }
}

/// One service and the destinations it should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredService {
    /// The virtual server's name in the configuration.
    pub name: String,
    pub service: Service,
    pub dests: Vec<Dest>,
    /// For each of `dests`, its weight in the file. The kernel's `mh` scheduler gives a
    /// destination its table slots by the last weight it had above 0 (0 when it was added at
    /// 0): a destination added while down is added at this weight first, then set to 0, so
    /// that every director builds the same `mh` table whatever the health it has seen.
    pub file_weights: Vec<u32>,
    /// The live weight is under the quorum: the sorry server (if any) stands in.
    pub quorum_lost: bool,
}

impl Desired {
    /// Each service's quorum verdict, by name: the hysteresis of the next computation
    /// starts from them ([`HealthMap::record_quorum`]).
    pub fn quorum_verdicts(&self) -> impl Iterator<Item = (&str, bool)> {
        self.services
            .iter()
            .map(|s| (s.name.as_str(), s.quorum_lost))
    }

    /// Puts these services in place of the ones with the same id, adding the new ones.
    pub fn replace_services(&mut self, services: Vec<DesiredService>) {
        for new in services {
            match self
                .services
                .iter_mut()
                .find(|s| s.service.id == new.service.id)
            {
                Some(slot) => *slot = new,
                None => self.services.push(new),
            }
        }
    }
}

/// The whole desired IPVS state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Desired {
    pub services: Vec<DesiredService>,
    /// Only the timeouts the configuration sets (0 = leave the kernel's).
    pub timeouts: Option<Timeouts>,
    pub daemons: Vec<Daemon>,
    /// net.ipv4.vs.sloppy_tcp, when the configuration sets it.
    pub sloppy_tcp: Option<bool>,
}

pub fn service_id(vs: &VirtualServer) -> ServiceId {
    match vs.key {
        ServiceKey::Address(a) => ServiceId::Addr {
            protocol: protocol(vs.protocol),
            addr: a.ip(),
            port: a.port(),
        },
        ServiceKey::Fwmark { mark, family } => ServiceId::Fwmark {
            af: match family {
                crate::config::types::Family::Ipv4 => k::AF_INET,
                crate::config::types::Family::Ipv6 => k::AF_INET6,
            },
            mark,
        },
    }
}

fn protocol(p: Protocol) -> u16 {
    match p {
        Protocol::Tcp => k::IPPROTO_TCP,
        Protocol::Udp => k::IPPROTO_UDP,
        Protocol::Sctp => k::IPPROTO_SCTP,
    }
}

pub fn service(vs: &VirtualServer) -> Service {
    let id = service_id(vs);
    let mut flags = 0;
    if !vs.persistence_timeout.is_zero() {
        flags |= k::flags::PERSISTENT;
    }
    if vs.one_packet {
        flags |= k::flags::ONEPACKET;
    }
    for f in &vs.scheduler_flags {
        flags |= match f {
            SchedulerFlag::ShFallback | SchedulerFlag::MhFallback => k::flags::SCHED_FALLBACK,
            SchedulerFlag::ShPort | SchedulerFlag::MhPort => k::flags::SCHED_PORT,
        };
    }
    let af = id.af();
    Service {
        id,
        scheduler: vs.scheduler.as_str().to_string(),
        flags,
        timeout: u32::try_from(vs.persistence_timeout.as_secs()).unwrap_or(u32::MAX),
        netmask: vs
            .persistence_netmask
            .map_or(Service::default_netmask(af), |p| {
                Service::netmask_of_prefix(af, p)
            }),
        pe_name: None,
    }
}

fn fwd(f: Forwarding) -> FwdMethod {
    match f {
        Forwarding::Nat => FwdMethod::Masq,
        Forwarding::Dr => FwdMethod::Route,
        Forwarding::Tun => FwdMethod::Tunnel,
    }
}

fn dest(rs: &RealServer, weight: u32) -> Dest {
    Dest {
        addr: rs.address.ip,
        port: rs.address.port.unwrap_or(0),
        fwd: fwd(rs.forwarding),
        weight,
        upper_threshold: rs.upper_threshold,
        lower_threshold: rs.lower_threshold,
        tunnel: rs.tunnel.map(|t| TunnelSpec {
            kind: match t.kind {
                TunnelType::Ipip => 0,
                TunnelType::Gue => 1,
                TunnelType::Gre => 2,
            },
            port: t.port.unwrap_or(0),
            flags: match t.checksum {
                TunnelChecksum::None => 0,
                TunnelChecksum::Csum => 1,
                TunnelChecksum::Remcsum => 2,
            },
        }),
    }
}

/// The destinations of one service: live servers with their weight; failed ones removed, or
/// kept at weight 0 with `inhibit_on_failure`; the sorry server alone while the quorum is
/// lost. As in keepalived, the quorum is lost when the live weight falls under
/// `quorum - hysteresis` and regained when it reaches `quorum + hysteresis`.
/// The weight of a virtual server's live real servers, what its quorum is compared with.
pub fn live_weight(vs: &VirtualServer, map: &HealthMap) -> u64 {
    vs.real_servers
        .iter()
        .filter(|rs| !drained(vs, rs, map))
        .map(|rs| match map.get(&vs.name, &rs.address) {
            Health::Up => u64::from(rs.weight),
            Health::UpWithWeight(w) => u64::from(w),
            Health::UpWithOffset(o) => u64::from(offset(rs.weight, o)),
            Health::Down => 0,
        })
        .sum()
}

/// A configured weight moved by a file check, kept within what IPVS takes.
fn offset(weight: u32, by: i32) -> u32 {
    (i64::from(weight) + i64::from(by)).clamp(0, i64::from(i32::MAX)) as u32
}

fn dests(vs: &VirtualServer, map: &HealthMap) -> (Vec<Dest>, Vec<u32>, bool) {
    let mut out = Vec::with_capacity(vs.real_servers.len());
    let mut file_weights = Vec::with_capacity(vs.real_servers.len());
    let mut live_weight: u64 = 0;
    for rs in &vs.real_servers {
        if map.get(&vs.name, &rs.address) != Health::Down || rs.inhibit_on_failure {
            file_weights.push(rs.weight);
        }
        let health = map.get(&vs.name, &rs.address);
        if health != Health::Down && drained(vs, rs, map) {
            // Weight 0: no new connections, the established ones finish; not live weight.
            out.push(dest(rs, 0));
            continue;
        }
        match health {
            Health::Up => {
                live_weight += u64::from(rs.weight);
                out.push(dest(rs, rs.weight));
            }
            Health::UpWithWeight(w) => {
                live_weight += u64::from(w);
                out.push(dest(rs, w));
            }
            Health::UpWithOffset(o) => {
                let w = offset(rs.weight, o);
                live_weight += u64::from(w);
                out.push(dest(rs, w));
            }
            Health::Down if rs.inhibit_on_failure => out.push(dest(rs, 0)),
            Health::Down => {}
        }
    }
    let (quorum, hysteresis) = (u64::from(vs.quorum), u64::from(vs.hysteresis));
    let lost = if map.quorum_lost.contains(&vs.name) {
        live_weight < quorum + hysteresis
    } else {
        live_weight < quorum.saturating_sub(hysteresis)
    };
    if let Some(sorry) = vs.sorry_server {
        sorry_server(vs, sorry, lost, &mut out, &mut file_weights);
    }
    (out, file_weights, lost)
}

/// The sorry server's place among the destinations. While the quorum is lost it stands in
/// alone at weight 1, but for the servers with `inhibit_on_failure`, which stay at weight 0
/// (keepalived's check/ipwrapper.c, perform_quorum_state: their removal is an edit to weight
/// 0). Otherwise it is absent, or at weight 0 with `sorry_server_inhibit` (ipwrapper.c,
/// init_service_vs). It is reached by `sorry_server_forwarding`, else as the service's servers.
fn sorry_server(
    vs: &VirtualServer,
    sorry: RsAddr,
    lost: bool,
    out: &mut Vec<Dest>,
    file_weights: &mut Vec<u32>,
) {
    let same = |d: &Dest| d.addr == sorry.ip && d.port == sorry.port.unwrap_or(0);
    if lost {
        let inhibited = |d: &Dest| {
            vs.real_servers.iter().any(|rs| {
                rs.inhibit_on_failure
                    && rs.address.ip == d.addr
                    && rs.address.port.unwrap_or(0) == d.port
            })
        };
        let kept: Vec<usize> = (0..out.len())
            .filter(|&i| inhibited(&out[i]) && !same(&out[i]))
            .collect();
        *file_weights = kept.iter().map(|&i| file_weights[i]).collect();
        *out = kept
            .iter()
            .map(|&i| Dest {
                weight: 0,
                ..out[i].clone()
            })
            .collect();
    } else if !vs.sorry_server_inhibit || out.iter().any(same) {
        return;
    }
    let forwarding = vs.sorry_server_forwarding.unwrap_or(vs.forwarding);
    let rs = RealServer {
        address: sorry,
        weight: 1,
        forwarding,
        tunnel: (forwarding == Forwarding::Tun)
            .then(|| vs.sorry_server_tunnel.or(vs.tunnel))
            .flatten(),
        upper_threshold: 0,
        lower_threshold: 0,
        notify: None,
        inhibit_on_failure: false,
        smtp_alert: false,
        check: None,
    };
    out.push(dest(&rs, u32::from(lost)));
    file_weights.push(1);
}

fn drained(vs: &VirtualServer, rs: &RealServer, map: &HealthMap) -> bool {
    !map.drained.is_empty() && map.drained.contains(&(vs.name.clone(), rs.address))
}

/// Whether a virtual server is programmed at all under these roles.
pub fn active(vs: &VirtualServer, roles: &Roles) -> bool {
    vs.vrrp_instance
        .as_deref()
        .is_none_or(|i| roles.is_master(i))
}

/// One service as it should be, given the health of its real servers.
pub fn desired_service(vs: &VirtualServer, health: &HealthMap) -> DesiredService {
    let (dests, file_weights, quorum_lost) = dests(vs, health);
    DesiredService {
        name: vs.name.clone(),
        service: service(vs),
        dests,
        file_weights,
        quorum_lost,
    }
}

/// The desired IPVS state.
pub fn desired(config: &Config, health: &HealthMap, roles: &Roles) -> Desired {
    let services = config
        .virtual_servers
        .iter()
        .filter(|vs| active(vs, roles))
        .map(|vs| desired_service(vs, health))
        .collect();
    let timeouts = config.ipvs.timeouts.as_ref().map(|t| {
        let secs = |d: Option<std::time::Duration>| d.map_or(0, |d| d.as_secs() as u32);
        Timeouts {
            tcp: secs(t.tcp),
            tcp_fin: secs(t.tcp_fin),
            udp: secs(t.udp),
        }
    });
    let daemons = config
        .ipvs
        .sync_daemon
        .as_ref()
        .map(|s| {
            let states = match &s.vrrp_instance {
                // Without an instance to follow, both roles run (active-active sync).
                None => vec![DaemonState::Master, DaemonState::Backup],
                Some(i) if roles.is_master(i) => vec![DaemonState::Master],
                Some(_) => vec![DaemonState::Backup],
            };
            states
                .into_iter()
                .map(|state| Daemon {
                    state,
                    interface: s.interface.clone(),
                    sync_id: u32::from(s.sync_id),
                    max_len: s.max_len,
                    mcast_group: s.mcast_group,
                    mcast_port: s.mcast_port,
                    mcast_ttl: s.mcast_ttl,
                })
                .collect()
        })
        .unwrap_or_default();
    Desired {
        services,
        timeouts,
        daemons,
        sloppy_tcp: config.ipvs.sloppy_tcp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::RsAddr;

    use crate::config::test_config as config;

    const TWO: &str = r#"
[[virtual_server]]
name = "web"
address = "10.0.0.1:80"
scheduler = "sh"
scheduler_flags = ["sh-port"]
forwarding = "dr"
persistence_timeout = "300s"
persistence_netmask = "255.255.255.0"
quorum = 3
sorry_server = "10.0.0.9:80"
[[virtual_server.real_server]]
address = "10.0.0.2:80"
weight = 2
[[virtual_server.real_server]]
address = "10.0.0.3:80"
weight = 2
"#;

    #[test]
    fn services_and_destinations_from_the_config() {
        let d = desired(&config(TWO), &HealthMap::default(), &Roles::All);
        let s = &d.services[0];
        assert_eq!(s.service.scheduler, "sh");
        assert_eq!(s.service.flags, k::flags::PERSISTENT | k::flags::SCHED_PORT);
        assert_eq!(s.service.timeout, 300);
        assert_eq!(
            Service::prefix_of_netmask(k::AF_INET, s.service.netmask),
            24
        );
        let weights: Vec<u32> = s.dests.iter().map(|d| d.weight).collect();
        assert_eq!(weights, vec![2, 2]);
        assert!(s.dests.iter().all(|d| d.fwd == FwdMethod::Route));
    }

    #[test]
    fn a_failed_server_leaves_and_quorum_brings_the_sorry_server() {
        let c = config(TWO);
        let rs: RsAddr = "10.0.0.2:80".parse().unwrap();
        let mut h = HealthMap::default();
        h.set("web", rs, Health::Down);
        let d = desired(&c, &h, &Roles::All);
        // Live weight 2 < quorum 3: only the sorry server remains.
        let addrs: Vec<String> = d.services[0]
            .dests
            .iter()
            .map(|d| format!("{}:{}", d.addr, d.port))
            .collect();
        assert_eq!(addrs, vec!["10.0.0.9:80"]);
    }

    #[test]
    fn the_sorry_server_keeps_inhibited_servers_and_its_own_forwarding() {
        // keepalived's check/ipwrapper.c: with the quorum lost, an inhibit_on_failure server
        // stays at weight 0 beside the sorry server, which is reached as
        // sorry_server_lvs_method says; with sorry_server_inhibit it waits at weight 0.
        let text = r#"
[[virtual_server]]
name = "web"
address = "10.0.0.1:80"
forwarding = "nat"
quorum = 3
sorry_server = "10.0.0.9:80"
sorry_server_forwarding = "dr"
sorry_server_inhibit = true
[[virtual_server.real_server]]
address = "10.0.0.2:80"
weight = 2
inhibit_on_failure = true
[[virtual_server.real_server]]
address = "10.0.0.3:80"
weight = 2
"#;
        let c = config(text);
        let table = |h: &HealthMap| {
            let d = desired(&c, h, &Roles::All);
            let s = &d.services[0];
            assert_eq!(
                s.dests.len(),
                s.file_weights.len(),
                "one file weight a dest"
            );
            s.dests
                .iter()
                .map(|d| format!("{}:{} {:?} {}", d.addr, d.port, d.fwd, d.weight))
                .collect::<Vec<_>>()
        };
        let mut h = HealthMap::default();
        assert_eq!(
            table(&h),
            [
                "10.0.0.2:80 Masq 2",
                "10.0.0.3:80 Masq 2",
                "10.0.0.9:80 Route 0"
            ]
        );
        h.set("web", "10.0.0.3:80".parse().unwrap(), Health::Down);
        assert_eq!(table(&h), ["10.0.0.2:80 Masq 0", "10.0.0.9:80 Route 1"]);
    }

    #[test]
    fn hysteresis_holds_the_quorum_verdict() {
        let text = r#"
[[virtual_server]]
name = "web"
address = "10.0.0.1:80"
quorum = 4
hysteresis = 1
sorry_server = "10.0.0.9:80"
[[virtual_server.real_server]]
address = "10.0.0.2:80"
weight = 2
[[virtual_server.real_server]]
address = "10.0.0.3:80"
weight = 2
[[virtual_server.real_server]]
address = "10.0.0.4:80"
weight = 2
"#;
        let c = config(text);
        let mut h = HealthMap::default();
        let step = |h: &mut HealthMap, down: &[&str]| {
            h.forget_all();
            for a in down {
                h.set("web", a.parse().unwrap(), Health::Down);
            }
            let d = desired(&c, h, &Roles::All);
            h.record_quorum(d.quorum_verdicts());
            d.services[0].quorum_lost
        };
        assert!(!step(&mut h, &[]), "live 6");
        assert!(!step(&mut h, &["10.0.0.2:80"]), "live 4 is not under 4 - 1");
        assert!(
            step(&mut h, &["10.0.0.2:80", "10.0.0.3:80"]),
            "live 2 < 3: lost"
        );
        assert!(step(&mut h, &["10.0.0.2:80"]), "live 4 < 4 + 1: still lost");
        assert!(!step(&mut h, &[]), "live 6 >= 5: regained");
    }

    #[test]
    fn inhibit_keeps_a_failed_server_at_weight_zero() {
        let c = config(&TWO.replace("quorum = 3", "inhibit_on_failure = true"));
        let rs: RsAddr = "10.0.0.3:80".parse().unwrap();
        let mut h = HealthMap::default();
        h.set("web", rs, Health::Down);
        let d = desired(&c, &h, &Roles::All);
        let weights: Vec<u32> = d.services[0].dests.iter().map(|d| d.weight).collect();
        assert_eq!(weights, vec![2, 0]);
    }

    #[test]
    fn a_drained_server_stays_at_weight_zero_and_a_failed_one_still_leaves() {
        let c = config(&TWO.replace("quorum = 3", "quorum = 1"));
        let (a, b): (RsAddr, RsAddr) = (
            "10.0.0.2:80".parse().unwrap(),
            "10.0.0.3:80".parse().unwrap(),
        );
        let mut h = HealthMap::default();
        h.drained.insert(("web".into(), a));
        let d = desired(&c, &h, &Roles::All);
        let weights: Vec<u32> = d.services[0].dests.iter().map(|d| d.weight).collect();
        assert_eq!(weights, vec![0, 2]);
        assert!(!d.services[0].quorum_lost);
        // Drained weight is not live weight: the other one down loses the quorum.
        h.set("web", b, Health::Down);
        let d = desired(&c, &h, &Roles::All);
        assert!(d.services[0].quorum_lost);
        // A drained server that fails leaves like any other.
        h.set("web", a, Health::Down);
        h.forget("web", &b);
        let d = desired(&c, &h, &Roles::All);
        let addrs: Vec<u16> = d.services[0]
            .dests
            .iter()
            .map(|d| d.weight as u16)
            .collect();
        assert_eq!(addrs, vec![2]);
    }

    #[test]
    fn a_service_bound_to_an_instance_exists_only_on_its_master() {
        let text = format!(
            "[[vrrp_instance]]\nname = \"VI\"\ninterface = \"eth0\"\nvirtual_router_id = 1\nvirtual_ipaddress = [\"10.0.0.1\"]\n{}",
            TWO.replace("quorum = 3", "vrrp_instance = \"VI\"")
        );
        let c = config(&text);
        assert_eq!(
            desired(&c, &HealthMap::default(), &Roles::Masters(vec![]))
                .services
                .len(),
            0
        );
        assert_eq!(
            desired(
                &c,
                &HealthMap::default(),
                &Roles::Masters(vec!["VI".into()])
            )
            .services
            .len(),
            1
        );
    }
}
