//! `hedge logs`: searching and exporting the query log, retention, legal
//! holds, and who has looked. Everything goes through the running server,
//! which records each search with the OS user who ran it.

mod access;
mod holds;
mod search;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use clap::Subcommand;
use ipnet::IpNet;

use super::output::OutputFlags;
use super::running_server::RunningServer;
use super::time::parse_time;
use crate::admin::AdminRequest;
use crate::service::time::format_local;
use crate::store::PurgeReport;

pub use holds::HoldCommand;
pub use search::SearchArgs;
pub(crate) use search::{QueryRow, unchecked_filter};

/// How long to wait for each line of an answer: a purge of a large log on
/// a Raspberry Pi takes a while.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Search the query log, newest first: who asked for what, when, from
    /// which machine, and what hedge did.
    Search(SearchArgs),
    /// Delete rows older than `[logging] retention_days` now (the server
    /// does this every hour by itself); rows under a legal hold are kept.
    Purge {
        /// Only say what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
    /// Legal holds: keep a client's rows for a period past retention.
    Hold {
        #[command(subcommand)]
        command: HoldCommand,
    },
    /// Who searched or exported the query log, when, for what.
    Access {
        /// From this time (see `logs search --from`); default: 30 days ago.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// At most this many records.
        #[arg(long, default_value_t = 100)]
        limit: u64,
        #[command(flatten)]
        output: OutputFlags,
    },
}

pub fn run(command: LogsCommand, config: &Path) -> Result<()> {
    match command {
        LogsCommand::Search(args) => search::run(args, config),
        LogsCommand::Purge { dry_run } => {
            purge(&RunningServer::of_file(config, ANSWER_TIMEOUT)?, dry_run)
        }
        LogsCommand::Hold { command } => {
            holds::run(command, &RunningServer::of_file(config, ANSWER_TIMEOUT)?)
        }
        LogsCommand::Access {
            since,
            limit,
            output,
        } => access::run(
            &RunningServer::of_file(config, ANSWER_TIMEOUT)?,
            since.as_deref(),
            limit,
            output,
        ),
    }
}

pub(crate) fn time_ms(text: &str, option: &str) -> Result<i64> {
    parse_time(text)
        .map(|t| t.as_millisecond())
        .map_err(|e| anyhow::anyhow!("{option}: {e}"))
}

/// A `--client` value: an address (as the network of that one address) or
/// a network.
pub(crate) fn client_net(text: &str) -> Result<IpNet> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(IpNet::from(ip.to_canonical()));
    }
    text.parse::<IpNet>()
        .map(|net| net.trunc())
        .map_err(|_| anyhow::anyhow!("--client {text:?} is not an IP address or network"))
}

fn purge(server: &RunningServer, dry_run: bool) -> Result<()> {
    let report: PurgeReport = server.call(AdminRequest::LogPurge { dry_run })?;
    println!(
        "retention: {} days; rows from before {} are expired",
        report.retention_days,
        format_local(report.cutoff_ms)
    );
    let spared = if report.held > 0 {
        format!(", {} of them kept under legal hold", report.held)
    } else {
        String::new()
    };
    if report.dry_run {
        println!(
            "{} expired rows{spared}; {} would be deleted (nothing was deleted: --dry-run)",
            report.expired,
            report.expired - report.held
        );
    } else {
        println!(
            "{} expired rows{spared}; {} deleted",
            report.expired, report.deleted
        );
    }
    if let Some(why) = &report.interrupted {
        println!("the purge stopped early: {why}; the next hourly run goes on");
    }
    match report.oldest_ms {
        Some(ms) => println!("oldest row kept: {}", format_local(ms)),
        None => println!("the query log is empty"),
    }
    Ok(())
}
