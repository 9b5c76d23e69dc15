//! Rise and fall: turning a stream of probe results into up/down transitions. Pure: the
//! results and the check's settings go in, transitions and the next delay come out.

use std::time::Duration;

use super::outcome::Outcome;
use crate::health::verdict::Health;

/// What is known of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No verdict yet: consumers keep their starting assumption (up, or down with `alpha`).
    Unknown,
    Up(Option<Adjust>),
    Down,
}

/// How an up verdict changes a server's weight, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjust {
    /// A dynamic misc check's weight.
    Set(u32),
    /// A file check's offset to the configured weight.
    Offset(i32),
}

impl State {
    pub fn health(self) -> Option<Health> {
        match self {
            State::Unknown => None,
            State::Up(None) => Some(Health::Up),
            State::Up(Some(Adjust::Set(w))) => Some(Health::UpWithWeight(w)),
            State::Up(Some(Adjust::Offset(o))) => Some(Health::UpWithOffset(o)),
            State::Down => Some(Health::Down),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Tracker {
    rise: u32,
    fall: u32,
    state: State,
    oks: u32,
    fails: u32,
}

impl Tracker {
    pub fn new(rise: u32, fall: u32) -> Self {
        Tracker {
            rise: rise.max(1),
            fall: fall.max(1),
            state: State::Unknown,
            oks: 0,
            fails: 0,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Takes one probe result; returns the new state when it changed. A server goes down
    /// after exactly `fall` failures in a row and comes up after exactly `rise` successes in a
    /// row; an up server whose dynamic weight changes reports the new weight at once.
    pub fn observe(&mut self, outcome: &Outcome) -> Option<State> {
        let before = self.state;
        match outcome {
            Outcome::Down(_) => {
                self.oks = 0;
                self.fails = self.fails.saturating_add(1);
                if self.fails >= self.fall && self.state != State::Down {
                    self.state = State::Down;
                }
            }
            up => {
                self.fails = 0;
                self.oks = self.oks.saturating_add(1);
                let weight = match up {
                    Outcome::UpWeight(w) => Some(Adjust::Set(*w)),
                    Outcome::UpOffset(o) => Some(Adjust::Offset(*o)),
                    _ => None,
                };
                match self.state {
                    State::Up(_) => self.state = State::Up(weight),
                    _ if self.oks >= self.rise => self.state = State::Up(weight),
                    _ => {}
                }
            }
        }
        (self.state != before).then_some(self.state)
    }

    /// When to probe next: after a failure that has not yet taken the server down, sooner
    /// (`retry_delay`), to confirm it; otherwise at the interval.
    pub fn next_delay(
        &self,
        last: &Outcome,
        interval: Duration,
        retry_delay: Duration,
    ) -> Duration {
        if !last.is_up() && self.state != State::Down {
            retry_delay.min(interval)
        } else {
            interval
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::outcome::Reason;

    const OK: Outcome = Outcome::Up;
    fn bad() -> Outcome {
        Outcome::Down(Reason::Refused)
    }

    #[test]
    fn down_after_exactly_fall_failures_and_up_after_exactly_rise_successes() {
        let mut t = Tracker::new(2, 3);
        assert_eq!(t.observe(&OK), None, "one success of two: still unknown");
        assert_eq!(t.observe(&OK), Some(State::Up(None)));
        assert_eq!(t.observe(&bad()), None);
        assert_eq!(t.observe(&bad()), None);
        assert_eq!(t.observe(&OK), None, "a success resets the failure count");
        assert_eq!(t.observe(&bad()), None);
        assert_eq!(t.observe(&bad()), None);
        assert_eq!(t.observe(&bad()), Some(State::Down));
        assert_eq!(t.observe(&bad()), None, "no repeated transition");
        assert_eq!(t.observe(&OK), None);
        assert_eq!(t.observe(&OK), Some(State::Up(None)));
    }

    #[test]
    fn from_unknown_either_way() {
        let mut t = Tracker::new(1, 2);
        assert_eq!(t.observe(&bad()), None);
        assert_eq!(t.observe(&bad()), Some(State::Down));
        let mut t = Tracker::new(1, 2);
        assert_eq!(t.observe(&OK), Some(State::Up(None)));
    }

    #[test]
    fn a_dynamic_weight_change_is_reported_while_up() {
        let mut t = Tracker::new(1, 1);
        assert_eq!(
            t.observe(&Outcome::UpWeight(3)),
            Some(State::Up(Some(Adjust::Set(3))))
        );
        assert_eq!(t.observe(&Outcome::UpWeight(3)), None);
        assert_eq!(
            t.observe(&Outcome::UpWeight(7)),
            Some(State::Up(Some(Adjust::Set(7))))
        );
        assert_eq!(t.observe(&OK), Some(State::Up(None)));
    }

    #[test]
    fn retries_come_sooner_while_confirming_a_failure() {
        let (i, r) = (Duration::from_secs(5), Duration::from_secs(1));
        let mut t = Tracker::new(1, 3);
        t.observe(&OK);
        t.observe(&bad());
        assert_eq!(t.next_delay(&bad(), i, r), r);
        t.observe(&bad());
        t.observe(&bad());
        assert_eq!(t.next_delay(&bad(), i, r), i, "down: back to the interval");
        assert_eq!(t.next_delay(&OK, i, r), i);
    }
}
