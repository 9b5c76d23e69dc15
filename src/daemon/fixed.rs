//! `[static]`: addresses, routes and rules held for as long as the daemon runs, whatever the
//! VRRP state — added at start, replaced when a reload changes them, removed on a clean stop
//! (keepalived's static_ipaddress, static_routes and static_rules, vrrp/vrrp_daemon.c).

use tracing::error;

use super::Daemon;
use crate::netlink::rtnl::{Rtnl, Want};
use crate::vrrp::held::Holdings;

impl Daemon {
    /// Holds what the configuration's `[static]` says, letting go of what was held before.
    pub(super) fn hold_static(&mut self) {
        self.release_static();
        if self.config.static_.is_empty() {
            return;
        }
        match (Holdings::fixed(&self.config.static_), Rtnl::open()) {
            (Ok(held), Ok(mut rtnl)) => {
                held.set(&mut rtnl, Want::Present, "static");
                self.fixed = Some((held, rtnl));
            }
            (Err(e), _) | (_, Err(e)) => {
                error!(error = %e, "cannot hold the static addresses, routes and rules")
            }
        }
    }

    pub(super) fn release_static(&mut self) {
        if let Some((held, mut rtnl)) = self.fixed.take() {
            held.set(&mut rtnl, Want::Absent, "static");
        }
    }
}
