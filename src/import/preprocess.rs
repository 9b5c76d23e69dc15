//! keepalived's configuration language before its keywords: comments, `include`, conditional
//! lines (`@id`, `@^id`), parameters (`$NAME=value`, multiline definitions, `$NAME` and
//! `${NAME}`), and the `~SEQ`/`~SEQx`/`~LST` repetitions — in the order keepalived applies
//! them to each line (its parser's `read_line`). The result is a list of logical lines, each
//! with the file and line it came from, split into words with every brace a word of its own.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One logical line: its words (double-quoted strings are one word, quotes removed; `{` and
/// `}` are words), and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub file: usize,
    pub line: usize,
    pub words: Vec<String>,
    /// The line as written (after substitution), for the keywords keepalived reads twice.
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Where a file's text comes from (the disk, or a map in tests).
pub trait Files {
    fn read(&self, path: &Path) -> std::io::Result<String>;
    /// The files a glob pattern matches, in order.
    fn glob(&self, pattern: &str) -> Vec<PathBuf>;
}

pub struct Disk;

impl Files for Disk {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn glob(&self, pattern: &str) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = glob::glob(pattern)
            .map(|paths| {
                paths
                    .filter_map(Result::ok)
                    .filter(|p| p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }
}

#[derive(Debug, Clone)]
enum Def {
    One(String),
    Lines(Vec<String>),
}

/// Reads a configuration and its includes into logical lines.
pub struct Reader<'a, F: Files> {
    files_io: &'a F,
    config_id: String,
    defs: HashMap<String, Def>,
    pub files: Vec<PathBuf>,
    pub lines: Vec<Line>,
    /// `include` statements that matched no file (file, line, pattern): keepalived skips them,
    /// so whatever they were meant to bring is missing and must be reported.
    pub unmatched: Vec<(usize, usize, String)>,
    /// References to `_PWD` (the directory of the file being read, which may not be where
    /// the file lives on the director) and `_RANDOM` (a new number each time keepalived
    /// reads it): (file, line, name), reported.
    pub run_time: Vec<(usize, usize, String)>,
    /// A multiline definition being collected: its name and lines so far.
    collecting: Option<(String, Vec<String>)>,
    depth: usize,
    /// Logical lines processed, repetitions included: bounded like the output.
    steps: usize,
}

/// keepalived's standard definitions whose values depend on where and when it runs.
const RUN_TIME: &[&str] = &["_PWD", "_RANDOM"];

const MAX_DEPTH: usize = 32;
/// Bounds on what parameters and repetitions may make: keepalived itself would take forever
/// or run out of memory past them, and the importer must not.
const MAX_LINES: usize = 1_000_000;
const MAX_LINE_LEN: usize = 64 * 1024;

impl<'a, F: Files> Reader<'a, F> {
    pub fn new(files_io: &'a F, config_id: &str) -> Self {
        // keepalived's standard definitions that are known before it runs (lib/parser.c
        // add_std_definition): the config id, and `#` for a hash a comment would eat.
        let defs = HashMap::from([
            ("_INSTANCE".to_string(), Def::One(config_id.to_string())),
            ("_HASH".to_string(), Def::One("#".to_string())),
            // A new number from 0 to 32767 at each read: the converter takes 0, reported.
            ("_RANDOM".to_string(), Def::One("0".to_string())),
        ]);
        Reader {
            files_io,
            config_id: config_id.to_string(),
            defs,
            files: Vec::new(),
            lines: Vec::new(),
            unmatched: Vec::new(),
            run_time: Vec::new(),
            collecting: None,
            depth: 0,
            steps: 0,
        }
    }

    pub fn read_file(&mut self, path: &Path) -> Result<(), ReadError> {
        let text = self.files_io.read(path).map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.files.push(path.to_path_buf());
        let file = self.files.len() - 1;
        // keepalived reads each file from its own directory (lib/parser.c chdir to the
        // file's dirname), so `${_PWD}` is that directory while the file is read.
        let dir = std::path::absolute(path)
            .ok()
            .and_then(|p| p.parent().map(|d| d.display().to_string()))
            .unwrap_or_default();
        let outer = self.defs.insert("_PWD".into(), Def::One(dir));
        for (i, raw) in text.lines().enumerate() {
            self.physical(file, i + 1, raw)?;
        }
        if let Some(d) = outer {
            self.defs.insert("_PWD".into(), d);
        }
        if let Some((name, body)) = self.collecting.take() {
            self.defs.insert(name, Def::Lines(body));
        }
        Ok(())
    }

    fn syntax(&self, file: usize, line: usize, message: impl Into<String>) -> ReadError {
        ReadError::Syntax {
            path: self.files[file].clone(),
            line,
            message: message.into(),
        }
    }

    fn physical(&mut self, file: usize, line: usize, raw: &str) -> Result<(), ReadError> {
        let (text, continued) = decomment(raw);
        if let Some((_, body)) = self.collecting.as_mut() {
            // keepalived reads past a line that only held a comment (lib/parser.c read_line:
            // decomment, then on while the line is empty); only a blank line ends the
            // definition.
            if text.is_empty() && !continued && !raw.trim().is_empty() {
                return Ok(());
            }
            if !text.is_empty() {
                body.push(text);
            }
            if (!continued || raw.trim().is_empty())
                && let Some((name, body)) = self.collecting.take()
            {
                self.defs.insert(name, Def::Lines(body));
            }
            return Ok(());
        }
        if text.is_empty() {
            return Ok(());
        }
        // Include lines are recognised before conditionals and parameters, as keepalived does.
        if let Some(pattern) = include_target(&text) {
            return self.include(file, line, pattern);
        }
        self.logical(file, line, text, continued)
    }

    /// Conditionals, definitions, repetitions and substitution, then the words.
    fn logical(
        &mut self,
        file: usize,
        line: usize,
        text: String,
        continued: bool,
    ) -> Result<(), ReadError> {
        self.steps += 1;
        if self.steps > 10 * MAX_LINES {
            return Err(self.syntax(file, line, "parameters and repetitions expand too far"));
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.depth -= 1;
            return Err(self.syntax(file, line, "parameters or ~SEQ nest too deep (a loop?)"));
        }
        let r = self.logical_inner(file, line, text, continued);
        self.depth -= 1;
        r
    }

    fn logical_inner(
        &mut self,
        file: usize,
        line: usize,
        text: String,
        continued: bool,
    ) -> Result<(), ReadError> {
        let text = text.trim().to_string();
        if text.is_empty() {
            return Ok(());
        }
        let Some(text) = self.conditional(&text) else {
            return Ok(());
        };
        if let Some((name, value)) = definition(&text) {
            if continued {
                let first = value.trim_end_matches('\\').trim();
                let body = if first.is_empty() {
                    Vec::new()
                } else {
                    vec![first.to_string()]
                };
                self.collecting = Some((name, body));
            } else {
                self.defs.insert(name, Def::One(value));
            }
            return Ok(());
        }
        if text.starts_with("~SEQ") || text.starts_with("~LST") {
            return self.repeat(file, line, &text);
        }
        // A line that is just a multiline definition's name: its lines, each read anew.
        if let Some(name) = whole_reference(&text)
            && let Some(Def::Lines(body)) = self.defs.get(name).cloned()
        {
            for l in body {
                self.logical(file, line, l, false)?;
            }
            return Ok(());
        }
        for name in RUN_TIME {
            if text.contains(&format!("${{{name}")) || text.contains(&format!("${name}")) {
                self.run_time.push((file, line, name.to_string()));
            }
        }
        let substituted = self
            .substitute(&text)
            .map_err(|m| self.syntax(file, line, m))?;
        if substituted != text {
            // The value may bring a conditional, a definition or another reference.
            return self.logical(file, line, substituted, false);
        }
        let words = split_words(&text).map_err(|m| self.syntax(file, line, m))?;
        if !words.is_empty() {
            if self.lines.len() >= MAX_LINES {
                return Err(self.syntax(
                    file,
                    line,
                    format!("the configuration expands to over {MAX_LINES} lines"),
                ));
            }
            self.lines.push(Line {
                file,
                line,
                words,
                text,
            });
        }
        Ok(())
    }

    /// `@id rest` keeps `rest` when id is the config id; `@^id rest` when it is not.
    fn conditional(&self, text: &str) -> Option<String> {
        let Some(rest) = text.strip_prefix('@') else {
            return Some(text.to_string());
        };
        let (negate, rest) = match rest.strip_prefix('^') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let (id, body) = rest.split_once(char::is_whitespace)?;
        ((id == self.config_id) != negate).then(|| body.trim_start().to_string())
    }

    fn include(&mut self, file: usize, line: usize, pattern: &str) -> Result<(), ReadError> {
        let base = self.files[file].parent().unwrap_or(Path::new("."));
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            base.join(pattern)
        };
        let matches = self.files_io.glob(&full.to_string_lossy());
        if self.depth > MAX_DEPTH || self.files.len() > 1000 {
            return Err(self.syntax(file, line, "includes nest too deep (a cycle?)"));
        }
        if matches.is_empty() {
            self.unmatched.push((file, line, pattern.to_string()));
        }
        for path in matches {
            self.depth += 1;
            let r = self.read_file(&path);
            self.depth -= 1;
            r?;
        }
        Ok(())
    }

    /// `~SEQ(var, [start,] [step,] end) rest`, `~SEQx(...)` and `~LST(var, v1, v2, ...)` or
    /// `~LST({a, b}, {1, 2}, ...)`: `rest` read once per value, with the variables defined.
    fn repeat(&mut self, file: usize, line: usize, text: &str) -> Result<(), ReadError> {
        let (head, args, rest) = super::repeat::split_call(text)
            .ok_or_else(|| self.syntax(file, line, format!("malformed repetition: {text}")))?;
        let args = self
            .substitute(args)
            .map_err(|m| self.syntax(file, line, m))?;
        let rounds: Vec<Vec<(String, String)>> = match head {
            "~SEQ" | "~SEQx" => {
                let values = super::repeat::seq(&args).map_err(|m| self.syntax(file, line, m))?;
                let (var, nums) = values;
                nums.into_iter()
                    .map(|n| {
                        let v = if head == "~SEQx" {
                            format!("{n:x}")
                        } else {
                            n.to_string()
                        };
                        vec![(var.clone(), v)]
                    })
                    .collect()
            }
            "~LST" => super::repeat::lst(&args).map_err(|m| self.syntax(file, line, m))?,
            other => return Err(self.syntax(file, line, format!("unknown repetition {other}"))),
        };
        for round in rounds {
            for (var, value) in round {
                self.defs.insert(var, Def::One(value));
            }
            self.logical(file, line, rest.to_string(), false)?;
        }
        Ok(())
    }

    /// Replaces `${NAME}` anywhere and `$NAME` before whitespace, `,`, `)` or the end, for
    /// names defined with one value; others stay as written.
    fn substitute(&self, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let (name, len) = if let Some(inner) = after.strip_prefix('{') {
                match inner.find('}') {
                    Some(end) => (&inner[..end], end + 2),
                    None => ("", 0),
                }
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                let next = after[end..].chars().next();
                if matches!(next, None | Some(' ' | '\t' | ',' | ')')) {
                    (&after[..end], end)
                } else {
                    ("", 0)
                }
            };
            match self.defs.get(name) {
                Some(Def::One(v)) if !name.is_empty() => {
                    out.push_str(v);
                    if out.len() > MAX_LINE_LEN {
                        return Err(format!(
                            "a line grows past {MAX_LINE_LEN} bytes by substitution"
                        ));
                    }
                    rest = &after[len..];
                }
                _ => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Removes a comment (`#` or `!` outside double quotes; `\#` and `\!` stand for the
/// characters) and the surrounding blanks; says whether the line ends with a continuation `\`.
fn decomment(raw: &str) -> (String, bool) {
    let mut out = String::with_capacity(raw.len());
    let mut quoted = false;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                out.push(c);
            }
            '\\' if !quoted && matches!(chars.peek(), Some('#' | '!')) => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '#' | '!' if !quoted => break,
            _ => out.push(c),
        }
    }
    let trimmed = out.trim();
    match trimmed.strip_suffix('\\') {
        Some(body) => (body.trim_end().to_string(), true),
        None => (trimmed.to_string(), false),
    }
}

fn include_target(text: &str) -> Option<&str> {
    let (word, rest) = text.split_once(char::is_whitespace)?;
    matches!(
        word,
        "include" | "includer" | "includem" | "includew" | "includeb" | "includea"
    )
    .then(|| rest.trim())
}

/// `$NAME=value` (no blank before `=`; the name of letters, digits and `_`, not a digit first).
fn definition(text: &str) -> Option<(String, String)> {
    let body = text.strip_prefix('$')?;
    let (name, value) = body.split_once('=')?;
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| (name.to_string(), value.trim().to_string()))
}

/// `$NAME` or `${NAME}` alone on the line.
fn whole_reference(text: &str) -> Option<&str> {
    let name = text.strip_prefix('$')?;
    let name = name
        .strip_prefix('{')
        .and_then(|n| n.strip_suffix('}'))
        .unwrap_or(name);
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
        .then_some(name)
}

/// Words as keepalived's keyword tokenizer makes them: blank-separated, a word starting with
/// `"` runs to the closing quote (quotes removed), and `{` and `}` outside quotes are words.
pub fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    let mut cur = String::new();
    let flush = |cur: &mut String, words: &mut Vec<String>| {
        if !cur.is_empty() {
            words.push(std::mem::take(cur));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' if cur.is_empty() => {
                let mut s = String::new();
                let mut closed = false;
                for q in chars.by_ref() {
                    if q == '"' {
                        closed = true;
                        break;
                    }
                    s.push(q);
                }
                if !closed {
                    return Err("unterminated quote".into());
                }
                words.push(s);
            }
            '{' | '}' => {
                flush(&mut cur, &mut words);
                words.push(c.to_string());
            }
            c if c.is_whitespace() => flush(&mut cur, &mut words),
            _ => cur.push(c),
        }
    }
    flush(&mut cur, &mut words);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Files from a map, globbing by a prefix before `*`.
    struct Mem(BTreeMap<&'static str, &'static str>);

    impl Files for Mem {
        fn read(&self, path: &Path) -> std::io::Result<String> {
            self.0
                .get(path.to_str().unwrap_or(""))
                .map(|s| s.to_string())
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        }

        fn glob(&self, pattern: &str) -> Vec<PathBuf> {
            let (pre, post) = pattern.split_once('*').unwrap_or((pattern, ""));
            self.0
                .keys()
                .filter(|k| {
                    k.starts_with(pre) && k.ends_with(post) && (k.len() >= pre.len() + post.len())
                })
                .filter(|k| pattern.contains('*') || **k == pattern)
                .map(PathBuf::from)
                .collect()
        }
    }

    fn read(files: &[(&'static str, &'static str)], id: &str) -> Vec<String> {
        let mem = Mem(files.iter().copied().collect());
        let mut r = Reader::new(&mem, id);
        r.read_file(Path::new(files[0].0)).unwrap();
        r.lines.iter().map(|l| l.words.join(" ")).collect()
    }

    #[test]
    fn comments_quotes_and_braces() {
        let got = read(
            &[(
                "/k/a.conf",
                "global_defs { # a comment\n  router_id \"lb 1\" ! another\n}\nnotify_master \"/bin/x #1\"\nvirtual_ipaddress {\n10.0.0.1/24 }\n",
            )],
            "x",
        );
        assert_eq!(
            got,
            vec![
                "global_defs {",
                "router_id lb 1",
                "}",
                "notify_master /bin/x #1",
                "virtual_ipaddress {",
                "10.0.0.1/24 }"
            ]
        );
    }

    #[test]
    fn includes_relative_to_the_including_file() {
        let got = read(
            &[
                ("/k/main.conf", "a 1\ninclude conf.d/*.conf\nb 2\n"),
                ("/k/conf.d/x.conf", "x 1\n"),
                ("/k/conf.d/y.conf", "y 1\n"),
            ],
            "x",
        );
        assert_eq!(got, vec!["a 1", "x 1", "y 1", "b 2"]);
    }

    #[test]
    fn conditional_lines_by_config_id() {
        let text = "@main router_id main_router\n@backup router_id backup_router\n@^main peer 1.2.3.4\n@^backup peer 1.2.3.5\n";
        assert_eq!(
            read(&[("/k/a.conf", text)], "main"),
            vec!["router_id main_router", "peer 1.2.3.5"]
        );
        assert_eq!(
            read(&[("/k/a.conf", text)], "backup"),
            vec!["router_id backup_router", "peer 1.2.3.4"]
        );
    }

    #[test]
    fn parameters_substitute_at_use_and_recursively() {
        // keepalived's manual example: the value is taken when used, not when defined.
        let text = "$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}\n$ADDRESS_BASE_SUB=0\n${ADDRESS_BASE}.100/32\n$ADDRESS_BASE_SUB=10\n${ADDRESS_BASE}.100/32\n@main $PRIORITY=240\n@backup $PRIORITY=200\npriority $PRIORITY\nscript \"${UNDEFINED}x\"\n";
        assert_eq!(
            read(&[("/k/a.conf", text)], "main"),
            // An undefined parameter stays as written.
            vec![
                "10.2.0.100/32",
                "10.2.10.100/32",
                "priority 240",
                "script ${UNDEFINED}x"
            ]
        );
    }

    #[test]
    fn multiline_definitions_expand_in_place() {
        let text =
            "$RS= \\\nreal_server 10.0.0.${N} 80 { \\\n  weight ${N} \\\n}\n$N=1\n$RS\n$N=2\n$RS\n";
        assert_eq!(
            read(&[("/k/a.conf", text)], "x"),
            vec![
                "real_server 10.0.0.1 80 {",
                "weight 1",
                "}",
                "real_server 10.0.0.2 80 {",
                "weight 2",
                "}"
            ]
        );
    }

    #[test]
    fn seq_and_lst_repeat_lines() {
        let text = "~SEQ(SUBNET, 0, 3) ip_address 10.0.${SUBNET}.1\n~SEQx(S, 0x90, 0x10, 0xc0) a fe80::20:${S}:1\n~SEQ(D, 3, -2, 0) d $D\n~LST({IP, IP1}, {10,1},{20,4}) 192.168.${IP}.${IP1}\n~LST(A, 1, 2) ~LST(B, 5,6) x ${A}.${B}\n";
        assert_eq!(
            read(&[("/k/a.conf", text)], "x"),
            vec![
                "ip_address 10.0.0.1",
                "ip_address 10.0.1.1",
                "ip_address 10.0.2.1",
                "ip_address 10.0.3.1",
                "a fe80::20:90:1",
                "a fe80::20:a0:1",
                "a fe80::20:b0:1",
                "a fe80::20:c0:1",
                "d 3",
                "d 1",
                "192.168.10.1",
                "192.168.20.4",
                "x 1.5",
                "x 1.6",
                "x 2.5",
                "x 2.6",
            ]
        );
    }
}
