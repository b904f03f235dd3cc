//! `hedge alerts`: the safeguarding alerts the server raised, and their
//! acknowledgement by a named person (recorded in the audit trail).

use std::io::Write;
use std::time::Duration;

use anyhow::{Result, anyhow};
use clap::Subcommand;
use serde_json::json;

use super::ConfigArg;
use super::output::{JsonArray, Table, csv_record};
use super::time::{format_local, format_rfc3339, parse_time};
use crate::admin::alerts::inert;
use crate::admin::{AdminRequest, call};
use crate::config::Config;
use crate::store::{Alert, AlertSelection};

const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Alerts, newest first: when, which client, which category, how many
    /// attempts, and who acknowledged them.
    List {
        #[command(flatten)]
        config: ConfigArg,
        /// Only alerts not yet acknowledged.
        #[arg(long)]
        open: bool,
        /// Raised at or after this time (RFC 3339, a date, or an age such
        /// as 7d); default: all.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: u64,
        /// Print one JSON array.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV with a header row (names made inert: example[.]com).
        #[arg(long)]
        csv: bool,
    },
    /// One alert in full, with where it was delivered.
    Show {
        id: i64,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Record that an alert was seen and dealt with. Later attempts by the
    /// same client raise a new alert.
    Ack {
        id: i64,
        /// Who dealt with it (a person, e.g. the safeguarding lead).
        #[arg(long)]
        by: String,
        /// What was done, in a sentence.
        #[arg(long)]
        note: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

fn send(config: &ConfigArg, request: AdminRequest) -> Result<serde_json::Value> {
    let config = Config::load(&config.path)?;
    Ok(call(&config.admin.socket, &request, ANSWER_TIMEOUT)?)
}

pub fn run(command: AlertsCommand) -> Result<()> {
    match command {
        AlertsCommand::List {
            config,
            open,
            since,
            limit,
            json,
            csv,
        } => {
            let since_ms = match since {
                Some(text) => parse_time(&text)
                    .map_err(|e| anyhow!("--since: {e}"))?
                    .as_millisecond(),
                None => 0,
            };
            let selection = AlertSelection {
                open_only: open,
                since_ms,
                limit,
            };
            let value = send(&config, AdminRequest::AlertList { selection })?;
            let alerts: Vec<Alert> = serde_json::from_value(value)?;
            print_list(&alerts, json, csv)
        }
        AlertsCommand::Show { id, config } => {
            let value = send(&config, AdminRequest::AlertShow { id })?;
            let alert: Alert = serde_json::from_value(value)?;
            print_one(&alert);
            Ok(())
        }
        AlertsCommand::Ack {
            id,
            by,
            note,
            config,
        } => {
            let value = send(&config, AdminRequest::AlertAck { id, by, note })?;
            let alert: Alert = serde_json::from_value(value)?;
            println!(
                "alert {} acknowledged by {} ({} attempt(s) by {} in {})",
                alert.id,
                alert.acked_by.as_deref().unwrap_or("?"),
                alert.hits,
                alert.who(),
                alert.category
            );
            Ok(())
        }
    }
}

fn state(alert: &Alert) -> &'static str {
    if alert.is_open() {
        "open"
    } else {
        "acknowledged"
    }
}

fn print_list(alerts: &[Alert], json: bool, csv: bool) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        let mut array = JsonArray::start(&mut out)?;
        for alert in alerts {
            let mut value = serde_json::to_value(alert)?;
            value["state"] = json!(state(alert));
            value["first"] = json!(format_rfc3339(alert.first_ms));
            value["last"] = json!(format_rfc3339(alert.last_ms));
            array.push(&value)?;
        }
        array.finish()?;
    } else if csv {
        writeln!(
            out,
            "{}",
            csv_record(&[
                "id",
                "state",
                "first",
                "last",
                "hits",
                "client",
                "client_name",
                "group",
                "category",
                "name",
                "acknowledged",
                "acknowledged_by",
                "note",
            ])
        )?;
        for alert in alerts {
            writeln!(
                out,
                "{}",
                csv_record(&[
                    &alert.id.to_string(),
                    state(alert),
                    &format_rfc3339(alert.first_ms),
                    &format_rfc3339(alert.last_ms),
                    &alert.hits.to_string(),
                    &alert.client.to_string(),
                    alert.client_name.as_deref().unwrap_or(""),
                    &alert.group,
                    &alert.category,
                    &inert(&alert.name),
                    &alert.acked_ms.map(format_rfc3339).unwrap_or_default(),
                    alert.acked_by.as_deref().unwrap_or(""),
                    alert.ack_note.as_deref().unwrap_or(""),
                ])
            )?;
        }
    } else if alerts.is_empty() {
        eprintln!("no alerts");
    } else {
        let mut table = Table::new(&[
            "ID", "STATE", "FIRST", "HITS", "CLIENT", "GROUP", "CATEGORY", "NAME", "ACK BY",
        ]);
        for alert in alerts {
            table.push(vec![
                alert.id.to_string(),
                state(alert).to_string(),
                format_local(alert.first_ms),
                alert.hits.to_string(),
                alert.who(),
                alert.group.clone(),
                alert.category.clone(),
                inert(&alert.name),
                alert.acked_by.clone().unwrap_or_default(),
            ]);
        }
        table.print(&mut out)?;
    }
    Ok(())
}

fn print_one(alert: &Alert) {
    println!("alert {}: {}", alert.id, state(alert));
    println!("  client:     {} (group {})", alert.who(), alert.group);
    println!("  category:   {}", alert.category);
    println!("  first name: {}", inert(&alert.name));
    println!(
        "  attempts:   {} from {} to {}",
        alert.hits,
        format_local(alert.first_ms),
        format_local(alert.last_ms)
    );
    for delivery in &alert.deliveries {
        println!(
            "  sent to:    {}: {} after {} attempt(s){}",
            delivery.sink,
            delivery.state,
            delivery.attempts,
            delivery
                .error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
    }
    if let (Some(at), Some(by)) = (alert.acked_ms, &alert.acked_by) {
        println!(
            "  acknowledged by {by} (as {}, {})",
            alert.acked_user.as_deref().unwrap_or("?"),
            format_local(at)
        );
        if let Some(note) = &alert.ack_note {
            println!("  note:       {note}");
        }
    }
}
