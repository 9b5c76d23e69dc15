//! `vrrp_instance` → `[[vrrp_instance]]`.

use super::emit::V;
use super::mapper::Mapper;
use super::scripts::Trailing;
use super::tree::Node;

/// An instance's or sync group's notify keyword, first kept as [`first_command`] keeps it,
/// with the user its line names gathered into `users` for the table's `user`.
pub(super) fn first_notify(
    m: &mut Mapper,
    n: &Node,
    slot: &str,
    keys: &mut Vec<(String, V)>,
    users: &mut Vec<(Node, Option<String>)>,
) {
    if keys.iter().any(|(k, _)| k == slot) {
        m.warn(
            n,
            &format!(
                "keepalived keeps the first {} script and ignores this one",
                n.key
            ),
        );
    } else if let Some((cmd, user)) = m.notify_command(n) {
        keys.push((slot.to_string(), cmd));
        users.push((n.clone(), user));
    }
}

/// A notify keyword whose first occurrence keepalived keeps ("… script already specified -
/// ignoring", vrrp/vrrp_parser.c, check/check_parser.c): its command under `slot` in `keys`.
pub(super) fn first_command(m: &mut Mapper, n: &Node, slot: &str, keys: &mut Vec<(String, V)>) {
    if keys.iter().any(|(k, _)| k == slot) {
        m.warn(
            n,
            &format!(
                "keepalived keeps the first {} script and ignores this one",
                n.key
            ),
        );
    } else if let Some(cmd) = m.script_command(n, Trailing::User) {
        keys.push((slot.to_string(), cmd));
    }
}

/// What a `vrrp_instance` block said, gathered before it is written: some keywords depend on
/// others given later (the priority on the state, the VIPs' `dev` on the interface).
#[derive(Default)]
struct Instance<'n> {
    keys: Vec<(String, V)>,
    interface: Option<String>,
    priority: Option<i64>,
    version: Option<i64>,
    master: Option<&'n Node>,
    nopreempt: Option<&'n Node>,
    preempt_delay: Option<(&'n Node, String)>,
    vips: Vec<&'n Node>,
    excluded: Vec<&'n Node>,
    routes: Vec<String>,
    rules: Vec<String>,
    source: Option<String>,
    peers: Vec<String>,
    auth: Option<&'n Node>,
    tracked_names: (Vec<String>, Vec<String>),
    track_interface: Vec<V>,
    track_script: Vec<V>,
    track_file: Vec<V>,
    /// The track_interface and track_script blocks, for warnings about their entries.
    track_blocks: Vec<&'n Node>,
    garp: Vec<(String, V)>,
    prio_adverts: Vec<(String, V)>,
    notify: Vec<(String, V)>,
    smtp_alert: Option<(&'n Node, bool)>,
    dont_track_primary: bool,
    /// `check_unicast_src`, and the first unicast_peer block (for the warning without it).
    check_unicast_src: bool,
    peer_block: Option<&'n Node>,
    /// Each kept notify command's statement and the user it names.
    notify_users: Vec<(Node, Option<String>)>,
    /// `use_vmac`: its statement and haldir's value (true, or the name).
    vmac: Option<(&'n Node, V)>,
    vmac_xmit_base: bool,
    /// The instance's address family, IPv6 or not: the first address among the advert's
    /// source, the peers and the VIPs decides it, in the order written (see `same_family`).
    family_v6: Option<bool>,
}

/// The loss for an instance keepalived cannot complete: its whole VRRP side refuses to run.
pub(super) const VRRP_DOES_NOT_START: &str = "no valid virtual_router_id: keepalived does not start its VRRP process with this file (\"the virtual router id must be set\", then \"exited with permanent error CONFIG\"); the conversion leaves the instance out and keeps the rest";

impl Mapper {
    /// The other instances keepalived's VRRP process refuses to start with (vrrp/vrrp.c
    /// vrrp_complete_instance and vrrp_complete_init, 2.2.7): a VRRPv3 or IPv6 instance
    /// without a VIP, and a second instance with the same VRID, family and interface. The
    /// loss says so; the instance is left out.
    fn stops_keepalived(
        &mut self,
        n: &Node,
        i: &Instance,
        no_vip: bool,
        version: i64,
        v6: bool,
    ) -> bool {
        let why = if no_vip && (version == 3 || v6) {
            Some("no VIP in a VRRPv3 or IPv6 instance: keepalived does not start its VRRP process with this file (\"No VIP specified; at least one is required\", then \"exited with permanent error CONFIG\"); the conversion leaves the instance out and keeps the rest".to_string())
        } else {
            let vrid = i.keys.iter().find_map(|(k, v)| match (k.as_str(), v) {
                ("virtual_router_id", V::Int(id)) => Some(*id),
                _ => None,
            });
            let router = (
                i.interface.clone().unwrap_or_default(),
                v6,
                vrid.unwrap_or(0),
            );
            let taken = self
                .routers
                .iter()
                .find(|(r, _)| *r == router)
                .map(|(_, name)| name.clone());
            if taken.is_none() {
                self.routers
                    .push((router, n.arg(0).unwrap_or("").to_string()));
            }
            taken.map(|other| format!("{other} has the same VRID, family and interface: keepalived does not start its VRRP process with this file (\"both use VRID\", then \"exited with permanent error CONFIG\"); the conversion leaves this instance out and keeps the rest"))
        };
        if let Some(why) = &why {
            self.lost(n, why);
        }
        why.is_some()
    }
}

impl Mapper {
    /// A `vrrp_instance`, each keyword as keepalived's parser takes it when given twice
    /// (vrrp/vrrp_parser.c): notify scripts keep the first, peers, tracked objects and
    /// addresses add up, everything else keeps the last.
    pub(super) fn vrrp_instance(&mut self, n: &Node) {
        let Some(name) = self.one(n) else { return };
        let mut i = Instance {
            keys: vec![("name".into(), V::str(name))],
            garp: self.globals.garp.clone(),
            prio_adverts: self.globals.prio_adverts.clone(),
            version: self.globals.vrrp_version,
            ..Instance::default()
        };
        for c in n.children() {
            self.instance_keyword(c, &mut i);
        }
        self.finish_instance(n, i);
    }

    /// One statement of a vrrp_instance. Long because it is keepalived's keyword table for
    /// instances (vrrp/vrrp_parser.c), one arm per keyword, read side by side with it.
    fn instance_keyword<'n>(&mut self, c: &'n Node, i: &mut Instance<'n>) {
        let key = c.key.as_str();
        // keepalived skips what it does not install in a vrrp_instance (garp_interval is
        // garp_group's): nothing of it is converted.
        if !super::keywords::known_in(Some("vrrp_instance"), key) {
            return self.unmapped_in(Some("vrrp_instance"), c);
        }
        match key {
            "interface" => {
                if let Some(v) = self.one(c) {
                    i.interface = Some(v.to_string());
                    i.keys.push(("interface".into(), V::str(v)));
                }
            }
            "virtual_router_id" => {
                // vrrp/vrrp_parser.c vrrp_vrid_handler: 1 to 255, whole, or rejected.
                match c.arg(0).and_then(|v| super::numbers::unsigned(v, 1, 255, false)) {
                    Some(v) => i.keys.push(("virtual_router_id".into(), V::Int(v as i64))),
                    None => self.warn(c, "keepalived rejects a virtual_router_id that is not a whole number from 1 to 255 (\"VRID … not valid\") and leaves it unset"),
                }
            }
            "priority" => i.priority = self.int(c).or(i.priority),
            "advert_int" => {
                if let Some(d) = self.timer(c) {
                    i.keys.push(("advert_interval".into(), V::Str(d)));
                }
            }
            "version" => i.version = self.int(c),
            "nopreempt" => i.nopreempt = Some(c),
            "preempt" => {}
            "preempt_delay" => {
                if let Some(d) = self.timer(c) {
                    i.preempt_delay = Some((c, d));
                }
            }
            "state" => self.state(c, i),
            "virtual_ipaddress" => {
                for e in c.children() {
                    if self.same_family(
                        e,
                        &e.key,
                        i,
                        "address family must match VRRP instance - ignoring",
                    ) {
                        i.vips.push(e);
                    }
                }
            }
            "virtual_ipaddress_excluded" => i.excluded.extend(c.children()),
            "virtual_routes" => self.routing::<crate::config::route::Route>(c, &mut i.routes),
            "virtual_rules" => self.routing::<crate::config::route::Rule>(c, &mut i.rules),
            "unicast_src_ip" | "mcast_src_ip" => {
                // One field in keepalived (saddr): the adverts' source, unicast or multicast.
                if let Some(v) = self.one(c) {
                    let v = self.sockaddr(c, v);
                    if self.same_family(c, &v, i, "MUST be of the same family !!! Skipping...") {
                        i.source = Some(v);
                    }
                }
            }
            // haldir always takes unicast adverts only from the peers (see finish_instance).
            "check_unicast_src" => i.check_unicast_src = true,
            "unicast_peer" => {
                i.peer_block.get_or_insert(c);
                for p in c.children() {
                    if !p.args.is_empty() {
                        self.lost(p, "peer options (min_ttl, max_ttl) are not kept");
                    }
                    let peer = self.sockaddr(p, &p.key);
                    if !self.same_family(p, &peer, i, "MUST be of the same family !!! Skipping...")
                    {
                        continue;
                    }
                    if i.peers.contains(&peer) {
                        self.warn(p, "keepalived ignores a duplicate unicast_peer");
                    } else {
                        i.peers.push(peer);
                    }
                }
            }
            "authentication" => i.auth = Some(c),
            "track_interface" => {
                let list = self.tracked(c, false, &mut i.tracked_names.0);
                i.track_interface.extend(list);
                i.track_blocks.push(c);
            }
            "track_script" => {
                let list = self.tracked(c, true, &mut i.tracked_names.1);
                i.track_script.extend(list);
                i.track_blocks.push(c);
            }
            "track_file" => {
                let mut list = std::mem::take(&mut i.track_file);
                self.instance_track_files(c, &mut list);
                i.track_file = list;
            }
            "notify_master"
            | "notify_backup"
            | "notify_fault"
            | "notify_stop"
            | "notify"
            | "notify_master_rx_lower_pri" => {
                let slot = key.strip_prefix("notify_").unwrap_or("any");
                first_notify(self, c, slot, &mut i.notify, &mut i.notify_users);
            }
            "smtp_alert" => i.smtp_alert = self.boolean(c).map(|on| (c, on)),
            k if super::map::garp_key(k).is_some() => self.garp(c, k, &mut i.garp),
            "lower_prio_no_advert" | "higher_prio_send_advert" => {
                self.prio_advert(c, key, &mut i.prio_adverts)
            }
            // haldir adds the VIPs as addresses of the host: it always accepts their traffic.
            "accept" => {}
            // haldir never compares an advert's addresses with its own.
            "skip_check_adv_addr" => {}
            "dont_track_primary" => i.dont_track_primary = true,
            "use_vmac" => i.vmac = self.use_vmac(c).map(|v| (c, v)),
            "vmac_xmit_base" => i.vmac_xmit_base = true,
            "lvs_sync_daemon_interface" => self.legacy_sync_daemon(c, i),
            _ => self.unmapped_in(Some("vrrp_instance"), c),
        }
    }

    /// keepalived's lower-priority bursts default to the global vrrp_garp_master_repeat and
    /// _delay (vrrp/vrrp.c vrrp_complete_instance, 2.2.7), haldir's to the instance's own
    /// `repeat` and `delay`: where the instance sets its own, the global value (or
    /// keepalived's 5 and 5 s) is written out.
    fn lower_prio_defaults(&self, garp: &mut Vec<(String, V)>) {
        for (lower, master, default) in [
            ("lower_prio_repeat", "repeat", V::Int(5)),
            ("lower_prio_delay", "delay", V::str("5s")),
        ] {
            let get =
                |g: &[(String, V)], k: &str| g.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            if get(garp, lower).is_some() {
                continue;
            }
            let global = get(&self.globals.garp, master).unwrap_or(default);
            if get(garp, master).is_some_and(|own| own != global) {
                garp.push((lower.to_string(), global));
            }
        }
    }

    /// keepalived 1.x's per-instance sync daemon: the first one becomes `[ipvs] sync_daemon`
    /// unless global_defs has `lvs_sync_daemon` (vrrp/vrrp_parser.c vrrp_lvs_syncd_handler).
    fn legacy_sync_daemon(&mut self, c: &Node, i: &Instance) {
        let name = i.keys.iter().find_map(|(k, v)| match (k.as_str(), v) {
            ("name", V::Str(n)) => Some(n.clone()),
            _ => None,
        });
        let ours = self
            .legacy_sync
            .as_ref()
            .is_some_and(|(iface, inst)| Some(inst) == name.as_ref() && c.arg(0) == Some(iface));
        if ours && !self.globals.sync_daemon {
            self.warn(
                c,
                "deprecated in keepalived: converted to [ipvs] sync_daemon following this instance",
            );
        } else {
            self.warn(
                c,
                "keepalived ignores it: the sync daemon's interface is already given",
            );
        }
    }

    /// `state MASTER|BACKUP`: case matters, and MASTER once given stays (vrrp_parser.c).
    fn state<'n>(&mut self, c: &'n Node, i: &mut Instance<'n>) {
        match c.arg(0) {
            Some("MASTER") => i.master = Some(c),
            Some("BACKUP") if i.master.is_some() => {
                self.warn(c, "keepalived keeps the MASTER state given before and ignores this")
            }
            Some("BACKUP") => {}
            other => self.warn(
                c,
                &format!(
                    "keepalived knows only MASTER and BACKUP (case matters) and takes \"{}\" as BACKUP",
                    other.unwrap_or("")
                ),
            ),
        }
    }

    fn finish_instance(&mut self, n: &Node, mut i: Instance) {
        // vrrp/vrrp.c chk_min_cfg: an instance without its id fails the configuration, and
        // keepalived's VRRP process stops ("permanent error CONFIG").
        if !i.keys.iter().any(|(k, _)| k == "virtual_router_id") {
            self.lost(n, VRRP_DOES_NOT_START);
            return;
        }
        let priority = self.settle_priority(&mut i);
        let (vips, excluded) = self.instance_addresses(&mut i);
        // keepalived: the global vrrp_version, else 2; IPv6 is always 3.
        let v6 = vips
            .iter()
            .any(|v| v.split_whitespace().next().is_some_and(|a| a.contains(':')));
        let version = if v6 { 3 } else { i.version.unwrap_or(2) };
        let v6 = i.family_v6.unwrap_or(v6);
        if self.stops_keepalived(n, &i, vips.is_empty(), version, v6) {
            return;
        }
        i.keys.push(("version".into(), V::Int(version)));
        i.keys.push(("virtual_ipaddress".into(), V::strs(&vips)));
        if !excluded.is_empty() {
            i.keys
                .push(("virtual_ipaddress_excluded".into(), V::strs(&excluded)));
        }
        self.instance_routing(&mut i);
        self.finish_vmac(&mut i, v6);
        if let Some(a) = i.auth
            && let Some(auth) = self.authentication(a, version)
        {
            i.keys.push(("authentication".into(), auth));
        }
        self.instance_tracking(n, &mut i, priority);
        self.instance_tables(&mut i);
        if let Some((c, on)) = i.smtp_alert {
            self.smtp_alert(c, on, &mut i.keys);
        }
        self.doc.header_from("[[vrrp_instance]]", n);
        self.doc.set_all(&i.keys);
    }

    /// keepalived (vrrp.c, vrrp_complete_instance): no priority means 255 with state MASTER,
    /// else 100; MASTER and priority 255 clear nopreempt, MASTER and nopreempt clear
    /// preempt_delay. Returns the priority.
    fn settle_priority(&mut self, i: &mut Instance) -> i64 {
        let priority = i
            .priority
            .unwrap_or(if i.master.is_some() { 255 } else { 100 });
        let mut preempt = true;
        if let Some(np) = i.nopreempt {
            if i.master.is_some() {
                self.warn(np, "keepalived clears nopreempt with state MASTER (\"nopreempt will not work with initial state MASTER\"): the instance preempts");
            } else if priority == 255 {
                self.warn(np, "keepalived clears nopreempt at priority 255 (the address owner always preempts)");
            } else {
                preempt = false;
            }
        }
        if let Some((pd, delay)) = i.preempt_delay.take() {
            if i.master.is_some() {
                self.warn(pd, "keepalived clears preempt_delay with state MASTER (\"preempt delay will not work with initial state MASTER\")");
            } else if !preempt {
                self.warn(pd, "keepalived clears preempt_delay with nopreempt");
            } else {
                i.keys.push(("preempt_delay".into(), V::Str(delay)));
            }
        }
        if let Some(m) = i.master
            && priority < 255
        {
            self.warn(m, "haldir starts every instance as BACKUP: with no master answering, keepalived's state MASTER takes over after one advert interval, haldir after the master-down interval (3 adverts and the skew)");
        }
        if !preempt {
            i.keys.push(("preempt".into(), V::Bool(false)));
        }
        i.keys.push(("priority".into(), V::Int(priority)));
        priority
    }

    /// The VIPs and excluded VIPs, each once. An address on the instance's own interface,
    /// with or without `dev`, goes where the instance puts its addresses: the VMAC when there
    /// is one (vrrp/vrrp.c vrrp_complete_instance, "ip_addr->ifp == vrrp->configured_ifp";
    /// keepalived 2.2.7 shows it on the VMAC); one on another interface stays there.
    fn instance_addresses(&mut self, i: &mut Instance) -> (Vec<String>, Vec<String>) {
        let dev_default = i.interface.clone();
        let mut vips: Vec<String> = Vec::new();
        // A repeated address, whatever its options, is the same VIP to keepalived.
        let addr = |v: &str| v.split_whitespace().next().unwrap_or("").to_string();
        let has = |list: &[String], v: &str| list.iter().any(|x| addr(x) == addr(v));
        for e in std::mem::take(&mut i.vips) {
            if let Some(v) = self.vip(e, dev_default.as_deref()) {
                if has(&vips, &v) {
                    self.warn(e, "keepalived ignores a VIP given twice");
                } else {
                    vips.push(v);
                }
            }
        }
        let mut excluded: Vec<String> = Vec::new();
        for e in std::mem::take(&mut i.excluded) {
            if let Some(v) = self.vip(e, dev_default.as_deref()) {
                if has(&vips, &v) || has(&excluded, &v) {
                    self.warn(e, "keepalived ignores an excluded VIP given twice");
                } else {
                    excluded.push(v);
                }
            }
        }
        (vips, excluded)
    }

    /// Routes, rules, the source address and the unicast peers.
    fn instance_routing(&mut self, i: &mut Instance) {
        if !i.routes.is_empty() {
            i.keys.push(("virtual_routes".into(), V::strs(&i.routes)));
        }
        if !i.rules.is_empty() {
            i.keys.push(("virtual_rules".into(), V::strs(&i.rules)));
        }
        match (&i.source, i.peers.is_empty()) {
            (Some(src), false) => i.keys.push(("unicast_source".into(), V::str(src))),
            (Some(src), true) => i.keys.push(("mcast_source".into(), V::str(src))),
            (None, _) => {}
        }
        if !i.peers.is_empty() {
            i.keys.push(("unicast_peers".into(), V::strs(&i.peers)));
            // vrrp.c vrrp_check_packet checks the source only with check_unicast_src.
            if let Some(b) = i.peer_block
                && !i.check_unicast_src
                && !self.globals.check_unicast_src
            {
                self.warn(b, "haldir takes unicast adverts from these peers only; keepalived without check_unicast_src from any address");
            }
        }
    }

    /// The tracked interfaces and scripts as keepalived keeps them (weights.rs), and the own
    /// interface, which keepalived tracks unless told not to (vrrp/vrrp.c:
    /// add_vrrp_to_interface without VRRP_FLAG_DONT_TRACK_PRIMARY): down means FAULT.
    fn instance_tracking(&mut self, n: &Node, i: &mut Instance, priority: i64) {
        let interface = i.interface.clone();
        if let Some(iface) = &interface {
            super::weights::untrack_own(
                self,
                iface,
                &i.track_blocks,
                &mut i.track_interface,
                &mut i.tracked_names.0,
            );
        }
        let in_group = n
            .arg(0)
            .is_some_and(|a| self.untracked_members.iter().any(|m| m == a));
        let why = if in_group {
            Some(super::weights::Why::SyncGroup)
        } else {
            (priority == 255).then_some(super::weights::Why::AddressOwner)
        };
        if let Some(why) = why {
            let blocks = std::mem::take(&mut i.track_blocks);
            self.ignored_weights(why, &blocks, &mut i.track_interface, &mut i.track_script);
            let files = n.children().iter().find(|c| c.key == "track_file");
            let mut list = std::mem::take(&mut i.track_file);
            self.unweighted_track_files(why.text(), files, &mut list);
            i.track_file = list;
        }
        if let Some(iface) = &interface
            && !i.dont_track_primary
            && !i.tracked_names.0.contains(iface)
        {
            i.track_interface
                .insert(0, V::Table(vec![("name".into(), V::str(iface))]));
        }
    }

    /// The lists and tables gathered while reading: tracking, GARP, notify.
    fn instance_tables(&mut self, i: &mut Instance) {
        if !i.track_interface.is_empty() {
            i.keys.push((
                "track_interface".into(),
                V::Arr(std::mem::take(&mut i.track_interface)),
            ));
        }
        if !i.track_script.is_empty() {
            i.keys.push((
                "track_script".into(),
                V::Arr(std::mem::take(&mut i.track_script)),
            ));
        }
        for e in &i.track_file {
            if let V::Table(keys) = e
                && let Some((_, V::Str(name))) = keys.iter().find(|(k, _)| k == "name")
            {
                self.tracked_files.insert(name.clone());
            }
        }
        if !i.track_file.is_empty() {
            i.keys.push((
                "track_file".into(),
                V::Arr(std::mem::take(&mut i.track_file)),
            ));
        }
        self.lower_prio_defaults(&mut i.garp);
        if !i.garp.is_empty() {
            i.keys
                .push(("garp".into(), V::Table(std::mem::take(&mut i.garp))));
        }
        i.keys.append(&mut i.prio_adverts);
        let users = std::mem::take(&mut i.notify_users);
        self.notify_user(&users, &mut i.notify);
        if !i.notify.is_empty() {
            i.keys
                .push(("notify".into(), V::Table(std::mem::take(&mut i.notify))));
        }
    }

    /// One `virtual_ipaddress` entry: `ADDR[/LEN] [dev IF] [label L] …`.
    /// `ADDR[/LEN] [dev IF] [label L] [scope S] [brd A] …` as haldir's address text, with the
    /// options haldir takes; any other is reported and the address kept without it.
    pub(super) fn vip(&mut self, e: &Node, interface: Option<&str>) -> Option<String> {
        let mut text = e.key.clone();
        let mut rest = e.args.iter();
        while let Some(opt) = rest.next() {
            match (opt.as_str(), rest.clone().next()) {
                ("dev", Some(dev)) if Some(dev.as_str()) == interface => {
                    rest.next();
                }
                // What haldir's address text takes without a value (keepalived's flags).
                (o @ ("home" | "mngtmpaddr" | "noprefixroute" | "autojoin" | "-nodad"), _) => {
                    text = format!("{text} {o}");
                }
                // keepalived's no_track: the address's removal by someone else does not move
                // the instance; haldir never watches for it.
                ("no_track", _) => {}
                (o @ ("dev" | "label" | "scope" | "brd" | "broadcast" | "peer"), Some(v)) => {
                    let candidate = format!("{text} {o} {v}");
                    if candidate.parse::<crate::config::vip::Vip>().is_ok() {
                        text = candidate;
                    } else {
                        self.lost(e, &format!("address option \"{o} {v}\" is not kept"));
                    }
                    rest.next();
                }
                _ => {
                    self.lost(e, &format!("address option \"{opt}\" is not kept"));
                    break;
                }
            }
        }
        if text.parse::<crate::config::vip::Vip>().is_err() {
            self.lost(e, "not an address");
            return None;
        }
        Some(text)
    }

    /// `authentication { auth_type PASS|AH  auth_pass P }`, as keepalived takes it: the type
    /// is case-sensitive, an unknown one means none, and VRRPv3 ignores it (vrrp.c).
    fn authentication(&mut self, n: &Node, version: i64) -> Option<V> {
        let mut kind = None;
        let mut pass = None;
        for c in n.children() {
            match c.key.as_str() {
                "auth_type" => kind = c.arg(0).map(str::to_string),
                "auth_pass" => pass = c.arg(0).map(str::to_string),
                _ => self.unmapped(c),
            }
        }
        match (kind.as_deref(), pass) {
            _ if version == 3 => {
                self.warn(n, "keepalived ignores authentication with VRRPv3 (\"VRRP version 3 does not support authentication. Ignoring.\")");
                None
            }
            (Some("PASS"), Some(p)) => {
                // keepalived uses only the first 8 characters.
                let p: String = p.chars().take(8).collect();
                Some(V::Table(vec![
                    ("type".into(), V::str("pass")),
                    ("password".into(), V::Str(p)),
                ]))
            }
            (Some("AH"), _) => {
                self.lost(n, "haldir has no AH authentication (RFC 3768 removed it)");
                None
            }
            (Some("PASS"), None) => {
                self.warn(
                    n,
                    "keepalived ignores a PASS authentication without auth_pass",
                );
                None
            }
            (other, _) => {
                self.warn(n, &format!("keepalived knows auth_type PASS and AH only (case matters): with {} it authenticates nothing", other.map_or("none".to_string(), |t| format!("\"{t}\""))));
                None
            }
        }
    }

    /// keepalived's instance family (vrrp/vrrp_parser.c vrrp_srcip_handler, vrrp_data.c
    /// alloc_vrrp_unicast_peer and alloc_vrrp_vip, 2.2.7): the first of the advert's source,
    /// a peer or a VIP sets it, in the order written; a later one of the other family is
    /// skipped with keepalived's own words. Whether `address` (maybe `ADDR/LEN`) is kept.
    fn same_family(&mut self, n: &Node, address: &str, i: &mut Instance, says: &str) -> bool {
        let ip = address.split('/').next().unwrap_or(address);
        let Ok(ip) = ip.parse::<std::net::IpAddr>() else {
            return true;
        };
        match i.family_v6 {
            None => {
                i.family_v6 = Some(ip.is_ipv6());
                true
            }
            Some(v6) if v6 == ip.is_ipv6() => true,
            Some(v6) => {
                let family = if v6 { "IPv6" } else { "IPv4" };
                self.warn(n, &format!("the instance is {family}, set by its first address: keepalived skips this one (\"{says}\"), and so does this conversion"));
                false
            }
        }
    }

    /// `track_interface { eth0 [weight N] }` / `track_script { name [weight N] }`; a name
    /// already tracked (in this block or an earlier one) is ignored, as keepalived does.
    fn tracked(&mut self, n: &Node, scripts: bool, seen: &mut Vec<String>) -> Vec<V> {
        let mut out = Vec::new();
        for t in n.children() {
            if seen.contains(&t.key) {
                self.warn(t, &format!("keepalived ignores a duplicate {}", n.key));
                continue;
            }
            // vrrp/vrrp_track.c alloc_track_script looks the script up as the entry is read: one
            // defined further down the file is not found either.
            let later = self
                .script_pos
                .get(&t.key)
                .is_some_and(|p| *p > self.instance_pos);
            if scripts && later {
                self.warn(t, "keepalived looks a tracked script up as it reads the entry, and this vrrp_script comes later in the file: keepalived ignores it (\"track script … not found, ignoring\"), and so does this conversion");
                continue;
            }
            if scripts && !self.scripts.contains(&t.key) {
                // vrrp/vrrp_track.c: "track script %s not found, ignoring...".
                self.warn(t, "keepalived ignores a track_script whose vrrp_script it does not keep (\"not found, ignoring\")");
                continue;
            }
            seen.push(t.key.clone());
            let mut entry = vec![("name".to_string(), V::str(&t.key))];
            let mut weight = None;
            let mut args = t.args.iter();
            while let Some(a) = args.next() {
                match a.as_str() {
                    "weight" => weight = args.next().and_then(|w| w.parse::<i64>().ok()),
                    "reverse" => self.lost(t, "haldir has no reverse tracking"),
                    "noreverse" => {}
                    other => self.lost(t, &format!("\"{other}\" not understood")),
                }
            }
            if scripts && weight.is_none() {
                weight = self.script_weights.get(&t.key).copied();
            }
            if let Some(w) = weight.filter(|w| *w != 0) {
                entry.push(("weight".into(), V::Int(w)));
            }
            out.push(V::Table(entry));
        }
        out
    }
}

impl Mapper {
    /// `use_vmac [[name] NAME] [MAC] [netlink_notify_msg] [group G]` (vrrp/vrrp_parser.c
    /// vrrp_vmac_handler): haldir takes the name; a MAC of one's own, the notify message and
    /// the link group are not kept.
    fn use_vmac(&mut self, n: &Node) -> Option<V> {
        let mut args = n.args.iter().map(String::as_str).peekable();
        let mut name = None;
        let mut extra = Vec::new();
        while let Some(a) = args.next() {
            match a {
                "name" => {
                    self.warn(n, "keepalived 2.3 and later read `name NAME` as the VMAC's name, and so does this conversion; keepalived 2.2 takes the word `name` itself as the name");
                    name = args.next();
                }
                "netlink_notify_msg" => extra.push(a.to_string()),
                "group" => extra.push(format!("group {}", args.next().unwrap_or(""))),
                a if a.contains(':') => extra.push(format!("MAC {a}")),
                a if name.is_none() => name = Some(a),
                a => extra.push(a.to_string()),
            }
        }
        if !extra.is_empty() {
            self.lost(n, &format!("haldir makes the VMAC with the VRRP virtual MAC, in the base interface's link group: {} not kept", extra.join(", ")));
        }
        Some(name.map_or(V::Bool(true), V::str))
    }

    /// Writes use_vmac where haldir can make it: IPv4, and unicast adverts from the base
    /// interface (keepalived's NOTE 2: unicast peers need vmac_xmit_base).
    fn finish_vmac(&mut self, i: &mut Instance, v6: bool) {
        let Some((n, v)) = i.vmac.take() else {
            return;
        };
        if v6 {
            self.lost(
                n,
                "haldir makes IPv4 VMACs only: the addresses stay on the interface",
            );
            return;
        }
        if !i.peers.is_empty() && !i.vmac_xmit_base {
            self.lost(n, "with unicast peers keepalived needs vmac_xmit_base: the addresses stay on the interface");
            return;
        }
        i.keys.push(("use_vmac".into(), v));
        if i.vmac_xmit_base {
            i.keys.push(("vmac_xmit_base".into(), V::Bool(true)));
        }
    }
}
