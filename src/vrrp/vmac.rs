//! keepalived's `use_vmac`: a macvlan interface in private mode on the instance's interface,
//! with the VRRP virtual MAC (00:00:5e:00:01:VRID, RFC 9568 §7.3), holding the instance's
//! addresses so that a takeover moves no ARP entry — routers see the same MAC whoever is
//! master. As keepalived does (vrrp/vrrp_vmac.c, vrrp_if_config.c): the macvlan answers ARP
//! only for its own addresses (arp_ignore 1), accepts adverts from the local addresses
//! (accept_local 1, rp_filter 0), and the base interface stops answering ARP for them
//! (arp_ignore 1, arp_filter 1, put back when the macvlan goes). haldir also sets the base
//! interface's arp_announce to 2, which keepalived does not: a reply from a VIP leaves by the
//! base interface (the macvlan has no route of its own), and the ARP request for its next hop
//! would otherwise name the VIP with the base interface's MAC — teaching the neighbour the
//! very MAC the VMAC exists to hide.
//!
//! The base interface's own values are kept in `state_dir/vmac-bases.json` while haldir's
//! stand, as the real-server role keeps its own: a daemon restarted after `kill -9` finds
//! haldir's values on the interface and would otherwise take them for the originals and "put
//! back" its own at the stop (keepalived, which keeps them in memory only, does). The restart
//! puts back at once those of an interface on which no VMAC stands any more.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tracing::{info, warn};

use super::link;
use crate::netlink::rtnl::Rtnl;

/// The IPv4 VRRP virtual MAC of `vrid`.
pub fn mac(vrid: u8) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, 0x01, vrid]
}

/// A VMAC this instance holds, on its base interface.
#[derive(Debug)]
pub struct Vmac {
    name: String,
    base: String,
}

/// What the base interface is set to while its VMAC exists.
const BASE_SETTINGS: [(&str, &str); 3] = [
    ("arp_ignore", "1"),
    ("arp_filter", "1"),
    ("arp_announce", "2"),
];

fn sysctl_path(interface: &str, key: &str) -> String {
    format!("/proc/sys/net/ipv4/conf/{interface}/{key}")
}

fn read_sysctl(interface: &str, key: &str) -> io::Result<String> {
    Ok(std::fs::read_to_string(sysctl_path(interface, key))?
        .trim()
        .to_string())
}

fn write_sysctl(interface: &str, key: &str, value: &str) -> io::Result<()> {
    std::fs::write(sysctl_path(interface, key), value)
        .map_err(|e| io::Error::new(e.kind(), format!("{interface} {key}: {e}")))
}

impl Vmac {
    /// Makes (or, after a restart, takes back) the macvlan `name` on `base`. On an error,
    /// a macvlan made here is removed again and the base interface left as it was.
    pub fn open(rtnl: &mut Rtnl, name: &str, base: &str, vrid: u8) -> io::Result<Vmac> {
        let want = mac(vrid);
        let base_index = link::index(base)?;
        let mut found = link::index(name).ok();
        if let Some(index) = found
            && link::mac(name)? == want
            && rtnl.link_parent(index)? != Some(base_index)
        {
            // Left by an earlier run whose instance stood on another interface (a crash, then
            // an edited file): kept, its addresses would go to the wrong segment. keepalived
            // deletes such a macvlan and makes it anew (vrrp/vrrp.c, "already exists but is
            // incompatible").
            info!(vmac = %name, base = %base, "virtual MAC interface on another interface: made anew");
            rtnl.delete_link(index)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot remove {name}: {e}")))?;
            found = None;
        }
        let made = match found {
            Some(_) if link::mac(name)? == want => {
                info!(vmac = %name, "virtual MAC interface already there: kept");
                false
            }
            Some(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{name} exists and does not have the virtual MAC of VRID {vrid}"),
                ));
            }
            None => {
                rtnl.add_macvlan(name, base_index, want)
                    .map_err(|e| io::Error::new(e.kind(), format!("cannot make {name}: {e}")))?;
                info!(vmac = %name, base = %base, "virtual MAC interface made");
                true
            }
        };
        let set = [
            ("arp_ignore", "1"),
            ("accept_local", "1"),
            ("rp_filter", "0"),
            ("promote_secondaries", "1"),
        ]
        .into_iter()
        .try_for_each(|(key, value)| write_sysctl(name, key, value))
        .and_then(|()| hold_base(base));
        if let Err(e) = set {
            if made {
                remove(rtnl, name);
            }
            return Err(e);
        }
        Ok(Vmac {
            name: name.to_string(),
            base: base.to_string(),
        })
    }

    /// Puts the base interface's ARP settings back if no other VMAC stands on it, then
    /// removes the macvlan (last, so that its going means all is done).
    pub fn close(self, rtnl: &mut Rtnl) {
        release_base(&self.base);
        remove(rtnl, &self.name);
    }
}

fn remove(rtnl: &mut Rtnl, name: &str) {
    if let Ok(index) = link::index(name)
        && let Err(e) = rtnl.delete_link(index)
    {
        warn!(vmac = %name, error = %e, "cannot remove the virtual MAC interface");
    }
}

/// A base interface with VMACs on it: its ARP settings from before the first, and how many
/// VMACs stand on it now.
struct Base {
    users: usize,
    saved: Vec<(&'static str, String)>,
}

/// The base interfaces of every VMAC of this process. Their settings are set at the first VMAC
/// and put back at the last, as keepalived counts them (vrrp/vrrp_if_config.c,
/// `base_ifp->reset_arp_config`): two instances with a VMAC on one interface must not put
/// back, one on the other's behalf, what the other still needs (or save what the first set
/// as if it were the interface's own).
static BASES: Mutex<BTreeMap<String, Base>> = Mutex::new(BTreeMap::new());

fn bases() -> MutexGuard<'static, BTreeMap<String, Base>> {
    BASES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where the base interfaces' own values are kept; none in unit tests.
static RECORD: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Each base interface with haldir's settings on it, and its own values of them.
type Originals = BTreeMap<String, BTreeMap<String, String>>;

/// Keeps the base interfaces' own values in `state_dir` from now on.
pub fn remember_in(state_dir: &Path) {
    let mut record = RECORD.lock().unwrap_or_else(|p| p.into_inner());
    *record = Some(state_dir.join("vmac-bases.json"));
}

fn record_path() -> Option<PathBuf> {
    RECORD.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The record, empty when there is none; a damaged one is reported and read as empty (the
/// interfaces' values as found are then the originals, as without a record).
fn load_originals(path: &Path) -> Originals {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            warn!(path = %path.display(), error = %e, "the record of the VMAC base interfaces' settings is damaged: ignored");
            Originals::new()
        }),
        Err(_) => Originals::new(),
    }
}

/// Writes the record atomically, or removes it when empty.
fn save_originals(path: &Path, originals: &Originals) {
    let write = || -> io::Result<()> {
        if originals.is_empty() {
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
            serde_json::to_vec_pretty(originals).map_err(io::Error::other)?,
        )?;
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        warn!(path = %path.display(), error = %e, "cannot keep the VMAC base interfaces' settings");
    }
}

/// Changes the record's entry of `base` (None removes it).
fn record(base: &str, saved: Option<&[(&'static str, String)]>) {
    let Some(path) = record_path() else {
        return;
    };
    let mut originals = load_originals(&path);
    match saved {
        Some(saved) => {
            let values = saved.iter().map(|(k, v)| (k.to_string(), v.clone()));
            originals.insert(base.to_string(), values.collect());
        }
        None => {
            originals.remove(base);
        }
    }
    save_originals(&path, &originals);
}

/// The own values of `base` that an earlier run recorded, if it left them.
fn recorded(base: &str) -> BTreeMap<String, String> {
    record_path()
        .map(|path| load_originals(&path).remove(base).unwrap_or_default())
        .unwrap_or_default()
}

fn hold_base(base: &str) -> io::Result<()> {
    let mut bases = bases();
    if let Some(b) = bases.get_mut(base) {
        b.users += 1;
        return Ok(());
    }
    let earlier = recorded(base);
    let mut saved = Vec::new();
    for (key, value) in BASE_SETTINGS {
        let own = match earlier.get(key) {
            Some(v) => Ok(v.clone()),
            None => read_sysctl(base, key),
        };
        let set = own.and_then(|was| {
            write_sysctl(base, key, value)?;
            Ok(was)
        });
        match set {
            Ok(was) => saved.push((key, was)),
            Err(e) => {
                put_back(base, saved);
                return Err(e);
            }
        }
    }
    record(base, Some(&saved));
    bases.insert(base.to_string(), Base { users: 1, saved });
    Ok(())
}

fn release_base(base: &str) {
    let mut bases = bases();
    let Some(b) = bases.get_mut(base) else {
        return;
    };
    b.users -= 1;
    if b.users == 0
        && let Some(b) = bases.remove(base)
    {
        put_back(base, b.saved);
        record(base, None);
    }
}

/// Puts back the own values an earlier run recorded for interfaces on which no VMAC of this
/// run stands (it died with VMACs the configuration no longer has). Called once the
/// instances of the start are up.
pub fn put_back_left() {
    let Some(path) = record_path() else {
        return;
    };
    let held = bases();
    let mut originals = load_originals(&path);
    let left: Vec<String> = originals
        .keys()
        .filter(|base| !held.contains_key(*base))
        .cloned()
        .collect();
    for base in left {
        if let Some(values) = originals.remove(&base) {
            info!(interface = %base, "ARP settings of an earlier run's VMAC put back");
            for (key, value) in values {
                if let Err(e) = write_sysctl(&base, &key, &value) {
                    warn!(error = %e, "cannot put back the base interface's ARP setting");
                }
            }
        }
    }
    save_originals(&path, &originals);
}

fn put_back(base: &str, saved: Vec<(&'static str, String)>) {
    for (key, value) in saved {
        if let Err(e) = write_sysctl(base, key, &value) {
            warn!(error = %e, "cannot put back the base interface's ARP setting");
        }
    }
}
