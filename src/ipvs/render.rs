//! The IPVS table as text, in the layout of `ipvsadm -Ln` (and `--stats`), so operators read
//! it the way they always have.

use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};

use super::client::TableEntry;
use super::types::*;

fn addr_port(addr: IpAddr, port: u16) -> String {
    SocketAddr::new(addr, port).to_string()
}

pub(crate) fn service_name(id: &ServiceId) -> String {
    match id {
        ServiceId::Addr {
            protocol,
            addr,
            port,
        } => format!(
            "{:<4} {}",
            protocol_name(*protocol),
            addr_port(*addr, *port)
        ),
        ServiceId::Fwmark { af, mark } if *af == AF_INET6 => format!("FWM  {mark} IPv6"),
        ServiceId::Fwmark { mark, .. } => format!("FWM  {mark}"),
    }
}

fn sched_flags(s: &Service) -> Vec<&'static str> {
    let prefix = match s.scheduler.as_str() {
        "sh" => ["sh-fallback", "sh-port"],
        "mh" => ["mh-fallback", "mh-port"],
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    if s.flags & flags::SCHED_FALLBACK != 0 {
        out.push(prefix[0]);
    }
    if s.flags & flags::SCHED_PORT != 0 {
        out.push(prefix[1]);
    }
    out
}

fn addr_key(a: &IpAddr) -> (u8, u128) {
    match a {
        IpAddr::V4(v) => (4, u128::from(u32::from(*v))),
        IpAddr::V6(v) => (6, u128::from(*v)),
    }
}

/// The order ipvsadm lists in: address services before fwmark ones, then by family,
/// protocol, address and port; destinations by address and port.
pub(crate) fn sort_like_ipvsadm(entries: &mut [TableEntry]) {
    entries.sort_by_key(|e| match e.service.service.id {
        ServiceId::Addr {
            protocol,
            addr,
            port,
        } => (0, af_of(&addr), protocol, addr_key(&addr), port),
        ServiceId::Fwmark { af, mark } => (mark, af, 0, (0, 0), 0),
    });
    for e in entries.iter_mut() {
        e.dests
            .sort_by_key(|d| (addr_key(&d.dest.addr), d.dest.port));
    }
}

/// `ipvsadm -Ln`: one line a service with its scheduler and options, one a destination.
pub(crate) fn table(version: u32, conn_tab_size: u32, entries: &[TableEntry]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "IP Virtual Server version {}.{}.{} (size={conn_tab_size})",
        (version >> 16) & 0xff,
        (version >> 8) & 0xff,
        version & 0xff
    );
    out.push_str("Prot LocalAddress:Port Scheduler Flags\n");
    out.push_str("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
    for e in entries {
        let s = &e.service.service;
        let _ = write!(out, "{} {}", service_name(&s.id), s.scheduler);
        let f = sched_flags(s);
        if !f.is_empty() {
            let _ = write!(out, " ({})", f.join(","));
        }
        if s.flags & flags::PERSISTENT != 0 {
            let _ = write!(out, " persistent {}", s.timeout);
            let af = s.id.af();
            if s.netmask != Service::default_netmask(af) {
                if af == AF_INET {
                    let m = s.netmask.to_ne_bytes();
                    let _ = write!(out, " mask {}.{}.{}.{}", m[0], m[1], m[2], m[3]);
                } else {
                    let _ = write!(out, " mask {}", s.netmask);
                }
            }
        }
        if s.flags & flags::ONEPACKET != 0 {
            out.push_str(" ops");
        }
        out.push('\n');
        for d in &e.dests {
            let _ = writeln!(
                out,
                "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
                addr_port(d.dest.addr, d.dest.port),
                d.dest.fwd.ipvsadm_name(),
                d.dest.weight,
                d.active_conns,
                d.inactive_conns
            );
        }
    }
    out
}

/// `ipvsadm -Ln --stats`: connections, packets and bytes per service and destination.
pub(crate) fn stats(entries: &[TableEntry]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
    );
    out.push_str("  -> RemoteAddress:Port\n");
    let line = |out: &mut String, name: String, st: &Stats| {
        let _ = writeln!(
            out,
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}",
            name, st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes
        );
    };
    for e in entries {
        line(
            &mut out,
            service_name(&e.service.service.id),
            &e.service.stats,
        );
        for d in &e.dests {
            line(
                &mut out,
                format!("  -> {}", addr_port(d.dest.addr, d.dest.port)),
                &d.stats,
            );
        }
    }
    out
}
