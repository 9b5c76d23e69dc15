//! Health checks: probes ([`probe`]: tcp, http/https, misc), rise/fall tracking ([`tracker`],
//! pure) and the tasks that run them ([`runner`]). [`targets`] derives what to probe from the
//! configuration, one target per distinct check and address, each feeding every (service,
//! real server) that uses it.

pub mod outcome;
pub mod probe;
pub mod runner;
pub mod tracker;

use std::collections::HashMap;

use crate::config::Config;
use crate::config::model::RsAddr;
use crate::reconcile::desired::{Health, HealthMap};
pub use probe::Target;

/// Who is fed by each target: (virtual server name, real server address) pairs.
pub type Consumers = HashMap<Target, Vec<(String, RsAddr)>>;

pub fn targets(config: &Config) -> Consumers {
    let mut out: Consumers = HashMap::new();
    for vs in &config.virtual_servers {
        for rs in &vs.real_servers {
            let Some(check) = &rs.check else { continue };
            let target = Target {
                addr: check.address.unwrap_or(rs.address.ip),
                port: check.port.or(rs.address.port).unwrap_or(0),
                check: check.clone(),
            };
            out.entry(target)
                .or_default()
                .push((vs.name.clone(), rs.address));
        }
    }
    out
}

/// Health before any probe has answered: up, or down for the servers of an `alpha` service.
pub fn initial(config: &Config) -> HealthMap {
    let mut map = HealthMap::default();
    for vs in config.virtual_servers.iter().filter(|v| v.alpha) {
        for rs in vs.real_servers.iter().filter(|r| r.check.is_some()) {
            map.0.insert((vs.name.clone(), rs.address), Health::Down);
        }
    }
    map
}
