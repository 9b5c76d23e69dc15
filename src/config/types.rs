//! The small value types of the configuration: named enums, durations, prefixes, MAC
//! addresses, HTTP status sets, port ranges. Each knows how it is written in the file (parse),
//! how it is written back (serialize) and how the JSON Schema describes it.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ipnet::IpNet;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};

use super::leaf::{LeafType, Scalar};

/// Declares an enum written as one of a fixed set of strings.
macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn from_name(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl LeafType for $name {
            type Out = $name;
            fn expected() -> Cow<'static, str> {
                let names: Vec<String> = $name::ALL.iter().map(|v| format!("\"{}\"", v.as_str())).collect();
                format!("{} ({})", $what, names.join(", ")).into()
            }
            fn parse(s: &Scalar) -> Result<$name, Option<String>> {
                match s {
                    Scalar::Str(v) => $name::from_name(v).ok_or(None),
                    _ => Err(None),
                }
            }
            fn names() -> Vec<&'static str> {
                $name::ALL.iter().map(|v| v.as_str()).collect()
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> { stringify!($name).into() }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "description": $what, "enum": [$($text),+] })
            }
        }
    };
}

named_enum!(
    /// Transport protocol of a virtual server or mark rule.
    Protocol, "a protocol" { Tcp = "tcp", Udp = "udp", Sctp = "sctp" }
);
named_enum!(
    /// IPVS scheduler.
    Scheduler, "an IPVS scheduler" {
        Rr = "rr", Wrr = "wrr", Lc = "lc", Wlc = "wlc", Lblc = "lblc", Lblcr = "lblcr",
        Dh = "dh", Sh = "sh", Sed = "sed", Nq = "nq", Fo = "fo", Ovf = "ovf", Mh = "mh",
        Twos = "twos",
    }
);
named_enum!(
    /// Scheduler flag (sh and mh only).
    SchedulerFlag, "a scheduler flag" {
        ShPort = "sh-port", ShFallback = "sh-fallback", MhPort = "mh-port", MhFallback = "mh-fallback",
    }
);
named_enum!(
    /// Packet forwarding method of a real server.
    Forwarding, "a forwarding method" { Nat = "nat", Dr = "dr", Tun = "tun" }
);
named_enum!(
    /// Encapsulation of the tun forwarding method.
    TunnelType, "a tunnel type" { Ipip = "ipip", Gue = "gue", Gre = "gre" }
);
named_enum!(
    /// Checksum option of gue and gre tunnels.
    TunnelChecksum, "a tunnel checksum mode" { None = "none", Csum = "csum", Remcsum = "remcsum" }
);
named_enum!(
    /// Health check type.
    CheckType, "a check type" {
        Tcp = "tcp", Http = "http", Https = "https", Misc = "misc", Udp = "udp", Dns = "dns",
        Ping = "ping", Smtp = "smtp", File = "file",
    }
);
named_enum!(
    /// The HTTP version a check's request is sent with (keepalived's http_protocol): "1.0C"
    /// adds `Connection: close`, as "1.1" always does.
    HttpProtocol, "an HTTP protocol" { Http10 = "1.0", Http10Close = "1.0C", Http11 = "1.1" }
);
named_enum!(
    /// The record type a dns check asks for.
    DnsType, "a DNS record type" {
        A = "A", Ns = "NS", Cname = "CNAME", Soa = "SOA", Ptr = "PTR", Mx = "MX", Txt = "TXT",
        Aaaa = "AAAA", Rrsig = "RRSIG", Dnskey = "DNSKEY",
    }
);
named_enum!(
    /// How the mark rules are programmed.
    NetfilterBackend, "a netfilter backend" { Nftables = "nftables", Iptables = "iptables" }
);
named_enum!(
    /// What happens to haldir's IPVS services when it stops.
    OnStop, "an on_stop action" { Keep = "keep", Remove = "remove" }
);
named_enum!(
    /// What a clean stop does to the announced routes.
    RoutesOnStop, "an on_stop action for routes" { Withdraw = "withdraw", Keep = "keep" }
);
named_enum!(
    /// Which of an announcement's virtual servers must be up.
    AnnounceWhen, "`all` or `any`" { All = "all", Any = "any" }
);
named_enum!(
    /// Checksum of VRRPv3 over IPv4.
    V3Checksum, "a VRRPv3 IPv4 checksum form" { PseudoHeader = "pseudo-header", Rfc9568 = "rfc9568" }
);
named_enum!(
    /// VRRPv2 authentication.
    AuthType, "an authentication type" { Pass = "pass" }
);
named_enum!(
    /// How a real server receives VIP traffic.
    RealServerMode, "a real-server mode" { Dr = "dr", Tun = "tun" }
);
named_enum!(
    /// Address family.
    Family, "an address family" { Ipv4 = "ipv4", Ipv6 = "ipv6" }
);

impl Family {
    pub fn of(ip: &IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    pub fn max_prefix(self) -> u8 {
        match self {
            Family::Ipv4 => 32,
            Family::Ipv6 => 128,
        }
    }
}

impl Scheduler {
    /// The flags this scheduler understands.
    pub fn flags(self) -> &'static [SchedulerFlag] {
        match self {
            Scheduler::Sh => &[SchedulerFlag::ShPort, SchedulerFlag::ShFallback],
            Scheduler::Mh => &[SchedulerFlag::MhPort, SchedulerFlag::MhFallback],
            _ => &[],
        }
    }
}

/// A duration written with a unit: "100ms", "5s", "2m".
pub struct Dur;

impl LeafType for Dur {
    type Out = Duration;
    fn expected() -> Cow<'static, str> {
        "a duration with a unit, such as \"100ms\", \"5s\" or \"2m\"".into()
    }
    fn parse(s: &Scalar) -> Result<Duration, Option<String>> {
        match s {
            Scalar::Str(v) if v.trim().parse::<f64>().is_ok() => Err(Some(format!(
                "duration \"{v}\" has no unit: write \"{v}s\" or \"{v}ms\""
            ))),
            Scalar::Str(v) => humantime::parse_duration(v).map_err(|e| {
                Some(format!(
                    "\"{v}\" is not a duration ({e}): write it like \"100ms\", \"5s\" or \"2m\""
                ))
            }),
            Scalar::Int(n) => Err(Some(format!(
                "durations need a unit: write \"{n}s\" or \"{n}ms\", not a bare number"
            ))),
            _ => Err(None),
        }
    }
}

impl JsonSchema for Dur {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "a duration with a unit: \"100ms\", \"5s\", \"2m\", \"1h\"",
            "pattern": "^\\s*([0-9]+(\\.[0-9]+)?\\s*(ns|us|ms|s|m|h|d)[a-z]*\\s*)+$"
        })
    }
}

/// Writes a duration back the way it is read: "1s", "1m 30s", "250ms".
pub fn serialize_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*d))
}

/// An address prefix "10.0.0.1/32"; a bare address means a host prefix.
pub struct Prefix;

impl LeafType for Prefix {
    type Out = IpNet;
    fn expected() -> Cow<'static, str> {
        "an address prefix such as \"10.0.0.1/32\" or \"2001:db8::1/128\"".into()
    }
    fn parse(s: &Scalar) -> Result<IpNet, Option<String>> {
        match s {
            Scalar::Str(v) => v
                .parse::<IpNet>()
                .or_else(|_| v.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| None),
            _ => Err(None),
        }
    }
}

impl JsonSchema for Prefix {
    fn schema_name() -> Cow<'static, str> {
        "Prefix".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "description": "address or prefix: \"10.0.0.1/32\"" })
    }
}

/// An Ethernet address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl std::str::FromStr for MacAddr {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(());
        }
        let mut out = [0u8; 6];
        for (o, p) in out.iter_mut().zip(parts) {
            if p.len() != 2 {
                return Err(());
            }
            *o = u8::from_str_radix(p, 16).map_err(|_| ())?;
        }
        Ok(MacAddr(out))
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl LeafType for MacAddr {
    type Out = MacAddr;
    fn expected() -> Cow<'static, str> {
        "a MAC address such as \"08:00:27:48:90:6c\"".into()
    }
    fn parse(s: &Scalar) -> Result<MacAddr, Option<String>> {
        match s {
            Scalar::Str(v) => v.parse().map_err(|_| None),
            _ => Err(None),
        }
    }
}

impl JsonSchema for MacAddr {
    fn schema_name() -> Cow<'static, str> {
        "MacAddr".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$" })
    }
}

/// Accepted HTTP status codes: ranges and single codes, "200-299,302".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatusSet(pub Vec<(u16, u16)>);

impl Default for StatusSet {
    fn default() -> Self {
        StatusSet(vec![(200, 299)])
    }
}

impl StatusSet {
    pub fn contains(&self, code: u16) -> bool {
        self.0.iter().any(|(lo, hi)| (*lo..=*hi).contains(&code))
    }

    fn parse_str(v: &str) -> Option<StatusSet> {
        let mut out = Vec::new();
        for part in v.split(',').map(str::trim) {
            let (lo, hi) = part.split_once('-').unwrap_or((part, part));
            let (lo, hi): (u16, u16) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
            if !(100..=599).contains(&lo) || !(100..=599).contains(&hi) || lo > hi {
                return None;
            }
            out.push((lo, hi));
        }
        Some(StatusSet(out))
    }
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(lo, hi)| {
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}-{hi}")
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl Serialize for StatusSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl LeafType for StatusSet {
    type Out = StatusSet;
    fn expected() -> Cow<'static, str> {
        "HTTP status codes such as \"200-299\", \"200,204\" or 200".into()
    }
    fn parse(s: &Scalar) -> Result<StatusSet, Option<String>> {
        match s {
            Scalar::Int(n) => StatusSet::parse_str(&n.to_string()).ok_or(None),
            Scalar::Str(v) => StatusSet::parse_str(v).ok_or(None),
            _ => Err(None),
        }
    }
}

impl JsonSchema for StatusSet {
    fn schema_name() -> Cow<'static, str> {
        "StatusSet".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["string", "integer"], "description": "\"200-299\", \"200,204\" or 200" })
    }
}

/// A port or an inclusive port range: 443 or "8000-8100".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

impl Serialize for PortRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.first == self.last {
            s.serialize_u16(self.first)
        } else {
            s.collect_str(self)
        }
    }
}

impl LeafType for PortRange {
    type Out = PortRange;
    fn expected() -> Cow<'static, str> {
        "a port 1-65535 or a range such as \"8000-8100\"".into()
    }
    fn parse(s: &Scalar) -> Result<PortRange, Option<String>> {
        let port = |n: i64| u16::try_from(n).ok().filter(|p| *p > 0);
        match s {
            Scalar::Int(n) => port(*n)
                .map(|p| PortRange { first: p, last: p })
                .ok_or(None),
            Scalar::Str(v) => {
                let (a, b) = v.split_once('-').ok_or(None)?;
                let first = a.trim().parse().ok().and_then(port).ok_or(None)?;
                let last = b.trim().parse().ok().and_then(port).ok_or(None)?;
                (first <= last)
                    .then_some(PortRange { first, last })
                    .ok_or(None)
            }
            _ => Err(None),
        }
    }
}

impl JsonSchema for PortRange {
    fn schema_name() -> Cow<'static, str> {
        "PortRange".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["integer", "string"], "description": "443 or \"8000-8100\"" })
    }
}

/// Persistence granularity: an IPv4 netmask "255.255.255.0" or a prefix length (24, 64).
pub struct Netmask;

impl LeafType for Netmask {
    type Out = u8;
    fn expected() -> Cow<'static, str> {
        "a netmask such as \"255.255.255.0\" or a prefix length such as 64".into()
    }
    fn parse(s: &Scalar) -> Result<u8, Option<String>> {
        match s {
            Scalar::Int(n) => u8::try_from(*n).ok().filter(|n| *n <= 128).ok_or(None),
            Scalar::Str(v) => {
                let mask: Ipv4Addr = v.parse().map_err(|_| None)?;
                let bits = u32::from(mask);
                // A netmask is a run of ones followed by zeros.
                if bits.leading_ones() + bits.trailing_zeros() == 32 {
                    Ok(bits.leading_ones() as u8)
                } else {
                    Err(Some(format!("\"{v}\" is not a contiguous netmask")))
                }
            }
            _ => Err(None),
        }
    }
}

impl JsonSchema for Netmask {
    fn schema_name() -> Cow<'static, str> {
        "Netmask".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["string", "integer"], "description": "\"255.255.255.0\" or a prefix length" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Scalar {
        Scalar::Str(v.into())
    }

    #[test]
    fn durations_need_units() {
        assert_eq!(Dur::parse(&s("100ms")), Ok(Duration::from_millis(100)));
        assert_eq!(Dur::parse(&s("1m 30s")), Ok(Duration::from_secs(90)));
        assert!(matches!(Dur::parse(&Scalar::Int(5)), Err(Some(m)) if m.contains("\"5s\"")));
        assert!(matches!(Dur::parse(&s("5")), Err(Some(m)) if m.contains("no unit")));
    }

    #[test]
    fn status_sets() {
        let set = StatusSet::parse(&s("200-299, 302")).unwrap();
        assert!(set.contains(204) && set.contains(302) && !set.contains(301));
        assert_eq!(set.to_string(), "200-299,302");
        assert!(StatusSet::parse(&s("299-200")).is_err());
        assert!(StatusSet::parse(&s("abc")).is_err());
    }

    #[test]
    fn netmasks_and_macs() {
        assert_eq!(Netmask::parse(&s("255.255.255.0")), Ok(24));
        assert!(Netmask::parse(&s("255.0.255.0")).is_err());
        assert_eq!(Netmask::parse(&Scalar::Int(64)), Ok(64));
        let mac: MacAddr = "08-00-27-48-90-6C".parse().unwrap();
        assert_eq!(mac.to_string(), "08:00:27:48:90:6c");
        assert!("08:00:27:48:90".parse::<MacAddr>().is_err());
    }

    #[test]
    fn port_ranges() {
        assert_eq!(
            PortRange::parse(&Scalar::Int(443)),
            Ok(PortRange {
                first: 443,
                last: 443
            })
        );
        assert_eq!(PortRange::parse(&s("8000-8100")).map(|p| p.last), Ok(8100));
        assert!(PortRange::parse(&Scalar::Int(0)).is_err());
        assert!(PortRange::parse(&s("9-8")).is_err());
    }
}

/// `use_vmac`: `true` for keepalived's default name (`vrrp.VRID`), or the interface's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmacName {
    Off,
    Default,
    Named(String),
}

impl LeafType for VmacName {
    type Out = VmacName;
    fn expected() -> Cow<'static, str> {
        "true, false or an interface name".into()
    }
    fn parse(s: &Scalar) -> Result<VmacName, Option<String>> {
        match s {
            Scalar::Bool(true) => Ok(VmacName::Default),
            Scalar::Bool(false) => Ok(VmacName::Off),
            Scalar::Str(v) => Ok(VmacName::Named(v.clone())),
            _ => Err(None),
        }
    }
}

impl JsonSchema for VmacName {
    fn schema_name() -> Cow<'static, str> {
        "VmacName".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["boolean", "string"] })
    }
}
