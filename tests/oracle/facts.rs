//! haldir's reading of a converted file, as the same facts as keepalived's dump (dump.rs).

use haldir::config::Config;
use haldir::config::model::{Check, CheckKind, ServiceKey};

use super::dump::{Facts, ms};

pub fn vrrp(c: &Config) -> Facts {
    let mut f = Facts::new();
    for i in &c.vrrp_instances {
        let s = format!("vrrp {}", i.name);
        let mut put = |k: &str, v: String| {
            f.insert(format!("{s}|{k}"), v);
        };
        put("present", "yes".into());
        put("version", i.version.to_string());
        // keepalived shows the VMAC, even when adverts leave by the base (vmac_xmit_base).
        put("interface", i.address_interface().to_string());
        put("virtual_router_id", i.virtual_router_id.to_string());
        put("priority", i.priority.to_string());
        put("advert_int", i.advert_interval.as_millis().to_string());
        put("preempt", i.preempt.to_string());
        put("garp_delay", i.garp.delay.as_secs().to_string());
        put("garp_repeat", i.garp.repeat.to_string());
        let vips = |list: &[haldir::config::vip::Vip]| {
            let mut v: Vec<String> = list
                .iter()
                .map(|a| {
                    format!(
                        "{} dev {}",
                        a.net,
                        a.dev.as_deref().unwrap_or(i.address_interface())
                    )
                })
                .collect();
            v.sort();
            v.join(", ")
        };
        if !i.virtual_ipaddress.is_empty() {
            put("virtual_ipaddress", vips(&i.virtual_ipaddress));
        }
        if !i.virtual_ipaddress_excluded.is_empty() {
            put(
                "virtual_ipaddress_excluded",
                vips(&i.virtual_ipaddress_excluded),
            );
        }
        if !i.unicast_peers.is_empty() {
            let mut p: Vec<String> = i.unicast_peers.iter().map(|a| a.to_string()).collect();
            p.sort();
            put("unicast_peer", p.join(" "));
        }
        // keepalived tracks its own interface without listing it (vrrp.c
        // vrrp_complete_instance): haldir lists it.
        let mut t: Vec<String> = i
            .track_interface
            .iter()
            .filter(|t| t.name != i.interface)
            .map(|t| format!("{} weight {}", t.name, t.weight.unwrap_or(0)))
            .collect();
        if !t.is_empty() {
            t.sort();
            put("track_interface", t.join(", "));
        }
        if !i.preempt_delay.is_zero() {
            put("preempt_delay", i.preempt_delay.as_secs().to_string());
        }
        if let Some(a) = i.unicast_source.or(i.mcast_source) {
            put("source", a.to_string());
        }
        if !i.virtual_routes.is_empty() {
            put("virtual_routes", i.virtual_routes.len().to_string());
        }
        if !i.virtual_rules.is_empty() {
            put("virtual_rules", i.virtual_rules.len().to_string());
        }
        notify(&i.notify, &mut put);
        if let Some(g) = c.sync_groups.iter().find(|g| g.instances.contains(&i.name)) {
            put("sync_group", g.name.clone());
        }
        if !i.track_script.is_empty() {
            let mut t: Vec<String> = i
                .track_script
                .iter()
                .map(|t| format!("{} weight {}", t.name, t.weight.unwrap_or(0)))
                .collect();
            t.sort();
            put("track_script", t.join(", "));
        }
    }
    f
}

fn notify(n: &haldir::config::model::Notify, put: &mut impl FnMut(&str, String)) {
    let states = [
        ("master", &n.master),
        ("backup", &n.backup),
        ("fault", &n.fault),
        ("stop", &n.stop),
        ("any", &n.any),
    ];
    for (state, argv) in states {
        if let Some(argv) = argv {
            // keepalived shows the program by its real path (/bin/echo is /usr/bin/echo).
            let mut argv = argv.clone();
            if let Some(real) = argv.first().and_then(|p| std::fs::canonicalize(p).ok()) {
                argv[0] = real.to_string_lossy().into_owned();
            }
            put(&format!("notify_{state}"), argv.join(" "));
        }
    }
}

pub fn check(c: &Config) -> Facts {
    let mut f = Facts::new();
    for v in &c.virtual_servers {
        let key = match v.key {
            ServiceKey::Address(a) => format!("{a}/{}", v.protocol.as_str()),
            ServiceKey::Fwmark { mark, .. } => format!("fwmark {mark}"),
        };
        let s = format!("vs {key}");
        let mut put = |k: &str, val: String| {
            f.insert(format!("{s}|{k}"), val);
        };
        put("present", "yes".into());
        put("scheduler", v.scheduler.as_str().to_string());
        put("forwarding", v.forwarding.as_str().to_uppercase());
        if !v.persistence_timeout.is_zero() {
            put(
                "persistence_timeout",
                v.persistence_timeout.as_secs().to_string(),
            );
        }
        put(
            "quorum",
            format!("{}, hysteresis = {}", v.quorum, v.hysteresis),
        );
        put("inhibit_on_failure", v.inhibit_on_failure.to_string());
        put("alpha", v.alpha.to_string());
        put("omega", v.omega.to_string());
        for r in &v.real_servers {
            let addr = match r.address.port {
                Some(p) => std::net::SocketAddr::new(r.address.ip, p).to_string(),
                None => std::net::SocketAddr::new(r.address.ip, 0).to_string(),
            };
            let rs = format!("rs {key} {addr}");
            f.insert(format!("{rs}|present"), "yes".into());
            f.insert(format!("{rs}|weight"), r.weight.to_string());
            f.insert(
                format!("{rs}|forwarding"),
                r.forwarding.as_str().to_uppercase(),
            );
            f.insert(
                format!("{rs}|inhibit_on_failure"),
                r.inhibit_on_failure.to_string(),
            );
            if let Some(c) = &r.check {
                let port = c.port.or(r.address.port).unwrap_or(0);
                let ip = c.address.unwrap_or(r.address.ip);
                f.insert(format!("{rs}|checkers"), checker(c, ip, port));
            }
        }
    }
    f
}

/// A check as keepalived's dump shows a checker (dump.rs `checkers`).
fn checker(c: &Check, ip: std::net::IpAddr, port: u16) -> String {
    let method = match &c.kind {
        CheckKind::Tcp { .. } => "TCP_CHECK",
        CheckKind::Http(_) => "HTTP_GET",
        CheckKind::Https { .. } => "SSL_GET",
        CheckKind::Misc { .. } => "MISC_CHECK",
        CheckKind::Udp(_) => "UDP_CHECK",
        CheckKind::Dns(_) => "DNS_CHECK",
        CheckKind::Ping => "PING_CHECK",
        CheckKind::Smtp(_) => "SMTP_CHECK",
        CheckKind::File(_) => "FILE_CHECK",
    };
    let mut out = vec![
        method.to_string(),
        format!("every {}", ms(c.interval.as_millis() as u64)),
        format!("retries {}", c.fall.saturating_sub(1)),
    ];
    // keepalived's dump leaves the retry delay out where there is no retry.
    if c.fall > 1 {
        out.push(format!(
            "retry delay {}",
            ms(c.retry_delay.as_millis() as u64)
        ));
    }
    if !matches!(c.kind, CheckKind::Misc { .. } | CheckKind::File(_)) {
        // ICMP has no port: only the address counts.
        let dest = match c.kind {
            CheckKind::Ping => format!("[{ip}]"),
            _ => format!("[{ip}]:{port}"),
        };
        out.push(format!("dest {dest}"));
        out.push(format!("timeout {}", ms(c.timeout.as_millis() as u64)));
    }
    let urls = match &c.kind {
        CheckKind::Http(h) | CheckKind::Https { http: h, .. } => h.urls.as_slice(),
        _ => &[],
    };
    for u in urls {
        out.push(format!("url {}", u.path));
        if let Some(d) = &u.digest {
            out.push(format!("digest {d}"));
        }
    }
    out.join("; ")
}

/// A service's default forwarding only where a server takes it: keepalived leaves it unset
/// until a server without a method of its own needs it (check_data.c
/// validate_check_config), and unset it does nothing. A service with a server in either
/// reading keeps it in both, unless keepalived left it unset.
pub fn without_idle_forwarding(theirs: &mut Facts, ours: &mut Facts) {
    let unset: Vec<String> = theirs
        .keys()
        .filter_map(|k| k.strip_suffix("|present"))
        .filter(|s| s.starts_with("vs ") && !theirs.contains_key(&format!("{s}|forwarding")))
        .map(|s| format!("{s}|forwarding"))
        .collect();
    for k in unset {
        ours.remove(&k);
    }
    let served: std::collections::BTreeSet<String> = theirs
        .keys()
        .chain(ours.keys())
        .filter_map(|k| {
            k.strip_prefix("rs ")?
                .rsplit_once(' ')
                .map(|x| x.0.to_string())
        })
        .collect();
    let idle = |k: &String| {
        k.strip_prefix("vs ")
            .and_then(|k| k.strip_suffix("|forwarding"))
            .is_some_and(|vs| !served.contains(vs))
    };
    theirs.retain(|k, _| !idle(k));
    ours.retain(|k, _| !idle(k));
}

/// Notify commands without the programs keepalived could not find here.
pub fn without_programs(f: &mut Facts, missing: &str) {
    let programs: Vec<&str> = missing.split_whitespace().collect();
    f.retain(|k, v| {
        let notify = k
            .rsplit_once('|')
            .is_some_and(|(_, field)| field.starts_with("notify_"));
        !(notify && programs.contains(&v.split(' ').next().unwrap_or("")))
    });
}

/// Tracking without the scripts keepalived disabled here (their files are on the director).
pub fn without_scripts(f: &mut Facts, disabled: &str) {
    let names: Vec<&str> = disabled.split_whitespace().collect();
    if names.is_empty() {
        return;
    }
    f.retain(|k, v| {
        if !k.ends_with("|track_script") {
            return true;
        }
        let kept: Vec<&str> = v
            .split(", ")
            .filter(|t| !names.contains(&t.split(' ').next().unwrap_or("")))
            .collect();
        *v = kept.join(", ");
        !v.is_empty()
    });
}
