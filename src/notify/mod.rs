//! Notify commands (keepalived's notify_* scripts): run in the background, one batch after
//! the other in the order the events happened, never holding up the caller, as the script
//! user. A command that fails is logged; nothing waits on it but the next batch.

pub(crate) mod fifo;

use std::time::Duration;

use crate::config::model::Notify;
use crate::email::VrrpState;
use crate::identity::Identity;
use tokio::task::JoinHandle;
use tracing::warn;

/// Whose state changed: keepalived's first argument to the generic notify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Instance,
    Group,
}

/// What keepalived runs when `name` enters `state`, in its order (vrrp_notify.c,
/// send_instance_notifies and send_group_notifies): the state's own command as written,
/// then the generic `notify` with "INSTANCE"|"GROUP" NAME STATE PRIORITY appended. A group's
/// priority is 0.
pub(crate) fn commands(
    n: &Notify,
    scope: Scope,
    name: &str,
    state: VrrpState,
    priority: u8,
) -> Vec<Vec<String>> {
    let specific = match state {
        VrrpState::Master => &n.master,
        VrrpState::Backup => &n.backup,
        VrrpState::Fault => &n.fault,
        VrrpState::Stop => &n.stop,
    };
    let kind = match scope {
        Scope::Instance => "INSTANCE",
        Scope::Group => "GROUP",
    };
    let generic = n.any.clone().map(|mut argv| {
        argv.extend([
            kind.to_string(),
            name.to_string(),
            state.word().to_string(),
            priority.to_string(),
        ]);
        argv
    });
    specific.clone().into_iter().chain(generic).collect()
}

/// The commands of one owner (a VRRP instance, the daemon's services and groups), in order.
#[derive(Debug, Default)]
pub(crate) struct Chain {
    user: Option<Identity>,
    last: Option<JoinHandle<()>>,
}

impl Chain {
    pub(crate) fn new(user: Option<Identity>) -> Chain {
        Chain { user, last: None }
    }

    /// Runs `argv` now, beside the chain: it waits for nothing and holds nothing up, as
    /// keepalived runs the script of an event that may come every advert
    /// (MASTER_RX_LOWER_PRI: vrrp_notify.c send_event_notify, notify_exec without waiting).
    pub(crate) fn run_beside(&self, what: &str, argv: Vec<String>) {
        let (what, user) = (what.to_string(), self.user);
        tokio::spawn(async move {
            run_one(&what, &argv, user).await;
        });
    }

    /// Runs `commands` one after another once the batch before has finished. `what` names
    /// the owner in the logs.
    pub(crate) fn run(&mut self, what: &str, commands: Vec<Vec<String>>) {
        self.run_as(what, commands, self.user);
    }

    /// The same, as `user` rather than the chain's own.
    pub(crate) fn run_as(
        &mut self,
        what: &str,
        commands: Vec<Vec<String>>,
        user: Option<Identity>,
    ) {
        if commands.is_empty() {
            return;
        }
        let (what, previous) = (what.to_string(), self.last.take());
        self.last = Some(tokio::spawn(async move {
            if let Some(p) = previous {
                let _ = p.await;
            }
            for argv in commands {
                run_one(&what, &argv, user).await;
            }
        }));
    }

    /// The commands still running, to wait for on a runtime without a time driver (the VRRP
    /// thread's): `finish` is the same with tokio's timeout.
    pub(crate) fn take(&mut self) -> Option<JoinHandle<()>> {
        self.last.take()
    }

    /// Waits up to `limit` for the commands still running (a stop's own notification).
    pub(crate) async fn finish(&mut self, limit: Duration) {
        if let Some(chain) = self.last.take() {
            let _ = tokio::time::timeout(limit, chain).await;
        }
    }
}

async fn run_one(what: &str, argv: &[String], user: Option<Identity>) {
    let Some((prog, args)) = argv.split_first() else {
        return;
    };
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(Identity { uid, gid }) = user {
        cmd.uid(uid).gid(gid);
    }
    match cmd.status().await {
        Ok(s) if s.success() => {}
        Ok(s) => warn!(owner = %what, command = %prog, status = %s, "notify command failed"),
        Err(e) => warn!(owner = %what, command = %prog, error = %e, "notify command not run"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batches_run_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("order");
        let mut chain = Chain::new(None);
        let append = |word: &str, delay: &str| {
            vec![
                "/bin/sh".to_string(),
                "-c".into(),
                format!("sleep {delay}; echo {word} >> {}", out.display()),
            ]
        };
        chain.run("test", vec![append("first", "0.2")]);
        chain.run("test", vec![append("second", "0"), append("third", "0")]);
        chain.finish(Duration::from_secs(5)).await;
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "first\nsecond\nthird\n"
        );
    }

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn the_states_own_command_first_then_the_generic_one_with_keepalived_arguments() {
        let n = Notify {
            master: Some(argv("/m.sh")),
            stop: Some(argv("/stop.sh now")),
            any: Some(argv("/any.sh")),
            ..Notify::default()
        };
        assert_eq!(
            commands(&n, Scope::Instance, "VI_1", VrrpState::Master, 150),
            vec![argv("/m.sh"), argv("/any.sh INSTANCE VI_1 MASTER 150")]
        );
        assert_eq!(
            commands(&n, Scope::Instance, "VI_1", VrrpState::Stop, 0),
            vec![argv("/stop.sh now"), argv("/any.sh INSTANCE VI_1 STOP 0")]
        );
        assert_eq!(
            commands(&n, Scope::Group, "G1", VrrpState::Backup, 0),
            vec![argv("/any.sh GROUP G1 BACKUP 0")],
            "no backup command: the generic one only"
        );
        assert!(commands(&Notify::default(), Scope::Group, "G1", VrrpState::Fault, 0).is_empty());
    }
}
