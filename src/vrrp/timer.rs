//! The one timer of a VRRP instance: a timerfd set to the instance's next deadline (advert,
//! master-down, GARP burst, paced announcement, the pause after a receive error) and watched
//! by the VRRP thread's loop. It wakes the thread once, at the deadline. tokio's timer wheel
//! woke it three times per advert (docs/performance.md): once when the next sleep was
//! registered (the driver is unparked to take the new deadline), once early at a slot
//! boundary of the wheel, once at the deadline.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use tokio::time::Instant;

pub(crate) struct Timer {
    fd: OwnedFd,
    armed: Option<Instant>,
    /// One reading of both clocks, taken at creation: Instant is CLOCK_MONOTONIC, so a
    /// deadline converts to the timerfd's absolute time by an offset from it, without reading
    /// the clock again at every arm.
    base: (Instant, libc::timespec),
}

impl Timer {
    pub(crate) fn new() -> io::Result<Timer> {
        // SAFETY: timerfd_create has no memory arguments; a valid descriptor is owned below.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(Timer {
            fd,
            armed: None,
            base: (Instant::now(), clock_monotonic()?),
        })
    }

    /// Arms the timer for `at`, or disarms it (None). Setting the deadline it already has
    /// costs nothing.
    pub(crate) fn set(&mut self, at: Option<Instant>) -> io::Result<()> {
        if at == self.armed {
            return Ok(());
        }
        let value = match at {
            Some(at) => monotonic(self.base, at),
            // Zero disarms a timerfd.
            None => libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        // SAFETY: the descriptor is a timerfd; spec is a live itimerspec; no old value asked.
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        self.armed = at;
        Ok(())
    }

    /// The descriptor to watch (edge-triggered: each expiry is one readiness).
    pub(crate) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Whether the armed deadline has passed by `now`; if so the timer is disarmed (until the
    /// next `set`). The expiration count is not read: the next `set` resets it, and a readiness
    /// that outlived a re-arm is told apart by the clock (no system call), so an advert costs
    /// one system call fewer.
    pub(crate) fn expired(&mut self, now: Instant) -> bool {
        match self.armed {
            Some(at) if now >= at => {
                self.armed = None;
                true
            }
            _ => false,
        }
    }
}

/// CLOCK_MONOTONIC now, the clock std's Instant reads on Linux.
fn clock_monotonic() -> io::Result<libc::timespec> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into a live one.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(now)
}

/// `at` as an absolute CLOCK_MONOTONIC time, from a reading of both clocks (`base`); at least
/// 1 ns: 0 would disarm the timer. A deadline before the base is the base (already past).
fn monotonic(base: (Instant, libc::timespec), at: Instant) -> libc::timespec {
    let (reference, ts) = base;
    let ahead = at.saturating_duration_since(reference);
    let total = ts.tv_nsec as u128 + ahead.subsec_nanos() as u128;
    let secs = ts.tv_sec as u128 + ahead.as_secs() as u128 + total / 1_000_000_000;
    libc::timespec {
        tv_sec: secs.min(i64::MAX as u128) as libc::time_t,
        tv_nsec: ((total % 1_000_000_000) as libc::c_long).max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Watches the timer as the VRRP thread's loop does: edge-triggered, each expiry one
    /// readiness.
    struct Watch(OwnedFd);

    impl Watch {
        fn new(t: &Timer) -> Watch {
            // SAFETY: a new epoll set, owned below; ev is a live epoll_event.
            unsafe {
                let ep = OwnedFd::from_raw_fd(libc::epoll_create1(libc::EPOLL_CLOEXEC));
                let mut ev = libc::epoll_event {
                    events: (libc::EPOLLIN | libc::EPOLLET) as u32,
                    u64: 0,
                };
                libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, t.fd(), &mut ev);
                Watch(ep)
            }
        }

        /// Whether the timer woke the set within `ms`.
        fn woke(&self, ms: i32) -> bool {
            let mut ev = libc::epoll_event { events: 0, u64: 0 };
            // SAFETY: one live epoll_event.
            unsafe { libc::epoll_wait(self.0.as_raw_fd(), &mut ev, 1, ms) == 1 }
        }
    }

    #[test]
    fn fires_once_at_the_deadline_and_not_while_disarmed() {
        let mut t = Timer::new().unwrap();
        let w = Watch::new(&t);
        let start = Instant::now();
        t.set(Some(start + Duration::from_millis(50))).unwrap();
        assert!(!t.expired(Instant::now()), "expired before its deadline");
        assert!(w.woke(1000), "the deadline made the descriptor readable");
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(50), "{took:?}");
        assert!(took < Duration::from_millis(500), "{took:?}");
        assert!(t.expired(Instant::now()));
        assert!(!t.expired(Instant::now()), "an expiry is reported once");
        t.set(None).unwrap();
        assert!(!w.woke(100), "a disarmed timer does not fire");
        // A deadline already past fires at once.
        t.set(Some(Instant::now() - Duration::from_millis(5)))
            .unwrap();
        assert!(w.woke(100), "a past deadline fires at once");
        assert!(t.expired(Instant::now()));
        // An expiry nobody handled, then a later deadline: the readiness it left is not taken
        // for the later one, and re-arming clears it.
        t.set(Some(Instant::now() + Duration::from_millis(10)))
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let later = Instant::now() + Duration::from_millis(80);
        t.set(Some(later)).unwrap();
        assert!(!t.expired(Instant::now()), "fired before its deadline");
        assert!(w.woke(1000));
        assert!(Instant::now() >= later, "fired before its deadline");
        assert!(t.expired(Instant::now()));
    }
}
