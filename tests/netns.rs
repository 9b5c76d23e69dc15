//! Network scenarios on this host, each in its own private network namespace
//! (scripts/netns/run): VRRP between haldir processes, and with keepalived as the peer.
//! They need root, iproute2, unshare, busybox and curl (keepalived for the interop ones).
//!
//! Under CI=true a missing prerequisite fails the test; elsewhere the test says it was skipped.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

/// One scenario at a time: they measure failover times.
static NET: Mutex<()> = Mutex::new(());

fn missing(tools: &[&'static str]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = tools
        .iter()
        .copied()
        .filter(|tool| {
            // A tool with a blank is a command that must succeed (a Python module, say).
            let probe = if tool.contains(' ') {
                tool.to_string()
            } else {
                format!("command -v {tool}")
            };
            !Command::new("sh")
                .args(["-c", &probe])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        out.push("root");
    }
    out
}

fn scenario(name: &str, tools: &[&'static str]) {
    let _one = NET.lock().unwrap_or_else(|e| e.into_inner());
    let missing = missing(tools);
    if !missing.is_empty() {
        let msg = format!("network scenarios need {}", missing.join(", "));
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("SKIPPED {name}: {msg}");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("timeout")
        .arg("300")
        .arg(root.join("scripts/netns/run"))
        .arg(root.join("tests/netns").join(format!("{name}.sh")))
        .env("HALDIR_BIN", env!("CARGO_BIN_EXE_haldir"))
        .output()
        .expect("scripts/netns/run starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scenario {name} failed ({}):\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    let checks = stdout.lines().filter(|l| l.starts_with("ok - ")).count();
    assert!(checks > 0, "scenario {name} made no check:\n{stdout}");
    assert!(!stdout.contains("not ok - "), "{stdout}");
    eprintln!("{name}: {checks} checks passed\n{stdout}");
}

const BASE: &[&str] = &["ip", "unshare", "busybox", "curl", "timeout"];

#[test]
fn vrrp_failover_between_haldir_directors() {
    scenario("vrrp-failover", BASE);
}

#[test]
fn vrrp_interop_with_keepalived() {
    let mut tools = BASE.to_vec();
    tools.push("keepalived");
    scenario("vrrp-keepalived", &tools);
}

#[test]
fn vrrp_vmac_with_keepalived() {
    let mut tools = BASE.to_vec();
    tools.push("keepalived");
    scenario("vrrp-vmac", &tools);
}

#[test]
fn vrrp_adverts_never_wait_for_a_busy_daemon() {
    let mut tools = BASE.to_vec();
    tools.push("python3");
    scenario("vrrp-busy-loop", &tools);
}

#[test]
fn vrrp_addresses_with_options_and_excluded() {
    scenario("vrrp-addresses", BASE);
}

#[test]
fn vrrp_tracking_and_split_heal() {
    scenario("vrrp-tracking", BASE);
}

#[test]
fn vrrp_sync_group_moves_together() {
    scenario("vrrp-sync-group", BASE);
}

#[test]
fn vrrp_ipv6_and_keepalived() {
    let mut tools = BASE.to_vec();
    tools.push("keepalived");
    scenario("vrrp-ipv6", &tools);
}

#[test]
fn realserver_role_dr() {
    scenario("realserver-dr", BASE);
}

#[test]
fn hostile_adverts_are_dropped_and_counted() {
    let mut tools = BASE.to_vec();
    tools.push("python3");
    scenario("hostile-adverts", &tools);
}

#[test]
fn email_alerts_reach_a_real_smtp_server() {
    let mut tools = BASE.to_vec();
    tools.push("/usr/bin/python3 -c 'import aiosmtpd'");
    scenario("email-alerts", &tools);
}
