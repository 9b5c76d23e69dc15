//! IPVS programming speed, haldir against ipvsadm-restore, in the same kernel and run.
//! Needs root and a kernel with IPVS: run it in the kernel lab with scripts/bench/ipvs-load.
//!
//! For each repetition, from an empty table: `ipvsadm-restore` of N services × M real
//! servers, then `haldir`'s reconciler (configuration → desired state → diff → pipelined
//! netlink) of the same table; the two tables must come out identical (`ipvsadm-save -n`).
//! Then, with the table loaded, one real server's weight change: haldir's path for a health
//! change (one operation, no table read) against `ipvsadm -e`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use haldir::config;
use haldir::health::HealthMap;
use haldir::ipvs::client::Client;
use haldir::ipvs::codec::Request;
use haldir::reconcile::Reconciler;
use haldir::reconcile::desired::{self, Roles};
use haldir::reconcile::diff::Op;

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn addr(s: usize) -> String {
    format!("10.{}.{}.1", s / 250, s % 250)
}

fn config_text(services: usize, dests: usize) -> String {
    let mut t = String::from("[global]\nstate_dir = \"/tmp/haldir-bench\"\n");
    for s in 0..services {
        t += &format!(
            "[[virtual_server]]\naddress = \"{}:80\"\nscheduler = \"wlc\"\nforwarding = \"dr\"\n",
            addr(s)
        );
        for d in 0..dests {
            t += &format!(
                "[[virtual_server.real_server]]\naddress = \"172.16.{}.{}:80\"\nweight = {}\n",
                s % 250,
                d + 1,
                d + 1
            );
        }
    }
    t
}

fn restore_text(services: usize, dests: usize) -> String {
    let mut t = String::new();
    for s in 0..services {
        t += &format!("-A -t {}:80 -s wlc\n", addr(s));
        for d in 0..dests {
            t += &format!(
                "-a -t {}:80 -r 172.16.{}.{}:80 -g -w {}\n",
                addr(s),
                s % 250,
                d + 1,
                d + 1
            );
        }
    }
    t
}

fn saved() -> Vec<String> {
    let out = Command::new("ipvsadm")
        .args(["-S", "-n"])
        .output()
        .expect("ipvsadm -S");
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

fn flush(client: &mut Client) {
    client.execute_one(Request::Flush).expect("flush");
    let _ = std::fs::remove_dir_all("/tmp/haldir-bench");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let (services, dests, reps) = (arg(1, 1000), arg(2, 10), arg(3, 5));
    let loaded = config::load_str(Path::new("/tmp/bench.toml"), &config_text(services, dests))
        .expect("bench config");
    let want = desired::desired(&loaded.config, &HealthMap::default(), &Roles::All);
    let restore = restore_text(services, dests);
    let mut client = Client::connect().expect("IPVS");

    let (mut t_restore, mut t_haldir) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        flush(&mut client);
        let start = Instant::now();
        let mut child = Command::new("ipvsadm-restore")
            .stdin(Stdio::piped())
            .spawn()
            .expect("ipvsadm-restore");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(restore.as_bytes())
            .expect("write");
        assert!(
            child.wait().expect("wait").success(),
            "ipvsadm-restore failed"
        );
        t_restore.push(start.elapsed());
        let reference = saved();

        flush(&mut client);
        let start = Instant::now();
        let mut r = Reconciler::new("/tmp/haldir-bench".into()).expect("reconciler");
        let report = r.apply(&want).expect("apply");
        t_haldir.push(start.elapsed());
        assert!(report.is_clean(), "{:?}", report.failed.first());
        assert_eq!(report.applied.len(), services * (dests + 1));
        assert_eq!(
            saved(),
            reference,
            "haldir and ipvsadm-restore made different tables"
        );
        eprintln!(
            "rep {rep}: ipvsadm-restore {}, haldir {}",
            ms(t_restore[rep]),
            ms(t_haldir[rep])
        );
    }

    // One weight change with the whole table loaded.
    let mut r = Reconciler::new("/tmp/haldir-bench".into()).expect("reconciler");
    let target = &want.services[services / 2];
    let (mut t_one, mut t_one_ipvsadm) = (Vec::new(), Vec::new());
    for rep in 0..reps.max(5) {
        let mut new = target.dests[0].clone();
        new.weight = 100 + rep as u32;
        let op = Op::EditDest {
            id: target.service.id,
            old: target.dests[0].clone(),
            new,
        };
        let owned = r.owned().expect("owned");
        let start = Instant::now();
        let report = r.apply_ops(&want, &owned, vec![op]).expect("edit");
        t_one.push(start.elapsed());
        assert!(report.is_clean());

        let start = Instant::now();
        let st = Command::new("ipvsadm")
            .args([
                "-e",
                "-t",
                &format!("{}:80", addr(services / 2)),
                "-r",
                &format!("172.16.{}.1:80", (services / 2) % 250),
                "-g",
                "-w",
                &(200 + rep).to_string(),
            ])
            .status()
            .expect("ipvsadm -e");
        t_one_ipvsadm.push(start.elapsed());
        assert!(st.success());
    }

    let (mr, mh) = (median(t_restore), median(t_haldir));
    let (m1, m1i) = (median(t_one), median(t_one_ipvsadm));
    println!("IPVS load: {services} services x {dests} real servers, {reps} repetitions, medians");
    println!(
        "{:<44} {:>12} {:>12} {:>8}",
        "", "haldir", "ipvsadm", "ratio"
    );
    println!(
        "{:<44} {:>12} {:>12} {:>8.2}",
        "full table from empty (vs ipvsadm-restore)",
        ms(mh),
        ms(mr),
        mh.as_secs_f64() / mr.as_secs_f64()
    );
    println!(
        "{:<44} {:>12} {:>12} {:>8.2}",
        "one weight change, table loaded (vs -e)",
        ms(m1),
        ms(m1i),
        m1.as_secs_f64() / m1i.as_secs_f64()
    );
    println!(
        "one weight change / full load (haldir): {:.3}%",
        100.0 * m1.as_secs_f64() / mh.as_secs_f64()
    );
}
