//! Which statements end keepalived's VRRP process when written without a value, asked of
//! keepalived 2.2.7 itself: every keyword keepalived knows, given no value in each block the
//! VRRP process reads, in a network namespace of its own. The importer reports each of these
//! as "keepalived does not start" (src/import/keywords/ends_without_value.txt); this test fails
//! when keepalived's answer and that list differ.
//!
//! A file holds all the candidates at once: keepalived stops at the first that ends it and
//! names it ("Configuration line starting `K` is missing a parameter"); K is taken out and the
//! file read again, until keepalived reads it through.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The blocks the VRRP process reads, each with what makes it valid before the candidates.
const BLOCKS: &[(&str, &str)] = &[
    ("global_defs", "global_defs {\n"),
    ("vrrp_script", "vrrp_script chk {\n script /bin/true\n"),
    (
        "vrrp_sync_group",
        "vrrp_sync_group G {\n group {\n  VI_1\n }\n",
    ),
    (
        "vrrp_instance",
        "vrrp_instance VI_0 {\n interface eth0\n virtual_router_id 50\n virtual_ipaddress {\n  10.0.0.2\n }\n",
    ),
];

/// Keywords that open a block: without '{' keepalived may still open it and read the rest of
/// the file inside (lib/parser.c), so they are no candidates.
const OPENERS: &[&str] = &[
    "vrrp_instance",
    "vrrp_script",
    "vrrp_sync_group",
    "global_defs",
    "virtual_server",
    "virtual_server_group",
    "real_server",
    "include",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "virtual_routes",
    "virtual_rules",
    "track_interface",
    "track_script",
    "track_file",
    "track_process",
    "track_bfd",
    "unicast_peer",
    "group",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "url",
    "authentication",
    "notification_email",
    "vrrp_track_file",
    "track_group",
    "linkbeat_interfaces",
    "garp_group",
];

/// keepalived's VRRP process's reading of `conf`, in a network namespace of its own.
fn dump(conf: &Path) -> String {
    let out = Command::new("unshare")
        .args(["-n", "-m", "sh"])
        .arg(common::root().join("tests/oracle/keepalived-dump.sh"))
        .arg("-P")
        .arg(conf)
        .arg("eth0")
        .output()
        .expect("unshare runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The keywords that end the VRRP process when given no value in `block`.
fn ask(block: &str, head: &str, dir: &Path) -> BTreeSet<String> {
    let conf = dir.join(format!("{block}.conf"));
    let candidates: Vec<&str> = haldir::import::all_known()
        .into_iter()
        .filter(|k| k.starts_with(|c: char| c.is_ascii_lowercase()) && !OPENERS.contains(k))
        .collect();
    let mut ended = BTreeSet::new();
    loop {
        let mut text = head.to_string();
        for k in candidates.iter().filter(|k| !ended.contains(**k)) {
            text.push_str(&format!(" {k}\n"));
        }
        text.push_str("}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n");
        std::fs::write(&conf, text).unwrap();
        let log = dump(&conf);
        let named = log.lines().find_map(|l| {
            let rest = l.split("Configuration line starting `").nth(1)?;
            let (k, tail) = rest.split_once('`')?;
            tail.contains("is missing a parameter")
                .then(|| k.to_string())
        });
        match named {
            Some(k) => {
                assert!(
                    ended.insert(k.clone()),
                    "keepalived named {k} twice:\n{log}"
                );
            }
            None => return ended,
        }
    }
}

#[test]
fn keepalived_ends_on_the_listed_statements_without_a_value() {
    let tools = ["unshare", "keepalived", "ip"];
    if !common::available(
        "keepalived's missing values (scripts/kernel-lab/install-deps)",
        &tools,
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut asked = Vec::new();
    for (block, head) in BLOCKS {
        for k in ask(block, head, dir.path()) {
            asked.push(format!("{block} {k}"));
        }
    }
    asked.sort();
    assert!(!asked.is_empty(), "keepalived ended on no statement at all");
    let listed = haldir::import::all_ending_without_value();
    let missing: Vec<&String> = asked
        .iter()
        .filter(|a| !listed.contains(&a.as_str()))
        .collect();
    let gone: Vec<&&str> = listed
        .iter()
        .filter(|l| !asked.iter().any(|a| a == *l))
        .collect();
    assert!(
        missing.is_empty() && gone.is_empty(),
        "src/import/keywords/ends_without_value.txt differs from keepalived:\nkeepalived ends on, not listed: {missing:?}\nlisted, keepalived reads on: {gone:?}"
    );
}

/// The keywords keepalived reports as unknown (`Unknown keyword 'K'`) when each candidate,
/// given the value 1, stands at the top level (`head` empty) or in the block `head` opens. A
/// candidate that ends the process on that value is known there, and taken out.
fn unknown(head: &str, dir: &Path) -> (BTreeSet<String>, Vec<&'static str>) {
    let conf = dir.join("unknown.conf");
    let mut candidates: Vec<&str> = haldir::import::all_known()
        .into_iter()
        .filter(|k| k.starts_with(|c: char| c.is_ascii_lowercase()) && !OPENERS.contains(k))
        .collect();
    loop {
        let mut text = head.to_string();
        for k in &candidates {
            text.push_str(&format!(" {k} 1\n"));
        }
        if !head.is_empty() {
            text.push_str("}\n");
        }
        text.push_str("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n");
        std::fs::write(&conf, text).unwrap();
        let log = dump(&conf);
        let ended = log.lines().find_map(|l| {
            let rest = l.split("Configuration line starting `").nth(1)?;
            Some(rest.split_once('`')?.0.to_string())
        });
        if let Some(k) = ended {
            let before = candidates.len();
            candidates.retain(|c| *c != k);
            assert!(candidates.len() < before, "keepalived ended on {k}:\n{log}");
            continue;
        }
        let unknown = log
            .lines()
            .filter_map(|l| l.split("Unknown keyword '").nth(1)?.split('\'').next())
            .map(str::to_string)
            .collect();
        return (unknown, candidates);
    }
}

/// Where the importer takes keepalived's own list of a block's keywords (at the top level
/// and in a vrrp_instance: `import::known_in`), keepalived agrees: every candidate it does not
/// report as unknown there is known there, and none it reports is.
#[test]
fn keepalived_knows_the_listed_keywords_where_they_stand() {
    let tools = ["unshare", "keepalived", "ip"];
    if !common::available(
        "keepalived's keywords (scripts/kernel-lab/install-deps)",
        &tools,
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let instance = "vrrp_instance VI_0 {\n interface eth0\n virtual_router_id 50\n virtual_ipaddress {\n  10.0.0.2\n }\n";
    for (place, head) in [(None, ""), (Some("vrrp_instance"), instance)] {
        let (unknown, candidates) = unknown(head, dir.path());
        assert!(
            !unknown.is_empty(),
            "keepalived reported nothing unknown in {place:?}"
        );
        let wrong: Vec<&&str> = candidates
            .iter()
            .filter(|k| haldir::import::known_in(place, k) == unknown.contains(**k))
            .collect();
        assert!(
            wrong.is_empty(),
            "in {place:?}, the importer and keepalived disagree on whether these are known: {wrong:?}"
        );
    }
}
