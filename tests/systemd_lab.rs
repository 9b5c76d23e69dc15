//! The Debian package under a real systemd: Debian 12 booted under qemu with systemd as PID 1
//! (scripts/systemd-lab, the image built with mmdebstrap from Debian's packages and cached),
//! the package installed with dpkg -i and an operator's session run in it
//! (tests/systemd/operator.sh), every step asserted.
//!
//! Under CI=true a missing prerequisite fails the test; elsewhere the test says it was skipped.

mod common;

use std::process::Command;
use std::sync::Mutex;

static VM: Mutex<()> = Mutex::new(());

#[test]
fn the_package_under_systemd_as_an_operator_uses_it() {
    let tools = [
        "root",
        "qemu-system-x86_64",
        "mmdebstrap",
        "cpio",
        "dpkg",
        "depmod",
    ];
    if !common::available("the real-systemd lab", &tools) {
        return;
    }
    let root = common::root();
    let built = Command::new(root.join("scripts/package/build"))
        .output()
        .expect("scripts/package/build starts");
    assert!(
        built.status.success(),
        "the package builds: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let deb = String::from_utf8_lossy(&built.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let named = dir.path().join("haldir.deb");
    std::fs::copy(root.join(&deb), &named)
        .unwrap_or_else(|e| panic!("the package {deb} is where cargo deb said: {e}"));
    let mut command = Command::new(root.join("scripts/systemd-lab/run"));
    command
        .arg(root.join("tests/systemd/operator.sh"))
        .arg(&named);
    common::run(&VM, "systemd operator", command, &tools, "");
}
