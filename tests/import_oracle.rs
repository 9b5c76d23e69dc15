//! Migration checked by keepalived itself. Every corpus file and a set of generated ones
//! (tests/oracle/gen.rs, fixed seeds) are read by keepalived 2.2.7 — its VRRP process in a
//! network namespace here, its checker in the kernel lab (it needs IPVS) — and its own dump of
//! what it parsed (`keepalived -d`) is compared fact by fact with haldir's reading of the
//! conversion: per VRRP instance, virtual server and real server with its checkers. A
//! difference passes only if the importer reported it on a statement that decides it (or on its
//! block); anything else fails the test.
//!
//! `HALDIR_ORACLE_CASES=N` sets how many generated files (CI: 150).

mod common;
mod oracle;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use oracle::dump::Facts;

fn cases() -> u64 {
    std::env::var("HALDIR_ORACLE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150)
}

/// The interfaces a file names (instances, addresses, routes, tracking, the sync daemon):
/// made before keepalived reads it, as on the director it was written for.
fn interfaces(src: &oracle::judge::Source) -> Vec<String> {
    fn walk(n: &haldir::import::tree::Node, out: &mut Vec<String>, tracking: bool) {
        let mut take = |s: &str| {
            if !s.is_empty() && s.len() <= 15 && !s.contains('/') && !out.iter().any(|o| o == s) {
                out.push(s.to_string());
            }
        };
        match n.key.as_str() {
            "interface" | "lvs_sync_daemon_interface" | "lvs_sync_daemon" | "default_interface" => {
                take(n.arg(0).unwrap_or(""))
            }
            _ if tracking => take(&n.key),
            _ => {}
        }
        for w in n.args.windows(2).filter(|w| w[0] == "dev") {
            take(&w[1]);
        }
        if n.key.starts_with("dev") {
            take(n.arg(0).unwrap_or(""));
        }
        for c in n.children() {
            walk(c, out, n.key == "track_interface");
        }
    }
    let mut out = vec!["eth0".to_string()];
    for n in &src.nodes {
        walk(n, &mut out, false);
    }
    out
}

struct Case {
    name: String,
    conf: PathBuf,
    src: oracle::judge::Source,
    ifaces: Vec<String>,
}

fn cases_in(dir: &Path) -> Vec<Case> {
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(common::root().join("tests/fixtures/keepalived/corpus"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "conf"))
            .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        let conf = dir.join(format!("{name}.conf"));
        std::fs::copy(&p, &conf).unwrap();
        out.push((name, conf));
    }
    for seed in 0..cases() {
        let name = format!("gen-{seed}");
        let conf = dir.join(format!("{name}.conf"));
        std::fs::write(&conf, oracle::generator::config(seed)).unwrap();
        out.push((name, conf));
    }
    out.into_iter()
        .map(|(name, conf)| {
            let src = oracle::judge::source(&conf);
            let ifaces = interfaces(&src);
            Case {
                name,
                conf,
                src,
                ifaces,
            }
        })
        .collect()
}

fn has(src: &oracle::judge::Source, key: &str) -> bool {
    src.nodes.iter().any(|n| n.key == key)
}

/// keepalived's VRRP reading of each file that has an instance, in a namespace of its own.
fn vrrp_dumps(cases: &[Case], keep: &Path) -> BTreeMap<String, Facts> {
    std::fs::create_dir_all(keep).unwrap();
    let script = common::root().join("tests/oracle/keepalived-dump.sh");
    let todo: Vec<&Case> = cases
        .iter()
        .filter(|c| has(&c.src, "vrrp_instance"))
        .collect();
    let results = std::sync::Mutex::new(BTreeMap::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(c) = todo.get(i) else { break };
                    let out = Command::new("unshare")
                        .args(["-n", "sh"])
                        .arg(&script)
                        .arg("-P")
                        .arg(&c.conf)
                        .args(&c.ifaces)
                        .output()
                        .expect("unshare runs");
                    let log = String::from_utf8_lossy(&out.stdout).to_string();
                    let _ = std::fs::write(keep.join(format!("{}.log", c.name)), &log);
                    results
                        .lock()
                        .unwrap()
                        .insert(c.name.clone(), oracle::dump::vrrp(&log));
                }
            });
        }
    });
    results.into_inner().unwrap()
}

/// keepalived's checker reading of each file that has a virtual server, in the kernel lab.
fn check_dumps(cases: &[Case], dir: &Path, keep: &Path) -> BTreeMap<String, Facts> {
    std::fs::create_dir_all(keep).unwrap();
    let stage = dir.join("oracle");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::copy(
        common::root().join("tests/oracle/keepalived-dump.sh"),
        stage.join("keepalived-dump.sh"),
    )
    .unwrap();
    for c in cases.iter().filter(|c| has(&c.src, "virtual_server")) {
        std::fs::copy(&c.conf, stage.join(format!("{}.conf", c.name))).unwrap();
        std::fs::write(stage.join(format!("{}.ifaces", c.name)), c.ifaces.join(" ")).unwrap();
    }
    let root = common::root();
    let out = Command::new(root.join("scripts/kernel-lab/run"))
        .arg(root.join("tests/kernel/import-oracle.sh"))
        .arg(&stage)
        .env("HALDIR_BIN", env!("CARGO_BIN_EXE_haldir"))
        .env("HALDIR_LAB_TIMEOUT", "1500")
        .output()
        .expect("the kernel lab runs");
    let console = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the kernel lab failed ({}):\n{}\n{}",
        out.status,
        console
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut dumps = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for l in console.lines() {
        let l = l.trim_end_matches('\r');
        if let Some(n) = l.strip_prefix("=== BEGIN ") {
            current = Some((n.to_string(), String::new()));
        } else if l.starts_with("=== END ") {
            if let Some((n, log)) = current.take() {
                let _ = std::fs::write(keep.join(format!("{n}.log")), &log);
                dumps.insert(n, oracle::dump::check(&log));
            }
        } else if let Some((_, log)) = current.as_mut() {
            log.push_str(l);
            log.push('\n');
        }
    }
    dumps
}

#[test]
fn keepalived_and_haldir_read_every_file_alike() {
    let tools = [
        "root",
        "unshare",
        "keepalived",
        "qemu-system-x86_64",
        "busybox",
        "cpio",
        "ipvsadm",
    ];
    if !common::available("import oracle (scripts/kernel-lab/install-deps)", &tools) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let all = cases_in(dir.path());
    // HALDIR_ORACLE_REUSE=1 reads the dumps the last run kept in target/oracle (to work on
    // the importer without running keepalived again).
    let keep = common::root().join("target/oracle");
    let reuse = std::env::var("HALDIR_ORACLE_REUSE").is_ok_and(|v| v == "1");
    let (vrrp, check) = if reuse {
        (
            reload(&keep.join("vrrp"), oracle::dump::vrrp),
            reload(&keep.join("check"), oracle::dump::check),
        )
    } else {
        (
            vrrp_dumps(&all, &keep.join("vrrp")),
            check_dumps(&all, dir.path(), &keep.join("check")),
        )
    };
    let known = known_differences();
    let (mut silent, mut compared, mut lossless, mut differences) = (Vec::new(), 0, 0, 0);
    let mut reported_differences = 0;
    for c in &all {
        // A file whose blocks do not balance is refused whole, with its line: no output.
        let Ok(imported) = haldir::import::import(&c.conf, "lb1") else {
            continue;
        };
        lossless += usize::from(imported.losses.is_empty());
        let loaded = haldir::config::load_str(&c.conf.with_extension("toml"), &imported.toml)
            .unwrap_or_else(|e| panic!("{}: haldir check refuses the conversion: {e}", c.name));
        let reported: oracle::judge::Reported = imported
            .losses
            .iter()
            .chain(imported.warnings.iter().map(|w| &w.0))
            .map(|l| (l.path.clone(), l.line))
            .collect();
        let mut theirs = Facts::new();
        let mut ours = Facts::new();
        if let Some(v) = vrrp.get(&c.name) {
            let mut v = v.clone();
            let disabled = v.remove("disabled scripts").unwrap_or_default();
            theirs.extend(v);
            ours.extend(oracle::facts::vrrp(&loaded.config));
            oracle::facts::without_scripts(&mut ours, &disabled);
        }
        if let Some(v) = check.get(&c.name) {
            theirs.extend(v.clone());
            ours.extend(oracle::facts::check(&loaded.config));
        }
        // A virtual_server_group's members: keepalived's dump shows the group, haldir one
        // service per member; they are not compared here.
        if has(&c.src, "virtual_server_group") {
            ours.retain(|k, _| {
                !k.starts_with("vs ") && !k.starts_with("rs ")
                    || oracle::judge::has_block(&c.src, k)
            });
        }
        if theirs.is_empty() && ours.is_empty() {
            continue;
        }
        compared += 1;
        differences += theirs
            .iter()
            .filter(|(k, v)| ours.get(*k) != Some(v))
            .count();
        for (key, a, b) in oracle::judge::silent(&c.src, &reported, &theirs, &ours) {
            let id = format!("{}|{key}", c.name);
            if known.contains(&id) {
                reported_differences += 0;
                continue;
            }
            silent.push(format!("{id}: keepalived {a:?}, haldir {b:?}"));
        }
    }
    reported_differences += differences;
    eprintln!(
        "import oracle: {} files ({} corpus, {} generated), {compared} compared, {lossless} without loss; {reported_differences} differing facts; {} silent; {} known",
        all.len(),
        all.len() as u64 - cases(),
        cases(),
        silent.len(),
        known.len()
    );
    assert!(
        silent.is_empty(),
        "{} differences keepalived shows that the import did not report:\n{}",
        silent.len(),
        silent.join("\n")
    );
}

/// The dumps a previous run kept.
fn reload(dir: &Path, read: fn(&str) -> Facts) -> BTreeMap<String, Facts> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if let (Some(name), Ok(log)) = (p.file_stem(), std::fs::read_to_string(&p)) {
            out.insert(name.to_string_lossy().to_string(), read(&log));
        }
    }
    out
}

/// Differences found and not yet fixed or reported (tests/oracle/known-differences.txt), one
/// `file|scope|field` a line: the list only shrinks.
fn known_differences() -> std::collections::BTreeSet<String> {
    std::fs::read_to_string(common::root().join("tests/oracle/known-differences.txt"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(": ").next().unwrap_or(l).to_string())
        .collect()
}
