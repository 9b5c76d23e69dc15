//! The `haldir` binary as users and scripts call it.

use std::path::Path;
use std::process::{Command, Output};

fn haldir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_haldir"))
        .args(args)
        .output()
        .expect("the haldir binary runs")
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn check_accepts_a_valid_file_with_a_summary() {
    let out = haldir(&["check", "-c", &example("nat-sync-group.toml")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .trim_end()
            .ends_with("ok: 2 vrrp instances, 2 virtual servers, 5 real servers, 0 fwmark rules"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
}

#[test]
fn check_rejects_with_every_error_located() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[global]\nrouter_id = 5\n\n[ipvs]\non_stop = \"kept\"\n",
    )
    .unwrap();
    let out = haldir(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let p = path.display();
    assert!(
        stderr.contains(&format!(
            "{p}:2:13: error: `router_id` must be a string, found an integer 5"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{p}:5:11: error: `on_stop` must be an on_stop action"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("help: did you mean \"keep\"?"), "{stderr}");
    assert!(
        stderr.trim_end().ends_with("2 errors in the configuration"),
        "{stderr}"
    );
}

#[test]
fn check_reports_a_missing_file() {
    let out = haldir(&["check", "-c", "/nonexistent/haldir.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot read the configuration /nonexistent/haldir.toml")
    );
}

#[test]
fn check_print_shows_the_resolved_config() {
    let out = haldir(&["check", "--print", "-c", &example("kubernetes-dr.toml")]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Defaults are filled in: the instance's preempt and the inherited real-server check.
    assert!(stdout.contains("preempt = true"), "{stdout}");
    assert_eq!(
        stdout.matches("port = 10256").count(),
        4,
        "service check + 3 real servers:\n{stdout}"
    );
}

#[test]
fn schema_is_json_schema_with_every_section() {
    let out = haldir(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let props = schema["properties"].as_object().expect("properties");
    for key in [
        "include",
        "global",
        "vrrp_instance",
        "vrrp_sync_group",
        "track_script",
        "virtual_server",
        "fwmark",
        "netfilter",
        "ipvs",
        "realserver",
    ] {
        assert!(props.contains_key(key), "schema lacks {key}");
    }
    assert_eq!(
        schema["additionalProperties"],
        serde_json::Value::Bool(false),
        "unknown keys are errors"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"wlc\"") && text.contains("\"pseudo-header\""),
        "enums are listed"
    );
}

#[test]
fn json_logs_are_accepted() {
    let out = haldir(&["--log-format", "json", "check", "-c", &example("ipv6.toml")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}
