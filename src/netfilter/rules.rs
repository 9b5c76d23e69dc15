//! The mark rules as text for the tools that load them atomically: an `nft -f -` transaction
//! that replaces haldir's whole table, or an `iptables-restore --noflush` input that replaces
//! haldir's chain in the mangle table. Pure: configuration and resolved peer MACs in, text out.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::config::model::FwmarkRule;
use crate::config::types::{MacAddr, PortRange, Protocol};

/// One rule with its exclusions resolved to MAC addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MarkRule {
    pub mark: u32,
    pub destination: IpNet,
    pub protocol: Option<Protocol>,
    pub ports: Vec<PortRange>,
    pub interface: Option<String>,
    pub exclude_macs: Vec<MacAddr>,
}

impl MarkRule {
    /// The rule of the configuration, with the MACs of `exclude_peers` that are known.
    pub(crate) fn resolve(
        rule: &FwmarkRule,
        peer_mac: impl Fn(&IpAddr) -> Option<MacAddr>,
    ) -> MarkRule {
        let mut macs = rule.exclude_source_mac.clone();
        macs.extend(rule.exclude_peers.iter().filter_map(&peer_mac));
        macs.sort();
        macs.dedup();
        MarkRule {
            mark: rule.mark,
            destination: rule.destination,
            protocol: rule.protocol,
            ports: rule.ports.clone(),
            interface: rule.interface.clone(),
            exclude_macs: macs,
        }
    }

    fn v6(&self) -> bool {
        self.destination.addr().is_ipv6()
    }
}

fn set<T: ToString>(items: &[T]) -> String {
    let parts: Vec<String> = items.iter().map(ToString::to_string).collect();
    if parts.len() == 1 {
        parts[0].clone()
    } else {
        format!("{{ {} }}", parts.join(", "))
    }
}

/// The nftables transaction: the table is declared, deleted and defined again in one `nft -f`
/// run, so the kernel swaps old rules for new atomically and nothing else is touched.
pub(crate) fn nft_script(table: &str, rules: &[MarkRule]) -> String {
    let mut s =
        format!("table inet {table} {{}}\ndelete table inet {table}\ntable inet {table} {{\n");
    s += "    chain prerouting {\n        type filter hook prerouting priority mangle; policy accept;\n";
    for r in rules {
        let mut m = Vec::new();
        if let Some(i) = &r.interface {
            m.push(format!("iifname \"{i}\""));
        }
        m.push(format!(
            "{} daddr {}",
            if r.v6() { "ip6" } else { "ip" },
            r.destination.trunc()
        ));
        match (r.protocol, r.ports.is_empty()) {
            (Some(p), false) => m.push(format!("{p} dport {}", set(&r.ports))),
            (Some(p), true) => m.push(format!("meta l4proto {p}")),
            (None, _) => {}
        }
        if !r.exclude_macs.is_empty() {
            m.push(format!("ether saddr != {}", set(&r.exclude_macs)));
        }
        s += &format!("        {} meta mark set {}\n", m.join(" "), r.mark);
    }
    s += "    }\n}\n";
    s
}

/// Removes haldir's table (declaring it first, so that removing an absent one succeeds).
pub(crate) fn nft_remove(table: &str) -> String {
    format!("table inet {table} {{}}\ndelete table inet {table}\n")
}

/// `iptables-restore --noflush` input for one family: the declared chain is emptied and filled
/// again in one commit; other chains are left as they are. A peer's packets return from the
/// chain before the mark rule, as `-m mac ! --mac-source` takes one address only.
pub(crate) fn iptables_restore(chain: &str, rules: &[MarkRule], v6: bool) -> String {
    let mut s = format!("*mangle\n:{chain} - [0:0]\n");
    for r in rules.iter().filter(|r| r.v6() == v6) {
        let mut m = Vec::new();
        if let Some(i) = &r.interface {
            m.push(format!("-i {i}"));
        }
        m.push(format!("-d {}", r.destination.trunc()));
        if let Some(p) = r.protocol {
            m.push(format!("-p {p}"));
            if !r.ports.is_empty() {
                let ports: Vec<String> = r
                    .ports
                    .iter()
                    .map(|p| p.to_string().replace('-', ":"))
                    .collect();
                m.push(format!("-m multiport --dports {}", ports.join(",")));
            }
        }
        let m = m.join(" ");
        for mac in &r.exclude_macs {
            s += &format!("-A {chain} {m} -m mac --mac-source {mac} -j RETURN\n");
        }
        s += &format!("-A {chain} {m} -j MARK --set-mark {}\n", r.mark);
    }
    s += "COMMIT\n";
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> MarkRule {
        MarkRule {
            mark: 3,
            destination: "10.240.0.201/32".parse().unwrap(),
            protocol: Some(Protocol::Tcp),
            ports: vec![
                PortRange {
                    first: 80,
                    last: 80,
                },
                PortRange {
                    first: 8000,
                    last: 8100,
                },
            ],
            interface: Some("eth1".into()),
            exclude_macs: vec!["08:00:27:48:90:6c".parse().unwrap()],
        }
    }

    #[test]
    fn nftables_transaction() {
        let s = nft_script("haldir", &[rule()]);
        assert_eq!(
            s,
            "table inet haldir {}\ndelete table inet haldir\ntable inet haldir {\n    chain prerouting {\n        type filter hook prerouting priority mangle; policy accept;\n        iifname \"eth1\" ip daddr 10.240.0.201/32 tcp dport { 80, 8000-8100 } ether saddr != 08:00:27:48:90:6c meta mark set 3\n    }\n}\n"
        );
        let v6 = MarkRule {
            destination: "2001:db8::1/128".parse().unwrap(),
            ports: vec![],
            interface: None,
            exclude_macs: vec![],
            ..rule()
        };
        assert!(
            nft_script("haldir", &[v6])
                .contains("        ip6 daddr 2001:db8::1/128 meta l4proto tcp meta mark set 3\n")
        );
    }

    #[test]
    fn iptables_restore_input() {
        let s = iptables_restore("HALDIR", &[rule()], false);
        assert_eq!(
            s,
            "*mangle\n:HALDIR - [0:0]\n-A HALDIR -i eth1 -d 10.240.0.201/32 -p tcp -m multiport --dports 80,8000:8100 -m mac --mac-source 08:00:27:48:90:6c -j RETURN\n-A HALDIR -i eth1 -d 10.240.0.201/32 -p tcp -m multiport --dports 80,8000:8100 -j MARK --set-mark 3\nCOMMIT\n"
        );
        assert_eq!(
            iptables_restore("HALDIR", &[rule()], true),
            "*mangle\n:HALDIR - [0:0]\nCOMMIT\n",
            "IPv4 rules stay out of ip6tables"
        );
    }

    #[test]
    fn peers_resolve_to_macs() {
        let cfg = FwmarkRule {
            mark: 3,
            destination: "10.0.0.1/32".parse().unwrap(),
            protocol: None,
            ports: vec![],
            interface: None,
            exclude_source_mac: vec!["02:00:00:00:00:01".parse().unwrap()],
            exclude_peers: vec!["10.0.0.12".parse().unwrap(), "10.0.0.13".parse().unwrap()],
        };
        let r = MarkRule::resolve(&cfg, |ip| {
            (ip.to_string() == "10.0.0.12").then(|| "02:00:00:00:00:02".parse().unwrap())
        });
        let macs: Vec<String> = r.exclude_macs.iter().map(ToString::to_string).collect();
        assert_eq!(
            macs,
            vec!["02:00:00:00:00:01", "02:00:00:00:00:02"],
            "an unknown peer is left out until learned"
        );
    }
}
