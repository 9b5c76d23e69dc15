//! Health checks: probes ([`probe`]: tcp and misc, with [`http`], [`udp`], [`dns`], [`ping`],
//! [`smtp`], [`file`] and the half-open tcp probe ([`halfopen`], [`syn`]) in their modules), rise/fall tracking ([`tracker`],
//! pure), the verdicts the desired state reads ([`verdict`]) and the tasks that run them
//! ([`runner`]). [`targets`] derives what to probe from the
//! configuration, one target per distinct check and address, each feeding every (service,
//! real server) that uses it.

pub mod dns;
pub(crate) mod file;
pub(crate) mod halfopen;
pub(crate) mod http;
pub mod outcome;
pub(crate) mod ping;
pub mod probe;
pub mod runner;
pub(crate) mod smtp;
pub(crate) mod syn;
pub(crate) mod target;
pub mod tracker;
pub(crate) mod udp;
pub(crate) mod verdict;

use crate::config::Config;
pub use target::{Consumers, Target, targets};
pub use verdict::{Health, HealthMap};

/// Health before any probe has answered: up, or down for the servers of an `alpha` service
/// and those whose check has `alpha`.
pub fn initial(config: &Config) -> HealthMap {
    let mut map = HealthMap::default();
    for vs in &config.virtual_servers {
        for rs in &vs.real_servers {
            let Some(check) = &rs.check else { continue };
            if vs.alpha || check.alpha {
                map.set(&vs.name, rs.address, Health::Down);
            }
        }
    }
    map
}

/// The reply parsers' fuzz tests' random bytes: xorshift from a fixed seed, the same bytes in
/// every run.
#[cfg(test)]
pub(crate) struct Xorshift(pub u32);

#[cfg(test)]
impl Xorshift {
    pub(crate) fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::CheckKind;
    use std::path::Path;

    #[test]
    fn half_open_is_inherited_by_an_override_of_the_same_type_only() {
        let text = r#"
[[virtual_server]]
name = "web"
address = "10.0.0.1:80"
check = { type = "tcp", half_open = true }
[[virtual_server.real_server]]
address = "10.0.1.1:80"
check = { port = 8080 }
[[virtual_server.real_server]]
address = "10.0.1.2:80"
check = { type = "tcp", half_open = false }
[[virtual_server.real_server]]
address = "10.0.1.3:80"
check = { type = "ping" }
"#;
        let c = crate::config::load_str(Path::new("t.toml"), text)
            .unwrap()
            .config;
        let kinds: Vec<&CheckKind> = c.virtual_servers[0]
            .real_servers
            .iter()
            .map(|rs| &rs.check.as_ref().unwrap().kind)
            .collect();
        assert_eq!(
            kinds,
            [
                &CheckKind::Tcp { half_open: true },
                &CheckKind::Tcp { half_open: false },
                &CheckKind::Ping
            ]
        );
    }

    #[test]
    fn a_check_shared_by_services_runs_once_and_feeds_all() {
        let text = r#"
[[virtual_server]]
name = "http"
address = "10.0.0.1:80"
check = { type = "tcp", port = 80 }
[[virtual_server.real_server]]
address = "10.0.1.1:80"
[[virtual_server]]
name = "https"
address = "10.0.0.1:443"
alpha = true
check = { type = "tcp", port = 80 }
[[virtual_server.real_server]]
address = "10.0.1.1:443"
[[virtual_server.real_server]]
address = "10.0.1.2:443"
check = { type = "tcp", port = 8443 }
"#;
        let c = crate::config::load_str(Path::new("t.toml"), text)
            .unwrap()
            .config;
        let t = targets(&c);
        assert_eq!(
            t.len(),
            2,
            "10.0.1.1 port 80 is probed once for both services"
        );
        let shared = t.iter().find(|(k, _)| k.port == 80).unwrap().1;
        let names: Vec<&str> = shared.iter().map(|(vs, _)| &**vs).collect();
        assert_eq!(names, vec!["http", "https"]);
        // alpha: the https servers start down, the http one up.
        let h = initial(&c);
        assert_eq!(
            h.get("https", &"10.0.1.1:443".parse().unwrap()),
            Health::Down
        );
        assert_eq!(h.get("http", &"10.0.1.1:80".parse().unwrap()), Health::Up);
    }
}
