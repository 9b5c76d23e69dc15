//! The mapping from keepalived's statements to haldir's keys. Every statement is either
//! mapped or recorded as a loss with its file and line: nothing is dropped silently.

use super::emit::{V, duration};
use super::mapper::Mapper;
use super::tree::Node;

impl Mapper {
    /// The whole document: the top-level statements in order of kind (globals first, so that
    /// their defaults reach what follows).
    pub(super) fn map(&mut self, nodes: &[Node]) {
        // Pass 1: what later sections refer to.
        for (pos, n) in nodes.iter().enumerate() {
            self.note(pos, n);
        }
        self.ends_without_value(nodes);
        self.script_user = super::scripts::file_identity(nodes);
        self.untracked_members = super::weights::untracked_members(nodes);
        let of = |k: &'static str| nodes.iter().filter(move |n| n.key == k);
        if let Some(n) = nodes.iter().rfind(|n| n.key == "net_namespace") {
            self.globals.net_namespace = self.one(n).map(str::to_string);
        }
        let globals: Vec<&Node> = of("global_defs").collect();
        self.global_defs(&globals);
        for n in of("vrrp_script") {
            self.vrrp_script(n);
        }
        self.vrrp_track_files(nodes);
        for (pos, n) in nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.key == "vrrp_instance")
        {
            self.instance_pos = pos;
            self.vrrp_instance(n);
        }
        for n in of("vrrp_sync_group") {
            self.sync_group(n);
        }
        self.emit_vrrp_track_files();
        for n in of("virtual_server") {
            self.virtual_server(n);
        }
        self.statics(nodes);
        self.rest(nodes);
    }

    /// Notes what later sections refer to: scripts and their weights, server groups, track
    /// files, instances with their VRIDs and a legacy sync daemon.
    fn note(&mut self, pos: usize, n: &Node) {
        let Some(name) = n.arg(0) else { return };
        let child = |key: &str| n.children().iter().find(|c| c.key == key);
        match n.key.as_str() {
            "vrrp_script" => {
                if n.children()
                    .iter()
                    .any(|c| c.key == "script" && c.arg(0).is_some())
                {
                    self.scripts.push(name.to_string());
                    self.script_pos.entry(name.to_string()).or_insert(pos);
                }
                if let Some(v) = child("weight").and_then(|w| w.arg(0)?.parse().ok()) {
                    self.script_weights.insert(name.to_string(), v);
                }
            }
            "virtual_server_group" => {
                self.groups.insert(name.to_string(), n.children().to_vec());
            }
            "track_file" | "vrrp_track_file" => {
                self.track_files.insert(name.to_string(), n.clone());
            }
            "vrrp_instance" => {
                self.instances.push(name.to_string());
                let legacy = child("lvs_sync_daemon_interface").and_then(|c| c.arg(0));
                if let (None, Some(iface)) = (&self.legacy_sync, legacy) {
                    self.legacy_sync = Some((iface.to_string(), name.to_string()));
                }
                if let Some(id) = child("virtual_router_id").and_then(|c| c.arg(0)?.parse().ok()) {
                    self.vrids.insert(name.to_string(), id);
                }
            }
            _ => {}
        }
    }

    /// The top-level statements no section took: a loss each, or keepalived's own warning.
    fn rest(&mut self, nodes: &[Node]) {
        const MAPPED: &[&str] = &[
            "static_ipaddress",
            "static_routes",
            "static_rules",
            "global_defs",
            "net_namespace",
            "vrrp_script",
            "vrrp_instance",
            "vrrp_sync_group",
            "virtual_server",
            "virtual_server_group",
        ];
        let used = |n: &Node| {
            (n.key == "track_file" || n.key == "vrrp_track_file")
                && n.arg(0).is_some_and(|a| self.used_track_files.contains(a))
        };
        let rest: Vec<&Node> = nodes
            .iter()
            .filter(|n| !MAPPED.contains(&n.key.as_str()) && !used(n))
            .collect();
        for n in rest {
            if n.key == "}" {
                self.warn(n, "closes nothing: keepalived ignores it (\"Unknown keyword '}'\"), and so does this conversion; the blocks before it may not be what the file meant");
            } else {
                self.unmapped_in(None, n);
            }
        }
    }

    /// The global_defs blocks. Long because it is keepalived's keyword table for global_defs
    /// (global_parser.c), one arm per keyword, read side by side with it.
    fn global_defs(&mut self, blocks: &[&Node]) {
        let mut global: Vec<(String, V)> = Vec::new();
        let mut ipvs: Vec<(String, V)> = Vec::new();
        let mut mail = super::email::Mail::default();
        for n in blocks.iter().flat_map(|b| b.children()) {
            if n.key == "lvs_id" {
                self.warn(n, "keepalived 2 no longer knows lvs_id (1.x's router_id) and skips it: the router id is the host name, in keepalived as in haldir");
                continue;
            }
            if !super::keywords::in_global_defs(&n.key) {
                self.warn(n, "keepalived does not know this keyword in global_defs (\"Unknown keyword\") and skips it");
                continue;
            }
            if self.mail_keyword(n, &mut mail) || self.process_keyword(n, &mut global) {
                continue;
            }
            match n.key.as_str() {
                "router_id" => {
                    if let Some(v) = self.one(n) {
                        global.push(("router_id".into(), V::str(v)));
                    }
                }
                // Written below: the identity the file's scripts share.
                "script_user" => {
                    if n.args.len() > 1 && super::scripts::identity(&n.args[0], n.arg(1)).is_none() {
                        self.lost(n, "haldir runs scripts with the user's own group, not another one");
                    }
                }
                // haldir never runs scripts as root unless script_user = "root": what
                // enable_script_security asks for, always.
                "enable_script_security" => {}
                "vrrp_version" => self.globals.vrrp_version = self.int(n),
                k @ ("vrrp_lower_prio_no_advert" | "vrrp_higher_prio_send_advert") => {
                    let mut keys = std::mem::take(&mut self.globals.prio_adverts);
                    self.prio_advert(n, &k["vrrp_".len()..], &mut keys);
                    self.globals.prio_adverts = keys;
                }
                k if k
                    .strip_prefix("vrrp_")
                    .is_some_and(|g| garp_key(g).is_some()) =>
                {
                    let mut garp = std::mem::take(&mut self.globals.garp);
                    self.garp(n, &k["vrrp_".len()..], &mut garp);
                    self.globals.garp = garp;
                }
                "lvs_sync_daemon" => {
                    if let Some(t) = self.sync_daemon(n) {
                        ipvs.push(("sync_daemon".into(), t));
                    }
                }
                // Read where static addresses without `dev` go (see statics).
                "default_interface" => {}
                "vrrp_strict" => self.lost(n, "haldir has no strict mode: keepalived's refuses settings RFC 3768/9568 forbid and adds firewall rules that drop traffic to the VIPs"),
                // haldir never compares an advert's addresses with its own.
                "vrrp_skip_check_adv_addr" => {}
                "lvs_timeouts" => {
                    if let Some(t) = self.lvs_timeouts(n) {
                        ipvs.push(("timeouts".into(), t));
                    }
                }
                _ => self.unmapped(n),
            }
        }
        if let Some(u) = &self.script_user {
            global.push(("script_user".into(), V::str(u)));
        }
        self.fifo_tables(&mut global);
        // A top-level keyword in keepalived (core/global_parser.c install_keyword_root).
        if let Some(ns) = self.globals.net_namespace.take() {
            global.push(("net_namespace".into(), V::Str(ns)));
        }
        if let Some(first) = blocks.first() {
            self.doc.origin_block(first);
        }
        if !global.is_empty() {
            self.doc.header("[global]");
            self.doc.set_all(&global);
        }
        self.globals.sync_daemon = ipvs.iter().any(|(k, _)| k == "sync_daemon");
        if !self.globals.sync_daemon
            && let Some((iface, instance)) = self.legacy_sync.clone()
        {
            // vrrp_parser.c: the daemon follows the instance; its id defaults to the VRID.
            self.legacy_sync = Some((iface.clone(), instance.clone()));
            let mut t = vec![("interface".to_string(), V::Str(iface))];
            if let Some(id) = self.vrids.get(&instance) {
                t.push(("sync_id".into(), V::Int(*id)));
            }
            t.push(("vrrp_instance".into(), V::Str(instance)));
            ipvs.push(("sync_daemon".into(), V::Table(t)));
        }
        if !ipvs.is_empty() {
            self.doc.header("[ipvs]");
            self.doc.set_all(&ipvs);
        }
        if let Some(email) = self.mail_table(mail) {
            self.globals.email = true;
            self.doc.header("[email]");
            self.doc.set_all(&email);
        }
    }

    /// A `garp_master_*` setting into haldir's `garp` table (a later one replaces an earlier).
    pub(super) fn garp(&mut self, n: &Node, keyword: &str, garp: &mut Vec<(String, V)>) {
        let Some((key, timer)) = garp_key(keyword) else {
            return;
        };
        let value = if timer {
            self.timer(n).map(V::Str)
        } else {
            self.int(n).map(V::Int)
        };
        if let Some(v) = value {
            match garp.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = v,
                None => garp.push((key.to_string(), v)),
            }
        }
    }

    /// `lower_prio_no_advert` or `higher_prio_send_advert` (no value: on), a later one
    /// replacing an earlier.
    pub(super) fn prio_advert(&mut self, n: &Node, key: &str, keys: &mut Vec<(String, V)>) {
        let Some(on) = self.boolean(n) else { return };
        keys.retain(|(k, _)| k != key);
        keys.push((key.to_string(), V::Bool(on)));
    }

    /// `static_ipaddress`, `static_routes`, `static_rules` → `[static]`. An address without
    /// `dev` is on keepalived's default_interface (eth0 unless global_defs says otherwise).
    fn statics(&mut self, nodes: &[Node]) {
        let mut addresses = Vec::new();
        let (mut routes, mut rules) = (Vec::new(), Vec::new());
        let default_if = nodes
            .iter()
            .filter(|n| n.key == "global_defs")
            .flat_map(|n| n.children())
            .filter(|c| c.key == "default_interface")
            .find_map(|c| c.arg(0).map(str::to_string))
            .unwrap_or_else(|| "eth0".into());
        for n in nodes {
            match n.key.as_str() {
                "static_ipaddress" => {
                    for e in n.children() {
                        if let Some(mut v) = self.vip(e, None) {
                            if !v.split_whitespace().any(|w| w == "dev") {
                                self.warn(e, &format!("no dev: keepalived puts it on default_interface, {default_if}"));
                                v = format!("{v} dev {default_if}");
                            }
                            addresses.push(v);
                        }
                    }
                }
                "static_routes" => self.routing::<crate::config::route::Route>(n, &mut routes),
                "static_rules" => self.routing::<crate::config::route::Rule>(n, &mut rules),
                _ => {}
            }
        }
        let mut keys = Vec::new();
        for (k, list) in [
            ("addresses", addresses),
            ("routes", routes),
            ("rules", rules),
        ] {
            if !list.is_empty() {
                keys.push((k.to_string(), V::strs(&list)));
            }
        }
        if !keys.is_empty() {
            self.doc.header("[static]");
            self.doc.set_all(&keys);
        }
    }

    /// `lvs_sync_daemon IFACE [inst] VI [id N] [maxlen L] [port P] [ttl T] [group G]`
    fn sync_daemon(&mut self, n: &Node) -> Option<V> {
        let mut args = n.args.iter().map(String::as_str);
        let Some(iface) = args.next() else {
            self.lost(n, "no interface");
            return None;
        };
        let mut t = vec![("interface".to_string(), V::str(iface))];
        let mut instance = None;
        let mut id = None;
        while let Some(a) = args.next() {
            let key = match a {
                "inst" => {
                    instance = args.next();
                    continue;
                }
                "id" => "sync_id",
                "maxlen" => "max_len",
                "port" => "mcast_port",
                "ttl" => "mcast_ttl",
                "group" => {
                    if let Some(g) = args.next() {
                        t.push(("mcast_group".into(), V::str(g)));
                    }
                    continue;
                }
                other if instance.is_none() => {
                    instance = Some(other);
                    continue;
                }
                _ => {
                    self.lost(n, &format!("\"{a}\" not understood"));
                    continue;
                }
            };
            match args.next().and_then(|v| v.parse::<i64>().ok()) {
                Some(v) if key == "sync_id" => id = Some(v),
                Some(v) => t.push((key.to_string(), V::Int(v))),
                None => self.lost(n, &format!("{a} needs a number")),
            }
        }
        // keepalived's default id is the instance's virtual router id.
        let id = id.or_else(|| instance.and_then(|i| self.vrids.get(i).copied()));
        if let Some(id) = id {
            t.insert(1, ("sync_id".into(), V::Int(id)));
        }
        if let Some(i) = instance {
            t.push(("vrrp_instance".into(), V::str(i)));
        }
        Some(V::Table(t))
    }

    /// `lvs_timeouts [tcp S] [tcpfin S] [udp S]`
    fn lvs_timeouts(&mut self, n: &Node) -> Option<V> {
        let mut t = Vec::new();
        let mut args = n.args.iter();
        while let Some(k) = args.next() {
            let key = match k.as_str() {
                "tcp" => "tcp",
                "tcpfin" | "tcp_fin" => "tcp_fin",
                "udp" => "udp",
                other => {
                    self.lost(n, &format!("\"{other}\" not understood"));
                    continue;
                }
            };
            match args.next().and_then(|v| duration(v)) {
                Some(d) => t.push((key.to_string(), V::Str(d))),
                None => self.lost(n, &format!("{k} needs seconds")),
            }
        }
        (!t.is_empty()).then_some(V::Table(t))
    }
}

/// keepalived's GARP keywords: haldir's key, and whether the value is a time.
pub(super) fn garp_key(keyword: &str) -> Option<(&'static str, bool)> {
    match keyword {
        "garp_master_delay" => Some(("delay", true)),
        "garp_master_repeat" => Some(("repeat", false)),
        "garp_master_refresh" => Some(("refresh", true)),
        "garp_master_refresh_repeat" => Some(("refresh_repeat", false)),
        "garp_interval" => Some(("interval", true)),
        "gna_interval" => Some(("na_interval", true)),
        "garp_lower_prio_repeat" => Some(("lower_prio_repeat", false)),
        "garp_lower_prio_delay" => Some(("lower_prio_delay", true)),
        _ => None,
    }
}
