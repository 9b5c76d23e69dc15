//! The control socket's protocol, shared by the daemon and the commands that talk to it
//! (`status`, `reload`, `drain`, `undrain`): one JSON request per line, one JSON reply per
//! line, then the daemon closes the connection. The socket is a unix socket only root (or the
//! daemon's own user) may use.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A request to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub(crate) enum Request {
    Status,
    Reload,
    Drain {
        virtual_server: String,
        real_server: String,
    },
    Undrain {
        virtual_server: String,
        real_server: String,
    },
    /// The whole director: withdraw every announcement (or announce again).
    DrainDirector {
        drained: bool,
    },
}

/// The daemon's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub(crate) enum Reply {
    Status(Box<Status>),
    /// A reload was applied; `changes` says what it did (empty: the file did not change).
    Reloaded {
        changes: Vec<String>,
    },
    /// The new file was refused; the running configuration stays.
    Refused {
        errors: String,
    },
    /// A drain or undrain was done.
    Done {
        message: String,
    },
    Error {
        message: String,
    },
}

/// What `haldir status` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Status {
    pub router_id: String,
    pub config: PathBuf,
    pub pid: u32,
    pub uptime_secs: u64,
    pub reloads_applied: u64,
    pub reloads_refused: u64,
    /// Tasks alive in the daemon's runtime (checks, instances, servers): flat when healthy.
    #[serde(default)]
    pub tasks: u64,
    pub vrrp: Vec<VrrpStatus>,
    pub virtual_servers: Vec<VsStatus>,
    /// The VIPs offered to the routers (`[[announce]]`).
    #[serde(default)]
    pub announced: Vec<AnnounceStatus>,
    /// Routes of someone else found in haldir's routing table (left alone): "PREFIX proto N".
    #[serde(default)]
    pub foreign_routes: Vec<String>,
    /// Policy rules of someone else that look up haldir's table: "rule PRIORITY".
    #[serde(default)]
    pub foreign_rules: Vec<String>,
}

/// One `[[announce]]`: whether its route is wanted, whether it is in haldir's table, and why
/// not when it is withheld.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AnnounceStatus {
    pub prefix: String,
    pub table: u32,
    pub wanted: bool,
    pub in_table: bool,
    /// drained, checks pending, startup delay, quorum, hold-down.
    pub withheld: Option<String>,
    /// The BGP sessions BIRD exports it to; `None` when BIRD's socket did not answer.
    #[serde(default)]
    pub exported_to: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct VrrpStatus {
    pub name: String,
    pub interface: String,
    /// INIT, BACKUP, MASTER or FAULT.
    pub state: String,
    /// The priority in effect (tracking may have moved it from the configured one).
    pub priority: u8,
    /// The current master as last heard (this node's address when it is master).
    pub master: Option<IpAddr>,
    pub adverts_sent: u64,
    pub adverts_received: u64,
    /// Adverts dropped, by reason.
    pub dropped: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct VsStatus {
    pub name: String,
    /// As ipvsadm names it: "TCP 10.0.0.1:80", "FWM 3".
    pub service: String,
    pub scheduler: String,
    /// In the kernel now (a service bound to a VRRP instance is only there on its master).
    pub programmed: bool,
    pub quorum_lost: bool,
    pub counters: Counters,
    pub real_servers: Vec<RsStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RsStatus {
    pub address: String,
    /// "up", "down", or "unchecked" (no check: always up).
    pub health: String,
    pub drained: bool,
    pub configured_weight: u32,
    /// The weight in the kernel; none when the server is not in the kernel's table.
    pub weight: Option<u32>,
    pub last_check: Option<LastCheck>,
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub counters: Counters,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LastCheck {
    pub ok: bool,
    /// "ok", or why it failed.
    pub result: String,
    pub age_ms: u64,
    pub took_ms: u64,
}

/// The kernel's counters, as `ipvsadm -Ln --stats` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counters {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ControlError {
    #[error("no haldir daemon answers on {}: {source}", path.display())]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("talking to the daemon on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the daemon's reply is not understood: {0}")]
    Reply(#[from] serde_json::Error),
}

/// Longest request the daemon reads: requests are a few names.
pub(crate) const MAX_REQUEST: usize = 64 * 1024;

/// Sends one request and waits for its reply (a reload may restart VRRP instances and
/// reconcile the whole table: the wait is generous).
pub(crate) fn call(path: &Path, request: &Request) -> Result<Reply, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut stream = UnixStream::connect(path).map_err(|source| ControlError::Connect {
        path: path.to_path_buf(),
        source,
    })?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(io)?;
    let mut line = serde_json::to_string(request)?;
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(io)?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).map_err(io)?;
    Ok(serde_json::from_str(&reply)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_written() {
        let r = Request::Drain {
            virtual_server: "web".into(),
            real_server: "10.0.0.2:80".into(),
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(
            text,
            r#"{"command":"drain","virtual_server":"web","real_server":"10.0.0.2:80"}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), r);
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"command":"status"}"#).unwrap(),
            Request::Status
        );
        assert!(serde_json::from_str::<Request>(r#"{"command":"flush"}"#).is_err());
    }
}
