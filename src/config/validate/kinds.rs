//! The keys of each check type beyond the common ones: URLs and digests (http, https), the
//! datagram and its expected reply (udp), the query (dns), the HELO name and extra hosts
//! (smtp), the watched file (file).

use std::path::PathBuf;

use super::super::leaf::opt_leaf;
use super::super::leaf::{Leaf, Sp};
use super::super::model::{DnsCheck, FileCheck, HttpUrl, SmtpCheck, SmtpHost, UdpCheck};
use super::super::raw::{self, Int, Str};
use super::super::source::{Diag, Diags, Loc};
use super::super::types::{DnsType, StatusSet};

/// The single-URL keys of an http check, as picked from the real server's and the service's
/// check.
pub(super) struct UrlLeaves<'a> {
    pub path: Option<&'a Str>,
    pub status: Option<&'a Leaf<StatusSet>>,
    pub digest: Option<&'a Str>,
    pub body_regex: Option<&'a Str>,
}

/// The URLs an http check fetches: `url = [...]`, or the single one written with `path`,
/// `status`, `digest` and `body_regex` (default "/").
pub(super) fn urls(
    single: UrlLeaves,
    several: Option<&Vec<Sp<raw::Url>>>,
    d: &mut Diags,
) -> Option<Vec<HttpUrl>> {
    let Some(list) = several else {
        return Some(vec![url(single, d)]);
    };
    let written = [
        single.path.map(Leaf::loc),
        single.status.map(Leaf::loc),
        single.digest.map(Leaf::loc),
        single.body_regex.map(Leaf::loc),
    ];
    if let Some(loc) = written.into_iter().flatten().next() {
        d.push(
            Diag::error(loc, "a check with `url` entries takes path, status, digest and body_regex in each entry")
                .with_help("move this key into the `url` entries"),
        );
        return None;
    }
    if list.is_empty() {
        return Some(vec![url(single, d)]);
    }
    Some(
        list.iter()
            .map(|u| {
                if u.value.path.is_none() {
                    d.error(u.loc, "a `url` entry needs `path`");
                }
                url(
                    UrlLeaves {
                        path: u.value.path.as_ref(),
                        status: u.value.status.as_ref(),
                        digest: u.value.digest.as_ref(),
                        body_regex: u.value.body_regex.as_ref(),
                    },
                    d,
                )
            })
            .collect(),
    )
}

fn url(u: UrlLeaves, d: &mut Diags) -> HttpUrl {
    let path = opt_leaf(u.path, "path", d).unwrap_or_else(|| "/".into());
    if !path.starts_with('/')
        && let Some(l) = u.path
    {
        d.error(
            l.loc(),
            format!("`path` must start with '/': write \"/{path}\""),
        );
    }
    let digest = opt_leaf(u.digest, "digest", d).map(|s| s.to_ascii_lowercase());
    if let (Some(text), Some(l)) = (&digest, u.digest)
        && (text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        d.push(
            Diag::error(l.loc(), "`digest` is the MD5 of the body: 32 hex digits")
                .with_help("`haldir genhash URL` prints it"),
        );
    }
    let body_regex = opt_leaf(u.body_regex, "body_regex", d);
    if let (Some(re), Some(l)) = (&body_regex, u.body_regex) {
        regex_ok(re, l, "body_regex", d);
    }
    HttpUrl {
        path,
        status: opt_leaf(u.status, "status", d).unwrap_or_default(),
        digest,
        body_regex,
    }
}

fn regex_ok(re: &str, l: &Str, key: &str, d: &mut Diags) {
    if let Err(e) = regex::bytes::Regex::new(re) {
        d.push(
            Diag::error(
                l.loc(),
                format!("`{key}` is not a valid regular expression"),
            )
            .with_help(e.to_string()),
        );
    }
}

/// Hex as keepalived reads it: whitespace separates tokens, each token is read two digits at a
/// time and a lone last digit is a byte of its own ("Ab12f 3" is AB 12 0F 03). With
/// `wildcard`, an "x" matches any nibble. Each byte comes with the mask of the bits that must
/// match.
pub(super) fn parse_hex(text: &str, wildcard: bool) -> Result<Vec<(u8, u8)>, String> {
    let nibble = |c: char| -> Result<(u8, u8), String> {
        match c {
            'x' | 'X' if wildcard => Ok((0, 0)),
            _ => c
                .to_digit(16)
                .map(|v| (v as u8, 0xf))
                .ok_or_else(|| format!("'{c}' is not a hex digit")),
        }
    };
    let mut out = Vec::new();
    for token in text.split_whitespace() {
        let chars: Vec<char> = token.chars().collect();
        for pair in chars.chunks(2) {
            let (lo_v, lo_m) = nibble(pair[pair.len() - 1])?;
            let (hi_v, hi_m) = if pair.len() == 2 {
                nibble(pair[0])?
            } else {
                (0, 0xf)
            };
            out.push((hi_v << 4 | lo_v, hi_m << 4 | lo_m));
        }
    }
    if out.is_empty() {
        return Err("no hex digits".into());
    }
    Ok(out)
}

/// The udp keys, as picked.
pub(super) struct UdpLeaves<'a> {
    pub payload: Option<&'a Str>,
    pub payload_hex: Option<&'a Str>,
    pub require_reply: Option<&'a Leaf<bool>>,
    pub reply_hex: Option<&'a Str>,
    pub reply_regex: Option<&'a Str>,
    pub min_reply_length: Option<&'a Int>,
    pub max_reply_length: Option<&'a Int>,
}

pub(super) fn udp(u: UdpLeaves, d: &mut Diags) -> Option<UdpCheck> {
    let hex = |leaf: Option<&Str>, key: &str, wildcard: bool, d: &mut Diags| {
        let l = leaf?;
        let text = l.get(key, d)?;
        match parse_hex(&text, wildcard) {
            Ok(v) => Some(v),
            Err(e) => {
                d.push(
                    Diag::error(l.loc(), format!("`{key}` is not hex"))
                        .with_help(format!("{e}: write bytes as \"0a1b 2c\"")),
                );
                None
            }
        }
    };
    if let (Some(_), Some(l)) = (u.payload, u.payload_hex) {
        d.error(l.loc(), "`payload` and `payload_hex` both set: keep one");
    }
    let payload = match (opt_leaf(u.payload, "payload", d), u.payload_hex) {
        (Some(text), _) => text.into_bytes(),
        (None, Some(_)) => hex(u.payload_hex, "payload_hex", false, d)?
            .into_iter()
            .map(|(b, _)| b)
            .collect(),
        (None, None) => Vec::new(),
    };
    if payload.len() > 65507
        && let Some(l) = u.payload.or(u.payload_hex)
    {
        d.error(l.loc(), "the payload is larger than a UDP datagram");
    }
    let reply_prefix = if u.reply_hex.is_some() {
        hex(u.reply_hex, "reply_hex", true, d)?
    } else {
        Vec::new()
    };
    let reply_regex = opt_leaf(u.reply_regex, "reply_regex", d);
    if let (Some(re), Some(l)) = (&reply_regex, u.reply_regex) {
        regex_ok(re, l, "reply_regex", d);
    }
    let len = |leaf: Option<&Int>, key: &str, d: &mut Diags| -> Option<u16> {
        leaf.and_then(|l| l.int_in(key, 0, 65535, d))
    };
    let min_reply_length = len(u.min_reply_length, "min_reply_length", d).unwrap_or(0);
    let max_reply_length = len(u.max_reply_length, "max_reply_length", d);
    if let (Some(max), Some(l)) = (max_reply_length, u.max_reply_length)
        && max < min_reply_length
    {
        d.error(
            l.loc(),
            "`max_reply_length` is under `min_reply_length`: every reply would fail",
        );
    }
    // Expecting something of the reply means a reply is required.
    let expects = !reply_prefix.is_empty()
        || reply_regex.is_some()
        || u.min_reply_length.is_some()
        || u.max_reply_length.is_some();
    let require_reply = opt_leaf(u.require_reply, "require_reply", d).unwrap_or(expects);
    if expects
        && !require_reply
        && let Some(l) = u.require_reply
    {
        d.error(
            l.loc(),
            "`require_reply = false` with an expected reply (reply_hex, reply_regex or a length)",
        );
    }
    Some(UdpCheck {
        payload,
        require_reply,
        reply_prefix,
        reply_regex,
        min_reply_length,
        max_reply_length,
    })
}

pub(super) fn dns(
    name: Option<&Str>,
    kind: Option<&Leaf<DnsType>>,
    require_answer: Option<&Leaf<bool>>,
    d: &mut Diags,
) -> Option<DnsCheck> {
    let query_name = opt_leaf(name, "query_name", d).unwrap_or_else(|| ".".into());
    if let Some(l) = name
        && let Err(e) = hickory_proto::rr::Name::from_ascii(&query_name)
    {
        d.push(Diag::error(l.loc(), "`query_name` is not a domain name").with_help(e.to_string()));
    }
    Some(DnsCheck {
        query_name,
        query_type: opt_leaf(kind, "query_type", d).unwrap_or(DnsType::Soa),
        require_answer: opt_leaf(require_answer, "require_answer", d).unwrap_or(false),
    })
}

pub(super) fn smtp(
    helo: Option<&Str>,
    hosts: Option<&Vec<Sp<raw::SmtpHost>>>,
    d: &mut Diags,
) -> Option<SmtpCheck> {
    let helo_name = opt_leaf(helo, "helo_name", d);
    if let (Some(h), Some(l)) = (&helo_name, helo)
        && (h.is_empty() || h.contains(char::is_whitespace))
    {
        d.error(l.loc(), "`helo_name` must be one word (a host name)");
    }
    let mut out = Vec::new();
    for h in hosts.into_iter().flatten() {
        let Some(address) = opt_leaf(h.value.address.as_ref(), "address", d) else {
            d.error(h.loc, "an smtp `hosts` entry needs `address`");
            continue;
        };
        out.push(SmtpHost {
            address,
            port: h
                .value
                .port
                .as_ref()
                .and_then(|p| p.int_in("port", 1, 65535, d)),
            source: opt_leaf(h.value.source.as_ref(), "source", d),
        });
    }
    Some(SmtpCheck {
        helo_name,
        hosts: out,
    })
}

pub(super) fn file(
    at: Loc,
    file: Option<&Str>,
    weight: Option<&Int>,
    d: &mut Diags,
) -> Option<FileCheck> {
    let Some(l) = file else {
        d.error(
            at,
            "a file check needs `file`, the path another tool writes the server's state into",
        );
        return None;
    };
    let path = PathBuf::from(l.get("file", d)?);
    if !path.is_absolute() || path.file_name().is_none() {
        d.error(l.loc(), "`file` must be an absolute path to a file");
    }
    let weight = weight
        .and_then(|w| w.int_in("weight", -2_147_483_647, 2_147_483_647, d))
        .unwrap_or(0);
    Some(FileCheck { file: path, weight })
}

#[cfg(test)]
mod tests {
    use super::parse_hex;

    #[test]
    fn hex_is_read_as_keepalived_reads_it() {
        // keepalived.conf(5), UDP_CHECK payload: "Ab12f 3 456" is AB 12 0F 03 45 06.
        let v: Vec<u8> = parse_hex("Ab12f 3 456", false)
            .unwrap()
            .into_iter()
            .map(|(b, _)| b)
            .collect();
        assert_eq!(v, vec![0xab, 0x12, 0x0f, 0x03, 0x45, 0x06]);
        assert_eq!(parse_hex("1x", true).unwrap(), vec![(0x10, 0xf0)]);
        assert!(parse_hex("1x", false).is_err());
        assert!(parse_hex("  ", false).is_err());
        assert!(parse_hex("zz", false).is_err());
    }
}
