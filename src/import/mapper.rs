//! The mapper's state and its words: what a conversion has read so far, and how a statement
//! is reported (a loss, or a warning that says what keepalived does), with the readers of
//! keepalived's values every block uses.

use std::collections::HashMap;

use super::emit::{Doc, V, duration};
use super::tree::Node;

/// A statement with no haldir equivalent (or not fully expressible).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Loss {
    pub file: usize,
    pub line: usize,
    pub what: String,
}

/// A notify FIFO's keys, and its script's statement (for the warning when it has no path).
pub(super) type FifoKeys = (Vec<(String, V)>, Option<Node>);

/// Defaults from `global_defs` that instances and checks inherit.
#[derive(Debug, Default)]
pub(super) struct Globals {
    pub vrrp_version: Option<i64>,
    pub garp: Vec<(String, V)>,
    /// vrrp_lower_prio_no_advert and vrrp_higher_prio_send_advert, as instance keys.
    pub prio_adverts: Vec<(String, V)>,
    /// global_defs has both notification_email and smtp_server: keepalived can mail.
    pub email: bool,
    /// global_defs has lvs_sync_daemon.
    pub sync_daemon: bool,
    /// vrrp_no_swap or checker_no_swap was read (one warning for both).
    pub no_swap_seen: bool,
    /// global_defs' vrrp_check_unicast_src.
    pub check_unicast_src: bool,
    /// The top-level `net_namespace`.
    pub net_namespace: Option<String>,
    /// notify_fifo, vrrp_notify_fifo, lvs_notify_fifo: their path and command.
    pub fifos: std::collections::BTreeMap<String, FifoKeys>,
}

pub(super) struct Mapper {
    pub doc: Doc,
    pub losses: Vec<Loss>,
    /// Carried over as keepalived behaves, but worth the operator's attention.
    pub warnings: Vec<Loss>,
    pub globals: Globals,
    /// vrrp_script weights: applied where an instance tracks the script without its own.
    pub script_weights: HashMap<String, i64>,
    /// virtual_server_group entries by group name.
    pub groups: HashMap<String, Vec<Node>>,
    /// VRRP instances' router ids, for the sync daemon's default id.
    pub vrids: HashMap<String, i64>,
    /// The vrrp_instance names, and the vrrp_script names keepalived keeps (those with a
    /// `script`): references to others are ignored as keepalived ignores them.
    pub instances: Vec<String>,
    pub scripts: Vec<String>,
    /// The first `lvs_sync_daemon_interface` of an instance (keepalived 1.x's form): the
    /// interface and the instance, whose sync daemon follows it.
    pub legacy_sync: Option<(String, String)>,
    /// Top-level track_file blocks by name, for FILE_CHECK; those a FILE_CHECK used.
    pub track_files: HashMap<String, Node>,
    pub used_track_files: std::collections::HashSet<String>,
    /// The track files instances track: their places among the top-level statements, and
    /// their own weights where they set one.
    pub vrrp_track_files: HashMap<String, (usize, Option<i64>)>,
    /// Their `[[track_file]]` tables, written once the instances say which they track.
    pub track_file_tables: Vec<(Node, Vec<(String, V)>)>,
    pub tracked_files: std::collections::HashSet<String>,
    /// The user every script runs as, when the file's scripts share one (see scripts.rs).
    pub script_user: Option<String>,
    /// Instances of sync groups without sync_group_tracking_weight (see weights.rs).
    pub untracked_members: Vec<String>,
    /// Where each vrrp_script and the instance being mapped stand among the top-level
    /// statements: keepalived resolves a track_script entry when it reads it.
    pub script_pos: HashMap<String, usize>,
    pub instance_pos: usize,
    /// Each instance's (interface, IPv6, VRID) and name, for the duplicates keepalived refuses.
    pub routers: Vec<((String, bool, i64), String)>,
    /// The family (IPv6 or not) of the first service of each fwmark: the same mark in the
    /// other family is another IPVS service, which needs a name of its own.
    pub fwmarks: HashMap<i64, bool>,
    /// The protocol of the first service on each address and port: the same address under
    /// another protocol is another IPVS service, which needs a name of its own.
    pub addresses: HashMap<String, String>,
    /// Statements that end keepalived's VRRP process, as (file, line): reported once for that,
    /// and nothing else is said of them.
    pub ended: std::collections::HashSet<(usize, usize)>,
}

impl Mapper {
    pub(super) fn new() -> Self {
        Mapper {
            doc: Doc::default(),
            losses: Vec::new(),
            warnings: Vec::new(),
            fwmarks: HashMap::new(),
            addresses: HashMap::new(),
            ended: Default::default(),
            globals: Globals::default(),
            script_weights: HashMap::new(),
            groups: HashMap::new(),
            vrids: HashMap::new(),
            instances: Vec::new(),
            scripts: Vec::new(),
            legacy_sync: None,
            track_files: HashMap::new(),
            used_track_files: std::collections::HashSet::new(),
            vrrp_track_files: HashMap::new(),
            track_file_tables: Vec::new(),
            tracked_files: std::collections::HashSet::new(),
            script_user: None,
            untracked_members: Vec::new(),
            script_pos: HashMap::new(),
            instance_pos: 0,
            routers: Vec::new(),
        }
    }

    /// A statement whose missing value ends keepalived's VRRP process (lib/parser.c
    /// null_strvec): reported as that, the rest of the file converted as it reads.
    pub(super) fn ends_without_value(&mut self, nodes: &[Node]) {
        const BLOCKS: &[&str] = &[
            "global_defs",
            "vrrp_instance",
            "vrrp_script",
            "vrrp_sync_group",
        ];
        for b in nodes.iter().filter(|n| BLOCKS.contains(&n.key.as_str())) {
            for c in b.children() {
                if c.args.is_empty()
                    && c.block.is_none()
                    && super::keywords::ends_without_value(&b.key, &c.key)
                {
                    let what = format!(
                        "no value: keepalived does not start its VRRP process with this file (\"Configuration line starting `{}` is missing a parameter\", then \"exited with permanent error CONFIG\")",
                        c.key
                    );
                    self.lost(c, &what);
                    self.ended.insert((c.file, c.line));
                }
            }
        }
    }

    /// The address of a statement as keepalived reads it ([`super::numbers::sockaddr`]), with
    /// a warning when that is not what is written.
    pub(super) fn sockaddr(&mut self, n: &Node, text: &str) -> String {
        let addr = super::numbers::sockaddr(text);
        if addr != text {
            let why = format!(
                "keepalived reads the address as {addr}, leaving out what follows it (lib/utils.c inet_stosockaddr: \"remove range and mask stuff\"), and so does this conversion"
            );
            self.warn(n, &why);
        }
        addr.to_string()
    }

    /// A statement haldir has no mapping for: a loss, unless keepalived does not know the
    /// keyword either and skips it.
    pub(super) fn unmapped(&mut self, n: &Node) {
        self.unmapped_in(Some("any"), n);
    }

    /// [`Mapper::unmapped`] for a statement of `block` (`None`: the top level), where
    /// keepalived's keywords there are known.
    pub(super) fn unmapped_in(&mut self, block: Option<&str>, n: &Node) {
        if super::keywords::known_in(block, &n.key) {
            self.lost(n, "no haldir equivalent");
        } else {
            let here = match block {
                None => " at the top level",
                Some("vrrp_instance") => " in a vrrp_instance",
                _ => "",
            };
            let why = format!(
                "keepalived does not know this keyword{here} (\"Unknown keyword\") and skips it"
            );
            self.warn(n, &why);
        }
    }

    /// A statement not carried over. An empty block carries nothing, so it is no loss; a
    /// statement mapped once per member of a `virtual_server_group` is reported once.
    pub(super) fn lost(&mut self, n: &Node, why: &str) {
        if n.block.as_ref().is_some_and(Vec::is_empty) {
            return;
        }
        self.lost_even_empty(n, why);
    }

    /// A statement not carried over, even an empty block (a checker with its defaults).
    pub(super) fn lost_even_empty(&mut self, n: &Node, why: &str) {
        if self.ended.contains(&(n.file, n.line)) {
            return;
        }
        let loss = located(n, why);
        if !self.losses.contains(&loss) {
            self.losses.push(loss);
        }
    }

    /// A statement carried over as keepalived behaves, with a word for the operator.
    pub(super) fn warn(&mut self, n: &Node, why: &str) {
        if self.ended.contains(&(n.file, n.line)) {
            return;
        }
        let warning = located(n, why);
        if !self.warnings.contains(&warning) {
            self.warnings.push(warning);
        }
    }

    /// keepalived's boolean: no value is true; yes/no, true/false, on/off.
    pub(super) fn boolean(&mut self, n: &Node) -> Option<bool> {
        // lib/parser.c check_true_false: lower case only.
        match n.arg(0) {
            None | Some("yes" | "true" | "on") => Some(true),
            Some("no" | "false" | "off") => Some(false),
            Some(_) => {
                self.warn(n, "keepalived takes only yes/no, true/false, on/off (lower case) and rejects this: left unset");
                None
            }
        }
    }

    /// A `smtp_alert` switch: kept where global_defs says where to mail, else dropped as
    /// keepalived mails nothing then.
    pub(super) fn smtp_alert(&mut self, n: &Node, on: bool, keys: &mut Vec<(String, V)>) {
        if self.globals.email {
            keys.push(("smtp_alert".into(), V::Bool(on)));
        } else if on {
            self.warn(
                n,
                "keepalived mails nothing without notification_email and smtp_server in global_defs",
            );
        }
    }

    /// The statement's single argument, or a loss when it has none.
    pub(super) fn one<'n>(&mut self, n: &'n Node) -> Option<&'n str> {
        match n.arg(0) {
            Some(a) => Some(a),
            None => {
                self.lost(n, "no value");
                None
            }
        }
    }

    pub(super) fn int(&mut self, n: &Node) -> Option<i64> {
        let a = self.one(n)?;
        match a.parse() {
            Ok(v) => Some(v),
            Err(_) => {
                self.lost(n, "not a whole number");
                None
            }
        }
    }

    pub(super) fn timer(&mut self, n: &Node) -> Option<String> {
        let a = self.one(n)?;
        match duration(a) {
            Some(d) => Some(d),
            None => {
                self.lost(n, "not a time in seconds");
                None
            }
        }
    }
}

impl Default for Mapper {
    fn default() -> Self {
        Self::new()
    }
}

/// The first shell construct in a command's words, unless the command is a shell given `-c`:
/// keepalived 2 and haldir run scripts without a shell, so such a word reaches the program
/// as an argument.
pub(super) fn shell_syntax(argv: &[String]) -> Option<&'static str> {
    const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "ash"];
    let program = argv.first().and_then(|p| p.rsplit('/').next());
    if program.is_some_and(|p| SHELLS.contains(&p)) && argv.iter().any(|a| a == "-c") {
        return None;
    }
    const CONSTRUCTS: &[&str] = &["&&", "||", "|", ";", ">", "<", "$(", "`"];
    argv.iter()
        .skip(1)
        .find_map(|w| CONSTRUCTS.iter().find(|c| w.contains(**c)).copied())
}

/// The statement as written (block contents elided), with why it is reported.
fn located(n: &Node, why: &str) -> Loss {
    let mut what = n.key.clone();
    if !n.args.is_empty() {
        what.push(' ');
        what.push_str(&n.args.join(" "));
    }
    if n.block.is_some() {
        what.push_str(" { … }");
    }
    Loss {
        file: n.file,
        line: n.line,
        what: format!("{what}: {why}"),
    }
}
