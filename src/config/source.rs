//! Source files and diagnostics: every config error points at a file, line and column and
//! shows the offending text, the way a compiler does.

use std::fmt;
use std::path::{Path, PathBuf};

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileId(pub u32);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Loc {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

impl Loc {
    pub fn new(file: FileId, span: std::ops::Range<usize>) -> Self {
        Loc {
            file,
            start: span.start,
            end: span.end,
        }
    }
}

/// The text of every file read while loading one configuration (the main file and its
/// includes), so that a location can be turned into `file:line:column`.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<(PathBuf, String)>,
}

/// A location resolved for people: path, 1-based line and column, and the line's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub line_text: String,
    /// Width of the marked text on that line, in characters (at least 1).
    pub width: usize,
}

impl SourceMap {
    pub fn add(&mut self, path: PathBuf, text: String) -> FileId {
        self.files.push((path, text));
        FileId(self.files.len() as u32 - 1)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Every file read, the main one first.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|f| f.0.as_path())
    }

    pub fn text(&self, id: FileId) -> &str {
        self.files.get(id.0 as usize).map_or("", |f| f.1.as_str())
    }

    pub fn path(&self, id: FileId) -> &Path {
        self.files
            .get(id.0 as usize)
            .map_or(Path::new("<unknown>"), |f| f.0.as_path())
    }

    pub fn position(&self, loc: Loc) -> Position {
        let text = self.text(loc.file);
        let start = floor_char_boundary(text, loc.start.min(text.len()));
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line = text[..start].matches('\n').count() + 1;
        let column = text[line_start..start].chars().count() + 1;
        let end = floor_char_boundary(text, loc.end.clamp(start, line_end));
        let width = text[start..end].chars().count().max(1);
        Position {
            path: self.path(loc.file).to_path_buf(),
            line,
            column,
            line_text: text[line_start..line_end]
                .trim_end_matches('\r')
                .to_string(),
            width,
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about the configuration, located in its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diag {
    pub severity: Severity,
    pub loc: Loc,
    pub message: String,
    pub help: Option<String>,
    /// Another place the finding refers to ("first defined here").
    pub related: Option<(Loc, String)>,
}

impl Diag {
    pub fn error(loc: Loc, message: impl Into<String>) -> Self {
        Diag {
            severity: Severity::Error,
            loc,
            message: message.into(),
            help: None,
            related: None,
        }
    }

    pub fn warning(loc: Loc, message: impl Into<String>) -> Self {
        Diag {
            severity: Severity::Warning,
            ..Diag::error(loc, message)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_related(mut self, loc: Loc, note: impl Into<String>) -> Self {
        self.related = Some((loc, note.into()));
        self
    }

    /// Renders the finding with its position and the source line, for a terminal or a log.
    pub fn render(&self, sources: &SourceMap) -> String {
        RenderedDiag(self, sources).to_string()
    }
}

struct RenderedDiag<'a>(&'a Diag, &'a SourceMap);

impl fmt::Display for RenderedDiag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (d, sources) = (self.0, self.1);
        let p = sources.position(d.loc);
        let kind = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(
            f,
            "{}:{}:{}: {kind}: {}",
            p.path.display(),
            p.line,
            p.column,
            d.message
        )?;
        let gutter = p.line.to_string().len();
        writeln!(f, "{:gutter$} |", "")?;
        writeln!(f, "{} | {}", p.line, p.line_text)?;
        write!(
            f,
            "{:gutter$} | {}{}",
            "",
            " ".repeat(p.column - 1),
            "^".repeat(p.width)
        )?;
        if let Some((loc, note)) = &d.related {
            let r = sources.position(*loc);
            write!(
                f,
                "\n{:gutter$} = note: {note} at {}:{}:{}",
                "",
                r.path.display(),
                r.line,
                r.column
            )?;
        }
        if let Some(help) = &d.help {
            write!(f, "\n{:gutter$} = help: {help}", "")?;
        }
        Ok(())
    }
}

/// Findings collected while loading; errors and warnings kept in the order found and sorted
/// by position when reported.
#[derive(Debug, Default)]
pub(crate) struct Diags {
    pub items: Vec<Diag>,
    /// Values that could not be read at all: a later finding about the very same value (an
    /// array read as empty, say) would only repeat the first one.
    unreadable: std::collections::HashSet<Loc>,
}

impl Diags {
    /// Records findings about values that could not be read as the shape they needed.
    pub(crate) fn unreadable(&mut self, found: Vec<Diag>) {
        for d in found {
            self.unreadable.insert(d.loc);
            self.items.push(d);
        }
    }

    pub(crate) fn error(&mut self, loc: Loc, message: impl Into<String>) {
        self.push(Diag::error(loc, message));
    }

    pub(crate) fn warning(&mut self, loc: Loc, message: impl Into<String>) {
        self.push(Diag::warning(loc, message));
    }

    pub(crate) fn push(&mut self, d: Diag) {
        if !self.unreadable.contains(&d.loc) {
            self.items.push(d);
        }
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// Sorted by file and position; a finding repeated word for word at the same place (a
    /// service check read once per real server) is reported once.
    pub(crate) fn finish(mut self) -> Vec<Diag> {
        self.items.sort_by_key(|d| (d.loc.file.0, d.loc.start));
        let mut seen = std::collections::HashSet::new();
        self.items
            .retain(|d| seen.insert((d.loc.file, d.loc.start, d.message.clone())));
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_counts_lines_and_characters() {
        let mut map = SourceMap::default();
        let id = map.add("a.toml".into(), "x = 1\n  é = \"q\"\n".into());
        let start = "x = 1\n  é = ".len();
        let p = map.position(Loc::new(id, start..start + 3));
        assert_eq!((p.line, p.column, p.width), (2, 7, 3));
        assert_eq!(p.line_text, "  é = \"q\"");
    }

    #[test]
    fn render_marks_the_text() {
        let mut map = SourceMap::default();
        let id = map.add("h.toml".into(), "prority = 5\n".into());
        let d = Diag::error(Loc::new(id, 0..7), "unknown key `prority`")
            .with_help("did you mean `priority`?");
        let text = d.render(&map);
        assert!(
            text.starts_with("h.toml:1:1: error: unknown key `prority`"),
            "{text}"
        );
        assert!(text.contains("^^^^^^^"), "{text}");
        assert!(text.contains("help: did you mean `priority`?"), "{text}");
    }
}
