//! Any bytes as a configuration file: the loader returns a model or located errors, and never
//! panics. A loaded model must also print and load back.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // A path in a directory with no files keeps `include` from reading the fuzzer's disk.
    let path = Path::new("/nonexistent-haldir-fuzz/haldir.toml");
    match haldir::config::load_str(path, text) {
        Ok(loaded) => {
            let printed = haldir::config::to_toml(&loaded.config).expect("a model prints");
            let again = haldir::config::load_str(path, &printed).expect("a printed model loads");
            assert_eq!(loaded.config, again.config);
        }
        Err(haldir::config::LoadError::Invalid(inv)) => {
            for d in &inv.diags {
                let _ = d.render(&inv.sources);
            }
        }
        Err(e) => panic!("unexpected error kind: {e}"),
    }
});
