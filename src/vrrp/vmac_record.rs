//! What haldir's VMACs changed on the host, kept in `state_dir/vmac-bases.json` while it
//! stands: each base interface's own values of the ARP settings haldir set on it, and each
//! macvlan haldir made. A daemon restarted after `kill -9` finds haldir's values on the
//! interfaces, and would otherwise take them for the originals and "put back" its own at the
//! stop (keepalived, which keeps them in memory only, does); and it takes away what the dead
//! run left that its file no longer has.
//!
//! The file is read as untrusted input: only interface names and the settings haldir sets
//! are taken from it, and a recorded value only where the interface still shows haldir's
//! (after a reboot, or an operator's change, what the interface shows now is its own).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tracing::warn;

/// The record's content.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// Base interface → setting → its own value.
    #[serde(default)]
    pub bases: BTreeMap<String, BTreeMap<String, String>>,
    /// Macvlan made by haldir → its base interface.
    #[serde(default)]
    pub vmacs: BTreeMap<String, String>,
}

/// Where the record is kept; none in unit tests.
static PATH: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Keeps the record in `state_dir` from now on.
pub(crate) fn keep_in(state_dir: &Path) {
    *PATH.lock().unwrap_or_else(|p| p.into_inner()) = Some(state_dir.join("vmac-bases.json"));
}

fn path() -> Option<PathBuf> {
    PATH.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// An interface's name as the kernel allows it (and safe in a /proc/sys path).
fn interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name.contains(['/', '\0'])
        && !name.chars().any(char::is_whitespace)
}

/// The record from the file's bytes, keeping only what haldir could have written: interface
/// names, the `settings` it sets, and whole numbers as their values.
pub(crate) fn parse(bytes: &[u8], settings: &[&str]) -> Result<Record, serde_json::Error> {
    let mut r: Record = serde_json::from_slice(bytes)?;
    r.bases.retain(|base, values| {
        values.retain(|k, v| settings.contains(&k.as_str()) && v.parse::<i64>().is_ok());
        interface_name(base)
    });
    r.vmacs
        .retain(|name, base| interface_name(name) && interface_name(base));
    Ok(r)
}

/// The record, empty when there is none; a damaged one is reported and read as empty.
pub(crate) fn load(settings: &[&str]) -> Record {
    let Some(path) = path() else {
        return Record::default();
    };
    match std::fs::read(&path) {
        Ok(bytes) => parse(&bytes, settings).unwrap_or_else(|e| {
            warn!(path = %path.display(), error = %e, "the record of haldir's VMACs is damaged: ignored");
            Record::default()
        }),
        Err(_) => Record::default(),
    }
}

/// Changes the record and writes it back atomically (removed when empty). One change at a
/// time: instances start on the daemon's thread and stop on VRRP's.
pub(crate) fn change(settings: &[&str], f: impl FnOnce(&mut Record)) {
    static CHANGING: Mutex<()> = Mutex::new(());
    let _one = CHANGING.lock().unwrap_or_else(|p| p.into_inner());
    let Some(path) = path() else {
        return;
    };
    let mut record = load(settings);
    f(&mut record);
    if let Err(e) = save(&path, &record) {
        warn!(path = %path.display(), error = %e, "cannot keep the record of haldir's VMACs");
    }
}

fn save(path: &Path, record: &Record) -> io::Result<()> {
    if record.bases.is_empty() && record.vmacs.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(record).map_err(io::Error::other)?,
    )?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: [&str; 3] = ["arp_ignore", "arp_filter", "arp_announce"];

    /// Only names, settings and values haldir writes are read: a path in a name or a key
    /// would make the restart write some other sysctl.
    #[test]
    fn the_record_is_read_as_untrusted_input() {
        let text = br#"{
            "bases": {
                "eth0": {"arp_ignore": "0", "arp_filter": "0", "core_pattern": "|/bin/x",
                         "arp_announce": "1; rm"},
                "../../../kernel": {"arp_ignore": "0"},
                "lo": {}
            },
            "vmacs": {"vrrp.51": "eth0", "a/b": "eth0", "vrrp.52": ".."}
        }"#;
        let r = parse(text, &SETTINGS).unwrap();
        assert_eq!(r.bases.keys().collect::<Vec<_>>(), ["eth0", "lo"]);
        assert_eq!(
            r.bases["eth0"],
            BTreeMap::from([
                ("arp_filter".to_string(), "0".to_string()),
                ("arp_ignore".to_string(), "0".to_string()),
            ])
        );
        assert_eq!(r.vmacs, BTreeMap::from([("vrrp.51".into(), "eth0".into())]));
        assert!(parse(b"{not json", &SETTINGS).is_err());
        assert_eq!(parse(b"{}", &SETTINGS).unwrap(), Record::default());
    }

    #[test]
    fn the_record_round_trips_and_goes_when_empty() {
        let dir = std::env::temp_dir().join(format!("haldir-vmac-record-{}", std::process::id()));
        let path = dir.join("vmac-bases.json");
        let mut r = Record::default();
        r.bases.insert(
            "eth0".into(),
            BTreeMap::from([("arp_ignore".into(), "0".into())]),
        );
        r.vmacs.insert("vrrp.51".into(), "eth0".into());
        save(&path, &r).unwrap();
        assert_eq!(parse(&std::fs::read(&path).unwrap(), &SETTINGS).unwrap(), r);
        save(&path, &Record::default()).unwrap();
        assert!(!path.exists(), "an empty record is no file");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
