//! Tracking weights keepalived ignores (vrrp/vrrp.c vrrp_complete_instance, 2.2.7): an
//! address owner (priority 255) stops tracking a weighted interface and drops a weighted
//! script ("ignoring tracked script … with weights due to address_owner"); an instance in a
//! sync group without `sync_group_tracking_weight` tracks its weighted interfaces with weight 0
//! (down means FAULT) and drops its weighted scripts ("… due to SYNC group"). The conversion
//! does the same, with a warning on each entry.

use super::emit::V;
use super::mapper::Mapper;
use super::tree::Node;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Why {
    AddressOwner,
    SyncGroup,
}

impl Why {
    pub(super) fn text(self) -> &'static str {
        match self {
            Why::AddressOwner => "the address owner (priority 255)",
            Why::SyncGroup => "an instance of a sync group without sync_group_tracking_weight",
        }
    }
}

impl Mapper {
    /// Applies keepalived's rule to an instance's tracked `interfaces` and `scripts`, whose
    /// statements are in `blocks` (its track_interface and track_script blocks).
    pub(super) fn ignored_weights(
        &mut self,
        why: Why,
        blocks: &[&Node],
        interfaces: &mut Vec<V>,
        scripts: &mut Vec<V>,
    ) {
        for (list, kind) in [(interfaces, "track_interface"), (scripts, "track_script")] {
            list.retain_mut(|entry| {
                let V::Table(keys) = entry else { return true };
                if !keys.iter().any(|(k, _)| k == "weight") {
                    return true;
                }
                let name = keys.iter().find_map(|(k, v)| match (k.as_str(), v) {
                    ("name", V::Str(s)) => Some(s.clone()),
                    _ => None,
                });
                let at = blocks
                    .iter()
                    .filter(|b| b.key == kind)
                    .flat_map(|b| b.children())
                    .find(|c| Some(&c.key) == name.as_ref());
                let keep = kind == "track_interface" && why == Why::SyncGroup;
                let what = if keep {
                    format!("keepalived tracks it with weight 0 on {} (down means FAULT), and so does this conversion", why.text())
                } else {
                    format!("keepalived ignores a weighted {kind} entry on {} (vrrp.c: \"ignoring tracked … due to {}\"), and so does this conversion", why.text(), if why == Why::SyncGroup { "SYNC group" } else { "address_owner" })
                };
                if let Some(n) = at {
                    self.warn(n, &what);
                }
                if keep {
                    keys.retain(|(k, _)| k != "weight");
                }
                keep
            });
        }
    }
}

/// An instance's own interface in its track_interface: vrrp/vrrp.c vrrp_complete_instance
/// drops the entry, weight and all ("Ignoring track_interface … since own interface"), and
/// tracks the interface anyway unless dont_track_primary. Returns whether one was dropped.
pub(super) fn untrack_own(
    m: &mut Mapper,
    iface: &str,
    blocks: &[&Node],
    interfaces: &mut Vec<V>,
    names: &mut Vec<String>,
) -> bool {
    let Some(pos) = names.iter().position(|n| n == iface) else {
        return false;
    };
    names.remove(pos);
    interfaces.retain(|e| {
        !matches!(e, V::Table(keys) if keys.iter().any(|(k, v)| k == "name" && *v == V::str(iface)))
    });
    let at = blocks
        .iter()
        .filter(|b| b.key == "track_interface")
        .flat_map(|b| b.children())
        .find(|c| c.key == iface);
    if let Some(n) = at {
        m.warn(n, "keepalived ignores tracking the instance's own interface (vrrp.c: \"Ignoring track_interface … since own interface\"), weight and all: the interface going down puts the instance in FAULT, unless dont_track_primary; so does this conversion");
    }
    true
}

/// The instances of sync groups that do not say `sync_group_tracking_weight`.
pub(super) fn untracked_members(nodes: &[Node]) -> Vec<String> {
    nodes
        .iter()
        .filter(|n| n.key == "vrrp_sync_group")
        .filter(|g| {
            !g.children()
                .iter()
                .any(|c| c.key == "sync_group_tracking_weight")
        })
        .flat_map(|g| g.children().iter().filter(|c| c.key == "group"))
        .flat_map(|b| b.children().iter().map(|m| m.key.clone()))
        .collect()
}
