//! keepalived's blocks: statements (a keyword and its arguments) that may open a block of
//! statements, built from the preprocessed lines. A `{` belongs to the statement before it,
//! on the same line or the next; a statement ends at the end of its line or at a brace.

use super::preprocess::Line;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub key: String,
    pub args: Vec<String>,
    pub block: Option<Vec<Node>>,
    pub file: usize,
    pub line: usize,
    /// Its line as written when the keyword starts the line, else empty.
    pub text: String,
}

impl Node {
    pub fn children(&self) -> &[Node] {
        self.block.as_deref().unwrap_or(&[])
    }

    /// The first argument, if any.
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Unbalanced {
    pub file: usize,
    pub line: usize,
    pub message: &'static str,
}

/// Blocks whose lines keepalived reads as values (addresses, names), not as keywords.
const VALUE_BLOCKS: &[&str] = &[
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "virtual_routes",
    "virtual_rules",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "unicast_peer",
    "track_interface",
    "track_script",
    "track_file",
    "track_process",
    "track_bfd",
    "group",
    "notification_email",
    "virtual_server_group",
];

/// Keywords whose block keepalived reads keywords from (a sub-level in lib/parser.c), besides
/// the checkers'.
const SUB_BLOCKS: &[&str] = &[
    "global_defs",
    "vrrp_instance",
    "vrrp_sync_group",
    "vrrp_script",
    "virtual_server",
    "real_server",
    "url",
    "authentication",
];

/// The other keywords that take a block (lib/parser.c sub-levels and value blocks of
/// keepalived 2.2.7: install_keyword_root with keywords under it, install_sublevel,
/// alloc_value_block and read_value_block).
const OTHER_BLOCKS: &[&str] = &[
    "host",
    "SSL",
    "bfd_instance",
    "garp_group",
    "interfaces",
    "vrrp_track_file",
    "vrrp_track_process",
    "linkbeat_interfaces",
    "interface_up_down_delays",
];

/// Whether keepalived reads a block after `key`: any other keyword has none, and a '{' after
/// it is ignored ("Unexpected '{' - ignoring").
fn takes_block(key: &str) -> bool {
    SUB_BLOCKS.contains(&key)
        || VALUE_BLOCKS.contains(&key)
        || OTHER_BLOCKS.contains(&key)
        || super::keywords::CHECKERS.contains(&key)
}

/// Whether a '{' after `key` opens its block, inside the block of `parent`: not for a word
/// that is a keyword taking no block, or a keyword to no part of keepalived, where keepalived
/// reads keywords.
fn opens_block(key: &str, parent: Option<&str>) -> bool {
    let keyword_like = key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && key.starts_with(|c: char| c.is_ascii_alphabetic());
    takes_block(key) || !keyword_like || parent.is_some_and(|p| VALUE_BLOCKS.contains(&p))
}

/// Builds the statement tree as keepalived reads the blocks, with what it had to settle: a
/// '{' with no keyword before it is ignored ("Unexpected '{'"), and blocks still open at the
/// end of the file are closed there.
pub fn build(lines: &[Line]) -> (Vec<Node>, Vec<Unbalanced>) {
    let mut b = Builder {
        stack: vec![(None, Vec::new())],
        notes: Vec::new(),
    };
    for (idx, l) in lines.iter().enumerate() {
        let mut current: Option<Node> = None;
        for (i, w) in l.words.iter().enumerate() {
            match w.as_str() {
                "{" => b.open(&mut current, l),
                "}" => b.close(&mut current, l),
                word => match current.as_mut() {
                    Some(n) => n.args.push(word.to_string()),
                    None => current = Some(statement(word, l, i == 0)),
                },
            }
        }
        let next_opens = lines
            .get(idx + 1)
            .and_then(|n| n.words.first())
            .is_some_and(|w| w == "{");
        b.end_of_line(current, l, next_opens);
    }
    b.finish()
}

fn statement(key: &str, l: &Line, starts_line: bool) -> Node {
    Node {
        key: key.to_string(),
        args: Vec::new(),
        block: None,
        file: l.file,
        line: l.line,
        text: if starts_line {
            l.text.clone()
        } else {
            String::new()
        },
    }
}

/// The blocks being read: the open ones with the statements they belong to, innermost last,
/// and what had to be settled.
struct Builder {
    stack: Vec<(Option<Node>, Vec<Node>)>,
    notes: Vec<Unbalanced>,
}

impl Builder {
    fn items(&mut self) -> &mut Vec<Node> {
        &mut self.stack.last_mut().expect("the file's own level").1
    }

    /// A '{': it opens the block of the statement on this line, or else of the last one
    /// finished before. A keyword that takes no block, or that keepalived does not know,
    /// opens none: keepalived's read_line breaks the line at the brace, process_stream says
    /// "Unexpected '{' - ignoring", and what follows are statements of the block around it,
    /// whose '}' the next one then is (lib/parser.c).
    fn open(&mut self, current: &mut Option<Node>, l: &Line) {
        let parent = self
            .stack
            .last()
            .and_then(|(o, _)| o.as_ref())
            .map(|o| o.key.clone());
        let parent = parent.as_deref();
        let owner = match current.take() {
            Some(n) if !opens_block(&n.key, parent) => {
                self.items().push(n);
                self.unexpected(l);
                return;
            }
            Some(n) => n,
            None => match self.items().pop() {
                Some(n) if n.block.is_none() && !opens_block(&n.key, parent) => {
                    self.items().push(n);
                    self.unexpected(l);
                    return;
                }
                Some(n) if n.block.is_none() => n,
                other => {
                    self.items().extend(other);
                    self.notes.push(Unbalanced {
                        file: l.file,
                        line: l.line,
                        message: "a '{' with no keyword before it: keepalived ignores it (\"Unexpected '{'\"), and so does this conversion",
                    });
                    return;
                }
            },
        };
        self.stack.push((Some(owner), Vec::new()));
    }

    fn unexpected(&mut self, l: &Line) {
        self.notes.push(Unbalanced {
            file: l.file,
            line: l.line,
            message: "a '{' after a statement that takes no block: keepalived ignores it (\"Unexpected '{'\"), reads what follows as statements of the block around it, and takes the next '}' as that block's end; so does this conversion",
        });
    }

    /// A '}': it closes the innermost block; at the file's own level keepalived reads it as an
    /// unknown keyword and goes on (kept as a statement of its own, for the mapping to report).
    fn close(&mut self, current: &mut Option<Node>, l: &Line) {
        if let Some(n) = current.take() {
            self.items().push(n);
        }
        if self.stack.len() == 1 {
            let brace = statement("}", l, false);
            self.items().push(brace);
            return;
        }
        if let Some((Some(mut owner), items)) = self.stack.pop() {
            owner.block = Some(items);
            self.items().push(owner);
        }
    }

    /// The line's last statement. A keyword whose block keepalived reads keywords from opens
    /// it even without its '{' ("Missing '{' at beginning of configuration block",
    /// lib/parser.c), unless the '{' is the next line's.
    fn end_of_line(&mut self, current: Option<Node>, l: &Line, next_opens: bool) {
        let Some(n) = current else { return };
        let key = n.key.as_str();
        let implicit = (SUB_BLOCKS.contains(&key) || super::keywords::CHECKERS.contains(&key))
            && n.args.len() <= 3
            && !next_opens
            && l.words.last().is_some_and(|w| w != "}");
        if implicit {
            self.notes.push(Unbalanced {
                file: n.file,
                line: n.line,
                message: "no '{' after it: keepalived reads the lines that follow as its block all the same (\"Missing '{'\"), and so does this conversion",
            });
            self.stack.push((Some(n), Vec::new()));
        } else {
            self.items().push(n);
        }
    }

    /// Blocks still open at the end of the file are closed there, as keepalived does.
    fn finish(mut self) -> (Vec<Node>, Vec<Unbalanced>) {
        while self.stack.len() > 1 {
            if let Some((Some(mut owner), items)) = self.stack.pop() {
                self.notes.push(Unbalanced {
                    file: owner.file,
                    line: owner.line,
                    message: "a block that is never closed: keepalived reads the rest of the file inside it, and so does this conversion",
                });
                owner.block = Some(items);
                self.items().push(owner);
            }
        }
        (
            self.stack.pop().map(|(_, items)| items).unwrap_or_default(),
            self.notes,
        )
    }
}
