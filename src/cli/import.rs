//! `haldir import keepalived FILE`: the converted configuration on stdout, every construct
//! that was not carried over on stderr with its file and line; exit 1 when anything was lost
//! or the result does not validate.

use std::path::Path;
use std::process::ExitCode;

use crate::import;

pub(super) fn keepalived(file: &Path, conditional: Option<String>) -> ExitCode {
    let id = conditional.unwrap_or_else(import::default_config_id);
    let imported = match import::import(file, &id) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("haldir: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", imported.toml);
    for loss in &imported.losses {
        eprintln!("{loss}");
    }
    for warning in &imported.warnings {
        eprintln!("{warning}");
    }
    // The output must pass `haldir check`: includes would resolve next to the input.
    let as_if = file.with_extension("toml");
    if let Err(e) = crate::config::load_str(&as_if, &imported.toml) {
        eprintln!("haldir: the converted configuration does not validate:\n{e}");
        return ExitCode::FAILURE;
    }
    match imported.losses.len() {
        0 => {
            eprintln!("converted: nothing lost");
            ExitCode::SUCCESS
        }
        n => {
            eprintln!("converted with {n} construct(s) not carried over (listed above)");
            ExitCode::FAILURE
        }
    }
}
