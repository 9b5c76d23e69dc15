//! `vrrp_script` → `[[track_script]]`.

use super::emit::V;
use super::mapper::Mapper;
use super::scripts::Trailing;
use super::tree::Node;

impl Mapper {
    pub(super) fn vrrp_script(&mut self, n: &Node) {
        let Some(name) = self.one(n) else { return };
        if !self.scripts.iter().any(|s| s == name) {
            // vrrp/vrrp_parser.c: "No script set for vrrp_script %s - removing".
            self.warn(
                n,
                "keepalived removes a vrrp_script without `script` (\"No script set\")",
            );
            return;
        }
        let mut keys: Vec<(String, V)> = vec![("name".into(), V::str(name))];
        // keepalived's defaults, written out: interval 1 s, timeout = interval, rise/fall 1.
        let mut interval = "1s".to_string();
        let mut timeout = None;
        let (mut rise, mut fall) = (1, 1);
        for c in n.children() {
            match c.key.as_str() {
                "script" => {
                    if let Some(cmd) = self.script_command(c, Trailing::Ignored) {
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
                // vrrp/vrrp_parser.c vrrp_vscript_init_fail_handler: starts failed.
                "init_fail" => keys.push(("init_fail".into(), V::Bool(true))),
                "fall" => fall = self.int(c).unwrap_or(fall),
                // Taken where instances track the script (haldir's weight is per reference).
                "weight" if c.args.len() == 1 => {}
                "user" => self.script_runs_as(c, &c.args),
                _ => self.unmapped(c),
            }
        }
        self.doc.header_from("[[track_script]]", n);
        self.doc.set_all(&keys);
        self.doc.set("interval", &V::str(&interval));
        self.doc
            .set("timeout", &V::Str(timeout.unwrap_or(interval)));
        self.doc.set("rise", &V::Int(rise));
        self.doc.set("fall", &V::Int(fall));
    }
}
