//! `hedge audit`: the append-only record of every change made through
//! hedge, and the check that nobody has rewritten it.

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Subcommand;
use serde::Serialize;

use super::output::{Listing, OutputFlags, print_listing};
use super::running_server::RunningServer;
use super::time::parse_time;
use crate::admin::AdminRequest;
use crate::service::time::{format_local, format_rfc3339};
use crate::store::{AuditRow, ChainCheck};

const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Changes from a time on, oldest first: who (OS user and the person
    /// named), what, and the details.
    List {
        /// From this time (RFC 3339, a date, or an age such as 7d);
        /// default: 30 days ago.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: u64,
        #[command(flatten)]
        output: OutputFlags,
    },
    /// Recompute the hash chain; name the first row that does not match.
    /// Exit code 1 if any does.
    Verify,
    /// Every row with its hashes, as one JSON array (or CSV), for an
    /// archive outside the machine.
    Export {
        /// Print CSV with a header row instead.
        #[arg(long)]
        csv: bool,
    },
}

pub fn run(command: AuditCommand, config: &Path) -> Result<()> {
    let server = RunningServer::of_file(config, ANSWER_TIMEOUT)?;
    match command {
        AuditCommand::List {
            since,
            limit,
            output,
        } => {
            let since_ms = match since {
                Some(text) => parse_time(&text)
                    .map_err(|e| anyhow::anyhow!("--since: {e}"))?
                    .as_millisecond(),
                None => jiff::Timestamp::now().as_millisecond() - 30 * 86_400_000,
            };
            let rows: Vec<AuditRow> = server.call(AdminRequest::AuditList { since_ms, limit })?;
            print_listing(rows.iter().map(AuditEntry::of), output)?;
            Ok(())
        }
        AuditCommand::Verify => {
            let check: ChainCheck = server.call(AdminRequest::AuditVerify)?;
            match check.first_broken {
                None => {
                    println!(
                        "audit trail intact: {} rows, every hash matches",
                        check.rows
                    );
                    if let Some((id, hash)) = check.last {
                        println!(
                            "last row: {id}, hash {hash}\n(keep this, or an export, elsewhere: rows removed from the end leave no gap to find)"
                        );
                    }
                    Ok(())
                }
                Some((row, why)) => bail!(
                    "audit trail BROKEN at row {row}: {why}; rows before it verify, rows from it on cannot be trusted"
                ),
            }
        }
        AuditCommand::Export { csv } => {
            let rows: Vec<AuditRow> = server.call(AdminRequest::AuditList {
                since_ms: i64::MIN,
                limit: u64::MAX,
            })?;
            let output = OutputFlags { json: !csv, csv };
            print_listing(rows.iter().map(HashedAuditEntry::of), output)?;
            Ok(())
        }
    }
}

/// An audit row as `hedge audit list` prints it: its time in RFC 3339 and
/// its details as JSON rather than text; the hashes left out.
#[derive(Serialize)]
struct AuditEntry<'a> {
    id: i64,
    at_ms: i64,
    time: String,
    actor: &'a str,
    person: &'a Option<String>,
    action: &'a str,
    details: serde_json::Value,
    /// The details exactly as stored (and hashed), for CSV.
    #[serde(skip)]
    details_text: &'a str,
}

impl AuditEntry<'_> {
    fn of(row: &AuditRow) -> AuditEntry<'_> {
        AuditEntry {
            id: row.id,
            at_ms: row.at_ms,
            time: format_rfc3339(row.at_ms),
            actor: &row.actor,
            person: &row.person,
            action: &row.action,
            details: serde_json::from_str(&row.details)
                .unwrap_or_else(|_| serde_json::Value::String(row.details.clone())),
            details_text: &row.details,
        }
    }
}

impl Listing for AuditEntry<'_> {
    const TABLE_HEADERS: &'static [&'static str] =
        &["ID", "TIME", "USER", "PERSON", "ACTION", "DETAILS"];
    const CSV_HEADERS: &'static [&'static str] =
        &["id", "time", "actor", "person", "action", "details"];
    const EMPTY: &'static str = "no audit rows in that period";

    fn table_cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            format_local(self.at_ms),
            self.actor.to_string(),
            self.person.clone().unwrap_or_default(),
            self.action.to_string(),
            self.details_text.to_string(),
        ]
    }

    fn csv_cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.time.clone(),
            self.actor.to_string(),
            self.person.clone().unwrap_or_default(),
            self.action.to_string(),
            self.details_text.to_string(),
        ]
    }
}

/// An audit row as `hedge audit export` writes it: as listed, with the
/// previous row's hash and its own.
#[derive(Serialize)]
struct HashedAuditEntry<'a> {
    #[serde(flatten)]
    entry: AuditEntry<'a>,
    prev_hash: &'a str,
    hash: &'a str,
}

impl HashedAuditEntry<'_> {
    fn of(row: &AuditRow) -> HashedAuditEntry<'_> {
        HashedAuditEntry {
            entry: AuditEntry::of(row),
            prev_hash: &row.prev_hash,
            hash: &row.hash,
        }
    }
}

impl Listing for HashedAuditEntry<'_> {
    const TABLE_HEADERS: &'static [&'static str] = &[
        "ID",
        "TIME",
        "USER",
        "PERSON",
        "ACTION",
        "DETAILS",
        "PREV HASH",
        "HASH",
    ];
    const CSV_HEADERS: &'static [&'static str] = &[
        "id",
        "time",
        "actor",
        "person",
        "action",
        "details",
        "prev_hash",
        "hash",
    ];
    const EMPTY: &'static str = "the audit trail is empty";

    fn table_cells(&self) -> Vec<String> {
        let mut cells = self.entry.table_cells();
        cells.extend([self.prev_hash.to_string(), self.hash.to_string()]);
        cells
    }

    fn csv_cells(&self) -> Vec<String> {
        let mut cells = self.entry.csv_cells();
        cells.extend([self.prev_hash.to_string(), self.hash.to_string()]);
        cells
    }
}
