//! `virtual_server` (address, fwmark, or a `virtual_server_group` expanded into one service
//! per entry), its `real_server`s and their checkers → `[[virtual_server]]`.

use std::net::IpAddr;

use super::emit::{Keys, V};
use super::mapper::Mapper;
use super::tree::Node;

/// Timing a checker inherits from its real server, and that from its virtual server (and the
/// virtual server's default weight for its real servers).
#[derive(Debug, Clone, Default)]
struct Timing {
    weight: Option<i64>,
    delay_loop: Option<String>,
    connect_timeout: Option<String>,
    retry: Option<i64>,
    delay_before_retry: Option<String>,
    virtualhost: Option<String>,
}

/// What a virtual_server block says, gathered before it is written: some statements depend
/// on others (the protocol on the service's kind, the servers on its forwarding and timing).
struct Service<'n> {
    keys: Keys,
    notes: Vec<String>,
    timing: Timing,
    forwarding: String,
    scheduler: Option<String>,
    flags: Vec<String>,
    reals: Vec<&'n Node>,
}

impl Default for Service<'_> {
    fn default() -> Self {
        Service {
            keys: Vec::new(),
            notes: Vec::new(),
            timing: Timing::default(),
            forwarding: "nat".into(),
            scheduler: None,
            flags: Vec::new(),
            reals: Vec::new(),
        }
    }
}

/// An address and port as haldir writes them ("[2001:db8::1]:80" for IPv6).
fn address(a: &str, port: u16) -> String {
    match a.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]:{port}"),
        _ => format!("{a}:{port}"),
    }
}

/// The keywords of [`Timing`], valid at the service, server and checker level.
const TIMING: &[&str] = &[
    "delay_loop",
    "connect_timeout",
    "retry",
    "nb_get_retry",
    "delay_before_retry",
    "virtualhost",
];

/// Whether a fwmark service is IPv6: its `ip_family`, else its first real server's address
/// (check_data.c validate_check_config sets a service's family from its servers).
fn fwmark_v6(n: &Node) -> bool {
    let children = n.children();
    if let Some(f) = children.iter().find(|c| c.key == "ip_family") {
        return f.arg(0) == Some("inet6");
    }
    children
        .iter()
        .filter(|c| c.key == "real_server" || c.key == "sorry_server")
        .find_map(|c| c.arg(0)?.parse::<IpAddr>().ok())
        .is_some_and(|a| a.is_ipv6())
}

/// keepalived's schedulers (check/check_parser.c), spelled exactly.
const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos",
];

/// One service the keepalived block stands for.
enum Key {
    Addr(String, Option<u16>),
    Fwmark(i64),
}

impl Mapper {
    pub(super) fn virtual_server(&mut self, n: &Node) {
        let keys: Vec<(Option<String>, Key)> = match (n.arg(0), n.arg(1)) {
            // check_data.c alloc_vs: read_unsigned(0..UINT32_MAX), and a mark of 0 leaves
            // the service with neither a mark nor an address.
            (Some("fwmark"), Some(m)) => match super::numbers::unsigned(m, 0, u32::MAX.into(), true) {
                Some(0) => return self.lost(n, "fwmark 0 is no mark: keepalived takes the block for a service on an unset address and port 0, which no packet reaches; the conversion leaves it out"),
                Some(m) => vec![(None, Key::Fwmark(m as i64))],
                None => return self.warn(n, "keepalived skips a virtual server whose fwmark is not 0 to 4294967295 (\"virtual server fwmark … must be in [0, 4294967295] - ignoring\"), and so does this conversion"),
            },
            (Some("group"), Some(g)) => match self.groups.get(g).cloned() {
                Some(entries) => self.group_keys(g, &entries),
                None => return self.lost(n, "no virtual_server_group of that name"),
            },
            (Some(addr), port) => match super::numbers::port(port) {
                Ok(p) => vec![(None, Key::Addr(self.sockaddr(n, addr), p))],
                Err(()) => return self.warn(n, "keepalived skips a virtual server whose port is not 1 to 65535 (\"Invalid virtual server IP address/port … - skipping\"), and so does this conversion"),
            },
            _ => return self.lost(n, "neither an address nor fwmark"),
        };
        for (name, key) in keys {
            self.one_service(n, name, &key);
        }
    }

    /// A group's entries: `ADDR[-END] [PORT]`, `ADDR/LEN [PORT]`, `fwmark N [inet|inet6]`.
    fn group_keys(&mut self, group: &str, entries: &[Node]) -> Vec<(Option<String>, Key)> {
        let mut out = Vec::new();
        for e in entries {
            if e.key == "fwmark" {
                match e.arg(0).and_then(|m| m.parse().ok()) {
                    Some(m) => out.push((Some(format!("{group}-fwmark-{m}")), Key::Fwmark(m))),
                    None => self.lost(e, "fwmark is not a number"),
                }
                continue;
            }
            let port = e
                .arg(0)
                .and_then(|p| p.parse::<u16>().ok())
                .filter(|p| *p > 0);
            match expand_range(&e.key) {
                Some(addrs) => {
                    for a in addrs {
                        let name = match port {
                            Some(p) => format!("{group}-{}", std::net::SocketAddr::new(a, p)),
                            None => format!("{group}-{a}"),
                        };
                        out.push((Some(name), Key::Addr(a.to_string(), port)));
                    }
                }
                None => self.lost(e, "not an address or address range"),
            }
        }
        out
    }

    fn one_service(&mut self, n: &Node, name: Option<String>, key: &Key) {
        let mut s = Service::default();
        if let Some(name) = name {
            s.keys.push(("name".into(), V::Str(name)));
        }
        let vs_port = self.service_key(n, key, &mut s.keys);
        for c in n.children() {
            self.service_statement(c, key, vs_port, &mut s);
        }
        self.settle_service(n, key, &mut s);
        let servers = self.service_servers(key, vs_port, &mut s);
        self.quorum(
            n,
            &mut s.keys,
            &servers.iter().map(|x| x.0.clone()).collect::<Vec<_>>(),
        );
        self.write_service(n, &s, servers);
    }

    /// The service's address or fwmark; the service's port, if it has one.
    fn service_key(&mut self, n: &Node, key: &Key, keys: &mut Keys) -> Option<u16> {
        match key {
            Key::Addr(a, p) => {
                // A persistent service may leave out the port: IPVS's port 0.
                keys.push(("address".into(), V::Str(address(a, p.unwrap_or(0)))));
                *p
            }
            Key::Fwmark(m) => {
                let v6 = fwmark_v6(n);
                let first = *self.fwmarks.entry(*m).or_insert(v6);
                if first != v6 && !keys.iter().any(|(k, _)| k == "name") {
                    let family = if v6 { "ipv6" } else { "ipv4" };
                    keys.push(("name".into(), V::Str(format!("fwmark-{m}-{family}"))));
                }
                keys.push(("fwmark".into(), V::Int(*m)));
                None
            }
        }
    }

    /// One statement of a virtual_server block.
    fn service_statement<'n>(
        &mut self,
        c: &'n Node,
        key: &Key,
        vs_port: Option<u16>,
        s: &mut Service<'n>,
    ) {
        let keys = &mut s.keys;
        match c.key.as_str() {
            k if TIMING.contains(&k) => self.timing(c, &mut s.timing, "service"),
            "lb_algo" | "lvs_sched" => match c.arg(0) {
                Some(a) if SCHEDULERS.contains(&a) => s.scheduler = Some(a.to_string()),
                other => self.warn(c, &format!("keepalived rejects the scheduler \"{}\" (\"Invalid lvs_scheduler\"; case matters) and keeps {}", other.unwrap_or(""), s.scheduler.as_deref().unwrap_or("its default, wlc"))),
            },
            "lb_kind" | "lvs_method" => {
                if let Some((f, tunnel)) = self.method(c, &s.forwarding) {
                    s.forwarding = f;
                    if let Some(t) = tunnel {
                        keys.push(("tunnel".into(), t));
                    }
                }
            }
            "protocol" => match c.arg(0).map(str::to_ascii_lowercase).as_deref() {
                Some(p @ ("tcp" | "udp" | "sctp")) => keys.push(("protocol".into(), V::str(p))),
                other => self.warn(c, &format!("keepalived ignores the protocol \"{}\" (\"Unknown protocol\")", other.unwrap_or(""))),
            },
            "persistence_timeout" | "persistence_granularity" => self.persistence(c, keys),
            "sorry_server" => match c.arg(0) {
                Some(a) => {
                    let port = c.arg(1).and_then(|p| p.parse::<u16>().ok()).or(vs_port);
                    keys.push(("sorry_server".into(), V::Str(address(a, port.unwrap_or(0)))));
                }
                None => self.lost(c, "no address"),
            },
            // Gone from keepalived (check/check_parser.c has no such keyword).
            "nat_mask" => self.warn(c, "keepalived no longer knows nat_mask (\"Unknown keyword\") and ignores it"),
            "quorum" | "hysteresis" => {
                if let Some(v) = self.int(c) {
                    keys.push((c.key.clone(), V::Int(v)));
                }
            }
            "alpha" => keys.push(("alpha".into(), V::Bool(true))),
            "omega" => keys.push(("omega".into(), V::Bool(true))),
            "inhibit_on_failure" => {
                if let Some(on) = self.boolean(c) {
                    keys.push(("inhibit_on_failure".into(), V::Bool(on)));
                }
            }
            "ops" => keys.push(("one_packet".into(), V::Bool(true))),
            "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" => s.flags.push(c.key.clone()),
            "ip_family" => {
                if let (Key::Fwmark(_), Some(f)) = (key, c.arg(0)) {
                    let family = if f == "inet6" { "ipv6" } else { "ipv4" };
                    keys.push(("family".into(), V::str(family)));
                }
            }
            "real_server" => s.reals.push(c),
            "weight" => s.timing.weight = self.int(c).or(s.timing.weight),
            k @ ("quorum_up" | "quorum_down") => super::vrrp::first_command(self, c, k, keys),
            "smtp_alert" => {
                if let Some(on) = self.boolean(c) {
                    self.smtp_alert(c, on, keys);
                }
            }
            _ => self.unmapped(c),
        }
    }

    /// `persistence_timeout`: with no value keepalived takes 6 minutes; a value outside 1 s
    /// to 31 days (LVS_MAX_TIMEOUT) is "persistence_timeout invalid" and ignored.
    /// `persistence_granularity`: a netmask for IPv4, a prefix length for IPv6; it makes the
    /// service persistent, for 6 minutes unless a timeout was given before it
    /// (check/check_parser.c pto_handler, pgr_handler).
    fn persistence(&mut self, c: &Node, keys: &mut Keys) {
        if c.key == "persistence_timeout" {
            match c.arg(0) {
                None => keys.push(("persistence_timeout".into(), V::str("360s"))),
                Some(v) => match super::numbers::unsigned(v, 1, 86_400 * 31, false) {
                    Some(s) => keys.push(("persistence_timeout".into(), V::Str(format!("{s}s")))),
                    None => self.warn(c, "keepalived ignores a persistence_timeout that is not a whole number of seconds from 1 to 2678400 (\"persistence_timeout invalid\")"),
                },
            }
        } else if let Some(m) = self.one(c) {
            let v = m.parse::<i64>().map_or_else(|_| V::str(m), V::Int);
            keys.push(("persistence_netmask".into(), v));
            if !keys.iter().any(|(k, _)| k == "persistence_timeout") {
                keys.push(("persistence_timeout".into(), V::str("360s")));
            }
        }
    }

    /// What keepalived settles once the block is read: an address service without
    /// `protocol` is UDP ("no protocol set - defaulting to UDP", as the kernel would take
    /// protocol 0); one-packet scheduling only with UDP or a fwmark; a service on every port
    /// persistent.
    fn settle_service(&mut self, n: &Node, key: &Key, s: &mut Service) {
        let keys = &mut s.keys;
        let protocol = keys
            .iter()
            .find(|(k, _)| k == "protocol")
            .map(|(_, v)| v.clone());
        if matches!(key, Key::Addr(..)) {
            if protocol.is_none() {
                s.notes
                    .push("no `protocol` in keepalived's block: keepalived takes UDP".into());
                keys.push(("protocol".into(), V::str("udp")));
            }
            if protocol.is_some_and(|p| p != V::str("udp"))
                && let Some(i) = keys.iter().position(|(k, _)| k == "one_packet")
            {
                keys.remove(i);
                s.notes
                    .push("`ops` dropped: keepalived ignores it for TCP and SCTP".into());
            }
        }
        self.name_by_protocol(keys);
        if let Some(sched) = s.scheduler.take() {
            keys.push(("scheduler".into(), V::Str(sched)));
        }
        if !s.flags.is_empty() {
            keys.push(("scheduler_flags".into(), V::strs(&s.flags)));
        }
        keys.push(("forwarding".into(), V::str(&s.forwarding)));
        if matches!(key, Key::Addr(_, None))
            && !keys.iter().any(|(k, _)| k == "persistence_timeout")
        {
            self.warn(n, "a service on every port (no port, or 0): keepalived makes it persistent for 360 s (\"zero port only valid for persistent services\"), and so does this conversion");
            keys.push(("persistence_timeout".into(), V::str("360s")));
        }
    }

    /// The real servers keepalived keeps, each with its keys and its check.
    fn service_servers<'n>(
        &mut self,
        key: &Key,
        vs_port: Option<u16>,
        s: &mut Service<'n>,
    ) -> Vec<(Keys, Option<Keys>, &'n Node)> {
        let mut out = Vec::new();
        let mut seen: Vec<&[String]> = Vec::new();
        for r in std::mem::take(&mut s.reals) {
            if super::numbers::port(r.arg(1)).is_err() {
                self.warn(r, "keepalived skips a real server whose port is not 1 to 65535 (\"Invalid real server ip address/port … - skipping\"), and so does this conversion");
                continue;
            }
            // check/check_data.c: "real server … is duplicated - removing second rs".
            if seen.contains(&&r.args[..]) {
                self.warn(r, "keepalived removes a real server given twice (\"is duplicated - removing second rs\")");
                continue;
            }
            seen.push(&r.args[..]);
            let (server, check) =
                self.real_server(r, key, vs_port, &s.forwarding, &s.timing, &mut s.notes);
            out.push((server, check, r));
        }
        out
    }

    /// The service as TOML: one check shared by every real server is written once, as the
    /// service's.
    fn write_service(&mut self, n: &Node, s: &Service, servers: Vec<(Keys, Option<Keys>, &Node)>) {
        self.doc.header_from("[[virtual_server]]", n);
        for note in &s.notes {
            self.doc.comment(note);
        }
        self.doc.set_all(&s.keys);
        let shared = match servers.first() {
            Some((_, Some(first), _)) if servers.iter().all(|x| x.1.as_ref() == Some(first)) => {
                Some(first.clone())
            }
            _ => None,
        };
        if let Some(check) = &shared {
            self.doc.header("[virtual_server.check]");
            self.doc.set_all(check);
        }
        for (server, check, r) in servers {
            self.doc.header_from("[[virtual_server.real_server]]", r);
            self.doc.set_all(&server);
            if shared.is_none()
                && let Some(check) = check
            {
                self.doc.set("check", &V::Table(check));
            }
        }
    }

    /// A service on an address and port already taken under another protocol (DNS's TCP and
    /// UDP): named after its protocol too, as the address alone names the first.
    fn name_by_protocol(&mut self, keys: &mut Vec<(String, V)>) {
        let get = |k: &str| match keys.iter().find(|(key, _)| key == k) {
            Some((_, V::Str(s))) => Some(s.clone()),
            _ => None,
        };
        let (Some(address), Some(protocol)) = (get("address"), get("protocol")) else {
            return;
        };
        if get("name").is_some() {
            return;
        }
        let first = self
            .addresses
            .entry(address.clone())
            .or_insert_with(|| protocol.clone());
        if *first != protocol {
            keys.insert(0, ("name".into(), V::Str(format!("{address}/{protocol}"))));
        }
    }

    /// A timing keyword at `level`: "service", "server", or the checker's keyword
    /// ("TCP_CHECK", …). keepalived installs `nb_get_retry` in HTTP_GET and SSL_GET only
    /// (check/check_http.c); anywhere else it is an unknown keyword and `retry` stays as it
    /// was. Above the checker, `retry` is at least 1 (check/check_parser.c).
    fn timing(&mut self, c: &Node, t: &mut Timing, level: &str) {
        match c.key.as_str() {
            "delay_loop" => t.delay_loop = self.timer(c).or(t.delay_loop.take()),
            "connect_timeout" => t.connect_timeout = self.timer(c).or(t.connect_timeout.take()),
            "nb_get_retry" if level != "HTTP_GET" && level != "SSL_GET" => {
                let inherited = t.retry.map_or("its default".to_string(), |r| r.to_string());
                self.warn(c, &format!("keepalived knows nb_get_retry only in HTTP_GET and SSL_GET (\"Unknown keyword\" here) and keeps retry at {inherited}"));
            }
            "retry" | "nb_get_retry" => match self.int(c) {
                Some(0) if !level.ends_with("_CHECK") && !level.ends_with("_GET") => {
                    self.warn(c, "keepalived rejects retry 0 outside a checker (the least is 1) and leaves it unset");
                }
                Some(r) => t.retry = Some(r),
                None => {}
            },
            "delay_before_retry" => {
                t.delay_before_retry = self.timer(c).or(t.delay_before_retry.take())
            }
            _ => t.virtualhost = c.arg(0).map(str::to_string),
        }
    }

    /// `lvs_method NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]`.
    fn method(&mut self, n: &Node, current: &str) -> Option<(String, Option<V>)> {
        // check/check_parser.c compares with strcmp: "dr" is unknown, and the method stays
        // what it was (NAT when never set).
        let f = match n.arg(0) {
            Some("NAT") => "nat",
            Some("DR") => "dr",
            Some("TUN") => "tun",
            other => {
                self.warn(n, &format!("keepalived knows only NAT, DR and TUN (case matters): it ignores \"{}\" (\"unknown routing method\") and keeps {}", other.unwrap_or(""), current.to_ascii_uppercase()));
                return None;
            }
        };
        let mut tunnel: Vec<(String, V)> = Vec::new();
        let mut args = n.args.iter().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "type" => {
                    if let Some(t) = args.next() {
                        tunnel.push(("type".into(), V::str(t)));
                    }
                }
                "port" => {
                    if let Some(p) = args.next().and_then(|p| p.parse().ok()) {
                        tunnel.push(("port".into(), V::Int(p)));
                    }
                }
                "nocsum" => tunnel.push(("checksum".into(), V::str("none"))),
                "csum" => tunnel.push(("checksum".into(), V::str("csum"))),
                "remcsum" => tunnel.push(("checksum".into(), V::str("remcsum"))),
                other => self.lost(n, &format!("\"{other}\" not understood")),
            }
        }
        Some((
            f.to_string(),
            (!tunnel.is_empty()).then_some(V::Table(tunnel)),
        ))
    }

    /// One real server and its check (the first checker; haldir runs one per server).
    fn real_server(
        &mut self,
        n: &Node,
        key: &Key,
        vs_port: Option<u16>,
        vs_forwarding: &str,
        vs_timing: &Timing,
        notes: &mut Vec<String>,
    ) -> (Keys, Option<Keys>) {
        let addr = self.sockaddr(n, n.arg(0).unwrap_or(""));
        let addr = addr.as_str();
        let port = super::numbers::port(n.arg(1)).ok().flatten();
        let mut timing = vs_timing.clone();
        let mut forwarding = vs_forwarding.to_string();
        let mut out: Vec<(String, V)> = Vec::new();
        let mut check: Option<Vec<(String, V)>> = None;
        let mut weight = vs_timing.weight;
        for c in n.children() {
            match c.key.as_str() {
                "weight" => weight = self.int(c).or(weight),
                "smtp_alert" => {
                    if let Some(on) = self.boolean(c) {
                        self.smtp_alert(c, on, &mut out);
                    }
                }
                "inhibit_on_failure" => {
                    if let Some(on) = self.boolean(c) {
                        out.push(("inhibit_on_failure".into(), V::Bool(on)));
                    }
                }
                k @ ("notify_up" | "notify_down") => {
                    super::vrrp::first_command(self, c, k, &mut out)
                }
                // keepalived has no lb_kind at the real server: only lvs_method.
                "lvs_method" => {
                    if let Some((f, tunnel)) = self.method(c, &forwarding) {
                        forwarding = f.clone();
                        if f != vs_forwarding {
                            out.push(("forwarding".into(), V::Str(f)));
                        }
                        if let Some(t) = tunnel {
                            out.push(("tunnel".into(), t));
                        }
                    }
                }
                "uthreshold" | "lthreshold" => {
                    if let Some(v) = self.int(c) {
                        let k = if c.key == "uthreshold" {
                            "upper_threshold"
                        } else {
                            "lower_threshold"
                        };
                        out.push((k.into(), V::Int(v)));
                    }
                }
                k if TIMING.contains(&k) => self.timing(c, &mut timing, "server"),
                "TCP_CHECK" | "HTTP_GET" | "SSL_GET" | "MISC_CHECK" | "UDP_CHECK" | "DNS_CHECK"
                | "PING_CHECK" | "SMTP_CHECK" | "FILE_CHECK" => {
                    if check.is_some() {
                        // An empty checker block is a checker with keepalived's defaults.
                        self.lost_even_empty(
                            c,
                            "haldir runs one check per real server: the first is kept",
                        );
                    } else {
                        check = self.checker(c, &timing);
                    }
                }
                _ => self.unmapped(c),
            }
        }
        // haldir's address rules: no port on a fwmark service's servers, and DR/TUN servers on
        // the service's port. The port keepalived checked is kept as the check's.
        if let Some(w) = weight {
            out.insert(0, ("weight".into(), V::Int(w)));
        }
        // keepalived keeps a NAT server's port, fwmark or not (the kernel rewrites the
        // destination to it); DR and TUN servers get the service's port, none for fwmark.
        let fwmark = matches!(key, Key::Fwmark(_));
        let moved = port.filter(|p| forwarding != "nat" && (fwmark || Some(*p) != vs_port));
        let rs_port = if moved.is_some() {
            vs_port.filter(|_| !fwmark)
        } else {
            port
        };
        if let (Some(p), Some(check)) = (moved, check.as_mut())
            && !check.iter().any(|(k, _)| k == "port")
        {
            check.push(("port".into(), V::Int(i64::from(p))));
        }
        // check/check_api.c: a checker's destination is the server's address as read, before
        // validation gives a server without a port the service's port: keepalived connects to
        // port 0, which never answers.
        let connects = check.as_ref().is_some_and(|c| {
            !c.iter().any(|(k, v)| {
                k == "port"
                    || (k == "type"
                        && matches!(v, V::Str(t) if t == "ping" || t == "misc" || t == "file"))
            })
        });
        if port.is_none() && !fwmark && vs_port.is_some() && connects {
            self.warn(n, "keepalived's checker connects to the port as written here, 0 (the server gets the service's port only later), so it never succeeds and the server stays down; the conversion checks the service's port");
        }
        if let Some(p) = moved
            && !fwmark
        {
            notes.push(format!(
                "{addr} port {p}: with {forwarding} the real server takes the service's port; {p} is kept for its check"
            ));
        }
        let text = match (addr.parse::<IpAddr>(), rs_port) {
            (Ok(IpAddr::V6(v6)), Some(p)) => format!("[{v6}]:{p}"),
            (_, Some(p)) => format!("{addr}:{p}"),
            (_, None) => addr.to_string(),
        };
        out.insert(0, ("address".into(), V::Str(text)));
        (out, check)
    }

    /// A checker block as a haldir check, keepalived's defaults written out.
    fn checker(&mut self, n: &Node, inherited: &Timing) -> Option<Vec<(String, V)>> {
        let kind = match n.key.as_str() {
            "TCP_CHECK" => "tcp",
            "HTTP_GET" => "http",
            "SSL_GET" => "https",
            "UDP_CHECK" => "udp",
            "DNS_CHECK" => "dns",
            "PING_CHECK" => "ping",
            "SMTP_CHECK" => "smtp",
            "FILE_CHECK" => return self.file_check(n),
            _ => "misc",
        };
        let web = kind == "http" || kind == "https";
        let mut t = inherited.clone();
        let mut extra: Vec<(String, V)> = Vec::new();
        let mut misc_timeout = None;
        let mut urls: Vec<Vec<(String, V)>> = Vec::new();
        let mut sni_enabled = false;
        let mut fast_recovery = false;
        let mut protocol = "1.0";
        let mut udp = Udp::default();
        let mut hosts: Vec<V> = Vec::new();
        for c in n.children() {
            match c.key.as_str() {
                k if TIMING.contains(&k) => self.timing(c, &mut t, &n.key),
                "connect_port" if kind != "ping" => {
                    if let Some(p) = self.int(c) {
                        extra.push(("port".into(), V::Int(p)));
                    }
                }
                "connect_ip" => {
                    if let Some(a) = self.one(c) {
                        extra.push(("address".into(), V::str(a)));
                    }
                }
                "bindto" if kind != "misc" => {
                    if let Some(a) = self.one(c) {
                        extra.push(("source".into(), V::str(a)));
                    }
                }
                "url" if web => {
                    let mut u = Vec::new();
                    self.url(c, &mut u);
                    if u.iter().any(|(k, _)| k == "path") {
                        urls.push(u);
                    }
                }
                "http_protocol" if web => match c.arg(0) {
                    Some("1.0") => protocol = "1.0",
                    Some("1.0C" | "1.0c") => protocol = "1.0C",
                    Some("1.1") => protocol = "1.1",
                    other => self.warn(c, &format!("keepalived rejects http_protocol \"{}\" (\"Invalid http_protocol version\") and keeps {protocol}", other.unwrap_or(""))),
                },
                "fast_recovery" if web => fast_recovery = true,
                // check/check_api.c alpha_handler: the checker starts failed.
                "alpha" => {
                    if let Some(on) = self.boolean(c) {
                        extra.push(("alpha".into(), V::Bool(on)));
                    }
                }
                "misc_path" if kind == "misc" => {
                    if let Some(cmd) = self.script_command(c, super::scripts::Trailing::Ignored) {
                        extra.push(("command".into(), cmd));
                    }
                }
                "user" if kind == "misc" => self.script_runs_as(c, &c.args),
                "misc_timeout" if kind == "misc" => misc_timeout = self.timer(c),
                "misc_dynamic" if kind == "misc" => {
                    extra.push(("dynamic_weight".into(), V::Bool(true)))
                }
                "sni_name" if kind == "https" => {
                    if let Some(s) = self.one(c) {
                        extra.push(("sni".into(), V::str(s)));
                    }
                }
                "enable_sni" if kind == "https" => sni_enabled = true,
                k if kind == "udp" && udp.keyword(self, c, k) => {}
                "type" if kind == "dns" => match c.arg(0).map(str::to_ascii_uppercase) {
                    Some(t) if DNS_TYPES.contains(&t.as_str()) => {
                        extra.push(("query_type".into(), V::Str(t)))
                    }
                    other => self.warn(c, &format!("keepalived ignores the DNS type \"{}\" (\"Unknown DNS check type\") and asks for SOA", other.unwrap_or_default())),
                },
                "name" if kind == "dns" => {
                    if let Some(name) = self.one(c) {
                        extra.push(("query_name".into(), V::str(name)));
                    }
                }
                "helo_name" if kind == "smtp" => {
                    if let Some(h) = self.one(c) {
                        extra.retain(|(k, _)| k != "helo_name");
                        extra.push(("helo_name".into(), V::str(h)));
                    }
                }
                "host" if kind == "smtp" => {
                    if let Some(h) = self.smtp_host(c) {
                        hosts.push(h);
                    }
                }
                _ => self.unmapped(c),
            }
        }
        let interval = t.delay_loop.clone().unwrap_or_else(|| "60s".into());
        // keepalived: misc_timeout defaults to the delay loop; connect_timeout to 5 s.
        let timeout = if kind == "misc" {
            misc_timeout.unwrap_or_else(|| interval.clone())
        } else {
            t.connect_timeout.clone().unwrap_or_else(|| "5s".into())
        };
        // A server fails after its check and `retry` more fail; retry is 1 by default, 0 for
        // MISC_CHECK and 3 for DNS_CHECK (check/check_dns.c).
        let retry = t.retry.unwrap_or(match kind {
            "misc" => 0,
            "dns" => 3,
            _ => 1,
        });
        // delay_before_retry: 3 s for HTTP_GET/SSL_GET, the delay loop for DNS_CHECK, else 1 s.
        let retry_delay = t.delay_before_retry.clone().unwrap_or_else(|| match kind {
            "http" | "https" => "3s".into(),
            "dns" => interval.clone(),
            _ => "1s".into(),
        });
        let mut out = vec![
            ("type".to_string(), V::str(kind)),
            ("interval".into(), V::Str(interval)),
            ("timeout".into(), V::Str(timeout)),
            ("fall".into(), V::Int(retry + 1)),
            ("rise".into(), V::Int(1)),
            ("retry_delay".into(), V::Str(retry_delay)),
        ];
        if web {
            self.web_keys(n, &t, urls, protocol, fast_recovery, &mut out)?;
        }
        if kind == "https" {
            // SSL_GET never verifies the certificate.
            out.push(("tls_verify".into(), V::Bool(false)));
            if sni_enabled
                && !extra.iter().any(|(k, _)| k == "sni")
                && let Some(h) = &t.virtualhost
            {
                out.push(("sni".into(), V::str(h)));
            }
        }
        match kind {
            "udp" => udp.finish(self, n, &mut out),
            // keepalived's default name is the root and its default type SOA, as haldir's.
            "smtp" if !extra.iter().any(|(k, _)| k == "helo_name") => {
                out.push(("helo_name".into(), V::str("smtpchecker.keepalived.org")))
            }
            _ => {}
        }
        out.extend(extra);
        if !hosts.is_empty() {
            self.warn(n, "SMTP_CHECK host { … }: each host is checked and all must answer, as keepalived documents it (keepalived itself deprecates the block: \"define additional checkers\")");
            out.push(("hosts".into(), V::Arr(hosts)));
        }
        if kind == "misc" && !out.iter().any(|(k, _)| k == "command") {
            self.lost(n, "MISC_CHECK without misc_path");
            return None;
        }
        Some(out)
    }

    /// `url { path P  status_code 200 300-399  digest D  regex R  virtualhost H }`
    fn url(&mut self, n: &Node, out: &mut Vec<(String, V)>) {
        for c in n.children() {
            match c.key.as_str() {
                "path" => {
                    if let Some(p) = self.one(c) {
                        out.push(("path".into(), V::str(p)));
                    }
                }
                "status_code" => out.push(("status".into(), V::Str(c.args.join(", ")))),
                "regex" => {
                    if let Some(r) = self.one(c) {
                        out.push(("body_regex".into(), V::str(r)));
                    }
                }
                "virtualhost" => {
                    if let Some(h) = self.one(c) {
                        out.push(("host".into(), V::str(h)));
                    }
                }
                "digest" => match c.arg(0) {
                    Some(d) if d.len() == 32 && d.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        out.push(("digest".into(), V::Str(d.to_ascii_lowercase())))
                    }
                    other => self.warn(
                        c,
                        &format!(
                            "keepalived ignores the digest \"{}\" (not 32 hex digits)",
                            other.unwrap_or("")
                        ),
                    ),
                },
                _ => self.unmapped(c),
            }
        }
        // keepalived accepts 200-299 by default, as haldir does.
        if !out.iter().any(|(k, _)| k == "path") {
            self.lost(n, "a url without path: keepalived ignores it");
        }
    }

    /// The http/https keys: the URLs (keepalived drops a checker without any), the Host header
    /// and the protocol, which keepalived defaults to 1.0 and haldir to 1.1.
    fn web_keys(
        &mut self,
        n: &Node,
        t: &Timing,
        mut urls: Vec<Vec<(String, V)>>,
        protocol: &str,
        fast_recovery: bool,
        out: &mut Vec<(String, V)>,
    ) -> Option<()> {
        if urls.is_empty() {
            self.warn(n, "keepalived drops an HTTP_GET/SSL_GET without a url (\"has no urls specified\"): the server is not checked");
            return None;
        }
        let host = urls.iter_mut().find_map(|u| {
            let at = u.iter().position(|(k, _)| k == "host")?;
            Some(u.remove(at).1)
        });
        for u in &mut urls {
            u.retain(|(k, _)| k != "host");
        }
        if let Some(h) = host.or_else(|| t.virtualhost.as_ref().map(V::str)) {
            out.push(("host".into(), h));
        }
        out.push(("http_protocol".into(), V::str(protocol)));
        if urls.len() == 1 {
            out.extend(urls.remove(0));
        } else {
            if !fast_recovery {
                self.warn(n, "several urls: haldir fetches them all on every probe (keepalived's fast_recovery); without fast_recovery keepalived fetches one per delay_loop, so it sees a failed URL later than haldir");
            }
            out.push((
                "url".into(),
                V::Arr(urls.into_iter().map(V::Table).collect()),
            ));
        }
        Some(())
    }

    /// `host { connect_ip A  connect_port P  bindto S }` of an SMTP_CHECK.
    fn smtp_host(&mut self, n: &Node) -> Option<V> {
        let mut keys: Vec<(String, V)> = Vec::new();
        for c in n.children() {
            match c.key.as_str() {
                "connect_ip" => {
                    if let Some(a) = self.one(c) {
                        keys.insert(0, ("address".into(), V::str(a)));
                    }
                }
                "connect_port" => {
                    if let Some(p) = self.int(c) {
                        keys.push(("port".into(), V::Int(p)));
                    }
                }
                "bindto" => {
                    if let Some(a) = self.one(c) {
                        keys.push(("source".into(), V::str(a)));
                    }
                }
                _ => self.unmapped(c),
            }
        }
        if !keys.iter().any(|(k, _)| k == "address") {
            self.lost(
                n,
                "a host without connect_ip: haldir checks the real server itself already",
            );
            return None;
        }
        Some(V::Table(keys))
    }

    /// `FILE_CHECK { track_file NAME  weight W [reverse] }`, with the top-level
    /// `track_file NAME { file F  weight W [reverse] }` it names.
    fn file_check(&mut self, n: &Node) -> Option<Vec<(String, V)>> {
        let mut weight: Option<i64> = None;
        let mut tracked: Option<Node> = None;
        for c in n.children() {
            match c.key.as_str() {
                "track_file" => match c.arg(0).and_then(|name| self.track_files.get(name)) {
                    Some(t) => tracked = Some(t.clone()),
                    None => self.warn(c, "keepalived knows no track_file of that name defined before this (\"unknown track_file\")"),
                },
                "weight" => weight = signed_weight(self, c),
                _ => self.unmapped(c),
            }
        }
        let Some(t) = tracked else {
            self.warn(n, "keepalived drops a FILE_CHECK without track_file (\"has no track_file specified\")");
            return None;
        };
        let mut file = None;
        let mut file_weight = 1;
        for c in t.children() {
            match c.key.as_str() {
                "file" => file = c.arg(0).map(str::to_string),
                "weight" => file_weight = signed_weight(self, c).unwrap_or(1),
                "init_file" => self.lost(
                    c,
                    "haldir does not create the file: a missing file reads as 0, as in keepalived",
                ),
                _ => self.unmapped(c),
            }
        }
        let Some(file) = file else {
            self.warn(
                &t,
                "keepalived drops a track_file without `file` (\"No file set\")",
            );
            return None;
        };
        self.used_track_files
            .insert(t.arg(0).unwrap_or_default().to_string());
        Some(vec![
            ("type".into(), V::str("file")),
            ("file".into(), V::Str(file)),
            ("weight".into(), V::Int(weight.unwrap_or(file_weight))),
        ])
    }
}

/// `10.0.0.1`, `10.0.0.1-10` (last octet or group), `10.0.0.250-10.0.1.10`, `10.0.0.8/29`.
fn expand_range(text: &str) -> Option<Vec<IpAddr>> {
    if let Ok(a) = text.parse::<IpAddr>() {
        return Some(vec![a]);
    }
    if let Ok(net) = text.parse::<ipnet::IpNet>() {
        return Some(net.hosts().take(65536).collect());
    }
    let (start, end) = text.split_once('-')?;
    let start: IpAddr = start.parse().ok()?;
    let end: IpAddr = match end.parse() {
        Ok(e) => e,
        Err(_) => match start {
            IpAddr::V4(s) => {
                let last: u8 = end.parse().ok()?;
                let o = s.octets();
                IpAddr::from([o[0], o[1], o[2], last])
            }
            IpAddr::V6(s) => {
                let last = u16::from_str_radix(end, 16).ok()?;
                let mut seg = s.segments();
                seg[7] = last;
                IpAddr::from(seg)
            }
        },
    };
    let (a, b) = match (start, end) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b))),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b)),
        _ => return None,
    };
    if b < a || b - a > 65535 {
        return None;
    }
    Some(
        (a..=b)
            .map(|v| match start {
                IpAddr::V4(_) => IpAddr::from(std::net::Ipv4Addr::from(v as u32)),
                IpAddr::V6(_) => IpAddr::from(std::net::Ipv6Addr::from(v)),
            })
            .collect(),
    )
}

/// keepalived's DNS_CHECK types (check/check_dns.c), haldir's query_type values.
const DNS_TYPES: &[&str] = &[
    "A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "RRSIG", "DNSKEY",
];

/// A track_file or FILE_CHECK `weight W [reverse]`: reverse negates it.
fn signed_weight(m: &mut Mapper, c: &Node) -> Option<i64> {
    let w: i64 = match c.arg(0).and_then(|v| v.parse().ok()) {
        Some(w) => w,
        None => {
            m.lost(c, "not a weight");
            return None;
        }
    };
    Some(if c.arg(1) == Some("reverse") { -w } else { w })
}

/// The UDP_CHECK keywords: `payload HEX`, `require_reply [HEX]`, `min_reply_length N`,
/// `max_reply_length N` (check/check_udp.c).
#[derive(Default)]
struct Udp {
    payload: Option<String>,
    require_reply: bool,
    reply: Option<String>,
    min: Option<i64>,
    max: Option<i64>,
}

/// What keepalived sends when a UDP_CHECK has no payload (core/layer4.c, set_buf).
const KEEPALIVED_UDP_PAYLOAD: &str = "keepalived check - keepalived ch";

impl Udp {
    fn keyword(&mut self, m: &mut Mapper, c: &Node, k: &str) -> bool {
        match k {
            "payload" => self.payload = Some(c.args.join(" ")),
            "require_reply" => {
                self.require_reply = true;
                self.reply = (!c.args.is_empty()).then(|| c.args.join(" "));
            }
            "min_reply_length" => self.min = m.int(c),
            "max_reply_length" => self.max = m.int(c),
            _ => return false,
        }
        true
    }

    fn finish(self, m: &mut Mapper, n: &Node, out: &mut Vec<(String, V)>) {
        match self.payload {
            Some(hex) => out.push(("payload_hex".into(), V::Str(hex))),
            None => out.push(("payload".into(), V::str(KEEPALIVED_UDP_PAYLOAD))),
        }
        out.push(("require_reply".into(), V::Bool(self.require_reply)));
        match self.reply {
            // keepalived checks the lengths only against an expected reply, whose longest
            // accepted length is 255 unless set.
            Some(hex) => {
                out.push(("reply_hex".into(), V::Str(hex)));
                if let Some(min) = self.min.filter(|v| *v > 0) {
                    out.push(("min_reply_length".into(), V::Int(min)));
                }
                out.push(("max_reply_length".into(), V::Int(self.max.unwrap_or(255))));
            }
            None if self.min.is_some() || self.max.is_some() => m.warn(n, "keepalived checks min_reply_length and max_reply_length only with an expected reply (require_reply HEX): they are left out"),
            None => {}
        }
    }
}
