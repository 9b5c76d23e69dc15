//! Health checks against real servers made here, on loopback: a TCP listener, an HTTP server
//! that can be switched between behaviours, HTTPS with a self-signed certificate, and scripts.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use haldir::config::model::{Check, CheckKind, HttpCheck, HttpUrl};
use haldir::config::types::HttpProtocol;
use haldir::config::types::StatusSet;
use haldir::health::Target;
use haldir::health::outcome::{Outcome, Reason};
use haldir::health::probe::{self, Context};
use haldir::health::runner::Checks;
use haldir::health::tracker::State;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn check(kind: CheckKind, timeout_ms: u64) -> Check {
    Check {
        kind,
        interval: Duration::from_millis(200),
        timeout: Duration::from_millis(timeout_ms),
        fall: 3,
        rise: 2,
        retry_delay: Duration::from_millis(100),
        alpha: false,
        port: None,
        address: None,
        source: None,
    }
}

fn http_kind(body_regex: Option<&str>) -> CheckKind {
    CheckKind::Http(HttpCheck {
        urls: vec![HttpUrl {
            path: "/healthz".into(),
            status: StatusSet::default(),
            digest: None,
            body_regex: body_regex.map(str::to_string),
        }],
        host: Some("www.example.com".into()),
        http_protocol: HttpProtocol::Http11,
    })
}

fn ctx() -> Arc<Context> {
    Arc::new(Context::new("root").expect("context"))
}

// ---------------------------------------------------------------- a switchable HTTP server

const OK: u8 = 0;
const UNAVAILABLE: u8 = 1;
const SLOW: u8 = 2;
const HANG: u8 = 3;
const CLOSE: u8 = 4;
const WRONG_BODY: u8 = 5;

struct HttpServer {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    /// Replies given in each mode, by mode.
    served: Arc<[AtomicUsize; 6]>,
    last_host: Arc<Mutex<String>>,
}

async fn http_server() -> HttpServer {
    let listener = TcpListener::bind((LOCAL, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mode = Arc::new(AtomicU8::new(OK));
    let served: Arc<[AtomicUsize; 6]> = Arc::new(Default::default());
    let last_host = Arc::new(Mutex::new(String::new()));
    let (m, s, h) = (mode.clone(), served.clone(), last_host.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (m, s, h) = (m.clone(), s.clone(), h.clone());
            tokio::spawn(async move {
                let mode = m.load(Ordering::SeqCst);
                if mode == CLOSE {
                    s[CLOSE as usize].fetch_add(1, Ordering::SeqCst);
                    return; // dropped: closed without a reply
                }
                let mut buf = vec![0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                if let Some(line) = req
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("host:"))
                {
                    *h.lock().await = line[5..].trim().to_string();
                }
                s[mode as usize].fetch_add(1, Ordering::SeqCst);
                let (status, body) = match mode {
                    UNAVAILABLE => ("503 Service Unavailable", "down"),
                    WRONG_BODY => ("200 OK", "nope"),
                    HANG => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                    SLOW => {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        ("200 OK", "healthy")
                    }
                    _ => ("200 OK", "healthy"),
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    HttpServer {
        addr,
        mode,
        served,
        last_host,
    }
}

fn target(kind: CheckKind, addr: SocketAddr, timeout_ms: u64) -> Target {
    Target::new(check(kind, timeout_ms).into(), addr.ip(), addr.port())
}

#[tokio::test]
async fn http_outcomes_name_their_reason() {
    let server = http_server().await;
    let ctx = ctx();
    let t = target(http_kind(Some("^health")), server.addr, 500);
    let cases = [
        (OK, Outcome::Up),
        (UNAVAILABLE, Outcome::Down(Reason::Status(503))),
        (WRONG_BODY, Outcome::Down(Reason::BodyMismatch)),
        (SLOW, Outcome::Down(Reason::Timeout)),
        (HANG, Outcome::Down(Reason::Timeout)),
    ];
    for (mode, want) in cases {
        server.mode.store(mode, Ordering::SeqCst);
        let start = Instant::now();
        assert_eq!(probe::probe(&t, &ctx).await, want, "mode {mode}");
        assert!(
            start.elapsed() < Duration::from_millis(900),
            "mode {mode} took {:?}: the timeout is 500ms",
            start.elapsed()
        );
    }
    server.mode.store(CLOSE, Ordering::SeqCst);
    assert!(matches!(
        probe::probe(&t, &ctx).await,
        Outcome::Down(Reason::Protocol(_))
    ));
    assert_eq!(
        *server.last_host.lock().await,
        "www.example.com",
        "the Host header is sent"
    );
}

/// A listener that never accepts, with its queue full: further SYNs are dropped. Keep what
/// it returns alive for as long as the queue must stay full.
async fn full_listener() -> (SocketAddr, (socket2::Socket, Vec<TcpStream>)) {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::new(LOCAL, 0).into()).unwrap();
    sock.listen(0).unwrap();
    let full = sock.local_addr().unwrap().as_socket().unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(s)) =
            tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(full)).await
        {
            held.push(s);
        }
    }
    (full, (sock, held))
}

#[tokio::test]
async fn tcp_up_refused_and_timeout() {
    let ctx = ctx();
    let listener = TcpListener::bind((LOCAL, 0)).await.unwrap();
    let open = listener.local_addr().unwrap();
    assert_eq!(
        probe::probe(
            &target(CheckKind::Tcp { half_open: false }, open, 500),
            &ctx
        )
        .await,
        Outcome::Up
    );
    drop(listener);
    assert_eq!(
        probe::probe(
            &target(CheckKind::Tcp { half_open: false }, open, 500),
            &ctx
        )
        .await,
        Outcome::Down(Reason::Refused)
    );

    let (full, _held) = full_listener().await;
    let start = Instant::now();
    assert_eq!(
        probe::probe(
            &target(CheckKind::Tcp { half_open: false }, full, 300),
            &ctx
        )
        .await,
        Outcome::Down(Reason::Timeout)
    );
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_millis(700),
        "{took:?}"
    );
}

/// The half-open probe (a SYN from a raw socket, so root) on IPv4 and IPv6 loopback: a
/// listener is up and its application is handed no connection (the kernel resets the
/// SYN-ACK), a closed port is refused, a listener whose queue is full (SYNs dropped) times
/// out at the check's timeout.
#[tokio::test]
async fn tcp_half_open_up_without_a_connection_refused_and_timeout() {
    if !common::available("half-open checks (raw sockets)", &["root"]) {
        return;
    }
    let ctx = ctx();
    let half = CheckKind::Tcp { half_open: true };
    for local in [LOCAL, IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)] {
        let listener = TcpListener::bind((local, 0)).await.unwrap();
        let open = listener.local_addr().unwrap();
        for _ in 0..3 {
            assert_eq!(
                probe::probe(&target(half.clone(), open, 500), &ctx).await,
                Outcome::Up,
                "{open}"
            );
        }
        // From a configured source: one the host has, and one it has not.
        let from = |src: IpAddr| {
            let mut c = check(half.clone(), 500);
            c.source = Some(src);
            Target::new(c.into(), open.ip(), open.port())
        };
        assert_eq!(probe::probe(&from(local), &ctx).await, Outcome::Up);
        let foreign: IpAddr = if local.is_ipv4() {
            "192.0.2.1".parse().unwrap()
        } else {
            "2001:db8::1".parse().unwrap()
        };
        match probe::probe(&from(foreign), &ctx).await {
            Outcome::Down(Reason::Connect(e)) => {
                assert!(e.starts_with(&format!("source {foreign}: ")), "{e}")
            }
            other => panic!("a source the host has not: {other:?}"),
        }
        let accepted = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
        assert!(
            accepted.is_err(),
            "the application saw a connection: {accepted:?}"
        );
        drop(listener);
        assert_eq!(
            probe::probe(&target(half.clone(), open, 500), &ctx).await,
            Outcome::Down(Reason::Refused),
            "{open}"
        );
    }
    let (full, _held) = full_listener().await;
    let start = Instant::now();
    assert_eq!(
        probe::probe(&target(half, full, 1500), &ctx).await,
        Outcome::Down(Reason::Timeout)
    );
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1490) && took < Duration::from_millis(1900),
        "{took:?}"
    );
}

/// The half-open probe's lost SYN and ICMP error, in a network namespace of its own (this
/// thread's alone, so the host's firewall is not touched), where nftables plays the network
/// on the way in: a SYN dropped is sent again at 1 s and answered (and two probes of one
/// server share a SYN, or ask again when the one who asked gives up); a SYN rejected with an
/// ICMP host unreachable (IPv4) or an ICMPv6 admin-prohibited fails the probe at once, read
/// from the raw socket's error queue; an ICMP error about another flow fails no probe.
#[test]
fn tcp_half_open_sends_again_and_fails_at_once_on_icmp_errors() {
    if !common::available("half-open checks in a namespace", &["root", "ip", "nft"]) {
        return;
    }
    std::thread::spawn(|| {
        // SAFETY: unshare has no memory preconditions; it moves this thread alone.
        assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0, "unshare");
        let sh = |cmd: &str| {
            let out = std::process::Command::new("sh")
                .args(["-c", cmd])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{cmd}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        sh("ip link set lo up && nft add table inet t && \
            nft add chain inet t in '{ type filter hook input priority 0; }'");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let ctx = ctx();
            let half = CheckKind::Tcp { half_open: true };
            let listener = TcpListener::bind((LOCAL, 0)).await.unwrap();
            let open = listener.local_addr().unwrap();
            let port = open.port();
            sh(&format!("nft add rule inet t in tcp dport {port} drop"));
            let lift = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(400)).await;
                sh("nft flush chain inet t in");
            });
            let start = Instant::now();
            assert_eq!(
                probe::probe(&target(half.clone(), open, 3000), &ctx).await,
                Outcome::Up
            );
            let took = start.elapsed();
            lift.await.unwrap();
            assert!(
                took >= Duration::from_millis(950) && took < Duration::from_millis(1500),
                "answered at the second SYN: {took:?}"
            );

            // Two checks of one server and port (other settings, so other targets) probing
            // at once share the first one's SYN; when that one gives up first (its timeout
            // is 300 ms), the other asks for itself and is answered at its own second SYN.
            sh(&format!("nft add rule inet t in tcp dport {port} drop"));
            let lift = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(400)).await;
                sh("nft flush chain inet t in");
            });
            let (short, long) = (
                target(half.clone(), open, 300),
                target(half.clone(), open, 3000),
            );
            let start = Instant::now();
            let (a, b) = tokio::join!(probe::probe(&short, &ctx), async {
                (probe::probe(&long, &ctx).await, start.elapsed())
            });
            lift.await.unwrap();
            assert_eq!(a, Outcome::Down(Reason::Timeout));
            assert_eq!(b.0, Outcome::Up, "the one that joined asked again");
            assert!(
                b.1 >= Duration::from_millis(1250) && b.1 < Duration::from_millis(1800),
                "answered at its own second SYN, 1 s after it asked at 300 ms: {:?}",
                b.1
            );
            let (a, b) = tokio::join!(probe::probe(&short, &ctx), probe::probe(&long, &ctx));
            assert_eq!((a, b), (Outcome::Up, Outcome::Up), "one answer for both");

            // From another source it is another tuple and another question: the probe from
            // 127.0.0.1 sends its own SYN at once, and is answered at its second, at 1 s.
            let mut c = check(half.clone(), 3000);
            c.source = Some(LOCAL);
            let sourced = Target::new(c.into(), open.ip(), open.port());
            sh(&format!("nft add rule inet t in tcp dport {port} drop"));
            let lift = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(400)).await;
                sh("nft flush chain inet t in");
            });
            let start = Instant::now();
            let (a, b) = tokio::join!(probe::probe(&short, &ctx), async {
                (probe::probe(&sourced, &ctx).await, start.elapsed())
            });
            lift.await.unwrap();
            assert_eq!((a, b.0), (Outcome::Down(Reason::Timeout), Outcome::Up));
            assert!(
                b.1 >= Duration::from_millis(950) && b.1 < Duration::from_millis(1250),
                "its own SYN, not the other source's: {:?}",
                b.1
            );

            // A source the host has not is refused even where binding to it is allowed.
            sh("sysctl -qw net.ipv4.ip_nonlocal_bind=1");
            let mut c = check(half.clone(), 500);
            c.source = Some("192.0.2.1".parse().unwrap());
            let foreign = Target::new(c.into(), open.ip(), open.port());
            match probe::probe(&foreign, &ctx).await {
                Outcome::Down(Reason::Connect(e)) => {
                    assert!(e.starts_with("source 192.0.2.1: "), "{e}")
                }
                other => panic!("a source the host has not, under ip_nonlocal_bind: {other:?}"),
            }

            let v6 = TcpListener::bind((std::net::Ipv6Addr::LOCALHOST, 0))
                .await
                .unwrap();
            let open6 = v6.local_addr().unwrap();
            for (addr, reject) in [
                (open, "reject with icmp type host-unreachable"),
                (open6, "reject with icmpv6 type admin-prohibited"),
            ] {
                sh(&format!(
                    "nft add rule inet t in tcp dport {} {reject}",
                    addr.port()
                ));
                let start = Instant::now();
                assert_eq!(
                    probe::probe(&target(half.clone(), addr, 3000), &ctx).await,
                    Outcome::Down(Reason::Unreachable),
                    "{addr}: {reject}"
                );
                assert!(
                    start.elapsed() < Duration::from_millis(500),
                    "{:?}",
                    start.elapsed()
                );
                sh("nft flush chain inet t in");
            }

            // An ICMP error about another TCP flow of this host reaches the raw socket too
            // (it takes every TCP error): it must not fail the next probe's SYN.
            let closed = TcpListener::bind((LOCAL, 0)).await.unwrap();
            let other = closed.local_addr().unwrap();
            drop(closed);
            sh(&format!(
                "nft add rule inet t in tcp dport {} reject with icmp type host-unreachable",
                other.port()
            ));
            for _ in 0..3 {
                let refused = TcpStream::connect(other).await;
                assert!(refused.is_err(), "the other flow is rejected");
                assert_eq!(
                    probe::probe(&target(half.clone(), open, 3000), &ctx).await,
                    Outcome::Up,
                    "a probe after another flow's ICMP error"
                );
            }
        });
    })
    .join()
    .expect("the namespace's probes");
}

#[tokio::test]
async fn transitions_after_exactly_fall_failures_and_rise_successes() {
    let server = http_server().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut checks = Checks::new(Context::new("root").unwrap(), tx);
    let t = target(http_kind(None), server.addr, 300);
    checks.sync([std::sync::Arc::new(t.clone())]);
    let next =
        async |rx: &mut tokio::sync::mpsc::UnboundedReceiver<_>| -> haldir::health::runner::Event {
            tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("an event in time")
                .expect("open")
        };
    let ev = next(&mut rx).await;
    assert_eq!(ev.state, State::Up(None));
    assert_eq!(
        server.served[OK as usize].load(Ordering::SeqCst),
        2,
        "up after exactly rise = 2 successes"
    );

    server.mode.store(UNAVAILABLE, Ordering::SeqCst);
    let ev = next(&mut rx).await;
    assert_eq!(ev.state, State::Down);
    assert_eq!(ev.outcome, Outcome::Down(Reason::Status(503)));
    assert_eq!(
        server.served[UNAVAILABLE as usize].load(Ordering::SeqCst),
        3,
        "down after exactly fall = 3 failures"
    );

    server.served[OK as usize].store(0, Ordering::SeqCst);
    server.mode.store(OK, Ordering::SeqCst);
    let ev = next(&mut rx).await;
    assert_eq!(ev.state, State::Up(None));
    assert_eq!(
        server.served[OK as usize].load(Ordering::SeqCst),
        2,
        "up again after exactly rise = 2 successes"
    );
}

// ---------------------------------------------------------------- HTTPS with a self-signed certificate

async fn https_server() -> (SocketAddr, Arc<Mutex<Option<String>>>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = rcgen::generate_simple_self_signed(vec!["www.example.com".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind((LOCAL, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sni = Arc::new(Mutex::new(None));
    let seen = sni.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                *seen.lock().await = tls.get_ref().1.server_name().map(str::to_string);
                let mut buf = vec![0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, sni)
}

fn https_kind(verify: bool, sni: Option<&str>) -> CheckKind {
    CheckKind::Https {
        http: HttpCheck {
            urls: vec![HttpUrl {
                path: "/".into(),
                status: StatusSet::default(),
                digest: None,
                body_regex: Some("ok".into()),
            }],
            host: None,
            http_protocol: HttpProtocol::Http11,
        },
        tls_verify: verify,
        sni: sni.map(str::to_string),
    }
}

#[tokio::test]
async fn https_with_a_self_signed_certificate() {
    let (addr, sni) = https_server().await;
    let ctx = ctx();
    assert_eq!(
        probe::probe(&target(https_kind(false, None), addr, 2000), &ctx).await,
        Outcome::Up
    );
    assert_eq!(
        probe::probe(
            &target(https_kind(false, Some("www.example.com")), addr, 2000),
            &ctx
        )
        .await,
        Outcome::Up
    );
    assert_eq!(
        sni.lock().await.as_deref(),
        Some("www.example.com"),
        "the SNI name is sent"
    );
    match probe::probe(
        &target(https_kind(true, Some("www.example.com")), addr, 2000),
        &ctx,
    )
    .await
    {
        Outcome::Down(Reason::Tls(msg)) => {
            assert!(msg.to_lowercase().contains("certificate"), "{msg}")
        }
        other => panic!("a self-signed certificate must fail verification, got {other:?}"),
    }
}

// ---------------------------------------------------------------- scripts

fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

fn misc(argv: Vec<String>, dynamic_weight: bool, timeout_ms: u64) -> Target {
    Target::new(
        check(
            CheckKind::Misc {
                command: argv,
                dynamic_weight,
            },
            timeout_ms,
        )
        .into(),
        "192.0.2.7".parse().unwrap(),
        8080,
    )
}

fn alive(pid: i32) -> bool {
    // A zombie still has a /proc entry; its state line says Z.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.split(')')
                .nth(1)
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

fn zombie_children() -> Vec<String> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            let after = stat.rsplit(')').next().unwrap_or("");
            let fields: Vec<&str> = after.split_whitespace().collect();
            fields.first() == Some(&"Z") && fields.get(1) == Some(&me.as_str())
        })
        .collect()
}

#[tokio::test]
async fn scripts_exit_codes_placeholders_and_dynamic_weight() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx();
    let args_file = dir.path().join("args");
    let record = script(
        dir.path(),
        "record.sh",
        &format!("echo \"$1 $2\" > {}", args_file.display()),
    );
    assert_eq!(
        probe::probe(
            &misc(
                vec![record, "{address}".into(), "{port}".into()],
                false,
                2000
            ),
            &ctx
        )
        .await,
        Outcome::Up
    );
    assert_eq!(
        std::fs::read_to_string(&args_file).unwrap().trim(),
        "192.0.2.7 8080"
    );

    let one = script(dir.path(), "one.sh", "exit 1");
    assert_eq!(
        probe::probe(&misc(vec![one], false, 2000), &ctx).await,
        Outcome::Down(Reason::Exit(1))
    );
    let five = script(dir.path(), "five.sh", "exit 5");
    assert_eq!(
        probe::probe(&misc(vec![five.clone()], false, 2000), &ctx).await,
        Outcome::Down(Reason::Exit(5))
    );
    assert_eq!(
        probe::probe(&misc(vec![five], true, 2000), &ctx).await,
        Outcome::UpWeight(3),
        "dynamic weight: 5 - 2"
    );
    let missing = probe::probe(&misc(vec!["/nonexistent/check".into()], false, 2000), &ctx).await;
    assert!(
        matches!(missing, Outcome::Down(Reason::Spawn(_))),
        "{missing:?}"
    );
}

/// A script that starts a child and waits for it, writing both pids to the returned file.
fn hanging_script(dir: &Path) -> (String, std::path::PathBuf) {
    let pids = dir.join("pids");
    let body = format!("sleep 60 & echo \"$$ $!\" > {}\nwait", pids.display());
    (script(dir, "hang.sh", &body), pids)
}

fn pids_of(file: &Path) -> Vec<i32> {
    std::fs::read_to_string(file)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

#[tokio::test]
async fn a_hung_script_is_killed_with_its_children_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (hang, pids) = hanging_script(dir.path());
    let start = Instant::now();
    let outcome = probe::probe(&misc(vec![hang], false, 300), &ctx()).await;
    let took = start.elapsed();
    assert_eq!(outcome, Outcome::Down(Reason::Timeout));
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    let ids = pids_of(&pids);
    // SIGKILL is delivered at once, but give the kernel a moment to finish the exits.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for pid in ids {
        assert!(!alive(pid), "process {pid} of the hung script survived");
    }
    assert_eq!(zombie_children(), Vec::<String>::new(), "no zombie is left");
}

/// A probe cancelled while its script runs (a reload or a stop drops it) takes the script's
/// whole process group with it, not only the script: nothing it started outlives the check.
#[tokio::test]
async fn a_cancelled_check_kills_the_scripts_children_too() {
    let dir = tempfile::tempdir().unwrap();
    let (hang, pids) = hanging_script(dir.path());
    let target = misc(vec![hang], false, 30_000);
    let ctx = ctx();
    let probe = probe::probe(&target, &ctx);
    let cancelled = tokio::time::timeout(Duration::from_millis(500), probe).await;
    assert!(
        cancelled.is_err(),
        "the probe was still running when dropped"
    );
    let ids = pids_of(&pids);
    assert_eq!(ids.len(), 2, "the script and its child: {ids:?}");
    let deadline = Instant::now() + Duration::from_secs(2);
    while ids.iter().any(|p| alive(*p)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for pid in ids {
        assert!(!alive(pid), "process {pid} of the cancelled check survived");
    }
}

#[tokio::test]
async fn scripts_run_as_script_user() {
    if !common::available("switching users", &["root"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = dir.path().join("uid");
    let who = script(
        dir.path(),
        "who.sh",
        &format!("id -u > {}; id -G >> {}", out.display(), out.display()),
    );
    let ctx = Arc::new(Context::new("nobody").expect("the nobody user exists"));
    assert_eq!(
        probe::probe(&misc(vec![who], false, 2000), &ctx).await,
        Outcome::Up
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("65534"), "runs as nobody, not root");
    assert!(
        !lines
            .next()
            .unwrap_or("")
            .split_whitespace()
            .any(|g| g == "0"),
        "no root group left: {text}"
    );
}
