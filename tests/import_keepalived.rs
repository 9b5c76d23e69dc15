//! `haldir import keepalived`: keepalived configurations covering each construct, converted,
//! the result loaded by haldir's own loader (it must validate) and checked key by key, and the
//! constructs without an equivalent listed with file and line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use haldir::config::Config;
use haldir::config::model::{CheckKind, ServiceKey};
use haldir::import::{Imported, import};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keepalived")
        .join(name)
}

fn convert(name: &str, id: &str) -> (Imported, Config) {
    let imported = import(&fixture(name), id).unwrap_or_else(|e| panic!("{name}: {e}"));
    let config = haldir::config::load_str(Path::new("converted.toml"), &imported.toml)
        .unwrap_or_else(|e| {
            panic!(
                "{name}: the converted file does not validate:\n{e}\n{}",
                imported.toml
            )
        })
        .config;
    (imported, config)
}

fn lost(imported: &Imported) -> Vec<String> {
    imported
        .losses
        .iter()
        .map(|l| {
            format!(
                "{}:{}: {}",
                l.path.file_name().unwrap().to_string_lossy(),
                l.line,
                l.what
            )
        })
        .collect()
}

fn warned(imported: &Imported) -> Vec<String> {
    imported
        .warnings
        .iter()
        .map(|w| {
            format!(
                "{}:{}: {}",
                w.0.path.file_name().unwrap().to_string_lossy(),
                w.0.line,
                w.0.what
            )
        })
        .collect()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn vrrp_instances_scripts_and_sync_groups() {
    let (imp, c) = convert("vrrp.conf", "lb1");
    assert_eq!(c.global.router_id, "lb1");
    assert_eq!(c.global.script_user, "haldir-script");

    let ts = &c.track_scripts[0];
    assert_eq!(ts.name, "chk_nginx");
    assert_eq!(ts.command, vec!["/usr/bin/pgrep", "-x", "nginx"]);
    assert_eq!(
        (ts.interval, ts.timeout, ts.rise, ts.fall),
        (secs(2), secs(1), 2, 3)
    );

    let vi = &c.vrrp_instances[0];
    assert_eq!(vi.name, "VI_1");
    assert_eq!(vi.interface, "eth1");
    assert_eq!(
        (vi.virtual_router_id, vi.priority, vi.version),
        (51, 150, 2)
    );
    assert_eq!(vi.advert_interval, secs(1));
    // keepalived/vrrp/vrrp.c (vrrp_complete_instance): "nopreempt will not work with initial
    // state MASTER - clearing".
    assert!(vi.preempt, "state MASTER clears nopreempt");
    let auth = vi.authentication.as_ref().expect("authentication");
    assert_eq!(
        auth.password, "secret12",
        "keepalived keeps the first 8 characters"
    );
    assert_eq!(vi.unicast_source, Some("10.240.0.11".parse().unwrap()));
    assert_eq!(
        vi.unicast_peers,
        vec!["10.240.0.12".parse::<std::net::IpAddr>().unwrap()]
    );
    let vips: Vec<String> = vi.virtual_ipaddress.iter().map(|n| n.to_string()).collect();
    assert_eq!(
        vips,
        vec!["10.240.0.201/32", "10.240.0.202/32 label eth1:1"]
    );
    let ti: Vec<(String, Option<i16>)> = vi
        .track_interface
        .iter()
        .map(|t| (t.name.clone(), t.weight))
        .collect();
    // keepalived tracks the instance's own interface too (no dont_track_primary). VI_1 is in
    // sync group G1 without sync_group_tracking_weight: keepalived tracks eth0 with weight 0
    // and drops the weighted chk_nginx (vrrp/vrrp.c vrrp_complete_instance: "ignoring eth0
    // tracked interface weight due to SYNC group", as keepalived 2.2.7 logs for this file).
    assert_eq!(
        ti,
        vec![
            ("eth1".into(), None),
            ("eth0".into(), None),
            ("eth2".into(), None)
        ]
    );
    assert!(vi.track_script.is_empty(), "{:?}", vi.track_script);
    assert_eq!(
        vi.notify.master.as_deref(),
        Some(
            &[
                "/etc/keepalived/notify.sh".to_string(),
                "master".into(),
                "two words".into()
            ][..]
        )
    );
    assert_eq!(
        vi.notify.any.as_deref(),
        Some(&["/etc/keepalived/any.sh".to_string()][..])
    );
    assert_eq!(vi.garp.delay, secs(3), "global vrrp_garp_master_delay");
    assert_eq!(vi.garp.repeat, 4);
    assert_eq!(
        vi.garp.refresh,
        secs(60),
        "the instance's own garp_master_refresh"
    );

    let gw = &c.vrrp_instances[1];
    assert_eq!((gw.version, gw.priority), (3, 100));
    assert_eq!(gw.advert_interval, Duration::from_millis(500));
    assert_eq!(gw.preempt_delay, secs(10));
    assert!(gw.preempt);
    assert_eq!(c.sync_groups[0].name, "G1");
    assert_eq!(c.sync_groups[0].instances, vec!["VI_1", "VI_GW"]);

    assert_eq!(
        lost(&imp),
        Vec::<String>::new(),
        "the label is kept; `dev eth1` is the instance's interface"
    );
    assert_eq!(
        c.sync_groups[0].notify.master.as_deref(),
        Some(&["/etc/keepalived/group.sh".to_string()][..]),
        "the group's notify_master"
    );
    assert_eq!(
        warned(&imp),
        vec![
            "vrrp.conf:8: notification_email { … }: keepalived mails nothing without smtp_server: no [email] is written",
            "vrrp.conf:28: nopreempt: keepalived clears nopreempt with state MASTER (\"nopreempt will not work with initial state MASTER\"): the instance preempts",
            "vrrp.conf:23: state MASTER: haldir starts every instance as BACKUP: with no master answering, keepalived's state MASTER takes over after one advert interval, haldir after the master-down interval (3 adverts and the skew)",
            "vrrp.conf:34: unicast_peer { … }: haldir takes unicast adverts from these peers only; keepalived without check_unicast_src from any address",
            "vrrp.conf:42: eth0 weight -50: keepalived tracks it with weight 0 on an instance of a sync group without sync_group_tracking_weight (down means FAULT), and so does this conversion",
            "vrrp.conf:46: chk_nginx: keepalived ignores a weighted track_script entry on an instance of a sync group without sync_group_tracking_weight (vrrp.c: \"ignoring tracked … due to SYNC group\"), and so does this conversion",
            "vrrp.conf:51: smtp_alert: keepalived mails nothing without notification_email and smtp_server in global_defs",
        ]
    );
    assert_eq!(c.email, None);
}

#[test]
fn virtual_servers_checks_and_legacy_names() {
    let (imp, c) = convert("lvs.conf", "lb1");
    // keepalived 2 installs no lvs_id (core/global_parser.c has router_id only): skipped, so
    // the router id stays the host name's default.
    assert!(!imp.toml.contains("\nrouter_id"), "lvs_id is not router_id");
    assert!(
        warned(&imp)
            .iter()
            .any(|w| w.contains("lvs_id") && w.contains("no longer knows")),
        "{:?}",
        warned(&imp)
    );
    let _ = &c.global.router_id;
    let sd = c.ipvs.sync_daemon.as_ref().expect("lvs_sync_daemon");
    assert_eq!((sd.interface.as_str(), sd.sync_id), ("eth1", 7));
    assert_eq!(sd.vrrp_instance.as_deref(), Some("VI_1"));
    assert_eq!(sd.max_len, Some(1400));
    let t = c.ipvs.timeouts.as_ref().expect("lvs_timeouts");
    assert_eq!(
        (t.tcp, t.tcp_fin, t.udp),
        (Some(secs(900)), Some(secs(120)), Some(secs(300)))
    );

    let web = &c.virtual_servers[0];
    assert_eq!(
        web.key,
        ServiceKey::Address("10.240.0.201:80".parse().unwrap())
    );
    assert_eq!(web.scheduler.as_str(), "wrr", "lb_algo");
    assert_eq!(web.forwarding.to_string(), "dr", "lb_kind");
    assert_eq!(web.persistence_timeout, secs(300));
    assert_eq!(web.persistence_netmask, Some(24));
    assert_eq!(web.sorry_server, Some("10.240.0.250:80".parse().unwrap()));
    assert_eq!(
        (web.quorum, web.hysteresis, web.inhibit_on_failure),
        (2, 1, true)
    );
    let rs1 = &web.real_servers[0];
    assert_eq!(
        (rs1.address.to_string().as_str(), rs1.weight),
        ("10.240.0.101:80", 3)
    );
    let check = rs1.check.as_ref().expect("HTTP_GET");
    let CheckKind::Http(http) = &check.kind else {
        panic!("http check: {check:?}")
    };
    assert_eq!(http.urls[0].path, "/healthz");
    let status = &http.urls[0].status;
    assert!(status.contains(200) && status.contains(302) && !status.contains(204));
    assert_eq!(check.interval, secs(6), "delay_loop of the service");
    assert_eq!(check.timeout, secs(3));
    assert_eq!(check.fall, 3, "nb_get_retry 2: the check and 2 retries");
    assert_eq!(check.retry_delay, secs(2));
    // DR: the real server takes the service's port; keepalived's 8080 stays the check's.
    let rs2 = &web.real_servers[1];
    assert_eq!(rs2.address.to_string(), "10.240.0.102:80");
    let tcp = rs2.check.as_ref().expect("TCP_CHECK");
    assert_eq!(
        (tcp.kind.clone(), tcp.port, tcp.timeout, tcp.fall),
        (CheckKind::Tcp { half_open: false }, Some(8080), secs(2), 2)
    );
    assert_eq!(tcp.retry_delay, secs(1));

    let tls = &c.virtual_servers[1];
    assert_eq!(tls.scheduler.as_str(), "sh");
    assert_eq!(tls.scheduler_flags.len(), 1);
    assert_eq!(tls.forwarding.to_string(), "nat");
    let check = tls.real_servers[0].check.as_ref().expect("SSL_GET");
    match &check.kind {
        CheckKind::Https {
            http,
            tls_verify,
            sni,
        } => {
            assert_eq!(http.host.as_deref(), Some("www.example.com"), "virtualhost");
            assert!(!tls_verify, "SSL_GET does not verify");
            assert_eq!(sni.as_deref(), Some("www.example.com"), "enable_sni");
        }
        other => panic!("https check: {other:?}"),
    }
    assert_eq!(
        (check.interval, check.timeout, check.fall),
        (secs(10), secs(5), 2)
    );

    let fw = &c.virtual_servers[2];
    assert!(matches!(fw.key, ServiceKey::Fwmark { mark: 3, .. }));
    let rs = &fw.real_servers[0];
    assert_eq!(
        rs.address.to_string(),
        "10.240.0.101",
        "no port on a fwmark service's server"
    );
    let misc = rs.check.as_ref().expect("MISC_CHECK");
    assert_eq!(
        misc.kind,
        CheckKind::Misc {
            command: vec!["/etc/keepalived/check.sh".into(), "10.240.0.101".into()],
            dynamic_weight: true
        }
    );
    assert_eq!((misc.timeout, misc.fall, misc.port), (secs(4), 1, Some(80)));

    // The group: one service per address of the range, and its fwmark.
    let group: Vec<String> = c.virtual_servers[3..]
        .iter()
        .map(|v| v.name.clone())
        .collect();
    assert_eq!(
        group,
        vec!["WEB-10.240.0.210:80", "WEB-10.240.0.211:80", "WEB-fwmark-9"]
    );
    for vs in &c.virtual_servers[3..] {
        assert_eq!(vs.scheduler.as_str(), "lc");
        if matches!(vs.key, ServiceKey::Address(_)) {
            assert_eq!(
                vs.protocol.to_string(),
                "udp",
                "keepalived: no protocol set - defaulting to UDP"
            );
        }
        assert_eq!(vs.real_servers[0].weight, 2);
    }

    let losses = lost(&imp);
    assert_eq!(
        losses,
        vec!["lvs.conf:95: garp_group { … }: no haldir equivalent"],
    );
}

#[test]
fn parameters_conditionals_repetitions_and_includes() {
    for (id, prio) in [("lb1", 150), ("lb2", 100)] {
        let (imp, c) = convert("preprocessed.conf", id);
        assert!(imp.losses.is_empty(), "{:?}", lost(&imp));
        assert_eq!(c.global.router_id, id);
        let vi = &c.vrrp_instances[0];
        assert_eq!(vi.interface, "eth1");
        assert_eq!(vi.priority, prio);
        let vips: Vec<String> = vi.virtual_ipaddress.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            vips,
            vec!["10.240.0.201/32", "10.240.0.202/32", "10.240.0.203/32"]
        );
        let rs: Vec<(String, u32)> = c.virtual_servers[0]
            .real_servers
            .iter()
            .map(|r| (r.address.to_string(), r.weight))
            .collect();
        assert_eq!(
            rs,
            vec![
                ("10.240.0.101:80".into(), 1),
                ("10.240.0.102:80".into(), 2),
                ("10.240.0.109:80".into(), 9)
            ]
        );
    }
}

#[test]
fn the_command_prints_toml_and_lists_losses_with_exit_1() {
    let run = |name: &str| {
        Command::new(env!("CARGO_BIN_EXE_haldir"))
            .args([
                "import",
                "keepalived",
                fixture(name).to_str().unwrap(),
                "--conditional",
                "lb1",
            ])
            .output()
            .unwrap()
    };
    let lossy = run("lvs.conf");
    assert_eq!(lossy.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&lossy.stderr);
    assert!(
        stderr.contains("lvs.conf:95: not converted: garp_group"),
        "{stderr}"
    );
    let toml = String::from_utf8_lossy(&lossy.stdout);
    assert!(toml.contains("[[virtual_server]]"));
    let clean = run("preprocessed.conf");
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    // The output passes `haldir check`.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("haldir.toml");
    std::fs::write(&out, &clean.stdout).unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_haldir"))
        .args(["check", "-c", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0), "{check:?}");
}
