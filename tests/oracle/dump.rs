//! keepalived's own account of what it parsed: the configuration dump that `keepalived -d`
//! writes once its VRRP or checker process has read the file (vrrp/vrrp_data.c dump_data_vrrp,
//! check/check_data.c dump_data_check, 2.2.7), read into facts comparable with haldir's
//! (see facts.rs). Only what both can express is read.

use std::collections::BTreeMap;

/// "scope|field" → value, scope being `vrrp NAME`, `vs KEY` or `rs KEY RS`.
pub type Facts = BTreeMap<String, String>;

/// The fact that says keepalived-dump.sh gave up waiting for the dump.
pub const TIMED_OUT: &str = "harness|timed out";

/// The fact that says keepalived ended without dumping what it read (it refused the file, or
/// failed on it): nothing of that process is compared.
pub const NO_DUMP: &str = "harness|no dump";

fn harness(log: &str, f: &mut Facts) {
    if log.lines().any(|l| l == "KEEPALIVED-DUMP-TIMEOUT") {
        f.insert(TIMED_OUT.into(), "yes".into());
    } else if !log.lines().any(|l| strip_prefix(l).starts_with("------< ")) {
        f.insert(NO_DUMP.into(), "yes".into());
    }
}

/// One dump line: its depth (leading spaces) and text.
struct Line<'a> {
    depth: usize,
    text: &'a str,
}

/// The dump's lines, the log's prefix (a date, or `Keepalived_vrrp[pid]: `) taken off. Every
/// line of a dump is indented but its section headers; the other lines (the main process's
/// "Startup complete", which can fall between two lines of a list) are left out.
fn lines(log: &str) -> Vec<Line<'_>> {
    log.lines()
        .map(|l| {
            let l = strip_prefix(l);
            let trimmed = l.trim_start_matches(' ');
            Line {
                depth: l.len() - trimmed.len(),
                text: trimmed.trim_end(),
            }
        })
        .filter(|l| l.depth > 0 || l.text.starts_with("------<"))
        .collect()
}

fn strip_prefix(l: &str) -> &str {
    // "Mon Dec  7 13:23:10 2026: " or "Keepalived_healthcheckers[260]: "
    if let Some(i) = l.find("]: ")
        && l[..i].starts_with("Keepalived")
    {
        return &l[i + 3..];
    }
    if l.len() > 26
        && l.as_bytes().get(24) == Some(&b':')
        && l[20..24].bytes().all(|b| b.is_ascii_digit())
    {
        return &l[26..];
    }
    l
}

fn section<'a>(all: &'a [Line<'a>], name: &str) -> &'a [Line<'a>] {
    let head = format!("------< {name} >------");
    let Some(start) = all.iter().position(|l| l.depth == 0 && l.text == head) else {
        return &[];
    };
    let end = all[start + 1..]
        .iter()
        .position(|l| l.depth == 0 && l.text.starts_with("------<"))
        .map_or(all.len(), |e| start + 1 + e);
    &all[start + 1..end]
}

fn value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.strip_prefix(key)?.strip_prefix(" = ")
}

/// The items under the line at `i` (deeper lines until one as shallow).
fn items(body: &[Line], i: usize) -> Vec<String> {
    let d = body[i].depth;
    body[i + 1..]
        .iter()
        .take_while(|l| l.depth > d)
        .map(|l| l.text.to_string())
        .collect()
}

/// The VRRP process's dump.
pub fn vrrp(log: &str) -> Facts {
    let all = lines(log);
    let mut f = Facts::new();
    // "Disabling track script NAME since not found/accessible": the script's file is on the
    // director, not here (one the harness could not stand in for); tracking it is compared
    // without it.
    let disabled: Vec<&str> = log
        .lines()
        .filter_map(|l| strip_prefix(l).strip_prefix("Disabling track script "))
        .filter_map(|r| r.split_whitespace().next())
        .collect();
    if !disabled.is_empty() {
        f.insert("disabled scripts".into(), disabled.join(" "));
    }
    // "Script /usr/bin/sudo cannot be accessed": a program on the director that the harness
    // could not stand in for (it would have to write into a system directory).
    let missing: Vec<&str> = log
        .lines()
        .filter_map(|l| {
            let l = strip_prefix(l);
            l.strip_prefix("Script ")
                .and_then(|r| r.strip_suffix(" cannot be accessed - No such file or directory"))
                .or_else(|| {
                    // The lab VM's own directories, not the director's.
                    l.strip_prefix("Permissions failure for script ")
                        .and_then(|r| r.strip_suffix(" in path - disabling"))
                })
        })
        .collect();
    if !missing.is_empty() {
        f.insert("missing programs".into(), missing.join(" "));
    }
    harness(log, &mut f);
    let body = section(&all, "VRRP Topology");
    let mut name = String::new();
    let mut iface = String::new();
    for (i, l) in body.iter().enumerate() {
        if l.depth == 1 {
            if let Some(n) = value(l.text, "VRRP Instance") {
                name = format!("vrrp {n}");
                f.insert(format!("{name}|present"), "yes".into());
            }
            continue;
        }
        if name.is_empty() || l.depth != 3 {
            continue;
        }
        let mut put = |k: &str, v: String| {
            f.insert(format!("{name}|{k}"), v);
        };
        if let Some(v) = value(l.text, "VRRP Version") {
            put("version", v.into());
        } else if let Some(v) = value(l.text, "Interface") {
            iface = v.split(',').next().unwrap_or(v).to_string();
            put("interface", iface.clone());
        } else if let Some(v) = value(l.text, "Virtual Router ID") {
            put("virtual_router_id", v.into());
        } else if let Some(v) = value(l.text, "Priority") {
            put("priority", v.into());
        } else if let Some(v) = value(l.text, "Advert interval") {
            put("advert_int", advert_ms(v));
        } else if let Some(v) = value(l.text, "Preempt") {
            put("preempt", (v == "enabled").to_string());
        } else if let Some(v) = value(l.text, "Gratuitous ARP delay") {
            put("garp_delay", v.into());
        } else if let Some(v) = value(l.text, "Gratuitous ARP repeat") {
            put("garp_repeat", v.into());
        } else if l.text.starts_with("Virtual IP (") {
            put("virtual_ipaddress", vips(&items(body, i), &iface));
        } else if l.text.starts_with("Virtual IP Excluded") {
            put("virtual_ipaddress_excluded", vips(&items(body, i), &iface));
        } else if l.text.starts_with("Unicast Peer") {
            let mut peers: Vec<String> = items(body, i)
                .iter()
                .filter_map(|p| p.split_whitespace().next().map(str::to_string))
                .collect();
            peers.sort();
            put("unicast_peer", peers.join(" "));
        } else if l.text.starts_with("Tracked scripts") {
            let mut t = items(body, i);
            t.sort();
            put("track_script", t.join(", "));
        } else if l.text.starts_with("Tracked interfaces") {
            let mut t = items(body, i);
            t.sort();
            put("track_interface", t.join(", "));
        } else if let Some(v) = value(l.text, "Preempt delay") {
            put("preempt_delay", v.split(' ').next().unwrap_or(v).into());
        } else if let Some(v) = value(l.text, "Using src_ip") {
            // Only a configured source: keepalived otherwise shows the interface's address.
            if let Some(a) = v.strip_suffix(" (from configuration)") {
                put("source", a.into());
            }
        } else if l.text.starts_with("Virtual Routes") {
            put("virtual_routes", items(body, i).len().to_string());
        } else if l.text.starts_with("Virtual Rules") {
            put("virtual_rules", items(body, i).len().to_string());
        } else if let Some((state, cmd)) = notify(l.text) {
            put(&format!("notify_{state}"), cmd);
        }
    }
    sync_groups(&all, &mut f);
    f
}

/// "Master state transition script = '/bin/echo' 'a b', uid:gid 0:0" → ("master", "/bin/echo a b").
fn notify(text: &str) -> Option<(&'static str, String)> {
    let (state, rest) = text.split_once(" state transition script = ")?;
    let state = match state {
        "Master" => "master",
        "Backup" => "backup",
        "Fault" => "fault",
        "Stop" => "stop",
        "Generic" => "any",
        _ => return None,
    };
    let argv = rest.rsplit_once(", uid:gid").map_or(rest, |x| x.0);
    Some((
        state,
        argv.split('\'')
            .skip(1)
            .step_by(2)
            .collect::<Vec<_>>()
            .join(" "),
    ))
}

/// Each sync group's members: `vrrp NAME|sync_group` = the group.
fn sync_groups(all: &[Line], f: &mut Facts) {
    let body = section(all, "VRRP Sync groups");
    let mut group = "";
    for (i, l) in body.iter().enumerate() {
        if let Some(g) = value(l.text, "VRRP Sync Group") {
            group = g.split(',').next().unwrap_or(g);
        } else if l.text.starts_with("VRRP member instances") {
            for m in items(body, i) {
                f.insert(format!("vrrp {m}|sync_group"), group.to_string());
            }
        }
    }
}

/// "1 sec" or "500 milli-sec" in milliseconds.
fn advert_ms(v: &str) -> String {
    let mut w = v.split_whitespace();
    let n: u64 = w.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    match w.next() {
        Some("sec") => (n * 1000).to_string(),
        _ => n.to_string(),
    }
}

/// "10.9.0.100/24 dev dummy0 scope global label dummy0:1" → address/prefix and device,
/// sorted.
fn vips(items: &[String], iface: &str) -> String {
    let mut out: Vec<String> = items
        .iter()
        .map(|i| {
            let w: Vec<&str> = i.split_whitespace().collect();
            let dev = w
                .iter()
                .position(|x| *x == "dev")
                .and_then(|p| w.get(p + 1));
            let addr = w.first().copied().unwrap_or("");
            let addr = if addr.contains('/') {
                addr.to_string()
            } else if addr.contains(':') {
                format!("{addr}/128")
            } else {
                format!("{addr}/32")
            };
            // A VMAC shows as "vrrp.51@eth0": its name is what both sides call it. An
            // interface whose own name has an '@' (a container's "eth0@if233") keeps it.
            let dev = dev.map(|d| {
                if *d == iface {
                    d
                } else {
                    d.split('@').next().unwrap_or(d)
                }
            });
            format!("{addr} dev {}", dev.unwrap_or("-"))
        })
        .collect();
    out.sort();
    out.join(", ")
}

/// The checker process's dump: services, their real servers and each real server's checkers.
pub fn check(log: &str) -> Facts {
    let all = lines(log);
    let mut f = Facts::new();
    harness(log, &mut f);
    let body = section(&all, "LVS Topology");
    let (mut vs, mut rs) = (String::new(), String::new());
    for (i, l) in body.iter().enumerate() {
        if l.depth == 1 && l.text.starts_with("VS ") {
            vs.clear();
            rs.clear();
            // A group's services are compared by their members' effect only (not here).
            if l.text.starts_with("VS VIP = ") || l.text.starts_with("VS FWMARK = ") {
                let proto = body[i + 1..]
                    .iter()
                    .take_while(|n| !n.text.starts_with("------<"))
                    .find_map(|n| value(n.text, "protocol"))
                    .unwrap_or("TCP");
                vs = format!("vs {}", vs_key(l.text, proto));
                f.insert(format!("{vs}|present"), "yes".into());
            }
            continue;
        }
        if l.depth == 3 && l.text.starts_with("RIP = ") && !vs.is_empty() {
            let (key, weight) = rs_head(l.text);
            rs = format!("rs {} {key}", &vs[3..]);
            f.insert(format!("{rs}|present"), "yes".into());
            f.insert(format!("{rs}|weight"), weight);
            continue;
        }
        if vs.is_empty() {
            continue;
        }
        // Deeper lines are the sorry server's (its own forwarding and inhibit).
        if l.depth > 3 {
            continue;
        }
        let scope = if rs.is_empty() { &vs } else { &rs };
        let mut put = |k: &str, v: String| {
            f.insert(format!("{scope}|{k}"), v);
        };
        if let Some(v) = value(l.text, "lvs_sched") {
            put("scheduler", v.into());
        } else if let Some(v) = value(l.text, "default forwarding method")
            .or_else(|| value(l.text, "forwarding method"))
        {
            // "TUN, type = IPIP": the method only. keepalived leaves a service's default unset
            // until a server needs it (check_data.c validate_check_config).
            let method = v.split([',', ' ']).next().unwrap_or(v);
            if !method.is_empty() {
                put("forwarding", method.into());
            }
        } else if let Some(v) = value(l.text, "persistence timeout") {
            put("persistence_timeout", v.into());
        } else if let Some(v) = l.text.strip_prefix("quorum = ") {
            put("quorum", v.into());
        } else if let Some(v) = l.text.strip_prefix("Inhibit on failure is ") {
            put("inhibit_on_failure", (v == "ON").to_string());
        } else if let Some(v) = l.text.strip_prefix("alpha is ") {
            put("alpha", (v == "ON").to_string());
        } else if let Some(v) = l.text.strip_prefix("omega is ") {
            put("omega", (v == "ON").to_string());
        }
    }
    checkers(&all, &mut f);
    f
}

/// The checkers of each real server, in the dump's order: method, timing, port, URLs.
fn checkers(all: &[Line], f: &mut Facts) {
    let body = section(all, "Health checkers");
    let mut scope = String::new();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    let mut current: Vec<String> = Vec::new();
    let flush = |scope: &str, current: &mut Vec<String>, f: &mut Facts| {
        if current.first().is_some_and(|m| m == "PING_CHECK") {
            // ICMP has no port: only the address counts.
            for d in current.iter_mut().filter(|d| d.starts_with("dest ")) {
                *d = d.rsplit_once(':').map_or(d.clone(), |(a, _)| a.to_string());
            }
        }
        if !scope.is_empty() {
            let list = f.entry(format!("{scope}|checkers")).or_default();
            if !list.is_empty() {
                list.push_str(" + ");
            }
            list.push_str(&current.join("; "));
        }
        current.clear();
    };
    for l in body {
        if l.depth == 1 && l.text.contains(" -> ") {
            flush(&scope, &mut current, f);
            scope = checker_scope(l.text);
            *count.entry(scope.clone()).or_default() += 1;
            continue;
        }
        let t = l.text;
        if let Some(v) = value(t, "Keepalive method") {
            current.insert(0, v.split(',').next().unwrap_or(v).to_string());
        } else if let Some(v) = value(t, "Delay loop") {
            current.push(format!("every {}", us(v)));
        } else if let Some(v) = value(t, "Retries") {
            current.push(format!("retries {v}"));
        } else if let Some(v) = value(t, "Delay before retry") {
            current.push(format!("retry delay {}", us(v)));
        } else if let Some(v) = value(t, "Timeout") {
            current.push(format!("timeout {}", secs(v)));
        } else if let Some(v) = value(t, "Dest") {
            current.push(format!("dest {v}"));
        } else if let Some(v) = value(t, "Checked url") {
            current.push(format!("url {v}"));
        } else if let Some(v) = value(t, "digest") {
            current.push(format!("digest {v}"));
        }
    }
    flush(&scope, &mut current, f);
}

/// "[10.10.10.2]:tcp:1358 -> [192.168.200.2]:tcp:1358" → `rs VS RS`.
fn checker_scope(text: &str) -> String {
    let (vs, rs) = text.split_once(" -> ").unwrap_or((text, ""));
    let trio = |s: &str| {
        // [addr]:proto:port, or FWM n
        let s = s.trim();
        if let Some(m) = s.strip_prefix("FWM ") {
            return format!("fwmark {m}");
        }
        let (addr, rest) = s
            .trim_start_matches('[')
            .split_once("]:")
            .unwrap_or((s, ""));
        let mut r = rest.split(':');
        let proto = r.next().unwrap_or("");
        let port = r.next().unwrap_or("0");
        format!("{}/{}", sock(addr, port), proto.to_lowercase())
    };
    let rs_key = {
        let t = trio(rs);
        t.rsplit_once('/').map_or(t.clone(), |(a, _)| a.to_string())
    };
    format!("rs {} {rs_key}", trio(vs))
}

/// "VS VIP = 10.0.0.1, VPORT = 80" and its protocol → `10.0.0.1:80/tcp`; a fwmark service
/// → `fwmark 1`.
fn vs_key(head: &str, proto: &str) -> String {
    if let Some(m) = head.strip_prefix("VS FWMARK = ") {
        return format!("fwmark {}", m.trim());
    }
    let rest = head.trim_start_matches("VS VIP = ");
    let (addr, port) = rest.split_once(", VPORT = ").unwrap_or((rest, "0"));
    format!("{}/{}", sock(addr, port.trim()), proto.to_lowercase())
}

/// "RIP = 10.0.0.11, RPORT = 80, WEIGHT = 1 EFF WEIGHT = 1" → (`10.0.0.11:80`, weight).
fn rs_head(text: &str) -> (String, String) {
    let rest = text.trim_start_matches("RIP = ");
    let (addr, rest) = rest.split_once(", RPORT = ").unwrap_or((rest, "0"));
    let (port, rest) = rest.split_once(", WEIGHT = ").unwrap_or((rest, ""));
    let weight = rest.split_whitespace().next().unwrap_or("").to_string();
    (sock(addr, port.trim()), weight)
}

fn sock(addr: &str, port: &str) -> String {
    match addr.parse::<std::net::IpAddr>() {
        Ok(ip) => std::net::SocketAddr::new(ip, port.parse().unwrap_or(0)).to_string(),
        Err(_) => format!("{addr}:{port}"),
    }
}

/// "6000000 us" → "6s" (milliseconds when not whole).
fn us(v: &str) -> String {
    let n: u64 = v
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    ms(n / 1000)
}

/// "3.000000" → "3s".
pub fn secs(v: &str) -> String {
    let n: f64 = v.trim().parse().unwrap_or(0.0);
    ms((n * 1000.0).round() as u64)
}

pub fn ms(n: u64) -> String {
    if n.is_multiple_of(1000) {
        format!("{}s", n / 1000)
    } else {
        format!("{n}ms")
    }
}
