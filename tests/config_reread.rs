//! A reload that reads only the changed virtual servers must give exactly the configuration the
//! full read gives, and step aside whenever it cannot be sure.

use std::path::Path;

use haldir::config::reread::{Basis, reread};
use haldir::config::{blocks, load_str};

const PATH: &str = "/etc/haldir/haldir.toml";

fn service(i: usize, weight: u32) -> String {
    format!(
        "[[virtual_server]]\nname = \"svc{i}\"\naddress = \"10.0.{i}.1:80\"\nscheduler = \"wrr\"\nforwarding = \"dr\"\n\n[virtual_server.check]\ntype = \"tcp\"\ninterval = \"2s\"  # a comment\n\n[[virtual_server.real_server]]\naddress = \"10.1.{i}.1:80\"\nweight = {weight}\n[[virtual_server.real_server]]\naddress = \"10.1.{i}.2:80\"\ncheck = {{ type = \"tcp\", port = 81 }}\n\n"
    )
}

fn head() -> String {
    "# the directors' file\n[global]\nrouter_id = \"lb1\"\n\n[[vrrp_instance]]\nname = \"VI_1\"\ninterface = \"eth1\"\nvirtual_router_id = 51\npriority = 150\nvirtual_ipaddress = [\n  \"10.240.0.201/32\",\n]\nnotify = { master = [\"/bin/sh\", \"-c\", \"\"\"\n[[virtual_server]]\n\"\"\"] }\n\n".to_string()
}

fn fwmark() -> &'static str {
    "[[fwmark]]\nmark = 3\ndestination = \"10.240.0.201\"\nprotocol = \"tcp\"\nports = [80, 443]\n\n[[virtual_server]]\nname = \"marked\"\nfwmark = 3\nforwarding = \"dr\"\n[[virtual_server.real_server]]\naddress = \"10.240.0.11\"\n\n"
}

fn file(weights: &[u32]) -> String {
    let mut text = head();
    for (i, w) in weights.iter().enumerate() {
        if i == 2 {
            text.push_str(fwmark());
        }
        text.push_str(&service(i, *w));
    }
    text.push_str("[netfilter]\ntable = \"haldir\"\n");
    text
}

/// Reads `old`, then `new` both ways. Returns whether the partial read was taken; when it
/// was, its configuration must be the full read's and its blocks the new text's.
fn partial(old: &str, new: &str) -> bool {
    let path = Path::new(PATH);
    let first = load_str(path, old).expect("the old file is valid");
    let basis = Basis::of(&first).expect("a basis");
    let full = load_str(path, new);
    match reread(path, &basis, &first.config, new) {
        Some((config, blocks)) => {
            let full = full.expect("the partial read accepted a file the full read refuses");
            assert_eq!(config, full.config, "the two reads differ");
            assert_eq!(Some(blocks), blocks::split(new), "the blocks differ");
            true
        }
        None => false,
    }
}

#[test]
fn a_changed_weight_is_read_alone_and_gives_the_full_reads_configuration() {
    let old = file(&[1, 1, 1, 1, 1]);
    assert!(partial(&old, &file(&[1, 1, 100, 1, 1])));
    assert!(partial(&old, &file(&[7, 1, 1, 1, 1])));
    assert!(partial(&old, &file(&[1, 1, 1, 1, 9])));
    assert!(
        partial(&old, &file(&[2, 3, 4, 5, 6])),
        "every service changed"
    );
    assert!(partial(&old, &old), "nothing changed");
}

#[test]
fn a_file_that_starts_with_a_header() {
    let old = format!("{}{}", service(0, 1), service(1, 1));
    assert!(partial(
        &old,
        &format!("{}{}", service(0, 5), service(1, 1))
    ));
    assert!(partial(
        &old,
        &format!("{}{}", service(0, 1), service(1, 5))
    ));
    assert!(partial(&old, &service(1, 1)), "the first removed");
    let global = format!("[global]\nrouter_id = \"a\"\n{old}");
    assert!(partial(
        &global,
        &global.replace("weight = 1", "weight = 2")
    ));
}

#[test]
fn services_added_removed_or_edited_in_place() {
    let old = file(&[1, 1, 1, 1]);
    assert!(
        partial(&old, &file(&[1, 1, 1, 1, 1])),
        "one added at the end"
    );
    assert!(partial(&old, &file(&[1, 1, 1])), "the last removed");
    let removed = old.replacen(&service(1, 1), "", 1);
    assert!(partial(&old, &removed), "one removed in the middle");
    let extra = service(9, 4);
    let inserted = old.replacen(&service(1, 1), &format!("{}{extra}", service(1, 1)), 1);
    assert!(partial(&old, &inserted), "one inserted in the middle");
    let more = old.replacen(
        "weight = 1\n",
        "weight = 1\n[[virtual_server.real_server]]\naddress = \"10.1.0.3:80\"\n",
        1,
    );
    assert!(partial(&old, &more), "a real server added");
    let commented = old.replacen("# a comment", "# another comment, longer", 3);
    assert!(partial(&old, &commented), "comments in services");
}

#[test]
fn anything_but_a_service_changed_reads_the_file_whole() {
    let old = file(&[1, 1, 1, 1]);
    let global = old.replace("router_id = \"lb1\"", "router_id = \"lb2\"");
    assert!(!partial(&old, &global));
    let root = old.replace("# the directors' file", "# the directors' file, edited");
    assert!(!partial(&old, &root));
    let tail = old.replace("table = \"haldir\"", "table = \"haldir2\"");
    assert!(!partial(&old, &tail));
    let fw = old.replace("ports = [80, 443]", "ports = [80]");
    assert!(!partial(&old, &fw));
}

#[test]
fn a_problem_in_a_changed_service_is_left_to_the_full_read() {
    let old = file(&[1, 1, 1, 1]);
    // Another service's address: a duplicate only the whole file can place.
    let dup = old.replacen("address = \"10.0.3.1:80\"", "address = \"10.0.1.1:80\"", 1);
    assert!(!partial(&old, &dup));
    assert!(load_str(Path::new(PATH), &dup).is_err());
    let bad = old.replacen("weight = 1\n", "weight = -1\n", 1);
    assert!(!partial(&old, &bad));
    let unknown = old.replacen("weight = 1\n", "wieght = 1\n", 1);
    assert!(!partial(&old, &unknown));
    let no_instance = old.replacen(
        "forwarding = \"dr\"\n",
        "forwarding = \"dr\"\nvrrp_instance = \"VI_9\"\n",
        1,
    );
    assert!(!partial(&old, &no_instance));
    // The fwmark service renumbered: the rule now marks for no service, which only the
    // full read says (a warning).
    let mark = old.replace("fwmark = 3", "fwmark = 4");
    let full = load_str(Path::new(PATH), &mark).expect("valid");
    assert!(!full.warnings.is_empty());
    assert!(!partial(&old, &mark));
    // A header the block reading does not follow.
    let quoted = old.replacen("[virtual_server.check]", "[virtual_server.\"check\"]", 1);
    assert!(!partial(&old, &quoted));
}

#[test]
fn a_file_with_warnings_or_includes_has_no_basis() {
    let path = Path::new(PATH);
    // A service tied to an instance that does not hold its address: valid, with a warning.
    let text = file(&[1]).replacen(
        "forwarding = \"dr\"\n",
        "forwarding = \"dr\"\nvrrp_instance = \"VI_1\"\n",
        1,
    );
    let loaded = load_str(path, &text).expect("valid");
    assert!(!loaded.warnings.is_empty());
    assert!(Basis::of(&loaded).is_none());
    let plain = load_str(path, &file(&[1])).expect("valid");
    assert!(Basis::of(&plain).is_some());
}

/// Edits at random (a fixed seed): whenever the partial read is taken, it must agree with the
/// full read (asserted in `partial`).
#[test]
fn random_edits_agree_with_the_full_read() {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let pieces = [
        "weight = 3\n",
        "[[virtual_server]]\n",
        "[[virtual_server.real_server]]\naddress = \"10.9.9.9:80\"\n",
        "\"\"\"",
        "# x\n",
        "]\n",
        "[global]\n",
        "name = \"svc1\"\n",
    ];
    let mut taken = 0;
    for _ in 0..300 {
        let weights: Vec<u32> = (0..1 + next(6)).map(|_| 1 + next(3) as u32).collect();
        let old = file(&weights);
        let mut new = old.clone();
        for _ in 0..1 + next(2) {
            // At a line start, so that most edits stay valid TOML.
            let lines: Vec<usize> = std::iter::once(0)
                .chain(new.match_indices('\n').map(|(i, _)| i + 1))
                .collect();
            let at = lines[next(lines.len())];
            match next(4) {
                0 => new.insert_str(at, pieces[next(pieces.len())]),
                // Anywhere, even inside a token.
                3 => new.insert_str(next(new.len()), pieces[next(pieces.len())]),
                1 => {
                    let end = new[at..].find('\n').map_or(new.len(), |i| at + i + 1);
                    new.replace_range(at..end, "");
                }
                _ => new = new.replacen("weight = ", "weight = 1", 1 + next(3)),
            }
        }
        taken += usize::from(partial(&old, &new));
    }
    assert!(
        taken > 50,
        "the partial read was taken {taken} times of 300"
    );
}
