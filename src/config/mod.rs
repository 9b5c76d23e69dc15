//! The configuration: one TOML file (and its includes) read into a typed, validated model.
//!
//! Reading happens in three steps: TOML is parsed into a tree that remembers where every key
//! and value was written ([`include`], [`de`]); that tree is read into the raw model ([`raw`]),
//! which accepts anything and records unknown keys; validation ([`validate`]) turns the raw
//! model into [`model::Config`] and explains every problem with its file, line and column.

pub mod blocks;
pub(crate) mod compact;
pub(crate) mod de;
pub(crate) mod include;
pub(crate) mod leaf;
pub mod model;
pub(crate) mod raw;
pub mod reread;
pub(crate) mod route;
pub(crate) mod source;
mod text;
pub mod types;
pub(crate) mod validate;
pub mod vip;

use std::fmt;
use std::path::{Path, PathBuf};

pub use model::Config;
pub use source::{Diag, Severity, SourceMap};

/// The default location of the configuration file.
pub const DEFAULT_PATH: &str = "/etc/haldir/haldir.toml";

/// A configuration that passed validation, with its warnings.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diag>,
    pub sources: SourceMap,
}

impl Loaded {
    pub fn render_warnings(&self) -> String {
        self.warnings
            .iter()
            .map(|w| w.render(&self.sources))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the configuration {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", .0)]
    Invalid(Invalid),
}

/// Every problem found in a configuration, errors and warnings, in file order.
#[derive(Debug)]
pub struct Invalid {
    pub diags: Vec<Diag>,
    pub sources: SourceMap,
}

impl Invalid {
    pub fn errors(&self) -> impl Iterator<Item = &Diag> {
        self.diags.iter().filter(|d| d.severity == Severity::Error)
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diags {
            writeln!(f, "{}\n", d.render(&self.sources))?;
        }
        let n = self.errors().count();
        write!(
            f,
            "{n} error{} in the configuration",
            if n == 1 { "" } else { "s" }
        )
    }
}

/// Loads and validates the file at `path` with its includes.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    load_text(path, text)
}

/// Reads the file at `path` whose text is `text` (and the files it includes).
pub fn load_text(path: &Path, text: String) -> Result<Loaded, LoadError> {
    let mut sources = SourceMap::default();
    let mut diags = source::Diags::default();
    let doc = include::read_tree(path, text, &mut sources, &mut diags);
    finish(&doc, sources, diags)
}

/// Loads a configuration from text, as if read from `path` (includes resolve next to it).
pub fn load_str(path: &Path, text: &str) -> Result<Loaded, LoadError> {
    let mut sources = SourceMap::default();
    let mut diags = source::Diags::default();
    let doc = include::read_text(path, text.to_string(), &mut sources, &mut diags);
    finish(&doc, sources, diags)
}

fn finish(
    doc: &raw::Document,
    sources: SourceMap,
    mut diags: source::Diags,
) -> Result<Loaded, LoadError> {
    let config = validate::validate(doc, &host_name(), &mut diags);
    let diags = diags.finish();
    tracing::debug!(
        files = sources.len(),
        findings = diags.len(),
        valid = config.is_some(),
        "configuration read"
    );
    match config {
        Some(config) if !diags.iter().any(|d| d.severity == Severity::Error) => Ok(Loaded {
            config,
            warnings: diags,
            sources,
        }),
        _ => Err(LoadError::Invalid(Invalid { diags, sources })),
    }
}

/// The host name, from the kernel.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "haldir".to_string())
}

/// The JSON Schema of the configuration file, for editors.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(raw::Document)).unwrap_or_default()
}

/// The resolved configuration (defaults filled in, includes merged) as TOML.
pub fn to_toml(config: &Config) -> Result<String, toml::ser::Error> {
    toml::to_string_pretty(config)
}

/// A configuration from TOML text, for the tests of the modules that read one.
#[cfg(test)]
pub(crate) fn test_config(text: &str) -> Config {
    load_str(Path::new("test.toml"), text)
        .unwrap_or_else(|e| panic!("{e}"))
        .config
}
