//! The `haldir` command line. Every command takes `-c, --config FILE`.

mod check;
mod control;
mod import;
mod ipvs;
mod kernel;
mod reference;

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
    /// Ask the running daemon for its state: VRRP instances, virtual servers, real servers.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        socket: Socket,
    },
    /// Ask the running daemon to reload the configuration; prints what changed or why the
    /// file was refused (exit 1; the running configuration stays).
    Reload {
        #[command(flatten)]
        socket: Socket,
    },
    /// Take a real server out of rotation: weight 0, established connections finish.
    Drain(ServerArgs),
    /// Put a drained real server back in rotation.
    Undrain(ServerArgs),
    /// Convert another tool's configuration to haldir's.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Print the MD5 digest of a URL's body, as keepalived's genhash does, for an http check's
    /// `digest` (the status goes to stderr; exit 1 when nothing was received).
    Genhash {
        /// http://ADDRESS[:PORT]/PATH or https://…
        url: String,
        /// The Host header (keepalived's virtualhost).
        #[arg(long, value_name = "NAME")]
        host: Option<String>,
        /// "1.0", "1.0C" or "1.1", as the check's http_protocol.
        #[arg(long, default_value = "1.1")]
        http_protocol: String,
        /// Give up after this long.
        #[arg(long, default_value = "5s")]
        timeout: humantime::Duration,
    },
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a manual page (roff): haldir(1), or haldir.toml(5), the configuration
    /// reference written from the configuration's own types.
    Man {
        /// `haldir` or `haldir.toml`.
        #[arg(default_value = "haldir", value_parser = ["haldir", "haldir.toml"])]
        page: String,
        /// haldir.toml's reference as Markdown (docs/reference.md) instead of roff.
        #[arg(long)]
        markdown: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// keepalived.conf → haldir TOML on stdout; what cannot be converted is listed on stderr
    /// with file and line (exit 1).
    Keepalived {
        /// The keepalived configuration (its includes are followed).
        file: PathBuf,
        /// The config id that `@id` lines are matched against (keepalived's -i; default: the
        /// host name up to its first dot).
        #[arg(long, value_name = "ID")]
        conditional: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// The virtual server: its name, its address (10.0.0.1:80) or fwmark-N.
    #[arg(required_unless_present = "director")]
    pub virtual_server: Option<String>,
    /// The real server's address; the port may be left out when it is unambiguous.
    #[arg(required_unless_present = "director")]
    pub real_server: Option<String>,
    /// The whole director instead: it withdraws (or announces again) every `[[announce]]`,
    /// so that the routers move its flows away while IPVS still serves those that arrive.
    #[arg(long, conflicts_with_all = ["virtual_server", "real_server"])]
    pub director: bool,
    #[command(flatten)]
    pub socket: Socket,
}

#[derive(Debug, clap::Args)]
pub struct Socket {
    /// The daemon's control socket (default: the configuration's control_socket).
    #[arg(long)]
    pub socket: Option<PathBuf>,
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

fn genhash(
    url: &str,
    host: Option<&str>,
    protocol: &str,
    timeout: std::time::Duration,
) -> ExitCode {
    use crate::config::types::HttpProtocol;
    let Some(protocol) = HttpProtocol::from_name(protocol) else {
        eprintln!("error: --http-protocol is \"1.0\", \"1.0C\" or \"1.1\", not {protocol:?}");
        return ExitCode::from(2);
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(crate::health::http::genhash(url, host, protocol, timeout)) {
        Ok((status, digest)) => {
            eprintln!("status {status}");
            println!("{digest}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon's log thread writes out what it holds when this is dropped, at the end.
    let _log = logging::init(cli.log_format, matches!(cli.command, Command::Run));
    match cli.command {
        Command::Check { print } => check::run(&cli.config, print),
        Command::Run => crate::daemon::run(&cli.config),
        Command::Plan => kernel::plan(&cli.config),
        Command::Apply => kernel::apply(&cli.config),
        Command::Ipvs {
            command: IpvsCommand::List { stats, json },
        } => ipvs::list(stats, json),
        Command::Status { json, socket } => {
            control::status(&control::socket_path(socket.socket, &cli.config), json)
        }
        Command::Reload { socket } => {
            control::reload(&control::socket_path(socket.socket, &cli.config))
        }
        Command::Drain(a) => control::drain(&cli.config, a, true),
        Command::Undrain(a) => control::drain(&cli.config, a, false),
        Command::Import {
            command: ImportCommand::Keepalived { file, conditional },
        } => import::keepalived(&file, conditional),
        Command::Genhash {
            url,
            host,
            http_protocol,
            timeout,
        } => genhash(&url, host.as_deref(), &http_protocol, timeout.into()),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "haldir", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man { page, markdown } => man(&page, markdown),
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

/// `haldir man [PAGE] [--markdown]`.
fn man(page: &str, markdown: bool) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout();
    let written = if page == "haldir.toml" {
        let schema = match serde_json::to_value(crate::config::json_schema()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("haldir: cannot read the configuration's schema: {e}");
                return ExitCode::FAILURE;
            }
        };
        let tables = reference::tables(&schema);
        let text = if markdown {
            reference::markdown(&tables)
        } else {
            reference::roff(&tables, env!("CARGO_PKG_VERSION"))
        };
        out.write_all(text.as_bytes())
    } else {
        let cmd = <Cli as clap::CommandFactory>::command();
        clap_mangen::Man::new(cmd).render(&mut out)
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped early (`| head`) is no failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("haldir: cannot write the manual page: {e}");
            ExitCode::FAILURE
        }
    }
}
