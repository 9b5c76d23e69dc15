//! The one timer of a VRRP instance: a timerfd set to the instance's next deadline (advert,
//! master-down, GARP burst, paced announcement) and registered with the VRRP thread's
//! reactor. It wakes the thread once, at the deadline. tokio's timer wheel, measured with
//! strace on an idle master at 1 s adverts, woke the thread three times per advert: once
//! when the next sleep was registered (the driver is unparked to take the new deadline), once
//! early at a slot boundary of the wheel, once at the deadline.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

pub struct Timer {
    fd: AsyncFd<OwnedFd>,
    armed: Option<Instant>,
    /// One reading of both clocks, taken at creation: Instant is CLOCK_MONOTONIC, so a
    /// deadline converts to the timerfd's absolute time by an offset from it, without reading
    /// the clock again at every arm.
    base: (Instant, libc::timespec),
}

impl Timer {
    pub fn new() -> io::Result<Timer> {
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
        // SAFETY: the AsyncFd owns the descriptor for as long as it is registered.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(|e| e.into_parts().1)?;
        Ok(Timer {
            fd,
            armed: None,
            base: (Instant::now(), clock_monotonic()?),
        })
    }

    /// Arms the timer for `at`, or disarms it (None). Setting the deadline it already has
    /// costs nothing.
    pub fn set(&mut self, at: Option<Instant>) -> io::Result<()> {
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

    /// Returns once the armed deadline has passed, with the time it read (the caller's "now":
    /// one reading of the clock a wakeup); never while disarmed. The expiration count is not
    /// read: the next `set` resets it, and a readiness that outlived a re-arm is told apart by
    /// the clock (no system call), so an advert costs one system call fewer.
    pub async fn fired(&mut self) -> io::Result<Instant> {
        loop {
            // The readiness is polled, not awaited as a `readable()` future: that future joins
            // (and, when a select drops it, leaves) a list of waiters under a lock; polling
            // keeps the one waker of the descriptor's reader slot.
            let mut guard = std::future::poll_fn(|cx| self.fd.poll_read_ready(cx)).await?;
            let now = Instant::now();
            match self.armed {
                Some(at) if now >= at => {
                    self.armed = None;
                    return Ok(now);
                }
                _ => guard.clear_ready(),
            }
        }
    }
}

/// Waits `d` on a timer of its own: the VRRP thread's runtime has no time driver (its turn at
/// every wakeup was a tenth of an advert's instructions), so its rare waits (a back-off after
/// a receive error, the stop scripts' budget) take a timerfd. Without one to be had (out of
/// descriptors), a thread of its own waits instead.
pub async fn sleep(d: Duration) {
    if let Ok(mut t) = Timer::new()
        && t.set(Some(Instant::now() + d)).is_ok()
        && t.fired().await.is_ok()
    {
        return;
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let waiter = std::thread::Builder::new().spawn(move || {
        std::thread::sleep(d);
        let _ = tx.send(());
    });
    if waiter.is_ok() {
        let _ = rx.await;
    }
}

/// `f`'s output if it ends within `limit`, else None (then `f` is dropped): tokio's timeout,
/// for the VRRP thread's runtime, which has no time driver.
pub async fn within<F: std::future::Future>(limit: Duration, f: F) -> Option<F::Output> {
    tokio::select! {
        out = f => Some(out),
        () = sleep(limit) => None,
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

    #[tokio::test]
    async fn fires_once_at_the_deadline_and_not_while_disarmed() {
        let mut t = Timer::new().unwrap();
        let start = Instant::now();
        t.set(Some(start + Duration::from_millis(50))).unwrap();
        t.fired().await.unwrap();
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(50), "{took:?}");
        assert!(took < Duration::from_millis(500), "{took:?}");
        t.set(None).unwrap();
        let idle = tokio::time::timeout(Duration::from_millis(100), t.fired()).await;
        assert!(idle.is_err(), "a disarmed timer does not fire");
        // A deadline already past fires at once.
        t.set(Some(Instant::now() - Duration::from_millis(5)))
            .unwrap();
        tokio::time::timeout(Duration::from_millis(100), t.fired())
            .await
            .expect("a past deadline fires at once")
            .unwrap();
        // An expiry nobody waited for, then a later deadline: the readiness it left does not
        // fire the timer early.
        t.set(Some(Instant::now() + Duration::from_millis(10)))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let later = Instant::now() + Duration::from_millis(80);
        t.set(Some(later)).unwrap();
        t.fired().await.unwrap();
        assert!(Instant::now() >= later, "fired before its deadline");
    }
}
