//! One VRRP instance at run time: set up here ([`spawn`]), run on VRRP's thread by its
//! [`runtime`], which acts through [`effects`] — the host's, or a recorder's in the replay
//! tests.

mod effects;
#[cfg(test)]
mod replay;
mod runtime;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::effects::Io;
use self::runtime::Runtime;
use super::fsm::State;
use super::held::Holdings;
use super::socket::VrrpSocket;
use super::thread::{Commands, VrrpThread};
use super::timer::Timer;
use super::tracking::{Tracked, TrackedFile, Tracking};
use super::vmac::Vmac;
use crate::config::model::VrrpInstance;
use crate::identity::Identity;
use crate::iface;
use crate::netlink::rtnl::Rtnl;

pub(crate) use super::command::Command;

/// The instance's log lines keep the target they had as one module: log filters and JSON
/// logs name it.
const LOG_TARGET: &str = "haldir::vrrp::instance";

/// A state change, as reported to the daemon; `own_fault` is the instance's own tracking's
/// verdict, apart from any fault of its sync group.
#[derive(Debug, Clone)]
pub(crate) struct Transition {
    pub name: String,
    pub from: State,
    pub to: State,
    pub own_fault: bool,
    /// Caused by the sync group rather than by this instance's own protocol: not passed on
    /// to the group again, so members cannot drive each other round in circles.
    pub by_group: bool,
    /// The effective priority now.
    pub priority: u8,
}

/// What an instance reports to the daemon.
#[derive(Debug, Clone)]
pub(crate) enum Report {
    State(Transition),
    /// Its effective priority changed (tracking) while its state did not.
    Priority {
        name: String,
        state: State,
        priority: u8,
    },
    /// As master it heard a lower-priority master (keepalived's MASTER_RX_LOWER_PRI event).
    LowerPriorityHeard {
        name: String,
        priority: u8,
    },
}

/// What an instance shows of itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Status {
    pub name: String,
    pub state: State,
    pub priority: u8,
    /// The current master's address as last seen (ourselves when master).
    pub master: Option<IpAddr>,
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub dropped: BTreeMap<&'static str, u64>,
}

pub(crate) struct Handle {
    pub commands: Commands,
    pub status: watch::Receiver<Status>,
    /// Told once the instance has finished, with its stop notification if one is running.
    done: oneshot::Receiver<Option<JoinHandle<()>>>,
}

impl Handle {
    /// Waits for the instance to finish (after a shutdown) and for its stop scripts, until
    /// `scripts_until`; false if it had not finished by then and `grace` after. Scripts still
    /// running are left to run.
    pub(crate) async fn finished(self, scripts_until: Instant, grace: Duration) -> bool {
        let done = self.done;
        tokio::time::timeout_at(scripts_until + grace, async move {
            if let Ok(Some(scripts)) = done.await {
                let _ = tokio::time::timeout_at(scripts_until, scripts).await;
            }
        })
        .await
        .is_ok()
    }
}

/// Starts an instance on VRRP's thread. Errors of setup (no such interface, no address) are
/// returned; errors later are logged and the instance goes on.
pub(crate) fn spawn(
    thread: &VrrpThread,
    cfg: VrrpInstance,
    script_user: Option<Identity>,
    transitions: mpsc::UnboundedSender<Report>,
    failed_scripts: &[String],
) -> std::io::Result<Handle> {
    let addresses = Rtnl::open()?;
    // The notify table's own user, else script_user.
    let notify_user = match &cfg.notify.user {
        Some(spec) => crate::identity::resolve(spec)
            .map_err(|e| std::io::Error::new(e.kind(), format!("notify user \"{spec}\": {e}")))?,
        None => script_user,
    };
    let primary = primary(&cfg)?;
    let (done_tx, done_rx) = oneshot::channel();
    let io = open(&cfg, primary, addresses, transitions, notify_user, done_tx)?;
    let tracking = tracking(&cfg, failed_scripts);
    let (rt, status) = Runtime::new(cfg, primary, tracking, io);
    Ok(Handle {
        commands: thread.add(Box::new(rt)),
        status,
        done: done_rx,
    })
}

/// The address adverts leave from: the configured source, else the interface's own.
fn primary(cfg: &VrrpInstance) -> std::io::Result<IpAddr> {
    let v6 = cfg.family() == crate::config::types::Family::Ipv6;
    let vips: Vec<IpAddr> = cfg.virtual_ipaddress.iter().map(|n| n.addr()).collect();
    match cfg.unicast_source.or(cfg.mcast_source) {
        Some(a) => Ok(a),
        None => iface::primary(&cfg.interface, v6, &vips),
    }
}

/// Opens what the instance acts through: the VMAC after what can fail without it, and before
/// the socket and the addresses (the addresses go on it, and the adverts may leave from it).
/// What fails after it takes it away again.
fn open(
    cfg: &VrrpInstance,
    primary: IpAddr,
    mut addresses: Rtnl,
    transitions: mpsc::UnboundedSender<Report>,
    notify_user: Option<Identity>,
    done: oneshot::Sender<Option<JoinHandle<()>>>,
) -> std::io::Result<Io> {
    let timer = Timer::new()?;
    let vmac = match &cfg.vmac {
        Some(v) => Some(Vmac::open(
            &mut addresses,
            &v.name,
            &cfg.interface,
            cfg.virtual_router_id,
        )?),
        None => None,
    };
    let multicast = cfg.unicast_peers.is_empty();
    let opened = iface::index(cfg.advert_interface()).and_then(|ifindex| {
        let sock = match primary {
            IpAddr::V4(p) => VrrpSocket::open_v4(cfg.advert_interface(), ifindex, p, multicast),
            IpAddr::V6(p) => VrrpSocket::open_v6(cfg.advert_interface(), ifindex, p, multicast),
        }?;
        Ok((sock, Holdings::open(cfg)?))
    });
    let (sock, held) = match opened {
        Ok(o) => o,
        Err(e) => {
            if let Some(v) = vmac {
                v.close(&mut addresses);
            }
            return Err(e);
        }
    };
    Ok(Io {
        name: cfg.name.clone(),
        sock,
        timer,
        addresses,
        held,
        vmac,
        transitions,
        notify: crate::notify::Chain::new(notify_user),
        done: Some(done),
    })
}

/// Interfaces start as the kernel has them; scripts as up until they fail `fall` times (as
/// failed until they succeed `rise` times with init_fail).
fn tracking(cfg: &VrrpInstance, failed_scripts: &[String]) -> Tracking {
    Tracking {
        interfaces: cfg
            .track_interface
            .iter()
            .map(|t| Tracked {
                name: t.name.clone(),
                weight: t.weight,
                up: iface::is_up(&t.name),
            })
            .collect(),
        scripts: cfg
            .track_script
            .iter()
            .map(|t| Tracked {
                name: t.name.clone(),
                weight: t.weight,
                up: !failed_scripts.contains(&t.name),
            })
            .collect(),
        files: cfg
            .track_file
            .iter()
            .map(|t| TrackedFile {
                name: t.name.clone(),
                weight: t.weight,
                reverse: t.reverse,
                value: crate::health::file::read(&t.file),
            })
            .collect(),
    }
}
