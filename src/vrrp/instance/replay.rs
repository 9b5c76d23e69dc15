//! Replays of one instance whole, not only its state machine: packets, deadlines and commands
//! go in through the entry points VRRP's thread uses ([`Driven`]), and every effect comes out,
//! in order, from a recorder in place of the host (holo-vrrp's conformance tests are the
//! model). The clock is tokio's, paused: a replay moves it to each deadline the instance arms,
//! as the thread's timer would wake it.
//!
//! What the shell scenarios check end to end is checked here step by step: resuming after a
//! crash, the re-announce on hearing a lower-priority master, a sync-group fault, a tracking
//! priority change, a reload that keeps an instance.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::RawFd;
use std::path::Path;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::effects::Effects;
use super::runtime::Runtime;
use super::{Command, Report, Status};
use crate::netlink::rtnl::Want;
use crate::vrrp::command::TrackedKind;
use crate::vrrp::fsm::State;
use crate::vrrp::packet::{Advert, V3Checksum};
use crate::vrrp::socket::{GROUP_V4, Packet};
use crate::vrrp::thread::Driven;
use crate::vrrp::tracking::{Tracked, Tracking};

const OWN: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));
const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 12));
const GROUP: IpAddr = IpAddr::V4(GROUP_V4);
const SECOND: Duration = Duration::from_secs(1);

/// What the instance did, as the recorder saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Effect {
    /// An advert left for the group with this priority.
    Advert(u8),
    Addresses(Want),
    Announce(u32),
    StopAnnouncing,
    /// A state change told to the daemon, with the priority then and whether the
    /// instance's own tracking faults it.
    Reported {
        to: State,
        priority: u8,
        own_fault: bool,
        by_group: bool,
    },
    /// A priority change told to the daemon.
    Priority(u8),
    /// A lower-priority master heard, told to the daemon.
    LowerPriorityHeard,
    /// The notify commands run (the first word of each).
    Notify(Vec<String>),
    Finished,
}

/// The host, recorded: effects in order, the deadline last armed, packets waiting to be read,
/// and whether the addresses are on the interface (a crash left them).
#[derive(Default)]
struct Recorder {
    effects: Vec<Effect>,
    armed: Option<Instant>,
    inbox: Vec<Packet>,
    present: bool,
}

impl Effects for Recorder {
    fn descriptors(&self) -> [RawFd; 2] {
        [-1, -1]
    }

    fn expired(&mut self, now: Instant) -> bool {
        self.armed.is_some_and(|at| at <= now)
    }

    fn arm(&mut self, at: Option<Instant>) {
        self.armed = at;
    }

    fn send(&mut self, advert: &[u8], dst: IpAddr) -> io::Result<()> {
        assert_eq!(dst, GROUP, "no unicast peers in these replays");
        let a = Advert::decode(advert, OWN, dst, V3Checksum::PseudoHeader)
            .map_err(|e| io::Error::other(e.as_str()))?;
        self.effects.push(Effect::Advert(a.priority));
        Ok(())
    }

    fn receive(&mut self, _: &mut [u8], out: &mut Vec<Packet>, _: usize) -> io::Result<bool> {
        out.append(&mut self.inbox);
        Ok(false)
    }

    fn all_present(&self) -> bool {
        self.present
    }

    fn set_addresses(&mut self, want: Want) {
        self.present = want == Want::Present;
        self.effects.push(Effect::Addresses(want));
    }

    fn announce(&mut self, count: u32) -> Option<Instant> {
        self.effects.push(Effect::Announce(count));
        None
    }

    fn announce_next(&mut self) -> Option<Instant> {
        None
    }

    fn stop_announcing(&mut self) {
        self.effects.push(Effect::StopAnnouncing);
    }

    fn report(&mut self, report: Report) {
        self.effects.push(match report {
            Report::State(t) => Effect::Reported {
                to: t.to,
                priority: t.priority,
                own_fault: t.own_fault,
                by_group: t.by_group,
            },
            Report::Priority { priority, .. } => Effect::Priority(priority),
            Report::LowerPriorityHeard { .. } => Effect::LowerPriorityHeard,
        });
    }

    fn notify_beside(&mut self, command: Vec<String>) {
        self.notify(vec![command]);
    }

    fn notify(&mut self, commands: Vec<Vec<String>>) {
        let words = commands.into_iter().flat_map(|c| c.into_iter().take(1));
        self.effects.push(Effect::Notify(words.collect()));
    }

    fn finish(&mut self) {
        self.effects.push(Effect::Finished);
    }
}

/// One instance under replay.
struct Replay {
    rt: Runtime<Recorder>,
    status: watch::Receiver<Status>,
}

/// The instance of `extra` (TOML lines added to a v3 instance of priority 100 with one
/// address, advertising every second), with every tracked script up.
fn replay(extra: &str) -> Replay {
    let text = format!(
        r#"
[[vrrp_instance]]
name = "VI_1"
interface = "lo"
virtual_router_id = 51
priority = 100
version = 3
advert_interval = "1s"
virtual_ipaddress = ["192.0.2.10/32"]
notify = {{ master = ["/bin/to-master"], backup = ["/bin/to-backup"], fault = ["/bin/to-fault"], stop = ["/bin/to-stop"] }}
{extra}

[[track_script]]
name = "app"
command = ["/bin/true"]
"#
    );
    let loaded = crate::config::load_str(Path::new("replay.toml"), &text).expect("a valid file");
    let cfg = loaded.config.vrrp_instances[0].clone();
    let scripts = cfg.track_script.iter().map(|t| Tracked {
        name: t.name.clone(),
        weight: t.weight,
        up: true,
    });
    let tracking = Tracking {
        scripts: scripts.collect(),
        ..Tracking::default()
    };
    let (rt, status) = Runtime::new(cfg, OWN, tracking, Recorder::default());
    Replay { rt, status }
}

impl Replay {
    /// What the instance did since the last look.
    fn effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.rt.io.effects)
    }

    fn state(&self) -> State {
        self.status.borrow().state
    }

    /// Lets `d` pass, waking the instance at each deadline it armed on the way.
    async fn pass(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while let Some(at) = self.rt.io.armed.filter(|at| *at <= end) {
            tokio::time::advance(at.saturating_duration_since(Instant::now())).await;
            self.rt.timer();
        }
        tokio::time::advance(end.saturating_duration_since(Instant::now())).await;
    }

    /// An advert of the peer's at `priority` arrives.
    fn hear(&mut self, priority: u8) {
        let advert = Advert {
            version: 3,
            vrid: 51,
            priority,
            interval: 100,
            password: None,
            addrs: vec!["192.0.2.10".parse().expect("an address")],
        };
        self.rt.io.inbox.push(Packet {
            src: PEER,
            dst: GROUP,
            ttl: 255,
            payload: advert.encode(PEER, GROUP, V3Checksum::PseudoHeader),
        });
        self.rt.readable();
    }

    /// Started, with no other router on the segment: master after the down interval.
    async fn master(extra: &str) -> Replay {
        let mut r = replay(extra);
        r.rt.start();
        r.pass(4 * SECOND).await;
        assert_eq!(r.state(), State::Master);
        r.effects();
        r
    }
}

fn reported(to: State, priority: u8) -> Effect {
    Effect::Reported {
        to,
        priority,
        own_fault: false,
        by_group: false,
    }
}

fn notified(script: &str) -> Effect {
    Effect::Notify(vec![script.to_string()])
}

/// Becoming master: the advert first, then the addresses and their announcement (RFC 9568
/// §6.4.2: send an ADVERTISEMENT, then broadcast gratuitous ARP), then the scripts and the
/// daemon.
fn becoming_master() -> [Effect; 5] {
    [
        Effect::Advert(100),
        Effect::Addresses(Want::Present),
        Effect::Announce(5),
        notified("/bin/to-master"),
        reported(State::Master, 100),
    ]
}

/// Becoming backup from Init or Master: the addresses go (a backup must not keep what a
/// crash left), then the scripts and the daemon.
fn becoming_backup() -> [Effect; 4] {
    [
        Effect::Addresses(Want::Absent),
        Effect::StopAnnouncing,
        notified("/bin/to-backup"),
        reported(State::Backup, 100),
    ]
}

/// Leaving master for `to`: a priority 0 advert first, so the backup takes over after its skew
/// time, then the addresses go.
fn resigning(script: &str, to: State) -> [Effect; 5] {
    [
        Effect::Advert(0),
        Effect::Addresses(Want::Absent),
        Effect::StopAnnouncing,
        notified(script),
        reported(to, 100),
    ]
}

#[tokio::test(start_paused = true)]
async fn a_fresh_start_is_backup_until_the_down_interval_passes_then_master() {
    let mut r = replay("");
    r.rt.start();
    assert_eq!(r.effects(), becoming_backup());
    // Master down interval: 3 x 1 s + skew (256 - 100) / 256 s.
    r.pass(Duration::from_millis(3600)).await;
    assert_eq!(r.state(), State::Backup);
    r.pass(Duration::from_millis(50)).await;
    assert_eq!(r.effects(), becoming_master());
}

#[tokio::test(start_paused = true)]
async fn a_restart_after_a_crash_resumes_as_master_at_once() {
    let mut r = replay("");
    r.rt.io.present = true;
    r.rt.start();
    assert_eq!(
        r.effects(),
        becoming_master(),
        "no silence of a down interval: the VIPs never move to the backup and back"
    );
    r.pass(SECOND).await;
    assert_eq!(r.effects(), [Effect::Advert(100)]);
    // A higher-priority master heard then takes over as usual.
    r.hear(150);
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.effects(), becoming_backup());
}

#[tokio::test(start_paused = true)]
async fn a_lower_priority_master_heard_is_answered_and_the_addresses_announced_again() {
    let mut r = Replay::master("").await;
    r.hear(50);
    assert_eq!(
        r.status.borrow().dropped,
        Default::default(),
        "the advert is admitted"
    );
    // keepalived vrrp.c vrrp_state_master_rx: vrrp_send_adv, then vrrp_send_link_update.
    // And keepalived's send_event_notify: the daemon is told (MASTER_RX_LOWER_PRI).
    assert_eq!(
        r.effects(),
        [
            Effect::Advert(100),
            Effect::Announce(5),
            Effect::LowerPriorityHeard
        ]
    );
    assert_eq!(r.state(), State::Master);
    // A router resigning (priority 0) only gets the advert.
    r.hear(0);
    assert_eq!(r.effects(), [Effect::Advert(100)]);
    // The next advert is an interval after the answer, not at the old cadence.
    r.pass(Duration::from_millis(990)).await;
    assert_eq!(r.effects(), []);
    r.pass(Duration::from_millis(20)).await;
    assert_eq!(r.effects(), [Effect::Advert(100)]);
}

#[tokio::test(start_paused = true)]
async fn a_sync_group_fault_takes_the_master_down_and_its_end_brings_it_back() {
    let mut r = Replay::master("").await;
    r.rt.command(Some(Command::GroupFault(true)));
    assert_eq!(r.state(), State::Fault);
    assert_eq!(
        r.effects(),
        resigning("/bin/to-fault", State::Fault),
        "own_fault false: the group's fault, not the instance's own"
    );
    r.pass(10 * SECOND).await;
    assert_eq!(r.effects(), [], "silent in fault");
    r.rt.command(Some(Command::GroupFault(false)));
    assert_eq!(
        r.effects(),
        [notified("/bin/to-backup"), reported(State::Backup, 100)]
    );
    r.pass(4 * SECOND).await;
    assert_eq!(r.state(), State::Master);
}

#[tokio::test(start_paused = true)]
async fn a_tracked_script_failing_lowers_the_advertised_priority_and_costs_the_election() {
    let mut r = Replay::master(r#"track_script = [{ name = "app", weight = -30 }]"#).await;
    let fail = Command::Track {
        kind: TrackedKind::Script,
        name: "app".into(),
        up: false,
    };
    r.rt.command(Some(fail));
    assert_eq!(r.effects(), [Effect::Priority(70), Effect::Advert(70)]);
    assert_eq!(r.status.borrow().priority, 70);
    r.pass(SECOND).await;
    assert_eq!(r.effects(), [Effect::Advert(70)]);
    // A peer at 90 now outranks it.
    r.hear(90);
    assert_eq!(r.state(), State::Backup);
    assert!(r.effects().contains(&reported(State::Backup, 70)));
}

#[tokio::test(start_paused = true)]
async fn a_tracked_script_without_weight_faults_the_instance_itself() {
    let mut r = Replay::master(r#"track_script = [{ name = "app" }]"#).await;
    r.rt.command(Some(Command::Track {
        kind: TrackedKind::Script,
        name: "app".into(),
        up: false,
    }));
    let effects = r.effects();
    assert_eq!(effects[0], Effect::Advert(0));
    assert!(effects.contains(&Effect::Reported {
        to: State::Fault,
        priority: 100,
        own_fault: true,
        by_group: false,
    }));
}

#[tokio::test(start_paused = true)]
async fn a_reload_that_keeps_the_instance_changes_nothing_it_does() {
    let mut r = Replay::master(r#"track_script = [{ name = "app", weight = -30 }]"#).await;
    let before = r.status.borrow().clone();
    // A reload hands a kept instance the tracked states again, and its group's verdict.
    r.rt.command(Some(Command::Track {
        kind: TrackedKind::Script,
        name: "app".into(),
        up: true,
    }));
    r.rt.command(Some(Command::GroupFault(false)));
    assert_eq!(
        r.effects(),
        [],
        "no transition, no address moved, no script run"
    );
    r.pass(3 * SECOND).await;
    assert_eq!(
        r.effects(),
        vec![Effect::Advert(100); 3],
        "the cadence goes on"
    );
    let after = r.status.borrow().clone();
    assert_eq!(
        (after.state, after.priority),
        (before.state, before.priority)
    );
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_resigns_removes_the_addresses_and_finishes() {
    let mut r = Replay::master("").await;
    assert!(!r.rt.command(Some(Command::Shutdown)));
    let mut want = resigning("/bin/to-stop", State::Init).to_vec();
    want.push(Effect::Finished);
    assert_eq!(r.effects(), want);
}
