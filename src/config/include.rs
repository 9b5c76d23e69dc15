//! Reading a file and the files it includes into one raw document. Includes are globs relative
//! to the including file; one that matches nothing, or that leads back to a file being read, is
//! an error. Arrays of tables are concatenated; a singleton table ([global], [ipvs], …) may be
//! written in only one file.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::de::{Cx, ValueDe};
use super::leaf::Sp;
use super::raw::Document;
use super::source::{Diag, Diags, FileId, Loc, SourceMap};

/// Reads the file at `path`, whose text is `text`, and everything it includes.
pub(crate) fn read_tree(
    path: &Path,
    text: String,
    sources: &mut SourceMap,
    d: &mut Diags,
) -> Document {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mut stack = vec![canonical];
    let mut seen = stack.clone();
    read_one(path, text, sources, d, &mut stack, &mut seen)
}

/// Parses one document from text (the main file, or a test's string). Includes are resolved
/// relative to `path`.
pub(crate) fn read_text(
    path: &Path,
    text: String,
    sources: &mut SourceMap,
    d: &mut Diags,
) -> Document {
    let mut stack = vec![path.to_path_buf()];
    let mut seen = stack.clone();
    read_one(path, text, sources, d, &mut stack, &mut seen)
}

fn read_one(
    path: &Path,
    text: String,
    sources: &mut SourceMap,
    d: &mut Diags,
    stack: &mut Vec<PathBuf>,
    seen: &mut Vec<PathBuf>,
) -> Document {
    let id = sources.add(path.to_path_buf(), text);
    let mut doc = parse(sources.text(id), id, d);
    let Some(includes) = doc.include.take() else {
        return doc;
    };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    for leaf in &includes.value {
        let Some(pattern) = leaf.get("include", d) else {
            continue;
        };
        let full = dir.join(&pattern);
        let mut matches: Vec<PathBuf> = match glob::glob(&full.to_string_lossy()) {
            Ok(paths) => paths
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect(),
            Err(e) => {
                d.error(
                    leaf.loc(),
                    format!("include \"{pattern}\" is not a valid glob: {e}"),
                );
                continue;
            }
        };
        matches.sort();
        if matches.is_empty() {
            d.push(
                Diag::error(leaf.loc(), format!("include \"{pattern}\" matches no file"))
                    .with_help(format!("looked for {}", full.display())),
            );
        }
        for file in matches {
            let canonical = file.canonicalize().unwrap_or_else(|_| file.clone());
            if stack.contains(&canonical) {
                let chain: Vec<String> = stack
                    .iter()
                    .chain(std::iter::once(&canonical))
                    .map(|p| p.display().to_string())
                    .collect();
                d.error(leaf.loc(), format!("include cycle: {}", chain.join(" → ")));
                continue;
            }
            if seen.contains(&canonical) {
                d.error(
                    leaf.loc(),
                    format!("{} is included a second time", file.display()),
                );
                continue;
            }
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    d.error(
                        leaf.loc(),
                        format!("cannot read included file {}: {e}", file.display()),
                    );
                    continue;
                }
            };
            seen.push(canonical.clone());
            stack.push(canonical);
            let sub = read_one(&file, text, sources, d, stack, seen);
            stack.pop();
            merge(&mut doc, sub, d);
        }
    }
    doc
}

/// Parses TOML and reads it into the raw model, recording every problem.
fn parse(text: &str, id: FileId, d: &mut Diags) -> Document {
    let (table, errors) = DeTable::parse_recoverable(text);
    for e in &errors {
        let span = e.span().unwrap_or(0..0);
        d.push(Diag::error(
            Loc::new(id, span),
            format!("TOML syntax: {}", e.message().trim_end()),
        ));
    }
    // After a syntax error the recovered tree may be partial; what it holds is still checked.
    let span = table.span();
    let value = Spanned::new(span, DeValue::Table(table.into_inner()));
    let cx = Cx::new(id);
    let doc = match Document::deserialize(ValueDe {
        value: &value,
        cx: &cx,
    }) {
        Ok(doc) => doc,
        Err(e) => {
            d.error(Loc::new(id, 0..0), format!("cannot read the document: {e}"));
            Document::default()
        }
    };
    d.unreadable(cx.diags.into_inner());
    doc
}

fn merge(into: &mut Document, from: Document, d: &mut Diags) {
    fn concat<T>(a: &mut Option<Vec<T>>, b: Option<Vec<T>>) {
        if let Some(b) = b {
            a.get_or_insert_with(Vec::new).extend(b);
        }
    }
    fn single<T>(name: &str, a: &mut Option<Sp<T>>, b: Option<Sp<T>>, d: &mut Diags) {
        match (a.as_ref(), b) {
            (Some(first), Some(second)) => d.push(
                Diag::error(second.loc, format!("[{name}] is already defined"))
                    .with_related(first.loc, "first defined"),
            ),
            (None, Some(second)) => *a = Some(second),
            _ => {}
        }
    }
    concat(&mut into.vrrp_instance, from.vrrp_instance);
    concat(&mut into.vrrp_sync_group, from.vrrp_sync_group);
    concat(&mut into.track_script, from.track_script);
    concat(&mut into.track_file, from.track_file);
    concat(&mut into.virtual_server, from.virtual_server);
    concat(&mut into.fwmark, from.fwmark);
    single("global", &mut into.global, from.global, d);
    single("netfilter", &mut into.netfilter, from.netfilter, d);
    single("ipvs", &mut into.ipvs, from.ipvs, d);
    single("realserver", &mut into.realserver, from.realserver, d);
}
