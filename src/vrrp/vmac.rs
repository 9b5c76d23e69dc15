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

use std::io;

use tracing::{info, warn};

use super::link;
use crate::netlink::rtnl::Rtnl;

/// The IPv4 VRRP virtual MAC of `vrid`.
pub fn mac(vrid: u8) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, 0x01, vrid]
}

/// A VMAC this instance holds, and what it changed on the base interface.
#[derive(Debug)]
pub struct Vmac {
    name: String,
    base: String,
    /// The base interface's ARP settings before, to put back.
    saved: Vec<(&'static str, String)>,
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
    /// Makes (or, after a restart, takes back) the macvlan `name` on `base`.
    pub fn open(rtnl: &mut Rtnl, name: &str, base: &str, vrid: u8) -> io::Result<Vmac> {
        let want = mac(vrid);
        match link::index(name) {
            Ok(_) if link::mac(name)? == want => {
                info!(vmac = %name, "virtual MAC interface already there: kept");
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{name} exists and does not have the virtual MAC of VRID {vrid}"),
                ));
            }
            Err(_) => {
                let base_index = link::index(base)?;
                rtnl.add_macvlan(name, base_index, want)
                    .map_err(|e| io::Error::new(e.kind(), format!("cannot make {name}: {e}")))?;
                info!(vmac = %name, base = %base, "virtual MAC interface made");
            }
        }
        for (key, value) in [
            ("arp_ignore", "1"),
            ("accept_local", "1"),
            ("rp_filter", "0"),
            ("promote_secondaries", "1"),
        ] {
            write_sysctl(name, key, value)?;
        }
        let mut saved = Vec::new();
        for (key, value) in BASE_SETTINGS {
            saved.push((key, read_sysctl(base, key)?));
            write_sysctl(base, key, value)?;
        }
        Ok(Vmac {
            name: name.to_string(),
            base: base.to_string(),
            saved,
        })
    }

    /// Puts the base interface's ARP settings back, then removes the macvlan (last, so that
    /// its going means all is done).
    pub fn close(mut self, rtnl: &mut Rtnl) {
        for (key, value) in std::mem::take(&mut self.saved) {
            if let Err(e) = write_sysctl(&self.base, key, &value) {
                warn!(error = %e, "cannot put back the base interface's ARP setting");
            }
        }
        if let Ok(index) = link::index(&self.name)
            && let Err(e) = rtnl.delete_link(index)
        {
            warn!(vmac = %self.name, error = %e, "cannot remove the virtual MAC interface");
        }
    }
}
