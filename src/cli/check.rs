//! `haldir check`: validate, report every problem, print a one-line summary.

use std::path::Path;
use std::process::ExitCode;

use crate::config::{self, LoadError};

pub fn run(path: &Path, print: bool) -> ExitCode {
    match config::load(path) {
        Ok(loaded) => {
            if !loaded.warnings.is_empty() {
                eprintln!("{}\n", loaded.render_warnings());
            }
            let c = &loaded.config;
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
