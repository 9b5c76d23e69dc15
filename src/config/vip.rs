//! A virtual address as written in `virtual_ipaddress`: a prefix, optionally followed by the
//! `ip address add` options keepalived takes, `"10.0.0.2/24 dev eth2 label eth2:1 scope link
//! brd 10.0.0.255"`, `peer`, and the flags `home`, `mngtmpaddr`, `noprefixroute`, `autojoin`
//! and `-nodad` (vrrp/vrrp_ipaddress.c, alloc_ipaddress). Parsed once here; written back in
//! the same form.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use super::text::text_value;

/// The scopes of `ip address add … scope`, with rtnetlink's numbers.
const SCOPES: &[(&str, u8)] = &[
    ("global", 0),
    ("site", 200),
    ("link", 253),
    ("host", 254),
    ("nowhere", 255),
];

/// The address flags keepalived takes, with rtnetlink's IFA_F_* bits.
const FLAGS: &[(&str, u32)] = &[
    ("home", 0x10),
    ("mngtmpaddr", 0x100),
    ("noprefixroute", 0x200),
    ("autojoin", 0x400),
];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vip {
    pub net: IpNet,
    /// Another interface than the instance's.
    pub dev: Option<String>,
    pub label: Option<String>,
    /// rtnetlink's scope number (0 global, the default).
    pub scope: u8,
    /// IPv4 broadcast address.
    pub brd: Option<IpAddr>,
    /// The other end of a point-to-point address; the prefix length written with it is the
    /// address's, as `ip` and keepalived take it.
    pub peer: Option<IpNet>,
    /// IFA_F_* bits of `FLAGS`.
    pub flags: u32,
    /// `-nodad`: IPv6 duplicate address detection on (keepalived's word; off by default).
    pub dad: bool,
}

impl Vip {
    pub fn addr(&self) -> IpAddr {
        self.net.addr()
    }
}

impl From<IpNet> for Vip {
    fn from(net: IpNet) -> Vip {
        Vip {
            net,
            dev: None,
            label: None,
            scope: 0,
            brd: None,
            peer: None,
            flags: 0,
            dad: false,
        }
    }
}

impl fmt::Display for Vip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.net)?;
        if let Some(d) = &self.dev {
            write!(f, " dev {d}")?;
        }
        if let Some(l) = &self.label {
            write!(f, " label {l}")?;
        }
        if self.scope != 0 {
            match SCOPES.iter().find(|(_, n)| *n == self.scope) {
                Some((name, _)) => write!(f, " scope {name}")?,
                None => write!(f, " scope {}", self.scope)?,
            }
        }
        if let Some(b) = &self.brd {
            write!(f, " brd {b}")?;
        }
        if let Some(p) = &self.peer {
            write!(f, " peer {p}")?;
        }
        for (word, bit) in FLAGS {
            if self.flags & bit != 0 {
                write!(f, " {word}")?;
            }
        }
        if self.dad {
            write!(f, " -nodad")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Vip {
    type Err = String;

    fn from_str(text: &str) -> Result<Vip, String> {
        let mut words = text.split_whitespace();
        let first = words.next().ok_or("an empty address")?;
        let net = first
            .parse::<IpNet>()
            .or_else(|_| first.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| format!("\"{first}\" is not an address or prefix"))?;
        let mut vip = Vip::from(net);
        while let Some(opt) = words.next() {
            if let Some((_, bit)) = FLAGS.iter().find(|(w, _)| *w == opt) {
                vip.flags |= bit;
                continue;
            }
            if opt == "-nodad" {
                vip.dad = true;
                continue;
            }
            let value = words
                .next()
                .ok_or_else(|| format!("`{opt}` needs a value"))?;
            match opt {
                "dev" => vip.dev = Some(interface(value)?),
                "label" => vip.label = Some(label(value)?),
                "scope" => vip.scope = scope(value)?,
                "brd" | "broadcast" => vip.brd = Some(broadcast(value, &net)?),
                "peer" => vip.peer = Some(peer(value, &net)?),
                other => {
                    return Err(format!(
                        "unknown option \"{other}\": dev, label, scope, brd, peer, home, mngtmpaddr, noprefixroute, autojoin and -nodad are taken"
                    ));
                }
            }
        }
        Ok(vip)
    }
}

/// The peer address of the same family, its prefix length the one written (default a host).
fn peer(word: &str, net: &IpNet) -> Result<IpNet, String> {
    let p = word
        .parse::<IpNet>()
        .or_else(|_| word.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("peer \"{word}\" is not an address"))?;
    if p.addr().is_ipv6() != net.addr().is_ipv6() {
        return Err("`peer` must be of the address's family".into());
    }
    Ok(p)
}

fn interface(name: &str) -> Result<String, String> {
    // IFNAMSIZ is 16 with the terminating NUL.
    if name.len() > 15 || name.contains('/') {
        return Err(format!("\"{name}\" is not an interface name"));
    }
    Ok(name.to_string())
}

fn label(name: &str) -> Result<String, String> {
    if name.len() > 15 {
        return Err(format!("the label \"{name}\" is longer than 15 bytes"));
    }
    Ok(name.to_string())
}

fn scope(word: &str) -> Result<u8, String> {
    SCOPES
        .iter()
        .find(|(name, _)| *name == word)
        .map(|(_, n)| *n)
        .or_else(|| word.parse().ok())
        .ok_or_else(|| format!("scope \"{word}\" is not global, site, link, host or nowhere"))
}

/// An IPv4 broadcast address, or keepalived's `+` (the host bits set) and `-` (cleared), for
/// prefixes up to /30 (vrrp/vrrp_ipaddress.c, alloc_ipaddress).
fn broadcast(word: &str, net: &IpNet) -> Result<IpAddr, String> {
    if word == "+" || word == "-" {
        let IpNet::V4(v4) = net else {
            return Err("`brd` is for IPv4 addresses".into());
        };
        if v4.prefix_len() > 30 {
            return Err(format!("brd {word} needs a prefix of /30 or shorter"));
        }
        let b = if word == "+" {
            v4.broadcast()
        } else {
            v4.network()
        };
        return Ok(IpAddr::V4(b));
    }
    match (word.parse::<IpAddr>(), net) {
        (Ok(a @ IpAddr::V4(_)), IpNet::V4(_)) => Ok(a),
        (Ok(_), _) => Err("`brd` is for IPv4 addresses".into()),
        (Err(_), _) => Err(format!("brd \"{word}\" is not an IPv4 address")),
    }
}

text_value!(
    Vip,
    VipSpec,
    "virtual_ipaddress",
    "an address or prefix, optionally with dev, label, scope and brd,",
    "10.0.0.2/24 dev eth2 label eth2:1"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_back_as_read() {
        for text in [
            "10.0.0.1/32",
            "10.0.0.2/24 dev eth2 label eth2:1 scope link brd 10.0.0.255",
            "2001:db8::1/128 dev eth0 scope host",
            "10.0.0.3/32 peer 10.0.0.4/32 noprefixroute",
            "2001:db8::2/64 home mngtmpaddr noprefixroute autojoin -nodad",
        ] {
            let vip: Vip = text.parse().unwrap();
            assert_eq!(vip.to_string(), text);
        }
        let bare: Vip = "10.0.0.1".parse().unwrap();
        assert_eq!(bare.to_string(), "10.0.0.1/32");
    }

    #[test]
    fn brd_plus_and_minus_as_keepalived_computes_them() {
        let brd = |t: &str| t.parse::<Vip>().unwrap().brd.unwrap().to_string();
        assert_eq!(brd("10.1.2.3/24 brd +"), "10.1.2.255");
        assert_eq!(brd("10.1.2.3/24 broadcast -"), "10.1.2.0");
        assert_eq!(brd("10.1.2.5/30 brd +"), "10.1.2.7");
        let err = |t: &str| t.parse::<Vip>().unwrap_err();
        assert_eq!(
            err("10.1.2.3/31 brd +"),
            "brd + needs a prefix of /30 or shorter"
        );
        assert_eq!(err("2001:db8::1/64 brd +"), "`brd` is for IPv4 addresses");
    }

    #[test]
    fn bad_options_say_what_is_wrong() {
        let err = |t: &str| t.parse::<Vip>().unwrap_err();
        assert_eq!(err("10.0.0.1/32 dev"), "`dev` needs a value");
        assert_eq!(
            err("10.0.0.1/32 via yes"),
            "unknown option \"via\": dev, label, scope, brd, peer, home, mngtmpaddr, noprefixroute, autojoin and -nodad are taken"
        );
        assert_eq!(err("2001:db8::1 brd ::1"), "`brd` is for IPv4 addresses");
        assert_eq!(
            err("10.0.0.1 scope galaxy"),
            "scope \"galaxy\" is not global, site, link, host or nowhere"
        );
    }
}
