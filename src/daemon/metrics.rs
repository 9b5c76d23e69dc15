//! Prometheus metrics. Counters of events (VRRP transitions, check durations and failures,
//! reloads, netlink operations) are kept as they happen; everything that is a state (VRRP
//! state and adverts, real-server health and weight, the kernel's IPVS counters) is taken at
//! scrape time from the same snapshot `haldir status` shows, so the two always agree.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::control::{Counters, Status, VrrpStatus, VsStatus};
use crate::health::runner::Observer;

type Labels = Vec<(&'static str, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

fn check_histogram() -> Histogram {
    // 1 ms to about 16 s: a loopback TCP check to a timed-out HTTPS one.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The counters kept between scrapes (cheap to clone: they share their values).
#[derive(Clone)]
pub(super) struct Metrics {
    transitions: Family<Labels, Counter>,
    check_duration: Histograms,
    check_failures: Family<Labels, Counter>,
    reloads: Family<Labels, Counter>,
    netlink_ops: Counter,
    netlink_errors: Counter,
    emails: Family<Labels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            transitions: Family::default(),
            check_duration: Family::new_with_constructor(check_histogram),
            check_failures: Family::default(),
            reloads: Family::default(),
            netlink_ops: Counter::default(),
            netlink_errors: Counter::default(),
            emails: Family::default(),
        }
    }
}

/// How a reload ended, as `haldir_reloads_total` labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReloadResult {
    Applied,
    Refused,
}

impl ReloadResult {
    fn as_str(self) -> &'static str {
        match self {
            ReloadResult::Applied => "applied",
            ReloadResult::Refused => "refused",
        }
    }
}

impl Metrics {
    pub(super) fn transition(&self, instance: &str, to: &str) {
        self.transitions
            .get_or_create(&vec![
                ("instance", instance.to_string()),
                ("to", to.to_string()),
            ])
            .inc();
    }

    pub(super) fn reload(&self, result: ReloadResult) {
        self.reloads
            .get_or_create(&vec![("result", result.as_str().to_string())])
            .inc();
    }

    pub(super) fn reloads(&self, result: ReloadResult) -> u64 {
        self.reloads
            .get(&vec![("result", result.as_str().to_string())])
            .map_or(0, |c| c.get())
    }

    pub(super) fn netlink(&self, ops: usize, errors: usize) {
        self.netlink_ops.inc_by(ops as u64);
        self.netlink_errors.inc_by(errors as u64);
    }

    /// Counts mailed alerts by result: "sent" or "failed".
    pub(super) fn email_outcome(&self) -> crate::email::Outcome {
        let emails = self.emails.clone();
        std::sync::Arc::new(move |sent| {
            let result = if sent { "sent" } else { "failed" };
            emails
                .get_or_create(&vec![("result", result.to_string())])
                .inc();
        })
    }

    /// Records every probe's duration, and its failure reason when it fails; with
    /// `log_all_failures`, logs each failure too (keepalived's checker_log_all_failures),
    /// not only the changes of state the daemon logs anyway.
    pub(super) fn observer(&self, log_all_failures: bool) -> Observer {
        let (durations, failures) = (self.check_duration.clone(), self.check_failures.clone());
        // Each check type's histogram, found once: every probe passes here, and building the
        // label set to look it up cost allocations and a hash per probe.
        let by_type =
            std::sync::Mutex::new(Vec::<(crate::config::types::CheckType, Histogram)>::new());
        std::sync::Arc::new(move |target, outcome, took| {
            if log_all_failures && !outcome.is_up() {
                tracing::info!(check = %target, reason = %outcome, "check failed");
            }
            let check_type = target.check.kind.check_type();
            {
                let mut known = by_type.lock().unwrap_or_else(|e| e.into_inner());
                let i = match known.iter().position(|(t, _)| *t == check_type) {
                    Some(i) => i,
                    None => {
                        let h = durations
                            .get_or_create(&vec![("type", check_type.to_string())])
                            .clone();
                        known.push((check_type, h));
                        known.len() - 1
                    }
                };
                known[i].1.observe(took.as_secs_f64());
            }
            if let crate::health::outcome::Outcome::Down(reason) = outcome {
                let kind = check_type.to_string();
                failures
                    .get_or_create(&vec![("type", kind), ("reason", reason.kind().to_string())])
                    .inc();
            }
        })
    }

    /// The exposition text: the kept counters and the states of `status`.
    pub(super) fn render(&self, status: &Status) -> String {
        let mut r = Registry::default();
        r.register(
            "haldir_vrrp_transitions",
            "VRRP state changes, by new state",
            self.transitions.clone(),
        );
        r.register(
            "haldir_check_duration_seconds",
            "How long health checks take",
            self.check_duration.clone(),
        );
        r.register(
            "haldir_check_failures",
            "Failed health checks, by reason",
            self.check_failures.clone(),
        );
        r.register(
            "haldir_reloads",
            "Configuration reloads, applied or refused",
            self.reloads.clone(),
        );
        r.register(
            "haldir_email_alerts",
            "Alerts mailed, by result (sent, failed)",
            self.emails.clone(),
        );
        r.register(
            "haldir_netlink_operations",
            "IPVS netlink operations sent",
            self.netlink_ops.clone(),
        );
        r.register(
            "haldir_netlink_errors",
            "IPVS netlink operations the kernel refused",
            self.netlink_errors.clone(),
        );
        states(&mut r, status);
        announcements(&mut r, status);
        let mut out = String::new();
        if let Err(e) = encode(&mut out, &r) {
            tracing::warn!(error = %e, "cannot encode the metrics");
        }
        out
    }
}

fn gauge(r: &mut Registry, name: &str, help: &str) -> Family<Labels, Gauge> {
    let f = Family::<Labels, Gauge>::default();
    r.register(name, help, f.clone());
    f
}

fn counter(r: &mut Registry, name: &str, help: &str) -> Family<Labels, Counter> {
    let f = Family::<Labels, Counter>::default();
    r.register(name, help, f.clone());
    f
}

fn set(f: &Family<Labels, Gauge>, labels: Labels, v: i64) {
    f.get_or_create(&labels).set(v);
}

fn add(f: &Family<Labels, Counter>, labels: Labels, v: u64) {
    f.get_or_create(&labels).inc_by(v);
}

const VRRP_STATES: [&str; 4] = ["INIT", "BACKUP", "MASTER", "FAULT"];

/// The families read off the snapshot.
fn states(r: &mut Registry, s: &Status) {
    let info = gauge(r, "haldir_info", "This daemon: router_id and version");
    set(
        &info,
        vec![
            ("router_id", s.router_id.clone()),
            ("version", env!("CARGO_PKG_VERSION").to_string()),
        ],
        1,
    );
    let tasks = Gauge::<i64>::default();
    tasks.set(s.tasks as i64);
    r.register("haldir_runtime_tasks", "Tasks alive in the daemon", tasks);
    let lost = Counter::<u64>::default();
    lost.inc_by(crate::logging::dropped_lines() as u64);
    r.register(
        "haldir_log_lines_dropped",
        "Log lines dropped because the log's reader (journald) did not read them",
        lost,
    );
    vrrp_states(r, &s.vrrp);
    service_states(r, &s.virtual_servers);
}

fn vrrp_states(r: &mut Registry, vrrp: &[VrrpStatus]) {
    let state = gauge(
        r,
        "haldir_vrrp_state",
        "1 for the state each instance is in",
    );
    let prio = gauge(r, "haldir_vrrp_priority", "Priority in effect");
    let sent = counter(r, "haldir_vrrp_adverts_sent", "Adverts sent");
    let recv = counter(r, "haldir_vrrp_adverts_received", "Adverts accepted");
    let dropped = counter(
        r,
        "haldir_vrrp_adverts_dropped",
        "Adverts dropped, by reason",
    );
    for v in vrrp {
        let who = || vec![("instance", v.name.clone())];
        for st in VRRP_STATES {
            let mut l = who();
            l.push(("state", st.to_string()));
            set(&state, l, i64::from(v.state == st));
        }
        set(&prio, who(), i64::from(v.priority));
        add(&sent, who(), v.adverts_sent);
        add(&recv, who(), v.adverts_received);
        for (reason, n) in &v.dropped {
            let mut l = who();
            l.push(("reason", reason.clone()));
            add(&dropped, l, *n);
        }
    }
}

fn service_states(r: &mut Registry, services: &[VsStatus]) {
    let up = gauge(
        r,
        "haldir_real_server_up",
        "1 while the real server's checks pass",
    );
    let drained = gauge(
        r,
        "haldir_real_server_drained",
        "1 while drained by an operator",
    );
    let weight = gauge(r, "haldir_real_server_weight", "Weight in the kernel");
    let active = gauge(r, "haldir_ipvs_active_connections", "Active connections");
    let inactive = gauge(
        r,
        "haldir_ipvs_inactive_connections",
        "Inactive connections",
    );
    let rs_counters = CounterSet::new(r, "haldir_ipvs_real_server", "of the real server");
    let vs_counters = CounterSet::new(r, "haldir_ipvs_service", "of the service");
    for vs in services {
        if vs.programmed {
            vs_counters.add(vec![("virtual_server", vs.name.clone())], &vs.counters);
        }
        for rs in &vs.real_servers {
            let who = || {
                vec![
                    ("virtual_server", vs.name.clone()),
                    ("real_server", rs.address.clone()),
                ]
            };
            set(&up, who(), i64::from(rs.health != "down"));
            set(&drained, who(), i64::from(rs.drained));
            if let Some(w) = rs.weight {
                set(&weight, who(), i64::from(w));
                set(&active, who(), i64::from(rs.active_conns));
                set(&inactive, who(), i64::from(rs.inactive_conns));
                rs_counters.add(who(), &rs.counters);
            }
        }
    }
}

const WITHHELD: [&str; 5] = [
    "drained",
    "checks pending",
    "startup delay",
    "quorum",
    "hold-down",
];

/// Per announced prefix: wanted, in haldir's table, why not, and whether BIRD exports it.
fn announcements(r: &mut Registry, s: &Status) {
    let wanted = gauge(
        r,
        "haldir_announce_wanted",
        "1 while the prefix's services are fit to be announced",
    );
    let in_table = gauge(
        r,
        "haldir_announce_in_table",
        "1 while the prefix's route is in haldir's routing table",
    );
    let withheld = gauge(
        r,
        "haldir_announce_withheld",
        "1 for the reason a prefix is withheld",
    );
    let exported = gauge(
        r,
        "haldir_announce_exported_sessions",
        "BGP sessions BIRD exports the prefix to (absent without BIRD)",
    );
    for a in &s.announced {
        let who = || vec![("prefix", a.prefix.clone())];
        set(&wanted, who(), i64::from(a.wanted));
        set(&in_table, who(), i64::from(a.in_table));
        for reason in WITHHELD {
            let mut l = who();
            l.push(("reason", reason.to_string()));
            set(
                &withheld,
                l,
                i64::from(a.withheld.as_deref() == Some(reason)),
            );
        }
        if let Some(to) = &a.exported_to {
            set(&exported, who(), to.len() as i64);
        }
    }
    let foreign = Gauge::<i64>::default();
    foreign.set(s.foreign_routes.len() as i64);
    r.register(
        "haldir_routing_foreign_routes",
        "Routes of someone else found in haldir's routing table",
        foreign,
    );
    let rules = Gauge::<i64>::default();
    rules.set(s.foreign_rules.len() as i64);
    r.register(
        "haldir_routing_foreign_rules",
        "Policy rules of someone else that look up haldir's routing table",
        rules,
    );
}

/// The kernel's totals of a service or a real server, as counters.
struct CounterSet {
    conns: Family<Labels, Counter>,
    inpkts: Family<Labels, Counter>,
    outpkts: Family<Labels, Counter>,
    inbytes: Family<Labels, Counter>,
    outbytes: Family<Labels, Counter>,
}

impl CounterSet {
    fn new(r: &mut Registry, prefix: &str, of: &str) -> Self {
        let mut c = |name: &str, help: &str| {
            counter(r, &format!("{prefix}_{name}"), &format!("{help} {of}"))
        };
        CounterSet {
            conns: c("connections", "Connections scheduled"),
            inpkts: c("packets_in", "Packets in"),
            outpkts: c("packets_out", "Packets out"),
            inbytes: c("bytes_in", "Bytes in"),
            outbytes: c("bytes_out", "Bytes out"),
        }
    }

    fn add(&self, labels: Labels, c: &Counters) {
        add(&self.conns, labels.clone(), c.conns);
        add(&self.inpkts, labels.clone(), c.inpkts);
        add(&self.outpkts, labels.clone(), c.outpkts);
        add(&self.inbytes, labels.clone(), c.inbytes);
        add(&self.outbytes, labels, c.outbytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{RsStatus, VrrpStatus, VsStatus};

    /// Long because it is one status with every family in it, and the exposition it must
    /// give, line for line.
    #[test]
    fn states_and_counters_come_out_with_their_labels() {
        let m = Metrics::default();
        m.transition("VI_1", "MASTER");
        m.reload(ReloadResult::Applied);
        m.reload(ReloadResult::Refused);
        m.reload(ReloadResult::Refused);
        let status = Status {
            router_id: "lb1".into(),
            config: "/etc/haldir/haldir.toml".into(),
            pid: 1,
            uptime_secs: 5,
            reloads_applied: 1,
            reloads_refused: 2,
            tasks: 9,
            vrrp: vec![VrrpStatus {
                name: "VI_1".into(),
                interface: "eth1".into(),
                state: "MASTER".into(),
                priority: 150,
                master: None,
                adverts_sent: 7,
                adverts_received: 0,
                dropped: [("ttl".to_string(), 2)].into_iter().collect(),
            }],
            announced: vec![crate::control::AnnounceStatus {
                prefix: "192.0.2.10/32".into(),
                table: 200,
                wanted: false,
                in_table: true,
                withheld: Some("hold-down".into()),
                exported_to: Some(vec!["uplink".into()]),
            }],
            foreign_routes: vec!["192.0.2.99/32 proto 186".into()],
            foreign_rules: Vec::new(),
            virtual_servers: vec![VsStatus {
                name: "web".into(),
                service: "TCP 10.0.0.1:80".into(),
                scheduler: "wlc".into(),
                programmed: true,
                quorum_lost: false,
                counters: Counters {
                    conns: 12,
                    ..Counters::default()
                },
                real_servers: vec![RsStatus {
                    address: "10.0.1.1:80".into(),
                    health: "up".into(),
                    drained: true,
                    configured_weight: 1,
                    weight: Some(0),
                    last_check: None,
                    active_conns: 3,
                    inactive_conns: 4,
                    counters: Counters {
                        conns: 12,
                        inbytes: 999,
                        ..Counters::default()
                    },
                }],
            }],
        };
        let text = m.render(&status);
        for line in [
            r#"haldir_vrrp_state{instance="VI_1",state="MASTER"} 1"#,
            r#"haldir_vrrp_state{instance="VI_1",state="BACKUP"} 0"#,
            r#"haldir_vrrp_transitions_total{instance="VI_1",to="MASTER"} 1"#,
            r#"haldir_vrrp_adverts_sent_total{instance="VI_1"} 7"#,
            r#"haldir_vrrp_adverts_dropped_total{instance="VI_1",reason="ttl"} 2"#,
            r#"haldir_reloads_total{result="refused"} 2"#,
            "haldir_runtime_tasks 9",
            r#"haldir_real_server_drained{virtual_server="web",real_server="10.0.1.1:80"} 1"#,
            r#"haldir_real_server_weight{virtual_server="web",real_server="10.0.1.1:80"} 0"#,
            r#"haldir_ipvs_active_connections{virtual_server="web",real_server="10.0.1.1:80"} 3"#,
            r#"haldir_ipvs_real_server_bytes_in_total{virtual_server="web",real_server="10.0.1.1:80"} 999"#,
            r#"haldir_ipvs_service_connections_total{virtual_server="web"} 12"#,
            r#"haldir_announce_wanted{prefix="192.0.2.10/32"} 0"#,
            r#"haldir_announce_in_table{prefix="192.0.2.10/32"} 1"#,
            r#"haldir_announce_withheld{prefix="192.0.2.10/32",reason="hold-down"} 1"#,
            r#"haldir_announce_withheld{prefix="192.0.2.10/32",reason="quorum"} 0"#,
            r#"haldir_announce_exported_sessions{prefix="192.0.2.10/32"} 1"#,
            "haldir_routing_foreign_routes 1",
            "haldir_routing_foreign_rules 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line} in:\n{text}"
            );
        }
        assert_eq!(m.reloads(ReloadResult::Refused), 2);
    }
}
