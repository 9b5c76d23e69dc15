//! Routes and policy rules that follow a VRRP instance (keepalived's virtual_routes and
//! virtual_rules), written as `ip route` / `ip rule` would take them:
//! `"192.168.110.0/24 via 192.168.200.254 dev eth1 table 100"`, `"blackhole 10.9.0.0/16"`,
//! `"from 192.168.200.0/24 table 2 priority 100"`. Parsed once here, written back the same way.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use super::text::text_value;

/// rtnetlink route types haldir writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteType {
    Unicast,
    Blackhole,
    Unreachable,
    Prohibit,
}

impl RouteType {
    const NAMES: &'static [(&'static str, RouteType)] = &[
        ("unicast", RouteType::Unicast),
        ("blackhole", RouteType::Blackhole),
        ("unreachable", RouteType::Unreachable),
        ("prohibit", RouteType::Prohibit),
    ];

    fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("unicast", |(n, _)| n)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    pub kind: RouteType,
    pub to: IpNet,
    pub src: Option<IpAddr>,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    /// rtnetlink scope; `None` takes `ip route`'s default (link without a gateway).
    pub scope: Option<u8>,
    /// 254 (main) when not given.
    pub table: u32,
    pub metric: Option<u32>,
    pub onlink: bool,
    /// A multipath route's gateways (`nexthop via A nexthop via B`); empty for one path.
    pub nexthops: Vec<Nexthop>,
}

/// One path of a multipath route.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Nexthop {
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    /// 1 to 256, `ip route`'s default 1.
    pub weight: Option<u16>,
    pub onlink: bool,
}

impl Nexthop {
    /// The words after `nexthop`, up to the next one.
    fn parse(words: &[&str]) -> Result<Nexthop, String> {
        let mut h = Nexthop::default();
        let mut it = words.iter();
        while let Some(&w) = it.next() {
            if w == "onlink" {
                h.onlink = true;
                continue;
            }
            let value = *it.next().ok_or_else(|| format!("`{w}` needs a value"))?;
            match w {
                "via" | "gw" => h.via = Some(address(value)?),
                "dev" => h.dev = Some(value.to_string()),
                "weight" => {
                    h.weight = Some(
                        value
                            .parse()
                            .ok()
                            .filter(|w| (1..=256).contains(w))
                            .ok_or_else(|| format!("nexthop weight \"{value}\" is not 1 to 256"))?,
                    )
                }
                other => return Err(format!("unknown nexthop option \"{other}\"")),
            }
        }
        if h.via.is_none() && h.dev.is_none() {
            return Err("a nexthop needs `via` or `dev`".into());
        }
        Ok(h)
    }
}

impl fmt::Display for Nexthop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nexthop")?;
        if let Some(v) = self.via {
            write!(f, " via {v}")?;
        }
        if let Some(d) = &self.dev {
            write!(f, " dev {d}")?;
        }
        if let Some(w) = self.weight {
            write!(f, " weight {w}")?;
        }
        if self.onlink {
            f.write_str(" onlink")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    pub from: Option<IpNet>,
    pub to: Option<IpNet>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub fwmark: Option<(u32, Option<u32>)>,
    pub priority: Option<u32>,
    pub table: u32,
}

impl Rule {
    pub fn is_ipv6(&self) -> bool {
        self.from.or(self.to).is_some_and(|n| n.addr().is_ipv6())
    }
}

const SCOPES: &[(&str, u8)] = &[
    ("global", 0),
    ("universe", 0),
    ("site", 200),
    ("link", 253),
    ("host", 254),
    ("nowhere", 255),
];

fn prefix(word: &str) -> Result<IpNet, String> {
    if word == "default" {
        return Ok(IpNet::V4(ipnet::Ipv4Net::default()));
    }
    word.parse::<IpNet>()
        .or_else(|_| word.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("\"{word}\" is not an address or prefix"))
}

fn address(word: &str) -> Result<IpAddr, String> {
    word.parse()
        .map_err(|_| format!("\"{word}\" is not an address"))
}

fn number(key: &str, word: &str) -> Result<u32, String> {
    word.parse()
        .map_err(|_| format!("`{key}` needs a number, not \"{word}\""))
}

/// A routing table: a number, or main, local, default.
fn table(word: &str) -> Result<u32, String> {
    match word {
        "main" => Ok(254),
        "local" => Ok(255),
        "default" => Ok(253),
        w => number("table", w),
    }
}

fn table_name(t: u32) -> String {
    match t {
        254 => "main".into(),
        255 => "local".into(),
        253 => "default".into(),
        n => n.to_string(),
    }
}

impl std::str::FromStr for Route {
    type Err = String;

    fn from_str(text: &str) -> Result<Route, String> {
        // `nexthop` ends the route's own options, as in `ip route`.
        let all: Vec<&str> = text.split_whitespace().collect();
        let first_hop = all
            .iter()
            .position(|w| *w == "nexthop")
            .unwrap_or(all.len());
        let mut nexthops = Vec::new();
        for hop in all[first_hop..].split(|w| *w == "nexthop").skip(1) {
            nexthops.push(Nexthop::parse(hop)?);
        }
        let mut words = all[..first_hop].iter().copied().peekable();
        let mut kind = RouteType::Unicast;
        if let Some(t) = words
            .peek()
            .and_then(|w| RouteType::NAMES.iter().find(|(n, _)| n == w))
        {
            kind = t.1;
            words.next();
        }
        let mut r = Route {
            kind,
            to: IpNet::V4(ipnet::Ipv4Net::default()),
            src: None,
            via: None,
            dev: None,
            scope: None,
            table: 254,
            metric: None,
            onlink: false,
            nexthops,
        };
        let mut to = None;
        while let Some(w) = words.next() {
            if w == "onlink" {
                r.onlink = true;
                continue;
            }
            let value = match w {
                "src" | "to" | "via" | "gw" | "dev" | "scope" | "table" | "metric" | "priority"
                | "preference" => words.next().ok_or_else(|| format!("`{w}` needs a value"))?,
                _ if to.is_none() => {
                    to = Some(prefix(w)?);
                    continue;
                }
                other => return Err(format!("unknown route option \"{other}\"")),
            };
            match w {
                "to" => to = Some(prefix(value)?),
                _ => r.option(w, value)?,
            }
        }
        r.to = to.ok_or("a route needs its destination")?;
        r.check()?;
        Ok(r)
    }
}

impl Route {
    /// One option with its value, but the destination.
    fn option(&mut self, w: &str, value: &str) -> Result<(), String> {
        match w {
            "src" => self.src = Some(address(value)?),
            "via" | "gw" => self.via = Some(address(value)?),
            "dev" => self.dev = Some(value.to_string()),
            "scope" => {
                self.scope = Some(
                    SCOPES
                        .iter()
                        .find(|(n, _)| *n == value)
                        .map(|(_, s)| *s)
                        .ok_or_else(|| format!("scope \"{value}\" is not known"))?,
                )
            }
            "table" => self.table = table(value)?,
            _ => self.metric = Some(number(w, value)?),
        }
        Ok(())
    }

    /// What `ip route` would refuse: addresses of another family than the destination's,
    /// `nexthop`s with a `via` or on a route that is not unicast, a unicast route with
    /// nowhere to go.
    fn check(&self) -> Result<(), String> {
        let v6 = self.to.addr().is_ipv6();
        let hops = self.nexthops.iter().filter_map(|h| h.via);
        for a in [self.src, self.via].into_iter().flatten().chain(hops) {
            if a.is_ipv6() != v6 {
                return Err(format!("{a} is not of the destination's family"));
            }
        }
        let unicast = self.kind == RouteType::Unicast;
        if !self.nexthops.is_empty() && (self.via.is_some() || !unicast) {
            return Err("a route with `nexthop`s has no `via` of its own and is unicast".into());
        }
        if unicast && self.via.is_none() && self.dev.is_none() && self.nexthops.is_empty() {
            return Err("a route needs `via` or `dev`".into());
        }
        Ok(())
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind != RouteType::Unicast {
            write!(f, "{} ", self.kind.name())?;
        }
        if let Some(s) = self.src {
            write!(f, "src {s} ")?;
        }
        write!(f, "{}", self.to)?;
        if let Some(v) = self.via {
            write!(f, " via {v}")?;
        }
        if let Some(d) = &self.dev {
            write!(f, " dev {d}")?;
        }
        if let Some(s) = self.scope {
            let name = SCOPES
                .iter()
                .find(|(_, n)| *n == s)
                .map_or("global", |(n, _)| n);
            write!(f, " scope {name}")?;
        }
        if self.table != 254 {
            write!(f, " table {}", table_name(self.table))?;
        }
        if let Some(m) = self.metric {
            write!(f, " metric {m}")?;
        }
        if self.onlink {
            f.write_str(" onlink")?;
        }
        for h in &self.nexthops {
            write!(f, " {h}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Rule {
    type Err = String;

    fn from_str(text: &str) -> Result<Rule, String> {
        let mut r = Rule {
            from: None,
            to: None,
            iif: None,
            oif: None,
            fwmark: None,
            priority: None,
            table: 254,
        };
        let mut words = text.split_whitespace();
        let mut has_table = false;
        while let Some(w) = words.next() {
            let value = words.next().ok_or_else(|| format!("`{w}` needs a value"))?;
            match w {
                "from" => r.from = Some(prefix(value)?),
                "to" => r.to = Some(prefix(value)?),
                "iif" => r.iif = Some(value.to_string()),
                "oif" => r.oif = Some(value.to_string()),
                "fwmark" => {
                    let (m, mask) = match value.split_once('/') {
                        Some((m, k)) => (m, Some(k)),
                        None => (value, None),
                    };
                    let n = |s: &str| {
                        let v = s
                            .strip_prefix("0x")
                            .map_or_else(|| s.parse(), |h| u32::from_str_radix(h, 16));
                        v.map_err(|_| format!("fwmark \"{value}\" is not a number"))
                    };
                    r.fwmark = Some((n(m)?, mask.map(n).transpose()?));
                }
                "priority" | "preference" | "pref" => r.priority = Some(number(w, value)?),
                "table" | "lookup" => {
                    r.table = table(value)?;
                    has_table = true;
                }
                other => return Err(format!("unknown rule option \"{other}\"")),
            }
        }
        if !has_table {
            return Err("a rule needs `table`".into());
        }
        if let (Some(a), Some(b)) = (r.from, r.to)
            && a.addr().is_ipv6() != b.addr().is_ipv6()
        {
            return Err("`from` and `to` are of different families".into());
        }
        Ok(r)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(a) = self.from {
            parts.push(format!("from {a}"));
        }
        if let Some(a) = self.to {
            parts.push(format!("to {a}"));
        }
        if let Some(i) = &self.iif {
            parts.push(format!("iif {i}"));
        }
        if let Some(o) = &self.oif {
            parts.push(format!("oif {o}"));
        }
        match self.fwmark {
            Some((m, Some(k))) => parts.push(format!("fwmark {m}/{k}")),
            Some((m, None)) => parts.push(format!("fwmark {m}")),
            None => {}
        }
        if let Some(p) = self.priority {
            parts.push(format!("priority {p}"));
        }
        parts.push(format!("table {}", table_name(self.table)));
        f.write_str(&parts.join(" "))
    }
}

text_value!(
    Route,
    RouteSpec,
    "virtual_routes",
    "a route as `ip route` takes it",
    "192.168.110.0/24 via 192.168.200.254 dev eth1 table 100"
);
text_value!(
    Rule,
    RuleSpec,
    "virtual_rules",
    "a policy rule as `ip rule` takes it",
    "from 192.168.200.0/24 table 2 priority 100"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_written_back_as_read() {
        for text in [
            "192.168.110.0/24 via 192.168.200.254 dev eth1",
            "192.168.111.0/24 dev eth2",
            "src 192.168.100.1 192.168.109.0/24 via 192.168.200.254 dev eth1",
            "blackhole 192.168.113.1/32",
            "0.0.0.0/0 via 192.168.0.1 table 100",
            "2001:db8::/64 dev eth0 scope link table 7 metric 5 onlink",
            "192.168.113.0/24 nexthop via 192.168.100.252 nexthop via 192.168.100.253 dev eth1 weight 3",
        ] {
            let r: Route = text.parse().unwrap();
            assert_eq!(r.to_string(), text);
        }
        let gw: Route = "default gw 10.0.0.1 table main".parse().unwrap();
        assert_eq!(gw.to_string(), "0.0.0.0/0 via 10.0.0.1");
    }

    #[test]
    fn rules_written_back_as_read() {
        for text in [
            "from 192.168.200.0/24 table 2",
            "from 192.168.28.1/32 to 192.168.29.0/24 iif eth0 fwmark 42/255 priority 100 table 4",
        ] {
            let r: Rule = text.parse().unwrap();
            assert_eq!(r.to_string(), text);
        }
    }

    #[test]
    fn mistakes_are_named() {
        let route = |t: &str| t.parse::<Route>().unwrap_err();
        let rule = |t: &str| t.parse::<Rule>().unwrap_err();
        assert_eq!(route("10.0.0.0/8"), "a route needs `via` or `dev`");
        assert_eq!(
            route("10.0.0.0/8 via 2001:db8::1"),
            "2001:db8::1 is not of the destination's family"
        );
        assert_eq!(
            route("10.0.0.0/8 dev eth0 mtu 1400"),
            "unknown route option \"mtu\""
        );
        assert_eq!(
            route("10.0.0.0/8 nexthop via 10.0.0.1 weight 0"),
            "nexthop weight \"0\" is not 1 to 256"
        );
        assert_eq!(
            route("10.0.0.0/8 via 10.0.0.2 nexthop via 10.0.0.1"),
            "a route with `nexthop`s has no `via` of its own and is unicast"
        );
        assert_eq!(rule("from 10.0.0.0/8"), "a rule needs `table`");
        assert_eq!(
            rule("from 192.168.100./24 table 1"),
            "\"192.168.100./24\" is not an address or prefix"
        );
    }
}
