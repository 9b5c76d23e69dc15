//! The mapping from keepalived's statements to haldir's keys. Every statement is either
//! mapped or recorded as a loss with its file and line: nothing is dropped silently.

use std::collections::HashMap;

use super::emit::{Doc, V, duration};
use super::tree::Node;

/// A statement with no haldir equivalent (or not fully expressible).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
    pub file: usize,
    pub line: usize,
    pub what: String,
}

/// A notify FIFO's keys, and its script's statement (for the warning when it has no path).
pub type FifoKeys = (Vec<(String, V)>, Option<Node>);

/// Defaults from `global_defs` that instances and checks inherit.
#[derive(Debug, Default)]
pub struct Globals {
    pub vrrp_version: Option<i64>,
    pub garp: Vec<(String, V)>,
    /// global_defs has both notification_email and smtp_server: keepalived can mail.
    pub email: bool,
    /// global_defs has lvs_sync_daemon.
    pub sync_daemon: bool,
    /// vrrp_no_swap or checker_no_swap was read (one warning for both).
    pub no_swap_seen: bool,
    /// global_defs' vrrp_check_unicast_src.
    pub check_unicast_src: bool,
    /// The top-level `net_namespace`.
    pub net_namespace: Option<String>,
    /// notify_fifo, vrrp_notify_fifo, lvs_notify_fifo: their path and command.
    pub fifos: std::collections::BTreeMap<String, FifoKeys>,
}

pub struct Mapper {
    pub doc: Doc,
    pub losses: Vec<Loss>,
    /// Carried over as keepalived behaves, but worth the operator's attention.
    pub warnings: Vec<Loss>,
    pub globals: Globals,
    /// vrrp_script weights: applied where an instance tracks the script without its own.
    pub script_weights: HashMap<String, i64>,
    /// virtual_server_group entries by group name.
    pub groups: HashMap<String, Vec<Node>>,
    /// VRRP instances' router ids, for the sync daemon's default id.
    pub vrids: HashMap<String, i64>,
    /// The vrrp_instance names, and the vrrp_script names keepalived keeps (those with a
    /// `script`): references to others are ignored as keepalived ignores them.
    pub instances: Vec<String>,
    pub scripts: Vec<String>,
    /// The first `lvs_sync_daemon_interface` of an instance (keepalived 1.x's form): the
    /// interface and the instance, whose sync daemon follows it.
    pub legacy_sync: Option<(String, String)>,
    /// Top-level track_file blocks by name, for FILE_CHECK; those a FILE_CHECK used.
    pub track_files: HashMap<String, Node>,
    pub used_track_files: std::collections::HashSet<String>,
    /// The user every script runs as, when the file's scripts share one (see scripts.rs).
    pub script_user: Option<String>,
    /// Instances of sync groups without sync_group_tracking_weight (see weights.rs).
    pub untracked_members: Vec<String>,
    /// Where each vrrp_script and the instance being mapped stand among the top-level
    /// statements: keepalived resolves a track_script entry when it reads it.
    pub script_pos: HashMap<String, usize>,
    pub instance_pos: usize,
    /// Each instance's (interface, IPv6, VRID) and name, for the duplicates keepalived refuses.
    pub routers: Vec<((String, bool, i64), String)>,
    /// The family (IPv6 or not) of the first service of each fwmark: the same mark in the
    /// other family is another IPVS service, which needs a name of its own.
    pub fwmarks: HashMap<i64, bool>,
    /// The protocol of the first service on each address and port: the same address under
    /// another protocol is another IPVS service, which needs a name of its own.
    pub addresses: HashMap<String, String>,
    /// Statements that end keepalived's VRRP process, as (file, line): reported once for that,
    /// and nothing else is said of them.
    pub ended: std::collections::HashSet<(usize, usize)>,
}

impl Mapper {
    pub fn new() -> Self {
        Mapper {
            doc: Doc::default(),
            losses: Vec::new(),
            warnings: Vec::new(),
            fwmarks: HashMap::new(),
            addresses: HashMap::new(),
            ended: Default::default(),
            globals: Globals::default(),
            script_weights: HashMap::new(),
            groups: HashMap::new(),
            vrids: HashMap::new(),
            instances: Vec::new(),
            scripts: Vec::new(),
            legacy_sync: None,
            track_files: HashMap::new(),
            used_track_files: std::collections::HashSet::new(),
            script_user: None,
            untracked_members: Vec::new(),
            script_pos: HashMap::new(),
            instance_pos: 0,
            routers: Vec::new(),
        }
    }

    /// A statement whose missing value ends keepalived's VRRP process (lib/parser.c
    /// null_strvec): reported as that, the rest of the file converted as it reads.
    fn ends_without_value(&mut self, nodes: &[Node]) {
        const BLOCKS: &[&str] = &[
            "global_defs",
            "vrrp_instance",
            "vrrp_script",
            "vrrp_sync_group",
        ];
        for b in nodes.iter().filter(|n| BLOCKS.contains(&n.key.as_str())) {
            for c in b.children() {
                if c.args.is_empty()
                    && c.block.is_none()
                    && super::keywords::ends_without_value(&b.key, &c.key)
                {
                    let what = format!(
                        "no value: keepalived does not start its VRRP process with this file (\"Configuration line starting `{}` is missing a parameter\", then \"exited with permanent error CONFIG\")",
                        c.key
                    );
                    self.lost(c, &what);
                    self.ended.insert((c.file, c.line));
                }
            }
        }
    }

    /// A statement haldir has no mapping for: a loss, unless keepalived does not know the
    /// keyword either and skips it.
    pub fn unmapped(&mut self, n: &Node) {
        if super::keywords::known(&n.key) {
            self.lost(n, "no haldir equivalent");
        } else {
            self.warn(
                n,
                "keepalived does not know this keyword (\"Unknown keyword\") and skips it",
            );
        }
    }

    /// A statement not carried over. An empty block carries nothing, so it is no loss; a
    /// statement mapped once per member of a `virtual_server_group` is reported once.
    pub fn lost(&mut self, n: &Node, why: &str) {
        if n.block.as_ref().is_some_and(Vec::is_empty) {
            return;
        }
        self.lost_even_empty(n, why);
    }

    /// A statement not carried over, even an empty block (a checker with its defaults).
    pub fn lost_even_empty(&mut self, n: &Node, why: &str) {
        if self.ended.contains(&(n.file, n.line)) {
            return;
        }
        let loss = located(n, why);
        if !self.losses.contains(&loss) {
            self.losses.push(loss);
        }
    }

    /// A statement carried over as keepalived behaves, with a word for the operator.
    pub fn warn(&mut self, n: &Node, why: &str) {
        if self.ended.contains(&(n.file, n.line)) {
            return;
        }
        let warning = located(n, why);
        if !self.warnings.contains(&warning) {
            self.warnings.push(warning);
        }
    }

    /// keepalived's boolean: no value is true; yes/no, true/false, on/off.
    pub fn boolean(&mut self, n: &Node) -> Option<bool> {
        // lib/parser.c check_true_false: lower case only.
        match n.arg(0) {
            None | Some("yes" | "true" | "on") => Some(true),
            Some("no" | "false" | "off") => Some(false),
            Some(_) => {
                self.warn(n, "keepalived takes only yes/no, true/false, on/off (lower case) and rejects this: left unset");
                None
            }
        }
    }

    /// A `smtp_alert` switch: kept where global_defs says where to mail, else dropped as
    /// keepalived mails nothing then.
    pub fn smtp_alert(&mut self, n: &Node, on: bool, keys: &mut Vec<(String, V)>) {
        if self.globals.email {
            keys.push(("smtp_alert".into(), V::Bool(on)));
        } else if on {
            self.warn(
                n,
                "keepalived mails nothing without notification_email and smtp_server in global_defs",
            );
        }
    }

    /// The statement's single argument, or a loss when it has none.
    pub fn one<'n>(&mut self, n: &'n Node) -> Option<&'n str> {
        match n.arg(0) {
            Some(a) => Some(a),
            None => {
                self.lost(n, "no value");
                None
            }
        }
    }

    pub fn int(&mut self, n: &Node) -> Option<i64> {
        let a = self.one(n)?;
        match a.parse() {
            Ok(v) => Some(v),
            Err(_) => {
                self.lost(n, "not a whole number");
                None
            }
        }
    }

    pub fn timer(&mut self, n: &Node) -> Option<String> {
        let a = self.one(n)?;
        match duration(a) {
            Some(d) => Some(d),
            None => {
                self.lost(n, "not a time in seconds");
                None
            }
        }
    }

    /// The whole document: the top-level statements in order of kind (globals first, so that
    /// their defaults reach what follows).
    pub fn map(&mut self, nodes: &[Node]) {
        // Pass 1: what later sections refer to.
        for (pos, n) in nodes.iter().enumerate() {
            match n.key.as_str() {
                "vrrp_script" => {
                    if let Some(name) = n.arg(0)
                        && n.children()
                            .iter()
                            .any(|c| c.key == "script" && c.arg(0).is_some())
                    {
                        self.scripts.push(name.to_string());
                        self.script_pos.entry(name.to_string()).or_insert(pos);
                    }
                    if let (Some(name), Some(w)) =
                        (n.arg(0), n.children().iter().find(|c| c.key == "weight"))
                        && let Some(v) = w.arg(0).and_then(|v| v.parse().ok())
                    {
                        self.script_weights.insert(name.to_string(), v);
                    }
                }
                "virtual_server_group" => {
                    if let Some(name) = n.arg(0) {
                        self.groups.insert(name.to_string(), n.children().to_vec());
                    }
                }
                "track_file" | "vrrp_track_file" => {
                    if let Some(name) = n.arg(0) {
                        self.track_files.insert(name.to_string(), n.clone());
                    }
                }
                "vrrp_instance" => {
                    if let Some(name) = n.arg(0) {
                        self.instances.push(name.to_string());
                        let legacy = n
                            .children()
                            .iter()
                            .find(|c| c.key == "lvs_sync_daemon_interface");
                        if let (None, Some(iface)) =
                            (&self.legacy_sync, legacy.and_then(|c| c.arg(0)))
                        {
                            self.legacy_sync = Some((iface.to_string(), name.to_string()));
                        }
                    }
                    if let (Some(name), Some(id)) = (
                        n.arg(0),
                        n.children()
                            .iter()
                            .find(|c| c.key == "virtual_router_id")
                            .and_then(|c| c.arg(0))
                            .and_then(|v| v.parse().ok()),
                    ) {
                        self.vrids.insert(name.to_string(), id);
                    }
                }
                _ => {}
            }
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
        for n in of("virtual_server") {
            self.virtual_server(n);
        }
        self.statics(nodes);
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
                self.lost(n, "closes nothing: keepalived ignores it (\"Unknown keyword '}'\"), but the blocks before it may not be what the file meant");
            } else {
                self.unmapped(n);
            }
        }
    }

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
            self.doc.from_block(first);
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
    pub fn garp(&mut self, n: &Node, keyword: &str, garp: &mut Vec<(String, V)>) {
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

/// The first shell construct in a command's words, unless the command is a shell given `-c`:
/// keepalived 2 and haldir run scripts without a shell, so such a word reaches the program
/// as an argument.
pub fn shell_syntax(argv: &[String]) -> Option<&'static str> {
    const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "ash"];
    let program = argv.first().and_then(|p| p.rsplit('/').next());
    if program.is_some_and(|p| SHELLS.contains(&p)) && argv.iter().any(|a| a == "-c") {
        return None;
    }
    const CONSTRUCTS: &[&str] = &["&&", "||", "|", ";", ">", "<", "$(", "`"];
    argv.iter()
        .skip(1)
        .find_map(|w| CONSTRUCTS.iter().find(|c| w.contains(**c)).copied())
}

/// The statement as written (block contents elided), with why it is reported.
fn located(n: &Node, why: &str) -> Loss {
    let mut what = n.key.clone();
    if !n.args.is_empty() {
        what.push(' ');
        what.push_str(&n.args.join(" "));
    }
    if n.block.is_some() {
        what.push_str(" { … }");
    }
    Loss {
        file: n.file,
        line: n.line,
        what: format!("{what}: {why}"),
    }
}

/// keepalived's GARP keywords: haldir's key, and whether the value is a time.
pub fn garp_key(keyword: &str) -> Option<(&'static str, bool)> {
    match keyword {
        "garp_master_delay" => Some(("delay", true)),
        "garp_master_repeat" => Some(("repeat", false)),
        "garp_master_refresh" => Some(("refresh", true)),
        "garp_master_refresh_repeat" => Some(("refresh_repeat", false)),
        "garp_interval" => Some(("interval", true)),
        "gna_interval" => Some(("na_interval", true)),
        _ => None,
    }
}

impl Default for Mapper {
    fn default() -> Self {
        Self::new()
    }
}
