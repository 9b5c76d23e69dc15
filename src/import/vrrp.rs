//! `vrrp_script`, `vrrp_instance` and `vrrp_sync_group` → `[[track_script]]`,
//! `[[vrrp_instance]]` and `[[vrrp_sync_group]]`.

use super::emit::V;
use super::map::Mapper;
use super::preprocess::split_command;
use super::tree::Node;

/// A script keyword's command: the (quoted) string split into arguments. Words after it name
/// a user, which haldir does not take per script.
fn command(m: &mut Mapper, n: &Node) -> Option<V> {
    let text = m.one(n)?;
    let argv = split_command(text);
    if argv.is_empty() {
        m.lost(n, "empty command");
        return None;
    }
    if n.args.len() > 1 {
        m.lost(n, "haldir runs every script as global.script_user");
    }
    warn_shell(m, n, &argv);
    Some(V::strs(&argv))
}

/// A warning for a script written as if a shell ran it.
pub(super) fn warn_shell(m: &mut Mapper, n: &Node, argv: &[String]) {
    if let Some(c) = super::map::shell_syntax(argv) {
        m.warn(
            n,
            &format!(
                "runs without a shell, as in keepalived 2: \"{c}\" reaches the program as an argument (write [\"/bin/sh\", \"-c\", \"…\"] if a shell is meant)"
            ),
        );
    }
}

impl Mapper {
    pub(super) fn vrrp_script(&mut self, n: &Node) {
        let Some(name) = self.one(n) else { return };
        let mut keys: Vec<(String, V)> = vec![("name".into(), V::str(name))];
        // keepalived's defaults, written out: interval 1 s, timeout = interval, rise/fall 1.
        let mut interval = "1s".to_string();
        let mut timeout = None;
        let (mut rise, mut fall) = (1, 1);
        for c in n.children() {
            match c.key.as_str() {
                "script" => {
                    if let Some(cmd) = command(self, c) {
                        keys.push(("command".into(), cmd));
                    }
                }
                "interval" => {
                    if let Some(d) = self.timer(c) {
                        interval = d;
                    }
                }
                "timeout" => timeout = self.timer(c),
                "rise" => rise = self.int(c).unwrap_or(rise),
                "fall" => fall = self.int(c).unwrap_or(fall),
                // Taken where instances track the script (haldir's weight is per reference).
                "weight" if c.args.len() == 1 => {}
                "user" => self.lost(c, "haldir runs every script as global.script_user"),
                _ => self.lost(c, "no haldir equivalent"),
            }
        }
        self.doc.header("[[track_script]]");
        self.doc.set_all(&keys);
        self.doc.set("interval", &V::str(&interval));
        self.doc
            .set("timeout", &V::Str(timeout.unwrap_or(interval)));
        self.doc.set("rise", &V::Int(rise));
        self.doc.set("fall", &V::Int(fall));
    }

    pub(super) fn vrrp_instance(&mut self, n: &Node) {
        let Some(name) = self.one(n) else { return };
        let mut keys: Vec<(String, V)> = vec![("name".into(), V::str(name))];
        let mut notes: Vec<String> = Vec::new();
        let mut notify: Vec<(String, V)> = Vec::new();
        let mut garp = self.globals.garp.clone();
        let mut vips: Vec<String> = Vec::new();
        let mut version = self.globals.vrrp_version;
        let mut interface = None;
        let mut priority = 100;
        for c in n.children() {
            let key = c.key.as_str();
            match key {
                "interface" => {
                    if let Some(v) = self.one(c) {
                        interface = Some(v.to_string());
                        keys.push(("interface".into(), V::str(v)));
                    }
                }
                "virtual_router_id" => {
                    if let Some(v) = self.int(c) {
                        keys.push(("virtual_router_id".into(), V::Int(v)));
                    }
                }
                "priority" => priority = self.int(c).unwrap_or(priority),
                "advert_int" => {
                    if let Some(d) = self.timer(c) {
                        keys.push(("advert_interval".into(), V::Str(d)));
                    }
                }
                "version" => version = self.int(c),
                "nopreempt" => keys.push(("preempt".into(), V::Bool(false))),
                "preempt" => {}
                "preempt_delay" => {
                    if let Some(d) = self.timer(c) {
                        keys.push(("preempt_delay".into(), V::Str(d)));
                    }
                }
                "state" => {
                    notes.push(format!(
                        "keepalived's `state {}` is not needed: every instance starts as BACKUP and the priority decides (RFC 9568)",
                        c.arg(0).unwrap_or("")
                    ));
                }
                "virtual_ipaddress" => {
                    for e in c.children() {
                        if let Some(v) = self.vip(e, interface.as_deref()) {
                            vips.push(v);
                        }
                    }
                }
                "unicast_src_ip" | "mcast_src_ip" => {
                    if let Some(v) = self.one(c) {
                        keys.push(("unicast_source".into(), V::str(v)));
                    }
                }
                "unicast_peer" => {
                    let peers: Vec<String> = c
                        .children()
                        .iter()
                        .map(|p| {
                            if !p.args.is_empty() {
                                self.lost(p, "peer options (min_ttl, max_ttl) are not kept");
                            }
                            p.key.clone()
                        })
                        .collect();
                    keys.push(("unicast_peers".into(), V::strs(&peers)));
                }
                "authentication" => {
                    if let Some(a) = self.authentication(c) {
                        keys.push(("authentication".into(), a));
                    }
                }
                "track_interface" => {
                    let list = self.tracked(c, false);
                    keys.push(("track_interface".into(), V::Arr(list)));
                }
                "track_script" => {
                    let list = self.tracked(c, true);
                    keys.push(("track_script".into(), V::Arr(list)));
                }
                "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                    let slot = key.strip_prefix("notify_").unwrap_or("any");
                    if let Some(cmd) = command(self, c) {
                        notify.push((slot.to_string(), cmd));
                    }
                }
                k if super::map::garp_key(k).is_some() => self.garp(c, k, &mut garp),
                // haldir adds the VIPs as addresses of the host: it always accepts their traffic.
                "accept" => {}
                _ => self.lost(c, "no haldir equivalent"),
            }
        }
        keys.push(("priority".into(), V::Int(priority)));
        // keepalived: the global vrrp_version, else 2; IPv6 is always 3.
        let v6 = vips.iter().any(|v| v.contains(':'));
        let version = if v6 { 3 } else { version.unwrap_or(2) };
        keys.push(("version".into(), V::Int(version)));
        keys.push(("virtual_ipaddress".into(), V::strs(&vips)));
        if !garp.is_empty() {
            keys.push(("garp".into(), V::Table(garp)));
        }
        if !notify.is_empty() {
            keys.push(("notify".into(), V::Table(notify)));
        }
        self.doc.header("[[vrrp_instance]]");
        for note in &notes {
            self.doc.comment(note);
        }
        self.doc.set_all(&keys);
    }

    /// One `virtual_ipaddress` entry: `ADDR[/LEN] [dev IF] [label L] …`.
    fn vip(&mut self, e: &Node, interface: Option<&str>) -> Option<String> {
        let mut rest = e.args.iter();
        while let Some(opt) = rest.next() {
            match opt.as_str() {
                "dev" => {
                    let dev = rest.next();
                    if dev.map(String::as_str) != interface {
                        self.lost(e, "haldir puts the VIPs on the instance's interface");
                    }
                }
                _ => {
                    self.lost(e, &format!("address option \"{opt}\" is not kept"));
                    break;
                }
            }
        }
        Some(e.key.clone())
    }

    fn authentication(&mut self, n: &Node) -> Option<V> {
        let mut kind = None;
        let mut pass = None;
        for c in n.children() {
            match c.key.as_str() {
                "auth_type" => kind = c.arg(0).map(str::to_ascii_uppercase),
                "auth_pass" => pass = c.arg(0).map(str::to_string),
                _ => self.lost(c, "no haldir equivalent"),
            }
        }
        match (kind.as_deref(), pass) {
            (Some("PASS"), Some(p)) => {
                // keepalived uses only the first 8 characters.
                let p: String = p.chars().take(8).collect();
                Some(V::Table(vec![
                    ("type".into(), V::str("pass")),
                    ("password".into(), V::Str(p)),
                ]))
            }
            _ => {
                self.lost(n, "only auth_type PASS with auth_pass is supported");
                None
            }
        }
    }

    /// `track_interface { eth0 [weight N] }` / `track_script { name [weight N] }`.
    fn tracked(&mut self, n: &Node, scripts: bool) -> Vec<V> {
        let mut out = Vec::new();
        for t in n.children() {
            let mut entry = vec![("name".to_string(), V::str(&t.key))];
            let mut weight = None;
            let mut args = t.args.iter();
            while let Some(a) = args.next() {
                match a.as_str() {
                    "weight" => weight = args.next().and_then(|w| w.parse::<i64>().ok()),
                    "reverse" => self.lost(t, "haldir has no reverse tracking"),
                    "noreverse" => {}
                    other => self.lost(t, &format!("\"{other}\" not understood")),
                }
            }
            if scripts && weight.is_none() {
                weight = self.script_weights.get(&t.key).copied();
            }
            if let Some(w) = weight.filter(|w| *w != 0) {
                entry.push(("weight".into(), V::Int(w)));
            }
            out.push(V::Table(entry));
        }
        out
    }

    pub(super) fn sync_group(&mut self, n: &Node) {
        let Some(name) = self.one(n) else { return };
        let mut members = Vec::new();
        for c in n.children() {
            match c.key.as_str() {
                "group" => members.extend(c.children().iter().map(|m| m.key.clone())),
                _ => self.lost(
                    c,
                    "haldir's sync groups have no options: notify is per instance",
                ),
            }
        }
        self.doc.header("[[vrrp_sync_group]]");
        self.doc.set("name", &V::str(name));
        self.doc.set("instances", &V::strs(&members));
    }
}
