//! An instance's `virtual_routes` and `virtual_rules` → its `routes` and `rules`, as `ip route`
//! and `ip rule` text.

use super::mapper::Mapper;
use super::tree::Node;

impl Mapper {
    /// `virtual_routes { … }` / `virtual_rules { … }`: each line as `ip route` / `ip rule`
    /// text; a line haldir cannot take is reported with why.
    pub(super) fn routing<T: std::str::FromStr<Err = String> + std::fmt::Display>(
        &mut self,
        block: &Node,
        out: &mut Vec<String>,
    ) {
        for e in block.children() {
            let mut words = vec![e.key.clone()];
            words.extend(e.args.iter().cloned());
            if let Some(w) = or_to_nexthops(&words) {
                if w.1 {
                    self.warn(e, "keepalived takes one \"or\" gateway and ignores the others (\"or route already specified\")");
                }
                words = w.0;
            }
            let text = words.join(" ");
            match text.parse::<T>() {
                Ok(r) => out.push(r.to_string()),
                // keepalived parses addresses with inet_pton and drops the whole line when
                // one fails ("Invalid rule to address", vrrp/vrrp_iprule.c, vrrp_iproute.c):
                // nothing is installed there either.
                Err(why) if why.contains("is not an address") => self.warn(
                    e,
                    &format!(
                        "{why}: keepalived rejects the line and installs nothing; nor does haldir"
                    ),
                ),
                Err(why) => self.lost(e, &why),
            }
        }
    }
}

/// keepalived's old two-gateway route, `DEST via A or B` (vrrp/vrrp_iproute.c: "maintained for
/// backward compatibility"): a multipath route, `via A` its first path, `or B` the second;
/// later `or`s are ignored (the flag says so). The route's `dev` goes to each path, where the
/// kernel wants it with several paths.
fn or_to_nexthops(words: &[String]) -> Option<(Vec<String>, bool)> {
    let or = words.iter().position(|w| w == "or")?;
    let via = words.iter().position(|w| w == "via" || w == "gw")?;
    let (a, b) = (words.get(via + 1)?, words.get(or + 1)?);
    let dev = words
        .iter()
        .position(|w| w == "dev")
        .and_then(|i| words.get(i + 1));
    let mut skip = vec![via, via + 1, or, or + 1];
    let mut more = false;
    for (i, w) in words.iter().enumerate().skip(or + 2) {
        if w == "or" {
            skip.extend([i, i + 1]);
            more = true;
        }
    }
    if let Some(i) = words.iter().position(|w| w == "dev") {
        skip.extend([i, i + 1]);
    }
    let mut out: Vec<String> = words
        .iter()
        .enumerate()
        .filter(|(i, _)| !skip.contains(i))
        .map(|(_, w)| w.clone())
        .collect();
    for g in [a, b] {
        out.extend(["nexthop".to_string(), "via".into(), g.clone()]);
        if let Some(d) = dev {
            out.extend(["dev".to_string(), d.clone()]);
        }
    }
    Some((out, more))
}
