//! Differences the import oracle (tests/import_oracle.rs) found between keepalived's reading of
//! a file and haldir's reading of its conversion, each now converted as keepalived 2.2.7 runs
//! it, with the keepalived source that decides it.

use std::path::Path;
use std::time::Duration;

use haldir::config::Config;
use haldir::import::{Imported, import};

fn convert(text: &str) -> (Imported, Config) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, text).unwrap();
    let imported = import(&path, "lb1").unwrap();
    let config = haldir::config::load_str(Path::new("converted.toml"), &imported.toml)
        .unwrap_or_else(|e| panic!("does not validate:\n{e}\n{}", imported.toml))
        .config;
    (imported, config)
}

/// A warning on `line` that says `words`.
fn assert_warned(i: &Imported, line: usize, words: &str) {
    assert!(
        i.warnings
            .iter()
            .any(|w| w.0.line == line && w.0.what.contains(words)),
        "no warning on line {line} with {words:?}: {:?}",
        i.warnings
    );
}

const SCRIPT: &str = "vrrp_script chk {\n    script \"/bin/true\"\n    weight -20\n}\n";

/// vrrp/vrrp.c vrrp_complete_instance: the address owner (priority 255) stops tracking a
/// weighted interface ("ignoring eth1 tracked interface due to address owner") and drops a
/// weighted script ("ignoring tracked script chk with weights due to address_owner").
#[test]
fn the_address_owner_ignores_tracking_weights() {
    let text = format!(
        "{SCRIPT}vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    priority 255
    virtual_ipaddress {{
        10.0.0.100
    }}
    track_interface {{
        eth1 weight 10
        eth2
    }}
    track_script {{
        chk
    }}
}}
"
    );
    let (i, c) = convert(&text);
    let vi = &c.vrrp_instances[0];
    let tracked: Vec<&str> = vi.track_interface.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(tracked, vec!["eth0", "eth2"]);
    assert!(vi.track_script.is_empty(), "{:?}", vi.track_script);
    assert_warned(&i, 13, "address owner");
    assert_warned(&i, 17, "address_owner");
}

/// The same file with priority 254 keeps every weight: the rule is the owner's only.
#[test]
fn a_backup_keeps_its_tracking_weights() {
    let text = format!(
        "{SCRIPT}vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    priority 254
    virtual_ipaddress {{
        10.0.0.100
    }}
    track_interface {{
        eth1 weight 10
    }}
    track_script {{
        chk
    }}
}}
"
    );
    let (_, c) = convert(&text);
    let vi = &c.vrrp_instances[0];
    assert_eq!(vi.track_interface[1].weight, Some(10));
    assert_eq!(vi.track_script[0].weight, Some(-20));
}

/// A sync group with sync_group_tracking_weight keeps its instances' weights (vrrp.c: the rule
/// applies only when `!vrrp->sync->sgroup_tracking_weight`), and the keyword is no loss.
#[test]
fn sync_group_tracking_weight_keeps_weights() {
    let text = format!(
        "{SCRIPT}vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {{
        10.0.0.100
    }}
    track_script {{
        chk
    }}
}}
vrrp_sync_group G {{
    group {{
        VI_1
    }}
    sync_group_tracking_weight
}}
"
    );
    let (i, c) = convert(&text);
    assert_eq!(c.vrrp_instances[0].track_script[0].weight, Some(-20));
    assert!(i.losses.is_empty(), "{:?}", i.losses);
}

fn service(body: &str, servers: &[u32]) -> String {
    let mut t = format!("virtual_server 10.0.0.1 80 {{\n    lb_kind DR\n{body}");
    for (k, w) in servers.iter().enumerate() {
        t.push_str(&format!(
            "    real_server 10.0.1.{} 80 {{\n        weight {w}\n    }}\n",
            k + 1
        ));
    }
    t.push_str("}\n");
    t
}

/// check/check_parser.c quorum_handler: a quorum outside [1, UINT_MAX] "Setting to 1"; its
/// number read with ignore_error, so "2.5" is 2 (lib/parser.c read_unsigned_func).
/// check/check_data.c: a quorum above the real servers' total weight is lowered to it, and a
/// hysteresis not below the quorum becomes quorum - 1. Each as keepalived 2.2.7 logged it on
/// the corpus (devtools-udp-check: "quorum 2 … exceeds total weight of real servers 1,
/// reducing quorum to 1"; dnsdoodle-unbound-udp-dns: quorum 0 read as 1).
#[test]
fn quorum_and_hysteresis_settle_as_keepalived_settles_them() {
    let cases: &[(&str, &[u32], u32, u32)] = &[
        ("    quorum 0\n", &[1, 1], 1, 0),
        ("    quorum 2\n", &[1], 1, 0),
        ("    quorum 2.5\n", &[3], 2, 0),
        ("    quorum 3\n    hysteresis 3\n", &[2, 2], 3, 2),
        ("    quorum 4\n    hysteresis -1\n", &[2, 2], 4, 0),
    ];
    for (body, weights, quorum, hysteresis) in cases {
        let (_, c) = convert(&service(body, weights));
        let vs = &c.virtual_servers[0];
        assert_eq!((vs.quorum, vs.hysteresis), (*quorum, *hysteresis), "{body}");
    }
}

/// check/check_parser.c pto_handler: a persistence_timeout must be 1 to LVS_MAX_TIMEOUT
/// (31 days) seconds, whole ("persistence_timeout invalid" otherwise, and ignored).
#[test]
fn persistence_timeout_out_of_range_is_ignored() {
    for (value, want) in [
        ("50", 50),
        ("2678400", 2_678_400),
        ("2678401", 0),
        ("1.5", 0),
        ("0", 0),
    ] {
        let (i, c) = convert(&service(
            &format!("    persistence_timeout {value}\n"),
            &[1],
        ));
        assert_eq!(
            c.virtual_servers[0].persistence_timeout,
            Duration::from_secs(want),
            "{value}"
        );
        assert_eq!(
            !i.warnings.is_empty(),
            want == 0,
            "{value}: {:?}",
            i.warnings
        );
    }
}

/// lib/parser.c process_stream: a word keepalived knows as no keyword opens no block; its '{'
/// is ignored ("Unexpected '{' - ignoring", or one more word of the unknown statement), what
/// follows is read in the block around it, and the next '}' closes that block. Found on a
/// real file with `SMTP_CHEKC {` inside a real server (lvs2-nat-empty-checkers-sorry-server):
/// keepalived closed the real server there and never saw the next one.
#[test]
fn a_misspelt_keyword_opens_no_block() {
    let text = "virtual_server 10.0.0.1 80 {
    lb_kind NAT
    real_server 10.0.1.1 80 {
        SMTP_CHEKC {
            connect_timeout 3
        }
        weight 5
    }
    real_server 10.0.1.2 80 {
        weight 1
    }
}
";
    let (i, c) = convert(text);
    let vs = &c.virtual_servers[0];
    // `weight 5` is read at the service's level, a service's default weight for servers
    // without their own (check/check_data.c validate_check_config), and the '}' after it ends
    // the service: 10.0.1.2 is outside it.
    let servers: Vec<String> = vs
        .real_servers
        .iter()
        .map(|r| r.address.to_string())
        .collect();
    assert_eq!(servers, vec!["10.0.1.1:80"], "{}", i.toml);
    assert_eq!(vs.real_servers[0].weight, 5);
}

/// The same, for blocks left open at the end of the file: keepalived reads on to the end and
/// closes them; the conversion does the same and says so (it used to refuse the file).
#[test]
fn a_block_left_open_is_closed_at_the_end() {
    let text = "vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        10.0.0.100
    }
";
    let (i, c) = convert(text);
    assert_eq!(c.vrrp_instances[0].virtual_router_id, 51);
    assert_warned(&i, 1, "never closed");
}

/// vrrp/vrrp_track.c alloc_track_script looks the script up when the track_script entry is
/// read: a vrrp_script defined further down is "not found, ignoring" (keepalived 2.2.7 on
/// vrrp2-traefik-script-defined-after-use).
#[test]
fn a_script_defined_after_its_use_is_not_tracked() {
    let text = format!(
        "vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {{
        10.0.0.100
    }}
    track_script {{
        chk
    }}
}}
{SCRIPT}"
    );
    let (i, c) = convert(&text);
    assert!(c.vrrp_instances[0].track_script.is_empty());
    assert_warned(&i, 8, "comes later");
}

/// check/check_data.c alloc_rs: a real server whose port does not read as 1 to 65535 is
/// skipped ("Invalid real server ip address/port … - skipping"); an all-zero port is none.
#[test]
fn a_real_server_with_a_port_out_of_range_is_skipped() {
    let (i, c) = convert(&service("    real_server 10.0.1.9 65536 {\n    }\n", &[1]));
    let servers: Vec<String> = c.virtual_servers[0]
        .real_servers
        .iter()
        .map(|r| r.address.to_string())
        .collect();
    assert_eq!(servers, vec!["10.0.1.1:80"]);
    assert_warned(&i, 3, "skips a real server");
}

/// lib/parser.c process_stream: a keyword with a block of keywords opens it even when its
/// '{' is missing ("Missing '{' at beginning of configuration block"): keepalived 2.2.7 ran
/// lvs2-dr-missing-open-brace's service with its real server.
#[test]
fn a_missing_open_brace_still_opens_the_block() {
    let text = "virtual_server 10.0.0.1 80
    lb_kind DR
    protocol TCP
    real_server 10.0.1.1 80 {
        weight 3
    }
}
";
    let (i, c) = convert(text);
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.real_servers[0].weight, 3, "{}", i.toml);
    assert_warned(&i, 1, "Missing '{'");
}

/// check/check_parser.c pgr_handler: a persistence_granularity makes the service persistent
/// for 6 minutes when no timeout was given before it; one given after replaces it.
#[test]
fn a_persistence_granularity_makes_the_service_persistent() {
    let (_, c) = convert(&service(
        "    persistence_granularity 255.255.255.0\n",
        &[1],
    ));
    assert_eq!(
        c.virtual_servers[0].persistence_timeout,
        Duration::from_secs(360)
    );
    let body = "    persistence_granularity 255.255.255.0\n    persistence_timeout 50\n";
    let (_, c) = convert(&service(body, &[1]));
    assert_eq!(
        c.virtual_servers[0].persistence_timeout,
        Duration::from_secs(50)
    );
}

/// vrrp/vrrp.c vrrp_complete_instance: with use_vmac, an address whose `dev` is the
/// instance's own interface goes on the VMAC too; keepalived 2.2.7's dump of this instance
/// shows 10.0.0.101 on the VMAC and 10.0.0.102 on eth1.
#[test]
fn with_a_vmac_the_instance_interface_means_the_vmac() {
    let (_, c) = convert(
        "vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    use_vmac
    virtual_ipaddress {
        10.0.0.101/32 dev eth0
        10.0.0.102/32 dev eth1
    }
}
",
    );
    let vi = &c.vrrp_instances[0];
    let on: Vec<&str> = vi
        .virtual_ipaddress
        .iter()
        .map(|v| v.dev.as_deref().unwrap_or(vi.address_interface()))
        .collect();
    assert_eq!(on, vec!["vrrp.51", "eth1"]);
}

/// vrrp/vrrp_parser.c vrrp_srcip_handler, vrrp_data.c alloc_vrrp_unicast_peer and
/// alloc_vrrp_vip: the first of the source, a peer or a VIP sets the instance's family, in
/// the order written; a later one of the other family is skipped ("MUST be of the same
/// family", "address family must match VRRP instance - ignoring"). keepalived 2.2.7 read a
/// generated file so: an IPv4 peer first, then an IPv6 peer and an IPv6 VIP, both skipped.
#[test]
fn the_first_address_sets_the_instance_family() {
    let (i, c) = convert(
        "vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    unicast_peer {
        10.0.0.2
        2001:db8::3
    }
    virtual_ipaddress {
        2001:db8::100
        10.0.0.100
    }
}
",
    );
    let vi = &c.vrrp_instances[0];
    assert_eq!(
        vi.unicast_peers,
        vec!["10.0.0.2".parse::<std::net::IpAddr>().unwrap()]
    );
    let vips: Vec<String> = vi.virtual_ipaddress.iter().map(|v| v.to_string()).collect();
    assert_eq!(vips, vec!["10.0.0.100/32"]);
    assert_warned(&i, 6, "MUST be of the same family");
    assert_warned(&i, 9, "address family must match");
}

/// vrrp/vrrp_parser.c vrrp_vrid_handler takes 1 to 255, whole; vrrp/vrrp.c chk_min_cfg then
/// fails an instance without one, and keepalived's VRRP process stops for the whole file
/// ("the virtual router id must be set", "exited with permanent error CONFIG": keepalived 2.2.7
/// on a generated file). The conversion says so and keeps the rest.
#[test]
fn an_instance_without_a_valid_vrid_stops_keepalived_vrrp() {
    let (i, c) = convert(
        "vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51.5
    virtual_ipaddress {
        10.0.0.100
    }
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    virtual_ipaddress {
        10.0.0.101
    }
}
",
    );
    let names: Vec<&str> = c.vrrp_instances.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, vec!["VI_2"]);
    assert_warned(&i, 3, "VRID");
    assert!(
        i.losses
            .iter()
            .any(|l| l.line == 1 && l.what.contains("keepalived does not start")),
        "{:?}",
        i.losses
    );
}

/// vrrp/vrrp.c: a VRRPv3 or IPv6 instance without a VIP ("No VIP specified; at least one is
/// required") and two instances with one VRID, family and interface ("both use VRID") stop
/// keepalived's VRRP process for the whole file, as keepalived 2.2.7 did on generated files.
#[test]
fn instances_keepalived_refuses_to_start_with_are_reported() {
    let (i, c) = convert(
        "vrrp_instance A {
    interface eth0
    virtual_router_id 51
    version 3
}
vrrp_instance B {
    interface eth0
    virtual_router_id 52
    virtual_ipaddress {
        10.0.0.100
    }
}
vrrp_instance C {
    interface eth0
    virtual_router_id 52
    virtual_ipaddress {
        10.0.0.101
    }
}
",
    );
    let names: Vec<&str> = c.vrrp_instances.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, vec!["B"]);
    let stops: Vec<usize> = i
        .losses
        .iter()
        .filter(|l| l.what.contains("keepalived does not start"))
        .map(|l| l.line)
        .collect();
    assert_eq!(stops, vec![1, 13], "{:?}", i.losses);
}

/// check/check_data.c alloc_vs reads a mark with read_unsigned(0, UINT32_MAX): 0 passes, but
/// dump_vs and ipvs_set_srule take a service with vfwmark 0 for an address service, and its
/// address was never set (keepalived 2.2.7 dumped `VS VIP = ff02::12, VPORT = 0`, the last
/// address it had printed). Nothing reaches it: the conversion leaves it out and says so.
#[test]
fn fwmark_0_is_reported_and_left_out() {
    let text = "virtual_server fwmark 0 {\n    lb_kind DR\n    real_server 10.0.1.1 80 {\n    }\n}\nvirtual_server fwmark 7 {\n    lb_kind DR\n    real_server 10.0.1.1 80 {\n    }\n}\n";
    let (i, c) = convert(text);
    let marks: Vec<String> = c
        .virtual_servers
        .iter()
        .map(|v| format!("{:?}", v.key))
        .collect();
    assert_eq!(marks.len(), 1, "{marks:?}");
    assert!(marks[0].contains("mark: 7"), "{marks:?}");
    assert!(
        i.losses
            .iter()
            .any(|l| l.line == 1 && l.what.contains("fwmark 0 is no mark")),
        "{:?}",
        i.losses
    );
}

/// check/check_data.c validate_check_config gives a fwmark service the family of its real
/// servers, and IPVS finds a mark service by mark and family (ip_vs_ctl.c
/// __ip_vs_svc_fwm_find): the same mark over IPv4 and IPv6 servers is two services. Both are
/// converted, under two names.
#[test]
fn one_fwmark_over_both_families_is_two_services() {
    let block = |rs: &str| {
        format!(
            "virtual_server fwmark 1 {{\n    lb_kind DR\n    real_server {rs} 80 {{\n    }}\n}}\n"
        )
    };
    let (i, c) = convert(&(block("10.0.1.1") + &block("2001:db8::1")));
    assert!(i.losses.is_empty(), "{:?}", i.losses);
    let names: Vec<&str> = c.virtual_servers.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["fwmark-1", "fwmark-1-ipv6"]);
}

/// check/check_parser.c proto_handler, and IPVS keys an address service by protocol,
/// address and port: DNS over TCP and UDP on one address is two services (keepalived 2.2.7
/// ran lvs2-nodelocal-dns-nat-udp-http-check's two). Both are converted, the second named
/// after its protocol too.
#[test]
fn one_address_under_two_protocols_is_two_services() {
    let block = |proto: &str| {
        format!(
            "virtual_server 10.0.0.53 53 {{\n    protocol {proto}\n    real_server 10.0.1.1 53 {{\n    }}\n}}\n"
        )
    };
    let (i, c) = convert(&(block("TCP") + &block("UDP")));
    assert!(i.losses.is_empty(), "{:?}", i.losses);
    let names: Vec<&str> = c.virtual_servers.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["10.0.0.53:53", "10.0.0.53:53/udp"]);
}

/// lib/parser.c null_strvec: a handler that reads a value that is not there ends the process
/// ("Configuration line starting `mcast_src_ip` is missing a parameter", then "exited with
/// permanent error CONFIG"); keepalived 2.2.7 did not start lvs2-annotated-reference-pseudo-
/// syntax's VRRP process for it. Which statements do so is asked of keepalived itself
/// (tests/import_missing_value.rs); a flag without a value (nopreempt) does not.
#[test]
fn a_statement_without_its_value_that_ends_keepalived_is_reported() {
    let text = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    mcast_src_ip\n    nopreempt\n    virtual_ipaddress {\n        10.0.0.100\n    }\n}\n";
    let (i, c) = convert(text);
    let on = |line: usize| i.losses.iter().filter(move |l| l.line == line);
    assert_eq!(on(4).count(), 1, "{:?}", i.losses);
    assert!(
        on(4).all(|l| l
            .what
            .contains("keepalived does not start its VRRP process")),
        "{:?}",
        i.losses
    );
    assert_eq!(on(5).count(), 0, "{:?}", i.losses);
    assert!(!c.vrrp_instances[0].preempt);
}

/// lib/utils.c inet_stosockaddr, which reads peers, sources and servers' addresses, "remove[s]
/// range and mask stuff": `192.168.0.24/24` as a unicast peer is 192.168.0.24 (seen in a file
/// never in the corpus).
#[test]
fn an_address_is_read_up_to_its_mask_or_range() {
    let text = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    unicast_src_ip 192.168.0.23/24\n    unicast_peer {\n        192.168.0.24/24\n    }\n    virtual_ipaddress {\n        192.168.0.100\n    }\n}\n";
    let (i, c) = convert(text);
    assert!(i.losses.is_empty(), "{:?}", i.losses);
    let vi = &c.vrrp_instances[0];
    assert_eq!(
        vi.unicast_peers,
        vec!["192.168.0.24".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(vi.unicast_source, "192.168.0.23".parse().ok());
    assert_warned(&i, 6, "inet_stosockaddr");
}

/// lib/parser.c process_stream knows at the top level only the keywords installed with
/// install_keyword_root: a misspelt block's statements (`vvrp_script chk {` then `script`,
/// `interval`) land there and are skipped ("Unknown keyword"), as is a '}' that closes
/// nothing. No loss: keepalived runs without them too.
#[test]
fn statements_keepalived_does_not_know_where_they_stand_are_no_loss() {
    let text = "vvrp_script chk {\n    script \"/bin/true\"\n    interval 2\n}\nvrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    sorry_server 10.0.0.9 80\n    virtual_ipaddress {\n        10.0.0.100\n    }\n}\n";
    let (i, _) = convert(text);
    assert!(i.losses.is_empty(), "{:?}", i.losses);
    assert_warned(&i, 2, "at the top level");
    assert_warned(&i, 4, "closes nothing");
    assert_warned(&i, 8, "in a vrrp_instance");
}
