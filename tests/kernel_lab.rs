//! Scenarios in the kernel lab (scripts/kernel-lab): Debian's kernel, which has IPVS, booted
//! under qemu with this build of haldir inside. Each scenario is a shell script in
//! tests/kernel/ whose checks print "ok"/"not ok"; ipvsadm is the witness.
//!
//! Under CI=true a missing prerequisite fails the test; elsewhere the test says it was skipped.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

/// One VM at a time: each takes a core under TCG, and the first one builds the lab.
static VM: Mutex<()> = Mutex::new(());

const PREREQUISITES: &[&str] = &[
    "qemu-system-x86_64",
    "busybox",
    "cpio",
    "ipvsadm",
    "apt-get",
    "dpkg",
    "depmod",
    "curl",
];

fn scenario(name: &str) {
    scenario_with(name, &[]);
}

/// A scenario with more files of tests/kernel/ copied into the VM's /lab.
fn scenario_with(name: &str, files: &[&str]) {
    let dir = common::root().join("tests/kernel");
    run_in_vm(name, &dir.join(format!("{name}.sh")), files);
}

fn run_in_vm(name: &str, script: &Path, files: &[&str]) {
    run_build_in_vm(name, script, files, Build::Test);
}

/// Which haldir a scenario runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Build {
    /// This test build's binary.
    Test,
    /// The release build, built once the VM lock is held: for figures users would see.
    Release,
}

fn run_build_in_vm(name: &str, script: &Path, files: &[&str], build: Build) {
    let root = common::root();
    let mut command = Command::new(root.join("scripts/kernel-lab/run"));
    command
        .arg(script)
        .args(files.iter().map(|f| root.join("tests/kernel").join(f)))
        // The longest scenario (1,000 reloads under qemu's emulation) takes about 6 minutes.
        .env(
            "HALDIR_LAB_TIMEOUT",
            std::env::var("HALDIR_LAB_TIMEOUT").unwrap_or_else(|_| "900".into()),
        );
    let hint = " (scripts/kernel-lab/install-deps)";
    common::run_with(&VM, name, command, PREREQUISITES, hint, |c| {
        if build == Build::Release {
            c.env("HALDIR_BIN", common::release_binary());
        }
    });
}

#[test]
fn ipvs_every_option() {
    scenario("ipvs-every-option");
}

#[test]
fn ipvs_ownership_and_drift() {
    scenario("ipvs-ownership");
}

#[test]
fn ipvs_traffic_nat_dr_tun() {
    scenario("ipvs-traffic");
}

#[test]
fn health_checks_drive_ipvs() {
    scenario("health-ipvs");
}

#[test]
fn udp_and_dns_checks_drive_a_udp_service() {
    scenario("checks-udp-dns");
}

/// The README's first command (scripts/lab) runs this demo: it must keep working.
#[test]
fn the_lab_demo_directs_traffic_and_fails_over() {
    let root = common::root();
    run_in_vm("lab demo", &root.join("scripts/kernel-lab/demo.sh"), &[]);
}

#[test]
fn reloads_under_load_status_metrics_and_drain() {
    scenario("reload-status");
}

#[test]
fn netfilter_mark_rules_both_backends() {
    scenario("netfilter-marks");
}

#[test]
fn fwmark_cluster_of_two_directors_nftables() {
    scenario("fwmark-cluster");
}

#[test]
fn fwmark_cluster_of_two_directors_iptables() {
    scenario_with("fwmark-cluster-iptables", &["fwmark-cluster.sh"]);
}

#[test]
fn kubernetes_nodes_behind_a_director_pair() {
    scenario("k8s-nodes");
}

#[test]
fn nat_director_pair_with_sync_group() {
    scenario("nat-pair");
}

#[test]
fn tun_real_servers_set_up_by_the_role() {
    scenario("tun-role");
}

#[test]
fn keepalived_and_its_converted_config_agree() {
    scenario_with(
        "import-equivalence",
        &[
            "keepalived-dr.conf",
            "keepalived-nat.conf",
            "keepalived-tun.conf",
        ],
    );
}

#[test]
fn real_keepalived_configurations_and_their_conversions_agree() {
    let corpus = |name: &str| format!("../fixtures/keepalived/corpus/{name}.conf");
    let files: Vec<String> = [
        "codis-lvs-dr",
        "devops-lvs-dr-web",
        "pihole-dns-tcp-lvs",
        "sample-fwmark",
        "magic-lvs-oracle-sorry",
    ]
    .iter()
    .map(|n| corpus(n))
    .collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    scenario_with("import-corpus", &files);
}

#[test]
fn active_active_directors_announced_by_bird() {
    scenario_with("announce-bird", &["active-active.lib.sh"]);
}

/// Three directors with BIRD and BFD under 200 held flows: a haldir crash, a director's death,
/// its rejoin, a drain and stop; no flow lost.
#[test]
fn active_active_directors_lose_no_flow() {
    scenario_with("active-active-flows", &["active-active.lib.sh"]);
}

/// FRR 8.4 instead of BIRD on the directors: convergence and a director's death.
#[test]
fn active_active_directors_with_frr() {
    scenario_with("active-active-frr", &["active-active.lib.sh"]);
}

/// A real server's death moves its own share of the tuples and no more; directors with
/// different histories map every tuple alike.
#[test]
fn active_active_real_server_death_moves_its_share() {
    scenario_with("active-active-realserver", &["active-active.lib.sh"]);
}

#[test]
fn crash_and_restart_of_the_master() {
    scenario("crash-restart");
}

#[test]
fn resources_stay_flat_over_reloads() {
    // Its memory figures are the release build's: what users run (the debug build is several
    // times larger).
    let script = common::root().join("tests/kernel/resources.sh");
    run_build_in_vm("resources", &script, &[], Build::Release);
}
