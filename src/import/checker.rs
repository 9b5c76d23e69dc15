//! keepalived's checkers (`TCP_CHECK`, `HTTP_GET`, `SSL_GET`, `UDP_CHECK`, `DNS_CHECK`,
//! `PING_CHECK`, `SMTP_CHECK`, `MISC_CHECK`, `FILE_CHECK`) → a real server's `check`, with the
//! timing it inherits from its server and service written out.

use super::emit::V;
use super::lvs::{TIMING, Timing};
use super::mapper::Mapper;
use super::tree::Node;

impl Mapper {
    /// A checker block as a haldir check, keepalived's defaults written out.
    ///
    /// Long because it is keepalived's keyword table for checkers, one arm per keyword as
    /// check/check_*.c installs them: read side by side with that source, one match is
    /// clearer than the same arms spread over helpers.
    pub(super) fn checker(&mut self, n: &Node, inherited: &Timing) -> Option<Vec<(String, V)>> {
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
