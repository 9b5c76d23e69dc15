//! The conversion's last step: haldir's own validation of the file written. What it refuses is
//! left out (the key, or the whole table when the table itself is refused) and reported as a
//! loss on the keepalived statement it came from, so that `haldir import` never writes a file
//! that `haldir check` refuses, whatever the input. The mapping should have said why already;
//! this is the net under it, and a loss it reports is a case for the mapping to learn.

use std::collections::BTreeSet;
use std::path::Path;

use super::mapper::Loss;
use super::tree::Node;
use crate::config::LoadError;

/// Rounds of validation: each removes at least one line, and removing a table can leave a
/// reference to it dangling, which the next round finds.
const MAX_ROUNDS: usize = 64;

/// The converted text with what haldir refuses left out; each removal a loss.
pub(super) fn repair(
    path: &Path,
    text: String,
    origins: Vec<Option<Node>>,
    losses: &mut Vec<Loss>,
) -> String {
    let mut lines: Vec<(String, Option<Node>)> = text
        .lines()
        .map(str::to_string)
        .zip(origins.into_iter().chain(std::iter::repeat(None)))
        .collect();
    for _ in 0..MAX_ROUNDS {
        let joined = join(&lines);
        let invalid = match crate::config::load_str(path, &joined) {
            Err(LoadError::Invalid(invalid)) => invalid,
            _ => return joined,
        };
        let mut dropped = BTreeSet::new();
        for d in invalid.errors() {
            let at = invalid.sources.position(d.loc).line.saturating_sub(1);
            if at >= lines.len() || dropped.contains(&at) {
                continue;
            }
            let range = refused_range(&lines, at);
            let (text, origin) = &lines[at];
            let whole = range.len() > 1;
            losses.push(loss(text, origin.as_ref(), &d.message, whole));
            dropped.extend(range);
        }
        if dropped.is_empty() {
            return joined;
        }
        lines = lines
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !dropped.contains(i))
            .map(|(_, l)| l)
            .collect();
    }
    join(&lines)
}

fn join(lines: &[(String, Option<Node>)]) -> String {
    let mut out = String::new();
    for (l, _) in lines {
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// The keys that say which of an array's entries a table is (a service, a server): without
/// them the entry is refused in turn, so it goes at once, with the reason that matters.
const IDENTITY: &[&str] = &["address", "fwmark"];

/// The lines to leave out for an error at line `at`: a key's line, or a table with its
/// sub-tables when the error is on its header, on its identity, or on nothing a key holds.
fn refused_range(lines: &[(String, Option<Node>)], at: usize) -> std::ops::Range<usize> {
    let raw = &lines[at].0;
    let key = key_of(raw.trim_start()).filter(|_| !raw.starts_with(char::is_whitespace));
    let start = (0..=at)
        .rev()
        .find(|&i| header_of(&lines[i].0).is_some())
        .unwrap_or(at);
    let entry = lines[start].0.trim_start().starts_with("[[");
    let identity = entry && key.is_some_and(|k| IDENTITY.contains(&k));
    if key_of(raw.trim_start()).is_some() && !identity {
        return at..at + 1;
    }
    let Some(name) = header_of(&lines[start].0) else {
        return at..at + 1;
    };
    let inner = format!("{name}.");
    let end = (start + 1..lines.len())
        .find(|&i| header_of(&lines[i].0).is_some_and(|h| !h.starts_with(&inner)))
        .unwrap_or(lines.len());
    start..end
}

/// `[name]` or `[[name]]`.
fn header_of(line: &str) -> Option<&str> {
    let l = line.trim();
    let inner = l.strip_prefix("[[").and_then(|r| r.strip_suffix("]]"));
    inner.or_else(|| l.strip_prefix('[').and_then(|r| r.strip_suffix(']')))
}

/// The key of a `key = value` line.
fn key_of(line: &str) -> Option<&str> {
    let (k, _) = line.split_once(" = ")?;
    (!k.is_empty() && !k.starts_with('#') && !k.starts_with('[')).then_some(k.trim())
}

/// The loss for a refused line, placed on the keepalived statement it most likely came from:
/// the block's statement whose keyword is the key's, or whose words hold the value, else the
/// block itself.
fn loss(text: &str, origin: Option<&Node>, message: &str, whole: bool) -> Loss {
    let Some(block) = origin else {
        return Loss {
            file: 0,
            line: 1,
            what: format!("`{text}` left out: haldir refuses it ({message})"),
        };
    };
    let statement = key_of(text.trim_start())
        .filter(|_| !whole)
        .and_then(|key| {
            let value = text
                .split_once(" = ")
                .map_or("", |(_, v)| v.trim_matches('"'));
            let kids = block.children();
            let words = keywords(key);
            kids.iter()
                .rfind(|c| words.contains(&c.key.as_str()))
                .or_else(|| {
                    kids.iter()
                        .rfind(|c| c.key == key || c.key.ends_with(&format!("_{key}")))
                })
                .or_else(|| {
                    // A value written as it was read: an address or a name, not a bare number,
                    // which too many statements share.
                    kids.iter().find(|c| {
                        c.args.iter().any(|a| {
                            a.len() > 3 && a.parse::<f64>().is_err() && value.contains(a.as_str())
                        })
                    })
                })
        });
    let at = statement.unwrap_or(block);
    let mut what = at.key.clone();
    for a in &at.args {
        what.push(' ');
        what.push_str(a);
    }
    if at.block.is_some() {
        what.push_str(" { … }");
    }
    let left_out = if !whole && (statement.is_some() || key_of(text.trim_start()).is_some()) {
        "not carried over"
    } else {
        "left out with everything in it"
    };
    Loss {
        file: at.file,
        line: at.line,
        what: format!(
            "{what}: {left_out}: haldir refuses the converted `{}` ({message})",
            text.trim()
        ),
    }
}

/// The keepalived statements a haldir key is written from, where the names differ.
fn keywords(key: &str) -> &'static [&'static str] {
    match key {
        "check" => super::keywords::CHECKERS,
        "virtual_router_id" => &["virtual_router_id"],
        "advert_interval" => &["advert_int"],
        "scheduler" => &["lb_algo", "lvs_sched"],
        "forwarding" => &["lb_kind", "lvs_method"],
        "unicast_peers" => &["unicast_peer"],
        "unicast_source" => &["unicast_src_ip"],
        "mcast_source" => &["mcast_src_ip"],
        "persistence_netmask" => &["persistence_granularity"],
        "command" => &["script", "misc_path"],
        "instances" => &["group"],
        "vmac" => &["use_vmac"],
        "interval" => &["interval", "delay_loop"],
        "timeout" => &["timeout", "connect_timeout", "misc_timeout"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(key: &str, args: &[&str], line: usize, kids: Vec<Node>) -> Node {
        Node {
            key: key.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            block: Some(kids),
            file: 0,
            line,
            text: String::new(),
        }
    }

    #[test]
    fn a_refused_key_is_left_out_and_reported_on_its_statement() {
        let fall = Node {
            block: None,
            ..node("fall", &["-1"], 4, vec![])
        };
        let block = node("vrrp_script", &["chk"], 2, vec![fall]);
        let text = "[[track_script]]\nname = \"chk\"\ncommand = [\"/bin/true\"]\nfall = -1\n";
        let origins = vec![Some(block.clone()); 4];
        let mut losses = Vec::new();
        let out = repair(Path::new("x.toml"), text.into(), origins, &mut losses);
        assert!(!out.contains("fall"), "{out}");
        assert!(
            crate::config::load_str(Path::new("x.toml"), &out).is_ok(),
            "{out}"
        );
        assert_eq!(losses.len(), 1, "{losses:?}");
        assert_eq!(losses[0].line, 4);
        assert!(
            losses[0].what.starts_with("fall -1: not carried over"),
            "{losses:?}"
        );
    }

    #[test]
    fn a_refused_table_goes_with_its_sub_tables() {
        let lines: Vec<(String, Option<Node>)> = [
            "[[virtual_server]]",
            "name = \"a\"",
            "[virtual_server.check]",
            "type = \"tcp\"",
            "[[virtual_server.real_server]]",
            "address = \"10.0.0.1:80\"",
            "[[virtual_server]]",
            "name = \"b\"",
        ]
        .iter()
        .map(|l| (l.to_string(), None))
        .collect();
        assert_eq!(refused_range(&lines, 0), 0..6);
        assert_eq!(refused_range(&lines, 4), 4..6);
        assert_eq!(
            refused_range(&lines, 5),
            4..6,
            "an address is the server's identity"
        );
        assert_eq!(refused_range(&lines, 1), 1..2);
        assert_eq!(refused_range(&lines, 3), 3..4);
    }
}
