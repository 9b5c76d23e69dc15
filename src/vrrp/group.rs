//! Keeping a sync group together, as keepalived's vrrp_sync.c does: one member's own fault
//! takes the group to FAULT; a member becoming master brings the others; a master member
//! falling back to backup takes the others along. What a member does because of its group is
//! not passed on again, so members cannot drive each other round in circles. Pure: the
//! daemon sends the commands.

use std::collections::HashMap;

use super::fsm::State;
use super::instance::{Command, Transition};

/// The commands for the group's running `members` after transition `t` of one of them, with
/// each member's own fault (`t`'s included).
pub(crate) fn commands(
    members: &[&str],
    own_faults: &HashMap<String, bool>,
    t: &Transition,
) -> Vec<(String, Command)> {
    // A member's group fault is the others' own faults, never its own echoed back.
    let others_fault = |member: &str| {
        members
            .iter()
            .any(|m| *m != member && own_faults.get(*m).copied().unwrap_or(false))
    };
    let follow = match (t.from, t.to) {
        _ if t.by_group => None,
        (_, State::Master) => Some(Command::GroupMaster),
        (State::Master, State::Backup) => Some(Command::GroupBackup),
        _ => None,
    };
    let mut out = Vec::new();
    for member in members {
        out.push((
            member.to_string(),
            Command::GroupFault(others_fault(member)),
        ));
        if *member != t.name
            && let Some(cmd) = &follow
        {
            out.push((member.to_string(), cmd.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUP: [&str; 2] = ["VI_PUBLIC", "VI_GATEWAY"];

    fn t(name: &str, from: State, to: State, own_fault: bool, by_group: bool) -> Transition {
        Transition {
            name: name.into(),
            from,
            to,
            own_fault,
            by_group,
            priority: 100,
        }
    }

    /// Replays transitions as the daemon meets them, recording each member's own fault first.
    fn replay(steps: &[Transition]) -> Vec<Vec<(String, Command)>> {
        let mut faults = HashMap::new();
        steps
            .iter()
            .map(|s| {
                faults.insert(s.name.clone(), s.own_fault);
                commands(&GROUP, &faults, s)
            })
            .collect()
    }

    fn to(member: &str, c: Command) -> (String, Command) {
        (member.to_string(), c)
    }

    #[test]
    fn a_member_becoming_master_brings_the_other_and_its_echo_stops_there() {
        let out = replay(&[
            t("VI_PUBLIC", State::Backup, State::Master, false, false),
            t("VI_GATEWAY", State::Backup, State::Master, false, true),
        ]);
        assert_eq!(
            out[0],
            vec![
                to("VI_PUBLIC", Command::GroupFault(false)),
                to("VI_GATEWAY", Command::GroupFault(false)),
                to("VI_GATEWAY", Command::GroupMaster),
            ]
        );
        assert_eq!(
            out[1],
            vec![
                to("VI_PUBLIC", Command::GroupFault(false)),
                to("VI_GATEWAY", Command::GroupFault(false)),
            ],
            "the follower's own transition is not passed back"
        );
    }

    #[test]
    fn a_members_own_fault_faults_the_others_not_itself_and_clears() {
        let out = replay(&[
            t("VI_GATEWAY", State::Master, State::Fault, true, false),
            t("VI_GATEWAY", State::Fault, State::Backup, false, false),
        ]);
        assert_eq!(
            out[0],
            vec![
                to("VI_PUBLIC", Command::GroupFault(true)),
                to("VI_GATEWAY", Command::GroupFault(false)),
            ]
        );
        assert_eq!(
            out[1],
            vec![
                to("VI_PUBLIC", Command::GroupFault(false)),
                to("VI_GATEWAY", Command::GroupFault(false)),
            ]
        );
    }

    #[test]
    fn a_master_yielding_takes_the_other_to_backup() {
        let out = replay(&[t("VI_PUBLIC", State::Master, State::Backup, false, false)]);
        assert!(out[0].contains(&to("VI_GATEWAY", Command::GroupBackup)));
        assert!(!out[0].contains(&to("VI_PUBLIC", Command::GroupBackup)));
    }
}
