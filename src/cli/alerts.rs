//! `hedge alerts`: the safeguarding alerts the server raised, and their
//! acknowledgement by a named person (recorded in the audit trail).

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow};
use clap::Subcommand;
use serde::Serialize;

use super::output::{Listing, OutputFlags, print_listing};
use super::running_server::RunningServer;
use super::time::parse_time;
use crate::admin::AdminRequest;
use crate::service::inert::inert;
use crate::service::time::{format_local, format_rfc3339};
use crate::store::{Alert, AlertSelection};

const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Alerts, newest first: when, which client, which category, how many
    /// attempts, and who acknowledged them.
    List {
        /// Only alerts not yet acknowledged.
        #[arg(long)]
        open: bool,
        /// Raised at or after this time (RFC 3339, a date, or an age such
        /// as 7d); default: all.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: u64,
        /// (Names are made inert in every shape: example[.]com.)
        #[command(flatten)]
        output: OutputFlags,
    },
    /// One alert in full, with where it was delivered.
    Show { id: i64 },
    /// Record that an alert was seen and dealt with. Later attempts by the
    /// same client raise a new alert.
    Ack {
        id: i64,
        /// You: the person your OS account acts as (optional; naming anyone
        /// else is refused).
        #[arg(long)]
        by: Option<String>,
        /// What was done, in a sentence.
        #[arg(long)]
        note: String,
    },
}

pub fn run(command: AlertsCommand, config: &Path) -> Result<()> {
    let server = RunningServer::of_file(config, ANSWER_TIMEOUT)?;
    match command {
        AlertsCommand::List {
            open,
            since,
            limit,
            output,
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
            let alerts: Vec<Alert> = server.call(AdminRequest::AlertList { selection })?;
            print_listing(alerts.iter().map(AlertRow::of), output)?;
            Ok(())
        }
        AlertsCommand::Show { id } => {
            let alert: Alert = server.call(AdminRequest::AlertShow { id })?;
            print_one(&alert);
            Ok(())
        }
        AlertsCommand::Ack { id, by, note } => {
            let alert: Alert = server.call(AdminRequest::AlertAck { id, by, note })?;
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

/// An alert as `hedge alerts list` prints it (JSON adds `state`, `first`
/// and `last` to the stored fields).
#[derive(Serialize)]
struct AlertRow<'a> {
    #[serde(flatten)]
    alert: &'a Alert,
    state: &'static str,
    first: String,
    last: String,
}

impl AlertRow<'_> {
    fn of(alert: &Alert) -> AlertRow<'_> {
        AlertRow {
            alert,
            state: state(alert),
            first: format_rfc3339(alert.first_ms),
            last: format_rfc3339(alert.last_ms),
        }
    }
}

impl Listing for AlertRow<'_> {
    const TABLE_HEADERS: &'static [&'static str] = &[
        "ID", "STATE", "FIRST", "HITS", "CLIENT", "GROUP", "CATEGORY", "NAME", "ACK BY",
    ];
    const CSV_HEADERS: &'static [&'static str] = &[
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
        "mac",
    ];
    const EMPTY: &'static str = "no alerts";

    fn table_cells(&self) -> Vec<String> {
        let alert = self.alert;
        vec![
            alert.id.to_string(),
            self.state.to_string(),
            format_local(alert.first_ms),
            alert.hits.to_string(),
            alert.who(),
            alert.group.clone(),
            alert.category.clone(),
            inert(&alert.name),
            alert.acked_by.clone().unwrap_or_default(),
        ]
    }

    fn csv_cells(&self) -> Vec<String> {
        let alert = self.alert;
        vec![
            alert.id.to_string(),
            self.state.to_string(),
            self.first.clone(),
            self.last.clone(),
            alert.hits.to_string(),
            alert.client.to_string(),
            alert.client_name.clone().unwrap_or_default(),
            alert.group.clone(),
            alert.category.clone(),
            inert(&alert.name),
            alert.acked_ms.map(format_rfc3339).unwrap_or_default(),
            alert.acked_by.clone().unwrap_or_default(),
            alert.ack_note.clone().unwrap_or_default(),
            alert.mac.map(|mac| mac.to_string()).unwrap_or_default(),
        ]
    }
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
