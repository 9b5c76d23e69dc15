//! What an instance holds while master: its virtual addresses and the excluded ones, each on
//! its own interface (the instance's, or the one its `dev` names) with its label, scope and
//! broadcast, and each announced on that interface (gratuitous ARP for IPv4, unsolicited
//! neighbour advertisements for IPv6); then its routes and policy rules, added after the
//! addresses (a route may take a VIP as its source) and removed before them, as keepalived
//! does with virtual_routes and virtual_rules.

use std::io;
use std::net::IpAddr;

use tokio::time::Instant;

use tracing::warn;

use super::garp::Pacer;
use super::gratuitous::{self, Announcer};
use crate::config::model::VrrpInstance;
use crate::config::route::{Route, Rule};
use crate::config::vip::Vip;
use crate::iface;
use crate::netlink::route::Devices;
use crate::netlink::rtnl::{Rtnl, Want};

/// How addresses are announced on one interface, in one family.
enum Announce {
    Arp(Announcer),
    Na(gratuitous::NaSender),
}

struct Sender {
    ifindex: u32,
    v6: bool,
    mac: [u8; 6],
    announce: Announce,
}

struct Held {
    vip: Vip,
    interface: String,
    ifindex: u32,
    /// Index of its sender; none on an interface without ARP (lo, a tunnel), where keepalived
    /// announces nothing either.
    sender: Option<usize>,
}

pub(crate) struct Holdings {
    held: Vec<Held>,
    /// Announcements waiting for their turn when an interval spaces them.
    pacer: Pacer,
    senders: Vec<Sender>,
    /// Routes with the index of their `dev` and of each nexthop's.
    routes: Vec<(Route, Devices)>,
    rules: Vec<Rule>,
}

fn failure(want: Want) -> &'static str {
    match want {
        Want::Present => "cannot add",
        Want::Absent => "cannot remove",
    }
}

impl Holdings {
    /// Resolves every address's interface and opens a sender for each interface and family:
    /// an interface that does not exist is an error at start, as keepalived's.
    pub(crate) fn open(cfg: &VrrpInstance) -> io::Result<Holdings> {
        let vips = cfg
            .virtual_ipaddress
            .iter()
            .chain(&cfg.virtual_ipaddress_excluded);
        let mut out = Holdings::build(
            vips,
            Some(cfg.address_interface()),
            &cfg.virtual_routes,
            &cfg.virtual_rules,
        )?;
        out.pacer = Pacer::new(cfg.garp.interval, cfg.garp.na_interval);
        Ok(out)
    }

    /// What `[static]` holds while haldir runs (each address names its `dev`).
    pub(crate) fn fixed(s: &crate::config::model::Static) -> io::Result<Holdings> {
        Holdings::build(s.addresses.iter(), None, &s.routes, &s.rules)
    }

    fn build<'a>(
        vips: impl Iterator<Item = &'a Vip>,
        interface: Option<&str>,
        routes: &[Route],
        rules: &[Rule],
    ) -> io::Result<Holdings> {
        let mut out = Holdings {
            held: Vec::new(),
            pacer: Pacer::default(),
            senders: Vec::new(),
            routes: Vec::new(),
            rules: rules.to_vec(),
        };
        for r in routes {
            let index = |dev: &Option<String>| -> io::Result<Option<u32>> {
                dev.as_deref()
                    .map(|d| {
                        iface::index(d)
                            .map_err(|e| io::Error::new(e.kind(), format!("route {r}: {e}")))
                    })
                    .transpose()
            };
            let devices = Devices {
                route: index(&r.dev)?,
                nexthops: r
                    .nexthops
                    .iter()
                    .map(|h| index(&h.dev))
                    .collect::<io::Result<_>>()?,
            };
            out.routes.push((r.clone(), devices));
        }
        for vip in vips {
            let Some(interface) = vip.dev.as_deref().or(interface).map(str::to_string) else {
                return Err(io::Error::other(format!("{} names no interface", vip.net)));
            };
            let ifindex = iface::index(&interface).map_err(|e| {
                io::Error::new(e.kind(), format!("{} on {interface}: {e}", vip.net))
            })?;
            let sender = match iface::mac(&interface) {
                Ok(_) => Some(out.sender(&interface, ifindex, vip.addr().is_ipv6())?),
                Err(_) => None,
            };
            out.held.push(Held {
                vip: vip.clone(),
                interface,
                ifindex,
                sender,
            });
        }
        Ok(out)
    }

    fn sender(&mut self, interface: &str, ifindex: u32, v6: bool) -> io::Result<usize> {
        if let Some(i) = self
            .senders
            .iter()
            .position(|s| s.ifindex == ifindex && s.v6 == v6)
        {
            return Ok(i);
        }
        let announce = if v6 {
            Announce::Na(gratuitous::NaSender::open(interface, ifindex)?)
        } else {
            Announce::Arp(Announcer::open(ifindex)?)
        };
        self.senders.push(Sender {
            ifindex,
            v6,
            mac: iface::mac(interface)?,
            announce,
        });
        Ok(self.senders.len() - 1)
    }

    /// Adds (or removes) every address, route and rule; a failure is logged and the others
    /// go on. Addresses come first and go last: a route may need its source address.
    pub(crate) fn set(&self, rtnl: &mut Rtnl, want: Want, instance: &str) {
        match want {
            Want::Present => {
                self.addresses(rtnl, want, instance);
                self.routing(rtnl, want, instance);
            }
            Want::Absent => {
                self.routing(rtnl, want, instance);
                self.addresses(rtnl, want, instance);
            }
        }
    }

    fn routing(&self, rtnl: &mut Rtnl, want: Want, instance: &str) {
        let what = failure(want);
        for (r, devices) in &self.routes {
            if let Err(e) = rtnl.route(want, r, devices) {
                warn!(instance = %instance, route = %r, error = %e, "{what}");
            }
        }
        for r in &self.rules {
            if let Err(e) = rtnl.rule(want, r) {
                warn!(instance = %instance, rule = %r, error = %e, "{what}");
            }
        }
    }

    fn addresses(&self, rtnl: &mut Rtnl, want: Want, instance: &str) {
        for h in &self.held {
            let r = match want {
                Want::Present => rtnl.add(h.ifindex, &h.vip),
                Want::Absent => rtnl.remove(h.ifindex, &h.vip),
            };
            if let Err(e) = r {
                warn!(instance = %instance, address = %h.vip, error = %e, "{}", failure(want));
            }
        }
    }

    /// `count` announcements of every address on its interface: at once where no interval
    /// spaces them, else queued; returns when the next queued one is due (now).
    pub(crate) fn announce(&mut self, count: u32, instance: &str) -> Option<Instant> {
        let (at_once, next) = self.pacer.burst(&self.families(), count, Instant::now());
        for (i, count) in at_once {
            self.send(i, count, instance);
        }
        next
    }

    /// Sends the next queued announcement; returns when the one after it is due.
    pub(crate) fn announce_next(&mut self, instance: &str) -> Option<Instant> {
        let (i, after) = self.pacer.next(&self.families(), Instant::now())?;
        self.send(i, 1, instance);
        after
    }

    /// Drops the queued announcements (the instance left master).
    pub(crate) fn cancel(&mut self) {
        self.pacer.cancel();
    }

    /// Whether each address is IPv6.
    fn families(&self) -> Vec<bool> {
        self.held.iter().map(|h| h.vip.addr().is_ipv6()).collect()
    }

    fn send(&self, i: usize, count: u32, instance: &str) {
        let h = &self.held[i];
        let Some(s) = h.sender.map(|n| &self.senders[n]) else {
            return;
        };
        let sent = match (h.vip.addr(), &s.announce) {
            (IpAddr::V4(a), Announce::Arp(tx)) => {
                let frame = gratuitous::garp_frame(s.mac, a);
                (0..count).try_for_each(|_| tx.send(&frame))
            }
            (IpAddr::V6(a), Announce::Na(tx)) => {
                let msg = gratuitous::na_message(s.mac, a);
                (0..count).try_for_each(|_| tx.send(&msg))
            }
            _ => Ok(()),
        };
        if let Err(e) = sent {
            warn!(instance = %instance, address = %h.vip, error = %e, "announcement not sent");
        }
    }

    /// Whether every address is on its interface (a master that died leaves them there).
    pub(crate) fn all_present(&self) -> bool {
        !self.held.is_empty()
            && self.held.iter().all(|h| {
                iface::addresses(&h.interface, h.vip.addr().is_ipv6())
                    .is_ok_and(|have| have.contains(&h.vip.addr()))
            })
    }
}
