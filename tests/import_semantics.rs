//! `haldir import keepalived` does what keepalived does with the constructs real files use,
//! including the ones keepalived ignores, corrects or rejects; each case cites the keepalived
//! source (acassen/keepalived at 9cbce3e2) that decides it. What keepalived ignores or
//! corrects is carried over as keepalived runs it and reported as a warning; what haldir
//! cannot express is reported as a loss.

use std::path::Path;

use haldir::config::Config;
use haldir::config::model::RsAddr;
use haldir::import::{Imported, import};

/// Converts `text` (written to a file of its own, with `extra` files beside it) and loads the
/// result with haldir's own loader: it must validate.
fn convert_with(text: &str, extra: &[(&str, &str)]) -> (Imported, Config) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, text).unwrap();
    for (name, body) in extra {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    let imported = import(&path, "lb1").unwrap();
    let config = haldir::config::load_str(Path::new("converted.toml"), &imported.toml)
        .unwrap_or_else(|e| panic!("does not validate:\n{e}\n{}", imported.toml))
        .config;
    (imported, config)
}

fn convert(text: &str) -> (Imported, Config) {
    convert_with(text, &[])
}

/// "LINE: what" of every loss.
fn losses(i: &Imported) -> Vec<String> {
    i.losses
        .iter()
        .map(|l| format!("{}: {}", l.line, l.what))
        .collect()
}

/// "LINE: what" of every warning.
fn warnings(i: &Imported) -> Vec<String> {
    i.warnings
        .iter()
        .map(|w| format!("{}: {}", w.0.line, w.0.what))
        .collect()
}

fn check_fall(c: &Config, vs: usize, rs: usize) -> u32 {
    c.virtual_servers[vs].real_servers[rs]
        .check
        .as_ref()
        .expect("a check")
        .fall
}

/// keepalived installs nb_get_retry in HTTP_GET and SSL_GET only (check/check_http.c:973);
/// TCP_CHECK (check_tcp.c:88-92), MISC_CHECK (check_misc.c:215-223), virtual_server and
/// real_server (check_parser.c:950-1021) do not know it: "Unknown keyword", and retry keeps
/// its default, 1 (check_api.c:146-154), so a server leaves after 2 failures.
#[test]
fn nb_get_retry_counts_only_in_http_get_and_ssl_get() {
    let (imp, c) = convert(
        "virtual_server 10.0.0.100 80 {
    protocol TCP
    nb_get_retry 5
    real_server 10.0.0.1 80 {
        TCP_CHECK {
            nb_get_retry 3
        }
    }
    real_server 10.0.0.2 80 {
        nb_get_retry 4
        HTTP_GET {
            url { path / }
            nb_get_retry 3
        }
    }
    real_server 10.0.0.3 80 {
        retry 2
        TCP_CHECK {
            nb_get_retry 7
        }
    }
}
",
    );
    assert_eq!(
        check_fall(&c, 0, 0),
        2,
        "TCP_CHECK ignores nb_get_retry: retry 1"
    );
    assert_eq!(check_fall(&c, 0, 1), 4, "HTTP_GET takes nb_get_retry 3");
    assert_eq!(check_fall(&c, 0, 2), 3, "the real server's retry 2 stays");
    assert_eq!(
        warnings(&imp),
        vec![
            "3: nb_get_retry 5: keepalived knows nb_get_retry only in HTTP_GET and SSL_GET (\"Unknown keyword\" here) and keeps retry at its default",
            "6: nb_get_retry 3: keepalived knows nb_get_retry only in HTTP_GET and SSL_GET (\"Unknown keyword\" here) and keeps retry at its default",
            "10: nb_get_retry 4: keepalived knows nb_get_retry only in HTTP_GET and SSL_GET (\"Unknown keyword\" here) and keeps retry at its default",
            "19: nb_get_retry 7: keepalived knows nb_get_retry only in HTTP_GET and SSL_GET (\"Unknown keyword\" here) and keeps retry at 2",
        ]
    );
    assert!(losses(&imp).is_empty(), "{:?}", losses(&imp));
}

/// A keyword given twice, as each of keepalived's handlers takes it: the first notify script
/// stays ("notify_master script already specified - ignoring", vrrp/vrrp_parser.c:1149-1216);
/// unicast_peer blocks add up (vrrp_data.c:1103-1119), track_script blocks too with a repeated
/// name ignored (vrrp_track.c:221-228); priority keeps the last (vrrp_parser.c:1057-1067); a
/// second real server with the same address is removed (check/check_data.c:1166-1183); a
/// second group list of a sync group is skipped (vrrp_parser.c:261-266).
#[test]
fn a_keyword_given_twice_does_what_keepalived_does() {
    let (imp, c) = convert(
        "vrrp_script chk { script /bin/true }
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 50
    priority 150
    notify_master /etc/keepalived/master.sh
    notify_master /etc/keepalived/fault.sh
    unicast_src_ip 10.0.0.11
    unicast_peer {
        10.0.0.12
    }
    unicast_peer {
        10.0.0.13
        10.0.0.12
    }
    track_script {
        chk
    }
    track_script {
        chk weight -20
    }
    virtual_ipaddress {
        10.0.0.100/32
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    virtual_ipaddress {
        10.0.0.101/32
    }
}
vrrp_sync_group G {
    group {
        VI_1
    }
    group {
        VI_2
    }
}
virtual_server 10.0.0.100 80 {
    protocol TCP
    real_server 10.0.0.1 80 {
        weight 1
    }
    real_server 10.0.0.1 80 {
        weight 9
    }
}
",
    );
    let vi = &c.vrrp_instances[0];
    assert_eq!(vi.priority, 150, "the last priority");
    assert_eq!(
        vi.notify.master.as_deref(),
        Some(&["/etc/keepalived/master.sh".to_string()][..]),
        "the first notify_master: a MASTER transition never runs the fault script"
    );
    let peers: Vec<String> = vi.unicast_peers.iter().map(|p| p.to_string()).collect();
    assert_eq!(peers, vec!["10.0.0.12", "10.0.0.13"], "peer blocks add up");
    assert_eq!(vi.track_script.len(), 1);
    assert_eq!(vi.track_script[0].weight, None, "the first reference stays");
    assert_eq!(c.sync_groups[0].instances, vec!["VI_1"]);
    let rs = &c.virtual_servers[0].real_servers;
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].weight, 1, "the first real server stays");
    assert_eq!(
        warnings(&imp),
        vec![
            "8: notify_master /etc/keepalived/fault.sh: keepalived keeps the first notify_master script and ignores this one",
            "15: 10.0.0.12: keepalived ignores a duplicate unicast_peer",
            "21: chk weight -20: keepalived ignores a duplicate track_script",
            "10: unicast_peer { … }: haldir takes unicast adverts from these peers only; keepalived without check_unicast_src from any address",
            "38: group { … }: keepalived ignores a second group list",
            "47: real_server 10.0.0.1 80 { … }: keepalived removes a real server given twice (\"is duplicated - removing second rs\")",
        ]
    );
}

/// vrrp/vrrp.c (vrrp_complete_instance): no priority with state MASTER is 255 (3302-3307);
/// with state MASTER, nopreempt and preempt_delay are cleared with a warning (3546-3558);
/// vrrp_parser.c:838-846: MASTER once given stays, and the state is compared with strcmp, so
/// "master" is "unknown state … defaulting to BACKUP".
#[test]
fn state_master_sets_the_priority_and_clears_preemption_settings() {
    let (imp, c) = convert(
        "vrrp_instance A {
    state MASTER
    state BACKUP
    interface eth0
    virtual_router_id 51
    preempt_delay 30
    virtual_ipaddress {
        10.0.0.100/32
    }
}
vrrp_instance B {
    state master
    interface eth0
    virtual_router_id 52
    nopreempt
    preempt_delay 30
    virtual_ipaddress {
        10.0.0.101/32
    }
}
vrrp_instance C {
    interface eth0
    virtual_router_id 53
    priority 255
    nopreempt
    virtual_ipaddress {
        10.0.0.102/32
    }
}
",
    );
    let [a, b, cc] = &c.vrrp_instances[..] else {
        panic!("three instances")
    };
    assert_eq!(
        (a.priority, a.preempt, a.preempt_delay.as_secs()),
        (255, true, 0)
    );
    assert_eq!(
        (b.priority, b.preempt, b.preempt_delay.as_secs()),
        (100, false, 0)
    );
    assert_eq!((cc.priority, cc.preempt), (255, true));
    assert_eq!(
        warnings(&imp),
        vec![
            "3: state BACKUP: keepalived keeps the MASTER state given before and ignores this",
            "6: preempt_delay 30: keepalived clears preempt_delay with state MASTER (\"preempt delay will not work with initial state MASTER\")",
            "12: state master: keepalived knows only MASTER and BACKUP (case matters) and takes \"master\" as BACKUP",
            "16: preempt_delay 30: keepalived clears preempt_delay with nopreempt",
            "25: nopreempt: keepalived clears nopreempt at priority 255 (the address owner always preempts)",
        ]
    );
}

/// check/check_data.c:1306-1316 and ipvswrapper.c:601-612: a NAT real server of a fwmark
/// service keeps its port; a DR one has none.
#[test]
fn fwmark_services_with_nat_keep_their_real_servers_ports() {
    let (imp, c) = convert(
        "virtual_server fwmark 1 {
    lb_kind NAT
    persistence_timeout 60
    real_server 10.0.0.1 8080 {
        TCP_CHECK { }
    }
    real_server 10.0.0.2 8081 {
        lvs_method DR
        TCP_CHECK { }
    }
}
",
    );
    let rs = &c.virtual_servers[0].real_servers;
    assert_eq!(rs[0].address, "10.0.0.1:8080".parse::<RsAddr>().unwrap());
    assert_eq!(rs[1].address, "10.0.0.2".parse::<RsAddr>().unwrap());
    assert_eq!(
        rs[1].check.as_ref().unwrap().port,
        Some(8081),
        "checked where keepalived checked"
    );
    assert!(losses(&imp).is_empty(), "{:?}", losses(&imp));
}

/// Values keepalived rejects are converted to what keepalived then runs, and reported:
/// lb_kind is compared with strcmp (check/check_parser.c:376-385) and an unknown one leaves
/// NAT (check_data.c:1186-1191); an unknown scheduler leaves wlc (check_parser.c:318-323,
/// check_data.c:1149-1151); protocol is strcasecmp (check_parser.c:574-581); auth_type is
/// strcmp, so "pass" authenticates nothing (vrrp/vrrp_parser.c:1487-1492).
#[test]
fn values_keepalived_rejects_run_as_keepalived_runs_them() {
    let (imp, c) = convert(
        "vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    authentication {
        auth_type pass
        auth_pass secret
    }
    virtual_ipaddress {
        10.0.0.100/32
    }
}
virtual_server 10.0.0.100 80 {
    lb_algo RR
    lb_kind dr
    protocol tcp
    real_server 10.0.0.1 80 {
        weight 1
    }
}
",
    );
    assert_eq!(c.vrrp_instances[0].authentication, None);
    let vs = &c.virtual_servers[0];
    assert_eq!(
        vs.forwarding.to_string(),
        "nat",
        "lb_kind dr is unknown: NAT"
    );
    assert_eq!(vs.scheduler.as_str(), "wlc", "RR is unknown: wlc");
    assert_eq!(vs.protocol.to_string(), "tcp");
    assert_eq!(
        warnings(&imp),
        vec![
            "4: authentication { … }: keepalived knows auth_type PASS and AH only (case matters): with \"pass\" it authenticates nothing",
            "13: lb_algo RR: keepalived rejects the scheduler \"RR\" (\"Invalid lvs_scheduler\"; case matters) and keeps its default, wlc",
            "14: lb_kind dr: keepalived knows only NAT, DR and TUN (case matters): it ignores \"dr\" (\"unknown routing method\") and keeps NAT",
        ]
    );
}

/// lib/parser.c:1782-1806: an include that matches nothing is skipped; converting on another
/// machine must not lose what it would bring unseen.
#[test]
fn an_include_that_matches_nothing_is_reported() {
    let (imp, _) = convert_with(
        "include /nonexistent/haldir-test/*.conf
include services.conf
",
        &[(
            "services.conf",
            "virtual_server 10.0.0.100 80 {\n    protocol TCP\n}\n",
        )],
    );
    assert_eq!(
        losses(&imp),
        vec![
            "1: include /nonexistent/haldir-test/*.conf: matches no file; keepalived skips it, and nothing it was meant to bring is converted"
        ]
    );
}

/// lib/notify.c:260-270: keepalived execs a script's words directly (system() only for
/// files it cannot exec), as haldir does: shell syntax reaches the program as arguments.
#[test]
fn scripts_with_shell_syntax_are_warned_about() {
    let (imp, c) = convert(
        "vrrp_script chk {
    script \"pidof nginx && curl -s localhost\"
}
vrrp_script ok {
    script \"/bin/sh -c 'pidof nginx && true'\"
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    track_script {
        chk
        ok
    }
    notify_master \"/etc/keepalived/notify.sh > /tmp/state\"
    virtual_ipaddress {
        10.0.0.100/32
    }
}
virtual_server 10.0.0.100 80 {
    protocol TCP
    real_server 10.0.0.1 80 {
        MISC_CHECK {
            misc_path \"/usr/bin/check | grep ok\"
        }
    }
}
",
    );
    assert_eq!(
        c.track_scripts[0].command,
        vec!["pidof", "nginx", "&&", "curl", "-s", "localhost"]
    );
    assert_eq!(
        warnings(&imp),
        vec![
            "2: script pidof nginx && curl -s localhost: runs without a shell, as in keepalived 2: \"&&\" reaches the program as an argument (write [\"/bin/sh\", \"-c\", \"…\"] if a shell is meant)",
            "14: notify_master /etc/keepalived/notify.sh > /tmp/state: runs without a shell, as in keepalived 2: \">\" reaches the program as an argument (write [\"/bin/sh\", \"-c\", \"…\"] if a shell is meant)",
            "23: misc_path /usr/bin/check | grep ok: runs without a shell, as in keepalived 2: \"|\" reaches the program as an argument (write [\"/bin/sh\", \"-c\", \"…\"] if a shell is meant)",
        ]
    );
}

/// mcast_src_ip and unicast_src_ip set one field, the adverts' source (vrrp/vrrp_parser.c:
/// 968-998); authentication is ignored with VRRPv3 (vrrp.c:3320-3332); a service without a
/// port (or port 0) is made persistent for 360 s (check/check_data.c:1117-1124, 799-802).
#[test]
fn sources_v3_authentication_and_services_on_every_port() {
    let (imp, c) = convert(
        "vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    version 3
    mcast_src_ip 10.0.0.11
    authentication {
        auth_type PASS
        auth_pass secret
    }
    virtual_ipaddress {
        10.0.0.100/32
    }
}
virtual_server 10.0.0.100 0 {
    protocol TCP
    lb_kind DR
    real_server 10.0.0.1 80 {
        TCP_CHECK { }
    }
}
virtual_server 10.0.0.101 {
    protocol TCP
    persistence_timeout 60
    real_server 10.0.0.2 80 {
        weight 1
    }
}
",
    );
    let vi = &c.vrrp_instances[0];
    assert_eq!(vi.mcast_source, Some("10.0.0.11".parse().unwrap()));
    assert_eq!(vi.unicast_source, None);
    assert_eq!(vi.authentication, None);
    let all = &c.virtual_servers[0];
    assert_eq!(all.persistence_timeout.as_secs(), 360);
    assert_eq!(
        all.real_servers[0].address.port,
        Some(0),
        "DR on every port"
    );
    assert_eq!(all.real_servers[0].check.as_ref().unwrap().port, Some(80));
    assert_eq!(c.virtual_servers[1].persistence_timeout.as_secs(), 60);
    assert_eq!(
        warnings(&imp),
        vec![
            "6: authentication { … }: keepalived ignores authentication with VRRPv3 (\"VRRP version 3 does not support authentication. Ignoring.\")",
            "14: virtual_server 10.0.0.100 0 { … }: a service on every port (no port, or 0): keepalived makes it persistent for 360 s (\"zero port only valid for persistent services\"), and so does this conversion",
        ]
    );
}

/// A statement inside a virtual_server_group's service is reported once, not once per member;
/// an empty block carries nothing and is no loss.
#[test]
fn group_losses_once_and_empty_blocks_are_no_loss() {
    let (imp, c) = convert(
        "static_ipaddress {
}
virtual_server_group G {
    10.0.0.100-102 80
}
virtual_server group G {
    protocol TCP
    ha_suspend
    unknown_thing 1
    real_server 10.0.0.1 80 {
        weight 1
    }
}
",
    );
    assert_eq!(c.virtual_servers.len(), 3);
    assert_eq!(losses(&imp), vec!["8: ha_suspend: no haldir equivalent"]);
    // lib/parser.c: a keyword keepalived does not know is skipped ("Unknown keyword").
    assert_eq!(
        warnings(&imp),
        vec![
            "9: unknown_thing 1: keepalived does not know this keyword (\"Unknown keyword\") and skips it"
        ]
    );
}

#[test]
fn mail_settings_become_email() {
    let (imp, c) = convert(
        "global_defs {
    notification_email {
        ops@example.com
        oncall@example.com
    }
    notification_email_from lb@example.com
    smtp_server 192.0.2.25 2525
    smtp_connect_timeout 0
    smtp_alert_vrrp
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        10.0.0.100/32
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    smtp_alert false
    virtual_ipaddress {
        10.0.0.101/32
    }
}
virtual_server 10.0.0.100 80 {
    protocol TCP
    smtp_alert
    real_server 10.0.0.1 80 {
        smtp_alert no
    }
    real_server 10.0.0.2 80 {
    }
}
",
    );
    let mail = c.email.as_ref().expect("[email]");
    assert_eq!(mail.to, vec!["ops@example.com", "oncall@example.com"]);
    assert_eq!(mail.from, "lb@example.com");
    assert_eq!(mail.smtp_server, "192.0.2.25:2525");
    assert_eq!(
        mail.smtp_connect_timeout.as_secs(),
        1,
        "keepalived makes 0 one second"
    );
    // vrrp/vrrp.c:3699-3706: smtp_alert_vrrp is the instances' default.
    assert!(c.vrrp_instances[0].smtp_alert);
    assert!(!c.vrrp_instances[1].smtp_alert);
    // check/check_data.c:1155-1162 and 1221-1231: real servers mail by default, services not.
    let vs = &c.virtual_servers[0];
    assert!(vs.smtp_alert);
    assert!(!vs.real_servers[0].smtp_alert);
    assert!(vs.real_servers[1].smtp_alert);
    assert!(losses(&imp).is_empty(), "{:?}", losses(&imp));
}

/// A VIP's options (keepalived's `ip address` syntax) and excluded addresses are kept; an
/// option haldir lacks is reported and the address kept without it. keepalived 1.x's
/// `lvs_sync_daemon_interface` in an instance is the sync daemon following that instance
/// (vrrp/vrrp_parser.c vrrp_lvs_syncd_handler, id = the VRID); members of a sync group
/// outside `group { }` are unknown keywords to keepalived 2.
#[test]
fn address_options_excluded_addresses_and_the_old_sync_daemon() {
    let (imp, c) = convert(
        "vrrp_sync_group G {
    VI_1
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    lvs_sync_daemon_interface eth1
    virtual_ipaddress {
        10.0.0.100/32 dev eth0
        10.1.0.100/24 dev eth1 label eth1:vip brd 10.1.0.255 scope link
        10.0.0.101/32 preferred_lft 0
    }
    virtual_ipaddress_excluded {
        2001:db8::1/128
    }
}
",
    );
    let vi = &c.vrrp_instances[0];
    let vips: Vec<String> = vi.virtual_ipaddress.iter().map(|v| v.to_string()).collect();
    assert_eq!(
        vips,
        vec![
            "10.0.0.100/32",
            "10.1.0.100/24 dev eth1 label eth1:vip scope link brd 10.1.0.255",
            "10.0.0.101/32"
        ]
    );
    assert_eq!(
        vi.virtual_ipaddress_excluded[0].to_string(),
        "2001:db8::1/128"
    );
    assert_eq!(
        vi.version, 2,
        "excluded IPv6 addresses leave a v4 instance at v2"
    );
    let sd = c.ipvs.sync_daemon.as_ref().expect("sync daemon");
    assert_eq!(
        (
            sd.interface.as_str(),
            sd.sync_id,
            sd.vrrp_instance.as_deref()
        ),
        ("eth1", 51, Some("VI_1"))
    );
    assert!(c.sync_groups.is_empty());
    assert_eq!(
        losses(&imp),
        vec!["11: 10.0.0.101/32 preferred_lft 0: address option \"preferred_lft\" is not kept"]
    );
    assert_eq!(
        warnings(&imp),
        vec![
            "7: lvs_sync_daemon_interface eth1: deprecated in keepalived: converted to [ipvs] sync_daemon following this instance",
            "2: VI_1: keepalived does not know this in a sync group (\"Unknown keyword\") and ignores it",
            "1: vrrp_sync_group G { … }: keepalived removes a sync group without instances (\"has no virtual router(s)\")",
        ]
    );
}

/// virtual_routes and virtual_rules (keepalived's doc/samples/keepalived.conf.vrrp.routes and
/// .rules forms) become `ip route` / `ip rule` text; a form haldir lacks (`or` for a second
/// gateway) or an address keepalived itself cannot read is reported.
#[test]
fn routes_and_rules_follow_the_instance() {
    let (imp, c) = convert(
        "vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        192.168.200.16
    }
    virtual_routes {
        src 192.168.100.1 192.168.109.0/24 via 192.168.200.254 dev eth1
        192.168.111.0/24 dev eth2
        blackhole 192.168.113.1/32
        0.0.0.0/0 gw 192.168.0.1 table 100
        192.168.113.0/24 via 192.168.100.252 or 192.168.100.253
    }
    virtual_rules {
        from 192.168.200.0/24 table 2
        to 192.168.200./24 table 2
    }
}
",
    );
    let vi = &c.vrrp_instances[0];
    let routes: Vec<String> = vi.virtual_routes.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        routes,
        vec![
            "src 192.168.100.1 192.168.109.0/24 via 192.168.200.254 dev eth1",
            "192.168.111.0/24 dev eth2",
            "blackhole 192.168.113.1/32",
            "0.0.0.0/0 via 192.168.0.1 table 100",
            // vrrp_iproute.c: `or` makes the route multipath, `via` its first path.
            "192.168.113.0/24 nexthop via 192.168.100.252 nexthop via 192.168.100.253",
        ]
    );
    let rules: Vec<String> = vi.virtual_rules.iter().map(|r| r.to_string()).collect();
    assert_eq!(rules, vec!["from 192.168.200.0/24 table 2"]);
    assert!(losses(&imp).is_empty(), "{:?}", losses(&imp));
    // vrrp_iprule.c: parse_route fails (inet_pton), "Invalid rule to address", goto err: the
    // rule is not installed by keepalived either.
    assert_eq!(
        warnings(&imp),
        vec![
            "16: to 192.168.200./24 table 2: \"192.168.200./24\" is not an address or prefix: keepalived rejects the line and installs nothing; nor does haldir"
        ]
    );
}

/// keepalived tracks an instance's own interface (down: FAULT) unless `dont_track_primary`
/// (vrrp/vrrp.c, add_vrrp_to_interface); the conversion lists it as a tracked interface.
#[test]
fn the_instances_interface_is_tracked_unless_told_not_to() {
    let (_, c) = convert(
        "vrrp_instance A {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        10.0.0.100/32
    }
}
vrrp_instance B {
    interface eth1
    virtual_router_id 52
    dont_track_primary
    virtual_ipaddress {
        10.1.0.100/32
    }
}
",
    );
    let names = |i: usize| -> Vec<(String, Option<i16>)> {
        c.vrrp_instances[i]
            .track_interface
            .iter()
            .map(|t| (t.name.clone(), t.weight))
            .collect()
    };
    assert_eq!(names(0), vec![("eth0".to_string(), None)]);
    assert!(names(1).is_empty());
}

/// static_ipaddress, static_routes and static_rules (keepalived's doc/samples/
/// keepalived.conf.vrrp.static_ipaddress forms) become `[static]`; an address without `dev` is
/// on keepalived's default_interface (eth0 unless global_defs names another).
#[test]
fn static_addresses_routes_and_rules() {
    let (imp, c) = convert(
        "global_defs {
    default_interface eth2
}
static_ipaddress {
    192.168.200.18/24 dev eth1 scope global
    192.168.100.18/24
}
static_routes {
    192.168.210.0/24 via 192.168.200.254 dev eth1
}
static_rules {
    from 192.168.100.0/24 table 1
}
",
    );
    let s = &c.static_;
    let addrs: Vec<String> = s.addresses.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        addrs,
        vec!["192.168.200.18/24 dev eth1", "192.168.100.18/24 dev eth2"]
    );
    assert_eq!(
        s.routes[0].to_string(),
        "192.168.210.0/24 via 192.168.200.254 dev eth1"
    );
    assert_eq!(s.rules[0].to_string(), "from 192.168.100.0/24 table 1");
    assert!(losses(&imp).is_empty(), "{:?}", losses(&imp));
    assert_eq!(
        warnings(&imp),
        vec!["6: 192.168.100.18/24: no dev: keepalived puts it on default_interface, eth2"]
    );
}

/// Each checker type keepalived has maps with keepalived's own defaults written out:
/// DNS_CHECK retries 3 times with the delay loop between tries (check/check_dns.c:480-481) and
/// asks for SOA of the root (include/check_dns.h:32-33); UDP_CHECK sends "keepalived check -
/// keepalived ch" without a payload (core/layer4.c:58-76, 234-239) and checks reply lengths, up
/// to 255 bytes, only against an expected reply (check/check_udp.c:94-95, 254-298); SMTP_CHECK
/// says HELO smtpchecker.keepalived.org (include/check_smtp.h:45); HTTP_GET speaks HTTP/1.0
/// (check/check_http.c:366) and its several `url` blocks must all pass (1044-1162); FILE_CHECK
/// takes its file and weight from the track_file it names, reverse negating the weight
/// (check/check_file.c:56-123, trackers/track_file.c:299-331).
#[test]
fn every_checker_type_maps_with_keepalived_defaults() {
    let (i, c) = convert(
        r#"
track_file app_state {
    file /run/app/state
    weight 5 reverse
}
virtual_server 10.0.0.100 53 {
    protocol UDP
    lb_kind DR
    delay_loop 10
    real_server 10.0.0.11 53 {
        DNS_CHECK {
            type a
            name www.example.test
        }
    }
    real_server 10.0.0.12 53 {
        UDP_CHECK {
            require_reply ab xx
            min_reply_length 4
        }
    }
    real_server 10.0.0.13 53 {
        PING_CHECK {
            bindto 10.0.0.1
        }
    }
}
virtual_server 10.0.0.100 80 {
    protocol TCP
    lb_kind DR
    real_server 10.0.0.11 80 {
        HTTP_GET {
            url {
                path /
                digest 640205B7B0FC66C1EA91C463FAC6334D
            }
            url {
                path /healthz
                status_code 200-204
            }
            fast_recovery
        }
    }
    real_server 10.0.0.12 80 {
        FILE_CHECK {
            track_file app_state
        }
    }
}
virtual_server 10.0.0.100 25 {
    protocol TCP
    lb_kind DR
    real_server 10.0.0.11 25 {
        SMTP_CHECK {
            host {
                connect_ip 10.0.1.11
                connect_port 587
            }
        }
    }
}
"#,
    );
    assert_eq!(losses(&i), Vec::<String>::new());
    use haldir::config::model::CheckKind;
    use haldir::config::types::{DnsType, HttpProtocol};
    let check = |vs: usize, rs: usize| {
        c.virtual_servers[vs].real_servers[rs]
            .check
            .clone()
            .unwrap()
    };
    let dns = check(0, 0);
    let CheckKind::Dns(q) = &dns.kind else {
        panic!("{dns:?}")
    };
    assert_eq!(
        (q.query_name.as_str(), q.query_type),
        ("www.example.test", DnsType::A)
    );
    assert_eq!(
        (dns.fall, dns.retry_delay.as_secs()),
        (4, 10),
        "3 retries, delay_loop apart"
    );
    let CheckKind::Udp(u) = &check(0, 1).kind else {
        panic!()
    };
    assert_eq!(u.payload, b"keepalived check - keepalived ch");
    assert!(u.require_reply);
    assert_eq!(u.reply_prefix, vec![(0xab, 0xff), (0x00, 0x00)]);
    assert_eq!((u.min_reply_length, u.max_reply_length), (4, Some(255)));
    let ping = check(0, 2);
    assert_eq!(
        (ping.kind.clone(), ping.source),
        (CheckKind::Ping, Some("10.0.0.1".parse().unwrap()))
    );
    let CheckKind::Http(h) = &check(1, 0).kind else {
        panic!()
    };
    assert_eq!(h.http_protocol, HttpProtocol::Http10);
    assert_eq!(h.urls.len(), 2);
    assert_eq!(
        h.urls[0].digest.as_deref(),
        Some("640205b7b0fc66c1ea91c463fac6334d")
    );
    assert!(h.urls[1].status.contains(204) && !h.urls[1].status.contains(205));
    let CheckKind::File(f) = &check(1, 1).kind else {
        panic!()
    };
    assert_eq!((f.file.to_str(), f.weight), (Some("/run/app/state"), -5));
    let CheckKind::Smtp(s) = &check(2, 0).kind else {
        panic!()
    };
    assert_eq!(s.helo_name.as_deref(), Some("smtpchecker.keepalived.org"));
    assert_eq!(s.hosts.len(), 1);
    assert_eq!(
        (s.hosts[0].address.to_string(), s.hosts[0].port),
        ("10.0.1.11".into(), Some(587))
    );
    assert!(
        warnings(&i).iter().any(|w| w.contains("host { … }")),
        "{:?}",
        warnings(&i)
    );
}

/// keepalived reads a script line twice (lib/parser.c alloc_strvec_quoted, then
/// core/notify.c set_script_params_array → alloc_strvec_quoted_escaped): single quotes group
/// words as double quotes do, and escapes are decoded. vrrp_script's `script` and `misc_path`
/// take the command only (vrrp_parser.c vrrp_vscript_script_handler, check_misc.c
/// misc_path_handler); a notify script's trailing words are its user and group
/// (notify.c notify_script_init → set_script_uid_gid).
#[test]
fn script_lines_are_read_twice_as_keepalived_reads_them() {
    let (imp, c) = convert(
        "global_defs {
    script_user root root
}
vrrp_script chk {
    script 'killall -0 haproxy' # a comment
    user root root
}
vrrp_script esc {
    script \"/bin/echo a\\ b 'c d'\" extra
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    track_script {
        chk
        esc
    }
    notify_master \"/etc/keepalived/notify.sh master\" root
    notify_backup \"/etc/keepalived/notify.sh backup\" nobody
    virtual_ipaddress {
        10.0.0.100/32
    }
}
",
    );
    assert_eq!(c.track_scripts[0].command, vec!["killall", "-0", "haproxy"]);
    assert_eq!(c.track_scripts[1].command, vec!["/bin/echo", "a b", "c d"]);
    assert_eq!(
        c.global.script_user, "root",
        "root root is root with its group"
    );
    assert_eq!(
        c.vrrp_instances[0].notify.master.as_deref(),
        Some(&["/etc/keepalived/notify.sh".to_string(), "master".into()][..])
    );
    assert_eq!(
        losses(&imp),
        vec![
            "19: notify_backup /etc/keepalived/notify.sh backup nobody: runs as nobody in keepalived; haldir runs this table's commands as one user (root)"
        ]
    );
    assert_eq!(
        warnings(&imp),
        vec![
            "9: script /bin/echo a\\ b 'c d' extra: keepalived reads only the command and ignores \"extra\""
        ]
    );
}

/// Without a global script_user, scripts that all name the same user make it haldir's
/// script_user; a script naming none would run as keepalived's default user
/// (notify.c get_default_script_user), so then no user is taken from the others.
#[test]
fn a_user_every_script_names_becomes_script_user() {
    let one = "vrrp_script chk {
    script /bin/true
    user root
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    track_script {
        chk
    }
    virtual_ipaddress {
        10.0.0.100/32
    }
}
";
    let (imp, c) = convert(one);
    assert_eq!(c.global.script_user, "root");
    assert!(losses(&imp).is_empty(), "{:?}", losses(&imp));
    let (imp, c) = convert(&one.replace(
        "    virtual_ipaddress {",
        "    notify_master /bin/true\n    virtual_ipaddress {",
    ));
    assert_eq!(c.global.script_user, "haldir-script");
    assert_eq!(
        losses(&imp),
        vec![
            "3: user root: runs as root in keepalived; haldir runs every script as script_user (haldir-script)"
        ]
    );
}

/// core/smtp.c sends notification_email and notification_email_from as written
/// ("MAIL FROM:<%s>", "RCPT TO:<%s>"): a bare local name is the mail server's to complete.
#[test]
fn bare_mail_names_are_sent_as_written() {
    let (imp, c) = convert(
        "global_defs {
    notification_email {
        acassen
        ops@example.com
    }
    notification_email_from root
    smtp_server 192.0.2.25
}
",
    );
    let email = c.email.expect("[email]");
    assert_eq!(email.to, vec!["acassen", "ops@example.com"]);
    assert_eq!(email.from, "root");
    assert!(losses(&imp).is_empty(), "{:?}", losses(&imp));
}

/// core/global_parser.c: umask as strtol reads it or as bit names (umask_handler), the two
/// no_swap switches (one process here), checker_log_all_failures, and a multicast group
/// equal to VRRP's own; check_parser.c has no nat_mask any more ("Unknown keyword").
#[test]
fn process_settings_map_to_global() {
    let (imp, c) = convert(
        "global_defs {
    umask IWGRP | IWOTH
    vrrp_no_swap
    checker_no_swap
    checker_log_all_failures on
    vrrp_mcast_group4 224.0.0.18
}
virtual_server 10.0.0.100 80 {
    protocol TCP
    nat_mask 255.255.255.0
    real_server 10.0.0.1 80 {
    }
}
",
    );
    assert_eq!(c.global.umask, Some(0o022));
    assert!(c.global.no_swap && c.global.log_all_failures);
    assert!(losses(&imp).is_empty(), "{:?}", losses(&imp));
    assert_eq!(
        warnings(&imp),
        vec![
            "3: vrrp_no_swap: haldir is one process: no_swap locks its checks and VRRP together, as vrrp_no_swap with checker_no_swap would",
            "10: nat_mask 255.255.255.0: keepalived no longer knows nat_mask (\"Unknown keyword\") and ignores it",
        ]
    );
    let (imp, _) = convert("global_defs {\n    vrrp_mcast_group4 224.0.0.19\n}\n");
    assert_eq!(
        losses(&imp),
        vec!["2: vrrp_mcast_group4 224.0.0.19: haldir sends multicast adverts to 224.0.0.18 only"]
    );
}

/// lib/parser.c: `_INSTANCE` is the config id, `_PWD` the directory of the file being read
/// (keepalived chdir()s there while reading it), `_RANDOM` a new number at each read.
#[test]
fn standard_definitions() {
    let (imp, c) = convert(
        "vrrp_script chk {
    script ${_PWD}/check.sh
}
vrrp_instance ${_INSTANCE}_VI {
    interface eth0
    virtual_router_id 51
    notify_master \"/bin/echo ${_RANDOM}\"
    track_script {
        chk
    }
    virtual_ipaddress {
        10.0.0.100/32
    }
}
",
    );
    assert_eq!(c.vrrp_instances[0].name, "lb1_VI");
    assert!(
        c.track_scripts[0].command[0].ends_with("/check.sh")
            && !c.track_scripts[0].command[0].contains('$'),
        "{:?}",
        c.track_scripts[0].command
    );
    assert_eq!(
        c.vrrp_instances[0].notify.master.as_deref(),
        Some(&["/bin/echo".to_string(), "0".into()][..])
    );
    assert!(losses(&imp)[0].starts_with("7: ${_RANDOM}: keepalived draws a new number"));
    assert_eq!(losses(&imp).len(), 1, "{:?}", losses(&imp));
    assert!(
        warnings(&imp)[0].starts_with("2: ${_PWD}: the directory this file was read from here (")
    );
}

/// lib/parser.c looks a keyword up in its block's own list only: garp_master_delay is an
/// instance's keyword, unknown in global_defs ("Unknown keyword", skipped); net_namespace is a
/// top-level keyword (core/global_parser.c install_keyword_root), unknown inside global_defs.
#[test]
fn keywords_are_known_per_block_as_keepalived_knows_them() {
    let (imp, c) = convert(
        "net_namespace blue
global_defs {
    garp_master_delay 3
    net_namespace red
}
",
    );
    assert_eq!(c.global.net_namespace.as_deref(), Some("blue"));
    assert!(losses(&imp).is_empty(), "{:?}", losses(&imp));
    assert_eq!(
        warnings(&imp),
        vec![
            "3: garp_master_delay 3: keepalived does not know this keyword in global_defs (\"Unknown keyword\") and skips it",
            "4: net_namespace red: keepalived does not know this keyword in global_defs (\"Unknown keyword\") and skips it",
        ]
    );
}

/// vrrp/vrrp_parser.c vrrp_vmac_handler: `use_vmac [[name] NAME] [MAC] …`; an address without
/// `dev`, or with the instance's own interface, goes on the VMAC (vrrp/vrrp.c
/// vrrp_complete_instance; keepalived 2.2.7's dump shows both there), one on another
/// interface stays there; unicast peers need vmac_xmit_base (keepalived.conf(5), use_vmac
/// NOTE 2).
#[test]
fn use_vmac_as_keepalived_places_the_addresses() {
    let (imp, c) = convert(
        "vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    use_vmac name gw0
    virtual_ipaddress {
        10.0.0.100/32
        10.0.0.101/32 dev eth0
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    use_vmac
    vmac_xmit_base
    unicast_src_ip 10.0.0.11
    unicast_peer {
        10.0.0.12
    }
    virtual_ipaddress {
        10.0.0.102/32
    }
}
vrrp_instance VI_3 {
    interface eth0
    virtual_router_id 53
    use_vmac vm3 02:00:00:00:00:01
    unicast_peer {
        10.0.0.12
    }
    virtual_ipaddress {
        10.0.0.103/32
    }
}
",
    );
    let (a, b, d) = (
        &c.vrrp_instances[0],
        &c.vrrp_instances[1],
        &c.vrrp_instances[2],
    );
    assert_eq!(a.vmac.as_ref().map(|v| v.name.as_str()), Some("gw0"));
    assert_eq!(a.address_interface(), "gw0");
    let vips: Vec<String> = a.virtual_ipaddress.iter().map(|v| v.to_string()).collect();
    assert_eq!(vips, vec!["10.0.0.100/32", "10.0.0.101/32"]);
    let vm = b.vmac.as_ref().expect("VI_2's VMAC");
    assert_eq!((vm.name.as_str(), vm.xmit_base), ("vrrp.52", true));
    assert_eq!(b.advert_interface(), "eth0");
    assert_eq!(d.vmac, None);
    assert_eq!(
        losses(&imp),
        vec![
            "26: use_vmac vm3 02:00:00:00:00:01: haldir makes the VMAC with the VRRP virtual MAC, in the base interface's link group: MAC 02:00:00:00:00:01 not kept",
            "26: use_vmac vm3 02:00:00:00:00:01: with unicast peers keepalived needs vmac_xmit_base: the addresses stay on the interface",
        ]
    );
}

/// core/global_parser.c: notify_fifo / vrrp_notify_fifo / lvs_notify_fifo with their
/// `_script` (run with the FIFO's path appended, core/notify.c notify_script_init(1, …)),
/// vrrp_notify_priority_changes; vrrp_parser.c: a vrrp_script's init_fail; check_api.c: a
/// checker's alpha (it starts failed).
#[test]
fn fifos_init_fail_and_checker_alpha() {
    let (imp, c) = convert(
        "global_defs {
    vrrp_notify_fifo /run/k.fifo
    vrrp_notify_fifo_script \"/usr/local/bin/handler --x\"
    lvs_notify_fifo_script /usr/local/bin/orphan
    vrrp_notify_priority_changes true
}
vrrp_script chk {
    script /bin/true
    init_fail
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    track_script {
        chk
    }
    virtual_ipaddress {
        10.0.0.100/32
    }
}
virtual_server 10.0.0.100 80 {
    protocol TCP
    real_server 10.0.0.1 80 {
        TCP_CHECK {
            alpha
        }
    }
}
",
    );
    let fifo = c
        .global
        .vrrp_notify_fifo
        .as_ref()
        .expect("vrrp_notify_fifo");
    assert_eq!(fifo.path, std::path::PathBuf::from("/run/k.fifo"));
    assert_eq!(
        fifo.command.as_deref(),
        Some(&["/usr/local/bin/handler".to_string(), "--x".into()][..])
    );
    assert!(c.global.notify_priority_changes && c.global.lvs_notify_fifo.is_none());
    assert!(c.track_scripts[0].init_fail);
    let check = c.virtual_servers[0].real_servers[0].check.as_ref().unwrap();
    assert!(check.alpha);
    assert!(losses(&imp).is_empty(), "{:?}", losses(&imp));
    assert_eq!(
        warnings(&imp),
        vec![
            "4: lvs_notify_fifo_script /usr/local/bin/orphan: no lvs_notify_fifo: keepalived opens no FIFO and runs no script"
        ]
    );
}

/// core/notify.c notify_script_init: a notify command's trailing words are its user and
/// group; global_defs' script_user takes a group too (set_script_uid_gid). haldir writes
/// "user:group", and a notify table whose commands all name one user gets it as `user`.
/// vrrp.c vrrp_check_packet checks a unicast advert's source only with check_unicast_src,
/// which haldir always does.
#[test]
fn script_users_with_groups_and_notify_tables() {
    let (imp, c) = convert(
        "global_defs {
    script_user ziggy ziggy
}
vrrp_script chk {
    script /bin/true
    user ziggy ziggy
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    check_unicast_src
    unicast_peer {
        10.0.0.12
    }
    track_script {
        chk
    }
    notify_master \"/x.sh master\" root root
    notify_fault \"/x.sh fault\" root
    virtual_ipaddress {
        10.0.0.100/32
    }
}
",
    );
    assert_eq!(c.global.script_user, "ziggy:ziggy");
    assert_eq!(c.vrrp_instances[0].notify.user.as_deref(), Some("root"));
    assert!(losses(&imp).is_empty(), "{:?}", losses(&imp));
    assert!(warnings(&imp).is_empty(), "{:?}", warnings(&imp));
}
