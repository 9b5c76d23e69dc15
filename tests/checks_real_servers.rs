//! The udp, dns, ping, smtp, file and multi-URL http checks against real servers on
//! loopback: dnsmasq answering, refusing (NXDOMAIN, REFUSED), answering without the record
//! asked for, truncating (the check asks again over TCP) and dropping; a UDP echo and a
//! closed port (ICMP port unreachable); ping to a live and to a dropped address; aiosmtpd, a
//! real SMTP server; Python's HTTP server with two URLs, one of whose bodies changes under its
//! digest (taken with `haldir genhash`); a file check's file rewritten while it is watched.
//! Each check is written as a user writes it, in TOML.
//!
//! Under CI=true a missing server program (dnsmasq, python3 with aiosmtpd) or not being root
//! (ping's raw socket) fails the test; elsewhere the test says it was skipped.

mod common;

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use haldir::config;
use haldir::health::Target;
use haldir::health::outcome::{Outcome, Reason};
use haldir::health::probe::{self, Context};

use common::require as prerequisite;

use common::have;

/// The check of a one-server service written in TOML, aimed at `addr:port`.
fn target(check: &str, addr: &str, port: u16) -> Target {
    let text = format!(
        "[[virtual_server]]\nname = \"s\"\naddress = \"10.0.0.100:{port}\"\nprotocol = \"{}\"\n\
         [virtual_server.check]\ninterval = \"1h\"\ntimeout = \"1s\"\n{check}\n\
         [[virtual_server.real_server]]\naddress = \"10.0.0.11:{port}\"\n",
        if check.contains("\"udp\"") || check.contains("\"dns\"") {
            "udp"
        } else {
            "tcp"
        }
    );
    let c = config::load_str(Path::new("t.toml"), &text)
        .unwrap_or_else(|e| panic!("{text}\n{e}"))
        .config;
    let check = c.virtual_servers[0].real_servers[0].check.clone().unwrap();
    Target::new(check, addr.parse().unwrap(), port)
}

async fn run(t: &Target) -> Outcome {
    let ctx = Arc::new(Context::new("root").unwrap());
    probe::probe(t, &ctx).await
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the server on port {port} never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn dnsmasq(port: u16) -> Server {
    let big: Vec<String> = (0..8)
        .map(|i| format!("--txt-record=big.svc.test,{}", format!("{i}").repeat(200)))
        .collect();
    let child = Command::new("dnsmasq")
        .args([
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            &format!("--port={port}"),
            "--local=/svc.test/",
            "--host-record=www.svc.test,10.9.9.9",
            "--txt-record=nodata.svc.test,hi",
            "--server=/drop.test/192.0.2.1",
            "--pid-file=",
        ])
        .args(if unsafe { libc::geteuid() } == 0 {
            vec!["--user=root".to_string()]
        } else {
            vec![]
        })
        .args(big)
        .stderr(Stdio::null())
        .spawn()
        .expect("dnsmasq starts");
    wait_port(port);
    Server(child)
}

#[tokio::test]
async fn dns_checks_against_dnsmasq() {
    if !prerequisite(have("dnsmasq"), "dnsmasq") {
        return;
    }
    let port = free_port();
    let _dns = dnsmasq(port);
    let dns = |name: &str, kind: &str, answer: bool| {
        target(
            &format!(
                "type = \"dns\"\nquery_name = \"{name}\"\nquery_type = \"{kind}\"\nrequire_answer = {answer}"
            ),
            "127.0.0.1",
            port,
        )
    };
    assert_eq!(
        run(&dns("www.svc.test", "A", true)).await,
        Outcome::Up,
        "answered"
    );
    assert_eq!(
        run(&dns("nx.svc.test", "A", false)).await,
        Outcome::Down(Reason::Rcode("NXDOMAIN".into()))
    );
    assert_eq!(
        run(&dns("www.example.org", "A", false)).await,
        Outcome::Down(Reason::Rcode("REFUSED".into())),
        "a name dnsmasq does not serve"
    );
    assert_eq!(
        run(&dns("nodata.svc.test", "A", false)).await,
        Outcome::Up,
        "NOERROR without an answer is enough without require_answer (keepalived's rule)"
    );
    assert_eq!(
        run(&dns("nodata.svc.test", "A", true)).await,
        Outcome::Down(Reason::Reply("no answer".into()))
    );
    assert_eq!(
        run(&dns("x.drop.test", "A", false)).await,
        Outcome::Down(Reason::Timeout),
        "dropped: no reply within the timeout"
    );
    // A reply too large for 512 bytes comes back truncated over UDP; the check asks over TCP.
    let q = haldir::health::dns::encode(
        &haldir::config::model::DnsCheck {
            query_name: "big.svc.test".into(),
            query_type: haldir::config::types::DnsType::Txt,
            require_answer: true,
        },
        77,
    )
    .unwrap();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.send_to(&q, ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).unwrap();
    assert!(
        n <= 512 && buf[2] & 0x02 != 0,
        "dnsmasq truncates the UDP reply"
    );
    assert_eq!(
        run(&dns("big.svc.test", "TXT", true)).await,
        Outcome::Up,
        "over TCP"
    );
    drop(_dns);
    assert_eq!(
        run(&dns("www.svc.test", "A", true)).await,
        Outcome::Down(Reason::Unreachable),
        "the server is gone: ICMP port unreachable"
    );
}

#[tokio::test]
async fn udp_checks_against_an_echo_and_a_closed_port() {
    let echo = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = echo.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = echo.recv_from(&mut buf).await {
            if &buf[..n] != b"silence" {
                let _ = echo.send_to(&buf[..n], from).await;
            }
        }
    });
    let udp = |keys: &str| target(&format!("type = \"udp\"\n{keys}"), "127.0.0.1", port);
    assert_eq!(
        run(&udp("payload = \"PING 1\"\nreply_regex = \"^PING\"")).await,
        Outcome::Up
    );
    assert_eq!(
        run(&udp("payload_hex = \"ab 12\"\nreply_hex = \"abx2\"")).await,
        Outcome::Up
    );
    assert!(matches!(
        run(&udp("payload = \"PING\"\nreply_regex = \"^PONG\"")).await,
        Outcome::Down(Reason::Reply(_))
    ));
    assert_eq!(
        run(&udp("payload = \"silence\"")).await,
        Outcome::Up,
        "silence is success without require_reply (keepalived's UDP_CHECK)"
    );
    assert_eq!(
        run(&udp("payload = \"silence\"\nrequire_reply = true")).await,
        Outcome::Down(Reason::Timeout)
    );
    let closed = free_port();
    let t = target("type = \"udp\"\npayload = \"x\"", "127.0.0.1", closed);
    assert_eq!(
        run(&t).await,
        Outcome::Down(Reason::Unreachable),
        "ICMP port unreachable"
    );
}

#[tokio::test]
async fn ping_checks_a_live_and_a_dropped_address() {
    if !prerequisite(unsafe { libc::geteuid() } == 0, "root (a raw ICMP socket)") {
        return;
    }
    let ping = |addr: &str| target("type = \"ping\"", addr, 80);
    assert_eq!(run(&ping("127.0.0.1")).await, Outcome::Up);
    assert_eq!(run(&ping("::1")).await, Outcome::Up);
    // 203.0.113.0/24 is TEST-NET-3: nothing answers (a timeout), or an ICMP error says no
    // host is there.
    let dropped = run(&ping("203.0.113.7")).await;
    assert!(
        matches!(
            dropped,
            Outcome::Down(Reason::Timeout | Reason::Unreachable)
        ),
        "{dropped:?}"
    );
}

#[tokio::test]
async fn smtp_checks_against_aiosmtpd() {
    let python = "/usr/bin/python3";
    let has = Command::new(python)
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if !prerequisite(has, "python3 with aiosmtpd (python3-aiosmtpd)") {
        return;
    }
    let port = free_port();
    let child = Command::new(python)
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _smtp = Server(child);
    wait_port(port);
    let smtp = target(
        "type = \"smtp\"\nhelo_name = \"lb1.example.test\"",
        "127.0.0.1",
        port,
    );
    assert_eq!(run(&smtp).await, Outcome::Up);
    let closed = free_port();
    let both = target(
        &format!("type = \"smtp\"\nhosts = [{{ address = \"127.0.0.1\", port = {closed} }}]"),
        "127.0.0.1",
        port,
    );
    assert_eq!(
        run(&both).await,
        Outcome::Down(Reason::Refused),
        "every host must answer"
    );
    // A server that greets with something else than 220.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let busy = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut s, _)) = l.accept().await {
            let _ = s.write_all(b"554-busy\r\n554 try later\r\n").await;
        }
    });
    let t = target("type = \"smtp\"", "127.0.0.1", busy);
    assert_eq!(
        run(&t).await,
        Outcome::Down(Reason::Reply("554 to greeting, expected 220".into()))
    );
}

#[tokio::test]
async fn http_with_two_urls_and_a_digest_that_changes() {
    let python = "/usr/bin/python3";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.html"), "page a\n").unwrap();
    std::fs::write(dir.path().join("b.html"), "page b\n").unwrap();
    let port = free_port();
    let child = Command::new(python)
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _web = Server(child);
    wait_port(port);
    let genhash = |path: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_haldir"))
            .args(["genhash", &format!("http://127.0.0.1:{port}{path}")])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let (a, b) = (genhash("/a.html"), genhash("/b.html"));
    // The digest is the MD5 of the body, as keepalived's genhash prints it.
    let md5 = Command::new("md5sum")
        .arg(dir.path().join("b.html"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&md5.stdout).split(' ').next(),
        Some(b.as_str())
    );
    let check = format!(
        "type = \"http\"\nhttp_protocol = \"1.0\"\nurl = [{{ path = \"/a.html\", digest = \"{a}\" }}, {{ path = \"/b.html\", digest = \"{b}\" }}]"
    );
    let t = target(&check, "127.0.0.1", port);
    assert_eq!(run(&t).await, Outcome::Up, "both digests match");
    std::fs::write(dir.path().join("b.html"), "page b, changed\n").unwrap();
    let changed = genhash("/b.html");
    assert_eq!(
        run(&t).await,
        Outcome::Down(Reason::Digest(changed)),
        "the second URL's body changed"
    );
    std::fs::write(dir.path().join("b.html"), "page b\n").unwrap();
    assert_eq!(run(&t).await, Outcome::Up, "and back");
}

#[tokio::test]
async fn a_file_check_follows_its_file_without_polling() {
    use haldir::health::runner::Checks;
    use haldir::health::tracker::{Adjust, State};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("weight");
    std::fs::write(&file, "0\n").unwrap();
    let t = target(
        &format!(
            "type = \"file\"\nfile = \"{}\"\nweight = 10",
            file.display()
        ),
        "127.0.0.1",
        80,
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut checks = Checks::new(Context::new("root").unwrap(), tx);
    checks.sync([std::sync::Arc::new(t)]);
    let next = async |rx: &mut tokio::sync::mpsc::UnboundedReceiver<_>| {
        let ev: haldir::health::runner::Event =
            tokio::time::timeout(Duration::from_secs(3), rx.recv())
                .await
                .expect("the change is seen within 3 s (the interval is 1 h)")
                .unwrap();
        ev.state
    };
    assert_eq!(
        next(&mut rx).await,
        State::Up(None),
        "0: up, weight unchanged"
    );
    // As tools write: a new file renamed over the old one.
    let write = |v: &str| {
        let tmp = dir.path().join("tmp");
        std::fs::write(&tmp, v).unwrap();
        std::fs::rename(&tmp, &file).unwrap();
    };
    write("3\n");
    assert_eq!(next(&mut rx).await, State::Up(Some(Adjust::Offset(30))));
    write("-2147483648\n");
    assert_eq!(next(&mut rx).await, State::Down, "at or below -2^31: down");
    std::fs::write(&file, "1").unwrap();
    assert_eq!(
        next(&mut rx).await,
        State::Up(Some(Adjust::Offset(10))),
        "written in place"
    );
}
