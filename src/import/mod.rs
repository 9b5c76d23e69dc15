//! `haldir import keepalived`: a keepalived.conf (with its includes, conditionals, parameters
//! and repetitions) converted to haldir TOML. Every statement haldir cannot express is
//! reported with its file and line; nothing is dropped silently.
//!
//! [`preprocess`] reads the language into lines, [`tree`] builds the blocks, and the mapping
//! ([`map`], [`vrrp`], [`lvs`]) writes the TOML ([`emit`]).

mod checker;
mod email;
pub(crate) mod emit;
mod globals;
mod keywords;
pub use keywords::{CHECKERS, all_ending_without_value, all_known, known_in};
mod lvs;
mod map;
mod mapper;
mod numbers;
pub mod preprocess;
mod quorum;
mod quoting;
mod repair;
mod repeat;
mod routing;
mod scripts;
mod sync_group;
mod track_file;
pub mod tree;
mod vrrp;
mod vrrp_script;
mod weights;

use std::path::{Path, PathBuf};

use preprocess::{Disk, Files, ReadError, Reader};

/// A construct that was not carried over, where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
    pub path: PathBuf,
    pub line: usize,
    pub what: String,
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: not converted: {}",
            self.path.display(),
            self.line,
            self.what
        )
    }
}

/// Something carried over exactly as keepalived behaves, but that the operator should know:
/// a keyword keepalived itself ignores or corrects, a script that runs without a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning(pub Loss);

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: warning: {}",
            self.0.path.display(),
            self.0.line,
            self.0.what
        )
    }
}

#[derive(Debug)]
pub struct Imported {
    pub toml: String,
    pub losses: Vec<Loss>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// keepalived's default config id: the host name up to its first dot.
pub fn default_config_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().split('.').next().unwrap_or("").to_string())
        .unwrap_or_default()
}

pub fn import(path: &Path, config_id: &str) -> Result<Imported, ImportError> {
    import_with(&Disk, path, config_id)
}

pub fn import_with<F: Files>(
    files: &F,
    path: &Path,
    config_id: &str,
) -> Result<Imported, ImportError> {
    let mut reader = Reader::new(files, config_id);
    reader.read_file(path)?;
    let (nodes, unbalanced) = tree::build(&reader.lines);
    let mut m = mapper::Mapper::new();
    m.doc.comment(&format!(
        "Converted from {} by `haldir import keepalived`.\nCheck it with `haldir check -c FILE`.",
        path.display()
    ));
    for (file, line, pattern) in &reader.unmatched {
        m.losses.push(mapper::Loss {
            file: *file,
            line: *line,
            what: format!(
                "include {pattern}: matches no file; keepalived skips it, and nothing it was meant to bring is converted"
            ),
        });
    }
    for (file, line, name) in &reader.run_time {
        let (list, what) = match name.as_str() {
            "_PWD" => (
                &mut m.warnings,
                format!(
                    "${{_PWD}}: the directory this file was read from here ({}); keepalived puts the directory it reads the file from on the director",
                    reader
                        .files
                        .get(*file)
                        .and_then(|p| std::path::absolute(p).ok())
                        .and_then(|p| p.parent().map(|d| d.display().to_string()))
                        .unwrap_or_default()
                ),
            ),
            _ => (
                &mut m.losses,
                format!(
                    "${{{name}}}: keepalived draws a new number (0 to 32767) each time it reads it; the conversion takes 0"
                ),
            ),
        };
        list.push(mapper::Loss {
            file: *file,
            line: *line,
            what,
        });
    }
    for u in unbalanced {
        m.warnings.push(mapper::Loss {
            file: u.file,
            line: u.line,
            what: u.message.to_string(),
        });
    }
    m.map(&nodes);
    let (text, origins) = std::mem::take(&mut m.doc).finish_with_origins();
    let toml = repair::repair(&path.with_extension("toml"), text, origins, &mut m.losses);
    let located = |l: &mapper::Loss| Loss {
        path: reader.files.get(l.file).cloned().unwrap_or_default(),
        line: l.line,
        what: l.what.clone(),
    };
    Ok(Imported {
        toml,
        losses: m.losses.iter().map(located).collect(),
        warnings: m.warnings.iter().map(|w| Warning(located(w))).collect(),
    })
}
