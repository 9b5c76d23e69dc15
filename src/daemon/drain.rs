//! Drains: real servers an operator took out of rotation (`haldir drain VS RS`). A drained
//! server keeps its place in IPVS at weight 0, so established connections finish while no new
//! ones arrive; its checks go on. Drains are kept in the state directory and survive a restart
//! or a reload, until `undrain` or until the server leaves the configuration.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::config::model::{RsAddr, ServiceKey};

pub(super) type Drains = HashSet<(String, RsAddr)>;

const FILE: &str = "drained.json";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(super) enum DrainError {
    #[error("no virtual server \"{0}\" (give its name, its address or fwmark-N)")]
    NoService(String),
    #[error("virtual server {vs} has no real server {rs}")]
    NoServer { vs: String, rs: String },
    #[error("{rs} matches several real servers of {vs}: give the port too")]
    Ambiguous { vs: String, rs: String },
    #[error("\"{0}\" is not a real server address (10.0.0.2, 10.0.0.2:80 or [2001:db8::2]:80)")]
    BadAddress(String),
}

/// Finds the real server an operator means: the virtual server by name, address or
/// `fwmark-N`; the real server by address, with the port optional when it is unambiguous.
pub(super) fn resolve(config: &Config, vs: &str, rs: &str) -> Result<(String, RsAddr), DrainError> {
    let service = config
        .virtual_servers
        .iter()
        .find(|v| {
            v.name == vs
                || match v.key {
                    ServiceKey::Address(a) => a.to_string() == vs,
                    ServiceKey::Fwmark { mark, .. } => format!("fwmark-{mark}") == vs,
                }
        })
        .ok_or_else(|| DrainError::NoService(vs.to_string()))?;
    let wanted: RsAddr = rs
        .parse()
        .map_err(|_| DrainError::BadAddress(rs.to_string()))?;
    let matching: Vec<RsAddr> = service
        .real_servers
        .iter()
        .map(|r| r.address)
        .filter(|a| a.ip == wanted.ip && (wanted.port.is_none() || a.port == wanted.port))
        .collect();
    match matching.as_slice() {
        [one] => Ok((service.name.clone(), *one)),
        [] => Err(DrainError::NoServer {
            vs: service.name.clone(),
            rs: rs.to_string(),
        }),
        _ => Err(DrainError::Ambiguous {
            vs: service.name.clone(),
            rs: rs.to_string(),
        }),
    }
}

/// Keeps only the drains whose server is still in the configuration.
pub(super) fn prune(drains: &mut Drains, config: &Config) {
    drains.retain(|(vs, rs)| {
        config
            .virtual_servers
            .iter()
            .any(|v| &v.name == vs && v.real_servers.iter().any(|r| r.address == *rs))
    });
}

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// The drains saved by an earlier run in `drain_dir` — or, the first time, where an earlier
/// version kept them (`state_dir`); none when there is no file or it cannot be read.
pub(super) fn load(drain_dir: &Path, state_dir: &Path) -> Drains {
    let text = std::fs::read_to_string(path(drain_dir))
        .or_else(|_| std::fs::read_to_string(path(state_dir)));
    let Ok(text) = text else {
        return Drains::new();
    };
    match serde_json::from_str::<Vec<(String, String)>>(&text) {
        Ok(list) => list
            .into_iter()
            .filter_map(|(vs, rs)| rs.parse().ok().map(|rs| (vs, rs)))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "the saved drains cannot be read; none are kept");
            Drains::new()
        }
    }
}

pub(super) fn save(drain_dir: &Path, drains: &Drains) -> std::io::Result<()> {
    let mut list: Vec<(String, String)> = drains
        .iter()
        .map(|(vs, rs)| (vs.clone(), rs.to_string()))
        .collect();
    list.sort();
    std::fs::create_dir_all(drain_dir)?;
    let tmp = drain_dir.join(format!("{FILE}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec(&list)?)?;
    std::fs::rename(tmp, path(drain_dir))
}

/// The file whose presence says the whole director is drained (`haldir drain --director`).
const DIRECTOR_FILE: &str = "director-drained";

/// Whether an operator drained the whole director (kept across restarts, like the drains).
pub(super) fn director_drained(drain_dir: &Path) -> bool {
    drain_dir.join(DIRECTOR_FILE).exists()
}

pub(super) fn save_director(drain_dir: &Path, drained: bool) -> std::io::Result<()> {
    let file = drain_dir.join(DIRECTOR_FILE);
    if drained {
        std::fs::create_dir_all(drain_dir)?;
        std::fs::write(file, b"drained by haldir drain --director\n")
    } else {
        match std::fs::remove_file(file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let text = r#"
[[virtual_server]]
name = "web"
address = "10.0.0.1:80"
[[virtual_server.real_server]]
address = "10.0.1.1:80"
[[virtual_server.real_server]]
address = "10.0.1.2:80"
[[virtual_server.real_server]]
address = "10.0.1.2:8080"
[[virtual_server]]
fwmark = 3
[[virtual_server.real_server]]
address = "10.0.1.1"
"#;
        crate::config::load_str(Path::new("t.toml"), text)
            .unwrap()
            .config
    }

    #[test]
    fn servers_are_found_by_name_address_or_mark() {
        let c = config();
        let a: RsAddr = "10.0.1.1:80".parse().unwrap();
        assert_eq!(resolve(&c, "web", "10.0.1.1"), Ok(("web".into(), a)));
        assert_eq!(
            resolve(&c, "10.0.0.1:80", "10.0.1.1:80"),
            Ok(("web".into(), a))
        );
        assert_eq!(
            resolve(&c, "fwmark-3", "10.0.1.1"),
            Ok(("fwmark-3".into(), "10.0.1.1".parse().unwrap()))
        );
        assert!(matches!(
            resolve(&c, "web", "10.0.1.2"),
            Err(DrainError::Ambiguous { .. })
        ));
        assert!(matches!(
            resolve(&c, "web", "10.0.1.9"),
            Err(DrainError::NoServer { .. })
        ));
        assert_eq!(
            resolve(&c, "mail", "10.0.1.1"),
            Err(DrainError::NoService("mail".into()))
        );
        assert!(matches!(
            resolve(&c, "web", "nonsense"),
            Err(DrainError::BadAddress(_))
        ));
    }

    #[test]
    fn drains_survive_a_restart_and_leave_with_their_server() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = Drains::new();
        d.insert(("web".into(), "10.0.1.1:80".parse().unwrap()));
        d.insert(("web".into(), "10.0.9.9:80".parse().unwrap()));
        save(dir.path(), &d).unwrap();
        let mut back = load(dir.path(), Path::new("/nonexistent"));
        assert_eq!(back, d);
        prune(&mut back, &config());
        assert_eq!(back.len(), 1);
    }

    #[test]
    fn a_drained_director_stays_drained_until_undrained() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!director_drained(dir.path()));
        save_director(dir.path(), true).unwrap();
        assert!(director_drained(dir.path()));
        save_director(dir.path(), false).unwrap();
        save_director(dir.path(), false).unwrap();
        assert!(!director_drained(dir.path()));
    }

    #[test]
    fn drains_kept_by_an_earlier_version_in_state_dir_are_found_once() {
        let (old, new) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut d = Drains::new();
        d.insert(("web".into(), "10.0.1.1:80".parse().unwrap()));
        save(old.path(), &d).unwrap();
        assert_eq!(load(new.path(), old.path()), d, "read where they were");
        save(new.path(), &Drains::new()).unwrap();
        assert!(
            load(new.path(), old.path()).is_empty(),
            "once saved in drain_dir, that file is the truth"
        );
    }
}
