//! Raw document → typed [`Config`], with every rule a keepalived user wishes keepalived had.
//! Each problem is recorded with its location and validation carries on, so one run of
//! `haldir check` lists everything that is wrong.

mod check;
mod email;
mod kinds;
mod routing;
mod sections;
mod service;
mod track_file;
mod vrrp;

use std::collections::HashMap;
use std::time::Duration;

use super::leaf::{Leaf, LeafType, Sp};
use super::model::Config;
use super::raw::{self, Command, Int};
use super::source::{Diags, Loc};
use super::types::Dur;

/// Validates a merged document. Returns the model when no error was found. `host_name` is the
/// default `router_id`, as in keepalived.
pub(crate) fn validate(doc: &raw::Document, host_name: &str, d: &mut Diags) -> Option<Config> {
    let services = doc
        .virtual_server
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .map(ServiceSlot::Written)
        .collect();
    validate_with(doc, host_name, d, services)
}

/// A virtual server to validate: as written, or as validated before (a reload that reads
/// only the services that changed, [`super::reread`]).
pub(crate) enum ServiceSlot<'a> {
    Written(&'a Sp<raw::VirtualServer>),
    Kept(&'a std::sync::Arc<super::model::VirtualServer>),
}

/// Validates a document whose virtual servers are `services`, in their order.
pub(crate) fn validate_with(
    doc: &raw::Document,
    host_name: &str,
    d: &mut Diags,
    services: Vec<ServiceSlot<'_>>,
) -> Option<Config> {
    let global = sections::global(doc.global.as_ref(), host_name, d);
    let email = email::email(doc.email.as_ref(), host_name, d);
    let static_ = sections::static_(doc.static_.as_ref(), d);
    let alerts = Alerts::of(email.as_ref(), doc.email.is_some());
    let track_scripts = vrrp::track_scripts(doc.track_script.as_deref().unwrap_or(&[]), d);
    let track_files = track_file::track_files(doc.track_file.as_deref().unwrap_or(&[]), d);
    let vrrp_instances = vrrp::instances(
        doc.vrrp_instance.as_deref().unwrap_or(&[]),
        (&track_scripts, &track_files),
        &alerts,
        d,
    );
    let sync_groups = vrrp::sync_groups(
        doc.vrrp_sync_group.as_deref().unwrap_or(&[]),
        &vrrp_instances,
        &alerts,
        d,
    );
    vrrp::unused_track_scripts(
        doc.track_script.as_deref().unwrap_or(&[]),
        &vrrp_instances,
        d,
    );
    track_file::unused(doc.track_file.as_deref().unwrap_or(&[]), &vrrp_instances, d);
    let virtual_servers = service::virtual_servers(services, &vrrp_instances, &alerts, d);
    let fwmarks = sections::fwmarks(doc.fwmark.as_deref().unwrap_or(&[]), &virtual_servers, d);
    let netfilter = sections::netfilter(doc.netfilter.as_ref(), d);
    let ipvs = sections::ipvs(doc.ipvs.as_ref(), &vrrp_instances, d);
    let realserver = doc
        .realserver
        .as_ref()
        .and_then(|r| sections::realserver(r, d));
    let (routing, announces) = routing::routing(
        doc.routing.as_ref(),
        doc.announce.as_deref().unwrap_or(&[]),
        &virtual_servers,
        &vrrp_instances,
        d,
    );
    if d.has_errors() {
        return None;
    }
    let mut virtual_servers = virtual_servers;
    routing::keep_failed_in_place(&announces, &mut virtual_servers);
    Some(Config {
        global,
        vrrp_instances: vrrp_instances.into_iter().map(|(_, i)| i).collect(),
        sync_groups,
        track_scripts: track_scripts.into_iter().map(|(_, t)| t).collect(),
        track_files: track_files.into_iter().map(|(_, t)| t).collect(),
        virtual_servers,
        fwmarks,
        netfilter,
        ipvs,
        realserver,
        email,
        static_,
        routing,
        announces,
    })
}

/// The defaults of the `smtp_alert` switches; `None` where there is no [email] to mail to.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Alerts {
    vrrp: Option<bool>,
    checker: Option<bool>,
    quorum: Option<bool>,
}

impl Alerts {
    /// An [email] that failed validation still counts as present: its own errors are enough.
    fn of(email: Option<&super::model::Email>, present: bool) -> Alerts {
        match email {
            Some(e) => Alerts {
                vrrp: Some(e.vrrp),
                checker: Some(e.checker),
                quorum: Some(e.quorum),
            },
            None if present => Alerts {
                vrrp: Some(false),
                checker: Some(false),
                quorum: Some(false),
            },
            None => Alerts::default(),
        }
    }
}

/// A required key: its value, or an error at the table that lacks it.
fn req<T: LeafType>(
    leaf: &Option<Leaf<T>>,
    key: &str,
    what: &str,
    at: Loc,
    d: &mut Diags,
) -> Option<T::Out> {
    match leaf {
        Some(l) => l.get(key, d),
        None => {
            d.error(at, format!("{what} needs `{key}`"));
            None
        }
    }
}

/// An optional integer within a range, or its default.
fn int_or<N: TryFrom<i64>>(
    leaf: &Option<Int>,
    key: &str,
    lo: i64,
    hi: i64,
    default: N,
    d: &mut Diags,
) -> N {
    leaf.as_ref()
        .and_then(|l| l.int_in(key, lo, hi, d))
        .unwrap_or(default)
}

fn opt_int<N: TryFrom<i64>>(
    leaf: &Option<Int>,
    key: &str,
    lo: i64,
    hi: i64,
    d: &mut Diags,
) -> Option<N> {
    leaf.as_ref().and_then(|l| l.int_in(key, lo, hi, d))
}

fn or<T: LeafType>(leaf: &Option<Leaf<T>>, key: &str, default: T::Out, d: &mut Diags) -> T::Out {
    super::leaf::opt(leaf, key, d).unwrap_or(default)
}

/// A duration that must be longer than zero.
fn positive(leaf: &Option<Leaf<Dur>>, key: &str, default: Duration, d: &mut Diags) -> Duration {
    match leaf {
        Some(l) => match l.get(key, d) {
            Some(v) if v.is_zero() => {
                d.error(l.loc(), format!("`{key}` must be longer than zero"));
                default
            }
            Some(v) => v,
            None => default,
        },
        None => default,
    }
}

/// A duration the kernel takes in whole seconds.
fn whole_seconds(leaf: &Leaf<Dur>, key: &str, d: &mut Diags) -> Option<Duration> {
    let v = leaf.get(key, d)?;
    if v.subsec_nanos() != 0 || v.as_secs() > u64::from(u32::MAX) {
        d.error(
            leaf.loc(),
            format!(
                "`{key}` is kept by the kernel in whole seconds: write \"{}s\"",
                v.as_secs()
            ),
        );
        return None;
    }
    Some(v)
}

/// The values of a list of leaves (an absent list is empty).
fn list<T: LeafType>(sp: &Option<Sp<Vec<Leaf<T>>>>, key: &str, d: &mut Diags) -> Vec<T::Out> {
    sp.as_ref()
        .map(|l| l.value.iter().filter_map(|x| x.get(key, d)).collect())
        .unwrap_or_default()
}

/// An argv array: at least the program, each element a string.
/// A script identity, "user" or "user:group", neither part empty.
fn identity(l: &Leaf<String>, key: &str, d: &mut Diags) -> Option<String> {
    let v = l.get(key, d)?;
    let (user, group) = super::model::split_identity(&v);
    let bad = |s: &str| s.trim().is_empty() || s.contains(char::is_whitespace);
    if bad(user) || group.is_some_and(bad) {
        d.error(
            l.loc(),
            format!(
                "`{key}` \"{v}\" is not \"user\" or \"user:group\" (\"root\" runs scripts as root)"
            ),
        );
        return None;
    }
    Some(v)
}

fn command(sp: &Command, key: &str, d: &mut Diags) -> Option<Vec<String>> {
    let argv: Vec<String> = sp.value.iter().filter_map(|x| x.get(key, d)).collect();
    if argv.len() != sp.value.len() {
        return None;
    }
    match argv.first() {
        None => {
            d.error(sp.loc, format!("`{key}` needs at least the program to run"));
            None
        }
        Some(p) if p.trim().is_empty() => {
            d.error(
                sp.value[0].loc(),
                format!("`{key}`: the program name is empty"),
            );
            None
        }
        Some(_) => Some(argv),
    }
}

/// Reports names seen twice; keys are compared as given.
struct Unique<'a, K> {
    what: &'a str,
    seen: HashMap<K, Loc>,
}

impl<'a, K: std::hash::Hash + Eq + std::fmt::Display> Unique<'a, K> {
    fn new(what: &'a str) -> Self {
        Unique {
            what,
            seen: HashMap::new(),
        }
    }

    /// True the first time; false (and an error) after.
    fn insert(&mut self, key: K, at: Loc, d: &mut Diags) -> bool {
        if let Some(first) = self.seen.get(&key) {
            d.push(
                super::source::Diag::error(at, format!("duplicate {} `{key}`", self.what))
                    .with_related(*first, "first defined"),
            );
            return false;
        }
        self.seen.insert(key, at);
        true
    }
}

/// Reports a name that refers to nothing, suggesting the closest known one.
fn unknown_reference<'k>(
    d: &mut Diags,
    at: Loc,
    what: &str,
    name: &str,
    known: impl Iterator<Item = &'k str>,
) {
    let known: Vec<&str> = known.collect();
    let mut diag = super::source::Diag::error(at, format!("no {what} is named `{name}`"));
    if let Some(s) = super::de::suggest(name, &known) {
        diag = diag.with_help(format!("did you mean `{s}`?"));
    }
    d.push(diag);
}

/// Linux interface names: 1 to 15 bytes, no slash, colon or white space.
fn interface_name(leaf: &Leaf<String>, key: &str, d: &mut Diags) -> Option<String> {
    let name = leaf.get(key, d)?;
    if name.is_empty()
        || name.len() > 15
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace())
    {
        d.error(
            leaf.loc(),
            format!("`{key}` = \"{name}\" is not a valid interface name (1 to 15 characters, no '/', ':' or spaces)"),
        );
        return None;
    }
    Some(name)
}

/// A warning on each of the names no vrrp_instance uses.
fn warn_unused<'a>(
    names: impl Iterator<Item = &'a Option<super::raw::Str>>,
    used: &std::collections::HashSet<&str>,
    what: &str,
    d: &mut Diags,
) {
    for n in names.flatten() {
        if let super::leaf::Scalar::Str(name) = &n.raw.value
            && !used.contains(name.as_str())
        {
            d.warning(
                n.loc(),
                format!("{what} `{name}` is not used by any vrrp_instance"),
            );
        }
    }
}
