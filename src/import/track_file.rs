//! keepalived's `track_file` (and its old name `vrrp_track_file`) as VRRP instances track it →
//! `[[track_file]]` and the instances' `track_file` lists (trackers/track_file.c for the block,
//! vrrp/vrrp_parser.c and track_file.c vrrp_alloc_track_file for an instance's entries, 2.2.7).

use std::collections::HashSet;

use super::emit::V;
use super::mapper::Mapper;
use super::tree::Node;

/// keepalived's range for a track file's weight, narrower than its manual says.
const WEIGHTS: std::ops::RangeInclusive<i64> = -254..=254;

impl Mapper {
    /// The top-level track files some instance tracks, read before the instances: their
    /// places among the statements, for the entries that name them, and their keys.
    pub(super) fn vrrp_track_files(&mut self, nodes: &[Node]) {
        let tracked: HashSet<&str> = nodes
            .iter()
            .filter(|n| n.key == "vrrp_instance")
            .flat_map(|n| n.children())
            .filter(|c| c.key == "track_file")
            .flat_map(|c| c.children())
            .map(|e| e.key.as_str())
            .collect();
        for (pos, n) in nodes.iter().enumerate() {
            let Some(name) = n.arg(0) else { continue };
            if !matches!(n.key.as_str(), "track_file" | "vrrp_track_file")
                || !tracked.contains(name)
            {
                continue;
            }
            // keepalived drops a file nothing tracks (track_file.c, init_track_files): one an
            // instance names is never a loss, even if that entry is dropped later.
            self.used_track_files.insert(name.to_string());
            let Some(keys) = self.track_file_block(n, name) else {
                continue;
            };
            self.vrrp_track_files
                .insert(name.to_string(), (pos, int_of(&keys, "weight")));
            self.track_file_tables.push((n.clone(), keys));
        }
    }

    /// The track files the converted instances track, as `[[track_file]]`.
    pub(super) fn emit_vrrp_track_files(&mut self) {
        for (n, keys) in std::mem::take(&mut self.track_file_tables) {
            let name = entry_name_keys(&keys).unwrap_or_default().to_string();
            if self.tracked_files.contains(&name) {
                self.doc.header_from("[[track_file]]", &n);
                self.doc.set_all(&keys);
            }
        }
    }

    /// `track_file NAME { file F  weight W [reverse]  init_file [VALUE] [overwrite] }`.
    fn track_file_block(&mut self, n: &Node, name: &str) -> Option<Vec<(String, V)>> {
        let mut keys = vec![("name".to_string(), V::str(name))];
        let mut file = None;
        for c in n.children() {
            match c.key.as_str() {
                "file" => file = c.arg(0).map(str::to_string),
                "weight" => {
                    if let Some(w) = self.file_weight(c) {
                        keys.push(("weight".into(), V::Int(w)));
                    }
                    match c.arg(1) {
                        Some("reverse") => keys.push(("reverse".into(), V::Bool(true))),
                        Some(other) => self.warn(
                            c,
                            &format!(
                                "keepalived takes only `reverse` after the weight, not \"{other}\""
                            ),
                        ),
                        None => {}
                    }
                }
                "init_file" => keys.push(("init".into(), self.init_file(c))),
                _ => self.unmapped(c),
            }
        }
        let Some(file) = file else {
            self.warn(
                n,
                "keepalived drops a track_file without `file` (\"No file set\")",
            );
            return None;
        };
        if !file.starts_with('/') {
            self.lost(n, "haldir takes the file's absolute path; keepalived resolves a relative one from its working directory");
            return None;
        }
        keys.insert(1, ("file".into(), V::Str(file)));
        Some(keys)
    }

    /// `weight W` within keepalived's range, else its default 1 (with its warning).
    fn file_weight(&mut self, c: &Node) -> Option<i64> {
        match c.arg(0).and_then(|w| w.parse::<i64>().ok()) {
            Some(w) if WEIGHTS.contains(&w) => Some(w),
            _ => {
                self.warn(c, "keepalived takes a weight of -254 to 254 here and uses 1 instead (\"must be between [-254..254]\")");
                None
            }
        }
    }

    /// `init_file [VALUE] [overwrite]`: a value first, if any (track_file.c).
    fn init_file(&mut self, c: &Node) -> V {
        let mut keys = Vec::new();
        let mut args = c.args.iter().peekable();
        let value = args.peek().and_then(|a| a.parse::<i64>().ok());
        if value.is_some() {
            args.next();
        }
        keys.push(("value".to_string(), V::Int(value.unwrap_or(0))));
        for a in args {
            match a.as_str() {
                "overwrite" => keys.push(("overwrite".into(), V::Bool(true))),
                other => self.warn(c, &format!("keepalived does not know \"{other}\" here")),
            }
        }
        V::Table(keys)
    }

    /// An instance's `track_file { NAME [weight W [reverse|noreverse]] }`: each must name a
    /// track file defined before the instance (keepalived looks it up as it reads the entry).
    pub(super) fn instance_track_files(&mut self, n: &Node, out: &mut Vec<V>) {
        for t in n.children() {
            if self.used_track_files.contains(&t.key) && !self.vrrp_track_files.contains_key(&t.key)
            {
                continue; // the block's loss or warning says why
            }
            let pos = self.vrrp_track_files.get(&t.key).map(|(p, _)| *p);
            if pos.is_none_or(|p| p > self.instance_pos) {
                self.warn(t, "keepalived ignores a tracked file it does not know at this point of the file (\"track file … not found, ignoring\"), and so does this conversion");
                continue;
            }
            if out.iter().any(|e| entry_name(e) == Some(t.key.as_str())) {
                self.warn(t, "keepalived ignores a duplicate track_file entry");
                continue;
            }
            if let Some(entry) = self.track_file_entry(t) {
                out.push(V::Table(entry));
            }
        }
    }

    /// `NAME [weight W [reverse|noreverse]]` as track_file.c vrrp_alloc_track_file reads it:
    /// another word than `weight`, a weight without value or another word than (no)reverse
    /// and keepalived ignores the whole entry; a weight out of range falls back to the file's.
    fn track_file_entry(&mut self, t: &Node) -> Option<Vec<(String, V)>> {
        let mut entry = vec![("name".to_string(), V::str(&t.key))];
        let ignored = |m: &mut Self, why: &str| {
            m.warn(
                t,
                &format!("keepalived ignores this entry ({why}), and so does this conversion"),
            );
            None
        };
        match t.args.first().map(String::as_str) {
            None => return Some(entry),
            Some("weight") => {}
            Some(_) => return ignored(self, "\"unknown track file option\""),
        }
        let Some(w) = t.args.get(1) else {
            return ignored(self, "\"weight without value\"");
        };
        match w.parse::<i64>() {
            Ok(w) if WEIGHTS.contains(&w) => entry.push(("weight".into(), V::Int(w))),
            _ => self.warn(
                t,
                "keepalived takes a weight of -254 to 254 and falls back to the file's",
            ),
        }
        match t.args.get(2).map(String::as_str) {
            None => {}
            Some("reverse") => entry.push(("reverse".into(), V::Bool(true))),
            Some("noreverse") => entry.push(("reverse".into(), V::Bool(false))),
            Some(_) => return ignored(self, "\"unknown track file weight option\""),
        }
        Some(entry)
    }

    /// On an address owner, or a sync group's instance without sync_group_tracking_weight,
    /// keepalived (vrrp/vrrp.c, vrrp_complete_instance) tracks a file with weight 0 if its
    /// weight was left at the default 1, and not at all if it has another.
    pub(super) fn unweighted_track_files(
        &mut self,
        why: &str,
        block: Option<&Node>,
        list: &mut Vec<V>,
    ) {
        list.retain_mut(|entry| {
            let V::Table(keys) = entry else { return true };
            let name = entry_name_keys(keys).unwrap_or_default().to_string();
            let own = self.vrrp_track_files.get(&name).and_then(|(_, w)| *w);
            let weight = int_of(keys, "weight").or(own);
            let at = block.and_then(|b| b.children().iter().find(|c| c.key == name));
            // keepalived compares with its default (vrrp.c: tfl->weight == 1), written or not.
            match weight {
                Some(0) => true,
                None | Some(1) => {
                    keys.retain(|(k, _)| k != "weight");
                    keys.push(("weight".into(), V::Int(0)));
                    if let Some(n) = at {
                        self.warn(n, &format!("keepalived tracks it with weight 0 on {why} (a value other than 0 means FAULT), and so does this conversion"));
                    }
                    true
                }
                Some(_) => {
                    if let Some(n) = at {
                        self.warn(n, &format!("keepalived ignores a weighted track_file on {why}, and so does this conversion"));
                    }
                    false
                }
            }
        });
    }
}

fn int_of(keys: &[(String, V)], key: &str) -> Option<i64> {
    keys.iter().find_map(|(k, v)| match (k == key, v) {
        (true, V::Int(n)) => Some(*n),
        _ => None,
    })
}

fn entry_name_keys(keys: &[(String, V)]) -> Option<&str> {
    keys.iter().find_map(|(k, v)| match (k.as_str(), v) {
        ("name", V::Str(s)) => Some(s.as_str()),
        _ => None,
    })
}

fn entry_name(e: &V) -> Option<&str> {
    let V::Table(keys) = e else { return None };
    entry_name_keys(keys)
}
