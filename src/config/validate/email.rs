//! [email] and the `smtp_alert` switches of instances, groups, services and real servers.

use std::time::Duration;

use super::super::leaf::{Leaf, Sp};
use super::super::model::Email;
use super::super::raw;
use super::super::source::Diags;
use super::{or, positive};

pub(super) fn email(sp: Option<&Sp<raw::Email>>, host_name: &str, d: &mut Diags) -> Option<Email> {
    let sp = sp?;
    let e = &sp.value;
    let to: Vec<String> = match &e.to {
        Some(list) => {
            if list.value.is_empty() {
                d.error(list.loc, "`to` is empty: name at least one recipient");
            }
            list.value
                .iter()
                .filter_map(|l| mailbox(l, "to", d))
                .collect()
        }
        None => {
            d.error(sp.loc, "[email] needs `to`, the recipients");
            Vec::new()
        }
    };
    let from = match &e.from {
        Some(l) => mailbox(l, "from", d)?,
        None => format!("haldir@{host_name}"),
    };
    let smtp_server = match &e.smtp_server {
        Some(l) => server(l, d)?,
        None => {
            d.error(
                sp.loc,
                "[email] needs `smtp_server`, \"host\" or \"host:port\"",
            );
            return None;
        }
    };
    Some(Email {
        to,
        from,
        smtp_server,
        smtp_helo_name: or(
            &e.smtp_helo_name,
            "smtp_helo_name",
            host_name.to_string(),
            d,
        ),
        smtp_connect_timeout: positive(
            &e.smtp_connect_timeout,
            "smtp_connect_timeout",
            Duration::from_secs(30),
            d,
        ),
        vrrp: or(&e.vrrp, "vrrp", false, d),
        checker: or(&e.checker, "checker", true, d),
        quorum: or(&e.quorum, "quorum", false, d),
    })
}

/// An address as SMTP takes it: `user@domain`, or a bare local name that the mail server
/// completes with its own domain (keepalived sends either as written); no spaces, angle
/// brackets (those are added) or a stray `@`.
fn mailbox(l: &Leaf<String>, key: &str, d: &mut Diags) -> Option<String> {
    let v = l.get(key, d)?;
    let plain = v
        .chars()
        .all(|c| !c.is_whitespace() && !c.is_control() && c != '<' && c != '>');
    let parts_ok = match v.split_once('@') {
        Some((user, domain)) => !user.is_empty() && !domain.is_empty() && !domain.contains('@'),
        None => !v.is_empty(),
    };
    if plain && parts_ok {
        return Some(v);
    }
    d.error(
        l.loc(),
        format!("`{key}`: \"{v}\" is not a mail address (user@domain, or a local name)"),
    );
    None
}

/// "host" or "host:port" (IPv6: "[addr]:port" or a bare address), port 25 by default.
fn server(l: &Leaf<String>, d: &mut Diags) -> Option<String> {
    let v = l.get("smtp_server", d)?;
    let (host, port) = split_host_port(&v);
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if host.is_empty() || !port_ok || host.contains(char::is_whitespace) {
        d.error(
            l.loc(),
            format!("`smtp_server`: \"{v}\" is not \"host\" or \"host:port\""),
        );
        return None;
    }
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    Some(format!("{host}:{}", port.unwrap_or("25")))
}

fn split_host_port(v: &str) -> (&str, Option<&str>) {
    if let Some(rest) = v.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':')),
            None => ("", None),
        };
    }
    // A bare IPv6 address has several colons and no port.
    if v.matches(':').count() > 1 {
        return (v, None);
    }
    match v.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (v, None),
    }
}

/// One `smtp_alert`: its value, else the [email] default; without [email] it cannot be on.
pub(super) fn alert(leaf: &Option<Leaf<bool>>, default: Option<bool>, d: &mut Diags) -> bool {
    match (leaf, default) {
        (None, default) => default.unwrap_or(false),
        (Some(l), None) => {
            if l.get("smtp_alert", d) == Some(true) {
                d.error(
                    l.loc(),
                    "`smtp_alert = true` needs an [email] section: it says where the mail goes",
                );
            }
            false
        }
        (Some(l), Some(default)) => l.get("smtp_alert", d).unwrap_or(default),
    }
}

#[cfg(test)]
mod tests {
    use super::split_host_port;

    #[test]
    fn host_and_port_forms() {
        assert_eq!(split_host_port("mail"), ("mail", None));
        assert_eq!(split_host_port("10.0.0.1:2525"), ("10.0.0.1", Some("2525")));
        assert_eq!(split_host_port("2001:db8::1"), ("2001:db8::1", None));
        assert_eq!(
            split_host_port("[2001:db8::1]:25"),
            ("2001:db8::1", Some("25"))
        );
    }
}
