//! Health checks: type-specific keys, defaults, and the merge of a real server's override over
//! the service's check.

use std::time::Duration;

use super::super::leaf::{Leaf, LeafType, Sp, opt_leaf};
use super::super::model::{Check, CheckKind, HttpCheck};
use super::super::raw;
use super::super::source::{Diags, Loc};
use super::super::types::CheckType;
use super::super::types::HttpProtocol;
use super::kinds;
use super::{command, opt_int, positive};

use CheckType::{Dns, File, Http, Https, Misc, Ping, Smtp, Tcp, Udp};

/// Which check types each type-specific key belongs to.
const SPECIFIC: &[(&str, &[CheckType])] = &[
    ("path", &[Http, Https]),
    ("status", &[Http, Https]),
    ("host", &[Http, Https]),
    ("body_regex", &[Http, Https]),
    ("digest", &[Http, Https]),
    ("http_protocol", &[Http, Https]),
    ("url", &[Http, Https]),
    ("tls_verify", &[Https]),
    ("sni", &[Https]),
    ("command", &[Misc]),
    ("dynamic_weight", &[Misc]),
    ("half_open", &[Tcp]),
    ("source", &[Tcp, Http, Https, Udp, Dns, Ping, Smtp]),
    ("payload", &[Udp]),
    ("payload_hex", &[Udp]),
    ("require_reply", &[Udp]),
    ("reply_hex", &[Udp]),
    ("reply_regex", &[Udp]),
    ("min_reply_length", &[Udp]),
    ("max_reply_length", &[Udp]),
    ("query_name", &[Dns]),
    ("query_type", &[Dns]),
    ("require_answer", &[Dns]),
    ("helo_name", &[Smtp]),
    ("hosts", &[Smtp]),
    ("file", &[File]),
    ("weight", &[File]),
];

fn specific_locs(c: &raw::Check) -> Vec<(&'static str, Option<Loc>)> {
    fn l<T: LeafType>(x: &Option<Leaf<T>>) -> Option<Loc> {
        x.as_ref().map(Leaf::loc)
    }
    fn first<T>(x: &Option<Vec<Sp<T>>>) -> Option<Loc> {
        x.as_ref().and_then(|v| v.first()).map(|s| s.loc)
    }
    vec![
        ("path", l(&c.path)),
        ("status", l(&c.status)),
        ("host", l(&c.host)),
        ("body_regex", l(&c.body_regex)),
        ("digest", l(&c.digest)),
        ("http_protocol", l(&c.http_protocol)),
        ("url", first(&c.url)),
        ("tls_verify", l(&c.tls_verify)),
        ("sni", l(&c.sni)),
        ("command", c.command.as_ref().map(|s| s.loc)),
        ("dynamic_weight", l(&c.dynamic_weight)),
        ("half_open", l(&c.half_open)),
        ("source", l(&c.source)),
        ("payload", l(&c.payload)),
        ("payload_hex", l(&c.payload_hex)),
        ("require_reply", l(&c.require_reply)),
        ("reply_hex", l(&c.reply_hex)),
        ("reply_regex", l(&c.reply_regex)),
        ("min_reply_length", l(&c.min_reply_length)),
        ("max_reply_length", l(&c.max_reply_length)),
        ("query_name", l(&c.query_name)),
        ("query_type", l(&c.query_type)),
        ("require_answer", l(&c.require_answer)),
        ("helo_name", l(&c.helo_name)),
        ("hosts", first(&c.hosts)),
        ("file", l(&c.file)),
        ("weight", l(&c.weight)),
    ]
}

/// The effective check of a real server: `own` merged over `base` (the service's). A key the
/// real server writes wins; when it changes the type, only the timing keys are inherited.
pub(super) fn effective(
    own: Option<&Sp<raw::Check>>,
    base: Option<&Sp<raw::Check>>,
    d: &mut Diags,
) -> Option<Check> {
    let (at, kind_leaf) = match (own, base) {
        (None, None) => return None,
        (Some(o), _) if o.value.kind.is_some() => (o.loc, o.value.kind.as_ref()),
        (Some(o), Some(b)) => (o.loc, b.value.kind.as_ref()),
        (Some(o), None) => (o.loc, None),
        (None, Some(b)) => (b.loc, b.value.kind.as_ref()),
    };
    let Some(kind_leaf) = kind_leaf else {
        d.error(
            at,
            "the check needs `type` (\"tcp\", \"http\", \"https\", \"misc\", \"udp\", \"dns\", \"ping\", \"smtp\" or \"file\")",
        );
        return None;
    };
    let kind = kind_leaf.get("type", d)?;
    let base_kind = base
        .and_then(|b| b.value.kind.as_ref())
        .and_then(|k| CheckType::parse(&k.raw.value).ok());
    // Keys are checked in the table that wrote them: the real server's own override, or the
    // service's check when lowering that. A service key the override's new type does not use
    // is simply not inherited.
    if let Some(c) = own.or(base) {
        keys_of_other_types(&c.value, kind, d);
    }
    let m = Merge {
        own: own.map(|o| &o.value),
        base: base.map(|b| &b.value),
        inherit_specific: own.is_none_or(|o| o.value.kind.is_none()) || base_kind == Some(kind),
    };
    let interval = positive(
        &m.any(|c| &c.interval).cloned(),
        "interval",
        Duration::from_secs(5),
        d,
    );
    let timeout = positive(
        &m.any(|c| &c.timeout).cloned(),
        "timeout",
        Duration::from_secs(3),
        d,
    );
    let retry_delay =
        opt_leaf(m.any(|c| &c.retry_delay), "retry_delay", d).unwrap_or(Duration::from_secs(1));
    let fall = opt_int(&m.any(|c| &c.fall).cloned(), "fall", 1, 1000, d).unwrap_or(3);
    let rise = opt_int(&m.any(|c| &c.rise).cloned(), "rise", 1, 1000, d).unwrap_or(1);
    let port = opt_int(&m.any(|c| &c.port).cloned(), "port", 1, 65535, d);
    let address = opt_leaf(m.any(|c| &c.address), "address", d);
    let kind = m.kind(kind, at, d)?;
    Some(Check {
        kind,
        interval,
        timeout,
        fall,
        rise,
        retry_delay,
        port,
        address,
        source: opt_leaf(m.specific(|c| &c.source), "source", d),
        alpha: opt_leaf(m.any(|c| &c.alpha), "alpha", d).unwrap_or(false),
    })
}

/// An error for each type-specific key of `c` that a check of `kind` does not use.
fn keys_of_other_types(c: &raw::Check, kind: CheckType, d: &mut Diags) {
    for (key, loc) in specific_locs(c) {
        let (Some(loc), Some((_, types))) = (loc, SPECIFIC.iter().find(|(k, _)| *k == key)) else {
            continue;
        };
        if !types.contains(&kind) {
            let owners: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
            d.error(
                loc,
                format!(
                    "`{key}` does not apply to a {kind} check (it belongs to {})",
                    owners.join(" and ")
                ),
            );
        }
    }
}

/// A real server's check over its service's: which table each key comes from.
struct Merge<'a> {
    own: Option<&'a raw::Check>,
    base: Option<&'a raw::Check>,
    /// The service's type-specific keys apply: the real server keeps the service's type.
    inherit_specific: bool,
}

impl<'a> Merge<'a> {
    /// A common key: own, else base.
    fn any<T>(&self, f: impl Fn(&'a raw::Check) -> &'a Option<T>) -> Option<&'a T> {
        self.own
            .and_then(|o| f(o).as_ref())
            .or_else(|| self.base.and_then(|b| f(b).as_ref()))
    }

    /// A type-specific key: own, else base when inherited.
    fn specific<T>(&self, f: impl Fn(&'a raw::Check) -> &'a Option<T>) -> Option<&'a T> {
        self.own.and_then(|o| f(o).as_ref()).or_else(|| {
            self.base
                .filter(|_| self.inherit_specific)
                .and_then(|b| f(b).as_ref())
        })
    }

    /// What a check of `kind` probes, from the keys of its type.
    fn kind(&self, kind: CheckType, at: Loc, d: &mut Diags) -> Option<CheckKind> {
        Some(match kind {
            CheckType::Tcp => CheckKind::Tcp {
                half_open: opt_leaf(self.specific(|c| &c.half_open), "half_open", d)
                    .unwrap_or(false),
            },
            CheckType::Ping => CheckKind::Ping,
            CheckType::Http => CheckKind::Http(self.http(d)?),
            CheckType::Https => CheckKind::Https {
                http: self.http(d)?,
                tls_verify: opt_leaf(self.specific(|c| &c.tls_verify), "tls_verify", d)
                    .unwrap_or(false),
                sni: opt_leaf(self.specific(|c| &c.sni), "sni", d),
            },
            CheckType::Misc => self.misc(at, d)?,
            CheckType::Udp => CheckKind::Udp(kinds::udp(self.udp(), d)?),
            CheckType::Dns => CheckKind::Dns(kinds::dns(
                self.specific(|c| &c.query_name),
                self.specific(|c| &c.query_type),
                self.specific(|c| &c.require_answer),
                d,
            )?),
            CheckType::Smtp => CheckKind::Smtp(kinds::smtp(
                self.specific(|c| &c.helo_name),
                self.specific(|c| &c.hosts),
                d,
            )?),
            CheckType::File => CheckKind::File(kinds::file(
                at,
                self.specific(|c| &c.file),
                self.specific(|c| &c.weight),
                d,
            )?),
        })
    }

    fn http(&self, d: &mut Diags) -> Option<HttpCheck> {
        let single = kinds::UrlLeaves {
            path: self.specific(|c| &c.path),
            status: self.specific(|c| &c.status),
            digest: self.specific(|c| &c.digest),
            body_regex: self.specific(|c| &c.body_regex),
        };
        let host_leaf = self.specific(|c| &c.host);
        let host = opt_leaf(host_leaf, "host", d);
        if let (Some(h), Some(l)) = (&host, host_leaf)
            && (h.is_empty() || h.contains(char::is_whitespace))
        {
            d.error(
                l.loc(),
                "`host` must be a non-empty host name without spaces",
            );
        }
        Some(HttpCheck {
            urls: kinds::urls(single, self.specific(|c| &c.url), d)?,
            host,
            http_protocol: opt_leaf(self.specific(|c| &c.http_protocol), "http_protocol", d)
                .unwrap_or(HttpProtocol::Http11),
        })
    }

    fn misc(&self, at: Loc, d: &mut Diags) -> Option<CheckKind> {
        let Some(cmd) = self.specific(|c| &c.command) else {
            d.error(at, "a misc check needs `command`, e.g. [\"/etc/haldir/check.sh\", \"{address}\", \"{port}\"]");
            return None;
        };
        Some(CheckKind::Misc {
            command: command(cmd, "command", d)?,
            dynamic_weight: opt_leaf(self.specific(|c| &c.dynamic_weight), "dynamic_weight", d)
                .unwrap_or(false),
        })
    }

    fn udp(&self) -> kinds::UdpLeaves<'a> {
        // The payload is one thing written two ways: the override's, either way, replaces
        // the service's.
        let own_payload = self
            .own
            .filter(|o| o.payload.is_some() || o.payload_hex.is_some());
        let (payload, payload_hex) = match own_payload {
            Some(o) => (o.payload.as_ref(), o.payload_hex.as_ref()),
            None => (
                self.specific(|c| &c.payload),
                self.specific(|c| &c.payload_hex),
            ),
        };
        kinds::UdpLeaves {
            payload,
            payload_hex,
            require_reply: self.specific(|c| &c.require_reply),
            reply_hex: self.specific(|c| &c.reply_hex),
            reply_regex: self.specific(|c| &c.reply_regex),
            min_reply_length: self.specific(|c| &c.min_reply_length),
            max_reply_length: self.specific(|c| &c.max_reply_length),
        }
    }
}
