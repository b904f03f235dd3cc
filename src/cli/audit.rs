//! `hedge audit`: the append-only record of every change made through
//! hedge, and the check that nobody has rewritten it.

use std::io::Write;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::json;

use super::ConfigArg;
use super::output::{JsonArray, Table, csv_record};
use super::time::{format_local, format_rfc3339, parse_time};
use crate::admin::{AdminRequest, call};
use crate::config::Config;
use crate::store::{AuditRow, ChainCheck};

const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Changes from a time on, oldest first: who (OS user and the person
    /// named), what, and the details.
    List {
        #[command(flatten)]
        config: ConfigArg,
        /// From this time (RFC 3339, a date, or an age such as 7d);
        /// default: 30 days ago.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: u64,
        /// Print one JSON array.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV with a header row.
        #[arg(long)]
        csv: bool,
    },
    /// Recompute the hash chain; name the first row that does not match.
    /// Exit code 1 if any does.
    Verify {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Every row with its hashes, as one JSON array (or CSV), for an
    /// archive outside the machine.
    Export {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        csv: bool,
    },
}

pub fn run(command: AuditCommand) -> Result<()> {
    match command {
        AuditCommand::List {
            config,
            since,
            limit,
            json,
            csv,
        } => {
            let since_ms = match since {
                Some(text) => parse_time(&text)
                    .map_err(|e| anyhow::anyhow!("--since: {e}"))?
                    .as_millisecond(),
                None => jiff::Timestamp::now().as_millisecond() - 30 * 86_400_000,
            };
            let rows = fetch(&config, since_ms, limit)?;
            print(&rows, json, csv, false)
        }
        AuditCommand::Verify { config } => {
            let config = Config::load(&config.path)?;
            let value = call(
                &config.admin.socket,
                &AdminRequest::AuditVerify,
                ANSWER_TIMEOUT,
            )?;
            let check: ChainCheck = serde_json::from_value(value)?;
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
        AuditCommand::Export { config, csv } => {
            let rows = fetch(&config, i64::MIN, u64::MAX)?;
            print(&rows, !csv, csv, true)
        }
    }
}

fn fetch(config: &ConfigArg, since_ms: i64, limit: u64) -> Result<Vec<AuditRow>> {
    let config = Config::load(&config.path)?;
    let value = call(
        &config.admin.socket,
        &AdminRequest::AuditList { since_ms, limit },
        ANSWER_TIMEOUT,
    )?;
    Ok(serde_json::from_value(value)?)
}

fn print(rows: &[AuditRow], json: bool, csv: bool, hashes: bool) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        let mut array = JsonArray::start(&mut out)?;
        for row in rows {
            let mut value = serde_json::to_value(row)?;
            value["time"] = json!(format_rfc3339(row.at_ms));
            value["details"] = serde_json::from_str(&row.details).unwrap_or(json!(row.details));
            if !hashes {
                let object = value.as_object_mut().expect("rows are objects");
                object.remove("prev_hash");
                object.remove("hash");
            }
            array.push(&value)?;
        }
        array.finish()?;
    } else if csv {
        let mut header = vec!["id", "time", "actor", "person", "action", "details"];
        if hashes {
            header.extend(["prev_hash", "hash"]);
        }
        writeln!(out, "{}", csv_record(&header))?;
        for row in rows {
            let id = row.id.to_string();
            let time = format_rfc3339(row.at_ms);
            let mut fields = vec![
                id.as_str(),
                time.as_str(),
                row.actor.as_str(),
                row.person.as_deref().unwrap_or(""),
                row.action.as_str(),
                row.details.as_str(),
            ];
            if hashes {
                fields.extend([row.prev_hash.as_str(), row.hash.as_str()]);
            }
            writeln!(out, "{}", csv_record(&fields))?;
        }
    } else if rows.is_empty() {
        eprintln!("no audit rows in that period");
    } else {
        let mut table = Table::new(&["ID", "TIME", "USER", "PERSON", "ACTION", "DETAILS"]);
        for row in rows {
            table.push(vec![
                row.id.to_string(),
                format_local(row.at_ms),
                row.actor.clone(),
                row.person.clone().unwrap_or_default(),
                row.action.clone(),
                row.details.clone(),
            ]);
        }
        table.print(&mut out)?;
    }
    Ok(())
}
