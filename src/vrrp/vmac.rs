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

use super::link::{self, Rtnl};
use crate::ipvs::wire::AttrWriter;

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINK: u16 = 5;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_MACVLAN_MODE: u16 = 1;
const MACVLAN_MODE_PRIVATE: u32 = 1;
const IFF_UP: u32 = 1;

/// The IPv4 VRRP virtual MAC of `vrid`.
pub fn mac(vrid: u8) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, 0x01, vrid]
}

/// `struct ifinfomsg`: family, pad, type, index, flags, change.
fn ifinfomsg(index: u32, flags: u32, change: u32) -> Vec<u8> {
    let mut out = vec![0u8; 4];
    out.extend_from_slice(&index.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&change.to_ne_bytes());
    out
}

/// RTM_NEWLINK creating the macvlan `name` on `base`, up, with `mac`.
pub fn new_link(name: &str, base: u32, mac: [u8; 6]) -> Vec<u8> {
    let mut out = ifinfomsg(0, IFF_UP, IFF_UP);
    let mut w = AttrWriter::new();
    w.string(IFLA_IFNAME, name)
        .u32(IFLA_LINK, base)
        .bytes(IFLA_ADDRESS, &mac)
        .begin_nest(IFLA_LINKINFO)
        .bytes(IFLA_INFO_KIND, b"macvlan")
        .begin_nest(IFLA_INFO_DATA)
        .u32(IFLA_MACVLAN_MODE, MACVLAN_MODE_PRIVATE)
        .end_nest()
        .end_nest();
    out.extend_from_slice(&w.finish());
    out
}

/// RTM_DELLINK of the interface `index`.
pub fn del_link(index: u32) -> Vec<u8> {
    ifinfomsg(index, 0, 0)
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
                rtnl.request(RTM_NEWLINK, true, &new_link(name, base_index, want))
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
            && let Err(e) = rtnl.request(RTM_DELLINK, false, &del_link(index))
        {
            warn!(vmac = %self.name, error = %e, "cannot remove the virtual MAC interface");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_macvlan_with_the_virtual_mac() {
        assert_eq!(mac(51), [0, 0, 0x5e, 0, 1, 51]);
        let b = new_link("vrrp.51", 7, mac(51));
        // ifinfomsg: flags and change IFF_UP.
        assert_eq!(&b[8..16], &[1, 0, 0, 0, 1, 0, 0, 0]);
        let attrs = &b[16..];
        // IFLA_IFNAME "vrrp.51\0" (len 12), then IFLA_LINK 7.
        assert_eq!(&attrs[..4], &[12, 0, 3, 0]);
        assert_eq!(&attrs[4..12], b"vrrp.51\0");
        assert_eq!(&attrs[12..20], &[8, 0, 5, 0, 7, 0, 0, 0]);
        // IFLA_ADDRESS: the MAC, padded to 12.
        assert_eq!(&attrs[20..30], &[10, 0, 1, 0, 0, 0, 0x5e, 0, 1, 51]);
        // IFLA_LINKINFO { KIND "macvlan", DATA { MODE private } }.
        let info = &attrs[32..];
        // Nests carry NLA_F_NESTED (0x8000).
        assert_eq!(
            u16::from_ne_bytes([info[2], info[3]]),
            IFLA_LINKINFO | 0x8000
        );
        assert_eq!(&info[4..8], &[11, 0, 1, 0]);
        assert_eq!(&info[8..15], b"macvlan");
        assert_eq!(&info[16..20], &[12, 0, IFLA_INFO_DATA as u8, 0x80]);
        assert_eq!(&info[20..28], &[8, 0, 1, 0, 1, 0, 0, 0]);
        assert_eq!(
            usize::from(u16::from_ne_bytes([info[0], info[1]])),
            info.len()
        );
    }
}
