//! `haldir check`: validate, report every problem, print a one-line summary.

use std::path::Path;
use std::process::ExitCode;

use crate::config::{self, Config, LoadError};

/// What the shipped systemd unit lets the daemon write (`ProtectSystem=strict` with
/// `RuntimeDirectory=haldir` and `StateDirectory=haldir`).
const UNIT_WRITABLE: [&str; 2] = ["/run/haldir", "/var/lib/haldir"];

/// The configured paths that the daemon could not write under the shipped unit: each key with
/// why. `/tmp` is writable there but private to the unit (`PrivateTmp=yes`): a FIFO in it is
/// seen by no one else.
pub(super) fn unit_unwritable(c: &Config) -> Vec<(String, String)> {
    let g = &c.global;
    let mut paths: Vec<(&str, &Path)> = vec![
        ("state_dir", &g.state_dir),
        ("drain_dir", &g.drain_dir),
        ("control_socket", &g.control_socket),
    ];
    for (key, fifo) in [
        ("notify_fifo", &g.notify_fifo),
        ("vrrp_notify_fifo", &g.vrrp_notify_fifo),
        ("lvs_notify_fifo", &g.lvs_notify_fifo),
    ] {
        if let Some(f) = fifo {
            paths.push((key, &f.path));
        }
    }
    let mut out = Vec::new();
    for (key, path) in paths {
        if path.starts_with("/tmp") || path.starts_with("/var/tmp") {
            out.push((
                key.to_string(),
                format!("{} is private to the unit (PrivateTmp=yes)", path.display()),
            ));
        } else if !UNIT_WRITABLE.iter().any(|w| path.starts_with(w)) {
            out.push((
                key.to_string(),
                format!(
                    "{} is read-only under the shipped unit (ProtectSystem=strict; it may write {}): add ReadWritePaths= in a drop-in",
                    path.display(),
                    UNIT_WRITABLE.join(" and ")
                ),
            ));
        }
    }
    out
}

pub(super) fn run(path: &Path, print: bool) -> ExitCode {
    match config::load(path) {
        Ok(loaded) => {
            if !loaded.warnings.is_empty() {
                eprintln!("{}\n", loaded.render_warnings());
            }
            let c = &loaded.config;
            for (key, why) in unit_unwritable(c) {
                eprintln!("note: global.{key}: {why}");
            }
            println!(
                "{}: ok: {} vrrp instance{}, {} virtual server{}, {} real server{}, {} fwmark rule{}{}",
                path.display(),
                c.vrrp_instances.len(),
                plural(c.vrrp_instances.len()),
                c.virtual_servers.len(),
                plural(c.virtual_servers.len()),
                c.real_server_count(),
                plural(c.real_server_count()),
                c.fwmarks.len(),
                plural(c.fwmarks.len()),
                match loaded.warnings.len() {
                    0 => String::new(),
                    n => format!(" ({n} warning{})", plural(n)),
                }
            );
            if print {
                match config::to_toml(c) {
                    Ok(text) => print!("{text}"),
                    Err(e) => {
                        eprintln!("haldir: cannot print the configuration: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Err(e @ LoadError::Io { .. }) => {
            eprintln!("haldir: {e}");
            ExitCode::FAILURE
        }
        Err(LoadError::Invalid(invalid)) => {
            eprintln!("{invalid}");
            ExitCode::FAILURE
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_config;

    #[test]
    fn paths_the_unit_cannot_write_are_named() {
        assert!(
            unit_unwritable(&test_config("")).is_empty(),
            "the defaults fit the unit"
        );
        let c = test_config(
            "[global]\nstate_dir = \"/srv/haldir\"\nnotify_fifo = { path = \"/tmp/k.fifo\" }\n",
        );
        let keys: Vec<String> = unit_unwritable(&c).into_iter().map(|(k, _)| k).collect();
        // drain_dir and control_socket follow state_dir.
        assert_eq!(
            keys,
            ["state_dir", "drain_dir", "control_socket", "notify_fifo"]
        );
    }
}
