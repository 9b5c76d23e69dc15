//! The netfilter mark rules of `[[fwmark]]`: rendered by [`rules`] (pure) and loaded by the
//! backend of `[netfilter]` — one nftables table, or one iptables chain in the mangle table
//! jumped to from PREROUTING — replaced as a whole, atomically, and never touching another
//! tool's rules.

pub(crate) mod peers;
pub(crate) mod rules;

use std::io::Write;
use std::process::{Command, Stdio};

use crate::config::Config;
use crate::config::types::NetfilterBackend;
use rules::MarkRule;

#[derive(Debug, thiserror::Error)]
pub(crate) enum NetfilterError {
    #[error("cannot run {tool}: {source}")]
    Spawn {
        tool: String,
        source: std::io::Error,
    },
    #[error("{tool} refused the rules: {stderr}")]
    Refused { tool: String, stderr: String },
}

fn run(tool: &str, args: &[&str], input: Option<&str>) -> Result<String, NetfilterError> {
    let spawn = |source| NetfilterError::Spawn {
        tool: tool.to_string(),
        source,
    };
    let mut child = Command::new(tool)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn)?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(text.as_bytes()).map_err(spawn)?;
    }
    let out = child.wait_with_output().map_err(spawn)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(NetfilterError::Refused {
            tool: format!("{tool} {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// The rules of a configuration, peers resolved from the neighbour table. With `patient`, a
/// peer not yet known is given 300 ms to answer the probe (one-shot `haldir apply`); the daemon
/// looks again every few seconds instead of waiting.
pub(crate) fn desired(config: &Config, patient: bool) -> Vec<MarkRule> {
    let resolve = || -> Vec<MarkRule> {
        config
            .fwmarks
            .iter()
            .map(|r| MarkRule::resolve(r, peers::mac_of))
            .collect()
    };
    let rules = resolve();
    let wanted: usize = config
        .fwmarks
        .iter()
        .map(|r| r.exclude_peers.len() + r.exclude_source_mac.len())
        .sum();
    let found: usize = rules.iter().map(|r| r.exclude_macs.len()).sum();
    if patient && found < wanted {
        std::thread::sleep(std::time::Duration::from_millis(300));
        return resolve();
    }
    rules
}

/// Loads the rules (an empty list still owns the empty table or chain).
pub(crate) fn apply(config: &Config, rules: &[MarkRule]) -> Result<(), NetfilterError> {
    let name = &config.netfilter.table;
    match config.netfilter.backend {
        NetfilterBackend::Nftables => {
            run("nft", &["-f", "-"], Some(&rules::nft_script(name, rules))).map(|_| ())
        }
        NetfilterBackend::Iptables => {
            for (tool, v6) in [("iptables", false), ("ip6tables", true)] {
                // A family without rules has no chain of haldir's: a host without ip6tables
                // needs none for IPv4 rules.
                if !rules.iter().any(|r| r.destination.addr().is_ipv6() == v6) {
                    remove_chain(tool, name);
                    continue;
                }
                run(
                    &format!("{tool}-restore"),
                    &["--noflush"],
                    Some(&rules::iptables_restore(name, rules, v6)),
                )?;
                // The jump from PREROUTING, exactly once.
                if run(
                    tool,
                    &["-t", "mangle", "-C", "PREROUTING", "-j", name],
                    None,
                )
                .is_err()
                {
                    run(
                        tool,
                        &["-t", "mangle", "-I", "PREROUTING", "1", "-j", name],
                        None,
                    )?;
                }
            }
            Ok(())
        }
    }
}

/// Removes haldir's chain and the jumps to it, if there are any.
fn remove_chain(tool: &str, name: &str) {
    while run(
        tool,
        &["-t", "mangle", "-D", "PREROUTING", "-j", name],
        None,
    )
    .is_ok()
    {}
    let _ = run(tool, &["-t", "mangle", "-F", name], None);
    let _ = run(tool, &["-t", "mangle", "-X", name], None);
}

/// Removes everything haldir put in: its table, or its chain and the jump to it.
pub(crate) fn remove(config: &Config) -> Result<(), NetfilterError> {
    let name = &config.netfilter.table;
    match config.netfilter.backend {
        NetfilterBackend::Nftables => {
            run("nft", &["-f", "-"], Some(&rules::nft_remove(name))).map(|_| ())
        }
        NetfilterBackend::Iptables => {
            for tool in ["iptables", "ip6tables"] {
                remove_chain(tool, name);
            }
            Ok(())
        }
    }
}

/// Whether the configuration asks for any mark rule.
pub(crate) fn wanted(config: &Config) -> bool {
    !config.fwmarks.is_empty()
}
