//! What the checkers say of the real servers, as the desired state reads it: one [`Health`]
//! per (virtual server, real server), the services whose quorum is lost, and the drains.

use std::collections::{HashMap, HashSet};

use crate::config::model::RsAddr;

/// What the checkers say of a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Up,
    /// Up with a weight set by a dynamic check (misc with `dynamic_weight`).
    UpWithWeight(u32),
    /// Up with this added to the configured weight (a file check with `weight`), as
    /// keepalived adds a FILE_CHECK's value to the real server's weight, floored at 0.
    UpWithOffset(i32),
    Down,
}

/// What is observed of the real servers: their health by (virtual server name, real server
/// address) — a server not in the map is up, as keepalived treats a server without checks —
/// and the services whose quorum is currently lost (hysteresis needs the previous verdict);
/// with them, the servers an operator drained (`haldir drain`).
#[derive(Debug, Clone, Default)]
pub struct HealthMap {
    /// By service, then real server: a lookup takes the service's name as it is, where a
    /// (name, address) key cost a string for every probe's verdict and for every server.
    servers: HashMap<String, HashMap<RsAddr, Health>>,
    pub quorum_lost: HashSet<String>,
    pub drained: HashSet<(String, RsAddr)>,
}

impl HealthMap {
    pub fn get(&self, vs: &str, rs: &RsAddr) -> Health {
        self.verdict(vs, rs).unwrap_or(Health::Up)
    }

    /// The verdict recorded for a server, if any.
    pub fn verdict(&self, vs: &str, rs: &RsAddr) -> Option<Health> {
        self.servers.get(vs)?.get(rs).copied()
    }

    pub fn set(&mut self, vs: &str, rs: RsAddr, health: Health) {
        match self.servers.get_mut(vs) {
            Some(m) => {
                m.insert(rs, health);
            }
            None => {
                self.servers
                    .insert(vs.to_string(), HashMap::from([(rs, health)]));
            }
        }
    }

    /// Forgets a server's verdict: it counts as up again.
    pub fn forget(&mut self, vs: &str, rs: &RsAddr) {
        if let Some(m) = self.servers.get_mut(vs) {
            m.remove(rs);
        }
    }

    /// Forgets every verdict (quorum and drains stay).
    pub fn forget_all(&mut self) {
        self.servers.clear();
    }

    /// Takes the quorum verdicts (service name, quorum lost) of newly computed services as
    /// the state for the next time.
    pub fn record_quorum<'a>(&mut self, verdicts: impl IntoIterator<Item = (&'a str, bool)>) {
        for (name, lost) in verdicts {
            if lost {
                self.quorum_lost.insert(name.to_string());
            } else {
                self.quorum_lost.remove(name);
            }
        }
    }
}

/// The health a reload starts from. A check that still runs (the same target, so the same
/// probe keeps its rise/fall count) keeps its verdict for every server it still feeds; a new
/// or changed check starts from `initial` (keepalived's `alpha`, or up); the quorum verdicts
/// and the drains carry over whole (the drains are pruned later against the new file).
pub(crate) fn carried_over(
    mut initial: HealthMap,
    consumers: &super::target::Consumers,
    old_consumers: &super::target::Consumers,
    old: HealthMap,
) -> HealthMap {
    for (target, users) in consumers {
        if !old_consumers.contains_key(target) {
            continue;
        }
        for (vs, rs) in users {
            if let Some(h) = old.verdict(vs, rs) {
                initial.set(vs, *rs, h);
            }
        }
    }
    initial.quorum_lost = old.quorum_lost;
    initial.drained = old.drained;
    initial
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_config;
    use crate::health::{initial, targets};

    const FILE: &str = r#"
[[virtual_server]]
name = "web"
address = "10.0.0.1:80"
[[virtual_server.real_server]]
address = "10.0.0.2:80"
check = { type = "tcp" }
[[virtual_server.real_server]]
address = "10.0.0.3:80"
check = { type = "tcp" }
"#;

    #[test]
    fn a_reload_keeps_the_verdicts_of_unchanged_checks_only() {
        let old_config = test_config(FILE);
        let old_consumers = targets(&old_config);
        let mut old = initial(&old_config);
        let (a, b): (RsAddr, RsAddr) = (
            "10.0.0.2:80".parse().unwrap(),
            "10.0.0.3:80".parse().unwrap(),
        );
        old.set("web", a, Health::Down);
        old.set("web", b, Health::Down);
        old.quorum_lost.insert("web".into());
        old.drained.insert(("web".into(), a));

        // The second server's check changes port: a new probe, a fresh verdict.
        let new_config = test_config(&FILE.replacen(
            "address = \"10.0.0.3:80\"\ncheck = { type = \"tcp\" }",
            "address = \"10.0.0.3:80\"\ncheck = { type = \"tcp\", port = 8080 }",
            1,
        ));
        let consumers = targets(&new_config);
        let map = carried_over(initial(&new_config), &consumers, &old_consumers, old);
        assert_eq!(map.get("web", &a), Health::Down, "the same check: kept");
        assert_eq!(
            map.get("web", &b),
            Health::Up,
            "a changed check starts afresh"
        );
        assert!(map.quorum_lost.contains("web"));
        assert!(map.drained.contains(&("web".to_string(), a)));
    }
}
