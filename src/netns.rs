//! `[global] net_namespace` (keepalived's `net_namespace`): the director runs inside a named
//! network namespace, one that `ip netns add NAME` made (`/run/netns/NAME`). Entered once,
//! before any thread or socket exists, so that everything haldir opens afterwards — VRRP,
//! checks, IPVS, netfilter, the metrics endpoint — belongs to it.

use std::os::fd::AsRawFd;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[error("cannot enter network namespace {name} ({path}): {source}", path = .path.display())]
pub(crate) struct EnterError {
    name: String,
    path: PathBuf,
    source: std::io::Error,
}

/// Moves the calling thread, and so every thread it starts later, into the namespace.
pub(crate) fn enter(name: &str) -> Result<(), EnterError> {
    let path = PathBuf::from("/run/netns").join(name);
    let err = |source| EnterError {
        name: name.to_string(),
        path: path.clone(),
        source,
    };
    let file = std::fs::File::open(&path).map_err(err)?;
    // SAFETY: setns takes a namespace file descriptor we own for the duration of the call.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(err(std::io::Error::last_os_error()));
    }
    Ok(())
}
