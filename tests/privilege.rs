//! Privilege: as root, haldir refuses a configuration or a root-run script that others could
//! change (at start and at reload, the running configuration staying), and its control socket
//! is for root alone.
//!
//! Under CI=true not being root fails the test.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn require_root() -> bool {
    common::require(root(), "root (the privilege tests)")
}

fn haldir(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_haldir"))
        .args(args)
        .output()
        .expect("haldir runs")
}

fn mode(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

#[test]
fn a_config_or_root_script_others_can_write_is_refused() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = dir.path().join("haldir.toml");
    std::fs::write(
        &config,
        format!("[global]\nstate_dir = \"{}\"\n", state.display()),
    )
    .unwrap();
    mode(&config, 0o666);
    let out = haldir(&["run", "-c", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("writable by everyone"), "{err}");

    // A track script run as root, in a file anyone may rewrite.
    let script = dir.path().join("check.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    mode(&script, 0o777);
    mode(&config, 0o644);
    std::fs::write(
        &config,
        format!(
            "[global]\nstate_dir = \"{}\"\nscript_user = \"root\"\n[[track_script]]\nname = \"t\"\ncommand = [\"{}\"]\n",
            state.display(),
            script.display()
        ),
    )
    .unwrap();
    let out = haldir(&["run", "-c", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("check.sh is writable by everyone"), "{err}");
}

#[test]
fn a_reload_of_an_untrusted_file_is_refused_and_the_socket_is_root_only() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = dir.path().join("haldir.toml");
    let text = format!("[global]\nstate_dir = \"{}\"\n", state.display());
    std::fs::write(&config, &text).unwrap();
    mode(&config, 0o644);
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_haldir"))
        .args(["run", "-c", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sock = state.join("control.sock");
    let start = Instant::now();
    while !sock.exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let socket_mode = std::fs::metadata(&sock).map(|m| m.permissions().mode() & 0o777);
    // Others may now write the file: the daemon must not take it.
    std::fs::write(&config, format!("{text}reconcile_interval = \"7s\"\n")).unwrap();
    mode(&config, 0o666);
    let reload = haldir(&["reload", "-c", config.to_str().unwrap()]);
    let status = haldir(&["status", "--json", "-c", config.to_str().unwrap()]);
    // Someone other than root knocking on the socket.
    let as_nobody = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_haldir"))
        .args(["status", "--socket", sock.to_str().unwrap()])
        .output()
        .expect("setpriv (util-linux) runs");
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert_eq!(
        socket_mode.ok(),
        Some(0o600),
        "the control socket is rw for root only"
    );
    assert_eq!(reload.status.code(), Some(1), "{reload:?}");
    assert!(
        String::from_utf8_lossy(&reload.stderr).contains("writable by everyone"),
        "{reload:?}"
    );
    assert_eq!(
        status.status.code(),
        Some(0),
        "the daemon still answers: {status:?}"
    );
    assert_eq!(
        as_nobody.status.code(),
        Some(1),
        "nobody is turned away: {as_nobody:?}"
    );
    assert!(
        String::from_utf8_lossy(&as_nobody.stderr).contains("ermission denied"),
        "{as_nobody:?}"
    );
}
