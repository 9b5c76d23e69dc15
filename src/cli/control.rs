//! The commands that talk to the running daemon over its control socket: `status`, `reload`,
//! `drain` and `undrain`.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::control::{self, Counters, Reply, Request, Status, VrrpStatus, VsStatus};

/// The socket to use: the one given, else the one the file's `[global]` names (read as
/// plain TOML: validating a large file would cost the daemon's reload time twice over, and a
/// file that does not validate — the very case `haldir reload` must report — still names
/// it), else the validated configuration's (includes, defaults), else the default.
pub(super) fn socket_path(given: Option<PathBuf>, config: &Path) -> PathBuf {
    if let Some(p) = given {
        return p;
    }
    let global = std::fs::File::open(config)
        .ok()
        .map(|f| {
            use std::io::BufRead;
            global_section(std::io::BufReader::new(f).lines().map_while(Result::ok))
        })
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|t| t.get("global").and_then(|g| g.as_table()).cloned());
    let get = |k: &str| {
        global
            .as_ref()
            .and_then(|g| g.get(k))
            .and_then(|v| v.as_str())
            .map(PathBuf::from)
    };
    get("control_socket")
        .or_else(|| get("state_dir").map(|d| d.join("control.sock")))
        .or_else(|| {
            crate::config::load(config)
                .ok()
                .map(|l| l.config.global.control_socket)
        })
        .unwrap_or_else(|| PathBuf::from("/run/haldir/control.sock"))
}

/// The `[global]` table's lines alone, as their own document: the rest of a large file need
/// not be read, let alone parsed, to find a socket. Lines are read until the table ends (in a
/// 10,000-server file with `[global]` on top, reading all 800 kB cost a reload in the lab VM
/// more than the daemon's work). A file that sets them another way falls through to the
/// full read.
fn global_section(lines: impl Iterator<Item = String>) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in lines {
        let t = line.trim();
        if t.starts_with('[') {
            if inside {
                break;
            }
            inside = t == "[global]";
        }
        if inside {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn call(socket: &Path, req: &Request) -> Result<Reply, ExitCode> {
    match control::call(socket, req) {
        Ok(Reply::Error { message }) => {
            eprintln!("haldir: {message}");
            Err(ExitCode::FAILURE)
        }
        Ok(r) => Ok(r),
        Err(e) => {
            eprintln!("haldir: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

fn unexpected(r: &Reply) -> ExitCode {
    eprintln!("haldir: unexpected reply from the daemon: {r:?}");
    ExitCode::FAILURE
}

pub(super) fn status(socket: &Path, json: bool) -> ExitCode {
    let reply = match call(socket, &Request::Status) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let Reply::Status(s) = reply else {
        return unexpected(&reply);
    };
    if json {
        match serde_json::to_string_pretty(&s) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("haldir: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", render(&s));
    }
    ExitCode::SUCCESS
}

pub(super) fn reload(socket: &Path) -> ExitCode {
    let reply = match call(socket, &Request::Reload) {
        Ok(r) => r,
        Err(code) => return code,
    };
    match reply {
        Reply::Reloaded { changes } if changes.is_empty() => {
            println!("reloaded: no change");
            ExitCode::SUCCESS
        }
        Reply::Reloaded { changes } => {
            println!("reloaded: {} change(s)", changes.len());
            for c in changes {
                println!("  {c}");
            }
            ExitCode::SUCCESS
        }
        Reply::Refused { errors } => {
            eprintln!("{errors}");
            eprintln!("haldir: reload refused; the running configuration stays");
            ExitCode::FAILURE
        }
        other => unexpected(&other),
    }
}

/// `haldir drain VS RS`, `haldir drain --director` and their undrains.
pub(super) fn drain(config: &Path, a: super::ServerArgs, on: bool) -> ExitCode {
    let socket = socket_path(a.socket.socket, config);
    let req = match (a.director, a.virtual_server, a.real_server, on) {
        (true, _, _, drained) => Request::DrainDirector { drained },
        (false, Some(virtual_server), Some(real_server), true) => Request::Drain {
            virtual_server,
            real_server,
        },
        (false, Some(virtual_server), Some(real_server), false) => Request::Undrain {
            virtual_server,
            real_server,
        },
        _ => {
            eprintln!("haldir: give a virtual server and a real server, or --director");
            return ExitCode::from(2);
        }
    };
    match call(&socket, &req) {
        Ok(Reply::Done { message }) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Ok(other) => unexpected(&other),
        Err(code) => code,
    }
}

/// Bytes as people read them.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn traffic(c: &Counters) -> String {
    format!(
        "conns {}  in {}  out {}",
        c.conns,
        bytes(c.inbytes),
        bytes(c.outbytes)
    )
}

fn age(ms: u64) -> String {
    if ms < 10_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        humantime::format_duration(std::time::Duration::from_secs(ms / 1000)).to_string()
    }
}

/// The human form of `haldir status`.
pub(super) fn render(s: &Status) -> String {
    let mut o = String::new();
    let up = humantime::format_duration(std::time::Duration::from_secs(s.uptime_secs));
    let _ = writeln!(
        o,
        "haldir {} (pid {}) up {up}; config {}; reloads {} applied, {} refused",
        s.router_id,
        s.pid,
        s.config.display(),
        s.reloads_applied,
        s.reloads_refused
    );
    render_vrrp(&mut o, &s.vrrp);
    if !s.virtual_servers.is_empty() {
        let _ = writeln!(o, "\nVirtual servers");
    }
    for vs in &s.virtual_servers {
        render_service(&mut o, vs);
    }
    render_announced(&mut o, s);
    o
}

fn render_vrrp(o: &mut String, vrrp: &[VrrpStatus]) {
    if !vrrp.is_empty() {
        let _ = writeln!(o, "\nVRRP");
    }
    for v in vrrp {
        let master = v.master.map_or("-".to_string(), |m| m.to_string());
        let dropped: u64 = v.dropped.values().sum();
        let _ = writeln!(
            o,
            "  {:<12} {:<7} {:<8} priority {:<3}  master {:<15}  adverts sent {} received {} dropped {}",
            v.name,
            v.interface,
            v.state,
            v.priority,
            master,
            v.adverts_sent,
            v.adverts_received,
            dropped
        );
        for (reason, n) in &v.dropped {
            let _ = writeln!(o, "      dropped {reason}: {n}");
        }
    }
}

fn render_service(o: &mut String, vs: &VsStatus) {
    let state = match (vs.programmed, vs.quorum_lost) {
        (false, _) => "not programmed here",
        (true, true) => "QUORUM LOST",
        (true, false) => "programmed",
    };
    let _ = writeln!(
        o,
        "  {}  {} {}  {state}  {}",
        vs.name,
        vs.service,
        vs.scheduler,
        traffic(&vs.counters)
    );
    for rs in &vs.real_servers {
        let weight = rs
            .weight
            .map_or("not in IPVS".to_string(), |w| format!("weight {w}"));
        let drained = if rs.drained { " DRAINED" } else { "" };
        let check = rs.last_check.as_ref().map_or(String::new(), |c| {
            format!(
                "  last check {} {} ago ({} ms)",
                c.result,
                age(c.age_ms),
                c.took_ms
            )
        });
        let _ = writeln!(
            o,
            "    {:<22} {:<9}{drained} {weight}  active {} inactive {}  {}{check}",
            rs.address,
            rs.health,
            rs.active_conns,
            rs.inactive_conns,
            traffic(&rs.counters)
        );
    }
}

fn render_announced(o: &mut String, s: &Status) {
    if !s.announced.is_empty() {
        let _ = writeln!(o, "\nAnnounced (table {})", s.announced[0].table);
    }
    for a in &s.announced {
        let table = if a.in_table {
            "in the table"
        } else {
            "not in the table"
        };
        let why = a
            .withheld
            .as_ref()
            .map_or(String::new(), |w| format!("  withheld: {w}"));
        let wanted = if a.wanted { "wanted" } else { "not wanted" };
        let exported = match a.exported_to.as_deref() {
            None => String::new(),
            Some([]) => ", not exported by BIRD".to_string(),
            Some(to) => format!(", exported by BIRD to {}", to.join(" ")),
        };
        let _ = writeln!(o, "  {:<20} {wanted}, {table}{exported}{why}", a.prefix);
    }
    for r in &s.foreign_routes {
        let _ = writeln!(
            o,
            "  {r:<20} someone else's route in haldir's table: left alone"
        );
    }
    for r in &s.foreign_rules {
        let _ = writeln!(
            o,
            "  {r:<20} someone else's rule looks up haldir's table: left alone"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn the_global_table_is_found_anywhere_and_taken_alone() {
        let text = "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n  [global]  \nstate_dir = \"/run/x\"\n\n[ipvs]\na = 1\n# [global]\nb = \"[global] \"\n";
        let of = |t: &str| global_section(t.lines().map(String::from));
        assert_eq!(of(text), "  [global]  \nstate_dir = \"/run/x\"\n\n");
        assert_eq!(of("[global]"), "[global]\n");
        assert_eq!(of("a = 1\n"), "");
    }
}
