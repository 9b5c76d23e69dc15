//! keepalived configurations generated from its grammar, with the values that break
//! converters: out of range, zero, fractional, letter case and aliases, mixed address families,
//! one address in two blocks, one address and port under two protocols, port 0, sorry servers on
//! fwmark services, several URLs each with its own virtual host, repeated blocks, keywords in
//! the wrong block. The same seed gives the same file on every machine (a splitmix64 of its own,
//! not a library's generator whose stream may change between versions).

#![allow(dead_code)] // each test crate uses its part

use std::fmt::Write;

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 0..n
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }

    pub fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

/// The interfaces generated files use: created by the harness before keepalived runs.
pub const INTERFACES: &[&str] = &["eth0", "eth1", "bond0.100"];

const V4_VIPS: &[&str] = &["10.1.0.100", "10.1.0.101", "10.1.0.102", "192.168.50.10"];
const V6_VIPS: &[&str] = &["2001:db8::100", "2001:db8::101", "fd00:1::10"];
const V4_RS: &[&str] = &["10.2.0.11", "10.2.0.12", "10.2.0.13"];
const V6_RS: &[&str] = &["2001:db8:2::11", "2001:db8:2::12"];

/// One generated configuration.
pub fn config(seed: u64) -> String {
    let mut g = Gen {
        r: Rng::new(seed),
        out: String::new(),
        instances: Vec::new(),
        scripts: Vec::new(),
    };
    g.file();
    g.out
}

struct Gen {
    r: Rng,
    out: String,
    instances: Vec<String>,
    scripts: Vec<String>,
}

impl Gen {
    fn line(&mut self, depth: usize, text: &str) {
        let indent = if self.r.chance(10) { "\t" } else { "    " };
        let _ = writeln!(self.out, "{}{}", indent.repeat(depth), text);
    }

    fn one_of(&mut self, depth: usize, options: &[&str]) {
        let text = self.r.pick(options).to_string();
        self.line(depth, &text);
    }

    fn open(&mut self, depth: usize, head: &str) {
        // keepalived takes the brace on the same line or the next.
        if self.r.chance(10) {
            self.line(depth, head);
            self.line(depth, "{");
        } else {
            self.line(depth, &format!("{head} {{"));
        }
    }

    fn close(&mut self, depth: usize) {
        self.line(depth, "}");
    }

    fn num(&mut self, usual: &[&str], odd: &[&str]) -> String {
        if self.r.chance(25) {
            self.r.pick(odd).to_string()
        } else {
            self.r.pick(usual).to_string()
        }
    }

    fn v4_or_v6(&mut self, v4: &[&str], v6: &[&str], six_pct: u64) -> String {
        if self.r.chance(six_pct) {
            self.r.pick(v6).to_string()
        } else {
            self.r.pick(v4).to_string()
        }
    }

    fn file(&mut self) {
        if self.r.chance(70) {
            self.global_defs();
        }
        let scripts = self.r.below(3);
        for i in 0..scripts {
            self.vrrp_script(i);
        }
        let instances = self.r.below(4);
        for i in 0..instances {
            self.vrrp_instance(i);
        }
        if instances > 1 && self.r.chance(40) {
            self.sync_group();
        }
        let services = self.r.below(4);
        let mut used = Vec::new();
        for _ in 0..services {
            self.virtual_server(&mut used);
        }
        if self.r.chance(5) {
            // A keyword in the wrong block: keepalived's parser ignores it with a warning.
            self.line(0, "lb_algo rr");
        }
    }

    fn global_defs(&mut self) {
        self.open(0, "global_defs");
        let id = self.r.pick(&["LB1", "lvs_devel", "director-a"]).to_string();
        self.line(1, &format!("router_id {id}"));
        if self.r.chance(30) {
            let v = self.num(&["2", "3"], &["0", "4", "3.0", "1"]);
            self.line(1, &format!("vrrp_version {v}"));
        }
        if self.r.chance(30) {
            let d = self.num(&["1", "5", "10"], &["0", "0.5", "-1", "1000"]);
            self.line(1, &format!("vrrp_garp_master_delay {d}"));
        }
        if self.r.chance(20) {
            let r = self.num(&["1", "3"], &["0", "256"]);
            self.line(1, &format!("vrrp_garp_master_repeat {r}"));
        }
        if self.r.chance(15) {
            self.line(1, "enable_script_security");
        }
        if self.r.chance(15) {
            self.line(1, "script_user root");
        }
        if self.r.chance(10) {
            self.line(1, "vrrp_mcast_group4 224.0.0.18");
        }
        if self.r.chance(10) {
            self.line(1, "vrrp_skip_check_adv_addr");
        }
        if self.r.chance(10) {
            self.line(1, "vrrp_check_unicast_src");
        }
        if self.r.chance(5) {
            // An instance keyword in global_defs.
            self.line(1, "priority 100");
        }
        self.close(0);
    }

    fn vrrp_script(&mut self, i: usize) {
        let name = format!("chk_{i}");
        self.open(0, &format!("vrrp_script {name}"));
        let cmd = self
            .r
            .pick(&[
                "\"/bin/true\"",
                "/bin/true",
                "\"/bin/sh -c 'exit 0'\"",
                "\"killall -0 haproxy\"",
            ])
            .to_string();
        self.line(1, &format!("script {cmd}"));
        if self.r.chance(80) {
            let v = self.num(&["1", "2", "5"], &["0", "1.5", "-1", "100000"]);
            self.line(1, &format!("interval {v}"));
        }
        if self.r.chance(60) {
            let v = self.num(
                &["2", "-2", "-20", "10", "50"],
                &["0", "254", "-254", "255", "-256", "1.5"],
            );
            let reverse = if self.r.chance(10) { " reverse" } else { "" };
            self.line(1, &format!("weight {v}{reverse}"));
        }
        if self.r.chance(40) {
            let v = self.num(&["1", "2", "3"], &["0", "-1"]);
            self.line(1, &format!("fall {v}"));
        }
        if self.r.chance(40) {
            let v = self.num(&["1", "2"], &["0"]);
            self.line(1, &format!("rise {v}"));
        }
        if self.r.chance(30) {
            let v = self.num(&["1", "3"], &["0", "0.5"]);
            self.line(1, &format!("timeout {v}"));
        }
        self.close(0);
        self.scripts.push(name);
    }

    /// `KEYWORD VALUE` at `depth`, `pct` percent of the time, the value usual or odd.
    fn maybe(&mut self, depth: usize, pct: u64, keyword: &str, usual: &[&str], odd: &[&str]) {
        if self.r.chance(pct) {
            let v = self.num(usual, odd);
            self.line(depth, &format!("{keyword} {v}"));
        }
    }

    fn vrrp_instance(&mut self, i: usize) {
        let name = self.r.pick(&["VI_", "vi-", "Inst"]).to_string() + &i.to_string();
        self.open(0, &format!("vrrp_instance {name}"));
        self.instance_basics();
        let six = self.r.chance(20);
        let mixed = self.r.chance(10);
        self.instance_addresses(six, mixed);
        self.instance_tracking();
        self.instance_extras();
        self.close(0);
        self.instances.push(name);
    }

    fn instance_basics(&mut self) {
        self.maybe(
            1,
            80,
            "state",
            &["MASTER", "BACKUP"],
            &["master", "backup", "FAULT"],
        );
        let iface = self.r.pick(INTERFACES).to_string();
        self.line(1, &format!("interface {iface}"));
        self.maybe(
            1,
            95,
            "virtual_router_id",
            &["51", "52", "1", "255"],
            &["0", "256", "-1", "51.5"],
        );
        let (usual, odd) = (
            &["100", "150", "90", "1", "254"],
            &["0", "255", "256", "-5", "100.5"],
        );
        self.maybe(1, 85, "priority", usual, odd);
        let odd = &["0", "0.5", "0.01", "1.5", "40.95", "41", "255", "256"];
        self.maybe(1, 70, "advert_int", &["1", "2", "3"], odd);
        self.maybe(1, 20, "version", &["2", "3"], &["1", "4"]);
        if self.r.chance(25) {
            self.one_of(1, &["nopreempt", "preempt", "nopreempt 1", "no_preempt"]);
        }
        self.maybe(
            1,
            15,
            "preempt_delay",
            &["5", "300"],
            &["0", "1.5", "1001", "-1"],
        );
    }

    fn instance_addresses(&mut self, six: bool, mixed: bool) {
        if self.r.chance(35) {
            let src = if six ^ (mixed && self.r.chance(50)) {
                "2001:db8::1"
            } else {
                "10.0.0.1"
            };
            if self.r.chance(85) {
                self.line(1, &format!("unicast_src_ip {src}"));
            }
            self.open(1, "unicast_peer");
            for _ in 0..=self.r.below(2) {
                let p = if six ^ (mixed && self.r.chance(50)) {
                    self.r.pick(&["2001:db8::2", "2001:db8::3"]).to_string()
                } else {
                    self.r.pick(&["10.0.0.2", "10.0.0.3"]).to_string()
                };
                self.line(2, &p);
            }
            self.close(1);
        }
        if self.r.chance(90) {
            self.vips("virtual_ipaddress", six, mixed);
        }
        if self.r.chance(15) {
            self.vips("virtual_ipaddress_excluded", six, mixed);
        }
        if self.r.chance(15) {
            self.routes(six);
        }
        if self.r.chance(8) {
            self.open(1, "virtual_rules");
            self.line(2, "from 10.1.0.100 table 100");
            self.close(1);
        }
    }

    fn instance_tracking(&mut self) {
        if !self.scripts.is_empty() && self.r.chance(50) {
            self.open(1, "track_script");
            for s in self.scripts.clone() {
                if self.r.chance(30) {
                    let w = self.num(&["10", "-10"], &["0", "255", "-255"]);
                    self.line(2, &format!("{s} weight {w}"));
                } else {
                    self.line(2, &s);
                }
            }
            if self.r.chance(10) {
                self.line(2, "no_such_script");
            }
            self.close(1);
        }
        if self.r.chance(20) {
            self.open(1, "track_interface");
            let t = self.r.pick(INTERFACES).to_string();
            if self.r.chance(50) {
                let w = self.num(&["10", "-20"], &["0", "254", "-254", "300"]);
                self.line(2, &format!("{t} weight {w}"));
            } else {
                self.line(2, &t);
            }
            self.close(1);
        }
    }

    fn instance_extras(&mut self) {
        if self.r.chance(20) {
            let kind = self.r.pick(&["PASS", "AH", "pass"]).to_string();
            self.open(1, "authentication");
            self.line(2, &format!("auth_type {kind}"));
            let pass = self
                .r
                .pick(&["1111", "secret", "averylongpassword"])
                .to_string();
            self.line(2, &format!("auth_pass {pass}"));
            self.close(1);
        }
        if self.r.chance(20) {
            let which = [
                "notify_master",
                "notify_backup",
                "notify_fault",
                "notify",
                "notify_stop",
            ];
            let which = self.r.pick(&which).to_string();
            let cmds = [
                "\"/etc/keepalived/notify.sh MASTER\"",
                "/usr/local/bin/notify.sh",
                "\"/bin/echo hi\"",
            ];
            let cmd = self.r.pick(&cmds).to_string();
            self.line(1, &format!("{which} {cmd}"));
        }
        self.maybe(
            1,
            10,
            "garp_master_delay",
            &["1", "5"],
            &["0", "0.5", "1000"],
        );
        self.maybe(1, 8, "garp_master_repeat", &["5", "1"], &["0", "256"]);
        self.maybe(1, 8, "garp_master_refresh", &["60", "10"], &["0", "0.5"]);
        if self.r.chance(8) {
            self.one_of(1, &["use_vmac", "use_vmac vrrp.51", "vmac_xmit_base"]);
        }
        if self.r.chance(8) {
            self.one_of(
                1,
                &["accept", "no_accept", "smtp_alert", "dont_track_primary"],
            );
        }
        if self.r.chance(5) {
            // A service keyword in an instance.
            self.line(1, "delay_loop 6");
        }
    }

    fn vips(&mut self, block: &str, six: bool, mixed: bool) {
        self.open(1, block);
        for _ in 0..=self.r.below(3) {
            let fam6 = six ^ (mixed && self.r.chance(40));
            let a = if fam6 {
                self.r.pick(V6_VIPS)
            } else {
                self.r.pick(V4_VIPS)
            }
            .to_string();
            let mut l = a.clone();
            if self.r.chance(40) {
                let p = if fam6 {
                    self.num(&["/64", "/128"], &["/0", "/129"])
                } else {
                    self.num(&["/24", "/32"], &["/0", "/33", "/31"])
                };
                l.push_str(&p);
            }
            if self.r.chance(15) && !fam6 {
                l.push_str(self.r.pick(&[" brd 10.1.0.255", " brd +", " broadcast -"]));
            }
            if self.r.chance(30) {
                let d = self.r.pick(INTERFACES).to_string();
                l.push_str(&format!(" dev {d}"));
            }
            if self.r.chance(15) {
                l.push_str(self.r.pick(&[
                    " scope global",
                    " scope link",
                    " scope host",
                    " scope site",
                ]));
            }
            if self.r.chance(15) && !fam6 {
                l.push_str(" label eth0:vip");
            }
            if self.r.chance(8) {
                l.push_str(
                    self.r
                        .pick(&[" no_track", " preferred_lft 0", " home", " nodad"]),
                );
            }
            self.line(2, &l);
        }
        self.close(1);
    }

    fn routes(&mut self, six: bool) {
        self.open(1, "virtual_routes");
        for _ in 0..=self.r.below(2) {
            let l = if six {
                self.r
                    .pick(&[
                        "2001:db8:9::/64 via 2001:db8::1",
                        "default via inet6 fe80::1 dev eth0",
                    ])
                    .to_string()
            } else {
                self.r
                    .pick(&[
                        "10.9.0.0/24 via 10.0.0.254",
                        "10.9.0.0/24 dev eth1",
                        "default via 10.0.0.254",
                        "default via inet6 2001:db8::fe dev eth0",
                        "src 10.1.0.100 to 10.9.1.0/24 via 10.0.0.254 dev eth0",
                        "blackhole 10.9.9.0/24",
                        "10.9.2.0/24 via 10.0.0.254 table 100 metric 10",
                    ])
                    .to_string()
            };
            self.line(2, &l);
        }
        self.close(1);
    }

    fn sync_group(&mut self) {
        self.open(0, "vrrp_sync_group SG_1");
        self.open(1, "group");
        for i in self.instances.clone() {
            self.line(2, &i);
        }
        if self.r.chance(10) {
            self.line(2, "NO_SUCH_INSTANCE");
        }
        self.close(1);
        if self.r.chance(30) {
            self.line(1, "notify_master \"/bin/echo group\"");
        }
        self.close(0);
    }

    fn virtual_server(&mut self, used: &mut Vec<String>) {
        let six = self.r.chance(20);
        let fwmark = self.r.chance(20);
        let head = if fwmark {
            let m = self.num(&["1", "7", "100"], &["0", "4294967296"]);
            format!("virtual_server fwmark {m}")
        } else if !used.is_empty() && self.r.chance(20) {
            // The same address and port again (keepalived takes it under another protocol).
            used[self.r.below(used.len())].clone()
        } else {
            let a = self.v4_or_v6(V4_VIPS, V6_VIPS, if six { 100 } else { 0 });
            let p = self.num(&["80", "443", "53", "8080"], &["0", "65535", "65536"]);
            let h = format!("virtual_server {a} {p}");
            used.push(h.clone());
            h
        };
        self.open(0, &head);
        self.service_settings(six, fwmark);
        let servers = self.r.below(4);
        for _ in 0..servers {
            self.real_server(six, fwmark);
        }
        if self.r.chance(5) {
            // A VRRP keyword in a service.
            self.line(1, "advert_int 1");
        }
        self.close(0);
    }

    fn service_settings(&mut self, six: bool, fwmark: bool) {
        self.maybe(1, 80, "delay_loop", &["6", "3", "10"], &["0", "0.5", "1.5"]);
        if self.r.chance(90) {
            let k = self.r.pick(&["lb_algo", "lvs_sched"]).to_string();
            let odd = &["WRR", "RR", "mh", "fo", "ovf", "twos", "bogus"];
            let v = self.num(&["rr", "wrr", "lc", "wlc", "sh"], odd);
            self.line(1, &format!("{k} {v}"));
        }
        if self.r.chance(90) {
            let k = self.r.pick(&["lb_kind", "lvs_method"]).to_string();
            let v = self.num(&["DR", "NAT", "TUN"], &["dr", "nat", "tun", "FOO"]);
            self.line(1, &format!("{k} {v}"));
        }
        self.maybe(
            1,
            80,
            "protocol",
            &["TCP", "UDP"],
            &["SCTP", "tcp", "udp", "ICMP"],
        );
        let odd = &["0", "1.5", "4294967296"];
        self.maybe(1, 30, "persistence_timeout", &["50", "300", "3600"], odd);
        if self.r.chance(10) {
            let v = if six { "64" } else { "255.255.255.0" };
            self.line(1, &format!("persistence_granularity {v}"));
        }
        if self.r.chance(15) {
            let v = self.num(&["1", "2"], &["0", "100"]);
            self.line(1, &format!("quorum {v}"));
            if self.r.chance(50) {
                self.line(1, "hysteresis 1");
            }
        }
        for kw in ["alpha", "omega", "inhibit_on_failure", "ha_suspend", "ops"] {
            if self.r.chance(8) {
                self.line(1, kw);
            }
        }
        if self.r.chance(15) {
            let s = self.v4_or_v6(V4_RS, V6_RS, if six { 90 } else { 10 });
            let p = if fwmark || self.r.chance(40) {
                self.num(&["80", "0"], &[""])
            } else {
                "80".into()
            };
            self.line(1, format!("sorry_server {s} {p}").trim_end());
            if self.r.chance(30) {
                self.line(1, "sorry_server_inhibit");
            }
        }
        if self.r.chance(15) {
            self.line(1, "virtualhost www.example.org");
        }
    }

    fn real_server(&mut self, six: bool, fwmark: bool) {
        let a = self.v4_or_v6(V4_RS, V6_RS, if six { 90 } else { 8 });
        let p = if fwmark {
            self.num(&["80", "0"], &["", "8080"])
        } else {
            self.num(&["80", "8080", "443"], &["0", "65536"])
        };
        self.open(
            1,
            format!("real_server {a} {p}").replace("  ", " ").trim_end(),
        );
        if self.r.chance(80) {
            let w = self.num(&["1", "2", "100"], &["0", "-1", "65536", "1.5"]);
            self.line(2, &format!("weight {w}"));
        }
        if self.r.chance(8) {
            self.one_of(2, &["inhibit_on_failure", "lb_kind TUN", "lvs_method NAT"]);
        }
        if self.r.chance(10) {
            self.line(2, "notify_up \"/bin/echo up\"");
        }
        let checks = if self.r.chance(15) {
            2
        } else {
            usize::from(self.r.chance(75))
        };
        for _ in 0..checks {
            self.checker();
        }
        self.close(1);
    }

    fn checker(&mut self) {
        // keepalived's checkers but FILE_CHECK and BFD_CHECK, which need blocks of their own.
        let kind = self.r.pick(&haldir::import::CHECKERS[..8]).to_string();
        self.open(2, &kind);
        match kind.as_str() {
            "HTTP_GET" | "SSL_GET" => {
                for _ in 0..=self.r.below(2) {
                    self.url();
                }
                if self.r.chance(15) {
                    self.line(3, "virtualhost check.example.org");
                }
                self.checker_timing();
            }
            "MISC_CHECK" => {
                self.line(3, "misc_path \"/usr/local/bin/check.sh arg\"");
                self.maybe(3, 30, "misc_timeout", &["5", "10"], &["0"]);
                if self.r.chance(20) {
                    self.line(3, "misc_dynamic");
                }
            }
            "SMTP_CHECK" => {
                if self.r.chance(50) {
                    self.line(3, "helo_name check.example.org");
                }
                self.checker_timing();
            }
            "DNS_CHECK" => {
                self.maybe(3, 50, "type", &["A", "AAAA", "SOA"], &["a", "MX", "BOGUS"]);
                if self.r.chance(50) {
                    self.line(3, "name example.org");
                }
                self.checker_timing();
            }
            "UDP_CHECK" => {
                if self.r.chance(30) {
                    self.line(3, "payload 0a0b");
                }
                if self.r.chance(30) {
                    self.line(3, "require_reply");
                }
                self.checker_timing();
            }
            _ => self.checker_timing(),
        }
        self.close(2);
    }

    fn url(&mut self) {
        self.open(3, "url");
        let path = self
            .r
            .pick(&["/", "/health", "/index.html?x=1"])
            .to_string();
        self.line(4, &format!("path {path}"));
        self.maybe(
            4,
            40,
            "status_code",
            &["200", "200-299", "200 301"],
            &["99", "600", "0"],
        );
        if self.r.chance(30) {
            self.line(4, "digest 9b3a0c85a887a256d6939da88aabd8cd");
        }
        if self.r.chance(25) {
            let h = self.r.pick(&["a.example.org", "b.example.org"]).to_string();
            self.line(4, &format!("virtualhost {h}"));
        }
        self.close(3);
    }

    fn checker_timing(&mut self) {
        self.maybe(3, 60, "connect_timeout", &["3", "5"], &["0", "1.5", "-1"]);
        if self.r.chance(30) {
            let k = self.r.pick(&["retry", "nb_get_retry"]).to_string();
            let v = self.num(&["3", "1"], &["0"]);
            self.line(3, &format!("{k} {v}"));
        }
        self.maybe(3, 30, "delay_before_retry", &["3", "2"], &["0", "0.5"]);
        self.maybe(3, 15, "delay_loop", &["10", "3"], &["0", "0.5"]);
        self.maybe(3, 15, "connect_port", &["8080", "81"], &["0", "65536"]);
        if self.r.chance(5) {
            self.line(3, "warmup 5");
        }
    }
}
