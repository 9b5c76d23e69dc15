//! One bad configuration per validation rule, with the exact place and message expected.

use std::path::Path;

use haldir::config::{self, LoadError, Severity};

/// A valid base every case appends to or edits: one instance, one service, one real server.
const BASE: &str = r#"
[[vrrp_instance]]
name = "VI_1"
interface = "eth1"
virtual_router_id = 51
virtual_ipaddress = ["10.0.0.100/32"]

[[virtual_server]]
address = "10.0.0.100:80"
forwarding = "dr"
[[virtual_server.real_server]]
address = "10.0.0.1:80"
"#;

/// (line, column, message) of every error, in file order.
fn errors_of(text: &str) -> Vec<(usize, usize, String)> {
    match config::load_str(Path::new("test.toml"), text) {
        Ok(_) => Vec::new(),
        Err(LoadError::Invalid(inv)) => inv
            .diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| {
                let p = inv.sources.position(d.loc);
                (p.line, p.column, d.message.clone())
            })
            .collect(),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// Asserts that `text` fails with exactly the one error given, at the place given.
#[track_caller]
fn expect(text: &str, line: usize, column: usize, message: &str) {
    let errs = errors_of(text);
    assert_eq!(
        errs,
        vec![(line, column, message.to_string())],
        "config:\n{text}"
    );
}

#[test]
fn base_is_valid() {
    assert_eq!(errors_of(BASE), vec![]);
}

#[test]
fn unknown_keys_name_the_section_and_suggest() {
    expect("globl = 1\n", 1, 1, "unknown key `globl` in the top level");
    expect(
        "[[vrrp_instance]]\nname = \"a\"\ninterface = \"eth0\"\nvirtual_router_id = 1\nprority = 5\nvirtual_ipaddress = [\"10.0.0.1\"]\n",
        5,
        1,
        "unknown key `prority` in [[vrrp_instance]]",
    );
    let text = BASE.replace(
        "forwarding = \"dr\"\n",
        "forwarding = \"dr\"\n[virtual_server.check]\ntype = \"tcp\"\nintervall = \"1s\"\n",
    );
    expect(&text, 13, 1, "unknown key `intervall` in check");
}

#[test]
fn suggestion_is_given_for_typos() {
    let text = "[ipvs]\non_stpo = \"keep\"\n";
    let Err(LoadError::Invalid(inv)) = config::load_str(Path::new("t.toml"), text) else {
        panic!()
    };
    assert_eq!(
        inv.diags[0].help.as_deref(),
        Some("did you mean `on_stop`?")
    );
}

#[test]
fn out_of_range_numbers() {
    expect(
        &BASE.replace("virtual_router_id = 51", "virtual_router_id = 256"),
        5,
        21,
        "`virtual_router_id` = 256 is out of range: expected 1 to 255",
    );
    expect(
        &BASE.replace("virtual_router_id = 51", "virtual_router_id = 0"),
        5,
        21,
        "`virtual_router_id` = 0 is out of range: expected 1 to 255",
    );
    expect(
        &BASE.replace(
            "virtual_router_id = 51",
            "virtual_router_id = 51\npriority = 0",
        ),
        6,
        12,
        "`priority` = 0 is out of range: expected 1 to 255",
    );
    expect(
        &format!("{BASE}weight = 65536\n"),
        13,
        10,
        "`weight` = 65536 is out of range: expected 0 to 65535",
    );
    expect(
        &format!("{BASE}check = {{ type = \"tcp\", port = 70000 }}\n"),
        13,
        32,
        "`port` = 70000 is out of range: expected 1 to 65535",
    );
}

#[test]
fn wrong_value_kinds() {
    expect(
        &BASE.replace("virtual_router_id = 51", "virtual_router_id = \"51\""),
        5,
        21,
        "`virtual_router_id` must be an integer, found a string \"51\"",
    );
    expect(
        &BASE.replace("forwarding = \"dr\"", "forwarding = \"direct\""),
        10,
        14,
        "`forwarding` must be a forwarding method (\"nat\", \"dr\", \"tun\"), found a string \"direct\"",
    );
    expect(
        &BASE.replace(
            "virtual_ipaddress = [\"10.0.0.100/32\"]",
            "virtual_ipaddress = \"10.0.0.100/32\"",
        ),
        6,
        21,
        "expected an array, found a string",
    );
}

#[test]
fn durations_need_units() {
    expect(
        "[global]\nreconcile_interval = 30\n",
        2,
        22,
        "durations need a unit: write \"30s\" or \"30ms\", not a bare number",
    );
    expect(
        "[global]\nreconcile_interval = \"30\"\n",
        2,
        22,
        "duration \"30\" has no unit: write \"30s\" or \"30ms\"",
    );
}

#[test]
fn advert_interval_must_fit_the_version() {
    expect(
        &BASE.replace(
            "virtual_router_id = 51",
            "virtual_router_id = 51\nadvert_interval = \"1500ms\"",
        ),
        6,
        19,
        "`advert_interval` = \"1500ms\" cannot be sent in VRRPv2: it takes whole seconds from \"1s\" to \"255s\"",
    );
    expect(
        &BASE.replace(
            "virtual_router_id = 51",
            "virtual_router_id = 51\nversion = 3\nadvert_interval = \"5ms\"",
        ),
        7,
        19,
        "`advert_interval` = \"5ms\" cannot be sent in VRRPv3: it takes steps of 10ms from \"10ms\" to \"40.95s\"",
    );
    expect(
        &BASE.replace(
            "virtual_router_id = 51",
            "virtual_router_id = 51\nversion = 3\nadvert_interval = \"41s\"",
        ),
        7,
        19,
        "`advert_interval` = \"41s\" cannot be sent in VRRPv3: it takes steps of 10ms from \"10ms\" to \"40.95s\"",
    );
    // 250ms is a whole number of centiseconds: fine in v3.
    assert_eq!(
        errors_of(&BASE.replace(
            "virtual_router_id = 51",
            "virtual_router_id = 51\nversion = 3\nadvert_interval = \"250ms\""
        )),
        vec![]
    );
}

#[test]
fn one_family_per_instance() {
    expect(
        &BASE.replace(
            "[\"10.0.0.100/32\"]",
            "[\"10.0.0.100/32\", \"2001:db8::1\"]",
        ),
        6,
        39,
        "2001:db8::1/128 is ipv6 but this instance's first address is ipv4",
    );
    expect(
        &BASE.replace("[\"10.0.0.100/32\"]", "[\"2001:db8::1\"]\nversion = 2"),
        7,
        11,
        "VRRPv2 is IPv4 only: IPv6 instances need `version = 3`",
    );
}

#[test]
fn authentication_is_v2_only_and_short() {
    expect(
        &BASE.replace("virtual_router_id = 51", "virtual_router_id = 51\nversion = 3\nauthentication = { type = \"pass\", password = \"x\" }"),
        7,
        18,
        "`authentication` is VRRPv2 only: RFC 5798 removed it from VRRPv3",
    );
    expect(
        &BASE.replace("virtual_router_id = 51", "virtual_router_id = 51\nauthentication = { type = \"pass\", password = \"123456789\" }"),
        6,
        46,
        "the VRRP password is 1 to 8 bytes; this one has 9",
    );
}

#[test]
fn service_key_is_address_or_fwmark() {
    expect(
        &BASE.replace(
            "address = \"10.0.0.100:80\"",
            "address = \"10.0.0.100:80\"\nfwmark = 3",
        ),
        10,
        10,
        "a virtual server has `address` or `fwmark`, not both",
    );
    expect(
        &BASE.replace("address = \"10.0.0.100:80\"\n", ""),
        8,
        1,
        "[[virtual_server]] needs `address` (\"10.0.0.1:80\") or `fwmark`",
    );
}

#[test]
fn fwmark_real_servers_take_no_port() {
    expect(
        &BASE.replace("address = \"10.0.0.100:80\"", "fwmark = 3"),
        12,
        11,
        "a fwmark service's dr real servers take no port: write \"10.0.0.1\"",
    );
    // NAT rewrites the destination, so a port is meaningful there (keepalived keeps it:
    // check/check_data.c, ipvswrapper.c zero the port only for non-NAT destinations).
    let nat = BASE
        .replace("address = \"10.0.0.100:80\"", "fwmark = 3")
        .replace("forwarding = \"dr\"", "forwarding = \"nat\"");
    assert_eq!(errors_of(&nat), vec![]);
}

#[test]
fn port_zero_needs_persistence() {
    // Port 0 is every port, as in ipvsadm: its DR servers take no port of their own.
    expect(
        &BASE
            .replace("10.0.0.100:80", "10.0.0.100:0")
            .replace("10.0.0.1:80", "10.0.0.1"),
        9,
        11,
        "port 0 (every port) needs `persistence_timeout`",
    );
    let persistent = BASE.replace(
        "address = \"10.0.0.100:80\"",
        "address = \"10.0.0.100:0\"\npersistence_timeout = \"360s\"",
    );
    assert_eq!(
        errors_of(&persistent.replace("10.0.0.1:80", "10.0.0.1")),
        vec![]
    );
}

#[test]
fn a_check_of_a_portless_real_server_needs_a_port() {
    let text = BASE
        .replace("address = \"10.0.0.100:80\"", "fwmark = 3")
        .replace("10.0.0.1:80", "10.0.0.1")
        + "check = { type = \"tcp\" }\n";
    expect(
        &text,
        12,
        11,
        "this real server has no port (fwmark service), so its tcp check needs `port`",
    );
    let fixed = text.replace("{ type = \"tcp\" }", "{ type = \"tcp\", port = 80 }");
    assert_eq!(errors_of(&fixed), vec![]);
}

#[test]
fn dr_cannot_change_the_port() {
    expect(
        &BASE.replace("10.0.0.1:80", "10.0.0.1:8080"),
        12,
        11,
        "with dr forwarding the real server receives the packets unchanged, so it must use the service's port 80, not 8080",
    );
    // NAT may map ports.
    assert_eq!(
        errors_of(
            &BASE
                .replace("10.0.0.1:80", "10.0.0.1:8080")
                .replace("\"dr\"", "\"nat\"")
        ),
        vec![]
    );
}

#[test]
fn duplicates() {
    let two_instances = format!(
        "{BASE}\n[[vrrp_instance]]\nname = \"VI_1\"\ninterface = \"eth2\"\nvirtual_router_id = 52\nvirtual_ipaddress = [\"10.0.0.101\"]\n"
    );
    expect(&two_instances, 15, 8, "duplicate vrrp_instance name `VI_1`");

    let same_vrid = format!(
        "{BASE}\n[[vrrp_instance]]\nname = \"VI_2\"\ninterface = \"eth1\"\nvirtual_router_id = 51\nvirtual_ipaddress = [\"10.0.0.101\"]\n"
    );
    expect(
        &same_vrid,
        17,
        21,
        "duplicate virtual router (interface, family, virtual_router_id) `eth1 ipv4 51`",
    );

    let same_vs = format!("{BASE}\n[[virtual_server]]\naddress = \"10.0.0.100:80\"\n");
    expect(
        &same_vs,
        15,
        11,
        "duplicate virtual server `tcp 10.0.0.100:80`",
    );

    let same_name = format!(
        "{BASE}\n[[virtual_server]]\nname = \"10.0.0.100:80\"\naddress = \"10.0.0.100:81\"\n"
    );
    expect(
        &same_name,
        15,
        8,
        "duplicate virtual_server name `10.0.0.100:80`",
    );

    let same_rs = format!("{BASE}[[virtual_server.real_server]]\naddress = \"10.0.0.1\"\n");
    expect(&same_rs, 14, 11, "duplicate real server `10.0.0.1:80`");
}

#[test]
fn references_must_exist() {
    expect(
        &BASE.replace(
            "virtual_router_id = 51",
            "virtual_router_id = 51\ntrack_script = [{ name = \"chk_nginx\" }]",
        ),
        6,
        26,
        "no [[track_script]] is named `chk_nginx`",
    );
    expect(
        &format!("{BASE}\n[[vrrp_sync_group]]\nname = \"G\"\ninstances = [\"VI_1\", \"VI_9\"]\n"),
        16,
        22,
        "no vrrp_instance is named `VI_9`",
    );
    expect(
        &BASE.replace(
            "forwarding = \"dr\"",
            "forwarding = \"dr\"\nvrrp_instance = \"VI_2\"",
        ),
        11,
        17,
        "no vrrp_instance is named `VI_2`",
    );
    expect(
        &format!(
            "{BASE}\n[ipvs]\nsync_daemon = {{ interface = \"eth1\", vrrp_instance = \"VI_X\" }}\n"
        ),
        15,
        53,
        "no vrrp_instance is named `VI_X`",
    );
    let two_groups = format!(
        "{BASE}\n[[vrrp_sync_group]]\nname = \"G\"\ninstances = [\"VI_1\"]\n[[vrrp_sync_group]]\nname = \"H\"\ninstances = [\"VI_1\"]\n"
    );
    expect(
        &two_groups,
        19,
        14,
        "vrrp_instance `VI_1` is already in a sync group",
    );
}

#[test]
fn check_keys_belong_to_their_type() {
    let with_check = |check: &str| {
        BASE.replace(
            "forwarding = \"dr\"\n",
            &format!("forwarding = \"dr\"\n[virtual_server.check]\n{check}\n"),
        )
    };
    expect(
        &with_check("type = \"tcp\"\npath = \"/\""),
        13,
        8,
        "`path` does not apply to a tcp check (it belongs to http and https)",
    );
    expect(
        &with_check("type = \"http\"\nsni = \"a\""),
        13,
        7,
        "`sni` does not apply to a http check (it belongs to https)",
    );
    expect(
        &with_check("type = \"http\"\ncommand = [\"/bin/true\"]"),
        13,
        11,
        "`command` does not apply to a http check (it belongs to misc)",
    );
    expect(
        &with_check("type = \"http\"\nhalf_open = true"),
        13,
        13,
        "`half_open` does not apply to a http check (it belongs to tcp)",
    );
    expect(
        &with_check("type = \"tcp\"\nquery_name = \"x.test\""),
        13,
        14,
        "`query_name` does not apply to a tcp check (it belongs to dns)",
    );
    expect(
        &with_check("type = \"http\"\npath = \"/\"\nurl = [{ path = \"/a\" }]"),
        13,
        8,
        "a check with `url` entries takes path, status, digest and body_regex in each entry",
    );
    expect(
        &with_check("type = \"http\"\nbody_regex = \"(\""),
        13,
        14,
        "`body_regex` is not a valid regular expression",
    );
    expect(
        &with_check("type = \"http\"\npath = \"healthz\""),
        13,
        8,
        "`path` must start with '/': write \"/healthz\"",
    );
    expect(
        &with_check("interval = \"1s\""),
        11,
        1,
        "the check needs `type` (\"tcp\", \"http\", \"https\", \"misc\", \"udp\", \"dns\", \"ping\", \"smtp\" or \"file\")",
    );
    // A real server that switches type does not inherit the service's http keys.
    let switch = with_check("type = \"http\"\npath = \"/hz\"") + "check = { type = \"tcp\" }\n";
    assert_eq!(errors_of(&switch), vec![]);
}

#[test]
fn scheduler_flags_belong_to_their_scheduler() {
    expect(
        &BASE.replace(
            "forwarding = \"dr\"",
            "forwarding = \"dr\"\nscheduler = \"rr\"\nscheduler_flags = [\"sh-port\"]",
        ),
        12,
        20,
        "`sh-port` is a flag of the sh scheduler, not of rr",
    );
    expect(
        &BASE.replace(
            "forwarding = \"dr\"",
            "forwarding = \"dr\"\nscheduler = \"sh\"\nscheduler_flags = [\"mh-port\"]",
        ),
        12,
        20,
        "`mh-port` is a flag of the mh scheduler, not of sh",
    );
}

#[test]
fn service_options_that_depend_on_others() {
    expect(
        &BASE.replace(
            "forwarding = \"dr\"",
            "forwarding = \"dr\"\none_packet = true",
        ),
        11,
        14,
        "`one_packet` is for UDP services; this one is tcp",
    );
    expect(
        &BASE.replace(
            "forwarding = \"dr\"",
            "forwarding = \"dr\"\npersistence_netmask = \"255.255.255.0\"",
        ),
        11,
        23,
        "`persistence_netmask` needs `persistence_timeout`",
    );
    expect(
        &BASE.replace(
            "forwarding = \"dr\"",
            "forwarding = \"tun\"\ntunnel = { type = \"gue\" }",
        ),
        11,
        10,
        "a gue tunnel needs `port`, the UDP port the real servers decapsulate on",
    );
    expect(
        &BASE.replace(
            "forwarding = \"dr\"",
            "forwarding = \"dr\"\ntunnel = { type = \"ipip\" }",
        ),
        11,
        10,
        "`tunnel` applies to `forwarding = \"tun\"`, which neither the service nor its real servers use",
    );
    expect(
        &BASE.replace(
            "forwarding = \"dr\"",
            "forwarding = \"dr\"\nquorum = 1\nhysteresis = 2",
        ),
        12,
        14,
        "`hysteresis` (2) is larger than `quorum` (1): the service could never lose quorum",
    );
}

#[test]
fn toml_syntax_errors_are_located() {
    let errs = errors_of("[global]\nrouter_id = \"lb1\nstate_dir = \"/run\"\n");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        (errs[0].0, errs[0].2.starts_with("TOML syntax:")),
        (2, true),
        "{errs:?}"
    );
}

#[test]
fn every_error_of_a_file_is_reported() {
    let text =
        BASE.replace(
            "virtual_router_id = 51",
            "virtual_router_id = 300\nprority = 1",
        )
        .replace(
            "forwarding = \"dr\"",
            "forwarding = \"dr\"\nscheduler = \"wlcc\"",
        ) + "weight = -1\n";
    let errs = errors_of(&text);
    let lines: Vec<usize> = errs.iter().map(|e| e.0).collect();
    assert_eq!(lines, vec![5, 6, 12, 15], "{errs:?}");
}

mod includes {
    use super::*;
    use std::fs;

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn load_errors(path: &Path) -> Vec<(String, usize, usize, String)> {
        match config::load(path) {
            Ok(_) => Vec::new(),
            Err(LoadError::Invalid(inv)) => inv
                .errors()
                .map(|d| {
                    let p = inv.sources.position(d.loc);
                    (
                        p.path.file_name().unwrap().to_string_lossy().into_owned(),
                        p.line,
                        p.column,
                        d.message.clone(),
                    )
                })
                .collect(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn included_files_are_merged() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "haldir.toml",
            &format!("include = [\"conf.d/*.toml\"]\n{BASE}"),
        );
        write(
            dir.path(),
            "conf.d/a.toml",
            "[[virtual_server]]\naddress = \"10.0.0.100:443\"\n",
        );
        write(
            dir.path(),
            "conf.d/b.toml",
            "[ipvs]\non_stop = \"remove\"\n",
        );
        let loaded = config::load(&dir.path().join("haldir.toml")).unwrap();
        assert_eq!(loaded.config.virtual_servers.len(), 2);
        assert_eq!(
            loaded.config.ipvs.on_stop,
            haldir::config::types::OnStop::Remove
        );
    }

    #[test]
    fn errors_name_the_included_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "haldir.toml", "include = [\"extra.toml\"]\n");
        write(dir.path(), "extra.toml", "\n[ipvs]\non_stop = \"never\"\n");
        let errs = load_errors(&dir.path().join("haldir.toml"));
        assert_eq!(errs, vec![("extra.toml".into(), 3, 11, "`on_stop` must be an on_stop action (\"keep\", \"remove\"), found a string \"never\"".into())]);
    }

    #[test]
    fn a_glob_that_matches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "haldir.toml", "include = [\"conf.d/*.toml\"]\n");
        let errs = load_errors(&dir.path().join("haldir.toml"));
        assert_eq!(
            errs,
            vec![(
                "haldir.toml".into(),
                1,
                12,
                "include \"conf.d/*.toml\" matches no file".into()
            )]
        );
    }

    #[test]
    fn a_cycle() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "haldir.toml", "include = [\"a.toml\"]\n");
        write(dir.path(), "a.toml", "include = [\"haldir.toml\"]\n");
        let errs = load_errors(&dir.path().join("haldir.toml"));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(
            (errs[0].0.as_str(), errs[0].1, errs[0].2),
            ("a.toml", 1, 12)
        );
        assert!(errs[0].3.starts_with("include cycle: "), "{errs:?}");
    }

    #[test]
    fn a_section_defined_in_two_files() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "haldir.toml",
            "include = [\"a.toml\"]\n[global]\nrouter_id = \"x\"\n",
        );
        write(dir.path(), "a.toml", "[global]\nrouter_id = \"y\"\n");
        let errs = load_errors(&dir.path().join("haldir.toml"));
        assert_eq!(
            errs,
            vec![("a.toml".into(), 1, 1, "[global] is already defined".into())]
        );
    }
}

#[test]
fn email_needs_recipients_a_server_and_real_addresses() {
    let with = |email: &str| format!("{BASE}\n[email]\n{email}");
    // [email] is line 14, after BASE's 12 lines and a blank one.
    expect(
        &with("smtp_server = \"192.0.2.25\"\n"),
        14,
        1,
        "[email] needs `to`, the recipients",
    );
    expect(
        &with("to = [\"ops@example.com\"]\n"),
        14,
        1,
        "[email] needs `smtp_server`, \"host\" or \"host:port\"",
    );
    expect(
        &with("to = [\"ops@\"]\nsmtp_server = \"192.0.2.25\"\n"),
        15,
        7,
        "`to`: \"ops@\" is not a mail address (user@domain, or a local name)",
    );
    expect(
        &with("to = [\"ops\"]\nfrom = \"<lb1@example.com>\"\nsmtp_server = \"192.0.2.25\"\n"),
        16,
        8,
        "`from`: \"<lb1@example.com>\" is not a mail address (user@domain, or a local name)",
    );
    expect(
        &with("to = [\"ops@example.com\"]\nsmtp_server = \"192.0.2.25:0\"\n"),
        16,
        15,
        "`smtp_server`: \"192.0.2.25:0\" is not \"host\" or \"host:port\"",
    );
}

#[test]
fn smtp_alert_needs_somewhere_to_mail() {
    let text = BASE.replace(
        "virtual_ipaddress = [\"10.0.0.100/32\"]",
        "virtual_ipaddress = [\"10.0.0.100/32\"]\nsmtp_alert = true",
    );
    expect(
        &text,
        7,
        14,
        "`smtp_alert = true` needs an [email] section: it says where the mail goes",
    );
    // Off is always fine.
    let off = BASE.replace(
        "virtual_ipaddress = [\"10.0.0.100/32\"]",
        "virtual_ipaddress = [\"10.0.0.100/32\"]\nsmtp_alert = false",
    );
    assert_eq!(errors_of(&off), Vec::new());
}

#[test]
fn a_static_address_names_its_interface() {
    expect(
        &format!("{BASE}\n[static]\naddresses = [\"10.5.0.1/24\"]\n"),
        15,
        14,
        "a static address names its interface: \"10.5.0.1/24 dev IF\"",
    );
    let ok = format!(
        "{BASE}\n[static]\naddresses = [\"10.5.0.1/24 dev eth1\"]\nroutes = [\"10.6.0.0/16 via 10.1.0.1\"]\n"
    );
    assert_eq!(errors_of(&ok), vec![]);
}

#[test]
fn umask_is_an_octal_mask() {
    let with = |v: &str| format!("[global]\numask = \"{v}\"\n{BASE}");
    assert_eq!(errors_of(&with("0027")), vec![]);
    expect(
        &with("0899"),
        2,
        9,
        "`umask` \"0899\" is not an octal mask from \"0000\" to \"0777\"",
    );
    expect(
        &with("01777"),
        2,
        9,
        "`umask` \"01777\" is not an octal mask from \"0000\" to \"0777\"",
    );
}

#[test]
fn use_vmac_needs_ipv4_and_multicast_or_xmit_base() {
    let base = BASE.replace(
        "virtual_ipaddress = [\"10.0.0.100/32\"]",
        "virtual_ipaddress = [\"10.0.0.100/32\"]\nuse_vmac = true\nunicast_peers = [\"10.0.0.12\"]",
    );
    expect(
        &base,
        7,
        12,
        "`use_vmac` with `unicast_peers` needs `vmac_xmit_base = true`",
    );
    let ok = base.replace("use_vmac = true", "use_vmac = true\nvmac_xmit_base = true");
    assert_eq!(errors_of(&ok), vec![]);
    let long = BASE.replace(
        "virtual_ipaddress = [\"10.0.0.100/32\"]",
        "virtual_ipaddress = [\"10.0.0.100/32\"]\nuse_vmac = \"a-very-long-vmac-name\"",
    );
    expect(
        &long,
        7,
        12,
        "`use_vmac` \"a-very-long-vmac-name\" is not an interface name (1 to 15 characters)",
    );
}

/// One macvlan per instance. `true` is `vrrp.VRID`, or keepalived's next free name when
/// another instance has it, as with one VRID on two interfaces (vrrp/vrrp.c,
/// create_vmac_name: `vrrp1.VRID`, `vrrp2.VRID`, …); a name the file gives twice is an error.
#[test]
fn vmac_names_are_one_instance_each() {
    let file = |first: &str, second: &str, third: &str| {
        format!(
            "[[vrrp_instance]]\nname = \"A\"\ninterface = \"eth1\"\nvirtual_router_id = 51\n\
             virtual_ipaddress = [\"10.0.0.100/32\"]\nuse_vmac = {first}\n\
             [[vrrp_instance]]\nname = \"B\"\ninterface = \"eth2\"\nvirtual_router_id = 51\n\
             virtual_ipaddress = [\"10.0.1.100/32\"]\nuse_vmac = {second}\n\
             [[vrrp_instance]]\nname = \"C\"\ninterface = \"eth3\"\nvirtual_router_id = 51\n\
             virtual_ipaddress = [\"10.0.2.100/32\"]\nuse_vmac = {third}\n"
        )
    };
    let names = |text: &str| -> Vec<String> {
        let c = config::load_str(Path::new("t.toml"), text).expect("valid");
        c.config
            .vrrp_instances
            .iter()
            .map(|i| i.vmac.as_ref().map_or("-".into(), |v| v.name.clone()))
            .collect()
    };
    assert_eq!(
        names(&file("true", "true", "true")),
        ["vrrp.51", "vrrp1.51", "vrrp2.51"]
    );
    // A name the file gives is kept; `true` goes round it, wherever it stands.
    assert_eq!(
        names(&file("true", "\"vrrp.51\"", "false")),
        ["vrrp1.51", "vrrp.51", "-"]
    );
    expect(
        &file("\"gw0\"", "true", "\"gw0\""),
        18,
        12,
        "duplicate `use_vmac` interface `gw0`",
    );
}

#[test]
fn script_identities_are_user_or_user_and_group() {
    let with = |v: &str| format!("[global]\nscript_user = \"{v}\"\n{BASE}");
    assert_eq!(errors_of(&with("ziggy:ziggy")), vec![]);
    expect(
        &with("ziggy:"),
        2,
        15,
        "`script_user` \"ziggy:\" is not \"user\" or \"user:group\" (\"root\" runs scripts as root)",
    );
    let notify = BASE.replace(
        "virtual_ipaddress = [\"10.0.0.100/32\"]",
        "virtual_ipaddress = [\"10.0.0.100/32\"]\nnotify = { master = [\"/bin/true\"], user = \" \" }",
    );
    expect(
        &notify,
        7,
        43,
        "`user` \" \" is not \"user\" or \"user:group\" (\"root\" runs scripts as root)",
    );
}

/// Active-active: one `mh` service on the announced VIP.
const ACTIVE: &str = r#"
[[virtual_server]]
name = "web"
address = "192.0.2.10:80"
scheduler = "mh"
scheduler_flags = ["mh-port", "mh-fallback"]
forwarding = "dr"
[[virtual_server.real_server]]
address = "10.0.0.1:80"

[[announce]]
prefix = "192.0.2.10/32"
"#;

#[test]
fn an_announced_vip_takes_the_services_on_it_and_routing_defaults() {
    let c = config::load_str(Path::new("t.toml"), ACTIVE)
        .unwrap()
        .config;
    let routing = c
        .routing
        .expect("[[announce]] brings [routing] with its defaults");
    assert_eq!((routing.table, routing.protocol), (200, 200));
    assert_eq!(routing.startup_delay, std::time::Duration::from_secs(3));
    assert_eq!(c.announces.len(), 1);
    assert_eq!(c.announces[0].virtual_servers, vec!["web".to_string()]);
    assert_eq!(c.announces[0].hold_down, std::time::Duration::from_secs(10));
    // A failed server stays at weight 0: its mh slots stay where they are.
    assert!(c.virtual_servers[0].real_servers[0].inhibit_on_failure);
}

#[test]
fn an_announced_service_is_mh_with_mh_port() {
    let rr = ACTIVE.replace(
        "scheduler = \"mh\"\nscheduler_flags = [\"mh-port\", \"mh-fallback\"]\n",
        "scheduler = \"rr\"\n",
    );
    expect(
        &rr,
        11,
        10,
        "virtual_server `web` is announced but scheduled with `rr`",
    );
    let no_port = ACTIVE.replace("[\"mh-port\", \"mh-fallback\"]", "[\"mh-fallback\"]");
    expect(
        &no_port,
        12,
        10,
        "virtual_server `web` is announced but scheduled with `mh` without `mh-port`",
    );
}

#[test]
fn an_announced_prefix_is_one_address_and_not_a_vrrp_address() {
    expect(
        &ACTIVE.replace("192.0.2.10/32", "192.0.2.0/24"),
        12,
        10,
        "`192.0.2.0/24` is not a single address",
    );
    let both = format!(
        "{ACTIVE}\n[[vrrp_instance]]\nname = \"VI_1\"\ninterface = \"eth1\"\nvirtual_router_id = 51\nvirtual_ipaddress = [\"192.0.2.10/32\"]\n"
    );
    expect(
        &both,
        12,
        10,
        "192.0.2.10 is also a virtual address of vrrp_instance `VI_1`",
    );
    expect(
        &format!("{ACTIVE}[[announce]]\nprefix = \"192.0.2.10\"\n"),
        14,
        10,
        "duplicate announced prefix `192.0.2.10/32`",
    );
}

#[test]
fn announce_names_existing_services_and_routing_owns_its_table() {
    expect(
        &format!("{ACTIVE}virtual_servers = [\"wbe\"]\n"),
        13,
        20,
        "no virtual_server is named `wbe`",
    );
    expect(
        &format!("{ACTIVE}\n[routing]\ntable = 254\n"),
        15,
        9,
        "table 254 is one of the kernel's own",
    );
    expect(
        &format!("{ACTIVE}\n[routing]\nprotocol = 3\n"),
        15,
        12,
        "route protocol 3 is one the kernel itself uses",
    );
    expect(
        &ACTIVE.replace("192.0.2.10/32", "192.0.2.11/32"),
        12,
        10,
        "no virtual server has the address 192.0.2.11",
    );
}
