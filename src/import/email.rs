//! global_defs' mail keywords → `[email]`. keepalived mails only when it has both recipients
//! and a server (core/smtp.c); its switches fall back smtp_alert_vrrp → smtp_alert → off for
//! VRRP, smtp_alert_checker → smtp_alert → on for real servers and → off for virtual servers
//! (vrrp/vrrp.c, check/check_data.c).

use super::emit::V;
use super::mapper::Mapper;
use super::tree::Node;

#[derive(Default)]
pub(super) struct Mail<'n> {
    to: Vec<String>,
    from: Option<String>,
    server: Option<(&'n Node, String)>,
    helo: Option<String>,
    timeout: Option<String>,
    alert: Option<bool>,
    vrrp: Option<bool>,
    checker: Option<bool>,
    statement: Option<&'n Node>,
}

impl Mapper {
    /// Takes a mail keyword of global_defs; false when `n` is none.
    pub(super) fn mail_keyword<'n>(&mut self, n: &'n Node, m: &mut Mail<'n>) -> bool {
        match n.key.as_str() {
            "notification_email" => {
                for e in n.children() {
                    if is_mailbox(&e.key) {
                        m.to.push(e.key.clone());
                    } else {
                        self.lost(
                            e,
                            "not a mail address haldir can send to (user@domain, or a local name)",
                        );
                    }
                }
            }
            "notification_email_from" => match self.one(n) {
                Some(a) if is_mailbox(a) => m.from = Some(a.to_string()),
                Some(_) => self.lost(
                    n,
                    "not a mail address haldir can send from (user@domain, or a local name)",
                ),
                None => {}
            },
            "smtp_server" => match self.one(n) {
                Some(host) if is_host(host) => {
                    let port = n.arg(1).unwrap_or("25");
                    let host = if host.contains(':') {
                        format!("[{host}]")
                    } else {
                        host.to_string()
                    };
                    m.server = Some((n, format!("{host}:{port}")));
                }
                Some(_) => self.warn(
                    n,
                    "keepalived cannot use this server (\"Invalid smtp server\"): no mail is sent",
                ),
                None => {}
            },
            "smtp_helo_name" => m.helo = self.one(n).map(str::to_string),
            "smtp_connect_timeout" => {
                // keepalived turns 0 into 1 s.
                m.timeout = self.int(n).map(|s| format!("{}s", s.max(1)));
            }
            "smtp_alert" => m.alert = self.boolean(n),
            "smtp_alert_vrrp" => m.vrrp = self.boolean(n),
            "smtp_alert_checker" => m.checker = self.boolean(n),
            _ => return false,
        }
        m.statement.get_or_insert(n);
        true
    }

    /// The `[email]` table, when keepalived would mail at all.
    pub(super) fn mail_table(&mut self, m: Mail) -> Option<Vec<(String, V)>> {
        let first = m.statement?;
        let Some((server_node, server)) = m.server else {
            self.warn(
                first,
                "keepalived mails nothing without smtp_server: no [email] is written",
            );
            return None;
        };
        if m.to.is_empty() {
            self.warn(server_node, "keepalived mails nothing without a notification_email address: no [email] is written");
            return None;
        }
        let mut t = vec![("to".to_string(), V::strs(&m.to))];
        match m.from {
            Some(f) => t.push(("from".into(), V::Str(f))),
            None => self.warn(first, "no notification_email_from: keepalived sends from <its user>@<host name>, haldir from haldir@<host name>"),
        }
        t.push(("smtp_server".into(), V::Str(server)));
        if let Some(h) = m.helo {
            t.push(("smtp_helo_name".into(), V::Str(h)));
        }
        if let Some(s) = m.timeout {
            t.push(("smtp_connect_timeout".into(), V::Str(s)));
        }
        let vrrp = m.vrrp.or(m.alert).unwrap_or(false);
        let checker = m.checker.or(m.alert);
        t.push(("vrrp".into(), V::Bool(vrrp)));
        t.push(("checker".into(), V::Bool(checker.unwrap_or(true))));
        t.push(("quorum".into(), V::Bool(checker.unwrap_or(false))));
        Some(t)
    }
}

/// What `[email]` takes: user@domain, or a bare local name, sent as written as keepalived
/// sends it.
fn is_mailbox(a: &str) -> bool {
    let parts = match a.split_once('@') {
        Some((u, d)) => !u.is_empty() && !d.is_empty() && !d.contains('@'),
        None => !a.is_empty(),
    };
    parts && !a.contains(|c: char| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
}

/// An IP address or a host name keepalived could resolve.
fn is_host(h: &str) -> bool {
    h.parse::<std::net::IpAddr>().is_ok()
        || (!h.is_empty()
            && h.split('.')
                .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')))
}
