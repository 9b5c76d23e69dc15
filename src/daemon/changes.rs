//! What a reload changes: the running and the new configuration compared section by section,
//! as lines for people (`haldir reload` prints them) and as the VRRP instances to restart.
//! Pure: what differs is found on the typed values, and named through the serialized form of
//! the parts that differ, so a field added to the model is covered without touching this file.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::config::model::VirtualServer;

#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Changes {
    pub lines: Vec<String>,
    /// VRRP instances to stop: removed or changed.
    pub vrrp_stop: Vec<String>,
    /// VRRP instances to start: added or changed.
    pub vrrp_start: Vec<String>,
}

impl Changes {
    pub(super) fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// Settings read once at start; a reload notes their change and leaves them.
const AT_RESTART: &[&str] = &[
    "state_dir",
    "control_socket",
    "script_user",
    "net_namespace",
    "umask",
    "no_swap",
    "log_all_failures",
    "notify_fifo",
    "vrrp_notify_fifo",
    "lvs_notify_fifo",
    "notify_priority_changes",
];

pub(super) fn changes(old: &Config, new: &Config) -> Changes {
    let mut out = Changes::default();
    if old == new {
        return out;
    }
    globals(old, new, &mut out.lines);
    vrrp_instances(old, new, &mut out);
    named(
        "vrrp_sync_group",
        &old.sync_groups,
        &new.sync_groups,
        |g| g.name.clone(),
        &mut out.lines,
    );
    named(
        "track_script",
        &old.track_scripts,
        &new.track_scripts,
        |t| t.name.clone(),
        &mut out.lines,
    );
    named(
        "track_file",
        &old.track_files,
        &new.track_files,
        |t| t.name.clone(),
        &mut out.lines,
    );
    virtual_servers(&old.virtual_servers, &new.virtual_servers, &mut out.lines);
    if old.fwmarks != new.fwmarks {
        out.lines.push("fwmark rules changed".into());
    }
    sections(old, new, &mut out.lines);
    if out.lines.is_empty() {
        // Equal as serialized but not as values: say something rather than nothing.
        out.lines.push("configuration changed".into());
    }
    out
}

fn globals(old: &Config, new: &Config, lines: &mut Vec<String>) {
    if old.global == new.global {
        return;
    }
    for field in fields_changed(&value(&old.global), &value(&new.global)) {
        let when = if AT_RESTART.contains(&field.as_str()) {
            " (takes effect when haldir restarts)"
        } else {
            ""
        };
        lines.push(format!("global.{field} changed{when}"));
    }
}

/// The instances to stop and start: a changed one is both.
fn vrrp_instances(old: &Config, new: &Config, out: &mut Changes) {
    let vrrp = named(
        "vrrp_instance",
        &old.vrrp_instances,
        &new.vrrp_instances,
        |i| i.name.clone(),
        &mut out.lines,
    );
    for (name, kind) in vrrp {
        // Mail settings are read at each transition: changing them needs no restart.
        if kind == Kind::Changed && only_mail_changed(old, new, &name) {
            continue;
        }
        if kind != Kind::Added {
            out.vrrp_stop.push(name.clone());
        }
        if kind != Kind::Removed {
            out.vrrp_start.push(name);
        }
    }
}

/// The one-table sections: added, removed, or the fields that changed.
fn sections(old: &Config, new: &Config, lines: &mut Vec<String>) {
    let static_ = |c: &Config| match c.static_.is_empty() {
        true => Value::Null,
        false => value(&c.static_),
    };
    // Each section: whether it differs, and its serialized form before and after.
    let sections = [
        (
            "netfilter",
            old.netfilter != new.netfilter,
            value(&old.netfilter),
            value(&new.netfilter),
        ),
        (
            "ipvs",
            old.ipvs != new.ipvs,
            value(&old.ipvs),
            value(&new.ipvs),
        ),
        (
            "realserver",
            old.realserver != new.realserver,
            value(&old.realserver),
            value(&new.realserver),
        ),
        (
            "email",
            old.email != new.email,
            value(&old.email),
            value(&new.email),
        ),
        (
            "static",
            old.static_ != new.static_,
            static_(old),
            static_(new),
        ),
    ];
    for (s, differs, x, y) in sections {
        if !differs {
            continue;
        }
        match (x.is_null(), y.is_null()) {
            (true, false) => lines.push(format!("[{s}] added")),
            (false, true) => lines.push(format!("[{s}] removed")),
            _ => {
                for field in fields_changed(&x, &y) {
                    lines.push(format!("{s}.{field} changed"));
                }
            }
        }
    }
}

/// A part of the configuration in its serialized form, for naming the fields that differ.
fn value<T: Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// Whether an instance differs only in `smtp_alert`.
fn only_mail_changed(a: &Config, b: &Config, name: &str) -> bool {
    let find = |c: &Config| c.vrrp_instances.iter().find(|i| i.name == name).map(value);
    match (find(a), find(b)) {
        (Some(x), Some(y)) => fields_changed(&x, &y) == ["smtp_alert"],
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Added,
    Removed,
    Changed,
}

/// Compares two lists keyed by `key` as typed values (only the ones that differ are
/// serialized, so a reload of ten thousand servers with one change costs little); writes a
/// line per difference and returns the keys that differ.
fn named<T: Serialize + PartialEq>(
    what: &str,
    old: &[T],
    new: &[T],
    key: impl Fn(&T) -> String,
    lines: &mut Vec<String>,
) -> Vec<(String, Kind)> {
    let by_key: HashMap<String, &T> = new.iter().map(|t| (key(t), t)).collect();
    let old_keys: HashSet<String> = old.iter().map(&key).collect();
    let mut out = Vec::new();
    for o in old {
        let k = key(o);
        match by_key.get(&k) {
            None => {
                lines.push(format!("{what} {k} removed"));
                out.push((k, Kind::Removed));
            }
            Some(n) if *n != o => {
                let fields = fields_changed(&value(o), &value(*n)).join(", ");
                lines.push(format!("{what} {k} changed: {fields}"));
                out.push((k, Kind::Changed));
            }
            Some(_) => {}
        }
    }
    for n in new {
        let k = key(n);
        if !old_keys.contains(&k) {
            lines.push(format!("{what} {k} added"));
            out.push((k, Kind::Added));
        }
    }
    out
}

/// Virtual servers, with their real servers compared one by one.
fn virtual_servers(
    old: &[std::sync::Arc<VirtualServer>],
    new: &[std::sync::Arc<VirtualServer>],
    lines: &mut Vec<String>,
) {
    let by_name: HashMap<&str, &std::sync::Arc<VirtualServer>> =
        new.iter().map(|v| (v.name.as_str(), v)).collect();
    let old_names: HashSet<&str> = old.iter().map(|v| v.name.as_str()).collect();
    for v in old {
        let Some(w) = by_name.get(v.name.as_str()) else {
            lines.push(format!("virtual_server {} removed", v.name));
            continue;
        };
        // A service a reload took over unread is the same one, shared.
        if std::sync::Arc::ptr_eq(v, w) || v == *w {
            continue;
        }
        let fields: Vec<String> = fields_changed(&value(v), &value(*w))
            .into_iter()
            .filter(|f| f != "real_server")
            .collect();
        if !fields.is_empty() {
            lines.push(format!(
                "virtual_server {} changed: {}",
                v.name,
                fields.join(", ")
            ));
        }
        named(
            &format!("virtual_server {}: real_server", v.name),
            &v.real_servers,
            &w.real_servers,
            |r| r.address.to_string(),
            lines,
        );
    }
    for w in new.iter().filter(|w| !old_names.contains(w.name.as_str())) {
        lines.push(format!("virtual_server {} added", w.name));
    }
}

/// The top-level fields of two tables that differ (a field absent on one side counts).
fn fields_changed(a: &Value, b: &Value) -> Vec<String> {
    let empty = Map::new();
    let (a, b) = (
        a.as_object().unwrap_or(&empty),
        b.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::test_config as config;

    const BASE: &str = r#"
[global]
router_id = "lb1"
[[vrrp_instance]]
name = "VI_1"
interface = "eth1"
virtual_router_id = 51
priority = 150
virtual_ipaddress = ["10.0.0.100/32"]
[[vrrp_instance]]
name = "VI_2"
interface = "eth1"
virtual_router_id = 52
virtual_ipaddress = ["10.0.0.101/32"]
[[virtual_server]]
name = "web"
address = "10.0.0.100:80"
check = { type = "tcp" }
[[virtual_server.real_server]]
address = "10.0.1.1:80"
[[virtual_server.real_server]]
address = "10.0.1.2:80"
"#;

    #[test]
    fn the_same_file_changes_nothing() {
        assert!(changes(&config(BASE), &config(BASE)).is_empty());
    }

    #[test]
    fn only_the_changed_instance_restarts() {
        let new = BASE.replace("priority = 150", "priority = 200");
        let c = changes(&config(BASE), &config(&new));
        assert_eq!(c.vrrp_stop, vec!["VI_1"]);
        assert_eq!(c.vrrp_start, vec!["VI_1"]);
        assert_eq!(c.lines, vec!["vrrp_instance VI_1 changed: priority"]);
    }

    #[test]
    fn real_servers_added_removed_and_reweighted_leave_vrrp_alone() {
        let new = BASE.replace(
            "address = \"10.0.1.2:80\"\n",
            "address = \"10.0.1.3:80\"\n[[virtual_server.real_server]]\naddress = \"10.0.1.1:81\"\n",
        )
        .replace("address = \"10.0.1.1:80\"\n", "address = \"10.0.1.1:80\"\nweight = 3\n");
        let c = changes(&config(BASE), &config(&new));
        assert!(c.vrrp_stop.is_empty() && c.vrrp_start.is_empty());
        assert_eq!(
            c.lines,
            vec![
                "virtual_server web: real_server 10.0.1.1:80 changed: weight",
                "virtual_server web: real_server 10.0.1.2:80 removed",
                "virtual_server web: real_server 10.0.1.3:80 added",
                "virtual_server web: real_server 10.0.1.1:81 added",
            ]
        );
    }

    #[test]
    fn instances_added_and_removed_and_settings_read_at_start() {
        let new = BASE.replace("name = \"VI_2\"", "name = \"VI_3\"").replace(
            "router_id = \"lb1\"",
            "router_id = \"lb1\"\nstate_dir = \"/run/h2\"",
        );
        let c = changes(&config(BASE), &config(&new));
        assert_eq!(c.vrrp_stop, vec!["VI_2"]);
        assert_eq!(c.vrrp_start, vec!["VI_3"]);
        assert_eq!(
            c.lines,
            vec![
                // The control socket's default lives in the state directory; with a
                // state_dir of one's own, the drains do too (saved there from now on).
                "global.control_socket changed (takes effect when haldir restarts)",
                "global.drain_dir changed",
                "global.state_dir changed (takes effect when haldir restarts)",
                "vrrp_instance VI_2 removed",
                "vrrp_instance VI_3 added",
            ]
        );
    }
}
