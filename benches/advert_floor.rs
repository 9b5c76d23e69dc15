//! The least an idle VRRP master can cost, for the idle benchmark to set beside haldir and
//! keepalived: one VRRPv3 advert (with its IPv4 header, IP_HDRINCL, as both write it) every
//! INTERVAL_MS from SOURCE out of IFACE, and nothing else. Each advert is the three system
//! calls no master can do without — the wait (epoll_wait on a timerfd), the send, the timer
//! re-armed — with a packet built once, no state machine, no receive socket and no runtime.
//! What haldir or keepalived spend above this is their own.
//!
//! With `tokio`, the same three calls made from tokio's current-thread runtime, as an
//! instance's task would make them: the timerfd awaited as an `AsyncFd`, in a select with a
//! channel that never speaks (an instance's commands). What this spends above the bare floor
//! is the runtime's own cost per advert, which the VRRP thread's plain loop does not pay.
//!
//!   advert_floor IFACE SOURCE INTERVAL_MS [bare|tokio]     (runs until killed)

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(iface), Some(Ok(source)), Some(Ok(ms))) = (
        args.get(1),
        args.get(2).map(|a| a.parse::<Ipv4Addr>()),
        args.get(3).map(|a| a.parse::<u64>()),
    ) else {
        usage()
    };
    let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).expect("raw socket");
    sock.set_header_included_v4(true).expect("IP_HDRINCL");
    sock.set_multicast_loop_v4(false).expect("multicast loop");
    sock.bind_device(Some(iface.as_bytes()))
        .expect("bind to the interface");
    let sender = Sender {
        sock,
        packet: advert(source),
        to: SockAddr::from(SocketAddrV4::new(GROUP, 0)),
        id: 0,
        step: ms as i64 * 1_000_000,
        at: now_ns(),
        timer: timerfd(),
    };
    match args.get(4).map(String::as_str) {
        None | Some("bare") => bare(sender),
        Some("tokio") => on_tokio(sender),
        Some(_) => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: advert_floor IFACE SOURCE INTERVAL_MS [bare|tokio]");
    std::process::exit(2);
}

/// The advert, where it goes, and the timer of the next one.
struct Sender {
    sock: Socket,
    packet: [u8; 32],
    to: SockAddr,
    id: u16,
    step: i64,
    at: i64,
    timer: OwnedFd,
}

impl Sender {
    /// Sends an advert and sets the timer to the next one's time.
    fn advert(&mut self) {
        self.id = self.id.wrapping_add(1).max(1);
        self.packet[4..6].copy_from_slice(&self.id.to_be_bytes());
        let _ = self.sock.send_to(&self.packet, &self.to);
        self.at += self.step;
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: self.at / 1_000_000_000,
                tv_nsec: self.at % 1_000_000_000,
            },
        };
        // SAFETY: a timerfd owned here; the spec is a live local.
        unsafe {
            libc::timerfd_settime(
                self.timer.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
    }
}

/// The three calls and nothing else: epoll_wait, sendto, timerfd_settime (an absolute
/// time re-armed each time, so the timerfd is never read, as keepalived's loop does not).
fn bare(mut s: Sender) -> ! {
    // SAFETY: an epoll set created here, watching the timerfd owned by `s`; the event is a
    // live local.
    unsafe {
        let ep = libc::epoll_create1(libc::EPOLL_CLOEXEC);
        assert!(ep >= 0, "epoll: {}", std::io::Error::last_os_error());
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 0,
        };
        libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, s.timer.as_raw_fd(), &mut ev);
        loop {
            s.advert();
            libc::epoll_wait(ep, &mut ev, 1, -1);
        }
    }
}

/// The same calls from a task on tokio's current-thread runtime (no time driver: the timer
/// is the timerfd, as on the VRRP thread before its plain loop). Readiness is cleared when
/// the timer fires, as an `AsyncFd` must be, without reading the timerfd: the re-arm resets
/// it, and the reactor sees the next expiry as a new edge.
fn on_tokio(mut s: Sender) -> ! {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let fd = s.timer.as_raw_fd();
        // SAFETY: the timerfd is owned by `s`, which outlives this registration.
        let timer = unsafe { tokio::io::unix::AsyncFd::register(fd) }
            .map_err(|e| e.into_parts().1)
            .expect("timerfd in the reactor");
        let (_commands, mut idle) = tokio::sync::mpsc::channel::<()>(1);
        loop {
            s.advert();
            tokio::select! {
                ready = timer.readable() => {
                    if let Ok(mut guard) = ready {
                        guard.clear_ready();
                    }
                }
                _ = idle.recv() => {}
            }
        }
    })
}

fn timerfd() -> OwnedFd {
    // SAFETY: a plain system call; the descriptor it returns is owned from here on.
    let fd = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    assert!(fd >= 0, "timerfd: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` was just created and is owned by nothing else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn now_ns() -> i64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a live local.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec * 1_000_000_000 + now.tv_nsec
}

/// A VRRPv3 advert for router 51, priority 150, 1 s, one address (10.9.0.100), with its
/// IPv4 header; the kernel fills in the header's checksum.
fn advert(source: Ipv4Addr) -> [u8; 32] {
    let mut p = [0u8; 32];
    p[..4].copy_from_slice(&[0x45, 0xc0, 0, 32]);
    p[8] = 255;
    p[9] = 112;
    p[12..16].copy_from_slice(&source.octets());
    p[16..20].copy_from_slice(&GROUP.octets());
    p[20..28].copy_from_slice(&[0x31, 51, 150, 1, 0, 100, 0, 0]);
    p[28..32].copy_from_slice(&[10, 9, 0, 100]);
    p
}
