//! The comparison: every fact where keepalived's reading and haldir's differ must have been
//! reported by the importer (a loss or a warning) on a statement that decides it, or on the
//! block it belongs to. Anything else is a silent difference.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use haldir::import::tree::Node;

use super::dump::Facts;

/// The keepalived statements that decide a field (in its block, or in global_defs).
fn keywords(field: &str) -> &'static [&'static str] {
    match field {
        "version" => &["version", "vrrp_version"],
        "interface" => &["interface", "use_vmac", "vmac_xmit_base"],
        "virtual_router_id" => &["virtual_router_id"],
        "priority" => &["priority", "state"],
        "advert_int" => &["advert_int", "version", "vrrp_version"],
        "preempt" => &[
            "nopreempt",
            "preempt",
            "no_preempt",
            "preempt_delay",
            "state",
        ],
        "garp_delay" => &["garp_master_delay", "vrrp_garp_master_delay"],
        "garp_repeat" => &["garp_master_repeat", "vrrp_garp_master_repeat"],
        "virtual_ipaddress" => &["virtual_ipaddress"],
        "virtual_ipaddress_excluded" => &["virtual_ipaddress_excluded"],
        "unicast_peer" => &["unicast_peer", "unicast_src_ip"],
        "track_script" => &["track_script", "vrrp_script"],
        "scheduler" => &["lb_algo", "lvs_sched"],
        "forwarding" => &["lb_kind", "lvs_method"],
        "persistence_timeout" => &["persistence_timeout"],
        "quorum" => &["quorum", "hysteresis"],
        "inhibit_on_failure" => &["inhibit_on_failure"],
        "alpha" => &["alpha"],
        "omega" => &["omega"],
        "weight" => &["weight"],
        "checkers" => &[
            "TCP_CHECK",
            "HTTP_GET",
            "SSL_GET",
            "MISC_CHECK",
            "SMTP_CHECK",
            "DNS_CHECK",
            "UDP_CHECK",
            "PING_CHECK",
            "FILE_CHECK",
            "BFD_CHECK",
            "delay_loop",
            "connect_timeout",
            "retry",
            "nb_get_retry",
            "delay_before_retry",
        ],
        _ => &[],
    }
}

/// The parsed keepalived file: its blocks and the path of each file index.
pub struct Source {
    pub nodes: Vec<Node>,
    pub files: Vec<PathBuf>,
}

/// The lines the importer reported, as (path, line).
pub type Reported = BTreeSet<(PathBuf, usize)>;

/// A difference nobody reported: `scope|field`, keepalived's value, haldir's.
pub type Silent = (String, String, String);

pub fn silent(src: &Source, reported: &Reported, kept: &Facts, ours: &Facts) -> Vec<Silent> {
    let keys: BTreeSet<&String> = kept.keys().chain(ours.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        let (a, b) = (kept.get(key), ours.get(key));
        if a == b {
            continue;
        }
        let (scope, field) = key.split_once('|').unwrap_or((key, ""));
        // A field of an entity one side lacks is the entity's difference, judged once.
        let present = |f: &Facts| f.contains_key(&format!("{scope}|present"));
        if field != "present" && !(present(kept) && present(ours)) {
            continue;
        }
        if !explained(src, reported, scope, field) {
            out.push((
                key.clone(),
                a.cloned().unwrap_or_else(|| "-".into()),
                b.cloned().unwrap_or_else(|| "-".into()),
            ));
        }
    }
    out
}

fn explained(src: &Source, reported: &Reported, scope: &str, field: &str) -> bool {
    let Some(block) = find(&src.nodes, scope) else {
        return false;
    };
    let on =
        |n: &Node| reported.contains(&(src.files.get(n.file).cloned().unwrap_or_default(), n.line));
    if on(block) {
        return true;
    }
    let words = keywords(field);
    let mut lines = Vec::new();
    if field == "present" {
        subtree(block, &mut lines);
    } else {
        for c in block
            .children()
            .iter()
            .filter(|c| words.contains(&c.key.as_str()))
        {
            subtree(c, &mut lines);
        }
        // An address of the block that moved, a service keyword that reaches its servers.
        if let Some(vs) = scope.strip_prefix("rs ").and_then(|r| {
            find(
                &src.nodes,
                &format!("vs {}", r.rsplit_once(' ').map_or(r, |x| x.0)),
            )
        }) {
            if on(vs) {
                return true;
            }
            for c in vs
                .children()
                .iter()
                .filter(|c| words.contains(&c.key.as_str()))
            {
                subtree(c, &mut lines);
            }
        }
        for g in src.nodes.iter().filter(|n| n.key == "global_defs") {
            for c in g
                .children()
                .iter()
                .filter(|c| words.contains(&c.key.as_str()))
            {
                subtree(c, &mut lines);
            }
        }
    }
    lines.iter().any(|n| on(n))
}

fn subtree<'a>(n: &'a Node, out: &mut Vec<&'a Node>) {
    out.push(n);
    for c in n.children() {
        subtree(c, out);
    }
}

/// The keepalived block of a fact's scope: `vrrp NAME`, `vs KEY`, `rs VSKEY RS`.
fn find<'a>(nodes: &'a [Node], scope: &str) -> Option<&'a Node> {
    if let Some(name) = scope.strip_prefix("vrrp ") {
        return nodes
            .iter()
            .rev()
            .find(|n| n.key == "vrrp_instance" && n.arg(0) == Some(name));
    }
    if let Some(key) = scope.strip_prefix("vs ") {
        return nodes
            .iter()
            .find(|n| n.key == "virtual_server" && vs_matches(n, key));
    }
    if let Some(rest) = scope.strip_prefix("rs ") {
        let (vs, rs) = rest.rsplit_once(' ')?;
        let vs = nodes
            .iter()
            .find(|n| n.key == "virtual_server" && vs_matches(n, vs))?;
        let rs: std::net::SocketAddr = rs.parse().ok()?;
        return vs.children().iter().find(|c| {
            c.key == "real_server"
                && c.arg(0).and_then(|a| a.parse::<std::net::IpAddr>().ok()) == Some(rs.ip())
                && c.arg(1).and_then(|p| p.parse::<u16>().ok()).unwrap_or(0) == rs.port()
        });
    }
    None
}

fn vs_matches(n: &Node, key: &str) -> bool {
    if let Some(m) = key.strip_prefix("fwmark ") {
        return n.arg(0) == Some("fwmark") && n.arg(1) == Some(m);
    }
    let addr = key.split('/').next().unwrap_or(key);
    let Ok(sa) = addr.parse::<std::net::SocketAddr>() else {
        return false;
    };
    n.arg(0).and_then(|a| a.parse::<std::net::IpAddr>().ok()) == Some(sa.ip())
        && n.arg(1).and_then(|p| p.parse::<u16>().ok()).unwrap_or(0) == sa.port()
}

/// Reads a keepalived file as the importer does.
pub fn source(path: &Path) -> Source {
    let mut reader =
        haldir::import::preprocess::Reader::new(&haldir::import::preprocess::Disk, "lb1");
    let _ = reader.read_file(path);
    let nodes = haldir::import::tree::build(&reader.lines).unwrap_or_default();
    Source {
        nodes,
        files: reader.files.clone(),
    }
}

/// Whether the fact's scope has a block of its own in the file.
pub fn has_block(src: &Source, key: &str) -> bool {
    let scope = key.split('|').next().unwrap_or(key);
    let vs = match scope.strip_prefix("rs ") {
        Some(r) => format!("vs {}", r.rsplit_once(' ').map_or(r, |x| x.0)),
        None => scope.to_string(),
    };
    find(&src.nodes, &vs).is_some()
}
