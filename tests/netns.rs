//! Network scenarios on this host, each in its own private network namespace
//! (scripts/netns/run): VRRP between haldir processes, and with keepalived as the peer.
//! They need root, iproute2, unshare, busybox and curl (keepalived for the interop ones).
//!
//! Under CI=true a missing prerequisite fails the test; elsewhere the test says it was skipped.

mod common;

use std::process::Command;
use std::sync::Mutex;

/// One scenario at a time: they measure failover times.
static NET: Mutex<()> = Mutex::new(());

fn scenario(name: &str, tools: &[&'static str]) {
    let root = common::root();
    let mut command = Command::new("timeout");
    command
        .arg("300")
        .arg(root.join("scripts/netns/run"))
        .arg(root.join("tests/netns").join(format!("{name}.sh")));
    common::run(&NET, name, command, tools, "");
}

const BASE: &[&str] = &["root", "ip", "unshare", "busybox", "curl", "timeout"];

#[test]
fn vrrp_failover_between_haldir_directors() {
    let mut tools = BASE.to_vec();
    tools.push("python3");
    scenario("vrrp-failover", &tools);
}

#[test]
fn vrrp_interop_with_keepalived() {
    let mut tools = BASE.to_vec();
    tools.push("keepalived");
    scenario("vrrp-keepalived", &tools);
}

#[test]
fn vrrp_lower_priority_master_heard_as_keepalived_does() {
    let mut tools = BASE.to_vec();
    tools.extend(["keepalived", "python3"]);
    scenario("vrrp-lower-prio", &tools);
}

#[test]
fn vrrp_track_file_as_keepalived_reads_it() {
    let mut tools = BASE.to_vec();
    tools.extend(["keepalived", "python3"]);
    scenario("vrrp-track-file", &tools);
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
fn vrrp_sockets_that_only_send_hold_nothing() {
    scenario("vrrp-quiet-sockets", BASE);
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
