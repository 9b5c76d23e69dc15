//! The Debian package: built with cargo deb, installed with dpkg -i, its unit checked by
//! `systemd-analyze verify`, then purged (scripts/package/verify).
//!
//! Under CI=true a missing prerequisite (root, dpkg, systemd-analyze) fails the test.

use std::path::Path;
use std::process::Command;

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_package_installs_and_its_unit_verifies() {
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    });
    let missing: Vec<&str> = ["dpkg", "systemd-analyze", "gzip"]
        .into_iter()
        .filter(|t| !have(t))
        .chain((!root).then_some("root"))
        .collect();
    if !missing.is_empty() {
        let msg = format!("the package test needs {}", missing.join(", "));
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
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
