//! Configurations generated from keepalived's grammar (tests/oracle/gen.rs) with the values
//! that break converters: whatever the input, `haldir import keepalived` never writes a file
//! that `haldir check` refuses. What haldir cannot represent is left out and reported.
//!
//! `HALDIR_GEN_CASES=N` runs more seeds than CI's (say how many in the notes of a change).

#[path = "oracle/generator.rs"]
mod gen_conf;

use std::path::Path;

fn cases() -> u64 {
    std::env::var("HALDIR_GEN_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

#[test]
fn every_generated_configuration_converts_to_a_valid_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut invalid = Vec::new();
    let mut lossless = 0;
    for seed in 0..cases() {
        let text = gen_conf::config(seed);
        let path = dir.path().join(format!("gen-{seed}.conf"));
        std::fs::write(&path, &text).unwrap();
        let imported = match haldir::import::import(&path, "lb1") {
            Ok(i) => i,
            Err(e) => {
                invalid.push(format!("seed {seed}: the import failed: {e}\n{text}"));
                continue;
            }
        };
        lossless += usize::from(imported.losses.is_empty());
        if std::env::var("HALDIR_GEN_SUMMARY").is_ok() {
            for l in imported
                .losses
                .iter()
                .filter(|l| l.what.contains("haldir refuses"))
            {
                eprintln!("REPAIR seed={seed} {}", l.what);
            }
        }
        if let Err(e) = haldir::config::load_str(&path.with_extension("toml"), &imported.toml) {
            if std::env::var("HALDIR_GEN_SUMMARY").is_ok() {
                for l in format!("{e:#}").lines().filter(|l| l.contains(": error: ")) {
                    eprintln!(
                        "ERR seed={seed} {}",
                        l.split(": error: ").nth(1).unwrap_or("")
                    );
                }
            }
            invalid.push(format!(
                "seed {seed}: haldir check refuses the conversion:\n{e:#}\n--- keepalived\n{text}--- haldir\n{}",
                imported.toml
            ));
        }
    }
    eprintln!(
        "{} generated files, {lossless} without loss, {} invalid",
        cases(),
        invalid.len()
    );
    assert!(
        invalid.is_empty(),
        "{} of {} conversions are invalid; the first:\n{}",
        invalid.len(),
        cases(),
        invalid[0]
    );
    assert!(Path::new(dir.path()).exists());
}
