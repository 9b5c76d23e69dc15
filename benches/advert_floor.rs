//! The least an idle VRRP master can cost, for the idle benchmark to set beside haldir and
//! keepalived: one VRRPv3 advert (with its IPv4 header, IP_HDRINCL, as both write it) every
//! INTERVAL_MS from SOURCE out of IFACE, and nothing else. Each advert is the three system
//! calls no master can do without — the wait (epoll_wait on a timerfd), the send, the timer
//! re-armed — with a packet built once, no state machine, no receive socket and no runtime.
//! What haldir or keepalived spend above this is their own.
//!
//!   advert_floor IFACE SOURCE INTERVAL_MS     (runs until killed)

use std::net::{Ipv4Addr, SocketAddrV4};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(iface), Some(Ok(source)), Some(Ok(ms))) = (
        args.get(1),
        args.get(2).map(|a| a.parse::<Ipv4Addr>()),
        args.get(3).map(|a| a.parse::<u64>()),
    ) else {
        eprintln!("usage: advert_floor IFACE SOURCE INTERVAL_MS");
        std::process::exit(2);
    };
    let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).expect("raw socket");
    sock.set_header_included_v4(true).expect("IP_HDRINCL");
    sock.set_multicast_loop_v4(false).expect("multicast loop");
    sock.bind_device(Some(iface.as_bytes()))
        .expect("bind to the interface");
    let mut packet = advert(source);
    let to = SockAddr::from(SocketAddrV4::new(GROUP, 0));
    // SAFETY: plain system calls on descriptors created here; every pointer is to a live local.
    unsafe {
        let tfd = libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        );
        let ep = libc::epoll_create1(libc::EPOLL_CLOEXEC);
        assert!(
            tfd >= 0 && ep >= 0,
            "timerfd or epoll: {}",
            std::io::Error::last_os_error()
        );
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 0,
        };
        libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, tfd, &mut ev);
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now);
        let step = (ms * 1_000_000) as i64;
        let mut at = now.tv_sec * 1_000_000_000 + now.tv_nsec;
        let mut id: u16 = 0;
        loop {
            id = id.wrapping_add(1).max(1);
            packet[4..6].copy_from_slice(&id.to_be_bytes());
            let _ = sock.send_to(&packet, &to);
            at += step;
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: at / 1_000_000_000,
                    tv_nsec: at % 1_000_000_000,
                },
            };
            libc::timerfd_settime(tfd, libc::TFD_TIMER_ABSTIME, &spec, std::ptr::null_mut());
            libc::epoll_wait(ep, &mut ev, 1, -1);
        }
    }
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
