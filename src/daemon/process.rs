//! Process-wide settings read once at start, before the runtime starts a thread: the
//! namespace, the file-mode mask and memory locking (keepalived's net_namespace, umask and
//! vrrp_no_swap / checker_no_swap).

use tracing::{error, info, warn};

use crate::config::model::Global;

/// Applies `global`'s process settings; false when the daemon cannot run as configured.
pub(super) fn apply(global: &Global) -> bool {
    if let Some(ns) = &global.net_namespace {
        if let Err(e) = crate::netns::enter(ns) {
            error!("{e}");
            return false;
        }
        info!(net_namespace = %ns, "running in the network namespace");
    }
    if let Some(mask) = global.umask {
        // SAFETY: umask only sets the calling process's mask; it cannot fail.
        unsafe { libc::umask(mask as libc::mode_t) };
    }
    if global.no_swap {
        lock_memory();
    }
    true
}

/// Locks every page, now and to come. As in keepalived, a director that cannot lock (no
/// CAP_IPC_LOCK, a low RLIMIT_MEMLOCK) runs anyway and says why.
fn lock_memory() {
    // SAFETY: mlockall has no memory-safety preconditions.
    if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } == 0 {
        info!("memory locked: never swapped out");
    } else {
        let e = std::io::Error::last_os_error();
        warn!(error = %e, "cannot lock memory (no_swap): it may be swapped out");
    }
}
