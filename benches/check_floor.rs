//! The least a TCP connect check can cost, for the health-check benchmark to set beside haldir
//! and keepalived: COUNT connects a second to 127.0.0.1 from port FIRST, each one a socket, a
//! non-blocking connect, its completion read from epoll with SO_ERROR, and a close with a reset
//! (linger 0, as haldir closes its checks). These are the system calls any checker that
//! completes a connection makes; here on one thread, with no runtime, no timeouts and no
//! bookkeeping beyond one check in flight per target (as the daemons: a target still being
//! checked is skipped), paced in slices of 10 ms as the daemons spread their checks over the
//! second.
//! What haldir or keepalived spend above this is their own.
//!
//!   check_floor FIRST COUNT     (runs until killed)

use std::time::{Duration, Instant};

const SLICES: usize = 100;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .take(2)
        .map(|a| a.parse().expect("usage: check_floor FIRST COUNT"))
        .collect();
    let (first, count) = (args[0], args[1]);
    // SAFETY: epoll_create1 takes no memory arguments.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(
        ep >= 0,
        "epoll_create1: {}",
        std::io::Error::last_os_error()
    );
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let start = Instant::now();
    let mut busy = vec![false; count];
    let mut next = 0usize;
    for slice in 0u64.. {
        let due = start + Duration::from_millis(10 * slice);
        complete_until(ep, &mut events, &mut busy, due);
        // This slice's share of the second, so that every target is checked once a second.
        let end = count * (slice as usize % SLICES + 1) / SLICES;
        let begin = count * (slice as usize % SLICES) / SLICES;
        for _ in begin..end {
            let target = next % count;
            next += 1;
            if !busy[target] {
                busy[target] = open(ep, target, (first + target) as u16);
            }
        }
    }
}

/// Collects finished connects until `due`: each one's error read, then closed.
fn complete_until(ep: i32, events: &mut [libc::epoll_event], busy: &mut [bool], due: Instant) {
    loop {
        let now = Instant::now();
        if now >= due {
            return;
        }
        let ms = (due - now).as_millis() as i32 + 1;
        // SAFETY: events is a live buffer of the length given.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, ms) };
        for ev in events.iter().take(n.max(0) as usize) {
            // The target in the high half, the descriptor in the low.
            let (target, fd) = ((ev.u64 >> 32) as usize, ev.u64 as u32 as i32);
            busy[target] = false;
            let mut err: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: err and len are live and sized for SO_ERROR; fd is a socket this opened.
            unsafe {
                libc::getsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_ERROR,
                    (&mut err as *mut libc::c_int).cast(),
                    &mut len,
                );
                libc::close(fd);
            }
        }
    }
}

/// Starts one connect to 127.0.0.1:`port` and registers it for its completion; false when
/// it ended at once (refused, or no descriptor).
fn open(ep: i32, target: usize, port: u16) -> bool {
    // SAFETY: plain system calls on a descriptor opened here; every pointer is to a live local.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return false;
        }
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::connect(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        if rc != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINPROGRESS) {
            libc::close(fd);
            return false;
        }
        let mut ev = libc::epoll_event {
            events: libc::EPOLLOUT as u32,
            u64: ((target as u64) << 32) | fd as u64,
        };
        if libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) != 0 {
            libc::close(fd);
            return false;
        }
        true
    }
}
