//! The Debian package: built with cargo deb, installed with dpkg -i, its unit checked by
//! `systemd-analyze verify`, then purged (scripts/package/verify).
//!
//! Under CI=true a missing prerequisite (root, dpkg, systemd-analyze) fails the test.

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn the_package_installs_and_its_unit_verifies() {
    if !common::available(
        "the package test",
        &["dpkg", "systemd-analyze", "gzip", "root"],
    ) {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(dir.join("scripts/package/verify"))
        .output()
        .expect("scripts/package/verify starts");
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(
        out.status.success(),
        "package check failed ({}):\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("ok - systemd-analyze verify"));
    assert!(!text.contains("not ok"));
}
