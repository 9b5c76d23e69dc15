//! The corpus: real keepalived configurations (tests/fixtures/keepalived/corpus, each with its
//! source in its first line; SOURCES.md lists them) converted by `haldir import keepalived`.
//! Each conversion is pinned: the TOML in `expected/NAME.toml` and every loss and warning in
//! `expected/NAME.report`, so any change of behaviour shows as a diff. Every converted file
//! must pass haldir's own validation. `HALDIR_BLESS=1 cargo test --test import_corpus`
//! rewrites the expected files after a deliberate change.

use std::path::{Path, PathBuf};

use haldir::import::import;

/// Relative to the package (the tests' working directory), so that the paths the conversion
/// writes into its output are the same in every checkout.
fn corpus() -> PathBuf {
    PathBuf::from("tests/fixtures/keepalived/corpus")
}

/// The report of one conversion: losses, then warnings, with lines; or the error. keepalived's
/// `${_PWD}` is the absolute directory of the file read: the checkout's own path is written
/// `<checkout>` so that the pinned text is the same everywhere.
fn convert(path: &Path) -> (String, String, bool) {
    let here = std::env::current_dir().unwrap().display().to_string();
    let pinned = |s: String| s.replace(&here, "<checkout>");
    match import(path, "lb1") {
        Ok(i) => {
            let i = haldir::import::Imported {
                toml: pinned(i.toml),
                ..i
            };
            let mut report = String::new();
            for l in &i.losses {
                report.push_str(&format!("{}: lost: {}\n", l.line, l.what));
            }
            for w in &i.warnings {
                report.push_str(&format!("{}: warning: {}\n", w.0.line, w.0.what));
            }
            (i.toml, pinned(report), i.losses.is_empty())
        }
        Err(e) => (String::new(), format!("error: {e}\n"), false),
    }
}

#[test]
fn every_corpus_file_converts_as_pinned_and_validates() {
    assert!(
        Path::new("Cargo.toml").exists(),
        "run from the package directory"
    );
    let dir = corpus();
    let bless = std::env::var("HALDIR_BLESS").is_ok_and(|v| v == "1");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "the corpus has {} files", files.len());
    let (mut clean, mut lossy, mut refused) = (0, 0, Vec::new());
    let mut mismatched = Vec::new();
    for path in &files {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let header = std::fs::read_to_string(path).unwrap();
        assert!(
            header.starts_with("# Source: "),
            "{name}: the first line names the file's source"
        );
        let (toml, report, no_loss) = convert(path);
        if toml.is_empty() {
            refused.push(name.clone());
        } else {
            // Validated as written, with the checkout's path where `${_PWD}` put it.
            let here = std::env::current_dir().unwrap().display().to_string();
            let written = toml.replace("<checkout>", &here);
            if let Err(e) = haldir::config::load_str(&path.with_extension("toml"), &written) {
                panic!("{name}: the converted file does not validate:\n{e}\n{toml}");
            }
            if no_loss {
                clean += 1;
            } else {
                lossy += 1;
            }
        }
        let expected = dir.join("expected");
        let (want_toml, want_report) = (
            expected.join(format!("{name}.toml")),
            expected.join(format!("{name}.report")),
        );
        if bless {
            std::fs::create_dir_all(&expected).unwrap();
            std::fs::write(&want_toml, &toml).unwrap();
            std::fs::write(&want_report, &report).unwrap();
            continue;
        }
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        if read(&want_toml) != toml || read(&want_report) != report {
            mismatched.push(name);
        }
    }
    eprintln!(
        "corpus: {} files: {clean} without loss, {lossy} with losses, {} refused ({})",
        files.len(),
        refused.len(),
        refused.join(", ")
    );
    assert!(
        mismatched.is_empty(),
        "conversions differ from tests/fixtures/keepalived/corpus/expected for: {mismatched:?}\n(HALDIR_BLESS=1 rewrites them after a deliberate change)"
    );
}
