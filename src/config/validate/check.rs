//! Health checks: type-specific keys, defaults, and the merge of a real server's override over
//! the service's check.

use std::time::Duration;

use super::super::leaf::{Leaf, LeafType, Sp};
use super::super::model::{Check, CheckKind, HttpCheck};
use super::super::raw;
use super::super::source::{Diag, Diags, Loc};
use super::super::types::CheckType;
use super::{command, opt_int, positive};

/// Which check types each type-specific key belongs to.
const SPECIFIC: &[(&str, &[CheckType])] = &[
    ("path", &[CheckType::Http, CheckType::Https]),
    ("status", &[CheckType::Http, CheckType::Https]),
    ("host", &[CheckType::Http, CheckType::Https]),
    ("body_regex", &[CheckType::Http, CheckType::Https]),
    ("tls_verify", &[CheckType::Https]),
    ("sni", &[CheckType::Https]),
    ("command", &[CheckType::Misc]),
    ("dynamic_weight", &[CheckType::Misc]),
];

fn specific_locs(c: &raw::Check) -> [(&'static str, Option<Loc>); 8] {
    [
        ("path", c.path.as_ref().map(Leaf::loc)),
        ("status", c.status.as_ref().map(Leaf::loc)),
        ("host", c.host.as_ref().map(Leaf::loc)),
        ("body_regex", c.body_regex.as_ref().map(Leaf::loc)),
        ("tls_verify", c.tls_verify.as_ref().map(Leaf::loc)),
        ("sni", c.sni.as_ref().map(Leaf::loc)),
        ("command", c.command.as_ref().map(|s| s.loc)),
        ("dynamic_weight", c.dynamic_weight.as_ref().map(Leaf::loc)),
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
            "the check needs `type` (\"tcp\", \"http\", \"https\" or \"misc\")",
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
        let path = opt_leaf(pick!(path, specific), "path", d).unwrap_or_else(|| "/".into());
        if !path.starts_with('/')
            && let Some(l) = pick!(path, specific)
        {
            d.error(
                l.loc(),
                format!("`path` must start with '/': write \"/{path}\""),
            );
        }
        let status = opt_leaf(pick!(status, specific), "status", d).unwrap_or_default();
        let host = opt_leaf(pick!(host, specific), "host", d);
        if let (Some(h), Some(l)) = (&host, pick!(host, specific))
            && (h.is_empty() || h.contains(char::is_whitespace))
        {
            d.error(
                l.loc(),
                "`host` must be a non-empty host name without spaces",
            );
        }
        let body_regex = opt_leaf(pick!(body_regex, specific), "body_regex", d);
        if let (Some(re), Some(l)) = (&body_regex, pick!(body_regex, specific))
            && let Err(e) = regex::Regex::new(re)
        {
            d.push(
                Diag::error(l.loc(), "`body_regex` is not a valid regular expression")
                    .with_help(e.to_string()),
            );
        }
        Some(HttpCheck {
            path,
            status,
            host,
            body_regex,
        })
    };

    let kind = match kind {
        CheckType::Tcp => CheckKind::Tcp,
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
    })
}

fn opt_leaf<T: LeafType>(leaf: Option<&Leaf<T>>, key: &str, d: &mut Diags) -> Option<T::Out> {
    leaf.and_then(|l| l.get(key, d))
}
