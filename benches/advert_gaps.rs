//! Listens to VRRP adverts (IP protocol 112 to 224.0.0.18) from one source for a while and
//! prints how many came and the longest gap between two, in milliseconds: `COUNT MAX_GAP_MS`.
//! Silence at the end counts as a gap. Used by `scripts/bench/vrrp-under-load` in the kernel
//! lab VM, which has no Python.
//!
//!     advert_gaps SOURCE SECONDS LOCAL_ADDRESS

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: advert_gaps SOURCE SECONDS LOCAL_ADDRESS");
        std::process::exit(2);
    }
    let (source, seconds, local): (Ipv4Addr, f64, Ipv4Addr) =
        match (args[1].parse(), args[2].parse(), args[3].parse()) {
            (Ok(s), Ok(t), Ok(l)) => (s, t, l),
            _ => {
                eprintln!("advert_gaps: bad arguments");
                std::process::exit(2);
            }
        };
    let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112)))
        .expect("a raw socket for protocol 112 (root)");
    sock.join_multicast_v4(&Ipv4Addr::new(224, 0, 0, 18), &local)
        .expect("join 224.0.0.18");
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .expect("timeout");
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let (mut count, mut last, mut longest) = (0u64, None::<Instant>, Duration::ZERO);
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 2048];
    while Instant::now() < end {
        let Ok((_, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let from: Option<SocketAddr> = from.as_socket();
        if from.map(|a| a.ip()) != Some(source.into()) {
            continue;
        }
        let now = Instant::now();
        if let Some(l) = last {
            longest = longest.max(now - l);
        }
        last = Some(now);
        count += 1;
    }
    if let Some(l) = last {
        longest = longest.max(end.saturating_duration_since(l));
    }
    println!("{count} {}", longest.as_millis());
}
