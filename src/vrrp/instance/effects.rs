//! What an instance does to the world, and the little it reads from it: the seam between its
//! decisions ([`super::runtime`]) and the host. [`Io`] is the host's; the replay tests put a
//! recorder in its place and see every effect, in order.

use std::io;
use std::net::IpAddr;
use std::os::fd::RawFd;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::warn;

use super::Report;
use crate::netlink::rtnl::{Rtnl, Want};
use crate::vrrp::held::Holdings;
use crate::vrrp::socket::{Packet, VrrpSocket};
use crate::vrrp::timer::Timer;
use crate::vrrp::vmac::Vmac;

pub(crate) trait Effects: Send {
    /// The timer's descriptor and the receiving socket's, for VRRP's thread to watch.
    fn descriptors(&self) -> [RawFd; 2];
    /// Whether the deadline last armed has come by `now` (a readiness a re-arm overtook has
    /// not).
    fn expired(&mut self, now: Instant) -> bool;
    /// Wakes the instance at `at` (none: not at all).
    fn arm(&mut self, at: Option<Instant>);
    /// Sends one advert to `dst`.
    fn send(&mut self, advert: &[u8], dst: IpAddr) -> io::Result<()>;
    /// Reads the packets queued into `out`, `most` at most: true when more may be left.
    fn receive(&mut self, buf: &mut [u8], out: &mut Vec<Packet>, most: usize) -> io::Result<bool>;
    /// Whether every address the instance holds is on its interface: a master that died
    /// leaves them there.
    fn all_present(&self) -> bool;
    /// Adds or removes the addresses, routes and rules.
    fn set_addresses(&mut self, want: Want);
    /// Announces the addresses `count` times; returns when an interval that spaces the
    /// announcements has the next one due.
    fn announce(&mut self, count: u32) -> Option<Instant>;
    /// Sends the next spaced announcement; returns when the one after it is due.
    fn announce_next(&mut self) -> Option<Instant>;
    /// Drops the announcements still spaced out (the instance left master).
    fn stop_announcing(&mut self);
    /// Tells the daemon.
    fn report(&mut self, report: Report);
    /// Runs notify commands, after those started before.
    fn notify(&mut self, commands: Vec<Vec<String>>);
    /// Runs an event's command now, beside the notify commands.
    fn notify_beside(&mut self, command: Vec<String>);
    /// The instance has stopped: its VMAC goes, its stop notification is handed to whoever
    /// waits for it.
    fn finish(&mut self);
}

/// The host's effects: the socket, the timer, the addresses and their announcements, the
/// notify commands, and the daemon's channels.
pub(super) struct Io {
    /// The instance's name, for the logs.
    pub name: String,
    pub sock: VrrpSocket,
    pub timer: Timer,
    pub addresses: Rtnl,
    pub held: Holdings,
    /// The VMAC this instance made or took back, removed when it stops.
    pub vmac: Option<Vmac>,
    pub transitions: mpsc::UnboundedSender<Report>,
    /// The notify commands still running: each new batch waits for the one before, so
    /// scripts see the states in the order they happened.
    pub notify: crate::notify::Chain,
    /// Told when the instance finishes.
    pub done: Option<oneshot::Sender<Option<JoinHandle<()>>>>,
}

impl Effects for Io {
    fn descriptors(&self) -> [RawFd; 2] {
        [self.timer.fd(), self.sock.rx_fd()]
    }

    fn expired(&mut self, now: Instant) -> bool {
        self.timer.expired(now)
    }

    fn arm(&mut self, at: Option<Instant>) {
        if let Err(e) = self.timer.set(at) {
            warn!(target: super::LOG_TARGET, instance = %self.name, error = %e, "cannot arm the timer");
        }
    }

    fn send(&mut self, advert: &[u8], dst: IpAddr) -> io::Result<()> {
        self.sock.send(advert, dst)
    }

    fn receive(&mut self, buf: &mut [u8], out: &mut Vec<Packet>, most: usize) -> io::Result<bool> {
        self.sock.recv_some(buf, out, most)
    }

    fn all_present(&self) -> bool {
        self.held.all_present()
    }

    fn set_addresses(&mut self, want: Want) {
        self.held.set(&mut self.addresses, want, &self.name);
    }

    fn announce(&mut self, count: u32) -> Option<Instant> {
        self.held.announce(count, &self.name)
    }

    fn announce_next(&mut self) -> Option<Instant> {
        self.held.announce_next(&self.name)
    }

    fn stop_announcing(&mut self) {
        self.held.cancel();
    }

    fn report(&mut self, report: Report) {
        let _ = self.transitions.send(report);
    }

    fn notify(&mut self, commands: Vec<Vec<String>>) {
        self.notify.run(&self.name, commands);
    }

    fn notify_beside(&mut self, command: Vec<String>) {
        self.notify.run_beside(&self.name, command);
    }

    fn finish(&mut self) {
        if let Some(v) = self.vmac.take() {
            v.close(&mut self.addresses);
        }
        if let Some(done) = self.done.take() {
            let _ = done.send(self.notify.take());
        }
    }
}
