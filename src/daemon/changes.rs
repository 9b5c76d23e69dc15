//! What a reload changes: the running and the new configuration compared section by section,
//! as lines for people (`haldir reload` prints them) and as the VRRP instances to restart.
//! Pure: both configurations are compared through their serialized form, so a field added to
//! the model is covered without touching this file.

use serde_json::{Map, Value};

use crate::config::Config;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub lines: Vec<String>,
    /// VRRP instances to stop: removed or changed.
    pub vrrp_stop: Vec<String>,
    /// VRRP instances to start: added or changed.
    pub vrrp_start: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
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

pub fn changes(old: &Config, new: &Config) -> Changes {
    let mut out = Changes::default();
    if old == new {
        return out;
    }
    let (Ok(a), Ok(b)) = (serde_json::to_value(old), serde_json::to_value(new)) else {
        out.lines.push("configuration changed".into());
        return out;
    };
    let section = |v: &Value, k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    for field in fields_changed(&section(&a, "global"), &section(&b, "global")) {
        let when = if AT_RESTART.contains(&field.as_str()) {
            " (takes effect when haldir restarts)"
        } else {
            ""
        };
        out.lines.push(format!("global.{field} changed{when}"));
    }
    let vrrp = named(
        "vrrp_instance",
        &section(&a, "vrrp_instance"),
        &section(&b, "vrrp_instance"),
        "name",
        &mut out.lines,
    );
    for (name, kind) in vrrp {
        // Mail settings are read at each transition: changing them needs no restart.
        if kind == Kind::Changed && only_mail_changed(&a, &b, &name) {
            continue;
        }
        if kind != Kind::Added {
            out.vrrp_stop.push(name.clone());
        }
        if kind != Kind::Removed {
            out.vrrp_start.push(name);
        }
    }
    for s in ["vrrp_sync_group", "track_script"] {
        named(s, &section(&a, s), &section(&b, s), "name", &mut out.lines);
    }
    virtual_servers(
        &section(&a, "virtual_server"),
        &section(&b, "virtual_server"),
        &mut out.lines,
    );
    if section(&a, "fwmark") != section(&b, "fwmark") {
        out.lines.push("fwmark rules changed".into());
    }
    for s in ["netfilter", "ipvs", "realserver", "email", "static"] {
        let (x, y) = (section(&a, s), section(&b, s));
        if x == y {
            continue;
        }
        match (x.is_null(), y.is_null()) {
            (true, false) => out.lines.push(format!("[{s}] added")),
            (false, true) => out.lines.push(format!("[{s}] removed")),
            _ => {
                for field in fields_changed(&x, &y) {
                    out.lines.push(format!("{s}.{field} changed"));
                }
            }
        }
    }
    if out.lines.is_empty() {
        // Equal as serialized but not as values: say something rather than nothing.
        out.lines.push("configuration changed".into());
    }
    out
}

/// Whether an instance differs only in `smtp_alert`.
fn only_mail_changed(a: &Value, b: &Value, name: &str) -> bool {
    let find = |v: &Value| {
        v.get("vrrp_instance")
            .and_then(Value::as_array)
            .and_then(|l| l.iter().find(|i| i.get("name") == Some(&Value::from(name))))
            .cloned()
    };
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

/// Compares two lists of tables keyed by `key`; writes a line per difference and returns the
/// keys that differ.
fn named(
    what: &str,
    old: &Value,
    new: &Value,
    key: &str,
    lines: &mut Vec<String>,
) -> Vec<(String, Kind)> {
    let (old, new) = (by_key(old, key), by_key(new, key));
    let mut out = Vec::new();
    for (k, v) in &old {
        match new.iter().find(|(n, _)| n == k) {
            None => {
                lines.push(format!("{what} {k} removed"));
                out.push((k.clone(), Kind::Removed));
            }
            Some((_, w)) if w != v => {
                let fields = fields_changed(v, w).join(", ");
                lines.push(format!("{what} {k} changed: {fields}"));
                out.push((k.clone(), Kind::Changed));
            }
            Some(_) => {}
        }
    }
    for (k, _) in new.iter().filter(|(k, _)| !old.iter().any(|(o, _)| o == k)) {
        lines.push(format!("{what} {k} added"));
        out.push((k.clone(), Kind::Added));
    }
    out
}

/// Virtual servers, with their real servers compared one by one.
fn virtual_servers(old: &Value, new: &Value, lines: &mut Vec<String>) {
    let (old, new) = (by_key(old, "name"), by_key(new, "name"));
    for (name, v) in &old {
        let Some((_, w)) = new.iter().find(|(n, _)| n == name) else {
            lines.push(format!("virtual_server {name} removed"));
            continue;
        };
        if v == w {
            continue;
        }
        let fields: Vec<String> = fields_changed(v, w)
            .into_iter()
            .filter(|f| f != "real_server")
            .collect();
        if !fields.is_empty() {
            lines.push(format!(
                "virtual_server {name} changed: {}",
                fields.join(", ")
            ));
        }
        let rs = |x: &Value| x.get("real_server").cloned().unwrap_or(Value::Null);
        named(
            &format!("virtual_server {name}: real_server"),
            &rs(v),
            &rs(w),
            "address",
            lines,
        );
    }
    for (name, _) in new.iter().filter(|(n, _)| !old.iter().any(|(o, _)| o == n)) {
        lines.push(format!("virtual_server {name} added"));
    }
}

fn by_key(list: &Value, key: &str) -> Vec<(String, Value)> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    let k = match item.get(key) {
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                        None => String::new(),
                    };
                    (k, item.clone())
                })
                .collect()
        })
        .unwrap_or_default()
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
    use std::path::Path;

    fn config(text: &str) -> Config {
        crate::config::load_str(Path::new("t.toml"), text)
            .unwrap_or_else(|e| panic!("{e}"))
            .config
    }

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
                // The control socket's default lives in the state directory.
                "global.control_socket changed (takes effect when haldir restarts)",
                "global.state_dir changed (takes effect when haldir restarts)",
                "vrrp_instance VI_2 removed",
                "vrrp_instance VI_3 added",
            ]
        );
    }
}
