//! The http and https probe: each URL of the check fetched in order on a fresh connection,
//! its status, body digest (MD5, as keepalived's genhash prints it) and body pattern checked;
//! the first URL that fails is the verdict.

use std::io;
use std::net::SocketAddr;

use md5::{Digest, Md5};
use reqwest::header::{CONNECTION, HOST};

use super::outcome::{Outcome, Reason};
use super::target::Target;
use crate::config::model::{HttpCheck, HttpUrl};
use crate::config::types::HttpProtocol;

/// Whether the probe speaks TLS, and how.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Tls<'a> {
    No,
    Yes { verify: bool, sni: Option<&'a str> },
}

pub(super) fn builder(verify: bool) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        // A health check must see the server as it is now: a new connection every time, no
        // redirect followed, no proxy from the environment.
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .tls_danger_accept_invalid_certs(!verify)
}

fn verified_client() -> Result<reqwest::Client, String> {
    builder(true).build().map_err(|e| {
        let cause = find::<io::Error>(&e).map_or_else(|| e.to_string(), |io| io.to_string());
        format!("no certificate verifier: {cause}")
    })
}

/// Looks through an error chain, including errors wrapped inside `io::Error`s (which
/// `source()` does not walk), for the first error of type `T`.
fn find<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    if let Some(t) = e.downcast_ref::<T>() {
        return Some(t);
    }
    if let Some(inner) = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
        let inner: &(dyn std::error::Error + 'static) = inner;
        if let Some(t) = find::<T>(inner) {
            return Some(t);
        }
    }
    e.source().and_then(find::<T>)
}

/// The most specific cause of a failed request, classified.
fn reason(e: &reqwest::Error) -> Reason {
    if e.is_timeout() {
        return Reason::Timeout;
    }
    if let Some(tls) = find::<rustls::Error>(e) {
        return Reason::Tls(tls.to_string());
    }
    if let Some(io) = find::<io::Error>(e)
        && io.kind() == io::ErrorKind::ConnectionRefused
    {
        return Reason::Refused;
    }
    let mut innermost = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        innermost = err.to_string();
        source = err.source();
    }
    if e.is_connect() {
        Reason::Connect(innermost)
    } else {
        Reason::Protocol(innermost)
    }
}

/// Most of a body a check keeps for `body_regex`: enough for any health page. The digest is
/// computed over the whole body as it streams.
const BODY_LIMIT: usize = 1 << 20;

/// The HTTP clients probes share.
pub(crate) struct Clients {
    /// A client that verifies certificates against the system's trust store, built on first
    /// use (loading the store costs megabytes most configurations never need). A host without
    /// a trust store cannot have it, and its verifying checks fail with the error as reason.
    verified: std::sync::OnceLock<Result<reqwest::Client, String>>,
    insecure: reqwest::Client,
}

impl Clients {
    pub(crate) fn new() -> Result<Clients, reqwest::Error> {
        Ok(Clients {
            verified: std::sync::OnceLock::new(),
            insecure: builder(false).build()?,
        })
    }
}

/// The client and the URL authority a probe uses: a client of its own when it names a server
/// (SNI) or binds a source address, else one of the shared ones.
fn client_for(
    target: &Target,
    tls: Tls,
    clients: &Clients,
) -> Result<(reqwest::Client, String), Reason> {
    let sa = SocketAddr::new(target.addr, target.port);
    let (verify, sni) = match tls {
        Tls::No => (false, None),
        Tls::Yes { verify, sni } => (verify, sni),
    };
    let source = target.check.source;
    if sni.is_some() || source.is_some() {
        let mut b = builder(verify).local_address(source);
        // With an SNI name the URL names it (so TLS sends it) and the name resolves to the
        // target.
        let authority = match sni {
            Some(name) => {
                b = b.resolve(name, sa);
                format!("{name}:{}", target.port)
            }
            None => sa.to_string(),
        };
        let c = b
            .build()
            .map_err(|e| Reason::Tls(format!("no certificate verifier: {e}")))?;
        return Ok((c, authority));
    }
    // Plain HTTP has no certificate to verify.
    if matches!(tls, Tls::Yes { verify: true, .. }) {
        return match clients.verified.get_or_init(verified_client) {
            Ok(c) => Ok((c.clone(), sa.to_string())),
            Err(e) => Err(Reason::Tls(e.clone())),
        };
    }
    Ok((clients.insecure.clone(), sa.to_string()))
}

pub(super) async fn probe(
    target: &Target,
    h: &HttpCheck,
    tls: Tls<'_>,
    clients: &Clients,
) -> Outcome {
    let (client, authority) = match client_for(target, tls, clients) {
        Ok(c) => c,
        Err(r) => return Outcome::Down(r),
    };
    let scheme = if matches!(tls, Tls::No) {
        "http"
    } else {
        "https"
    };
    for u in &h.urls {
        let url = format!("{scheme}://{authority}{}", u.path);
        let outcome = fetch(&client, &url, u, h, target).await;
        if !outcome.is_up() {
            return outcome;
        }
    }
    Outcome::Up
}

/// The request as keepalived's http_protocol sends it: HTTP/1.0 (with `Connection: close`
/// for "1.0C") or HTTP/1.1 with `Connection: close`.
fn request(client: &reqwest::Client, url: &str, h: &HttpCheck) -> reqwest::RequestBuilder {
    let mut req = client.get(url);
    req = match h.http_protocol {
        HttpProtocol::Http10 => req.version(reqwest::Version::HTTP_10),
        HttpProtocol::Http10Close => req
            .version(reqwest::Version::HTTP_10)
            .header(CONNECTION, "close"),
        HttpProtocol::Http11 => req.header(CONNECTION, "close"),
    };
    if let Some(host) = &h.host {
        req = req.header(HOST, host);
    }
    req
}

async fn fetch(
    client: &reqwest::Client,
    url: &str,
    u: &HttpUrl,
    h: &HttpCheck,
    target: &Target,
) -> Outcome {
    let req = request(client, url, h).timeout(target.check.timeout);
    let mut resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return Outcome::Down(reason(&e)),
    };
    let status = resp.status().as_u16();
    if !u.status.contains(status) {
        return Outcome::Down(Reason::Status(status));
    }
    if u.digest.is_none() && u.body_regex.is_none() {
        return Outcome::Up;
    }
    let mut hasher = Md5::new();
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                hasher.update(&chunk);
                if u.body_regex.is_some() && body.len() < BODY_LIMIT {
                    let room = BODY_LIMIT - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
            }
            Ok(None) => break,
            Err(e) => return Outcome::Down(reason(&e)),
        }
    }
    judge_body(u, &hex(&hasher.finalize()), &body)
}

/// The body's verdict: digest first, then the pattern, as keepalived orders them.
pub(crate) fn judge_body(u: &HttpUrl, digest: &str, body: &[u8]) -> Outcome {
    if let Some(want) = &u.digest
        && !want.eq_ignore_ascii_case(digest)
    {
        return Outcome::Down(Reason::Digest(digest.to_string()));
    }
    let Some(pattern) = &u.body_regex else {
        return Outcome::Up;
    };
    // Validation compiled this pattern already; a failure here cannot happen, but is a "down".
    match regex::bytes::Regex::new(pattern) {
        Ok(re) if re.is_match(body) => Outcome::Up,
        Ok(_) => Outcome::Down(Reason::BodyMismatch),
        Err(e) => Outcome::Down(Reason::Spawn(e.to_string())),
    }
}

/// Lower-case hex, as keepalived prints digests.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What `haldir genhash` does: the digest of one URL's body, whatever its status (as
/// keepalived's genhash), with the status beside it.
pub(crate) async fn genhash(
    url: &str,
    host: Option<&str>,
    protocol: HttpProtocol,
    timeout: std::time::Duration,
) -> Result<(u16, String), String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = builder(false).build().map_err(|e| e.to_string())?;
    let h = HttpCheck {
        urls: Vec::new(),
        host: host.map(str::to_string),
        http_protocol: protocol,
    };
    let mut resp = request(&client, url, &h)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| reason(&e).to_string())?;
    let status = resp.status().as_u16();
    let mut hasher = Md5::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| reason(&e).to_string())? {
        hasher.update(&chunk);
    }
    Ok((status, hex(&hasher.finalize())))
}
