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
    pub servers: HashMap<(String, RsAddr), Health>,
    pub quorum_lost: HashSet<String>,
    pub drained: HashSet<(String, RsAddr)>,
}

impl HealthMap {
    pub fn get(&self, vs: &str, rs: &RsAddr) -> Health {
        self.servers
            .get(&(vs.to_string(), *rs))
            .copied()
            .unwrap_or(Health::Up)
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
