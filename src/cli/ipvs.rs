//! `haldir ipvs list`: the kernel's IPVS table, read over netlink.

use std::process::ExitCode;

use crate::ipvs::client::Client;
use crate::ipvs::render;

pub(super) fn list(stats: bool, json: bool) -> ExitCode {
    match list_text(stats, json) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("haldir: {e}");
            ExitCode::FAILURE
        }
    }
}

fn list_text(stats: bool, json: bool) -> Result<String, Box<dyn std::error::Error>> {
    let mut client = Client::connect()?;
    let mut table = client.table()?;
    render::sort_like_ipvsadm(&mut table);
    if json {
        return Ok(serde_json::to_string_pretty(&table)? + "\n");
    }
    if stats {
        return Ok(render::stats(&table));
    }
    let (version, size) = client.info()?;
    Ok(render::table(version, size, &table))
}
