//! VRRP v2 and v3. Pure, and replay-tested: the packet codec ([`packet`]), which adverts are
//! admitted ([`admit`]), the state machine ([`fsm`]), the gratuitous announcements' schedule
//! ([`garp`]) and the sync groups' commands ([`group`]). The network side ([`instance`] on
//! its own thread, [`thread`]) moves the addresses and talks to the peers.

pub(crate) mod admit;
pub(crate) mod command;
pub(crate) mod fsm;
pub(crate) mod garp;
pub(crate) mod gratuitous;
pub(crate) mod group;
pub(crate) mod held;
pub(crate) mod instance;
pub mod packet;
pub(crate) mod sendonly;
pub(crate) mod socket;
pub(crate) mod thread;
pub(crate) mod timer;
pub(crate) mod tracking;
pub(crate) mod vmac;
pub(crate) mod vmac_record;

/// A track script as a check target: a misc check of nothing in particular, so that the
/// health runner (rise, fall, timeout, process-group kill) runs it.
pub fn tracking_target(t: &crate::config::model::TrackScript) -> crate::health::Target {
    use crate::config::model::{Check, CheckKind};
    crate::health::Target::new(
        std::sync::Arc::new(Check {
            kind: CheckKind::Misc {
                command: t.command.clone(),
                dynamic_weight: false,
            },
            interval: t.interval,
            timeout: t.timeout,
            fall: t.fall,
            rise: t.rise,
            retry_delay: t.interval,
            port: None,
            address: None,
            source: None,
            alpha: false,
        }),
        std::net::IpAddr::from([0, 0, 0, 0]),
        0,
    )
}
