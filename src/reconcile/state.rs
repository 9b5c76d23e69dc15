//! The ownership record: which IPVS services and sync daemons haldir made, kept in
//! `state_dir/ipvs-owned.json` so that a service dropped from the configuration is removed from
//! the kernel even when the drop happened while haldir was stopped.

use std::io;
use std::path::{Path, PathBuf};

use super::diff::Owned;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read the ownership record {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("the ownership record {} is damaged ({source}); move it away to start afresh (haldir then owns only the services of its configuration)", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write the ownership record {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

pub(crate) fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("ipvs-owned.json")
}

/// The record, or an empty one when there is none yet.
pub(crate) fn load(state_dir: &Path) -> Result<Owned, StateError> {
    let path = path(state_dir);
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|source| StateError::Parse { path, source })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Owned::default()),
        Err(source) => Err(StateError::Read { path, source }),
    }
}

/// Writes the record atomically (a crash leaves the old one or the new one, never half).
pub(crate) fn save(state_dir: &Path, owned: &Owned) -> Result<(), StateError> {
    let path = path(state_dir);
    let write = || -> io::Result<()> {
        std::fs::create_dir_all(state_dir)?;
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(owned).map_err(io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|source| StateError::Write {
        path: path.clone(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::types::{DaemonState, ServiceId};

    #[test]
    fn round_trip_and_missing_file() {
        let dir = std::env::temp_dir().join(format!("haldir-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(load(&dir).unwrap(), Owned::default());
        let owned = Owned {
            services: [
                ServiceId::Fwmark { af: 2, mark: 3 },
                ServiceId::Addr {
                    protocol: 6,
                    addr: "2001:db8::1".parse().unwrap(),
                    port: 80,
                },
            ]
            .into(),
            daemons: [DaemonState::Master].into(),
        };
        save(&dir, &owned).unwrap();
        assert_eq!(load(&dir).unwrap(), owned);
        std::fs::write(path(&dir), b"{not json").unwrap();
        assert!(matches!(load(&dir), Err(StateError::Parse { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
