//! Scripts as keepalived reads them: the line read a second time with quotes and escapes
//! (lib/parser.c `alloc_strvec_quoted`, core/notify.c `set_script_params_array`), and the
//! user each one runs as. haldir runs every script as one `script_user`, so the converter
//! works out the one identity the file's scripts share, and reports a script that runs as
//! someone else.

use super::emit::V;
use super::mapper::Mapper;
use super::quoting::quoted_words;
use super::tree::Node;

/// What keepalived does with the words after a script's command.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Trailing {
    /// `notify* "cmd" USER [GROUP]` (core/notify.c `notify_script_init`).
    User,
    /// `script` of a vrrp_script and `misc_path`: only the command is read; the user is a
    /// keyword of its own.
    Ignored,
}

/// keepalived's notify keywords, whose trailing words name a user.
const NOTIFY: &[&str] = &[
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify_deleted",
    "notify_master_rx_lower_pri",
    "notify_up",
    "notify_down",
];

/// The words of a script line as keepalived's second reading sees them: the keyword, the
/// command string, then anything after it. A keyword that does not start its line (rare)
/// keeps the first reading's words.
fn line_words(n: &Node) -> Result<Vec<String>, String> {
    if n.text.is_empty() {
        let mut w = vec![n.key.clone()];
        w.extend(n.args.iter().cloned());
        return Ok(w);
    }
    quoted_words(&n.text, false)
}

/// The identity as haldir writes it: "user", or "user:group" (`root root` is root).
pub(super) fn identity(user: &str, group: Option<&str>) -> Option<String> {
    match group {
        None => Some(user.to_string()),
        Some("root") if user == "root" => Some(user.to_string()),
        Some(g) => Some(format!("{user}:{g}")),
    }
}

/// A user and, when named, a group.
type Spec<'a> = (&'a str, Option<&'a str>);

/// A `user NAME [GROUP]` or notify's trailing words as (user, group).
fn spec(words: &[String]) -> Option<Spec<'_>> {
    let user = words.first()?;
    Some((user.as_str(), words.get(1).map(String::as_str)))
}

/// The `script_user` to write: the global one (its user, when its group cannot be kept —
/// reported where it is read), or — without one — the user each script names, if they all
/// name the same (keepalived's default user applies to a script that names none, so then
/// there is none to take).
pub(super) fn file_identity(nodes: &[Node]) -> Option<String> {
    let global = nodes
        .iter()
        .filter(|n| n.key == "global_defs")
        .flat_map(Node::children)
        .rfind(|n| n.key == "script_user");
    if let Some(g) = global {
        return spec(&g.args).and_then(|(u, gr)| identity(u, gr));
    }
    let mut found: Option<Option<String>> = None;
    let mut uniform = true;
    visit_scripts(nodes, &mut |s| {
        let id = s.and_then(|(u, g)| identity(u, g));
        match (&found, id) {
            (_, None) => uniform = false,
            (None, id) => found = Some(id),
            (Some(f), id) => uniform &= *f == id,
        }
    });
    found.flatten().filter(|_| uniform)
}

/// Calls `f` with the user every script statement names (None: it names none).
fn visit_scripts(nodes: &[Node], f: &mut dyn FnMut(Option<Spec<'_>>)) {
    for n in nodes {
        let user_child = || {
            n.children()
                .iter()
                .rfind(|c| c.key == "user")
                .and_then(|c| spec(&c.args))
        };
        let has = |k: &str| n.children().iter().any(|c| c.key == k);
        if (n.key == "vrrp_script" && has("script")) || (n.key == "MISC_CHECK" && has("misc_path"))
        {
            f(user_child());
        } else if NOTIFY.contains(&n.key.as_str()) {
            let words = line_words(n).unwrap_or_default();
            f(spec(words.get(2..).unwrap_or(&[])));
        }
        visit_scripts(n.children(), f);
    }
}

impl Mapper {
    /// A notify command and the user its line names (None: it names none, so it runs as
    /// script_user), for a notify table that takes the one user its commands share.
    pub(super) fn notify_command(&mut self, n: &Node) -> Option<(V, Option<String>)> {
        let (argv, rest) = self.read_script(n)?;
        let user = spec(&rest).and_then(|(u, g)| identity(u, g));
        Some((argv, user))
    }

    /// The user every notify command of one table runs as in keepalived, as the table's
    /// `user`: when they agree, and differ from script_user; a command that runs as someone
    /// else than the others is a loss.
    pub(super) fn notify_user(
        &mut self,
        users: &[(Node, Option<String>)],
        table: &mut Vec<(String, V)>,
    ) {
        let global = self
            .script_user
            .clone()
            .unwrap_or_else(|| "haldir-script".into());
        let effective: Vec<String> = users
            .iter()
            .map(|(_, u)| u.clone().unwrap_or_else(|| global.clone()))
            .collect();
        let Some(first) = effective.first() else {
            return;
        };
        if effective.iter().all(|u| u == first) {
            if *first != global {
                table.push(("user".into(), V::str(first)));
            }
            return;
        }
        for ((n, _), u) in users.iter().zip(&effective) {
            if *u != global {
                self.lost(
                    n,
                    &format!("runs as {u} in keepalived; haldir runs this table's commands as one user ({global})"),
                );
            }
        }
    }

    /// A script line's command as keepalived splits it, and the words after it.
    fn read_script(&mut self, n: &Node) -> Option<(V, Vec<String>)> {
        let words = match line_words(n) {
            Ok(w) => w,
            Err(e) => {
                self.lost(
                    n,
                    &format!("keepalived cannot read it ({e}) and ignores the script"),
                );
                return None;
            }
        };
        let Some(text) = words.get(1) else {
            self.lost(n, "empty command");
            return None;
        };
        let argv = match quoted_words(text, true) {
            Ok(a) if !a.is_empty() => a,
            Ok(_) => {
                self.lost(n, "empty command");
                return None;
            }
            Err(e) => {
                self.lost(
                    n,
                    &format!("keepalived cannot read it ({e}) and ignores the script"),
                );
                return None;
            }
        };
        warn_shell(self, n, &argv);
        Some((V::strs(&argv), words[2..].to_vec()))
    }

    /// A script keyword's command, split into arguments as keepalived splits it.
    pub(super) fn script_command(&mut self, n: &Node, trailing: Trailing) -> Option<V> {
        let (argv, rest) = self.read_script(n)?;
        match trailing {
            Trailing::User if !rest.is_empty() => self.script_runs_as(n, &rest),
            Trailing::Ignored if !rest.is_empty() => self.warn(
                n,
                &format!(
                    "keepalived reads only the command and ignores \"{}\"",
                    rest.join(" ")
                ),
            ),
            _ => {}
        }
        Some(argv)
    }

    /// A script's own `user NAME [GROUP]`: kept when it is the user haldir runs every script
    /// as, a loss otherwise.
    pub(super) fn script_runs_as(&mut self, n: &Node, words: &[String]) {
        let Some((user, group)) = spec(words) else {
            return;
        };
        let haldir = self
            .script_user
            .clone()
            .unwrap_or_else(|| "haldir-script".into());
        match identity(user, group) {
            Some(id) if id == haldir => {}
            Some(id) => self.lost(
                n,
                &format!(
                    "runs as {id} in keepalived; haldir runs every script as script_user ({haldir})"
                ),
            ),
            None => {}
        }
    }
}

/// A warning for a script written as if a shell ran it.
pub(super) fn warn_shell(m: &mut Mapper, n: &Node, argv: &[String]) {
    if let Some(c) = super::mapper::shell_syntax(argv) {
        m.warn(
            n,
            &format!(
                "runs without a shell, as in keepalived 2: \"{c}\" reaches the program as an argument (write [\"/bin/sh\", \"-c\", \"…\"] if a shell is meant)"
            ),
        );
    }
}
