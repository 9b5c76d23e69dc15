//! Any bytes as a keepalived.conf: the importer converts it or says why not, never panics and
//! stays within its bounds (repetitions and parameters are capped); what it writes is always
//! well-formed TOML.
#![no_main]

use std::path::{Path, PathBuf};

use haldir::import::preprocess::Files;
use libfuzzer_sys::fuzz_target;

/// The fuzzed text as the one file; includes match nothing.
struct One(String);

impl Files for One {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        if path == Path::new("/fuzz/keepalived.conf") {
            Ok(self.0.clone())
        } else {
            Err(std::io::ErrorKind::NotFound.into())
        }
    }

    fn glob(&self, _pattern: &str) -> Vec<PathBuf> {
        Vec::new()
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let files = One(text.to_string());
    if let Ok(imported) =
        haldir::import::import_with(&files, Path::new("/fuzz/keepalived.conf"), "lb1")
    {
        if let Err(e) = imported.toml.parse::<toml::Table>() {
            panic!("the importer wrote invalid TOML: {e}\n{}", imported.toml);
        }
        // Validation may refuse it (an instance without interface…), but must not panic.
        let _ = haldir::config::load_str(Path::new("/nonexistent-haldir-fuzz/h.toml"), &imported.toml);
    }
});
