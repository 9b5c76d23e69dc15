//! When a master's gratuitous announcements (ARP for IPv4, unsolicited NA for IPv6) go out,
//! as keepalived schedules them: a burst of `repeat` on becoming master, a second burst
//! `delay` later (garp_master_delay), then `refresh_repeat` every `refresh`
//! (garp_master_refresh); within a burst, one announcement every `interval` (garp_interval,
//! gna_interval) where one is set, else all at once. A master that hears a lower-priority one
//! announces again: `lower_prio_repeat`, and as many `lower_prio_delay` later
//! (garp_lower_prio_repeat, garp_lower_prio_delay). Pure: time is given, the instance sends.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::model::Garp;

/// The bursts of one instance.
#[derive(Debug, Clone)]
pub(crate) struct Bursts {
    garp: Garp,
    /// The size of the second burst, when the next one is that (else it is a refresh).
    second: Option<u32>,
    at: Option<Instant>,
    /// The delayed bursts of the lower-priority adverts heard, in the order due: keepalived
    /// arms a timer for each, apart from the master's own schedule.
    lower: VecDeque<(Instant, u32)>,
}

impl Bursts {
    pub(crate) fn new(garp: Garp) -> Self {
        Bursts {
            garp,
            second: None,
            at: None,
            lower: VecDeque::new(),
        }
    }

    /// Became master at `now`: the size of the burst to send now.
    pub(crate) fn on_master(&mut self, now: Instant) -> u32 {
        let delay = self.garp.delay;
        self.second = (!delay.is_zero()).then_some(self.garp.repeat);
        self.at = match self.second {
            Some(_) => Some(now + delay),
            None => self.refresh(now),
        };
        self.garp.repeat
    }

    /// Heard a lower-priority master at `now`: the size of the burst to send now (0: none).
    /// keepalived schedules a delayed burst for every such advert (vrrp.c,
    /// vrrp_state_master_rx), each on its own timer.
    pub(crate) fn on_lower(&mut self, now: Instant) -> u32 {
        let count = self.garp.lower_prio_repeat;
        if count > 0 && !self.garp.lower_prio_delay.is_zero() {
            self.lower
                .push_back((now + self.garp.lower_prio_delay, count));
        }
        count
    }

    /// Left master: nothing more is due.
    pub(crate) fn on_leave(&mut self) {
        self.second = None;
        self.at = None;
        self.lower.clear();
    }

    /// When the next burst is due.
    pub(crate) fn at(&self) -> Option<Instant> {
        let lower = self.lower.front().map(|(at, _)| *at);
        self.at.into_iter().chain(lower).min()
    }

    /// The bursts due at `now`: their size together.
    pub(crate) fn fire(&mut self, now: Instant) -> u32 {
        let mut count = 0;
        while let Some(&(at, n)) = self.lower.front()
            && at <= now
        {
            count += n;
            self.lower.pop_front();
        }
        if self.at.is_some_and(|at| at <= now) {
            count += self.second.take().unwrap_or(self.garp.refresh_repeat);
            self.at = self.refresh(now);
        }
        count
    }

    fn refresh(&self, now: Instant) -> Option<Instant> {
        (!self.garp.refresh.is_zero()).then(|| now + self.garp.refresh)
    }
}

/// Announcements spaced by an interval: which address goes next, and when.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pacer {
    /// Indexes of the addresses waiting for their turn.
    pending: VecDeque<usize>,
    /// The spacing of IPv4 and of IPv6 announcements (zero: all at once).
    intervals: (Duration, Duration),
}

impl Pacer {
    pub(crate) fn new(ipv4: Duration, ipv6: Duration) -> Self {
        Pacer {
            pending: VecDeque::new(),
            intervals: (ipv4, ipv6),
        }
    }

    fn interval(&self, v6: bool) -> Duration {
        if v6 {
            self.intervals.1
        } else {
            self.intervals.0
        }
    }

    /// A burst of `count` for each address (`v6[i]`: whether address `i` is IPv6): what to
    /// send at once (index, count), and when the first queued one is due.
    pub(crate) fn burst(
        &mut self,
        v6: &[bool],
        count: u32,
        now: Instant,
    ) -> (Vec<(usize, u32)>, Option<Instant>) {
        let mut at_once = Vec::new();
        for (i, six) in v6.iter().enumerate() {
            if self.interval(*six).is_zero() {
                at_once.push((i, count));
            } else {
                self.pending.extend(std::iter::repeat_n(i, count as usize));
            }
        }
        (at_once, (!self.pending.is_empty()).then_some(now))
    }

    /// The queued announcement due at `now`, and when the one after it is due.
    pub(crate) fn next(&mut self, v6: &[bool], now: Instant) -> Option<(usize, Option<Instant>)> {
        let i = self.pending.pop_front()?;
        let after = self
            .pending
            .front()
            .map(|n| now + self.interval(v6.get(*n).copied().unwrap_or(false)));
        Some((i, after))
    }

    /// Drops what is queued (the instance left master).
    pub(crate) fn cancel(&mut self) {
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn keepalived_defaults_two_bursts_of_five_five_seconds_apart() {
        let t0 = Instant::now();
        let mut b = Bursts::new(Garp::default());
        assert_eq!(b.on_master(t0), 5);
        assert_eq!(b.at(), Some(t0 + ms(5000)));
        assert_eq!(b.fire(t0 + ms(5000)), 5);
        assert_eq!(b.at(), None, "no refresh by default");
    }

    #[test]
    fn refreshes_follow_the_second_burst_and_stop_on_leaving_master() {
        let garp = Garp {
            delay: ms(1000),
            repeat: 3,
            refresh: ms(60_000),
            refresh_repeat: 2,
            ..Garp::default()
        };
        let t0 = Instant::now();
        let mut b = Bursts::new(garp.clone());
        assert_eq!(b.on_master(t0), 3);
        let t1 = t0 + ms(1000);
        assert_eq!(b.at(), Some(t1));
        assert_eq!(b.fire(t1), 3, "the second burst is a full one");
        assert_eq!(b.at(), Some(t1 + ms(60_000)));
        assert_eq!(b.fire(t1 + ms(60_000)), 2, "a refresh is refresh_repeat");
        b.on_leave();
        assert_eq!(b.at(), None);
        // Without a delay there is no second burst: refreshes only.
        let mut b = Bursts::new(Garp {
            delay: Duration::ZERO,
            ..garp
        });
        assert_eq!(b.on_master(t0), 3);
        assert_eq!(b.at(), Some(t0 + ms(60_000)));
    }

    #[test]
    fn a_lower_priority_master_heard_brings_the_lower_prio_bursts() {
        let garp = Garp {
            lower_prio_repeat: 2,
            lower_prio_delay: ms(3000),
            refresh: ms(60_000),
            ..Garp::default()
        };
        let t0 = Instant::now();
        let mut b = Bursts::new(garp.clone());
        assert_eq!(b.on_master(t0), 5);
        let t1 = t0 + ms(1000);
        assert_eq!(
            b.on_lower(t1),
            2,
            "garp_lower_prio_repeat, not the master's"
        );
        let t2 = t1 + ms(1000);
        assert_eq!(b.on_lower(t2), 2, "a second lower advert, a second burst");
        assert_eq!(b.at(), Some(t1 + ms(3000)), "the first advert's delay");
        assert_eq!(b.fire(t1 + ms(3000)), 2, "the first advert's delayed burst");
        assert_eq!(b.at(), Some(t0 + ms(5000)), "the master's own second burst");
        assert_eq!(
            b.fire(t0 + ms(5000)),
            7,
            "it, and the second advert's, due together"
        );
        assert_eq!(
            b.at(),
            Some(t0 + ms(65_000)),
            "the refreshes keep their schedule"
        );
        // A repeat of 0 sends nothing and leaves what was due alone.
        let mut b = Bursts::new(Garp {
            lower_prio_repeat: 0,
            ..garp
        });
        b.on_master(t0);
        assert_eq!(b.on_lower(t1), 0);
        assert_eq!(b.at(), Some(t0 + ms(5000)));
    }

    #[test]
    fn an_interval_spaces_the_announcements_of_its_family_only() {
        let t0 = Instant::now();
        let v6 = [false, true];
        let mut p = Pacer::new(ms(100), Duration::ZERO);
        let (now, first) = p.burst(&v6, 2, t0);
        assert_eq!(now, vec![(1, 2)], "IPv6 has no interval: at once");
        assert_eq!(first, Some(t0));
        assert_eq!(p.next(&v6, t0), Some((0, Some(t0 + ms(100)))));
        assert_eq!(p.next(&v6, t0 + ms(100)), Some((0, None)));
        assert_eq!(p.next(&v6, t0 + ms(200)), None);
        p.burst(&v6, 3, t0);
        p.cancel();
        assert_eq!(p.next(&v6, t0), None, "leaving master drops the queue");
    }
}
