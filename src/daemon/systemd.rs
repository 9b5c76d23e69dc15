//! Telling systemd where the daemon is (`Type=notify`): READY after the first full sync,
//! RELOADING/READY around a reload, STOPPING on the way out, and WATCHDOG pings when the unit
//! sets `WatchdogSec`. Outside systemd (no NOTIFY_SOCKET) every call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "cannot notify systemd");
    }
}

pub(super) fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// systemd wants the monotonic clock with RELOADING, to tell this reload from the next.
pub(super) fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub(super) fn stopping() {
    send(&[NotifyState::Stopping]);
}

pub(super) fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// How often to ping the watchdog: a quarter of the unit's `WatchdogSec`, when systemd
/// advises half. A ping goes only when VRRP's thread answered the turn before's
/// (`VrrpThread::answering`): at half, a single late answer would leave the next ping a whole
/// `WatchdogSec` after the last, racing systemd's deadline; at a quarter, the loop may be late
/// by up to half of it without a restart. None when the unit does not ask.
pub(super) fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| d / 4)
}
