//! An instance's decisions: the state machine fed by packets, deadlines and the daemon's
//! commands, and what it decides carried out through [`Effects`] — adverts, addresses,
//! announcements, reports and notify commands — with its status published. Generic over the
//! effects so that a replay can drive it whole (see `replay.rs`).

use std::net::IpAddr;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{info, warn};

use super::effects::Effects;
use super::{Command, Report, Status, Transition};
use crate::config::model::VrrpInstance;
use crate::email::VrrpState;
use crate::netlink::rtnl::Want;
use crate::notify::Scope;
use crate::vrrp::admit::{self, Verdict};
use crate::vrrp::command::TrackedKind;
use crate::vrrp::fsm::{Action, Event, Fsm, Params, State};
use crate::vrrp::garp::Bursts;
use crate::vrrp::packet::{self, Advert, DropReason, V3Checksum};
use crate::vrrp::socket;
use crate::vrrp::thread::Driven;
use crate::vrrp::tracking::Tracking;

/// The most packets read from the socket at one turn (see `Runtime::receive`): a segment's
/// adverts at their fastest come a few at a time; more is a flood.
const RECV_BATCH: usize = 64;

/// Each destination of an advert with its message.
type Encoded = Vec<(IpAddr, Vec<u8>)>;

pub(super) struct Runtime<E> {
    cfg: VrrpInstance,
    fsm: Fsm,
    checksum: V3Checksum,
    password: Option<[u8; 8]>,
    primary: IpAddr,
    /// The addresses the adverts carry (the excluded ones are held, not advertised).
    vips: Vec<IpAddr>,
    /// The last adverts encoded: their priority, and each destination's message.
    encoded: Option<(u8, Encoded)>,
    pub(super) io: E,
    status: Status,
    status_tx: watch::Sender<Status>,
    /// Adverts dropped, every reason together: what tells the shown drop counts stale.
    drops: u64,
    /// What waiters of the status were last woken for: state, priority, master, drops.
    published: Option<(State, u8, Option<IpAddr>, u64)>,
    origin: Instant,
    /// The gratuitous announcement bursts while master (the delayed second one, then
    /// refreshes).
    bursts: Bursts,
    /// The next announcement of a burst that an interval spaces out.
    pace_at: Option<Instant>,
    /// The state machine's actions for one event, the buffer kept between events.
    actions: Vec<Action>,
    tracking: Tracking,
    group_fault: bool,
    /// Set while carrying out a sync-group command.
    by_group: bool,
    /// The receive buffer and the packets of one readiness, kept between them.
    buf: Vec<u8>,
    packets: Vec<socket::Packet>,
    /// After a receive error, or a full batch, the socket is read again at this time.
    recv_paused: Option<Instant>,
}

impl<E: Effects> Runtime<E> {
    /// An instance of `cfg` advertising from `primary`, its tracked objects starting as
    /// `tracking` has them; the receiver shows its status.
    pub(super) fn new(
        cfg: VrrpInstance,
        primary: IpAddr,
        tracking: Tracking,
        io: E,
    ) -> (Self, watch::Receiver<Status>) {
        let status = Status {
            name: cfg.name.clone(),
            state: State::Init,
            priority: cfg.priority,
            master: None,
            adverts_sent: 0,
            adverts_received: 0,
            dropped: Default::default(),
        };
        let (status_tx, status_rx) = watch::channel(status.clone());
        let rt = Runtime {
            fsm: Fsm::new(Params {
                version: cfg.version,
                priority: cfg.priority,
                advert_interval: cfg.advert_interval,
                preempt: cfg.preempt,
                preempt_delay: cfg.preempt_delay,
                primary,
                lower_prio_advert: !cfg.lower_prio_no_advert,
                higher_prio_send_advert: cfg.higher_prio_send_advert,
            }),
            checksum: match cfg.v3_ipv4_checksum {
                Some(crate::config::types::V3Checksum::Rfc9568) => V3Checksum::MessageOnly,
                _ => V3Checksum::PseudoHeader,
            },
            password: cfg
                .authentication
                .as_ref()
                .map(|a| packet::password_bytes(&a.password)),
            vips: cfg.virtual_ipaddress.iter().map(|n| n.addr()).collect(),
            bursts: Bursts::new(cfg.garp.clone()),
            cfg,
            primary,
            encoded: None,
            io,
            status,
            status_tx,
            drops: 0,
            published: None,
            origin: Instant::now(),
            pace_at: None,
            actions: Vec::new(),
            tracking,
            group_fault: false,
            by_group: false,
            buf: vec![0u8; 2048],
            packets: Vec::new(),
            recv_paused: None,
        };
        (rt, status_rx)
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn drop(&mut self, why: DropReason) {
        self.drops += 1;
        *self.status.dropped.entry(why.as_str()).or_insert(0) += 1;
        tracing::debug!(target: super::LOG_TARGET, instance = %self.cfg.name, reason = %why, "advert dropped");
    }

    fn advert(&self, priority: u8) -> Advert {
        let interval = match self.cfg.version {
            2 => self.cfg.advert_interval.as_secs() as u16,
            _ => (self.cfg.advert_interval.as_millis() / 10) as u16,
        };
        Advert {
            version: self.cfg.version,
            vrid: self.cfg.virtual_router_id,
            priority,
            interval,
            password: self.password,
            addrs: self.vips.clone(),
        }
    }

    /// Sends the advert of `priority` to the group or each unicast peer. The messages are
    /// encoded once per priority and kept (as keepalived keeps its send buffer): everything in
    /// them but the priority is fixed for the instance's life, and an advert sent every 100 ms
    /// should not encode, checksum and allocate the same bytes each time.
    fn send_advert(&mut self, priority: u8) {
        if self.encoded.as_ref().is_none_or(|(p, _)| *p != priority) {
            let adv = self.advert(priority);
            let group = [match self.primary {
                IpAddr::V4(_) => IpAddr::V4(socket::GROUP_V4),
                IpAddr::V6(_) => IpAddr::V6(socket::GROUP_V6),
            }];
            let dsts = match self.cfg.unicast_peers.is_empty() {
                true => &group[..],
                false => &self.cfg.unicast_peers[..],
            };
            // The checksum of v3 covers the destination: one message per peer.
            let messages = dsts
                .iter()
                .map(|&dst| (dst, adv.encode(self.primary, dst, self.checksum)))
                .collect();
            self.encoded = Some((priority, messages));
        }
        let Some((_, messages)) = &self.encoded else {
            return;
        };
        let mut sent = 0;
        for (dst, bytes) in messages {
            match self.io.send(bytes, *dst) {
                Ok(()) => sent += 1,
                Err(e) => {
                    warn!(target: super::LOG_TARGET, instance = %self.cfg.name, %dst, error = %e, "advert not sent")
                }
            }
        }
        self.status.adverts_sent += sent;
    }

    /// Checks a received packet and turns it into an event for the state machine.
    fn accept(&mut self, r: &socket::Packet) -> Option<Event> {
        let expect = admit::Expect {
            own: self.primary,
            vrid: self.cfg.virtual_router_id,
            version: self.cfg.version,
            advert_interval: self.cfg.advert_interval,
            password: self.password,
            unicast_peers: &self.cfg.unicast_peers,
            checksum: self.checksum,
        };
        match admit::admit(r, &expect) {
            Verdict::Own => None,
            Verdict::Dropped(why) => {
                self.drop(why);
                None
            }
            Verdict::Advert {
                src,
                priority,
                interval,
            } => {
                self.status.adverts_received += 1;
                if self.fsm.state() != State::Master {
                    self.status.master = Some(src);
                }
                Some(Event::Advert {
                    src,
                    priority,
                    interval,
                })
            }
        }
    }

    fn garp_burst(&mut self, count: u32) {
        if let Some(at) = self.io.announce(count) {
            self.pace_at = Some(at);
        }
    }

    fn set_addresses(&mut self, want: Want) {
        self.io.set_addresses(want);
    }

    fn notify(&mut self, state: State) {
        let reported = match state {
            State::Master => VrrpState::Master,
            State::Backup => VrrpState::Backup,
            State::Fault => VrrpState::Fault,
            State::Init => VrrpState::Stop,
        };
        let commands = crate::notify::commands(
            &self.cfg.notify,
            Scope::Instance,
            &self.cfg.name,
            reported,
            self.fsm.priority(),
        );
        // In order, one after the other, without holding up the protocol.
        self.io.notify(commands);
    }

    /// Runs the state machine on `event` and carries out its actions, collected in the
    /// kept buffer: an advert's tick allocates nothing.
    fn step(&mut self, now: Duration, event: Event) {
        let mut acts = std::mem::take(&mut self.actions);
        self.fsm.handle_into(now, event, &mut acts);
        self.act(acts.drain(..));
        self.actions = acts;
    }

    fn act(&mut self, actions: impl IntoIterator<Item = Action>) {
        for a in actions {
            match a {
                Action::Advertise(p) => self.send_advert(p),
                Action::Reannounce => {
                    info!(target: super::LOG_TARGET, instance = %self.cfg.name, "a lower priority master was heard: announcing the addresses again");
                    let count = self.bursts.on_lower(Instant::now());
                    if count > 0 {
                        self.garp_burst(count);
                    }
                    // keepalived's send_event_notify (vrrp_notify.c): the command as written,
                    // no arguments added, and the FIFO's line.
                    if let Some(cmd) = &self.cfg.notify.master_rx_lower_pri {
                        self.io.notify_beside(cmd.clone());
                    }
                    self.io.report(Report::LowerPriorityHeard {
                        name: self.cfg.name.clone(),
                        priority: self.fsm.priority(),
                    });
                }
                Action::Transition { from, to } => {
                    info!(target: super::LOG_TARGET, instance = %self.cfg.name, from = from.as_str(), to = to.as_str(), priority = self.fsm.priority(), "VRRP state");
                    if to == State::Master {
                        self.set_addresses(Want::Present);
                        let count = self.bursts.on_master(Instant::now());
                        self.garp_burst(count);
                        self.status.master = Some(self.primary);
                    } else if from == State::Master || from == State::Init {
                        // From Init too: a backup must not keep addresses a crash left.
                        self.set_addresses(Want::Absent);
                        self.bursts.on_leave();
                        self.io.stop_announcing();
                        self.pace_at = None;
                        if to != State::Backup {
                            self.status.master = None;
                        }
                    }
                    self.notify(to);
                    self.io.report(Report::State(Transition {
                        name: self.cfg.name.clone(),
                        from,
                        to,
                        own_fault: self.tracking.evaluate(self.cfg.priority).0,
                        by_group: self.by_group,
                        priority: self.fsm.priority(),
                    }));
                }
            }
        }
        self.status.state = self.fsm.state();
        self.status.priority = self.fsm.priority();
        self.publish();
    }

    /// Shows the status to the daemon, copied into the one it holds: every advert passes
    /// here, and a fresh clone each time cost allocations for the name and the drop counts.
    /// Waiters are woken only when the state, priority, master or drops change: the advert
    /// counters are read when someone asks (status, metrics), and waking every waiter of the
    /// channel for each advert was a tenth of an advert's instructions. What changed is told
    /// by a copy of what was last shown, not by comparing the drop counts' maps.
    fn publish(&mut self) {
        let s = &self.status;
        let now = Some((s.state, s.priority, s.master, self.drops));
        let changed = now != self.published;
        self.published = now;
        self.status_tx.send_if_modified(|shown| {
            (shown.adverts_sent, shown.adverts_received) = (s.adverts_sent, s.adverts_received);
            if changed {
                (shown.state, shown.priority, shown.master) = (s.state, s.priority, s.master);
                shown.dropped.clone_from(&s.dropped);
            }
            changed
        });
    }

    fn garp_due(&mut self) {
        let count = self.bursts.fire(Instant::now());
        self.garp_burst(count);
    }

    /// Re-evaluates tracking and tells the state machine what changed.
    fn retrack(&mut self) {
        let (own_fault, priority) = self.tracking.evaluate(self.cfg.priority);
        let fault = own_fault || self.group_fault;
        let now = self.now();
        let mut acts = Vec::new();
        if priority != self.fsm.priority() {
            info!(target: super::LOG_TARGET, instance = %self.cfg.name, priority, "priority changed by tracking");
            acts.extend(self.fsm.handle(now, Event::Priority(priority)));
            self.io.report(Report::Priority {
                name: self.cfg.name.clone(),
                state: self.fsm.state(),
                priority,
            });
        }
        let faulted = self.fsm.state() == State::Fault;
        if fault != faulted || self.fsm.state() == State::Init {
            acts.extend(self.fsm.handle(now, Event::Fault(fault)));
        }
        self.act(acts);
    }

    /// What the timer found due: the paced announcement, the state machine's deadline, the
    /// next GARP burst, the end of a pause in receiving (each only when its time has come).
    fn due(&mut self, now: Instant) {
        if self.pace_at.is_some_and(|at| at <= now) {
            self.pace_at = self.io.announce_next();
        }
        if self.deadline().is_some_and(|at| at <= now) {
            self.step(now.saturating_duration_since(self.origin), Event::Tick);
        }
        if self.bursts.at().is_some_and(|at| at <= now) {
            self.garp_due();
        }
        if self.recv_paused.is_some_and(|at| at <= now) {
            self.recv_paused = None;
            self.receive();
        }
    }

    /// The state machine's next deadline.
    fn deadline(&self) -> Option<Instant> {
        self.fsm.deadline().map(|d| self.origin + d)
    }

    /// Sets the timer to the earliest deadline.
    fn arm(&mut self) {
        let next = [
            self.deadline(),
            self.bursts.at(),
            self.pace_at,
            self.recv_paused,
        ]
        .into_iter()
        .flatten()
        .min();
        self.io.arm(next);
    }

    /// Reads the packets queued, a batch at most, and feeds the adverts among them to the
    /// state machine. A full batch leaves the rest to the timer at once: a flood on the
    /// segment (every VRRP packet there reaches every instance's socket) takes turns with the
    /// other instances' events and this one's own deadlines rather than hold the thread, and
    /// what is left is read although no new edge will come for it. After an error, reading
    /// pauses for 100 ms (an error that persists would otherwise be all the thread did); the
    /// timer keeps the adverts going meanwhile.
    fn receive(&mut self) {
        let (mut buf, mut packets) = (
            std::mem::take(&mut self.buf),
            std::mem::take(&mut self.packets),
        );
        let read = self.io.receive(&mut buf, &mut packets, RECV_BATCH);
        for pkt in packets.drain(..) {
            if let Some(ev) = self.accept(&pkt) {
                let now = self.now();
                self.step(now, ev);
            }
        }
        self.publish();
        (self.buf, self.packets) = (buf, packets);
        match read {
            Ok(false) => {}
            Ok(true) => self.recv_paused = Some(Instant::now()),
            Err(e) => {
                warn!(target: super::LOG_TARGET, instance = %self.cfg.name, error = %e, "receive failed");
                self.recv_paused = Some(Instant::now() + Duration::from_millis(100));
            }
        }
    }

    /// Resigns, removes its addresses and VMAC, and hands its stop notification to whoever
    /// waits for it to finish.
    fn shut_down(&mut self) {
        let now = self.now();
        let acts = self.fsm.handle(now, Event::Shutdown);
        self.act(acts);
        self.io.finish();
    }

    fn group_event(&mut self, event: Event) {
        let now = self.now();
        let acts = self.fsm.handle(now, event);
        self.by_group = true;
        self.act(acts);
        self.by_group = false;
    }
}

impl<E: Effects> Driven for Runtime<E> {
    fn descriptors(&self) -> [std::os::fd::RawFd; 2] {
        self.io.descriptors()
    }

    fn start(&mut self) {
        self.retrack();
        let now = self.now();
        // Every VIP still on the interface: this router was master when its daemon died
        // (a clean stop removes them). Resume at once rather than fall silent for a
        // master-down interval, which would hand the VIPs to the backup and back.
        let resume = self.io.all_present();
        if resume {
            info!(target: super::LOG_TARGET, instance = %self.cfg.name, "virtual addresses found on the interface: resuming as master");
        }
        let first = self.fsm.handle(
            now,
            if resume {
                Event::Resume
            } else {
                Event::Startup
            },
        );
        self.act(first);
        // Packets that came before the loop watched the socket: its edge has passed.
        self.receive();
        self.arm();
    }

    fn timer(&mut self) {
        // One reading of the clock a wakeup; a readiness a re-arm overtook is not yet due.
        let now = Instant::now();
        if self.io.expired(now) {
            self.due(now);
        }
        self.arm();
    }

    fn readable(&mut self) {
        if self.recv_paused.is_none() {
            self.receive();
        }
        self.arm();
    }

    fn command(&mut self, cmd: Option<Command>) -> bool {
        match cmd {
            Some(Command::GroupFault(f)) => {
                if self.group_fault != f {
                    self.group_fault = f;
                    self.retrack();
                }
            }
            Some(Command::GroupMaster) => self.group_event(Event::GroupMaster),
            Some(Command::GroupBackup) => self.group_event(Event::GroupBackup),
            Some(Command::Track { kind, name, up }) => {
                let list = match kind {
                    TrackedKind::Script => &mut self.tracking.scripts,
                    TrackedKind::Interface => &mut self.tracking.interfaces,
                };
                if Tracking::set(list, &name, up) {
                    let what = kind.as_str();
                    info!(target: super::LOG_TARGET, instance = %self.cfg.name, tracked = %name, up, "tracked {what} changed");
                    self.retrack();
                }
            }
            Some(Command::TrackFile { name, value }) => {
                if self.tracking.set_file(&name, value) {
                    info!(target: super::LOG_TARGET, instance = %self.cfg.name, tracked = %name, value, "tracked file changed");
                    self.retrack();
                }
            }
            // The stop notification's time is the daemon's to give (Handle::finished); a
            // handle let go gives none.
            Some(Command::Shutdown) | None => {
                self.shut_down();
                return false;
            }
        }
        self.arm();
        true
    }
}
