//! keepalived's notify FIFOs: one line per event written to a named pipe that a long-running
//! handler script reads (core/notify.c fifo_open, vrrp/vrrp_notify.c notify_fifo,
//! check/ipwrapper.c notify_fifo_rs/vs). The lines are keepalived's, so handlers written for
//! it keep working:
//!
//! ```text
//! INSTANCE "VI_1" MASTER 100
//! INSTANCE "VI_1" BACKUP_PRIORITY 90      (with notify_priority_changes)
//! GROUP "G1" FAULT 0
//! RS [10.0.0.2]:tcp:80 [10.0.0.100]:tcp:80 DOWN
//! VS FWM 3 UP
//! ```
//!
//! The FIFO is opened read-write and non-blocking, as keepalived opens it: a write never waits
//! for the handler, and a line that finds the pipe full is dropped and counted.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use crate::config::model::{NotifyFifo, RsAddr, ServiceKey, VirtualServer};
use crate::email::VrrpState;
use crate::identity::Identity;

pub(crate) fn instance_line(name: &str, state: VrrpState, priority: u8) -> String {
    format!("INSTANCE \"{name}\" {} {priority}\n", state.word())
}

pub(crate) fn group_line(name: &str, state: &str) -> String {
    format!("GROUP \"{name}\" {state} 0\n")
}

/// MASTER_PRIORITY or BACKUP_PRIORITY (keepalived sends these from master and backup only).
pub(crate) fn priority_line(name: &str, state: VrrpState, priority: u8) -> Option<String> {
    let word = match state {
        VrrpState::Master => "MASTER_PRIORITY",
        VrrpState::Backup => "BACKUP_PRIORITY",
        _ => return None,
    };
    Some(format!("INSTANCE \"{name}\" {word} {priority}\n"))
}

/// `[address]:proto:port` (lib/utils.c inet_sockaddrtotrio), or `FWM n` for a service.
fn trio(addr: std::net::IpAddr, proto: &str, port: u16) -> String {
    format!("[{addr}]:{proto}:{port}")
}

/// keepalived's service type: a fwmark service has none.
fn proto(vs: &VirtualServer) -> &'static str {
    match vs.key {
        ServiceKey::Fwmark { .. } => "none",
        ServiceKey::Address(_) => vs.protocol.as_str(),
    }
}

fn service(vs: &VirtualServer) -> String {
    match vs.key {
        ServiceKey::Address(a) => trio(a.ip(), proto(vs), a.port()),
        ServiceKey::Fwmark { mark, .. } => format!("FWM {mark}"),
    }
}

pub(crate) fn rs_line(vs: &VirtualServer, rs: &RsAddr, up: bool) -> String {
    let server = trio(rs.ip, proto(vs), rs.port.unwrap_or(0));
    let state = if up { "UP" } else { "DOWN" };
    format!("RS {server} {} {state}\n", service(vs))
}

pub(crate) fn vs_line(vs: &VirtualServer, up: bool) -> String {
    format!("VS {} {}\n", service(vs), if up { "UP" } else { "DOWN" })
}

/// One open FIFO and the handler reading it.
pub(crate) struct Fifo {
    path: PathBuf,
    fd: OwnedFd,
    created: bool,
    handler: Option<tokio::process::Child>,
    pub dropped: u64,
}

impl Fifo {
    /// Makes the FIFO (mode 0644, as keepalived's, owned by the script user) unless it exists,
    /// starts the handler with the FIFO's path as its last argument, and opens the FIFO.
    pub(crate) fn open(cfg: &NotifyFifo, user: Option<Identity>) -> io::Result<Fifo> {
        let c = CString::new(cfg.path.as_os_str().as_bytes())
            .map_err(|_| io::Error::other("FIFO path has a NUL byte"))?;
        // SAFETY: c is a valid path string.
        let created = if unsafe { libc::mkfifo(c.as_ptr(), 0o644) } == 0 {
            if let Some(Identity { uid, gid }) = user {
                std::os::unix::fs::chown(&cfg.path, Some(uid), Some(gid))?;
            }
            true
        } else {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EEXIST) {
                return Err(io::Error::new(
                    e.kind(),
                    format!("{}: {e}", cfg.path.display()),
                ));
            }
            false
        };
        // SAFETY: c is valid; the flags are plain open(2) flags.
        let raw = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOFOLLOW,
            )
        };
        if raw < 0 {
            let e = io::Error::last_os_error();
            if created {
                let _ = std::fs::remove_file(&cfg.path);
            }
            return Err(io::Error::new(
                e.kind(),
                format!("{}: {e}", cfg.path.display()),
            ));
        }
        // SAFETY: raw is a descriptor we just opened and own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // An existing path may be anything: use it only if it is a FIFO.
        let meta = std::fs::metadata(&cfg.path)?;
        if !std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()) {
            return Err(io::Error::other(format!(
                "{} is not a FIFO",
                cfg.path.display()
            )));
        }
        let handler = match &cfg.command {
            Some(argv) => Some(spawn_handler(argv, &cfg.path, user)?),
            None => None,
        };
        info!(fifo = %cfg.path.display(), "notify FIFO open");
        Ok(Fifo {
            path: cfg.path.clone(),
            fd,
            created,
            handler,
            dropped: 0,
        })
    }

    /// Writes one line without waiting; a full pipe drops it.
    pub(crate) fn write(&mut self, line: &str) {
        // SAFETY: the descriptor is open; the buffer is valid for its length.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), line.as_ptr().cast(), line.len()) };
        if n < 0 {
            self.dropped += 1;
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EAGAIN) {
                warn!(fifo = %self.path.display(), error = %e, "notify FIFO write failed");
            }
        }
    }

    /// Removes the FIFO first (a handler that reopens it in a loop cannot reopen ours, as
    /// keepalived reasons), then stops the handler and its process group.
    pub(crate) fn close(mut self) {
        if self.created {
            let _ = std::fs::remove_file(&self.path);
        }
        if let Some(child) = self.handler.take()
            && let Some(pid) = child.id()
        {
            // SAFETY: signalling the handler's own process group.
            unsafe { libc::kill(-(pid as i32), libc::SIGTERM) };
        }
    }
}

fn spawn_handler(
    argv: &[String],
    path: &Path,
    user: Option<Identity>,
) -> io::Result<tokio::process::Child> {
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| io::Error::other("empty FIFO handler command"))?;
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .process_group(0);
    if let Some(Identity { uid, gid }) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd.spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("FIFO handler {prog}: {e}")))
}

/// The daemon's FIFOs: every event, VRRP's only, the checker's only.
#[derive(Default)]
pub(crate) struct Fifos {
    pub all: Option<Fifo>,
    pub vrrp: Option<Fifo>,
    pub lvs: Option<Fifo>,
    pub priority_changes: bool,
}

impl Fifos {
    fn vrrp_line(&mut self, line: &str) {
        for f in [&mut self.all, &mut self.vrrp].into_iter().flatten() {
            f.write(line);
        }
    }

    fn lvs_line(&mut self, line: &str) {
        for f in [&mut self.all, &mut self.lvs].into_iter().flatten() {
            f.write(line);
        }
    }

    pub(crate) fn instance(&mut self, name: &str, state: VrrpState, priority: u8) {
        self.vrrp_line(&instance_line(name, state, priority));
    }

    pub(crate) fn group(&mut self, name: &str, state: &str) {
        self.vrrp_line(&group_line(name, state));
    }

    pub(crate) fn priority(&mut self, name: &str, state: VrrpState, priority: u8) {
        if self.priority_changes
            && let Some(line) = priority_line(name, state, priority)
        {
            self.vrrp_line(&line);
        }
    }

    /// keepalived's `INSTANCE "VI_1" MASTER_RX_LOWER_PRI 150` (vrrp_notify.c, notify_fifo).
    pub(crate) fn lower_priority_heard(&mut self, name: &str, priority: u8) {
        self.vrrp_line(&format!(
            "INSTANCE \"{name}\" MASTER_RX_LOWER_PRI {priority}\n"
        ));
    }

    pub(crate) fn real_server(&mut self, vs: &VirtualServer, rs: &RsAddr, up: bool) {
        self.lvs_line(&rs_line(vs, rs, up));
    }

    pub(crate) fn virtual_server(&mut self, vs: &VirtualServer, up: bool) {
        self.lvs_line(&vs_line(vs, up));
    }

    pub(crate) fn close(&mut self) {
        for f in [self.all.take(), self.vrrp.take(), self.lvs.take()]
            .into_iter()
            .flatten()
        {
            f.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_lines() {
        assert_eq!(
            instance_line("VI_1", VrrpState::Master, 100),
            "INSTANCE \"VI_1\" MASTER 100\n"
        );
        assert_eq!(group_line("G1", "FAULT"), "GROUP \"G1\" FAULT 0\n");
        assert_eq!(
            priority_line("VI_1", VrrpState::Backup, 90).as_deref(),
            Some("INSTANCE \"VI_1\" BACKUP_PRIORITY 90\n")
        );
        assert_eq!(priority_line("VI_1", VrrpState::Fault, 90), None);
        assert_eq!(
            trio("10.0.0.2".parse().unwrap(), "tcp", 80),
            "[10.0.0.2]:tcp:80"
        );
        assert_eq!(
            trio("2001:db8::2".parse().unwrap(), "udp", 53),
            "[2001:db8::2]:udp:53"
        );
    }
}
