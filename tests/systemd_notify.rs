//! `haldir run` speaks systemd's notify protocol: READY once started, RELOADING then READY
//! around a reload, WATCHDOG pings when asked, STOPPING on SIGTERM. The test plays systemd's
//! part on a unix datagram socket, as the service manager does.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Messages received until one contains `want` (or the time is up).
fn until(sock: &UnixDatagram, want: &str, seen: &mut Vec<String>) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            let hit = msg.lines().any(|l| l == want);
            seen.push(msg);
            if hit {
                return true;
            }
        }
    }
    false
}

#[test]
fn ready_reloading_watchdog_and_stopping_reach_the_service_manager() {
    let dir = tempfile::tempdir().unwrap();
    let notify = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&notify).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let config = dir.path().join("haldir.toml");
    std::fs::write(
        &config,
        format!(
            "[global]\nrouter_id = \"t\"\nstate_dir = \"{}\"\n",
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_haldir"))
        .args(["run", "-c", config.to_str().unwrap()])
        .env("NOTIFY_SOCKET", &notify)
        .env("WATCHDOG_USEC", "400000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let mut seen = Vec::new();
    let ready = until(&sock, "READY=1", &mut seen);
    let watchdog = ready && until(&sock, "WATCHDOG=1", &mut seen);
    let signal = |sig: &str| {
        Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success()
    };
    let reloading = signal("-HUP") && until(&sock, "RELOADING=1", &mut seen);
    let ready_again = reloading && until(&sock, "READY=1", &mut seen);
    let stopping = signal("-TERM") && until(&sock, "STOPPING=1", &mut seen);
    let status = child.wait().unwrap();
    assert!(ready, "READY=1 after start; got {seen:?}");
    assert!(watchdog, "WATCHDOG=1 with WATCHDOG_USEC set; got {seen:?}");
    assert!(reloading, "RELOADING=1 on SIGHUP; got {seen:?}");
    assert!(
        seen.iter()
            .any(|m| m.contains("RELOADING=1") && m.contains("MONOTONIC_USEC=")),
        "RELOADING carries MONOTONIC_USEC; got {seen:?}"
    );
    assert!(ready_again, "READY=1 after the reload; got {seen:?}");
    assert!(stopping, "STOPPING=1 on SIGTERM; got {seen:?}");
    assert!(status.success(), "a clean stop exits 0: {status}");
}
