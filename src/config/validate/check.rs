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
    let inherit_specific = own.is_none_or(|o| o.value.kind.is_none()) || base_kind == Some(kind);

    // Keys are checked in the table that wrote them: the real server's own override, or the
    // service's check when lowering that. A service key the override's new type does not use
    // is simply not inherited.
    if let Some(c) = own.or(base) {
        for (key, loc) in specific_locs(&c.value) {
            let (Some(loc), Some((_, types))) = (loc, SPECIFIC.iter().find(|(k, _)| *k == key))
            else {
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

    let own_v = own.map(|o| &o.value);
    let base_v = base.map(|b| &b.value);
    // A common key: own, else base. A type-specific key: own, else base when inherited.
    macro_rules! pick {
        ($f:ident) => {
            own_v
                .and_then(|o| o.$f.as_ref())
                .or_else(|| base_v.and_then(|b| b.$f.as_ref()))
        };
        ($f:ident, specific) => {
            own_v.and_then(|o| o.$f.as_ref()).or_else(|| {
                if inherit_specific {
                    base_v.and_then(|b| b.$f.as_ref())
                } else {
                    None
                }
            })
        };
    }

    let interval = positive(
        &pick!(interval).cloned(),
        "interval",
        Duration::from_secs(5),
        d,
    );
    let timeout = positive(
        &pick!(timeout).cloned(),
        "timeout",
        Duration::from_secs(3),
        d,
    );
    let retry_delay =
        opt_leaf(pick!(retry_delay), "retry_delay", d).unwrap_or(Duration::from_secs(1));
    let fall = opt_int(&pick!(fall).cloned(), "fall", 1, 1000, d).unwrap_or(3);
    let rise = opt_int(&pick!(rise).cloned(), "rise", 1, 1000, d).unwrap_or(1);
    let port = opt_int(&pick!(port).cloned(), "port", 1, 65535, d);
    let address = opt_leaf(pick!(address), "address", d);

    let http = |d: &mut Diags| -> Option<HttpCheck> {
        let single = kinds::UrlLeaves {
            path: pick!(path, specific),
            status: pick!(status, specific),
            digest: pick!(digest, specific),
            body_regex: pick!(body_regex, specific),
        };
        let host = opt_leaf(pick!(host, specific), "host", d);
        if let (Some(h), Some(l)) = (&host, pick!(host, specific))
            && (h.is_empty() || h.contains(char::is_whitespace))
        {
            d.error(
                l.loc(),
                "`host` must be a non-empty host name without spaces",
            );
        }
        let several = own_v.and_then(|o| o.url.as_ref()).or_else(|| {
            base_v
                .and_then(|b| b.url.as_ref())
                .filter(|_| inherit_specific)
        });
        Some(HttpCheck {
            urls: kinds::urls(single, several, d)?,
            host,
            http_protocol: opt_leaf(pick!(http_protocol, specific), "http_protocol", d)
                .unwrap_or(HttpProtocol::Http11),
        })
    };

    let own_payload = own_v.filter(|o| o.payload.is_some() || o.payload_hex.is_some());
    let payload_pair = match own_payload {
        Some(o) => (o.payload.as_ref(), o.payload_hex.as_ref()),
        None => (pick!(payload, specific), pick!(payload_hex, specific)),
    };
    let kind = match kind {
        CheckType::Tcp => CheckKind::Tcp {
            half_open: opt_leaf(pick!(half_open, specific), "half_open", d).unwrap_or(false),
        },
        CheckType::Ping => CheckKind::Ping,
        CheckType::Http => CheckKind::Http(http(d)?),
        CheckType::Https => CheckKind::Https {
            http: http(d)?,
            tls_verify: opt_leaf(pick!(tls_verify, specific), "tls_verify", d).unwrap_or(false),
            sni: opt_leaf(pick!(sni, specific), "sni", d),
        },
        CheckType::Misc => {
            let Some(cmd) = pick!(command, specific) else {
                d.error(at, "a misc check needs `command`, e.g. [\"/etc/haldir/check.sh\", \"{address}\", \"{port}\"]");
                return None;
            };
            CheckKind::Misc {
                command: command(cmd, "command", d)?,
                dynamic_weight: opt_leaf(pick!(dynamic_weight, specific), "dynamic_weight", d)
                    .unwrap_or(false),
            }
        }
        CheckType::Udp => CheckKind::Udp(kinds::udp(
            kinds::UdpLeaves {
                // The payload is one thing written two ways: the override's, either way,
                // replaces the service's.
                payload: payload_pair.0,
                payload_hex: payload_pair.1,
                require_reply: pick!(require_reply, specific),
                reply_hex: pick!(reply_hex, specific),
                reply_regex: pick!(reply_regex, specific),
                min_reply_length: pick!(min_reply_length, specific),
                max_reply_length: pick!(max_reply_length, specific),
            },
            d,
        )?),
        CheckType::Dns => CheckKind::Dns(kinds::dns(
            pick!(query_name, specific),
            pick!(query_type, specific),
            pick!(require_answer, specific),
            d,
        )?),
        CheckType::Smtp => {
            let hosts = own_v.and_then(|o| o.hosts.as_ref()).or_else(|| {
                base_v
                    .and_then(|b| b.hosts.as_ref())
                    .filter(|_| inherit_specific)
            });
            CheckKind::Smtp(kinds::smtp(pick!(helo_name, specific), hosts, d)?)
        }
        CheckType::File => CheckKind::File(kinds::file(
            at,
            pick!(file, specific),
            pick!(weight, specific),
            d,
        )?),
    };
    Some(Check {
        kind,
        interval,
        timeout,
        fall,
        rise,
        retry_delay,
        port,
        address,
        source: opt_leaf(pick!(source, specific), "source", d),
        alpha: opt_leaf(pick!(alpha), "alpha", d).unwrap_or(false),
    })
}
