//! A health change applied incrementally: only the virtual servers it touched are computed
//! again and compared with the state last applied, without reading the kernel, so that one
//! real server going down costs one operation with ten services or ten thousand. Pure.

use std::collections::HashSet;

use super::desired::{self, Desired, Roles};
use super::diff::{self, Actual, Op, Owned};
use crate::config::Config;
use crate::health::verdict::HealthMap;

/// A service whose quorum verdict flipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QuorumChange {
    pub service: String,
    pub lost: bool,
    /// The live weight of its real servers, for the alert.
    pub live_weight: u64,
}

/// What a health change asks of the kernel.
#[derive(Debug, Default)]
pub(crate) struct Increment {
    /// The new desired state of the touched services that are active here.
    pub want: Desired,
    /// The operations from the state last applied to `want`.
    pub ops: Vec<Op>,
    pub quorum_changes: Vec<QuorumChange>,
}

/// The increment for the virtual servers named in `affected`: those active under `roles`
/// computed with `health` and diffed against their state in `last`.
pub(crate) fn increment(
    config: &Config,
    health: &HealthMap,
    roles: &Roles,
    last: &Desired,
    affected: &HashSet<String>,
) -> Increment {
    let mut out = Increment::default();
    let mut had = Desired::default();
    let touched = config
        .virtual_servers
        .iter()
        .filter(|v| affected.contains(&v.name) && desired::active(v, roles));
    for vs in touched {
        let new = desired::desired_service(vs, health);
        if new.quorum_lost != health.quorum_lost.contains(&new.name) {
            out.quorum_changes.push(QuorumChange {
                service: new.name.clone(),
                lost: new.quorum_lost,
                live_weight: desired::live_weight(vs, health),
            });
        }
        if let Some(old) = last
            .services
            .iter()
            .find(|s| s.service.id == new.service.id)
        {
            had.services.push(old.clone());
        }
        out.want.services.push(new);
    }
    out.ops = diff::diff(&out.want, &Actual::from_desired(&had), &Owned::default());
    out
}

#[cfg(test)]
mod tests {
    //! Replays of health changes against the state last applied, as the daemon meets them:
    //! each step's increment is checked, then folded into `last` as the daemon does.

    use super::*;
    use crate::config::model::RsAddr;
    use crate::health::verdict::Health;

    use crate::config::test_config as config;

    /// Two services of two real servers each; "web" keeps a quorum of 2 with a sorry server.
    const TABLE: &str = r#"
[[virtual_server]]
name = "web"
address = "10.0.0.1:80"
quorum = 2
sorry_server = "10.0.0.9:80"
[[virtual_server.real_server]]
address = "10.0.0.2:80"
[[virtual_server.real_server]]
address = "10.0.0.3:80"
[[virtual_server]]
name = "api"
address = "10.0.0.1:8080"
[[virtual_server.real_server]]
address = "10.0.0.2:8080"
[[virtual_server.real_server]]
address = "10.0.0.3:8080"
"#;

    fn rs(a: &str) -> RsAddr {
        a.parse().unwrap()
    }

    fn touched(names: &[&str]) -> HashSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn kinds(ops: &[Op]) -> Vec<String> {
        ops.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_server_down_then_up_costs_one_operation_each_and_leaves_the_rest_alone() {
        let c = config(TABLE);
        let mut health = HealthMap::default();
        let mut last = desired::desired(&c, &health, &Roles::All);
        health.record_quorum(last.quorum_verdicts());

        health.set("api", rs("10.0.0.3:8080"), Health::Down);
        let inc = increment(&c, &health, &Roles::All, &last, &touched(&["api"]));
        assert_eq!(kinds(&inc.ops).len(), 1, "{:?}", kinds(&inc.ops));
        assert!(matches!(&inc.ops[0], Op::DelDest(_, d) if d.port == 8080));
        assert_eq!(inc.want.services.len(), 1, "only the touched service");
        assert!(inc.quorum_changes.is_empty());
        health.record_quorum(inc.want.quorum_verdicts());
        last.replace_services(inc.want.services);
        assert_eq!(last.services.len(), 2, "web is still in the state");

        health.forget("api", &rs("10.0.0.3:8080"));
        let inc = increment(&c, &health, &Roles::All, &last, &touched(&["api"]));
        assert_eq!(inc.ops.len(), 1);
        assert!(matches!(&inc.ops[0], Op::AddDest(_, d) if d.port == 8080));
        last.replace_services(inc.want.services);
        assert_eq!(
            last,
            desired::desired(&c, &health, &Roles::All),
            "back where it began"
        );
    }

    #[test]
    fn the_quorum_flips_once_and_the_sorry_server_stands_in() {
        let c = config(TABLE);
        let mut health = HealthMap::default();
        let mut last = desired::desired(&c, &health, &Roles::All);
        health.record_quorum(last.quorum_verdicts());

        health.set("web", rs("10.0.0.2:80"), Health::Down);
        let inc = increment(&c, &health, &Roles::All, &last, &touched(&["web"]));
        assert_eq!(
            inc.quorum_changes,
            vec![QuorumChange {
                service: "web".into(),
                lost: true,
                live_weight: 1
            }]
        );
        assert!(inc.want.services[0].quorum_lost);
        let sorry = inc
            .ops
            .iter()
            .any(|op| matches!(op, Op::AddDest(_, d) if d.addr.to_string() == "10.0.0.9"));
        assert!(sorry, "the sorry server is added: {:?}", kinds(&inc.ops));
        health.record_quorum(inc.want.quorum_verdicts());
        last.replace_services(inc.want.services);

        // The same verdict again: no new flip, nothing to do.
        let inc = increment(&c, &health, &Roles::All, &last, &touched(&["web"]));
        assert!(inc.quorum_changes.is_empty());
        assert!(inc.ops.is_empty(), "{:?}", kinds(&inc.ops));
    }

    #[test]
    fn a_service_of_an_instance_that_is_not_master_here_is_left_alone() {
        let text = format!(
            "[[vrrp_instance]]\nname = \"VI\"\ninterface = \"eth0\"\nvirtual_router_id = 1\nvirtual_ipaddress = [\"10.0.0.1\"]\n{}",
            TABLE.replace("quorum = 2", "vrrp_instance = \"VI\"")
        );
        let c = config(&text);
        let mut health = HealthMap::default();
        let backup = Roles::Masters(Vec::new());
        let last = desired::desired(&c, &health, &backup);
        health.set("web", rs("10.0.0.2:80"), Health::Down);
        let inc = increment(&c, &health, &backup, &last, &touched(&["web"]));
        assert!(inc.want.services.is_empty());
        assert!(inc.ops.is_empty());
    }
}
