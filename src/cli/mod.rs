//! The `hedge` command line. Each subcommand group has its own file; this
//! one only parses arguments and maps failures to exit codes (0 success,
//! 1 refused or failed, 2 bad usage).

mod alerts;
mod audit;
mod central;
mod config_check;
mod control;
mod devices;
mod exempt;
mod explain;
mod incident;
mod init;
mod lists;
mod logs;
mod memory;
mod output;
mod people;
mod report;
mod running_server;
mod serve;
mod systemd;
mod time;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::DEFAULT_CONFIG_PATH;

#[derive(Debug, Parser)]
#[command(
    name = "hedge",
    version,
    about = "A DNS filtering resolver for schools and homes"
)]
struct Cli {
    /// The configuration file (for `init`, where to write it). Taken
    /// before or after the subcommand.
    #[arg(
        short = 'c',
        long = "config",
        global = true,
        default_value = DEFAULT_CONFIG_PATH,
        value_name = "FILE"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a first configuration for a primary school, secondary school,
    /// pupil referral unit or foster home, from a few answers, and check it.
    Init(init::InitArgs),
    /// Run the DNS server in the foreground.
    Serve,
    /// Work with the configuration file.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Show how a name is decided for a client: its group, every matching
    /// list entry (category, file, line) and the rule that decides.
    Explain {
        /// The name to look up, e.g. www.example.com.
        name: String,
        /// The client's address, which decides its group.
        #[arg(long, value_name = "IP")]
        client: std::net::IpAddr,
        /// The device's MAC address; without it, the one the kernel's
        /// neighbour table has at the address, if any.
        #[arg(long, value_name = "MAC")]
        mac: Option<crate::config::Mac>,
    },
    /// Show what the running server is doing.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make the running server re-read its configuration, zones and lists.
    Reload,
    /// Block lists: what they hold, and downloading them.
    Lists {
        #[command(subcommand)]
        command: ListsCommand,
    },
    /// The query log: search and export it, apply retention, place and
    /// release legal holds, see who searched it.
    Logs {
        #[command(subcommand)]
        command: logs::LogsCommand,
    },
    /// Exemptions: request, approve, reject, revoke, list.
    Exempt {
        #[command(subcommand)]
        command: exempt::ExemptCommand,
    },
    /// Devices known by MAC address: list them.
    Devices {
        #[command(subcommand)]
        command: devices::DevicesCommand,
    },
    /// Safeguarding alerts: list them, see one, acknowledge it.
    Alerts {
        #[command(subcommand)]
        command: alerts::AlertsCommand,
    },
    /// E-safety incidents: open (holding the evidence), note actions,
    /// refer, close; list and show with the log rows.
    Incident {
        #[command(subcommand)]
        command: incident::IncidentCommand,
    },
    /// The people who act through hedge: members of staff, approvers,
    /// safeguarding leads and administrators.
    People {
        #[command(subcommand)]
        command: people::PeopleCommand,
    },
    /// What the filter did over a period, for the safeguarding lead and
    /// governors: text, CSV or a self-contained HTML file.
    Report(report::ReportArgs),
    /// The audit trail of every change: list it, verify its hash chain,
    /// export it.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// The central PostgreSQL many sites ship to: create it, search,
    /// report and verify across sites, hold and purge.
    Central {
        #[command(flatten)]
        target: central::CentralTarget,
        #[command(subcommand)]
        command: central::CentralCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ListsCommand {
    /// Per category: sources, names loaded, lines skipped and why, last
    /// update, and entries DNS cannot enforce (URL paths).
    Stats {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Download every https:// list source (only when it changed), keep the
    /// old copy when a download fails or holds no usable entry, then make
    /// the running server reload.
    Update,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check a configuration file (and the zone and root hints files it
    /// names) without starting anything; print every problem found.
    Check,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = cli.config.as_path();
    let result = match cli.command {
        Command::Init(args) => init::run(args, config),
        Command::Serve => serve::run(config),
        Command::Config {
            command: ConfigCommand::Check,
        } => config_check::run(config),
        Command::Explain { name, client, mac } => explain::run(config, &name, client, mac),
        Command::Lists {
            command: ListsCommand::Stats { json },
        } => lists::stats(config, json),
        Command::Lists {
            command: ListsCommand::Update,
        } => lists::update(config),
        Command::Status { json } => control::status(config, json),
        Command::Reload => control::reload(config),
        Command::Logs { command } => logs::run(command, config),
        Command::Audit { command } => audit::run(command, config),
        Command::Exempt { command } => exempt::run(command, config),
        Command::Devices { command } => devices::run(command, config),
        Command::Alerts { command } => alerts::run(command, config),
        Command::Report(args) => report::run(args, config),
        Command::Incident { command } => incident::run(command, config),
        Command::People { command } => people::run(command, config),
        Command::Central { target, command } => central::run(target, command, config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hedge: {error:#}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("hedge").chain(args.iter().copied()))
    }

    #[test]
    fn the_arguments_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn config_is_taken_before_or_after_the_subcommand() {
        let default = parse(&["status"]).unwrap();
        assert_eq!(default.config, Path::new(DEFAULT_CONFIG_PATH));
        for args in [
            &["-c", "/x.toml", "exempt", "list"][..],
            &["exempt", "list", "-c", "/x.toml"],
            &["exempt", "--config", "/x.toml", "list"],
            &["logs", "hold", "list", "--all", "-c", "/x.toml"],
            &["init", "--setting", "primary", "-c", "/x.toml"],
        ] {
            assert_eq!(
                parse(args).unwrap().config,
                Path::new("/x.toml"),
                "{args:?}"
            );
        }
    }

    #[test]
    fn listings_take_json_or_csv_not_both() {
        let cli = parse(&["alerts", "list", "--csv"]).unwrap();
        let Command::Alerts {
            command: alerts::AlertsCommand::List { output, .. },
        } = cli.command
        else {
            panic!("not alerts list");
        };
        assert!(output.csv && !output.json);
        let error = parse(&["audit", "list", "--json", "--csv"]).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert_eq!(error.exit_code(), 2);
    }
}
