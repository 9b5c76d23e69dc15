//! The control socket: a unix socket that only root (or the daemon's own user) may use. Each
//! connection carries one request; it is handed to the daemon's loop, which owns all state,
//! and the reply is written back.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use super::Query;
use crate::control::{MAX_REQUEST, Reply, Request};

#[derive(Debug, thiserror::Error)]
pub(crate) enum BindError {
    #[error("another haldir answers on the control socket {}", .0.display())]
    InUse(PathBuf),
    #[error("cannot open the control socket {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Binds the socket (replacing a stale one left by a crash, but never a live daemon's) and
/// serves it until the task is aborted.
pub(super) fn serve(
    path: &Path,
    queries: mpsc::UnboundedSender<Query>,
) -> Result<tokio::task::JoinHandle<()>, BindError> {
    let io = |source| BindError::Io {
        path: path.to_path_buf(),
        source,
    };
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(BindError::InUse(path.to_path_buf()));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    let owner = crate::security::own_uid().unwrap_or(0);
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let queries = queries.clone();
            tokio::spawn(async move {
                if let Err(e) = session(stream, owner, queries).await {
                    tracing::debug!(error = %e, "control connection ended");
                }
            });
        }
    }))
}

async fn session(
    stream: UnixStream,
    owner: u32,
    queries: mpsc::UnboundedSender<Query>,
) -> std::io::Result<()> {
    // The file mode keeps others out; the peer's credentials are checked as well, in case the
    // socket was made reachable by a wider directory or a bind mount.
    let started = std::time::Instant::now();
    let uid = stream.peer_cred()?.uid();
    let (read, mut write) = stream.into_split();
    let reply = if uid != 0 && uid != owner {
        Reply::Error {
            message: "permission denied: the control socket is for root".into(),
        }
    } else {
        let mut line = String::new();
        let mut reader = BufReader::new(read.take(MAX_REQUEST as u64));
        match tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line)).await {
            Err(_) => return Ok(()),
            Ok(r) => {
                r?;
            }
        }
        match serde_json::from_str::<Request>(&line) {
            Ok(req) => {
                let (tx, rx) = oneshot::channel();
                if queries.send(Query::Control(req, tx)).is_err() {
                    return Ok(());
                }
                rx.await.unwrap_or(Reply::Error {
                    message: "the daemon is stopping".into(),
                })
            }
            Err(e) => Reply::Error {
                message: format!("bad request: {e}"),
            },
        }
    };
    let mut text = serde_json::to_string(&reply).map_err(std::io::Error::other)?;
    text.push('\n');
    write.write_all(text.as_bytes()).await?;
    tracing::debug!(took = ?started.elapsed(), "control: answered");
    Ok(())
}
