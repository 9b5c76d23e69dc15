//! `virtual_server` (address, fwmark, or a `virtual_server_group` expanded into one service
//! per entry), its `real_server`s and their checkers → `[[virtual_server]]`.

use std::net::IpAddr;

use super::emit::{Keys, V};
use super::mapper::Mapper;
use super::tree::Node;

/// Timing a checker inherits from its real server, and that from its virtual server (and the
/// virtual server's default weight for its real servers).
#[derive(Debug, Clone, Default)]
pub(super) struct Timing {
    pub weight: Option<i64>,
    pub delay_loop: Option<String>,
    pub connect_timeout: Option<String>,
    pub retry: Option<i64>,
    pub delay_before_retry: Option<String>,
    pub virtualhost: Option<String>,
}

/// A real_server block as it is read: what its statements say so far.
struct Server {
    timing: Timing,
    forwarding: String,
    weight: Option<i64>,
    out: Keys,
    check: Option<Keys>,
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
pub(super) const TIMING: &[&str] = &[
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

    /// `sorry_server ADDR [PORT]`, `sorry_server_lvs_method …`, `sorry_server_inhibit`.
    fn sorry_statement(&mut self, c: &Node, vs_port: Option<u16>, s: &mut Service<'_>) {
        let keys = &mut s.keys;
        match c.key.as_str() {
            "sorry_server" => match c.arg(0) {
                Some(a) => {
                    let port = c.arg(1).and_then(|p| p.parse::<u16>().ok()).or(vs_port);
                    keys.push(("sorry_server".into(), V::Str(address(a, port.unwrap_or(0)))));
                }
                None => self.lost(c, "no address"),
            },
            // check/check_parser.c: both need the sorry_server line before them.
            "sorry_server_lvs_method" | "sorry_server_inhibit"
                if !keys.iter().any(|(k, _)| k == "sorry_server") =>
            {
                self.warn(c, "keepalived ignores this before or without a sorry_server (\"used without sorry_server\")");
            }
            "sorry_server_lvs_method" => {
                if let Some((f, tunnel)) = self.method(c, &s.forwarding) {
                    keys.retain(|(k, _)| {
                        k != "sorry_server_forwarding" && k != "sorry_server_tunnel"
                    });
                    keys.push(("sorry_server_forwarding".into(), V::Str(f)));
                    if let Some(t) = tunnel {
                        keys.push(("sorry_server_tunnel".into(), t));
                    }
                }
            }
            "sorry_server_inhibit" => {
                if !keys.iter().any(|(k, _)| k == "sorry_server_inhibit") {
                    keys.push(("sorry_server_inhibit".into(), V::Bool(true)));
                }
            }
            _ => self.unmapped(c),
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
            k if k.starts_with("sorry_server") => self.sorry_statement(c, vs_port, s),
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
    pub(super) fn timing(&mut self, c: &Node, t: &mut Timing, level: &str) {
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
        let port = super::numbers::port(n.arg(1)).ok().flatten();
        let mut s = Server {
            timing: vs_timing.clone(),
            forwarding: vs_forwarding.to_string(),
            weight: vs_timing.weight,
            out: Vec::new(),
            check: None,
        };
        for c in n.children() {
            self.server_statement(c, vs_forwarding, &mut s);
        }
        if let Some(w) = s.weight {
            s.out.insert(0, ("weight".into(), V::Int(w)));
        }
        let rs_port = self.server_port(n, (&addr, port), key, vs_port, &mut s, notes);
        let text = match (addr.parse::<IpAddr>(), rs_port) {
            (Ok(IpAddr::V6(v6)), Some(p)) => format!("[{v6}]:{p}"),
            (_, Some(p)) => format!("{addr}:{p}"),
            (_, None) => addr.to_string(),
        };
        s.out.insert(0, ("address".into(), V::Str(text)));
        (s.out, s.check)
    }

    /// One statement of a real_server block.
    fn server_statement(&mut self, c: &Node, vs_forwarding: &str, s: &mut Server) {
        match c.key.as_str() {
            "weight" => s.weight = self.int(c).or(s.weight),
            "smtp_alert" => {
                if let Some(on) = self.boolean(c) {
                    self.smtp_alert(c, on, &mut s.out);
                }
            }
            "inhibit_on_failure" => {
                if let Some(on) = self.boolean(c) {
                    s.out.push(("inhibit_on_failure".into(), V::Bool(on)));
                }
            }
            k @ ("notify_up" | "notify_down") => super::vrrp::first_command(self, c, k, &mut s.out),
            // keepalived has no lb_kind at the real server: only lvs_method.
            "lvs_method" => {
                if let Some((f, tunnel)) = self.method(c, &s.forwarding) {
                    s.forwarding = f.clone();
                    if f != vs_forwarding {
                        s.out.push(("forwarding".into(), V::Str(f)));
                    }
                    if let Some(t) = tunnel {
                        s.out.push(("tunnel".into(), t));
                    }
                }
            }
            k @ ("uthreshold" | "lthreshold") => {
                if let Some(v) = self.int(c) {
                    let key = match k {
                        "uthreshold" => "upper_threshold",
                        _ => "lower_threshold",
                    };
                    s.out.push((key.into(), V::Int(v)));
                }
            }
            k if TIMING.contains(&k) => self.timing(c, &mut s.timing, "server"),
            "TCP_CHECK" | "HTTP_GET" | "SSL_GET" | "MISC_CHECK" | "UDP_CHECK" | "DNS_CHECK"
            | "PING_CHECK" | "SMTP_CHECK" | "FILE_CHECK" => {
                if s.check.is_some() {
                    // An empty checker block is a checker with keepalived's defaults.
                    self.lost_even_empty(
                        c,
                        "haldir runs one check per real server: the first is kept",
                    );
                } else {
                    s.check = self.checker(c, &s.timing);
                }
            }
            _ => self.unmapped(c),
        }
    }

    /// The port the server gets under haldir's address rules: none on a fwmark service's
    /// servers, and DR/TUN servers on the service's port; the port keepalived checked is kept
    /// as the check's.
    fn server_port(
        &mut self,
        n: &Node,
        (addr, port): (&str, Option<u16>),
        key: &Key,
        vs_port: Option<u16>,
        s: &mut Server,
        notes: &mut Vec<String>,
    ) -> Option<u16> {
        // keepalived keeps a NAT server's port, fwmark or not (the kernel rewrites the
        // destination to it); DR and TUN servers get the service's port, none for fwmark.
        let fwmark = matches!(key, Key::Fwmark(_));
        let moved = port.filter(|p| s.forwarding != "nat" && (fwmark || Some(*p) != vs_port));
        if let (Some(p), Some(check)) = (moved, s.check.as_mut())
            && !check.iter().any(|(k, _)| k == "port")
        {
            check.push(("port".into(), V::Int(i64::from(p))));
        }
        // check/check_api.c: a checker's destination is the server's address as read, before
        // validation gives a server without a port the service's port: keepalived connects to
        // port 0, which never answers.
        let connects = s.check.as_ref().is_some_and(|c| {
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
            let forwarding = &s.forwarding;
            notes.push(format!(
                "{addr} port {p}: with {forwarding} the real server takes the service's port; {p} is kept for its check"
            ));
        }
        match moved {
            Some(_) => vs_port.filter(|_| !fwmark),
            None => port,
        }
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
