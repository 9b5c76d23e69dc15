//! Which VIPs this director offers to the routers, and why not the others. Pure: the
//! configuration, the services' state and the time go in; for each `[[announce]]`, whether
//! its route should be in haldir's table, the reason when not, and when to look again.
//!
//! The rules, in order:
//! - a drained director announces nothing (its flows drain while the routers move away);
//! - nothing before the first round of checks has ended, and `startup_delay` after it, so a
//!   director that (re)joins takes traffic only for servers it has seen answer;
//! - `when = "all"`: every named service above its quorum; `"any"`: at least one;
//! - once withdrawn for its services, a prefix waits `hold_down` before it is announced again,
//!   so that a flapping service does not flap the routes.

use std::collections::HashMap;
use std::time::Instant;

use ipnet::IpNet;

use crate::config::model::{Announce, Routing};
use crate::config::types::AnnounceWhen;

/// Why a prefix is not announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Withheld {
    /// The director is drained.
    Drained,
    /// The first round of checks has not ended.
    ChecksPending,
    /// The startup delay runs until then.
    StartupDelay(Instant),
    /// Its services are not above their quorum (`all`: one is not; `any`: none is).
    Quorum,
    /// Withdrawn for its services; it may come back at that time.
    HoldDown(Instant),
}

impl Withheld {
    /// A short fixed name (a metrics label, a status word).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Withheld::Drained => "drained",
            Withheld::ChecksPending => "checks pending",
            Withheld::StartupDelay(_) => "startup delay",
            Withheld::Quorum => "quorum",
            Withheld::HoldDown(_) => "hold-down",
        }
    }

    /// When the reason ends by itself, if it does.
    fn until(self) -> Option<Instant> {
        match self {
            Withheld::StartupDelay(t) | Withheld::HoldDown(t) => Some(t),
            _ => None,
        }
    }
}

/// The verdict for one prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub prefix: IpNet,
    pub metric: u32,
    /// `Ok(())`: announce it; `Err(why)`: keep it out of the table.
    pub announce: Result<(), Withheld>,
}

/// What the daemon knows at a moment.
pub(crate) struct Facts<'a> {
    pub now: Instant,
    pub drained: bool,
    /// When the first round of checks ended (every check has a verdict); `None`: not yet.
    pub checks_done: Option<Instant>,
    /// Whether a virtual server is above its quorum.
    pub up: &'a dyn Fn(&str) -> bool,
}

/// The announcements' memory: which prefixes are announced, and since when each was
/// withdrawn for its services.
#[derive(Debug, Default)]
pub(crate) struct Announcer {
    announced: HashMap<IpNet, bool>,
    withdrawn: HashMap<IpNet, Instant>,
}

impl Announcer {
    /// The verdicts for `announces` now, and the earliest time a verdict may change by the
    /// clock alone (the end of a startup delay or hold-down).
    pub(crate) fn decide(
        &mut self,
        routing: &Routing,
        announces: &[Announce],
        facts: &Facts,
    ) -> (Vec<Verdict>, Option<Instant>) {
        let mut verdicts = Vec::with_capacity(announces.len());
        for a in announces {
            let announce = self.one(routing, a, facts);
            self.announced.insert(a.prefix, announce.is_ok());
            verdicts.push(Verdict {
                prefix: a.prefix,
                metric: a.metric,
                announce,
            });
        }
        // Forget prefixes that are no longer configured.
        self.announced
            .retain(|p, _| announces.iter().any(|a| a.prefix == *p));
        self.withdrawn
            .retain(|p, _| announces.iter().any(|a| a.prefix == *p));
        let next = verdicts
            .iter()
            .filter_map(|v| v.announce.err().and_then(Withheld::until))
            .min();
        (verdicts, next)
    }

    /// Takes over prefixes found announced at start (haldir restarted after a crash, or
    /// with `on_stop = "keep"`): they count as announced by this director.
    pub(crate) fn adopt(&mut self, prefixes: impl IntoIterator<Item = IpNet>) {
        for p in prefixes {
            self.announced.insert(p, true);
        }
    }

    fn one(&mut self, routing: &Routing, a: &Announce, facts: &Facts) -> Result<(), Withheld> {
        if facts.drained {
            return Err(Withheld::Drained);
        }
        let was = self.announced.get(&a.prefix).copied().unwrap_or(false);
        // A route adopted at start stays until the checks can say otherwise: the routers
        // have been sending its flows here all along, and the kernel serving them.
        let Some(done) = facts.checks_done else {
            return if was {
                Ok(())
            } else {
                Err(Withheld::ChecksPending)
            };
        };
        // The startup delay holds back a first announcement, not one already in place.
        let ready = done + routing.startup_delay;
        if facts.now < ready && !was {
            return Err(Withheld::StartupDelay(ready));
        }
        let mut states = a.virtual_servers.iter().map(|vs| (facts.up)(vs));
        let up = match a.when {
            AnnounceWhen::All => states.all(|u| u),
            AnnounceWhen::Any => states.any(|u| u),
        };
        if !up {
            if was {
                self.withdrawn.insert(a.prefix, facts.now);
            }
            return Err(Withheld::Quorum);
        }
        if let Some(at) = self.withdrawn.get(&a.prefix) {
            let back = *at + a.hold_down;
            if facts.now < back {
                return Err(Withheld::HoldDown(back));
            }
            self.withdrawn.remove(&a.prefix);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn announce(prefix: &str, services: &[&str], when: AnnounceWhen) -> Announce {
        Announce {
            prefix: prefix.parse().unwrap(),
            virtual_servers: services.iter().map(|s| s.to_string()).collect(),
            when,
            hold_down: Duration::from_secs(10),
            metric: 0,
        }
    }

    /// Replays (seconds after start, services up) and returns each verdict's reason word.
    fn replay(a: &Announce, steps: &[(u64, &[&str], bool)]) -> Vec<&'static str> {
        let t0 = Instant::now();
        let routing = Routing::default(); // startup_delay 3 s
        let mut ann = Announcer::default();
        steps
            .iter()
            .map(|(s, up, checks_done)| {
                let up_fn = |vs: &str| up.contains(&vs);
                let facts = Facts {
                    now: t0 + Duration::from_secs(*s),
                    drained: false,
                    checks_done: checks_done.then_some(t0 + Duration::from_secs(1)),
                    up: &up_fn,
                };
                let (v, _) = ann.decide(&routing, std::slice::from_ref(a), &facts);
                match v[0].announce {
                    Ok(()) => "announced",
                    Err(w) => w.as_str(),
                }
            })
            .collect()
    }

    #[test]
    fn nothing_before_the_checks_and_the_startup_delay() {
        let a = announce("192.0.2.10/32", &["web"], AnnounceWhen::All);
        // Checks end at 1 s; the delay of 3 s ends at 4 s.
        let got = replay(
            &a,
            &[
                (0, &["web"], false),
                (2, &["web"], true),
                (4, &["web"], true),
            ],
        );
        assert_eq!(got, ["checks pending", "startup delay", "announced"]);
    }

    #[test]
    fn a_withdrawn_prefix_waits_its_hold_down() {
        let a = announce("192.0.2.10/32", &["web"], AnnounceWhen::All);
        let got = replay(
            &a,
            &[
                (5, &["web"], true),
                (6, &[], true),       // withdrawn at 6 s
                (7, &["web"], true),  // back up, but held down until 16 s
                (15, &["web"], true), // still held
                (16, &["web"], true), // announced again
                (17, &["web"], true),
            ],
        );
        assert_eq!(
            got,
            [
                "announced",
                "quorum",
                "hold-down",
                "hold-down",
                "announced",
                "announced"
            ]
        );
    }

    #[test]
    fn a_prefix_never_announced_is_not_held_down() {
        let a = announce("192.0.2.10/32", &["web"], AnnounceWhen::All);
        let got = replay(&a, &[(5, &[], true), (6, &["web"], true)]);
        assert_eq!(got, ["quorum", "announced"]);
    }

    #[test]
    fn all_needs_every_service_and_any_one() {
        let all = announce("192.0.2.10/32", &["web", "tls"], AnnounceWhen::All);
        let any = announce("192.0.2.10/32", &["web", "tls"], AnnounceWhen::Any);
        assert_eq!(replay(&all, &[(5, &["web"], true)]), ["quorum"]);
        assert_eq!(replay(&any, &[(5, &["web"], true)]), ["announced"]);
        assert_eq!(replay(&any, &[(5, &[], true)]), ["quorum"]);
    }

    #[test]
    fn an_adopted_route_stays_through_the_first_checks_and_goes_on_their_verdict() {
        let t0 = Instant::now();
        let a = announce("192.0.2.10/32", &["web"], AnnounceWhen::All);
        let routing = Routing::default();
        fn web_up(_: &str) -> bool {
            true
        }
        fn web_down(_: &str) -> bool {
            false
        }
        let facts = |now: u64, done: bool, up: &'static dyn Fn(&str) -> bool| Facts {
            now: t0 + Duration::from_secs(now),
            drained: false,
            checks_done: done.then_some(t0 + Duration::from_secs(1)),
            up,
        };
        let decide = |ann: &mut Announcer, f: &Facts| {
            ann.decide(&routing, std::slice::from_ref(&a), f).0[0].announce
        };
        let mut ann = Announcer::default();
        ann.adopt(["192.0.2.10/32".parse().unwrap()]);
        // Kept while the checks run and through the startup delay (which ends at 4 s).
        assert_eq!(decide(&mut ann, &facts(0, false, &web_up)), Ok(()));
        assert_eq!(decide(&mut ann, &facts(2, true, &web_up)), Ok(()));
        // Withdrawn when the checks find the service down.
        assert_eq!(
            decide(&mut ann, &facts(3, true, &web_down)),
            Err(Withheld::Quorum)
        );
        // Without adoption, the same start withholds it.
        let mut fresh = Announcer::default();
        assert_eq!(
            decide(&mut fresh, &facts(0, false, &web_up)),
            Err(Withheld::ChecksPending)
        );
    }

    #[test]
    fn a_drained_director_announces_nothing_and_the_clock_says_when_to_look_again() {
        let t0 = Instant::now();
        let a = announce("192.0.2.10/32", &["web"], AnnounceWhen::All);
        let routing = Routing::default();
        let up = |_: &str| true;
        let mut ann = Announcer::default();
        let facts = |now: u64, drained: bool| Facts {
            now: t0 + Duration::from_secs(now),
            drained,
            checks_done: Some(t0),
            up: &up,
        };
        let (v, next) = ann.decide(&routing, std::slice::from_ref(&a), &facts(1, false));
        assert_eq!(
            v[0].announce,
            Err(Withheld::StartupDelay(t0 + Duration::from_secs(3)))
        );
        assert_eq!(next, Some(t0 + Duration::from_secs(3)));
        let (v, next) = ann.decide(&routing, std::slice::from_ref(&a), &facts(3, true));
        assert_eq!(v[0].announce, Err(Withheld::Drained));
        assert_eq!(next, None);
    }
}
