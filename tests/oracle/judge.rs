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
        "virtual_ipaddress" => &["virtual_ipaddress", "use_vmac"],
        "virtual_ipaddress_excluded" => &["virtual_ipaddress_excluded"],
        "unicast_peer" => &["unicast_peer", "unicast_src_ip"],
        "track_script" => &["track_script", "vrrp_script"],
        "track_interface" => &[
            "track_interface",
            "dont_track_primary",
            "use_vmac",
            "priority",
        ],
        "preempt_delay" => &["preempt_delay", "nopreempt", "preempt", "state"],
        "source" => &["unicast_src_ip", "mcast_src_ip"],
        "virtual_routes" => &["virtual_routes", "static_routes"],
        "virtual_rules" => &["virtual_rules", "static_rules"],
        "sync_group" => &["vrrp_sync_group", "group"],
        "notify_master" => &["notify_master", "script_user", "enable_script_security"],
        "notify_backup" => &["notify_backup", "script_user", "enable_script_security"],
        "notify_fault" => &["notify_fault", "script_user", "enable_script_security"],
        "notify_stop" => &["notify_stop", "script_user", "enable_script_security"],
        "notify_any" => &["notify", "script_user", "enable_script_security"],
        "scheduler" => &["lb_algo", "lvs_sched"],
        "forwarding" => &["lb_kind", "lvs_method"],
        "persistence_timeout" => &["persistence_timeout"],
        "quorum" => &["quorum", "hysteresis"],
        "inhibit_on_failure" => &["inhibit_on_failure"],
        "alpha" => &["alpha"],
        "omega" => &["omega"],
        "weight" => &["weight"],
        "checkers" => &[
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
    let parents = match scope.strip_prefix("rs ") {
        Some(r) => blocks(
            &src.nodes,
            &format!("vs {}", r.rsplit_once(' ').map_or(r, |x| x.0)),
        ),
        None => Vec::new(),
    };
    blocks(&src.nodes, scope)
        .into_iter()
        .any(|b| explained_in(src, reported, b, &parents, field))
}

/// Whether a report sits on `block`, on a statement of it (or of a service above it, or of
/// global_defs) that decides `field`, or anywhere in it when the block itself differs.
fn explained_in(
    src: &Source,
    reported: &Reported,
    block: &Node,
    parents: &[&Node],
    field: &str,
) -> bool {
    let on =
        |n: &Node| reported.contains(&(src.files.get(n.file).cloned().unwrap_or_default(), n.line));
    let mut words = keywords(field).to_vec();
    if field == "checkers" {
        words.extend(haldir::import::CHECKERS);
    }
    let mut lines = Vec::new();
    if field == "present" {
        // A server is also gone with its service.
        subtree(block, &mut lines);
        lines.extend(parents.iter().copied());
    } else {
        // global_defs, and top-level blocks that decide the field (a tracked vrrp_script).
        let globals = src
            .nodes
            .iter()
            .filter(|n| n.key == "global_defs" || words.contains(&n.key.as_str()));
        for b in std::iter::once(block)
            .chain(parents.iter().copied())
            .chain(globals)
        {
            if words.contains(&b.key.as_str()) {
                subtree(b, &mut lines);
            }
            lines.push(b);
            for c in b
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

/// The keepalived blocks a fact's scope may come from: `vrrp NAME`, `vs KEY`, `rs VSKEY RS`
/// (a block written twice gives two).
fn blocks<'a>(nodes: &'a [Node], scope: &str) -> Vec<&'a Node> {
    if let Some(name) = scope.strip_prefix("vrrp ") {
        return nodes
            .iter()
            .filter(|n| n.key == "vrrp_instance" && n.arg(0) == Some(name))
            .collect();
    }
    if let Some(key) = scope.strip_prefix("vs ") {
        return nodes
            .iter()
            .filter(|n| n.key == "virtual_server" && vs_matches(n, key))
            .collect();
    }
    let Some((vs, rs)) = scope.strip_prefix("rs ").and_then(|r| r.rsplit_once(' ')) else {
        return Vec::new();
    };
    let Ok(rs) = rs.parse::<std::net::SocketAddr>() else {
        return Vec::new();
    };
    // keepalived gives a server without a port, or a DR/TUN server, the service's port: the
    // address decides.
    nodes
        .iter()
        .filter(|n| n.key == "virtual_server" && vs_matches(n, vs))
        .flat_map(|v| v.children())
        .filter(|c| {
            c.key == "real_server"
                && c.arg(0).and_then(|a| a.parse::<std::net::IpAddr>().ok()) == Some(rs.ip())
        })
        .collect()
}

fn vs_matches(n: &Node, key: &str) -> bool {
    if let Some(m) = key.strip_prefix("fwmark ") {
        return n.arg(0) == Some("fwmark") && n.arg(1) == Some(m);
    }
    let addr = key.split('/').next().unwrap_or(key);
    let Ok(sa) = addr.parse::<std::net::SocketAddr>() else {
        return false;
    };
    // A mark of 0 is none: keepalived dumps the service by its unset address, which prints
    // as whatever its last address conversion left (check_data.c dump_vs).
    if n.arg(0) == Some("fwmark") && n.arg(1).and_then(|m| m.parse::<u64>().ok()) == Some(0) {
        return sa.port() == 0;
    }
    n.arg(0).and_then(|a| a.parse::<std::net::IpAddr>().ok()) == Some(sa.ip())
        && n.arg(1).and_then(|p| p.parse::<u16>().ok()).unwrap_or(0) == sa.port()
}

/// Reads a keepalived file as the importer does.
pub fn source(path: &Path) -> Source {
    let mut reader =
        haldir::import::preprocess::Reader::new(&haldir::import::preprocess::Disk, "lb1");
    let _ = reader.read_file(path);
    let (nodes, _) = haldir::import::tree::build(&reader.lines);
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
    !blocks(&src.nodes, &vs).is_empty()
}
