//! One probe of one target: TCP connect, HTTP(S) request, or an external command. Every probe
//! ends by its timeout at the latest; a command that outlives it is killed with its whole
//! process group and reaped.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use super::outcome::{Outcome, Reason};
use crate::config::model::{Check, CheckKind, HttpCheck};

/// What is probed: a check and the address and port it is aimed at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub check: Check,
    pub addr: IpAddr,
    pub port: u16,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}",
            self.check.kind.check_type(),
            SocketAddr::new(self.addr, self.port)
        )
    }
}

/// What probes share: HTTP clients and the user scripts run as.
pub struct Context {
    /// A client that verifies certificates against the system's trust store, built on first
    /// use (loading the store costs megabytes most configurations never need). A host without
    /// a trust store cannot have it, and its verifying checks fail with the error as reason.
    verified: std::sync::OnceLock<Result<reqwest::Client, String>>,
    insecure: reqwest::Client,
    script_user: Option<(u32, u32)>,
}

/// The uid and gid of a user, from the system's user database.
pub fn lookup_user(name: &str) -> io::Result<(u32, u32)> {
    let cname =
        std::ffi::CString::new(name).map_err(|_| io::Error::other("user name has a NUL byte"))?;
    // SAFETY: getpwnam returns a pointer into static storage or null; we copy out at once and
    // this runs before any other thread of ours calls it.
    let pw = unsafe { libc::getpwnam(cname.as_ptr()) };
    if pw.is_null() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no user named {name}"),
        ));
    }
    // SAFETY: pw is non-null and points to a valid passwd record.
    Ok(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

fn http_builder(verify: bool) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        // A health check must see the server as it is now: a new connection every time, no
        // redirect followed, no proxy from the environment.
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .tls_danger_accept_invalid_certs(!verify)
}

fn verified_client() -> Result<reqwest::Client, String> {
    http_builder(true).build().map_err(|e| {
        let cause = find::<io::Error>(&e).map_or_else(|| e.to_string(), |io| io.to_string());
        format!("no certificate verifier: {cause}")
    })
}

impl Context {
    /// `script_user` "root" keeps scripts as root; any other name must exist.
    pub fn new(script_user: &str) -> io::Result<Self> {
        let identity = if script_user == "root" {
            None
        } else {
            Some(lookup_user(script_user)?)
        };
        Self::with_identity(identity)
    }

    /// With the uid and gid scripts run as already resolved (`None`: as haldir itself).
    pub fn with_identity(script_user: Option<(u32, u32)>) -> io::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Context {
            verified: std::sync::OnceLock::new(),
            insecure: http_builder(false).build().map_err(io::Error::other)?,
            script_user,
        })
    }
}

/// Runs one probe, bounded by the check's timeout. The HTTP and script probes are boxed:
/// their state machines are large, and a task's future is as large as its largest variant —
/// ten thousand idle TCP checks should not each carry room for an HTTP request.
pub async fn probe(target: &Target, ctx: &Arc<Context>) -> Outcome {
    let timeout = target.check.timeout;
    match &target.check.kind {
        CheckKind::Tcp => bounded(timeout, tcp(target)).await,
        CheckKind::Http(h) => {
            bounded(timeout, Box::pin(http(target, h, false, true, None, ctx))).await
        }
        CheckKind::Https {
            http: h,
            tls_verify,
            sni,
        } => {
            bounded(
                timeout,
                Box::pin(http(target, h, true, *tls_verify, sni.as_deref(), ctx)),
            )
            .await
        }
        CheckKind::Misc {
            command,
            dynamic_weight,
        } => Box::pin(misc(target, command, *dynamic_weight, ctx)).await,
    }
}

async fn bounded(timeout: Duration, f: impl std::future::Future<Output = Outcome>) -> Outcome {
    tokio::time::timeout(timeout, f)
        .await
        .unwrap_or(Outcome::Down(Reason::Timeout))
}

fn connect_reason(e: &io::Error) -> Reason {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Reason::Refused,
        io::ErrorKind::TimedOut => Reason::Timeout,
        _ => Reason::Connect(e.to_string()),
    }
}

/// A connect, then a close with RST (linger 0), as HAProxy closes its checks: the server sees
/// the connection, and neither side pays for a FIN exchange or keeps a TIME_WAIT socket — at
/// ten thousand checks a second that is most of the cost.
async fn tcp(target: &Target) -> Outcome {
    let addr = SocketAddr::new(target.addr, target.port);
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    };
    let socket = match socket.and_then(|s| s.set_zero_linger().map(|()| s)) {
        Ok(s) => s,
        Err(e) => return Outcome::Down(Reason::Spawn(e.to_string())),
    };
    match socket.connect(addr).await {
        Ok(_) => Outcome::Up,
        Err(e) => Outcome::Down(connect_reason(&e)),
    }
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
fn http_reason(e: &reqwest::Error) -> Reason {
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

/// Most of a body a check reads before matching: enough for any health page.
const BODY_LIMIT: usize = 1 << 20;

async fn http(
    target: &Target,
    h: &HttpCheck,
    tls: bool,
    verify: bool,
    sni: Option<&str>,
    ctx: &Arc<Context>,
) -> Outcome {
    let scheme = if tls { "https" } else { "http" };
    let sa = SocketAddr::new(target.addr, target.port);
    // With an SNI name the URL names it (so TLS sends it) and the name resolves to the target.
    let (client, authority) = match sni {
        Some(name) => {
            let built = http_builder(verify).resolve(name, sa).build();
            match built {
                Ok(c) => (c, format!("{name}:{}", target.port)),
                Err(e) => {
                    return Outcome::Down(Reason::Tls(format!("no certificate verifier: {e}")));
                }
            }
        }
        // Plain HTTP has no certificate to verify.
        None if tls && verify => match ctx.verified.get_or_init(verified_client) {
            Ok(c) => (c.clone(), sa.to_string()),
            Err(e) => return Outcome::Down(Reason::Tls(e.clone())),
        },
        None => (ctx.insecure.clone(), sa.to_string()),
    };
    let url = format!("{scheme}://{authority}{}", h.path);
    let mut req = client.get(&url).timeout(target.check.timeout);
    if let Some(host) = &h.host {
        req = req.header(reqwest::header::HOST, host);
    }
    let mut resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return Outcome::Down(http_reason(&e)),
    };
    let status = resp.status().as_u16();
    if !h.status.contains(status) {
        return Outcome::Down(Reason::Status(status));
    }
    let Some(pattern) = &h.body_regex else {
        return Outcome::Up;
    };
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() >= BODY_LIMIT {
                    body.truncate(BODY_LIMIT);
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => return Outcome::Down(http_reason(&e)),
        }
    }
    // Validation compiled this pattern already; a failure here cannot happen, but is a "down".
    match regex::bytes::Regex::new(pattern) {
        Ok(re) if re.is_match(&body) => Outcome::Up,
        Ok(_) => Outcome::Down(Reason::BodyMismatch),
        Err(e) => Outcome::Down(Reason::Spawn(e.to_string())),
    }
}

/// `{address}` and `{port}` in each argument.
pub fn expand(argv: &[String], addr: IpAddr, port: u16) -> Vec<String> {
    argv.iter()
        .map(|a| {
            a.replace("{address}", &addr.to_string())
                .replace("{port}", &port.to_string())
        })
        .collect()
}

fn kill_group(pgid: i32) {
    // SAFETY: kill with a negative pid signals a process group; no memory is involved.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

async fn misc(
    target: &Target,
    argv: &[String],
    dynamic_weight: bool,
    ctx: &Arc<Context>,
) -> Outcome {
    let argv = expand(argv, target.addr, target.port);
    let Some((program, args)) = argv.split_first() else {
        return Outcome::Down(Reason::Spawn("empty command".into()));
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group, so that the script and everything it started can be killed.
        .process_group(0)
        .kill_on_drop(true);
    if let Some((uid, gid)) = ctx.script_user {
        cmd.uid(uid).gid(gid);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::Down(Reason::Spawn(format!("{program}: {e}"))),
    };
    let pgid = child.id().map(|p| p as i32);
    let result = tokio::time::timeout(target.check.timeout, child.wait()).await;
    // Whatever the script left running in its group goes with it.
    if let Some(pgid) = pgid {
        kill_group(pgid);
    }
    let status = match result {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => return Outcome::Down(Reason::Spawn(e.to_string())),
        Err(_) => {
            let _ = child.wait().await;
            return Outcome::Down(Reason::Timeout);
        }
    };
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => Outcome::Up,
        (Some(c @ 2..=255), _) if dynamic_weight => Outcome::UpWeight(c as u32 - 2),
        (Some(c), _) => Outcome::Down(Reason::Exit(c)),
        (None, Some(sig)) => Outcome::Down(Reason::Signal(sig)),
        (None, None) => Outcome::Down(Reason::Exit(-1)),
    }
}
