//! The `haldir` command line. Every command takes `-c, --config FILE`.

mod check;
mod ipvs;
mod kernel;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::logging::{self, LogFormat};

#[derive(Debug, Parser)]
#[command(
    name = "haldir",
    version,
    about = "Declarative high-availability L4 director: VRRP, health checks and IPVS from one TOML file"
)]
pub struct Cli {
    /// The configuration file.
    #[arg(short, long, global = true, default_value = crate::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The daemon, in the foreground.
    Run,
    /// Print the operations `run` would apply to the kernel, changing nothing (exit 0 nothing
    /// to do, 2 changes pending, 1 error).
    Plan,
    /// Bring the kernel's IPVS table to the configuration once (real servers taken as
    /// healthy, no VRRP), print what was done and exit.
    Apply,
    /// Parse and validate the configuration; no root needed.
    Check {
        /// Also print the resolved configuration (defaults filled in, includes merged).
        #[arg(long)]
        print: bool,
    },
    /// Print the JSON Schema of the configuration, for editors.
    Schema,
    /// The kernel's IPVS table.
    Ipvs {
        #[command(subcommand)]
        command: IpvsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum IpvsCommand {
    /// List services and real servers, like `ipvsadm -Ln`.
    List {
        /// Connection, packet and byte counters.
        #[arg(long)]
        stats: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    match cli.command {
        Command::Check { print } => check::run(&cli.config, print),
        Command::Run => crate::daemon::run(&cli.config),
        Command::Plan => kernel::plan(&cli.config),
        Command::Apply => kernel::apply(&cli.config),
        Command::Ipvs {
            command: IpvsCommand::List { stats, json },
        } => ipvs::list(stats, json),
        Command::Schema => {
            match serde_json::to_string_pretty(&crate::config::json_schema()) {
                Ok(s) => println!("{s}"),
                Err(e) => {
                    eprintln!("haldir: cannot write the schema: {e}");
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
    }
}
