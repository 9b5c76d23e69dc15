//! The VRRP state machine (RFC 9568 §6.4, with RFC 3768 for v2): Initialize, Backup, Master
//! and Fault, driven by events and the time passed in. It decides; the caller sends, sets
//! addresses and runs scripts. Replayed event sequences test it without sockets or a clock.

use std::net::IpAddr;
use std::time::Duration;

/// Time since an arbitrary origin: the caller's clock, or a test's.
pub(crate) type Time = Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum State {
    Init,
    Backup,
    Master,
    Fault,
}

/// The state as notify scripts, FIFOs and mails name it: keepalived's STOP for Init.
impl From<State> for crate::email::VrrpState {
    fn from(s: State) -> Self {
        match s {
            State::Init => crate::email::VrrpState::Stop,
            State::Backup => crate::email::VrrpState::Backup,
            State::Master => crate::email::VrrpState::Master,
            State::Fault => crate::email::VrrpState::Fault,
        }
    }
}

impl State {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::Init => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

/// The fixed settings of one virtual router.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub version: u8,
    pub priority: u8,
    pub advert_interval: Duration,
    pub preempt: bool,
    pub preempt_delay: Duration,
    /// This router's primary address on the interface: the tie-break between equal priorities.
    pub primary: IpAddr,
    /// A master hearing a lower-priority master answers with an advert at once (keepalived's
    /// default; its lower_prio_no_advert turns it off).
    pub lower_prio_advert: bool,
    /// A master hearing a higher-priority one sends one advert of its own before it yields
    /// (keepalived's higher_prio_send_advert): the winner, hearing a lower priority, announces
    /// its addresses again, which the hosts need if the loser announced last.
    pub higher_prio_send_advert: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    Startup,
    /// Startup after a crash of this router while it was master (its addresses are still on
    /// the interface): resume as master at once, so that a restart quicker than the
    /// master-down interval goes unnoticed. A higher-priority master heard then takes over
    /// as usual.
    Resume,
    Shutdown,
    /// A valid advertisement of this virtual router from another router.
    Advert {
        src: IpAddr,
        priority: u8,
        interval: Duration,
    },
    /// Time has passed: timers that are due fire.
    Tick,
    /// Tracking says the router cannot serve (true) or can again (false).
    Fault(bool),
    /// Tracking weights changed the effective priority.
    Priority(u8),
    /// Another member of this instance's sync group became master: follow it now.
    GroupMaster,
    /// Another member of the sync group left master: leave it too (resigning).
    GroupBackup,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Send an advertisement with this priority (0: resigning).
    Advertise(u8),
    /// The state changed.
    Transition { from: State, to: State },
    /// Announce the addresses again (gratuitous ARP, unsolicited NA) as on becoming master:
    /// another router took them for a moment and the neighbours may still point at it.
    Reannounce,
}

#[derive(Debug, Clone)]
pub(crate) struct Fsm {
    p: Params,
    state: State,
    priority: u8,
    master_adver_interval: Duration,
    master_down_at: Option<Time>,
    advert_at: Option<Time>,
    started_at: Time,
    fault: bool,
    /// When a master at least as preferred as this router was last heard (while backup).
    heard_master_at: Option<Time>,
}

impl Fsm {
    pub(crate) fn new(p: Params) -> Self {
        Fsm {
            priority: p.priority,
            master_adver_interval: p.advert_interval,
            state: State::Init,
            master_down_at: None,
            advert_at: None,
            started_at: Duration::ZERO,
            fault: false,
            heard_master_at: None,
            p,
        }
    }

    pub(crate) fn state(&self) -> State {
        self.state
    }

    pub(crate) fn priority(&self) -> u8 {
        self.priority
    }

    /// The interval the current master advertises at (v3 backups adopt it).
    #[cfg(test)]
    pub(crate) fn master_adver_interval(&self) -> Duration {
        self.master_adver_interval
    }

    /// Skew_Time: v3 scales by the master's interval, v2 counts in whole seconds.
    pub(crate) fn skew(&self) -> Duration {
        let left = 256 - u32::from(self.priority);
        match self.p.version {
            2 => Duration::from_secs(1) * left / 256,
            _ => self.master_adver_interval * left / 256,
        }
    }

    /// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.
    pub(crate) fn master_down_interval(&self) -> Duration {
        self.master_adver_interval * 3 + self.skew()
    }

    /// When the next timer fires, if one runs.
    pub(crate) fn deadline(&self) -> Option<Time> {
        match self.state {
            State::Backup => self.master_down_at,
            State::Master => self.advert_at,
            _ => None,
        }
    }

    fn owner(&self) -> bool {
        self.p.priority == 255
    }

    /// Preemption is on once `preempt_delay` has passed since start; the owner always preempts.
    fn preempts(&self, now: Time) -> bool {
        self.owner() || (self.p.preempt && now >= self.started_at + self.p.preempt_delay)
    }

    fn go(&mut self, to: State, out: &mut Vec<Action>) {
        if self.state != to {
            out.push(Action::Transition {
                from: self.state,
                to,
            });
            self.state = to;
        }
    }

    fn become_master(&mut self, now: Time, out: &mut Vec<Action>) {
        out.push(Action::Advertise(self.priority));
        self.advert_at = Some(now + self.p.advert_interval);
        self.master_down_at = None;
        self.go(State::Master, out);
    }

    fn become_backup(&mut self, now: Time, out: &mut Vec<Action>) {
        self.advert_at = None;
        self.master_down_at = Some(now + self.master_down_interval());
        self.go(State::Backup, out);
    }

    /// Starts in Master (the address owner) or Backup, unless tracking already says Fault.
    fn start(&mut self, now: Time, out: &mut Vec<Action>) {
        self.master_adver_interval = self.p.advert_interval;
        if self.fault {
            self.go(State::Fault, out);
        } else if self.owner() {
            self.become_master(now, out);
        } else {
            self.become_backup(now, out);
        }
    }

    pub(crate) fn handle(&mut self, now: Time, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        self.handle_into(now, event, &mut out);
        out
    }

    /// The same, appending to `out`: a caller that keeps its buffer allocates nothing per
    /// event (an advert's tick is one).
    ///
    /// Long because it is the state table: one arm per (state, event) as RFC 9568 §6.4 lists
    /// them, so that the whole protocol reads in one place against the RFC.
    pub(crate) fn handle_into(&mut self, now: Time, event: Event, out: &mut Vec<Action>) {
        match (self.state, event) {
            (State::Init, Event::Startup) => {
                self.started_at = now;
                self.start(now, out);
            }
            (State::Init, Event::Resume) => {
                self.started_at = now;
                self.master_adver_interval = self.p.advert_interval;
                if self.fault {
                    self.go(State::Fault, out);
                } else {
                    self.become_master(now, out);
                }
            }
            (State::Init, Event::Fault(f)) => self.fault = f,
            (State::Init, Event::Priority(p)) => self.priority = p,
            (State::Init, _) => {}

            (_, Event::Shutdown) => {
                if self.state == State::Master {
                    out.push(Action::Advertise(0));
                }
                self.master_down_at = None;
                self.advert_at = None;
                self.go(State::Init, out);
            }

            (State::Fault, Event::Fault(false)) => {
                self.fault = false;
                self.start(now, out);
            }
            (State::Fault, Event::Priority(p)) => self.priority = p,
            (State::Fault, _) => {}

            (_, Event::Fault(true)) => {
                self.fault = true;
                if self.state == State::Master {
                    // Resign, so the backup takes over after its skew time, not its down timer.
                    out.push(Action::Advertise(0));
                }
                self.master_down_at = None;
                self.advert_at = None;
                self.go(State::Fault, out);
            }
            (_, Event::Fault(false)) => self.fault = false,

            (State::Backup, Event::Tick) => {
                if self.master_down_at.is_some_and(|t| now >= t) {
                    self.become_master(now, out);
                }
            }
            (State::Backup, Event::Advert { priority: 0, .. }) => {
                // The master resigned: take over after the skew time only.
                self.master_down_at = Some(now + self.skew());
            }
            (
                State::Backup,
                Event::Advert {
                    priority, interval, ..
                },
            ) => {
                if priority >= self.priority {
                    self.heard_master_at = Some(now);
                }
                if !self.preempts(now) || priority >= self.priority {
                    if self.p.version == 3 && !interval.is_zero() {
                        self.master_adver_interval = interval;
                    }
                    self.master_down_at = Some(now + self.master_down_interval());
                }
                // A lower priority with preemption on: ignored, the down timer runs out.
            }
            (State::Backup, Event::Priority(p)) => self.priority = p,

            (State::Master, Event::Tick) => {
                if self.advert_at.is_some_and(|t| now >= t) {
                    out.push(Action::Advertise(self.priority));
                    self.advert_at = Some(now + self.p.advert_interval);
                }
            }
            (State::Master, Event::Advert { priority: 0, .. }) => {
                out.push(Action::Advertise(self.priority));
                self.advert_at = Some(now + self.p.advert_interval);
            }
            (
                State::Master,
                Event::Advert {
                    src,
                    priority,
                    interval,
                },
            ) => {
                let yields =
                    priority > self.priority || (priority == self.priority && src > self.p.primary);
                if yields && !self.owner() {
                    if self.p.version == 3 && !interval.is_zero() {
                        self.master_adver_interval = interval;
                    }
                    if self.p.higher_prio_send_advert {
                        out.push(Action::Advertise(self.priority));
                    }
                    self.become_backup(now, out);
                } else {
                    // Another master with a lower priority (after a split heals): answer now
                    // rather than at the next interval, so it backs off at once; and announce
                    // the addresses again, for it announced them as its own and the hosts
                    // that heard it still send there. keepalived does both by default
                    // (vrrp.c, vrrp_state_master_rx: vrrp_send_adv, then vrrp_send_link_update
                    // with garp_lower_prio_repeat = garp_master_repeat and a second round after
                    // garp_lower_prio_delay = garp_master_delay).
                    // A priority 0 (a router resigning) only gets the advert, as there; so
                    // does a peer the owner outranks only by being the owner. With
                    // lower_prio_no_advert the advert waits for its interval (keepalived
                    // leaves the advert timer alone then: vrrp_scheduler.c, vrrp_read_dispatcher).
                    if self.p.lower_prio_advert {
                        out.push(Action::Advertise(self.priority));
                        self.advert_at = Some(now + self.p.advert_interval);
                    }
                    if priority != 0 && !yields {
                        out.push(Action::Reannounce);
                    }
                }
            }
            (State::Master, Event::Priority(p)) => {
                if p != self.priority {
                    self.priority = p;
                    out.push(Action::Advertise(p));
                    self.advert_at = Some(now + self.p.advert_interval);
                }
            }
            // A live master at least as preferred, heard within the down interval, keeps this
            // member backup whatever its group says: forcing it would only make it yield again.
            (State::Backup, Event::GroupMaster) => {
                let master_alive = self
                    .heard_master_at
                    .is_some_and(|t| now < t + self.master_down_interval());
                if !master_alive {
                    self.become_master(now, out);
                }
            }
            (State::Master, Event::GroupBackup) => {
                out.push(Action::Advertise(0));
                self.become_backup(now, out);
            }
            (
                State::Master | State::Backup,
                Event::Startup | Event::Resume | Event::GroupMaster | Event::GroupBackup,
            ) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Time {
        Duration::from_millis(n)
    }

    fn params(priority: u8, preempt: bool) -> Params {
        Params {
            version: 3,
            priority,
            advert_interval: ms(1000),
            preempt,
            preempt_delay: Duration::ZERO,
            primary: "10.0.0.11".parse().unwrap(),
            lower_prio_advert: true,
            higher_prio_send_advert: false,
        }
    }

    fn advert(src: &str, priority: u8) -> Event {
        Event::Advert {
            src: src.parse().unwrap(),
            priority,
            interval: ms(1000),
        }
    }

    fn t(from: State, to: State) -> Action {
        Action::Transition { from, to }
    }

    /// Runs events at the given times; Ticks are added at every deadline in between.
    fn replay(fsm: &mut Fsm, events: Vec<(u64, Event)>) -> Vec<(u64, Action)> {
        let mut out = Vec::new();
        for (at, ev) in events {
            while let Some(d) = fsm.deadline() {
                if d > ms(at) {
                    break;
                }
                let when = d.as_millis() as u64;
                out.extend(fsm.handle(d, Event::Tick).into_iter().map(|a| (when, a)));
            }
            out.extend(fsm.handle(ms(at), ev).into_iter().map(|a| (at, a)));
        }
        out
    }

    #[test]
    fn timers_follow_the_rfc() {
        let f = Fsm::new(params(100, true));
        assert_eq!(f.skew(), ms(1000) * 156 / 256);
        assert_eq!(f.master_down_interval(), ms(3000) + ms(1000) * 156 / 256);
        let v2 = Fsm::new(Params {
            version: 2,
            ..params(200, true)
        });
        assert_eq!(v2.skew(), Duration::from_secs(1) * 56 / 256);
    }

    #[test]
    fn a_lone_backup_becomes_master_after_the_down_interval() {
        let mut f = Fsm::new(params(100, true));
        let acts = replay(&mut f, vec![(0, Event::Startup), (5000, Event::Tick)]);
        let down = f.master_down_interval().as_millis() as u64; // 3609
        assert_eq!(acts[0], (0, t(State::Init, State::Backup)));
        assert_eq!(acts[1], (down, Action::Advertise(100)));
        assert_eq!(acts[2], (down, t(State::Backup, State::Master)));
        // Then an advertisement every interval.
        assert_eq!(acts[3], (down + 1000, Action::Advertise(100)));
        assert_eq!(f.state(), State::Master);
    }

    #[test]
    fn adverts_keep_a_backup_down() {
        let mut f = Fsm::new(params(100, true));
        let mut evs = vec![(0, Event::Startup)];
        for s in 1..10 {
            evs.push((s * 1000, advert("10.0.0.12", 150)));
        }
        let acts = replay(&mut f, evs);
        assert_eq!(acts, vec![(0, t(State::Init, State::Backup))]);
    }

    #[test]
    fn a_restarted_master_resumes_at_once_and_yields_to_a_higher_one() {
        let mut f = Fsm::new(params(100, true));
        let acts = f.handle(ms(0), Event::Resume);
        assert_eq!(
            acts,
            vec![Action::Advertise(100), t(State::Init, State::Master)]
        );
        // The backup took over meanwhile with a higher priority: resuming does not fight it.
        let acts = f.handle(ms(100), advert("10.0.0.12", 150));
        assert_eq!(acts, vec![t(State::Master, State::Backup)]);
    }

    #[test]
    fn the_owner_starts_as_master() {
        let mut f = Fsm::new(params(255, false));
        let acts = f.handle(ms(0), Event::Startup);
        assert_eq!(
            acts,
            vec![Action::Advertise(255), t(State::Init, State::Master)]
        );
        // Nothing makes it yield.
        let acts = f.handle(ms(10), advert("10.0.0.99", 255));
        assert_eq!(acts, vec![Action::Advertise(255)]);
        assert_eq!(f.state(), State::Master);
    }

    #[test]
    fn a_master_yields_to_higher_priority_and_to_a_higher_address_on_a_tie() {
        let mut f = Fsm::new(params(255 - 155, true));
        f.handle(ms(0), Event::Startup);
        f.handle(ms(4000), Event::Tick);
        assert_eq!(f.state(), State::Master);
        assert_eq!(
            f.handle(ms(4100), advert("10.0.0.5", 100)),
            vec![Action::Advertise(100), Action::Reannounce],
            "a lower address loses the tie"
        );
        assert_eq!(
            f.handle(ms(4200), advert("10.0.0.12", 100)),
            vec![t(State::Master, State::Backup)]
        );
        assert_eq!(f.state(), State::Backup);
    }

    #[test]
    fn a_resigning_master_is_replaced_after_the_skew_time() {
        let mut f = Fsm::new(params(100, true));
        f.handle(ms(0), Event::Startup);
        f.handle(ms(500), advert("10.0.0.12", 150));
        f.handle(ms(1000), advert("10.0.0.12", 0));
        assert_eq!(f.deadline(), Some(ms(1000) + f.skew()));
        let acts = f.handle(ms(1000) + f.skew(), Event::Tick);
        assert_eq!(
            acts,
            vec![Action::Advertise(100), t(State::Backup, State::Master)]
        );
    }

    #[test]
    fn a_master_hearing_a_lower_master_answers_and_announces_again() {
        // keepalived's vrrp_state_master_rx: the advert at once, then the addresses announced
        // again (garp_lower_prio_repeat); a priority 0 gets the advert only.
        let mut f = Fsm::new(params(150, true));
        f.handle(ms(0), Event::Startup);
        f.handle(ms(4000), Event::Tick);
        assert_eq!(f.state(), State::Master);
        assert_eq!(
            f.handle(ms(4100), advert("10.0.0.12", 100)),
            vec![Action::Advertise(150), Action::Reannounce]
        );
        assert_eq!(f.deadline(), Some(ms(4100) + f.p.advert_interval));
        assert_eq!(
            f.handle(ms(4200), advert("10.0.0.12", 0)),
            vec![Action::Advertise(150)]
        );
        assert_eq!(f.state(), State::Master);
    }

    #[test]
    fn lower_prio_no_advert_and_higher_prio_send_advert() {
        // keepalived's vrrp_state_master_rx: lower_prio_no_advert leaves the answer to the
        // advert timer, and the addresses are still announced again; higher_prio_send_advert
        // sends one advert of the yielding master's own priority before it becomes backup.
        let mut f = Fsm::new(Params {
            lower_prio_advert: false,
            higher_prio_send_advert: true,
            ..params(150, true)
        });
        f.handle(ms(0), Event::Startup);
        f.handle(ms(4000), Event::Tick);
        assert_eq!(f.state(), State::Master);
        let due = f.deadline();
        assert_eq!(
            f.handle(ms(4100), advert("10.0.0.12", 100)),
            vec![Action::Reannounce]
        );
        assert_eq!(f.deadline(), due, "the advert timer runs on");
        assert_eq!(
            f.handle(ms(4200), advert("10.0.0.12", 200)),
            vec![Action::Advertise(150), t(State::Master, State::Backup)]
        );
    }

    #[test]
    fn preempt_and_no_preempt() {
        // A higher-priority backup with preemption ignores a lower master: its timer runs out.
        let mut f = Fsm::new(params(200, true));
        let acts = replay(
            &mut f,
            vec![
                (0, Event::Startup),
                (1000, advert("10.0.0.12", 100)),
                (2000, advert("10.0.0.12", 100)),
                (3000, advert("10.0.0.12", 100)),
                (4000, Event::Tick),
            ],
        );
        let down = f.master_down_interval().as_millis() as u64; // 3218: counted from the start
        assert!(
            acts.contains(&(down, t(State::Backup, State::Master))),
            "{acts:?}"
        );
        // Without preemption it stays backup as long as the master advertises.
        let mut f = Fsm::new(params(200, false));
        let mut evs = vec![(0, Event::Startup)];
        for s in 1..10 {
            evs.push((s * 1000, advert("10.0.0.12", 100)));
        }
        replay(&mut f, evs);
        assert_eq!(f.state(), State::Backup);
    }

    #[test]
    fn preempt_delay_holds_preemption_after_start() {
        let mut f = Fsm::new(Params {
            preempt_delay: ms(5000),
            ..params(200, true)
        });
        let mut evs = vec![(0, Event::Startup)];
        for s in 1..10 {
            evs.push((s * 1000, advert("10.0.0.12", 100)));
        }
        let acts = replay(&mut f, evs);
        let took = acts
            .iter()
            .find(|(_, a)| *a == t(State::Backup, State::Master))
            .map(|(at, _)| *at);
        // Adverts reset the timer until 5 s; after that they are ignored and it expires.
        let down = f.master_down_interval().as_millis() as u64;
        assert_eq!(took, Some(4000 + down), "{acts:?}");
    }

    #[test]
    fn a_v3_backup_adopts_the_masters_interval() {
        let mut f = Fsm::new(params(100, true));
        f.handle(ms(0), Event::Startup);
        f.handle(
            ms(100),
            Event::Advert {
                src: "10.0.0.12".parse().unwrap(),
                priority: 150,
                interval: ms(100),
            },
        );
        assert_eq!(f.master_adver_interval(), ms(100));
        assert_eq!(f.deadline(), Some(ms(100) + ms(300) + ms(100) * 156 / 256));
    }

    #[test]
    fn fault_resigns_and_recovery_starts_as_backup() {
        let mut f = Fsm::new(params(100, true));
        f.handle(ms(0), Event::Startup);
        f.handle(ms(4000), Event::Tick);
        assert_eq!(
            f.handle(ms(4500), Event::Fault(true)),
            vec![Action::Advertise(0), t(State::Master, State::Fault)]
        );
        assert_eq!(f.deadline(), None);
        assert_eq!(
            f.handle(ms(5000), Event::Fault(false)),
            vec![t(State::Fault, State::Backup)]
        );
        // A fault known before start keeps it in Fault.
        let mut g = Fsm::new(params(100, true));
        g.handle(ms(0), Event::Fault(true));
        assert_eq!(
            g.handle(ms(1), Event::Startup),
            vec![t(State::Init, State::Fault)]
        );
    }

    #[test]
    fn the_group_does_not_force_a_member_past_a_live_master() {
        let mut f = Fsm::new(params(100, true));
        f.handle(ms(0), Event::Startup);
        f.handle(ms(100), advert("10.0.0.12", 150));
        assert_eq!(
            f.handle(ms(200), Event::GroupMaster),
            vec![],
            "the master was heard 100 ms ago"
        );
        // Silent for longer than the down interval: the group's word counts.
        let later = ms(100) + f.master_down_interval();
        f.handle(later - ms(1), advert("10.0.0.12", 150));
        let acts = f.handle(later + f.master_down_interval(), Event::GroupMaster);
        assert!(acts.contains(&t(State::Backup, State::Master)), "{acts:?}");
    }

    #[test]
    fn sync_group_events() {
        let mut f = Fsm::new(params(100, true));
        f.handle(ms(0), Event::Startup);
        assert_eq!(
            f.handle(ms(10), Event::GroupMaster),
            vec![Action::Advertise(100), t(State::Backup, State::Master)]
        );
        assert_eq!(
            f.handle(ms(20), Event::GroupMaster),
            vec![],
            "already master"
        );
        assert_eq!(
            f.handle(ms(30), Event::GroupBackup),
            vec![Action::Advertise(0), t(State::Master, State::Backup)]
        );
        assert_eq!(
            f.handle(ms(40), Event::GroupBackup),
            vec![],
            "already backup"
        );
    }

    #[test]
    fn a_clean_stop_advertises_priority_zero() {
        let mut f = Fsm::new(params(100, true));
        f.handle(ms(0), Event::Startup);
        f.handle(ms(4000), Event::Tick);
        assert_eq!(
            f.handle(ms(4100), Event::Shutdown),
            vec![Action::Advertise(0), t(State::Master, State::Init)]
        );
    }

    #[test]
    fn a_master_whose_priority_drops_advertises_at_once() {
        let mut f = Fsm::new(params(150, true));
        f.handle(ms(0), Event::Startup);
        f.handle(ms(4000), Event::Tick);
        assert_eq!(
            f.handle(ms(4100), Event::Priority(90)),
            vec![Action::Advertise(90)]
        );
        // A backup of 100 now preempts it through the normal rules.
        assert_eq!(
            f.handle(ms(4200), advert("10.0.0.12", 100)),
            vec![t(State::Master, State::Backup)]
        );
    }
}
