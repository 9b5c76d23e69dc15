//! `vrrp_sync_group` → `[[vrrp_sync_group]]`.

use super::emit::V;
use super::mapper::Mapper;
use super::tree::Node;
use super::vrrp::first_notify;

impl Mapper {
    pub(super) fn sync_group(&mut self, n: &Node) {
        let Some(name) = self.one(n) else { return };
        let mut members: Option<Vec<String>> = None;
        let mut keys: Vec<(String, V)> = Vec::new();
        let mut notify: Vec<(String, V)> = Vec::new();
        let mut notify_users = Vec::new();
        for c in n.children() {
            match c.key.as_str() {
                k @ ("notify_master" | "notify_backup" | "notify_fault" | "notify_stop"
                | "notify") => {
                    let slot = k.strip_prefix("notify_").unwrap_or("any");
                    first_notify(self, c, slot, &mut notify, &mut notify_users);
                }
                // vrrp_parser.c: "Group list already specified for sync group".
                "group" if members.is_some() => {
                    self.warn(c, "keepalived ignores a second group list")
                }
                "group" => members = Some(self.members(c, name)),
                "smtp_alert" => {
                    if let Some(on) = self.boolean(c) {
                        self.smtp_alert(c, on, &mut keys);
                    }
                }
                // vrrp/vrrp_parser.c's sync group keywords haldir lacks; anything else is an
                // "Unknown keyword" to keepalived too (keepalived 1.x's members outside
                // `group { }` among them).
                // Weights apply in the group's instances as in haldir's (see weights.rs).
                "sync_group_tracking_weight" => {}
                "global_tracking" | "track_interface"
                | "track_script" | "track_file" | "track_bfd" | "track_process" => {
                    self.lost(c, "no haldir equivalent")
                }
                _ => self.warn(c, "keepalived does not know this in a sync group (\"Unknown keyword\") and ignores it"),
            }
        }
        let members = members.unwrap_or_default();
        if members.is_empty() {
            // vrrp/vrrp.c: "Sync group %s has no virtual router(s). removing".
            self.warn(
                n,
                "keepalived removes a sync group without instances (\"has no virtual router(s)\")",
            );
            return;
        }
        self.doc.header_from("[[vrrp_sync_group]]", n);
        self.doc.set("name", &V::str(name));
        self.doc.set("instances", &V::strs(&members));
        self.notify_user(&notify_users, &mut notify);
        if !notify.is_empty() {
            keys.push(("notify".into(), V::Table(notify)));
        }
        self.doc.set_all(&keys);
    }

    /// A sync group's `group { … }`: instances that exist (vrrp/vrrp_sync.c: "Virtual router
    /// %s specified in sync group %s doesn't exist - ignoring").
    fn members(&mut self, block: &Node, group: &str) -> Vec<String> {
        let mut out = Vec::new();
        for m in block.children() {
            if self.instances.contains(&m.key) {
                out.push(m.key.clone());
            } else {
                self.warn(
                    m,
                    &format!(
                        "keepalived ignores an instance of sync group {group} that does not exist"
                    ),
                );
            }
        }
        out
    }
}
