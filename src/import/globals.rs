//! global_defs keywords about the process and its defaults: umask, memory locking, failure
//! logging and the VRRP multicast groups (core/global_parser.c).

use super::emit::V;
use super::mapper::Mapper;
use super::tree::Node;

/// VRRP's multicast groups (RFC 9568 §5.1.1.2), the only ones haldir sends to.
const MCAST4: &str = "224.0.0.18";
const MCAST6: &str = "ff02::12";

impl Mapper {
    /// The keys gathered for a FIFO, and its script's statement.
    fn fifo_entry(&mut self, key: &str) -> &mut super::mapper::FifoKeys {
        self.globals.fifos.entry(key.to_string()).or_default()
    }

    /// The FIFOs gathered from global_defs, into `[global]`: one without a path opens nothing
    /// in keepalived (core/notify.c fifo_open), so its script does not run.
    pub(super) fn fifo_tables(&mut self, global: &mut Vec<(String, V)>) {
        for (key, (table, script)) in std::mem::take(&mut self.globals.fifos) {
            if table.iter().any(|(k, _)| k == "path") {
                global.push((key, V::Table(table)));
            } else if let Some(n) = script {
                self.warn(
                    &n,
                    &format!("no {key}: keepalived opens no FIFO and runs no script"),
                );
            }
        }
    }

    /// Takes one of these global_defs keywords into `[global]`; false when `n` is none.
    pub(super) fn process_keyword(&mut self, n: &Node, global: &mut Vec<(String, V)>) -> bool {
        match n.key.as_str() {
            "umask" => match umask(&n.args) {
                Ok(m) => global.push(("umask".into(), V::Str(format!("{m:04o}")))),
                Err(e) => self.warn(
                    n,
                    &format!("keepalived rejects it ({e}) and keeps its umask: so does haldir"),
                ),
            },
            k @ ("vrrp_no_swap" | "checker_no_swap") => {
                if !global.iter().any(|(k, _)| k == "no_swap") {
                    global.push(("no_swap".into(), V::Bool(true)));
                }
                let other = if k == "vrrp_no_swap" {
                    "checker_no_swap"
                } else {
                    "vrrp_no_swap"
                };
                if !std::mem::replace(&mut self.globals.no_swap_seen, true) {
                    self.warn(n, &format!("haldir is one process: no_swap locks its checks and VRRP together, as {k} with {other} would"));
                }
            }
            "checker_log_all_failures" => {
                if let Some(on) = self.boolean(n) {
                    global.push(("log_all_failures".into(), V::Bool(on)));
                }
            }
            k @ ("notify_fifo" | "vrrp_notify_fifo" | "lvs_notify_fifo") => {
                if let Some(path) = self.one(n) {
                    let key = k.to_string();
                    self.fifo_entry(&key).0.push(("path".into(), V::str(path)));
                }
                if n.args.len() > 1 {
                    self.script_runs_as(n, &n.args[1..]);
                }
            }
            k @ ("notify_fifo_script" | "vrrp_notify_fifo_script" | "lvs_notify_fifo_script") => {
                let key = k.trim_end_matches("_script").to_string();
                if let Some(cmd) = self.script_command(n, super::scripts::Trailing::User) {
                    let entry = self.fifo_entry(&key);
                    entry.0.push(("command".into(), cmd));
                    entry.1 = Some(n.clone());
                }
            }
            "vrrp_check_unicast_src" => self.globals.check_unicast_src = true,
            "vrrp_notify_priority_changes" => {
                if let Some(on) = self.boolean(n) {
                    global.push(("notify_priority_changes".into(), V::Bool(on)));
                }
            }
            k @ ("vrrp_mcast_group4" | "vrrp_mcast_group6") => {
                let default = if k == "vrrp_mcast_group4" {
                    MCAST4
                } else {
                    MCAST6
                };
                let same = n
                    .arg(0)
                    .and_then(|a| a.parse::<std::net::IpAddr>().ok())
                    .zip(default.parse::<std::net::IpAddr>().ok())
                    .is_some_and(|(a, b)| a == b);
                if !same {
                    self.lost(
                        n,
                        &format!("haldir sends multicast adverts to {default} only"),
                    );
                }
            }
            _ => return false,
        }
        true
    }
}

/// keepalived's umask: a number as strtol reads it (0 prefix octal, 0x hex), or bit names
/// joined by `|` (core/global_parser.c umask_handler).
fn umask(args: &[String]) -> Result<u32, String> {
    let first = args.first().ok_or("missing parameter")?;
    if first.starts_with(|c: char| c.is_ascii_digit()) {
        if args.len() != 1 {
            return Err("extra parameters".into());
        }
        let v =
            super::numbers::strtol(first).map_err(|_| format!("invalid umask value {first}"))?;
        return u32::try_from(v)
            .ok()
            .filter(|v| v & !0o777 == 0)
            .ok_or_else(|| format!("invalid umask value {first}"));
    }
    const BITS: &[(&str, u32)] = &[
        ("IRUSR", 0o400),
        ("IWUSR", 0o200),
        ("IXUSR", 0o100),
        ("IRWXU", 0o700),
        ("IRGRP", 0o040),
        ("IWGRP", 0o020),
        ("IXGRP", 0o010),
        ("IRWXG", 0o070),
        ("IROTH", 0o004),
        ("IWOTH", 0o002),
        ("IXOTH", 0o001),
        ("IRWXO", 0o007),
    ];
    let (mut bits, mut need_or) = (0, false);
    for word in args {
        let mut p = word.as_str();
        while !p.is_empty() {
            if need_or {
                p = p
                    .strip_prefix('|')
                    .ok_or(format!("invalid umask syntax {word}"))?;
                need_or = false;
                continue;
            }
            let (_, b) = BITS
                .iter()
                .find(|(name, _)| p.starts_with(name))
                .ok_or(format!("unknown umask bit {p}"))?;
            bits |= b;
            p = &p[5..];
            need_or = true;
        }
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::umask;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn umask_as_keepalived_reads_it() {
        assert_eq!(umask(&words("022")), Ok(0o022));
        assert_eq!(umask(&words("0x12")), Ok(0o022));
        assert_eq!(
            umask(&words("IXUSR | IWGRP | IXGRP | IWOTH | IXOTH")),
            Ok(0o133)
        );
        assert_eq!(umask(&words("IRWXG|IRWXO")), Ok(0o077));
        assert!(umask(&words("01000")).is_err());
        assert!(umask(&words("IRUSR IWUSR")).is_err());
        assert!(umask(&words("IFOO")).is_err());
    }
}
