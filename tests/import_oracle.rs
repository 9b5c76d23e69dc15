//! Migration checked by keepalived itself. Every corpus file and a set of generated ones
//! (tests/oracle/gen.rs, fixed seeds) are read by keepalived 2.2.7 — its VRRP process in a
//! network namespace here, its checker in the kernel lab (it needs IPVS) — and its own dump of
//! what it parsed (`keepalived -d`) is compared fact by fact with haldir's reading of the
//! conversion: per VRRP instance, virtual server and real server with its checkers. A
//! difference passes only if the importer reported it on a statement that decides it (or on its
//! block); anything else fails the test.
//!
//! `HALDIR_ORACLE_CASES=N` sets how many generated files (CI: 150);
//! `HALDIR_ORACLE_CORPUS=DIR` reads the real files from DIR instead of the corpus (files never
//! seen, tried as a new user would: the known differences are then the corpus's, and listed
//! as gone).

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
    /// The VMACs keepalived makes: they do not exist before it runs (one that did would be
    /// taken for another interface, and the VMAC renamed).
    fn vmacs(n: &haldir::import::tree::Node, out: &mut Vec<String>) {
        if n.key == "use_vmac"
            && let Some(name) = n.arg(0)
        {
            out.push(name.to_string());
        }
        for c in n.children() {
            vmacs(c, out);
        }
    }
    let mut out = vec!["eth0".to_string()];
    let mut made = Vec::new();
    for n in &src.nodes {
        walk(n, &mut out, false);
        vmacs(n, &mut made);
    }
    out.retain(|i| !made.contains(i));
    out
}

struct Case {
    name: String,
    conf: PathBuf,
    src: oracle::judge::Source,
    ifaces: Vec<String>,
    users: Vec<String>,
    scripts: Vec<String>,
    /// The network namespace the file enters (`net_namespace`): on the director it exists.
    netns: String,
}

/// The programs a file runs (tracking and check scripts, notify commands): they exist on the
/// director, so stubs stand for them here (keepalived disables a script it cannot find).
fn scripts(src: &oracle::judge::Source) -> Vec<String> {
    fn walk(n: &haldir::import::tree::Node, out: &mut Vec<String>) {
        let runs = matches!(
            n.key.as_str(),
            "script" | "misc_path" | "quorum_up" | "quorum_down"
        ) || n.key.starts_with("notify");
        if runs
            && let Some(p) = n
                .arg(0)
                .and_then(|a| a.trim_matches(['"', '\'']).split_whitespace().next())
            && p.starts_with('/')
            && !p.contains(['$', '`', '\'', '"'])
            && !out.iter().any(|o| o == p)
        {
            out.push(p.to_string());
        }
        for c in n.children() {
            walk(c, out);
        }
    }
    let mut out = Vec::new();
    for n in &src.nodes {
        walk(n, &mut out);
    }
    out
}

/// The script users a file names (script_user, a vrrp_script's user, a notify script's
/// trailing user and group, as the importer reads them) and keepalived's own
/// default under enable_script_security, keepalived_script: they exist on the director the
/// file was written for, so keepalived finds them here too.
fn users(src: &oracle::judge::Source) -> Vec<String> {
    let mut out = vec!["keepalived_script".to_string()];
    fn named<'a>(n: &'a haldir::import::tree::Node, out: &mut Vec<&'a [String]>) {
        if n.key == "script_user" || n.key == "user" {
            out.push(&n.args[..n.args.len().min(2)]);
        } else if n.key.starts_with("notify") && n.args.len() > 1 {
            out.push(&n.args[1..n.args.len().min(3)]);
        }
        for c in n.children() {
            named(c, out);
        }
    }
    let mut lists = Vec::new();
    for n in &src.nodes {
        named(n, &mut lists);
    }
    for list in lists {
        for a in list {
            if !out.contains(a)
                && a.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "_-.".contains(ch))
            {
                out.push(a.clone());
            }
        }
    }
    out
}

fn cases_in(dir: &Path) -> Vec<Case> {
    let corpus = std::env::var("HALDIR_ORACLE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| common::root().join("tests/fixtures/keepalived/corpus"));
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus)
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
        let text = oracle::generator::config(seed);
        std::fs::write(&conf, &text).unwrap();
        // Kept for whoever reads a difference about it (target/oracle-gen/gen-N.conf).
        let kept = common::root().join("target/oracle-gen");
        let _ = std::fs::create_dir_all(&kept);
        let _ = std::fs::write(kept.join(format!("{name}.conf")), &text);
        out.push((name, conf));
    }
    out.into_iter()
        .map(|(name, conf)| {
            let src = oracle::judge::source(&conf);
            let ifaces = interfaces(&src);
            let users = users(&src);
            let scripts = scripts(&src);
            let netns = src
                .nodes
                .iter()
                .find(|n| n.key == "net_namespace")
                .and_then(|n| n.arg(0))
                .unwrap_or_default()
                .to_string();
            Case {
                name,
                conf,
                src,
                ifaces,
                users,
                scripts,
                netns,
            }
        })
        .collect()
}

fn has(src: &oracle::judge::Source, key: &str) -> bool {
    src.nodes.iter().any(|n| n.key == key)
}

/// Whether keepalived's VRRP process needs IPVS for the file (a sync daemon): it then reads
/// it in the kernel lab.
fn vrrp_needs_ipvs(src: &oracle::judge::Source) -> bool {
    fn any(n: &haldir::import::tree::Node) -> bool {
        n.key.starts_with("lvs_sync_daemon") || n.children().iter().any(any)
    }
    src.nodes.iter().any(any)
}

/// keepalived's VRRP reading of each file that has an instance, in a namespace of its own.
fn vrrp_dumps(cases: &[Case], keep: &Path) -> BTreeMap<String, Facts> {
    std::fs::create_dir_all(keep).unwrap();
    let script = common::root().join("tests/oracle/keepalived-dump.sh");
    let todo: Vec<&Case> = cases
        .iter()
        .filter(|c| has(&c.src, "vrrp_instance") && !vrrp_needs_ipvs(&c.src))
        .collect();
    let results = std::sync::Mutex::new(BTreeMap::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while let Some(c) = todo.get(next.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
                {
                    let out = Command::new("unshare")
                        .args(["-n", "-m", "sh"])
                        .env("KA_USERS", c.users.join(" "))
                        .env("KA_SCRIPTS", c.scripts.join(" "))
                        .env("KA_NETNS", &c.netns)
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

/// What keepalived read in the kernel lab: the checker's reading of each file with a virtual
/// server, and the VRRP reading of those whose sync daemon needs IPVS.
struct LabDumps {
    check: BTreeMap<String, Facts>,
    vrrp: BTreeMap<String, Facts>,
}

fn lab_dumps(cases: &[Case], dir: &Path, keep: &Path) -> LabDumps {
    for sub in ["check", "vrrp-lab"] {
        std::fs::create_dir_all(keep.join(sub)).unwrap();
    }
    let stage = dir.join("oracle");
    std::fs::create_dir_all(&stage).unwrap();
    let root = common::root();
    std::fs::copy(
        root.join("tests/oracle/keepalived-dump.sh"),
        stage.join("keepalived-dump.sh"),
    )
    .unwrap();
    for c in cases {
        let check = has(&c.src, "virtual_server");
        let vrrp = has(&c.src, "vrrp_instance") && vrrp_needs_ipvs(&c.src);
        if !check && !vrrp {
            continue;
        }
        std::fs::copy(&c.conf, stage.join(format!("{}.conf", c.name))).unwrap();
        std::fs::write(stage.join(format!("{}.ifaces", c.name)), c.ifaces.join(" ")).unwrap();
        std::fs::write(stage.join(format!("{}.users", c.name)), c.users.join(" ")).unwrap();
        std::fs::write(stage.join(format!("{}.netns", c.name)), &c.netns).unwrap();
        std::fs::write(
            stage.join(format!("{}.scripts", c.name)),
            c.scripts.join(" "),
        )
        .unwrap();
        for (on, mark) in [(check, "check"), (vrrp, "vrrp")] {
            if on {
                std::fs::write(stage.join(format!("{}.{mark}", c.name)), "").unwrap();
            }
        }
    }
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
    let mut dumps = LabDumps {
        check: BTreeMap::new(),
        vrrp: BTreeMap::new(),
    };
    for (mode, name, log) in sections(&console) {
        let vrrp = mode == "-P";
        let sub = if vrrp { "vrrp-lab" } else { "check" };
        let _ = std::fs::write(keep.join(sub).join(format!("{name}.log")), &log);
        if vrrp {
            dumps.vrrp.insert(name, oracle::dump::vrrp(&log));
        } else {
            dumps.check.insert(name, oracle::dump::check(&log));
        }
    }
    dumps
}

/// The console's "=== BEGIN MODE NAME" … "=== END" sections: (mode, name, log).
fn sections(console: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String, String)> = None;
    for l in console.lines().map(|l| l.trim_end_matches('\r')) {
        if let Some(rest) = l.strip_prefix("=== BEGIN ") {
            let (mode, name) = rest.split_once(' ').unwrap_or(("", rest));
            current = Some((mode.to_string(), name.to_string(), String::new()));
        } else if l == "=== END" {
            out.extend(current.take());
        } else if let Some((_, _, log)) = current.as_mut() {
            log.push_str(l);
            log.push('\n');
        }
    }
    out
}

/// keepalived's readings: VRRP (host and lab) and checker, by file name.
struct Dumps {
    vrrp: BTreeMap<String, Facts>,
    check: BTreeMap<String, Facts>,
}

/// Runs keepalived on every case, or with HALDIR_ORACLE_REUSE=1 reads the dumps the last run
/// kept in target/oracle (to work on the importer without running keepalived again).
fn dumps(all: &[Case], dir: &Path) -> Dumps {
    let keep = common::root().join("target/oracle");
    if std::env::var("HALDIR_ORACLE_REUSE").is_ok_and(|v| v == "1") {
        let mut vrrp = reload(&keep.join("vrrp"), oracle::dump::vrrp);
        vrrp.extend(reload(&keep.join("vrrp-lab"), oracle::dump::vrrp));
        return Dumps {
            vrrp,
            check: reload(&keep.join("check"), oracle::dump::check),
        };
    }
    let _ = std::fs::remove_dir_all(&keep);
    // The lab's VM takes one core, the readings here the other: side by side.
    let (lab, mut vrrp) = std::thread::scope(|s| {
        let lab = s.spawn(|| {
            let started = std::time::Instant::now();
            let lab = lab_dumps(all, dir, &keep);
            let took = started.elapsed().as_secs_f64();
            eprintln!("import oracle: the kernel lab took {took:.0} s");
            lab
        });
        let started = std::time::Instant::now();
        let vrrp = vrrp_dumps(all, &keep.join("vrrp"));
        let took = started.elapsed().as_secs_f64();
        eprintln!("import oracle: the VRRP readings took {took:.0} s");
        (lab.join().expect("the kernel lab's thread"), vrrp)
    });
    vrrp.extend(lab.vrrp);
    Dumps {
        vrrp,
        check: lab.check,
    }
}

/// keepalived's facts and haldir's for one converted file, or None when neither has any.
fn facts(c: &Case, d: &Dumps, config: &haldir::config::Config) -> Option<(Facts, Facts)> {
    let mut theirs = Facts::new();
    let mut ours = Facts::new();
    // A process that ended without its dump: nothing of its side is compared (the file is
    // listed instead).
    let no_dump = |v: &Facts| v.contains_key(oracle::dump::NO_DUMP);
    if [d.vrrp.get(&c.name), d.check.get(&c.name)]
        .into_iter()
        .flatten()
        .any(no_dump)
    {
        theirs.insert(oracle::dump::NO_DUMP.into(), "yes".into());
    }
    if let Some(v) = d.vrrp.get(&c.name).filter(|v| !no_dump(v)) {
        let mut v = v.clone();
        let disabled = v.remove("disabled scripts").unwrap_or_default();
        let missing = v.remove("missing programs").unwrap_or_default();
        theirs.extend(v);
        ours.extend(oracle::facts::vrrp(config));
        oracle::facts::without_scripts(&mut ours, &disabled);
        oracle::facts::without_programs(&mut ours, &missing);
    }
    if let Some(v) = d.check.get(&c.name).filter(|v| !no_dump(v)) {
        theirs.extend(v.clone());
        ours.extend(oracle::facts::check(config));
        oracle::facts::without_idle_forwarding(&mut theirs, &mut ours);
    }
    // A virtual_server_group's members: keepalived's dump shows the group, haldir one
    // service per member; they are compared by the IPVS table (import-corpus), not here.
    if has(&c.src, "virtual_server_group") {
        ours.retain(|k, _| {
            !k.starts_with("vs ") && !k.starts_with("rs ") || oracle::judge::has_block(&c.src, k)
        });
    }
    (!theirs.is_empty() || !ours.is_empty()).then_some((theirs, ours))
}

#[derive(Default)]
struct Tally {
    compared: usize,
    lossless: usize,
    differing: usize,
    /// `file|scope|field`, with both values, of every difference nobody reported.
    silent: Vec<(String, String)>,
}

fn compare(c: &Case, d: &Dumps, t: &mut Tally) {
    // A file whose blocks do not balance is refused whole, with its line: no output.
    let Ok(imported) = haldir::import::import(&c.conf, "lb1") else {
        return;
    };
    t.lossless += usize::from(imported.losses.is_empty());
    let loaded = haldir::config::load_str(&c.conf.with_extension("toml"), &imported.toml)
        .unwrap_or_else(|e| panic!("{}: haldir check refuses the conversion: {e}", c.name));
    let Some((mut theirs, ours)) = facts(c, d, &loaded.config) else {
        return;
    };
    assert!(
        !theirs.contains_key(oracle::dump::TIMED_OUT),
        "{}: keepalived had not dumped its configuration after 2 minutes",
        c.name
    );
    // keepalived refusing the file passes where the import said keepalived does not start.
    let said_so = imported
        .losses
        .iter()
        .any(|l| l.what.contains("keepalived does not start"));
    if theirs.remove(oracle::dump::NO_DUMP).is_some() && !said_so {
        let why = "keepalived ended without dumping what it read".to_string();
        t.silent
            .push((format!("{}|keepalived|no dump", c.name), why));
    }
    let reported: oracle::judge::Reported = imported
        .losses
        .iter()
        .chain(imported.warnings.iter().map(|w| &w.0))
        .map(|l| (l.path.clone(), l.line))
        .collect();
    t.compared += 1;
    let keys: std::collections::BTreeSet<&String> = theirs.keys().chain(ours.keys()).collect();
    t.differing += keys
        .iter()
        .filter(|k| theirs.get(**k) != ours.get(**k))
        .count();
    for (key, a, b) in oracle::judge::silent(&c.src, &reported, &theirs, &ours) {
        t.silent.push((
            format!("{}|{key}", c.name),
            format!("keepalived {a:?}, haldir {b:?}"),
        ));
    }
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
    let d = dumps(&all, dir.path());
    let mut t = Tally::default();
    for c in &all {
        compare(c, &d, &mut t);
    }
    let known = known_differences();
    let found: std::collections::BTreeSet<&String> = t.silent.iter().map(|(id, _)| id).collect();
    let new: Vec<String> = t
        .silent
        .iter()
        .filter(|(id, _)| !known.contains(id))
        .map(|(id, v)| format!("{id}: {v}"))
        .collect();
    let gone: Vec<&String> = known.iter().filter(|k| !found.contains(k)).collect();
    // HALDIR_ORACLE_LIST=1 prints every difference not reported, to rebuild the list.
    if std::env::var("HALDIR_ORACLE_LIST").is_ok_and(|v| v == "1") {
        for (id, v) in &t.silent {
            println!("{id}: {v}");
        }
    }
    eprintln!(
        "import oracle: {} files ({} generated), {} compared, {} without loss; {} differing facts, {} not reported ({} listed as known)",
        all.len(),
        cases(),
        t.compared,
        t.lossless,
        t.differing,
        t.silent.len(),
        known.len()
    );
    assert!(
        new.is_empty(),
        "{} differences keepalived shows that the import did not report:\n{}",
        new.len(),
        new.join("\n")
    );
    assert!(
        gone.is_empty(),
        "fixed or now reported: take these lines out of tests/oracle/known-differences.txt:\n{}",
        gone.iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join("\n")
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
