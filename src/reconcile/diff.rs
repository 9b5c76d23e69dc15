//! Desired vs actual: the smallest list of operations that brings the kernel to the desired
//! table. A changed weight is an edit, never a delete and add; a service that is not desired
//! is deleted only if haldir owns it.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::desired::{Desired, DesiredService};
use crate::ipvs::codec::Request;
use crate::ipvs::types::{
    Daemon, DaemonState, Dest, DestEntry, Service, ServiceEntry, ServiceId, Timeouts,
};

/// One change to the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    AddService(Service),
    EditService { old: Service, new: Service },
    DelService(ServiceId),
    AddDest(ServiceId, Dest),
    EditDest { id: ServiceId, old: Dest, new: Dest },
    DelDest(ServiceId, Dest),
    SetTimeouts { old: Timeouts, new: Timeouts },
    StartDaemon(Daemon),
    StopDaemon(DaemonState),
}

impl Op {
    pub fn request(&self) -> Request {
        match self {
            Op::AddService(s) => Request::NewService(s.clone()),
            Op::EditService { new, .. } => Request::SetService(new.clone()),
            Op::DelService(id) => Request::DelService(*id),
            Op::AddDest(id, d) => Request::NewDest(*id, d.clone()),
            Op::EditDest { id, new, .. } => Request::SetDest(*id, new.clone()),
            Op::DelDest(id, d) => Request::DelDest(*id, d.addr, d.port),
            Op::SetTimeouts { new, .. } => Request::SetTimeouts(*new),
            Op::StartDaemon(d) => Request::NewDaemon(d.clone()),
            Op::StopDaemon(s) => Request::DelDaemon(*s),
        }
    }
}

fn sa(addr: IpAddr, port: u16) -> SocketAddr {
    SocketAddr::new(addr, port)
}

fn service_text(s: &Service) -> String {
    let mut t = format!("{} {}", s.id, s.scheduler);
    if s.flags & crate::ipvs::types::flags::PERSISTENT != 0 {
        t += &format!(" persistent {}", s.timeout);
    }
    t
}

fn dest_changes(old: &Dest, new: &Dest) -> String {
    let mut parts = Vec::new();
    if old.weight != new.weight {
        parts.push(format!("weight {} → {}", old.weight, new.weight));
    }
    if old.fwd != new.fwd {
        parts.push(format!(
            "forwarding {} → {}",
            old.fwd.ipvsadm_name(),
            new.fwd.ipvsadm_name()
        ));
    }
    if (old.upper_threshold, old.lower_threshold) != (new.upper_threshold, new.lower_threshold) {
        parts.push(format!(
            "thresholds {}/{} → {}/{}",
            old.upper_threshold, old.lower_threshold, new.upper_threshold, new.lower_threshold
        ));
    }
    if old.tunnel != new.tunnel {
        parts.push("tunnel".into());
    }
    parts.join(", ")
}

impl fmt::Display for Op {
    /// One line for `haldir plan` and the logs: `+` adds, `~` edits, `-` deletes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::AddService(s) => write!(f, "+ service {}", service_text(s)),
            Op::EditService { old, new } => {
                write!(
                    f,
                    "~ service {}: {} → {}",
                    new.id,
                    service_text(old),
                    service_text(new)
                )
            }
            Op::DelService(id) => write!(f, "- service {id}"),
            Op::AddDest(id, d) => write!(
                f,
                "+ real server {} {} weight {} to {id}",
                sa(d.addr, d.port),
                d.fwd.ipvsadm_name(),
                d.weight
            ),
            Op::EditDest { id, old, new } => write!(
                f,
                "~ real server {} of {id}: {}",
                sa(new.addr, new.port),
                dest_changes(old, new)
            ),
            Op::DelDest(id, d) => write!(f, "- real server {} of {id}", sa(d.addr, d.port)),
            Op::SetTimeouts { old, new } => write!(
                f,
                "~ timeouts tcp/tcpfin/udp {}/{}/{} → {}/{}/{}",
                old.tcp, old.tcp_fin, old.udp, new.tcp, new.tcp_fin, new.udp
            ),
            Op::StartDaemon(d) => write!(
                f,
                "+ sync daemon {:?} on {} id {}",
                d.state, d.interface, d.sync_id
            ),
            Op::StopDaemon(s) => write!(f, "- sync daemon {s:?}"),
        }
    }
}

/// What haldir created or adopted and so may delete: remembered across restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Owned {
    pub services: BTreeSet<ServiceId>,
    pub daemons: BTreeSet<DaemonState>,
}

/// The kernel's side of the comparison.
#[derive(Debug, Clone, Default)]
pub struct Actual {
    pub table: Vec<KernelService>,
    pub timeouts: Timeouts,
    pub daemons: Vec<Daemon>,
}

/// A service as the kernel has it, as far as the comparison goes: its settings and its
/// destinations, without the counters it never reads. A drift check holds the whole table:
/// with counters, 136 bytes a destination (40 without); 10,000 of them made the daemon's peak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelService {
    pub service: Service,
    pub dests: Vec<Dest>,
}

impl KernelService {
    /// A service as read, its counters left out. The destinations get a vector of their own
    /// size: collected in place they would keep the larger entries' allocation.
    pub fn read(entry: ServiceEntry, dests: Vec<DestEntry>) -> KernelService {
        let mut plain = Vec::with_capacity(dests.len());
        plain.extend(dests.into_iter().map(|d| d.dest));
        KernelService {
            service: entry.service,
            dests: plain,
        }
    }
}

impl Actual {
    /// The table as haldir last set it: the base for applying a health change without
    /// reading the kernel again (drift is the periodic reconcile's business).
    pub fn from_desired(d: &Desired) -> Actual {
        Actual {
            table: d
                .services
                .iter()
                .map(|s| KernelService {
                    service: s.service.clone(),
                    dests: s.dests.clone(),
                })
                .collect(),
            timeouts: d.timeouts.unwrap_or_default(),
            daemons: d.daemons.clone(),
        }
    }
}

/// Adds the `i`th destination of `want`. One of an `mh` service that is to be at weight 0
/// is added at its weight in the file, then set to 0: the kernel gives it its table slots by
/// that weight (`last_weight`), as on a director that saw it up before it failed.
fn add_dest(ops: &mut Vec<Op>, want: &DesiredService, i: usize, d: &Dest) {
    let id = want.service.id;
    match want.file_weights.get(i) {
        Some(&w) if w > 0 && d.weight == 0 && want.service.scheduler == "mh" => {
            let first = Dest {
                weight: w,
                ..d.clone()
            };
            ops.push(Op::AddDest(id, first.clone()));
            ops.push(Op::EditDest {
                id,
                old: first,
                new: d.clone(),
            });
        }
        _ => ops.push(Op::AddDest(id, d.clone())),
    }
}

/// The operations from `actual` to `desired`, in an order the kernel accepts: services are
/// added before their destinations; a deleted service takes its destinations with it.
pub fn diff(desired: &Desired, actual: &Actual, owned: &Owned) -> Vec<Op> {
    let mut ops = Vec::new();
    let current: HashMap<ServiceId, &KernelService> =
        actual.table.iter().map(|e| (e.service.id, e)).collect();

    for want in &desired.services {
        let id = want.service.id;
        match current.get(&id) {
            None => {
                ops.push(Op::AddService(want.service.clone()));
                for (i, d) in want.dests.iter().enumerate() {
                    add_dest(&mut ops, want, i, d);
                }
            }
            Some(have) => service_ops(&mut ops, want, have),
        }
    }

    let wanted: BTreeSet<ServiceId> = desired.services.iter().map(|s| s.service.id).collect();
    let mut stale: Vec<ServiceId> = current
        .keys()
        .filter(|id| !wanted.contains(id) && owned.services.contains(id))
        .copied()
        .collect();
    stale.sort();
    // Deletions first: an address moving between services must be free before it is added.
    let mut out: Vec<Op> = stale.into_iter().map(Op::DelService).collect();
    out.append(&mut ops);

    if let Some(want) = desired.timeouts {
        let differs = |w: u32, h: u32| w != 0 && w != h;
        if differs(want.tcp, actual.timeouts.tcp)
            || differs(want.tcp_fin, actual.timeouts.tcp_fin)
            || differs(want.udp, actual.timeouts.udp)
        {
            out.push(Op::SetTimeouts {
                old: actual.timeouts,
                new: want,
            });
        }
    }
    daemon_ops(&mut out, desired, actual, owned);
    out
}

/// The operations from a service in the kernel, `have`, to the one wanted.
fn service_ops(ops: &mut Vec<Op>, want: &DesiredService, have: &KernelService) {
    let id = want.service.id;
    if have.service != want.service {
        ops.push(Op::EditService {
            old: have.service.clone(),
            new: want.service.clone(),
        });
    }
    let have_dests: HashMap<(IpAddr, u16), &Dest> =
        have.dests.iter().map(|d| ((d.addr, d.port), d)).collect();
    let want_keys: BTreeSet<(IpAddr, u16)> = want.dests.iter().map(|d| (d.addr, d.port)).collect();
    for d in &have.dests {
        if !want_keys.contains(&(d.addr, d.port)) {
            ops.push(Op::DelDest(id, d.clone()));
        }
    }
    for (i, d) in want.dests.iter().enumerate() {
        match have_dests.get(&(d.addr, d.port)) {
            None => add_dest(ops, want, i, d),
            Some(old) if *old != d => ops.push(Op::EditDest {
                id,
                old: (*old).clone(),
                new: d.clone(),
            }),
            Some(_) => {}
        }
    }
}

/// The sync daemons to stop and start: one with other settings is stopped and started again,
/// as the kernel has no edit.
fn daemon_ops(out: &mut Vec<Op>, desired: &Desired, actual: &Actual, owned: &Owned) {
    for have in &actual.daemons {
        let kept = desired.daemons.iter().any(|w| daemon_matches(w, have));
        let replaced = desired.daemons.iter().any(|w| w.state == have.state);
        if !kept && (replaced || owned.daemons.contains(&have.state)) {
            out.push(Op::StopDaemon(have.state));
        }
    }
    for want in &desired.daemons {
        if !actual.daemons.iter().any(|h| daemon_matches(want, h)) {
            out.push(Op::StartDaemon(want.clone()));
        }
    }
}

/// [`diff`] from the state last applied, `last`, looking only at the services that are not
/// the same in both: the same operations, without turning 10,000 unchanged destinations into
/// a table to compare (a reload that changes one weight).
pub fn diff_from(desired: &Desired, last: &Desired, owned: &Owned) -> Vec<Op> {
    let before: HashMap<ServiceId, &DesiredService> =
        last.services.iter().map(|s| (s.service.id, s)).collect();
    let same: std::collections::HashSet<ServiceId> = desired
        .services
        .iter()
        .filter(|s| before.get(&s.service.id) == Some(s))
        .map(|s| s.service.id)
        .collect();
    let differing = |d: &Desired| -> Vec<DesiredService> {
        d.services
            .iter()
            .filter(|s| !same.contains(&s.service.id))
            .cloned()
            .collect()
    };
    let want = Desired {
        services: differing(desired),
        timeouts: desired.timeouts,
        daemons: desired.daemons.clone(),
        sloppy_tcp: desired.sloppy_tcp,
    };
    let had = Desired {
        services: differing(last),
        timeouts: last.timeouts,
        daemons: last.daemons.clone(),
        sloppy_tcp: last.sloppy_tcp,
    };
    diff(&want, &Actual::from_desired(&had), owned)
}

/// The kernel reports the defaults it filled in (max_len, group, port, ttl); a setting the
/// configuration leaves out matches whatever the kernel chose.
fn daemon_matches(want: &Daemon, have: &Daemon) -> bool {
    fn same<T: PartialEq>(w: &Option<T>, h: &Option<T>) -> bool {
        w.is_none() || w == h
    }
    want.state == have.state
        && want.interface == have.interface
        && want.sync_id == have.sync_id
        && same(&want.max_len, &have.max_len)
        && same(&want.mcast_group, &have.mcast_group)
        && same(&want.mcast_port, &have.mcast_port)
        && same(&want.mcast_ttl, &have.mcast_ttl)
}

/// What is owned after `ops` were applied (`done` says which succeeded).
pub fn owned_after(owned: &Owned, desired: &Desired, ops: &[Op], done: &[bool]) -> Owned {
    let mut next = owned.clone();
    next.services
        .extend(desired.services.iter().map(|s| s.service.id));
    next.daemons.extend(desired.daemons.iter().map(|d| d.state));
    for (op, ok) in ops.iter().zip(done) {
        match op {
            Op::DelService(id) if *ok => {
                next.services.remove(id);
            }
            Op::StopDaemon(s) if *ok && !desired.daemons.iter().any(|d| d.state == *s) => {
                next.daemons.remove(s);
            }
            _ => {}
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::types::FwdMethod;

    fn svc(port: u16, sched: &str) -> Service {
        Service {
            id: ServiceId::Addr {
                protocol: 6,
                addr: "10.0.0.1".parse().unwrap(),
                port,
            },
            scheduler: sched.into(),
            flags: 0,
            timeout: 0,
            netmask: Service::default_netmask(2),
            pe_name: None,
        }
    }

    fn dest(last: u8, weight: u32) -> Dest {
        Dest {
            addr: IpAddr::from([10, 0, 1, last]),
            port: 80,
            fwd: FwdMethod::Route,
            weight,
            upper_threshold: 0,
            lower_threshold: 0,
            tunnel: None,
        }
    }

    fn entry(service: Service, dests: Vec<Dest>) -> KernelService {
        KernelService { service, dests }
    }

    fn want(services: Vec<(Service, Vec<Dest>)>) -> Desired {
        Desired {
            services: services
                .into_iter()
                .map(|(service, dests)| DesiredService {
                    name: String::new(),
                    file_weights: dests.iter().map(|d| d.weight.max(1)).collect(),
                    service,
                    dests,
                    quorum_lost: false,
                })
                .collect(),
            ..Desired::default()
        }
    }

    #[test]
    fn a_down_destination_of_an_mh_service_is_added_at_its_weight_then_set_to_0() {
        let d = want(vec![(svc(80, "mh"), vec![dest(1, 3), dest(2, 0)])]);
        let ops = diff(&d, &Actual::default(), &Owned::default());
        assert!(matches!(&ops[1], Op::AddDest(_, d) if d.weight == 3));
        assert!(matches!(&ops[2], Op::AddDest(_, d) if d.weight == 1));
        assert!(
            matches!(&ops[3], Op::EditDest { old, new, .. } if old.weight == 1 && new.weight == 0)
        );
        assert_eq!(ops.len(), 4);
        // Other schedulers give no slots by weight: added at 0 directly.
        let d = want(vec![(svc(80, "wlc"), vec![dest(2, 0)])]);
        let ops = diff(&d, &Actual::default(), &Owned::default());
        assert!(matches!(&ops[1], Op::AddDest(_, d) if d.weight == 0));
        assert_eq!(ops.len(), 2);
    }

    #[test]
    fn diffing_only_the_changed_services_gives_the_same_operations() {
        let base = vec![
            (svc(80, "rr"), vec![dest(1, 1), dest(2, 1)]),
            (svc(81, "mh"), vec![dest(1, 2), dest(3, 1)]),
            (svc(82, "wlc"), vec![dest(4, 1)]),
        ];
        let mut changes: Vec<Vec<(Service, Vec<Dest>)>> = Vec::new();
        let mut weight = base.clone();
        weight[1].1[0].weight = 0;
        changes.push(weight);
        let mut removed = base.clone();
        removed.remove(0);
        changes.push(removed);
        let mut added = base.clone();
        added.insert(1, (svc(90, "sh"), vec![dest(9, 1), dest(8, 0)]));
        changes.push(added);
        let mut sched = base.clone();
        sched[2].0.scheduler = "rr".into();
        sched[2].1.push(dest(5, 3));
        sched[0].1.remove(1);
        changes.push(sched);
        changes.push(base.clone());
        let last = want(base.clone());
        let owned = Owned {
            services: last.services.iter().map(|s| s.service.id).collect(),
            ..Owned::default()
        };
        for services in changes {
            let mut next = want(services);
            next.timeouts = Some(Timeouts {
                tcp: 900,
                tcp_fin: 0,
                udp: 0,
            });
            let whole = diff(&next, &Actual::from_desired(&last), &owned);
            assert_eq!(diff_from(&next, &last, &owned), whole);
        }
    }

    #[test]
    fn an_empty_kernel_gets_everything_added() {
        let d = want(vec![(svc(80, "rr"), vec![dest(1, 1), dest(2, 1)])]);
        let ops = diff(&d, &Actual::default(), &Owned::default());
        assert_eq!(ops.len(), 3);
        assert!(matches!(ops[0], Op::AddService(_)));
    }

    #[test]
    fn equal_tables_need_nothing() {
        let d = want(vec![(svc(80, "rr"), vec![dest(1, 1)])]);
        let actual = Actual {
            table: vec![entry(svc(80, "rr"), vec![dest(1, 1)])],
            ..Actual::default()
        };
        assert_eq!(diff(&d, &actual, &Owned::default()), vec![]);
    }

    #[test]
    fn a_weight_change_is_an_edit() {
        let d = want(vec![(svc(80, "rr"), vec![dest(1, 5), dest(2, 1)])]);
        let actual = Actual {
            table: vec![entry(svc(80, "rr"), vec![dest(1, 1), dest(3, 1)])],
            ..Actual::default()
        };
        let ops = diff(&d, &actual, &Owned::default());
        let text: Vec<String> = ops.iter().map(Op::to_string).collect();
        assert_eq!(
            text,
            vec![
                "- real server 10.0.1.3:80 of TCP 10.0.0.1:80",
                "~ real server 10.0.1.1:80 of TCP 10.0.0.1:80: weight 1 → 5",
                "+ real server 10.0.1.2:80 Route weight 1 to TCP 10.0.0.1:80",
            ]
        );
    }

    #[test]
    fn only_owned_services_are_deleted() {
        let d = want(vec![]);
        let mine = svc(80, "rr");
        let theirs = svc(81, "rr");
        let actual = Actual {
            table: vec![entry(mine.clone(), vec![]), entry(theirs, vec![])],
            ..Actual::default()
        };
        let owned = Owned {
            services: [mine.id].into(),
            ..Owned::default()
        };
        assert_eq!(diff(&d, &actual, &owned), vec![Op::DelService(mine.id)]);
    }

    #[test]
    fn a_service_setting_change_is_an_edit() {
        let d = want(vec![(svc(80, "wlc"), vec![])]);
        let actual = Actual {
            table: vec![entry(svc(80, "rr"), vec![])],
            ..Actual::default()
        };
        let ops = diff(&d, &actual, &Owned::default());
        assert!(matches!(&ops[..], [Op::EditService { .. }]), "{ops:?}");
    }

    #[test]
    fn kernel_defaults_of_the_sync_daemon_are_not_a_change() {
        let want = Daemon {
            state: DaemonState::Master,
            interface: "eth1".into(),
            sync_id: 51,
            max_len: None,
            mcast_group: None,
            mcast_port: None,
            mcast_ttl: None,
        };
        let have = Daemon {
            max_len: Some(1472),
            mcast_group: Some("224.0.0.81".parse().unwrap()),
            mcast_port: Some(8848),
            mcast_ttl: Some(1),
            ..want.clone()
        };
        let d = Desired {
            daemons: vec![want.clone()],
            ..Desired::default()
        };
        let actual = Actual {
            daemons: vec![have.clone()],
            ..Actual::default()
        };
        assert_eq!(diff(&d, &actual, &Owned::default()), vec![]);
        // Another sync id is a restart.
        let other = Desired {
            daemons: vec![Daemon {
                sync_id: 52,
                ..want
            }],
            ..Desired::default()
        };
        let ops = diff(&other, &actual, &Owned::default());
        assert!(
            matches!(
                &ops[..],
                [Op::StopDaemon(DaemonState::Master), Op::StartDaemon(_)]
            ),
            "{ops:?}"
        );
    }

    #[test]
    fn ownership_follows_what_was_done() {
        let d = want(vec![(svc(80, "rr"), vec![])]);
        let old = svc(81, "rr").id;
        let owned = Owned {
            services: [old].into(),
            ..Owned::default()
        };
        let ops = vec![Op::DelService(old), Op::AddService(svc(80, "rr"))];
        let next = owned_after(&owned, &d, &ops, &[true, true]);
        assert_eq!(next.services, [svc(80, "rr").id].into());
        // A failed delete keeps the service owned, to be retried.
        let next = owned_after(&owned, &d, &ops, &[false, true]);
        assert!(next.services.contains(&old));
    }
}
