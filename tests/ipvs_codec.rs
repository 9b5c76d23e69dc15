//! The IPVS codec against bytes captured from a real kernel (Debian 6.1, in the kernel lab).
//! The table was made with ipvsadm:
//!
//! ```text
//! ipvsadm -A -t 10.0.0.1:80 -s rr
//! ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1:80 -g -w 3
//! ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.2:8080 -m -w 1 -x 100 -y 50
//! ipvsadm -A -u 10.0.0.1:53 -s sh -b sh-port,sh-fallback -p 120 -M 255.255.255.0 -o
//! ipvsadm -a -u 10.0.0.1:53 -r 10.0.1.3:53 -i --tun-type gue --tun-port 6080 --tun-nocsum
//! ipvsadm -A -f 3 -s wlc
//! ipvsadm -a -f 3 -r 10.0.1.4 -g
//! ipvsadm -A -f 4 -6 -s mh -b mh-port -p 60
//! ipvsadm -a -f 4 -6 -r 2001:db8::5 -g
//! ipvsadm -A -t [2001:db8::1]:443 -s lc
//! ipvsadm -a -t [2001:db8::1]:443 -r [2001:db8::6]:443 -i --tun-type gre --tun-csum
//! ```

use std::net::IpAddr;

use haldir::ipvs::codec::{self, Reply, Request};
use haldir::ipvs::types::*;

fn trace() -> Vec<(u16, Vec<u8>)> {
    parse_trace(include_str!("fixtures/ipvs/dump-6.1.trace"))
}

fn parse_trace(text: &str) -> Vec<(u16, Vec<u8>)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (fam, hex) = l.split_once(' ').expect("family and hex");
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            (fam.parse().expect("family id"), bytes)
        })
        .collect()
}

fn all_replies() -> Vec<Reply> {
    trace()
        .iter()
        .flat_map(|(fam, buf)| codec::decode(buf, *fam).expect("captured bytes decode"))
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn services_decode_as_ipvsadm_made_them() {
    let services: Vec<Service> = all_replies()
        .into_iter()
        .filter_map(|r| match r {
            Reply::Service { entry, .. } => Some(entry.service),
            _ => None,
        })
        .collect();
    assert_eq!(services.len(), 5);
    let find = |id: ServiceId| {
        services
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("{id} missing"))
    };

    let tcp = find(ServiceId::Addr {
        protocol: IPPROTO_TCP,
        addr: ip("10.0.0.1"),
        port: 80,
    });
    assert_eq!(
        (tcp.scheduler.as_str(), tcp.flags, tcp.timeout),
        ("rr", 0, 0)
    );
    assert_eq!(tcp.netmask, Service::default_netmask(AF_INET));

    let udp = find(ServiceId::Addr {
        protocol: IPPROTO_UDP,
        addr: ip("10.0.0.1"),
        port: 53,
    });
    assert_eq!(udp.scheduler, "sh");
    assert_eq!(
        udp.flags,
        flags::PERSISTENT | flags::ONEPACKET | flags::SCHED_FALLBACK | flags::SCHED_PORT,
        "HASHED is stripped, the rest kept"
    );
    assert_eq!(udp.timeout, 120);
    assert_eq!(Service::prefix_of_netmask(AF_INET, udp.netmask), 24);

    let fwm = find(ServiceId::Fwmark {
        af: AF_INET,
        mark: 3,
    });
    assert_eq!(fwm.scheduler, "wlc");
    let fwm6 = find(ServiceId::Fwmark {
        af: AF_INET6,
        mark: 4,
    });
    assert_eq!(
        (
            fwm6.scheduler.as_str(),
            fwm6.flags,
            fwm6.timeout,
            fwm6.netmask
        ),
        ("mh", flags::PERSISTENT | flags::SCHED_PORT, 60, 128)
    );
    let v6 = find(ServiceId::Addr {
        protocol: IPPROTO_TCP,
        addr: ip("2001:db8::1"),
        port: 443,
    });
    assert_eq!(v6.scheduler, "lc");
}

#[test]
fn destinations_decode_with_forwarding_weights_thresholds_and_tunnels() {
    let dests: Vec<DestEntry> = all_replies()
        .into_iter()
        .filter_map(|r| match r {
            Reply::Dest { entry, .. } => Some(entry),
            _ => None,
        })
        .collect();
    assert_eq!(dests.len(), 6);
    let find = |a: &str, p: u16| {
        dests
            .iter()
            .find(|d| d.dest.addr == ip(a) && d.dest.port == p)
            .unwrap_or_else(|| panic!("{a}:{p}"))
    };

    let dr = &find("10.0.1.1", 80).dest;
    assert_eq!((dr.fwd, dr.weight, dr.tunnel), (FwdMethod::Route, 3, None));
    let nat = &find("10.0.1.2", 8080).dest;
    assert_eq!(
        (
            nat.fwd,
            nat.weight,
            nat.upper_threshold,
            nat.lower_threshold
        ),
        (FwdMethod::Masq, 1, 100, 50)
    );
    let gue = &find("10.0.1.3", 53).dest;
    assert_eq!(
        gue.tunnel,
        Some(TunnelSpec {
            kind: 1,
            port: 6080,
            flags: 0
        })
    );
    let gre = &find("2001:db8::6", 443).dest;
    assert_eq!(
        gre.tunnel,
        Some(TunnelSpec {
            kind: 2,
            port: 0,
            flags: 1
        })
    );
    assert_eq!(find("10.0.1.4", 0).dest.fwd, FwdMethod::Route);
    assert_eq!(find("2001:db8::5", 0).dest.fwd, FwdMethod::Route);
}

#[test]
fn info_and_dump_ends_decode() {
    let replies = all_replies();
    assert!(replies.iter().any(|r| matches!(
        r,
        Reply::Info {
            version: 0x010201,
            conn_tab_size: 4096,
            ..
        }
    )));
    assert_eq!(
        replies
            .iter()
            .filter(|r| matches!(r, Reply::Done { .. }))
            .count(),
        6,
        "one dump of services, five of destinations"
    );
    assert!(
        replies
            .iter()
            .any(|r| matches!(r, Reply::Ack { errno: 0, .. }))
    );
}

#[test]
fn what_we_encode_decodes_to_the_same_values() {
    // A request carries the same attribute nests as the kernel's dump messages of that command.
    for reply in all_replies() {
        match reply {
            Reply::Service { entry, .. } => {
                let mut buf = Vec::new();
                Request::NewService(entry.service.clone()).encode(32, 7, &mut buf);
                let back = codec::decode(&buf, 32).unwrap();
                assert!(
                    matches!(&back[..], [Reply::Service { seq: 7, entry: e }] if e.service == entry.service),
                    "{back:?}"
                );
            }
            Reply::Dest { entry, .. } => {
                let id = ServiceId::Fwmark {
                    af: af_of(&entry.dest.addr),
                    mark: 1,
                };
                let mut buf = Vec::new();
                Request::NewDest(id, entry.dest.clone()).encode(32, 8, &mut buf);
                // NEW_DEST carries the service nest first, then the destination.
                let msgs: Vec<_> = haldir::netlink::wire::messages(&buf)
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert_eq!(msgs.len(), 1);
                let back = codec::decode(&buf, 32).unwrap();
                assert!(
                    matches!(&back[..], [Reply::Dest { entry: e, .. }] if e.dest == entry.dest),
                    "{back:?}"
                );
            }
            _ => {}
        }
    }
}

#[test]
fn every_truncation_of_captured_bytes_is_rejected() {
    for (fam, buf) in trace() {
        let whole = codec::decode(&buf, fam).unwrap();
        for cut in 1..buf.len() {
            match codec::decode(&buf[..cut], fam) {
                Err(_) => {}
                // Cutting exactly between two messages leaves a shorter, valid buffer.
                Ok(part) => assert!(
                    part.len() < whole.len(),
                    "cut at {cut} of {} decoded everything",
                    buf.len()
                ),
            }
        }
    }
}

#[test]
fn daemons_and_timeouts_decode() {
    let replies: Vec<Reply> = parse_trace(include_str!("fixtures/ipvs/daemon-config-6.1.trace"))
        .iter()
        .flat_map(|(fam, buf)| codec::decode(buf, *fam).expect("captured bytes decode"))
        .collect();
    assert!(
        replies.contains(&Reply::Timeouts {
            seq: 2,
            timeouts: Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300
            }
        }),
        "{replies:?}"
    );
    let daemons: Vec<&Daemon> = replies
        .iter()
        .filter_map(|r| match r {
            Reply::Daemon { daemon, .. } => Some(daemon),
            _ => None,
        })
        .collect();
    assert_eq!(daemons.len(), 2, "{replies:?}");
    let master = daemons
        .iter()
        .find(|d| d.state == DaemonState::Master)
        .expect("master");
    assert_eq!((master.interface.as_str(), master.sync_id), ("sync0", 7));
    let backup = daemons
        .iter()
        .find(|d| d.state == DaemonState::Backup)
        .expect("backup");
    assert_eq!(
        (
            backup.sync_id,
            backup.mcast_group,
            backup.mcast_port,
            backup.mcast_ttl
        ),
        (8, Some(ip("239.1.2.3")), Some(9000), Some(4))
    );
}
