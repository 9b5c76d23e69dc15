//! What a root daemon must not trust: a configuration or a script that someone other than root
//! could change. As keepalived's `enable_script_security`, but always on: the file and every
//! directory above it must be owned by root and writable by root only (a group-writable one
//! only by group root; a world-writable directory only with the sticky bit, as /tmp).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::config::reread::Basis;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{} is {why}: refusing to trust it as root (make it root's and not writable by others)", path.display())]
pub(crate) struct Untrusted {
    pub path: PathBuf,
    pub why: String,
}

/// Why a configuration was not taken: it does not validate, or it cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CheckedError {
    #[error(transparent)]
    Load(#[from] crate::config::LoadError),
    #[error(transparent)]
    Untrusted(#[from] Untrusted),
}

/// The one way haldir takes a configuration to act on it (`run`, a reload, `plan`,
/// `apply`): read and validated whole, then its files and root-run scripts checked (as root).
pub(crate) fn load_checked(path: &Path) -> Result<crate::config::Loaded, CheckedError> {
    let loaded = crate::config::load(path)?;
    let files: Vec<PathBuf> = loaded.sources.paths().map(Path::to_path_buf).collect();
    check_config(&loaded.config, &files)?;
    Ok(loaded)
}

/// [`load_checked`] for a reload: the file read by its changed virtual servers when `since`
/// (what the last accepted file gave) allows ([`crate::config::reread`]), with the basis for
/// the next one.
pub(crate) fn load_checked_since(
    path: &Path,
    since: Option<(&Basis, &Config)>,
) -> Result<(crate::config::Loaded, Option<Basis>), CheckedError> {
    let (loaded, basis) = crate::config::reread::load(path, since)?;
    let files: Vec<PathBuf> = loaded.sources.paths().map(Path::to_path_buf).collect();
    check_config(&loaded.config, &files)?;
    Ok((loaded, basis))
}

/// The process's own user, as the kernel shows it on /proc/self (none if unreadable).
pub(crate) fn own_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Whether the daemon runs as root (only then is there something to protect).
pub(crate) fn is_root() -> bool {
    own_uid() == Some(0)
}

/// Checks a path and each directory above it.
pub(crate) fn check_path(path: &Path) -> Result<(), Untrusted> {
    let full = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut at = Some(full.as_path());
    let mut first = true;
    while let Some(p) = at {
        if let Ok(m) = std::fs::metadata(p) {
            let why = verdict(m.uid(), m.gid(), m.mode(), m.is_dir() && !first);
            if let Some(why) = why {
                return Err(Untrusted {
                    path: p.to_path_buf(),
                    why,
                });
            }
        }
        first = false;
        at = p.parent();
    }
    Ok(())
}

/// The rule, pure: why these owner and mode are unsafe, if they are.
fn verdict(uid: u32, gid: u32, mode: u32, is_parent_dir: bool) -> Option<String> {
    const STICKY: u32 = 0o1000;
    if uid != 0 {
        return Some(format!("owned by uid {uid}"));
    }
    if mode & 0o002 != 0 && !(is_parent_dir && mode & STICKY != 0) {
        return Some("writable by everyone".into());
    }
    if mode & 0o020 != 0 && gid != 0 {
        return Some(format!("writable by group {gid}"));
    }
    None
}

/// A command's program as it would be found (absolute, or on PATH).
fn program(argv0: &str) -> Option<PathBuf> {
    let p = Path::new(argv0);
    if p.is_absolute() {
        return Some(p.to_path_buf());
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(argv0))
        .find(|c| c.is_file())
}

/// Every file haldir would trust as root: the configuration's files, and, when scripts run as
/// root, each script's program.
pub(crate) fn check_config(config: &Config, files: &[PathBuf]) -> Result<(), Untrusted> {
    if !is_root() {
        return Ok(());
    }
    for f in files {
        check_path(f)?;
    }
    for argv in config.root_scripts() {
        if let Some(prog) = argv.first().and_then(|a| program(a)) {
            check_path(&prog)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_root_may_write() {
        assert_eq!(verdict(0, 0, 0o100755, false), None);
        assert_eq!(verdict(0, 0, 0o100775, false), None, "group root");
        assert_eq!(
            verdict(1000, 1000, 0o100755, false),
            Some("owned by uid 1000".into())
        );
        assert_eq!(
            verdict(0, 0, 0o100757, false),
            Some("writable by everyone".into())
        );
        assert_eq!(
            verdict(0, 50, 0o100775, false),
            Some("writable by group 50".into())
        );
        assert_eq!(
            verdict(0, 0, 0o41777, true),
            None,
            "a sticky directory such as /tmp"
        );
        assert_eq!(
            verdict(0, 0, 0o40777, true),
            Some("writable by everyone".into()),
            "a world-writable directory without the sticky bit"
        );
    }

    #[test]
    fn a_file_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("haldir.toml");
        std::fs::write(&f, "").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        if is_root() {
            assert_eq!(check_path(&f), Ok(()));
        }
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).unwrap();
        let err = check_path(&f).unwrap_err();
        assert!(err.why.contains("writable by everyone") || err.why.contains("owned by"));
    }
}
