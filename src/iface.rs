//! The host's interfaces as VRRP, the checks and the real-server role see them: an
//! interface's index, MAC and primary address, whether it is up, whether an address is local,
//! and what a master holds added and removed over rtnetlink: the virtual addresses (IPv6 ones
//! without duplicate address detection, which would hold a moved address back for a second or
//! more), routes and rules.

use std::io;
use std::net::IpAddr;

use crate::netlink::rtnl::LinkEvents;

/// The kernel's index of an interface.
pub(crate) fn index(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name)
        .map_err(|_| io::Error::other("interface name has a NUL byte"))?;
    // SAFETY: c is a valid NUL-terminated string.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no interface {name}"),
        )),
        i => Ok(i),
    }
}

/// An ioctl on an interface by name, through a socket of the calling thread's network
/// namespace (sysfs would show the namespace /sys was mounted in, which `net_namespace`
/// leaves behind).
fn ifreq_ioctl(name: &str, request: libc::c_ulong) -> io::Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::other(format!(
            "{name:?} is not an interface name"
        )));
    }
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
    // SAFETY: the request reads ifr_name and writes the union; ifr lives across the call.
    if unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&sock), request, &mut ifr) } != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{name}: {e}")));
    }
    Ok(ifr)
}

pub(crate) fn mac(name: &str) -> io::Result<[u8; 6]> {
    let ifr = ifreq_ioctl(name, libc::SIOCGIFHWADDR)?;
    // SAFETY: SIOCGIFHWADDR filled the hardware-address member of the union.
    let hw = unsafe { ifr.ifr_ifru.ifru_hwaddr };
    if hw.sa_family != libc::ARPHRD_ETHER {
        return Err(io::Error::other(format!("{name} has no Ethernet address")));
    }
    let mut out = [0u8; 6];
    for (o, b) in out.iter_mut().zip(hw.sa_data.iter()) {
        *o = *b as u8;
    }
    Ok(out)
}

/// Whether the interface is up and has a carrier (the kernel's IFF_RUNNING: operational
/// state up, or unknown for interfaces that do not report one).
pub(crate) fn is_up(name: &str) -> bool {
    ifreq_ioctl(name, libc::SIOCGIFFLAGS).is_ok_and(|ifr| {
        // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
        let flags = i32::from(unsafe { ifr.ifr_ifru.ifru_flags });
        flags & libc::IFF_UP != 0 && flags & libc::IFF_RUNNING != 0
    })
}

/// The interface's addresses of one family, in the kernel's order.
pub(crate) fn addresses(name: &str, v6: bool) -> io::Result<Vec<IpAddr>> {
    let mut found = Vec::new();
    each_address(v6, |ifname, addr| {
        if ifname.to_bytes() == name.as_bytes() {
            found.push(addr);
        }
    })?;
    Ok(found)
}

/// Whether any interface of the host has the address (whatever `ip_nonlocal_bind` would let
/// a bind pretend).
pub(crate) fn is_local(addr: IpAddr) -> io::Result<bool> {
    let mut found = false;
    each_address(addr.is_ipv6(), |_, a| found |= a == addr)?;
    Ok(found)
}

/// Calls `f` with each interface's name and each of its addresses of one family.
fn each_address(v6: bool, mut f: impl FnMut(&std::ffi::CStr, IpAddr)) -> io::Result<()> {
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills ifap with a list we free below.
    if unsafe { libc::getifaddrs(&mut ifap) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut cur = ifap;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let ifname = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) };
        // SAFETY: ifa_addr is non-null; the family says which sockaddr it is.
        let addr = unsafe {
            match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET if !v6 => {
                    let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    Some(IpAddr::from(
                        u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                    ))
                }
                libc::AF_INET6 if v6 => {
                    let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    Some(IpAddr::from(sin6.sin6_addr.s6_addr))
                }
                _ => None,
            }
        };
        if let Some(a) = addr {
            f(ifname, a);
        }
    }
    // SAFETY: ifap came from getifaddrs.
    unsafe { libc::freeifaddrs(ifap) };
    Ok(())
}

/// The interface's first address of the family that is not one of `skip` (the VIPs): what
/// adverts are sent from. IPv6 wants the link-local one.
pub(crate) fn primary(name: &str, v6: bool, skip: &[IpAddr]) -> io::Result<IpAddr> {
    addresses(name, v6)?
        .into_iter()
        .filter(|a| !skip.contains(a))
        .find(|a| !v6 || matches!(a, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{name} has no {} address",
                    if v6 { "link-local IPv6" } else { "IPv4" }
                ),
            )
        })
}

/// Watches the named interfaces and sends (name, up) on every change of their state.
pub(crate) fn watch(
    names: std::collections::HashSet<String>,
    tx: tokio::sync::mpsc::UnboundedSender<(String, bool)>,
) -> io::Result<tokio::task::JoinHandle<()>> {
    let mut events = LinkEvents::open()?;
    Ok(tokio::spawn(async move {
        let mut by_index: std::collections::HashMap<u32, String> = names
            .iter()
            .filter_map(|n| index(n).ok().map(|i| (i, n.clone())))
            .collect();
        while let Ok(changes) = events.next().await {
            for (ifindex, up) in changes {
                // An interface made after the start: look its name up.
                if let std::collections::hash_map::Entry::Vacant(slot) = by_index.entry(ifindex)
                    && let Some(n) = names.iter().find(|n| index(n).ok() == Some(ifindex))
                {
                    slot.insert(n.clone());
                }
                if let Some(name) = by_index.get(&ifindex)
                    && tx.send((name.clone(), up)).is_err()
                {
                    return;
                }
            }
        }
    }))
}
