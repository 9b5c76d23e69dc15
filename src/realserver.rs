//! The real-server role (`[realserver]`), for hosts that serve a DR or TUN VIP — Kubernetes
//! nodes with an external IP, or directors that are also real servers. DR: the VIPs on `lo`,
//! with `arp_ignore=1` and `arp_announce=2` so the host accepts the VIP's packets without
//! answering ARP for it. TUN: the VIPs on the tunnel device (tunl0, ip6tnl0 for IPv6) and
//! reverse-path filtering relaxed for it, ARP kept quiet as well. An active-active director's
//! announced VIPs are local routes on `lo` (see [`crate::config::Config::local_role`]), with the
//! DR settings. What haldir changed is
//! remembered in `state_dir/realserver.json` and undone on stop.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use crate::config::model::RealServerRole;
use crate::config::types::RealServerMode;
use crate::iface;
use crate::netlink::rtnl::{Rtnl, Want};

/// The sysctls a mode needs and the values it sets.
pub(crate) fn sysctls(role: &RealServerRole) -> Vec<(String, String)> {
    let mut out = vec![
        ("net/ipv4/conf/all/arp_ignore".to_string(), "1".to_string()),
        (
            "net/ipv4/conf/all/arp_announce".to_string(),
            "2".to_string(),
        ),
    ];
    if role.mode == RealServerMode::Tun {
        for dev in ["all", "default", "tunl0"] {
            out.push((format!("net/ipv4/conf/{dev}/rp_filter"), "0".to_string()));
        }
    }
    out
}

/// The device that carries the VIPs of a family in a mode.
pub(crate) fn device(mode: RealServerMode, net: &IpNet) -> &'static str {
    match (mode, net) {
        (RealServerMode::Dr, _) => "lo",
        (RealServerMode::Tun, IpNet::V4(_)) => "tunl0",
        (RealServerMode::Tun, IpNet::V6(_)) => "ip6tnl0",
    }
}

/// What was there before haldir changed it.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Undo {
    pub sysctls: BTreeMap<String, String>,
    pub addresses: Vec<(String, IpNet)>,
    /// Local routes, with their protocol.
    #[serde(default)]
    pub local_routes: Vec<(IpNet, u8)>,
}

fn record(state_dir: &Path) -> PathBuf {
    state_dir.join("realserver.json")
}

fn read_sysctl(key: &str) -> io::Result<String> {
    std::fs::read_to_string(Path::new("/proc/sys").join(key)).map(|s| s.trim().to_string())
}

fn write_sysctl(key: &str, value: &str) -> io::Result<()> {
    std::fs::write(Path::new("/proc/sys").join(key), value)
        .map_err(|e| io::Error::new(e.kind(), format!("{key}: {e}")))
}

/// Sets the role up: sysctls first (so the VIPs never answer ARP), then the addresses.
pub(crate) fn apply(role: &RealServerRole, state_dir: &Path) -> io::Result<()> {
    let mut undo: Undo = std::fs::read(record(state_dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if role.mode == RealServerMode::Tun {
        // The tunnel devices appear when their modules load.
        for module in ["ipip", "ip6_tunnel"] {
            let _ = std::process::Command::new("modprobe")
                .arg(module)
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
    for (key, value) in sysctls(role) {
        let Ok(before) = read_sysctl(&key) else {
            continue;
        };
        undo.sysctls.entry(key.clone()).or_insert(before);
        write_sysctl(&key, &value)?;
    }
    let mut addrs = Rtnl::open()?;
    for net in &role.vips {
        let dev = device(role.mode, net);
        let index = iface::index(dev)?;
        set_up(dev)?;
        addrs.add(index, &(*net).into())?;
        if !undo.addresses.contains(&(dev.to_string(), *net)) {
            undo.addresses.push((dev.to_string(), *net));
        }
    }
    for net in &role.local_routes {
        addrs.local_route(Want::Present, net, role.local_protocol)?;
        if !undo.local_routes.contains(&(*net, role.local_protocol)) {
            undo.local_routes.push((*net, role.local_protocol));
        }
    }
    std::fs::create_dir_all(state_dir)?;
    std::fs::write(
        record(state_dir),
        serde_json::to_vec_pretty(&undo).map_err(io::Error::other)?,
    )
}

/// Undoes what `apply` did: addresses removed, sysctls back to their earlier values.
pub(crate) fn remove(state_dir: &Path) -> io::Result<()> {
    let Ok(bytes) = std::fs::read(record(state_dir)) else {
        return Ok(());
    };
    let undo: Undo = serde_json::from_slice(&bytes).map_err(io::Error::other)?;
    let mut addrs = Rtnl::open()?;
    for (dev, net) in &undo.addresses {
        if let Ok(index) = iface::index(dev) {
            addrs.remove(index, &(*net).into())?;
        }
    }
    for (net, protocol) in &undo.local_routes {
        addrs.local_route(Want::Absent, net, *protocol)?;
    }
    for (key, value) in &undo.sysctls {
        write_sysctl(key, value)?;
    }
    std::fs::remove_file(record(state_dir))
}

/// Brings an interface up (the tunnel devices start down).
fn set_up(dev: &str) -> io::Result<()> {
    if iface::is_up(dev) || dev == "lo" {
        return Ok(());
    }
    let status = std::process::Command::new("ip")
        .args(["link", "set", dev, "up"])
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("cannot bring {dev} up")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_each_mode_needs() {
        let dr = RealServerRole {
            vips: vec!["10.0.0.100/32".parse().unwrap()],
            mode: RealServerMode::Dr,
            local_routes: Vec::new(),
            local_protocol: 0,
        };
        assert_eq!(sysctls(&dr).len(), 2);
        assert_eq!(device(dr.mode, &dr.vips[0]), "lo");
        let tun = RealServerRole {
            mode: RealServerMode::Tun,
            ..dr.clone()
        };
        assert!(
            sysctls(&tun).contains(&("net/ipv4/conf/tunl0/rp_filter".to_string(), "0".to_string()))
        );
        assert_eq!(
            device(RealServerMode::Tun, &"2001:db8::1/128".parse().unwrap()),
            "ip6tnl0"
        );
    }
}
