//! Every example passes, and every configuration survives model → TOML → model unchanged.

use std::path::{Path, PathBuf};

use haldir::config;

fn toml_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_passes_without_warnings() {
    let files = toml_files("examples");
    assert!(
        files.len() >= 6,
        "expected the six example topologies, found {files:?}"
    );
    for path in files {
        let loaded = config::load(&path).unwrap_or_else(|e| panic!("{}:\n{e}", path.display()));
        assert!(
            loaded.warnings.is_empty(),
            "{}:\n{}",
            path.display(),
            loaded.render_warnings()
        );
    }
}

#[test]
fn configurations_round_trip_through_the_model() {
    let mut files = toml_files("examples");
    files.extend(toml_files("tests/data"));
    for path in files {
        let first = config::load(&path)
            .unwrap_or_else(|e| panic!("{}:\n{e}", path.display()))
            .config;
        let text = config::to_toml(&first).unwrap();
        let second = config::load_str(Path::new("printed.toml"), &text)
            .unwrap_or_else(|e| {
                panic!("{} printed as\n{text}\ndoes not load:\n{e}", path.display())
            })
            .config;
        assert_eq!(
            first,
            second,
            "{} changed through a round trip:\n{text}",
            path.display()
        );
    }
}

#[test]
fn the_contract_file_keeps_every_value() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/contract.toml");
    let c = config::load(&path).unwrap().config;
    let vi = &c.vrrp_instances[0];
    assert_eq!(
        (vi.virtual_router_id, vi.priority, vi.version),
        (51, 150, 3)
    );
    assert_eq!(vi.track_interface[0].weight, Some(-50));
    assert_eq!(
        vi.notify.master.as_deref(),
        Some(&["/etc/haldir/notify.sh".to_string(), "master".into()][..])
    );
    let web = &c.virtual_servers[0];
    assert_eq!(web.persistence_netmask, Some(24));
    assert_eq!(web.persistence_timeout.as_secs(), 300);
    // Inheritance: the second real server's tcp check keeps the service's timing.
    let rs2 = &web.real_servers[1];
    assert_eq!(
        rs2.address.to_string(),
        "10.240.0.102:80",
        "the port defaults to the service's"
    );
    let check = rs2.check.as_ref().unwrap();
    assert_eq!(
        check.kind,
        haldir::config::model::CheckKind::Tcp { half_open: false }
    );
    assert_eq!(
        (check.port, check.fall, check.interval.as_secs()),
        (Some(8080), 3, 5)
    );
    // Forwarding: the fwmark service's tun default and its real server's dr override.
    let fw = &c.virtual_servers[1];
    assert_eq!(
        fw.real_servers[0].forwarding,
        haldir::config::types::Forwarding::Tun
    );
    assert_eq!(fw.real_servers[0].tunnel.map(|t| t.port), Some(Some(6080)));
    assert_eq!(
        fw.real_servers[1].forwarding,
        haldir::config::types::Forwarding::Dr
    );
    assert_eq!(fw.real_servers[1].tunnel, None);
    assert_eq!(c.fwmarks[0].ports.len(), 3);
    assert_eq!(c.ipvs.sync_daemon.as_ref().map(|s| s.sync_id), Some(51));
    let mail = c.email.as_ref().expect("[email]");
    assert_eq!(mail.smtp_server, "192.0.2.25:25", "port 25 by default");
    assert_eq!(mail.to.len(), 2);
    assert!(vi.smtp_alert, "instances follow [email] vrrp");
    assert!(
        web.real_servers[0].smtp_alert && !web.smtp_alert,
        "real servers mail by default (keepalived's default), quorum changes do not"
    );
}

#[test]
fn a_service_without_a_check_has_always_up_servers() {
    let text = "[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[[virtual_server.real_server]]\naddress = \"10.0.0.2\"\n";
    let c = config::load_str(Path::new("t.toml"), text).unwrap().config;
    assert_eq!(c.virtual_servers[0].real_servers[0].check, None);
    assert_eq!(
        c.virtual_servers[0].real_servers[0].forwarding,
        haldir::config::types::Forwarding::Nat
    );
}
