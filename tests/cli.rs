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

/// The scenarios' configuration files (tests/fixtures/lab) pass `haldir check` here, without
/// a VM: a key renamed in the code fails this test at once, not a scenario twenty minutes in.
#[test]
fn the_scenarios_fixture_files_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lab");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = haldir(&["check", "-c", path.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(0), "{}: {out:?}", path.display());
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "only {checked} fixture files in {}",
        dir.display()
    );
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

#[test]
fn daemon_commands_say_when_no_daemon_answers() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("control.sock");
    let sock = sock.to_str().unwrap();
    for args in [
        vec!["status", "--socket", sock],
        vec!["reload", "--socket", sock],
        vec!["drain", "web", "10.0.0.1", "--socket", sock],
    ] {
        let out = haldir(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("no haldir daemon answers on") && stderr.contains(sock),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn the_socket_comes_from_a_file_even_an_invalid_one() {
    // `haldir reload` matters most when the new file is wrong: it must still find the daemon.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[global]\nstate_dir = \"/run/elsewhere\"\nbogus = 1\n",
    )
    .unwrap();
    let out = haldir(&["status", "-c", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/run/elsewhere/control.sock"), "{stderr}");
}

#[test]
fn man_page_and_completions_name_every_command() {
    let man = haldir(&["man"]);
    assert_eq!(man.status.code(), Some(0));
    let man = String::from_utf8_lossy(&man.stdout);
    assert!(
        man.starts_with(".ie") || man.contains(".TH haldir 1"),
        "{man}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let out = haldir(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        for cmd in [
            "run", "check", "plan", "apply", "status", "reload", "drain", "undrain",
        ] {
            assert!(text.contains(cmd), "{shell} completion lacks {cmd}");
        }
    }
    for cmd in ["status", "reload", "drain", "undrain"] {
        assert!(man.contains(cmd), "the man page lacks {cmd}");
    }
}

/// Under systemd, when stderr is the journal's stream (JOURNAL_STREAM names its device and
/// inode), every line carries its syslog priority (sd-daemon(3)) and no timestamp of its own,
/// so that `journalctl -p err` finds haldir's errors; elsewhere the lines are plain text.
#[test]
fn log_lines_carry_their_priority_for_the_journal() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[global]\nbogus = 1\n").unwrap();
    let log = dir.path().join("stderr");
    let run = |journal: bool| {
        let file = std::fs::File::create(&log).unwrap();
        let meta = file.metadata().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_haldir"));
        cmd.args(["run", "-c"]).arg(&bad).stderr(file);
        if journal {
            cmd.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
        } else {
            cmd.env_remove("JOURNAL_STREAM");
        }
        let status = cmd.status().unwrap();
        assert!(!status.success(), "a refused file stops the start");
        std::fs::read_to_string(&log).unwrap()
    };
    let journal = run(true);
    assert!(journal.contains("unknown key `bogus`"), "{journal}");
    for line in journal.lines() {
        assert!(
            line.starts_with("<3>"),
            "an error's every line is priority 3: {line:?}"
        );
    }
    assert!(
        !journal.contains("ERROR"),
        "no level word or timestamp: {journal}"
    );
    let plain = run(false);
    assert!(plain.contains("ERROR") && !plain.contains("<3>"), "{plain}");
}

/// docs/reference.md is `haldir man haldir.toml --markdown`: the configuration's own types
/// write it, and it cannot fall behind them. `HALDIR_BLESS=1` rewrites it.
#[test]
fn the_configuration_reference_is_written_from_the_code() {
    let out = haldir(&["man", "haldir.toml", "--markdown"]);
    assert_eq!(out.status.code(), Some(0));
    let made = String::from_utf8(out.stdout).unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reference.md");
    if std::env::var("HALDIR_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &made).unwrap();
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        kept == made,
        "docs/reference.md differs from `haldir man haldir.toml --markdown` (HALDIR_BLESS=1 cargo test --test cli rewrites it)"
    );
    let page = haldir(&["man", "haldir.toml"]);
    assert_eq!(page.status.code(), Some(0));
    let page = String::from_utf8_lossy(&page.stdout);
    assert!(page.starts_with(".TH HALDIR.TOML 5"), "{page}");
    for key in [
        "advert_interval",
        "virtual_router_id",
        "scheduler",
        "real_server",
    ] {
        assert!(page.contains(key), "haldir.toml(5) lacks {key}");
    }
}
