//! The keywords keepalived knows, listed from its source: a statement keepalived does not know
//! is skipped there ("Unknown keyword", lib/parser.c), so it changes nothing and is no loss —
//! the converter says so in a warning instead.

use std::collections::HashSet;
use std::sync::LazyLock;

fn list(text: &'static str) -> HashSet<&'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

static GLOBAL_DEFS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| list(include_str!("keywords/global_defs.txt")));
static ALL: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| list(include_str!("keywords/all.txt")));

static ROOTS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| list(include_str!("keywords/roots.txt")));
static VRRP_INSTANCE: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| list(include_str!("keywords/vrrp_instance.txt")));

/// Whether keepalived knows `keyword` where it stands: at the top level (`None`), in a
/// vrrp_instance (both lists checked against keepalived itself by
/// tests/import_missing_value.rs), or elsewhere, where a keyword keepalived knows anywhere
/// counts as known.
pub fn known_in(block: Option<&str>, keyword: &str) -> bool {
    match block {
        None => ROOTS.contains(keyword),
        Some("vrrp_instance") => VRRP_INSTANCE.contains(keyword),
        Some(_) => known(keyword),
    }
}

static ENDS_WITHOUT_VALUE: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| list(include_str!("keywords/ends_without_value.txt")));

/// Whether `keyword` with no value in `block` ends keepalived's VRRP process (the list says
/// how it was asked of keepalived).
pub(super) fn ends_without_value(block: &str, keyword: &str) -> bool {
    ENDS_WITHOUT_VALUE.contains(format!("{block} {keyword}").as_str())
}

/// The statements `ends_without_value` knows: "BLOCK KEYWORD".
pub fn all_ending_without_value() -> Vec<&'static str> {
    let mut v: Vec<&str> = ENDS_WITHOUT_VALUE.iter().copied().collect();
    v.sort();
    v
}

/// keepalived's checker blocks (check/check_*.c install_keyword("…_CHECK" / "…_GET")).
pub const CHECKERS: &[&str] = &[
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
];

/// Whether keepalived takes `keyword` inside global_defs.
pub(super) fn in_global_defs(keyword: &str) -> bool {
    GLOBAL_DEFS.contains(keyword)
}

/// Every keyword keepalived knows, sorted.
pub fn all_known() -> Vec<&'static str> {
    let mut v: Vec<&str> = ALL.iter().copied().collect();
    v.sort();
    v
}

/// Whether keepalived knows `keyword` anywhere.
pub(super) fn known(keyword: &str) -> bool {
    ALL.contains(keyword)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_from_keepalived() {
        assert!(in_global_defs("router_id") && in_global_defs("vrrp_garp_master_delay"));
        assert!(
            !in_global_defs("garp_master_delay"),
            "an instance's keyword"
        );
        assert!(!in_global_defs("net_namespace"), "a top-level keyword");
        assert!(known("garp_master_delay") && known("net_namespace"));
        assert!(!known("nat_mask"));
    }
}
