//! One probe of one target: the dispatch to each check type, with the TCP connect and the
//! external command here and the others in their modules. Every probe ends by its timeout at
//! the latest; a command that outlives it is killed with its whole process group and reaped.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::sync::Arc;

use tokio::time::Instant;

use super::outcome::{Outcome, Reason, connect_reason};
use super::target::Target;
use super::{dns, file, halfopen, http, ping, smtp, udp};
use crate::config::model::CheckKind;
use crate::identity::Identity;

/// What probes share: HTTP clients and the user scripts run as.
pub struct Context {
    http: http::Clients,
    script_user: Option<Identity>,
    /// The raw sockets of half-open TCP probes, opened on the first one.
    half_open: halfopen::Engine,
}

/// The uid and gid of a user, from the system's user database.
pub fn lookup_user(name: &str) -> io::Result<(u32, u32)> {
    crate::identity::user_ids(name)
}

impl Context {
    /// `script_user` "root" keeps scripts as root; any other name must exist.
    pub fn new(script_user: &str) -> io::Result<Self> {
        Self::with_identity(crate::identity::resolve(script_user)?)
    }

    /// With the uid and gid scripts run as already resolved (`None`: as haldir itself).
    pub fn with_identity(script_user: Option<Identity>) -> io::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Context {
            http: http::Clients::new().map_err(io::Error::other)?,
            script_user,
            half_open: halfopen::Engine::default(),
        })
    }
}

/// Runs one probe, started now.
pub async fn probe(target: &Target, ctx: &Arc<Context>) -> Outcome {
    probe_from(target, ctx, Instant::now()).await
}

/// Runs one probe started at `started`, bounded by the check's timeout from then (per URL for
/// http, per server for smtp). The caller's clock reading is the start: at ten thousand checks
/// a second every reading of the clock counts (a system call where the clock source is not
/// one the vDSO can read, as in many virtual machines), and the caller needs it anyway.
/// The larger probes are boxed: their state machines are large, and a task's future is as
/// large as its largest variant — ten thousand idle TCP checks should not each carry room for
/// an HTTP request.
pub async fn probe_from(target: &Target, ctx: &Arc<Context>, started: Instant) -> Outcome {
    let check = &target.check;
    let timeout = check.timeout;
    match &check.kind {
        CheckKind::Tcp { half_open: false } => bounded(started + timeout, tcp(target)).await,
        CheckKind::Tcp { half_open: true } => {
            bounded(
                started + timeout,
                Box::pin(halfopen::probe(target, &ctx.half_open)),
            )
            .await
        }
        CheckKind::Http(h) => {
            let n = h.urls.len() as u32;
            let f = http::probe(target, h, http::Tls::No, &ctx.http);
            bounded(started + timeout * n, Box::pin(f)).await
        }
        CheckKind::Https {
            http: h,
            tls_verify,
            sni,
        } => {
            let n = h.urls.len() as u32;
            let tls = http::Tls::Yes {
                verify: *tls_verify,
                sni: sni.as_deref(),
            };
            bounded(
                started + timeout * n,
                Box::pin(http::probe(target, h, tls, &ctx.http)),
            )
            .await
        }
        CheckKind::Misc {
            command,
            dynamic_weight,
        } => Box::pin(misc(target, command, *dynamic_weight, ctx)).await,
        // Silence can be success: the UDP probe keeps its own clock.
        CheckKind::Udp(u) => Box::pin(udp::probe(target, u)).await,
        CheckKind::Dns(q) => bounded(started + timeout, Box::pin(dns::probe(target, q))).await,
        CheckKind::Ping => bounded(started + timeout, Box::pin(ping::probe(target))).await,
        CheckKind::Smtp(s) => {
            let n = 1 + s.hosts.len() as u32;
            bounded(started + timeout * n, Box::pin(smtp::probe(target, s))).await
        }
        CheckKind::File(f) => file::probe(f),
    }
}

async fn bounded(deadline: Instant, f: impl std::future::Future<Output = Outcome>) -> Outcome {
    tokio::time::timeout_at(deadline, f)
        .await
        .unwrap_or(Outcome::Down(Reason::Timeout))
}

/// A connect, then a close with RST (linger 0), as HAProxy closes its checks: the server sees
/// the connection, and neither side pays for a FIN exchange or keeps a TIME_WAIT socket — at
/// ten thousand checks a second that is most of the cost.
async fn tcp(target: &Target) -> Outcome {
    let addr = SocketAddr::new(target.addr, target.port);
    let socket = super::target::tcp_socket(addr, target.check.source)
        .and_then(|s| s.set_zero_linger().map(|()| s));
    let socket = match socket {
        Ok(s) => s,
        Err(e) => return Outcome::Down(Reason::Spawn(e.to_string())),
    };
    match socket.connect(addr).await {
        Ok(_) => Outcome::Up,
        Err(e) => Outcome::Down(connect_reason(&e)),
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

/// Kills a script's process group however its probe ends: finished, timed out, or cancelled
/// (a reload or a stop drops the probe's future while the script runs). Whatever the script
/// started in its group goes with it.
struct GroupKill(Option<i32>);

impl Drop for GroupKill {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            // SAFETY: kill with a negative pid signals a process group; no memory is involved.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
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
    if let Some(Identity { uid, gid }) = ctx.script_user {
        cmd.uid(uid).gid(gid);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::Down(Reason::Spawn(format!("{program}: {e}"))),
    };
    let group = GroupKill(child.id().map(|p| p as i32));
    let result = tokio::time::timeout(target.check.timeout, child.wait()).await;
    drop(group);
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
