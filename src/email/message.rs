//! What an alert says: keepalived's subjects and bodies (keepalived/core/smtp.c,
//! vrrp/vrrp_notify.c, check/ipwrapper.c), so that mail filters written for keepalived's alerts
//! keep working. Pure: the daemon decides when, [`super::Mailer`] sends.

/// One alert: the subject after `[router_id] ` and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Alert {
    pub subject: String,
    pub body: String,
}

/// A VRRP instance or sync group's new state, as keepalived names it in its mails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VrrpState {
    Master,
    Backup,
    Fault,
    Stop,
}

impl VrrpState {
    /// The state's name as the daemon's transitions spell it ("MASTER", "BACKUP", …).
    pub(crate) fn parse(name: &str) -> Option<VrrpState> {
        match name {
            "MASTER" => Some(VrrpState::Master),
            "BACKUP" => Some(VrrpState::Backup),
            "FAULT" => Some(VrrpState::Fault),
            "STOP" | "STOPPED" => Some(VrrpState::Stop),
            _ => None,
        }
    }

    /// keepalived's word for the state in notify arguments and FIFO lines.
    pub(crate) fn word(self) -> &'static str {
        match self {
            VrrpState::Master => "MASTER",
            VrrpState::Backup => "BACKUP",
            VrrpState::Fault => "FAULT",
            VrrpState::Stop => "STOP",
        }
    }

    fn subject(self) -> &'static str {
        match self {
            VrrpState::Master => "Entering MASTER state",
            VrrpState::Backup => "Entering BACKUP state",
            VrrpState::Fault => "Entering FAULT state",
            VrrpState::Stop => "Stopping",
        }
    }
}

pub(crate) fn instance(router_id: &str, name: &str, state: VrrpState) -> Alert {
    let body = match state {
        VrrpState::Master => "=> VRRP Instance is now owning VRRP VIPs <=",
        VrrpState::Backup | VrrpState::Fault => "=> VRRP Instance is no longer owning VRRP VIPs <=",
        VrrpState::Stop => "=> VRRP Instance stopping <=",
    };
    Alert {
        subject: format!("[{router_id}] VRRP Instance {name} - {}", state.subject()),
        body: body.to_string(),
    }
}

pub(crate) fn group(router_id: &str, name: &str, state: VrrpState) -> Alert {
    let body = match state {
        VrrpState::Master => "=> All VRRP group instances are now in MASTER state <=",
        VrrpState::Backup => "=> All VRRP group instances are now in BACKUP state <=",
        VrrpState::Fault => "=> All VRRP group instances are now in FAULT state <=",
        VrrpState::Stop => "=> All VRRP group instances are now stopping <=",
    };
    Alert {
        subject: format!("[{router_id}] VRRP Group {name} - {}", state.subject()),
        body: body.to_string(),
    }
}

/// A real server went up or down; `check` is the check's type ("tcp", "http", …) and `reason`
/// what the failing probe saw.
pub(crate) fn real_server(
    router_id: &str,
    virtual_server: &str,
    real_server: &str,
    up: bool,
    check: &str,
    reason: Option<&str>,
) -> Alert {
    let kind = check.to_ascii_uppercase();
    let body = match (up, reason) {
        (true, _) => format!("=> {kind} CHECK succeed on service <="),
        (false, Some(r)) => format!("=> {kind} CHECK failed on service: {r} <="),
        (false, None) => format!("=> {kind} CHECK failed on service <="),
    };
    Alert {
        subject: format!(
            "[{router_id}] Realserver {real_server} of virtual server {virtual_server} - {}",
            if up { "UP" } else { "DOWN" }
        ),
        body,
    }
}

/// keepalived's alerts at stop with `omega`: a live real server, or the service, going down
/// because the director stops (check/ipwrapper.c clear_service_rs, do_vs_notifies).
pub(crate) fn shutting_down(
    router_id: &str,
    virtual_server: &str,
    real_server: Option<&str>,
) -> Alert {
    let subject = match real_server {
        Some(rs) => {
            format!("[{router_id}] Realserver {rs} of virtual server {virtual_server} - DOWN")
        }
        None => format!("[{router_id}] Virtualserver {virtual_server} - DOWN"),
    };
    Alert {
        subject,
        body: "=> Shutting down <=".into(),
    }
}

/// A virtual server's quorum: `live` is the weight of its live servers.
pub(crate) fn quorum(
    router_id: &str,
    virtual_server: &str,
    up: bool,
    quorum: u32,
    hysteresis: u32,
    live: u64,
) -> Alert {
    let threshold = if up {
        i64::from(quorum) + i64::from(hysteresis)
    } else {
        i64::from(quorum) - i64::from(hysteresis)
    };
    let what = if up { "Gained quorum" } else { "Lost quorum" };
    Alert {
        subject: format!(
            "[{router_id}] Virtualserver {virtual_server} - {}",
            if up { "UP" } else { "DOWN" }
        ),
        body: format!("=> {what} {quorum}+{hysteresis}={threshold} <= {live} <="),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutting_down_as_keepalived_says_it() {
        let rs = shutting_down("lb1", "web", Some("10.0.0.2:80"));
        assert_eq!(
            rs.subject,
            "[lb1] Realserver 10.0.0.2:80 of virtual server web - DOWN"
        );
        assert_eq!(rs.body, "=> Shutting down <=");
        let vs = shutting_down("lb1", "web", None);
        assert_eq!(vs.subject, "[lb1] Virtualserver web - DOWN");
    }

    #[test]
    fn keepalived_subjects_and_bodies() {
        let a = instance("lb1", "VI_1", VrrpState::Master);
        assert_eq!(
            a.subject,
            "[lb1] VRRP Instance VI_1 - Entering MASTER state"
        );
        assert_eq!(a.body, "=> VRRP Instance is now owning VRRP VIPs <=");
        let g = group("lb1", "G1", VrrpState::Fault);
        assert_eq!(g.subject, "[lb1] VRRP Group G1 - Entering FAULT state");
        let r = real_server(
            "lb1",
            "web",
            "10.0.0.2:80",
            false,
            "http",
            Some("status 503"),
        );
        assert_eq!(
            r.subject,
            "[lb1] Realserver 10.0.0.2:80 of virtual server web - DOWN"
        );
        assert_eq!(r.body, "=> HTTP CHECK failed on service: status 503 <=");
        let q = quorum("lb1", "web", false, 3, 1, 1);
        assert_eq!(q.subject, "[lb1] Virtualserver web - DOWN");
        assert_eq!(q.body, "=> Lost quorum 3+1=2 <= 1 <=");
    }

    #[test]
    fn state_names() {
        assert_eq!(VrrpState::parse("BACKUP"), Some(VrrpState::Backup));
        assert_eq!(VrrpState::parse("INIT"), None);
    }
}
