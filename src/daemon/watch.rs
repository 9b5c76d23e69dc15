//! Reloading when the configuration changes on disk. The directories holding the files are
//! watched rather than the files: editors and tools that write a new file and rename it over
//! the old one (vim, sed -i, Kubernetes ConfigMaps) would leave a watch on the old inode
//! blind. The daemon waits for the writes to settle before it reloads.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

pub(super) struct ConfigWatch {
    _watcher: RecommendedWatcher,
    pub files: Vec<PathBuf>,
}

/// Watches the directories of `files`; a change that may concern them is sent on `tx`.
pub(super) fn watch(
    files: Vec<PathBuf>,
    tx: mpsc::UnboundedSender<()>,
) -> notify::Result<ConfigWatch> {
    let names: BTreeSet<PathBuf> = files.iter().map(|f| absolute(f)).collect();
    let dirs: BTreeSet<PathBuf> = names
        .iter()
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .collect();
    let wanted = names.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        // Reading a file (ours included) is not a change.
        if matches!(ev.kind, EventKind::Access(_)) {
            return;
        }
        if ev.paths.is_empty() || ev.paths.iter().any(|p| concerns(p, &wanted)) {
            let _ = tx.send(());
        }
    })?;
    for dir in &dirs {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    Ok(ConfigWatch {
        _watcher: watcher,
        files,
    })
}

/// A configuration file, a new TOML file an include may pick up, or a symlink swap of the
/// kind ConfigMaps do (`..data`).
fn concerns(path: &Path, files: &BTreeSet<PathBuf>) -> bool {
    files.contains(path)
        || path.extension().is_some_and(|e| e == "toml")
        || path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(".."))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_file_replaced_by_rename_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("haldir.toml");
        std::fs::write(&file, "# one\n").unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _w = watch(vec![file.clone()], tx).unwrap();
        // Reading is not a change.
        std::fs::read_to_string(&file).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(300), rx.recv())
                .await
                .is_err(),
            "neither a read nor an unrelated file is a change"
        );
        // What editors do: write elsewhere, rename over.
        let tmp = dir.path().join(".haldir.toml.swp");
        std::fs::write(&tmp, "# two\n").unwrap();
        std::fs::rename(&tmp, &file).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert!(matches!(got, Ok(Some(()))), "the rename was not seen");
    }
}
