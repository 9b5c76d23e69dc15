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
//! The base interfaces' own values and the macvlans made are kept on disk while they stand
//! ([`super::vmac_record`]), as the real-server role keeps its own: a restart after `kill -9`
//! still puts back the true values at its stop, and takes away at its start what the dead
//! run left that the file no longer has.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::{Mutex, MutexGuard};

use tracing::{info, warn};

use super::vmac_record::{self as record, Record};
use crate::iface;
use crate::netlink::rtnl::Rtnl;

/// The IPv4 VRRP virtual MAC of `vrid`.
pub(crate) fn mac(vrid: u8) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, 0x01, vrid]
}

/// A VMAC this instance holds, on its base interface.
#[derive(Debug)]
pub(crate) struct Vmac {
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
    pub(crate) fn open(rtnl: &mut Rtnl, name: &str, base: &str, vrid: u8) -> io::Result<Vmac> {
        let want = mac(vrid);
        let base_index = iface::index(base)?;
        let mut found = iface::index(name).ok();
        if let Some(index) = found
            && iface::mac(name)? == want
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
            Some(_) if iface::mac(name)? == want => {
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
                // Recorded first: a kill -9 right after leaves nothing unrecorded.
                note_vmac(name, Some(base));
                if let Err(e) = rtnl.add_macvlan(name, base_index, want) {
                    note_vmac(name, None);
                    return Err(io::Error::new(e.kind(), format!("cannot make {name}: {e}")));
                }
                info!(vmac = %name, base = %base, "virtual MAC interface made");
                true
            }
        };
        if !made {
            note_vmac(name, Some(base));
        }
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
            note_vmac(name, None);
            return Err(e);
        }
        Ok(Vmac {
            name: name.to_string(),
            base: base.to_string(),
        })
    }

    /// Puts the base interface's ARP settings back if no other VMAC stands on it, then
    /// removes the macvlan (last, so that its going means all is done).
    pub(crate) fn close(self, rtnl: &mut Rtnl) {
        release_base(&self.base);
        note_vmac(&self.name, None);
        remove(rtnl, &self.name);
    }
}

fn remove(rtnl: &mut Rtnl, name: &str) {
    if let Ok(index) = iface::index(name)
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

/// The settings haldir sets on a base interface, by name.
fn setting_names() -> [&'static str; 3] {
    BASE_SETTINGS.map(|(k, _)| k)
}

/// The macvlans this process holds, and their record (None: let go).
static OPEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

fn note_vmac(name: &str, base: Option<&str>) {
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    match base {
        Some(_) => open.insert(name.to_string()),
        None => open.remove(name),
    };
    record::change(&setting_names(), |r| match base {
        Some(base) => {
            r.vmacs.insert(name.to_string(), base.to_string());
        }
        None => {
            r.vmacs.remove(name);
        }
    });
}

/// The interface's own value of `key`: what an earlier run recorded if the interface still
/// shows haldir's value (it died with it set), else what the interface shows.
fn own_value(base: &str, key: &str, ours: &str, earlier: &Record) -> io::Result<String> {
    let now = read_sysctl(base, key)?;
    let recorded = earlier.bases.get(base).and_then(|v| v.get(key));
    Ok(match recorded {
        Some(v) if now == ours => v.clone(),
        _ => now,
    })
}

fn hold_base(base: &str) -> io::Result<()> {
    let mut bases = bases();
    if let Some(b) = bases.get_mut(base) {
        b.users += 1;
        return Ok(());
    }
    let earlier = record::load(&setting_names());
    let mut saved = Vec::new();
    for (key, ours) in BASE_SETTINGS {
        saved.push((key, own_value(base, key, ours, &earlier)?));
    }
    // Recorded before they change: a kill -9 in between leaves them known.
    let values = saved.iter().map(|(k, v)| (k.to_string(), v.clone()));
    let values: BTreeMap<String, String> = values.collect();
    record::change(&setting_names(), |r| {
        r.bases.insert(base.to_string(), values);
    });
    for (key, value) in BASE_SETTINGS {
        if let Err(e) = write_sysctl(base, key, value) {
            put_back(base, saved);
            forget_base(base);
            return Err(e);
        }
    }
    bases.insert(base.to_string(), Base { users: 1, saved });
    Ok(())
}

fn forget_base(base: &str) {
    record::change(&setting_names(), |r| {
        r.bases.remove(base);
    });
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
        forget_base(base);
    }
}

/// Takes away what an earlier run's VMACs left that this run's do not hold (it died with
/// VMACs the file no longer has): its macvlans (with the addresses on them, which the base
/// interface would otherwise answer ARP for once its settings are back), then the base
/// interfaces' own settings, where haldir's still stand. Called once the instances of the
/// start are up.
pub(crate) fn take_back_left(rtnl: &mut Rtnl) {
    let held_bases = bases();
    let open = OPEN.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let earlier = record::load(&setting_names());
    for (name, base) in &earlier.vmacs {
        if !open.contains(name) && iface::mac(name).is_ok_and(|m| m[..5] == mac(0)[..5]) {
            info!(vmac = %name, base = %base, "virtual MAC interface of an earlier run removed");
            remove(rtnl, name);
        }
    }
    for (base, values) in &earlier.bases {
        if held_bases.contains_key(base) {
            continue;
        }
        info!(interface = %base, "ARP settings of an earlier run's VMAC put back");
        for (key, ours) in BASE_SETTINGS {
            let Some(own) = values.get(key) else {
                continue;
            };
            // Only where haldir's value still stands: another is someone's since.
            if read_sysctl(base, key).is_ok_and(|now| now == ours)
                && let Err(e) = write_sysctl(base, key, own)
            {
                warn!(error = %e, "cannot put back the base interface's ARP setting");
            }
        }
    }
    record::change(&setting_names(), |r| {
        r.vmacs.retain(|name, _| open.contains(name));
        r.bases.retain(|base, _| held_bases.contains_key(base));
    });
}

fn put_back(base: &str, saved: Vec<(&'static str, String)>) {
    for (key, value) in saved {
        if let Err(e) = write_sysctl(base, key, &value) {
            warn!(error = %e, "cannot put back the base interface's ARP setting");
        }
    }
}
