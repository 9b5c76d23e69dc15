//! The one harness of the shell scenarios, shared by the network-namespace driver
//! (tests/netns.rs, scripts/netns/run) and the kernel-lab driver (tests/kernel_lab.rs,
//! scripts/kernel-lab/run). A scenario prints `ok - …` / `not ok - …` lines; it passes when its
//! runner exits 0, it made at least one check and none failed.
//!
//! Every test crate that needs a prerequisite (root, a daemon, qemu) asks [`require`] or
//! [`available`]: under CI=true a missing prerequisite fails the test; elsewhere the test says it
//! was skipped.

#![allow(dead_code)] // each test crate uses its part

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

/// The prerequisites of `tools` that are missing here. "root" stands for running as root; a
/// tool with a blank is a command that must succeed (a Python module, say).
pub fn missing(tools: &[&'static str]) -> Vec<&'static str> {
    tools
        .iter()
        .copied()
        .filter(|tool| {
            if *tool == "root" {
                // SAFETY: geteuid has no preconditions.
                return unsafe { libc::geteuid() } != 0;
            }
            !have(tool)
        })
        .collect()
}

/// A program on PATH, or (with a blank) a command that succeeds.
pub fn have(tool: &str) -> bool {
    let probe = if tool.contains(' ') {
        tool.to_string()
    } else {
        format!("command -v {tool}")
    };
    Command::new("sh")
        .args(["-c", &probe])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// True when `ok`. Otherwise the test cannot run: under CI=true that fails it (CI has
/// everything the suite needs), elsewhere it says it is skipped and the caller returns.
pub fn require(ok: bool, what: &str) -> bool {
    if !ok {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "{what} is needed, and CI has it"
        );
        eprintln!("SKIPPED: {what} is missing");
    }
    ok
}

/// [`require`] for a list of prerequisites (see [`missing`]).
pub fn available(test: &str, tools: &[&'static str]) -> bool {
    let missing = missing(tools);
    require(
        missing.is_empty(),
        &format!("{test}: {}", missing.join(", ")),
    )
}

/// Runs a scenario — `command` is its runner with the script and its files as arguments —
/// under `lock` (one at a time: they measure failover times, and each VM takes a core under
/// TCG). `hint` says what to install when a prerequisite is missing. Panics with the
/// transcript when it fails.
pub fn run(lock: &Mutex<()>, name: &str, command: Command, tools: &[&'static str], hint: &str) {
    run_with(lock, name, command, tools, hint, |_| {});
}

/// [`run`], with `before` called on the command once the lock is held (a build that must not
/// compete with another scenario for the CPU).
pub fn run_with(
    lock: &Mutex<()>,
    name: &str,
    mut command: Command,
    tools: &[&'static str],
    hint: &str,
    before: impl FnOnce(&mut Command),
) {
    let _one = lock.lock().unwrap_or_else(|e| e.into_inner());
    if !available(&format!("scenario {name}{hint}"), tools) {
        return;
    }
    before(&mut command);
    // The binary under test, unless the caller chose one (the release build).
    if !command.get_envs().any(|(k, _)| k == "HALDIR_BIN") {
        command.env("HALDIR_BIN", env!("CARGO_BIN_EXE_haldir"));
    }
    let out = command.output().expect("the scenario runner starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scenario {name} failed ({}):\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    // Shown with --nocapture: the scenario's transcript.
    println!("{stdout}");
    let checks = stdout.lines().filter(|l| l.starts_with("ok - ")).count();
    assert!(checks > 0, "scenario {name} made no check:\n{stdout}");
    assert!(!stdout.contains("not ok - "), "{stdout}");
    eprintln!("{name}: {checks} checks passed");
}

/// Builds the release binary (what users run, and what figures are quoted for) and returns
/// its path.
pub fn release_binary() -> std::path::PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--release", "--locked", "--bin", "haldir"])
        .current_dir(root())
        .output()
        .expect("cargo starts");
    assert!(
        built.status.success(),
        "the release build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    root().join("target/release/haldir")
}

/// The repository's root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
