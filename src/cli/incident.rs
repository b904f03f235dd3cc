//! `hedge incident`: the safeguarding lead's record of an e-safety
//! incident, kept beside the evidence. Names of sites are printed inert in
//! every shape (`example[.]com`), and so are addresses in free text.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow};
use clap::Subcommand;
use serde::Serialize;

use super::logs::client_net;
use super::output::{Listing, OutputFlags, print_listing};
use super::running_server::RunningServer;
use super::time::parse_time;
use crate::admin::AdminRequest;
use crate::policy::{Agency, Identified, IncidentKind};
use crate::service::inert::{inert, inert_text};
use crate::service::table::Table;
use crate::service::time::{format_local, format_rfc3339};
use crate::service::{IncidentRecord, IncidentRequest};
use crate::store::{Incident, StoredQuery};

const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Record a new incident. With a client and a period (or an alert),
    /// the client's log rows for that period are put under a legal hold at
    /// once.
    Open {
        /// accidental-inappropriate, accidental-illegal,
        /// deliberate-inappropriate, deliberate-illegal, misuse, bullying.
        #[arg(long = "type", value_name = "TYPE")]
        kind: String,
        /// What happened, in a sentence or two.
        #[arg(long)]
        summary: String,
        /// You: the person your OS account acts as (optional; naming anyone
        /// else is refused).
        #[arg(long)]
        by: Option<String>,
        /// The device involved: an address or a network.
        #[arg(long, value_name = "IP|CIDR")]
        client: Option<String>,
        /// The start of the period whose log rows are evidence.
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Its end (default: now).
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
        /// The alert that raised it: its client and first attempt are used
        /// unless --client / --from are given.
        #[arg(long, value_name = "ID")]
        alert: Option<i64>,
        /// How it came to light: alert, report or staff (default: alert
        /// with --alert, else staff).
        #[arg(long)]
        identified: Option<String>,
        /// Free text about who was involved. hedge records devices and
        /// groups by itself; type pupils' names here only if your policy
        /// says the record should hold them.
        #[arg(long)]
        involved: Option<String>,
    },
    /// Add an action taken, with who took it (entries are never edited).
    Note {
        id: i64,
        #[arg(long)]
        by: Option<String>,
        #[arg(long)]
        text: String,
    },
    /// Record where the incident was sent: iwf, ceop, police, lado,
    /// social-care or none.
    Refer {
        id: i64,
        #[arg(long, value_name = "AGENCY")]
        to: String,
        #[arg(long)]
        by: Option<String>,
        /// When it was referred (default: now).
        #[arg(long, value_name = "TIME")]
        on: Option<String>,
        /// A reference number or a note about the referral.
        #[arg(long, default_value = "")]
        text: String,
    },
    /// Close with a conclusion. Its legal hold stays unless
    /// --release-hold is given.
    Close {
        id: i64,
        #[arg(long)]
        by: Option<String>,
        #[arg(long)]
        conclusion: String,
        #[arg(long)]
        release_hold: bool,
    },
    /// Incidents, newest first.
    List {
        /// Only those not yet closed.
        #[arg(long)]
        open: bool,
        #[command(flatten)]
        output: OutputFlags,
    },
    /// One incident in full, with its client's log rows for the period
    /// (recorded as an access to the log).
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
}

fn time(text: &Option<String>, option: &str) -> Result<Option<i64>> {
    text.as_deref()
        .map(|t| {
            parse_time(t)
                .map(|t| t.as_millisecond())
                .map_err(|e| anyhow!("{option}: {e}"))
        })
        .transpose()
}

pub fn run(command: IncidentCommand, config: &Path) -> Result<()> {
    let server = RunningServer::of_file(config, ANSWER_TIMEOUT)?;
    match command {
        IncidentCommand::Open {
            kind,
            summary,
            by,
            client,
            from,
            to,
            alert,
            identified,
            involved,
        } => {
            let request = IncidentRequest {
                kind: IncidentKind::parse(&kind).map_err(|e| anyhow!("--type: {e}"))?,
                summary,
                by: by.unwrap_or_default(),
                client: client.as_deref().map(client_net).transpose()?,
                from_ms: time(&from, "--from")?,
                to_ms: time(&to, "--to")?,
                alert,
                identified: identified
                    .as_deref()
                    .map(Identified::parse)
                    .transpose()
                    .map_err(|e| anyhow!("--identified: {e}"))?,
                involved,
            };
            let incident: Incident = server.call(AdminRequest::IncidentOpen { request })?;
            println!("incident {} opened: {}", incident.id, incident.kind);
            if let Some(hold) = incident.hold_id {
                println!(
                    "legal hold {hold} keeps the log rows of {} from {} to {}",
                    incident.client.as_deref().unwrap_or("?"),
                    incident.from_ms.map(format_local).unwrap_or_default(),
                    incident.to_ms.map(format_local).unwrap_or_default()
                );
            }
        }
        IncidentCommand::Note { id, by, text } => {
            let _: Incident = server.call(AdminRequest::IncidentNote { id, by, text })?;
            println!("incident {id}: action recorded");
        }
        IncidentCommand::Refer {
            id,
            to,
            by,
            on,
            text,
        } => {
            let agency = Agency::parse(&to).map_err(|e| anyhow!("--to: {e}"))?;
            let referred_ms = time(&on, "--on")?;
            let _: Incident = server.call(AdminRequest::IncidentRefer {
                id,
                agency,
                by,
                referred_ms,
                text,
            })?;
            println!("incident {id}: referral to {agency} recorded");
        }
        IncidentCommand::Close {
            id,
            by,
            conclusion,
            release_hold,
        } => {
            let incident: Incident = server.call(AdminRequest::IncidentClose {
                id,
                by,
                conclusion,
                release_hold,
            })?;
            println!("incident {id} closed");
            match (incident.hold_id, release_hold) {
                (Some(hold), true) => println!("legal hold {hold} released"),
                (Some(hold), false) => println!(
                    "legal hold {hold} stays in force: `hedge logs hold release {hold}` ends it"
                ),
                _ => {}
            }
        }
        IncidentCommand::List { open, output } => {
            let list: Vec<Incident> =
                server.call(AdminRequest::IncidentList { open_only: open })?;
            print_listing(list.into_iter().map(IncidentRow::of), output)?;
        }
        IncidentCommand::Show { id, json } => {
            let record: IncidentRecord = server.call(AdminRequest::IncidentShow { id })?;
            if json {
                let shown = IncidentShown {
                    incident: IncidentRow::of(record.incident.clone()),
                    rows: record.rows.iter().map(EvidenceRow::of).collect(),
                };
                println!("{}", serde_json::to_string_pretty(&shown)?);
            } else {
                print_one(&record)?;
            }
        }
    }
    Ok(())
}

fn state(incident: &Incident) -> &'static str {
    if incident.is_open() { "open" } else { "closed" }
}

fn referrals(incident: &Incident) -> String {
    let list: Vec<&str> = incident.referrals().iter().map(|a| a.as_str()).collect();
    list.join(" ")
}

/// An incident as it is listed: free text made inert (`summary`, the
/// conclusion and the entries' text, in every shape), with its state.
#[derive(Serialize)]
struct IncidentRow {
    #[serde(flatten)]
    incident: Incident,
    state: &'static str,
}

impl IncidentRow {
    fn of(mut incident: Incident) -> IncidentRow {
        incident.summary = inert_text(&incident.summary);
        incident.conclusion = incident.conclusion.as_deref().map(inert_text);
        for entry in &mut incident.entries {
            entry.text = inert_text(&entry.text);
        }
        IncidentRow {
            state: state(&incident),
            incident,
        }
    }
}

impl Listing for IncidentRow {
    const TABLE_HEADERS: &'static [&'static str] = &[
        "ID", "STATE", "TYPE", "OPENED", "BY", "INVOLVED", "REFERRED", "SUMMARY",
    ];
    const CSV_HEADERS: &'static [&'static str] = &[
        "id",
        "state",
        "type",
        "opened",
        "opened_by",
        "identified",
        "involved",
        "summary",
        "referred_to",
        "actions",
        "closed",
        "closed_by",
        "conclusion",
        "legal_hold",
    ];
    const EMPTY: &'static str = "no incidents";

    fn table_cells(&self) -> Vec<String> {
        let i = &self.incident;
        vec![
            i.id.to_string(),
            self.state.into(),
            i.kind.as_str().into(),
            format_local(i.opened_ms),
            i.opened_by.clone(),
            inert_text(&i.involved),
            referrals(i),
            i.summary.clone(),
        ]
    }

    fn csv_cells(&self) -> Vec<String> {
        let i = &self.incident;
        vec![
            i.id.to_string(),
            self.state.into(),
            i.kind.as_str().into(),
            format_rfc3339(i.opened_ms),
            i.opened_by.clone(),
            i.identified.as_str().into(),
            inert_text(&i.involved),
            i.summary.clone(),
            referrals(i),
            i.entries
                .iter()
                .filter(|e| e.agency.is_none())
                .map(|e| format!("{}: {}", e.by, e.text))
                .collect::<Vec<_>>()
                .join(" | "),
            i.closed_ms.map(format_rfc3339).unwrap_or_default(),
            i.closed_by.clone().unwrap_or_default(),
            i.conclusion.clone().unwrap_or_default(),
            i.hold_id.map(|h| h.to_string()).unwrap_or_default(),
        ]
    }
}

/// `hedge incident show --json`: the incident and its evidence rows.
#[derive(Serialize)]
struct IncidentShown<'a> {
    #[serde(flatten)]
    incident: IncidentRow,
    rows: Vec<EvidenceRow<'a>>,
}

/// A log row kept as evidence, its name made inert.
#[derive(Serialize)]
struct EvidenceRow<'a> {
    time: String,
    client: String,
    client_name: &'a Option<String>,
    mac: Option<String>,
    dhcp_name: &'a Option<String>,
    group: &'a Option<String>,
    name: String,
    action: &'static str,
    category: &'a Option<String>,
}

impl EvidenceRow<'_> {
    fn of(row: &StoredQuery) -> EvidenceRow<'_> {
        EvidenceRow {
            time: format_rfc3339(row.at_ms),
            client: row.client.to_string(),
            client_name: &row.client_name,
            mac: row.mac.map(|mac| mac.to_string()),
            dhcp_name: &row.dhcp_name,
            group: &row.group,
            name: inert(&row.name),
            action: row.action.as_str(),
            category: &row.category,
        }
    }
}

fn print_one(record: &IncidentRecord) -> Result<()> {
    let i = &record.incident;
    let mut out = std::io::stdout().lock();
    writeln!(out, "incident {}: {} ({})", i.id, state(i), i.kind)?;
    writeln!(out, "  summary:     {}", inert_text(&i.summary))?;
    writeln!(out, "  involved:    {}", inert_text(&i.involved))?;
    writeln!(out, "  identified:  {}", i.identified)?;
    if let Some(alert) = i.alert_id {
        writeln!(out, "  alert:       {alert}")?;
    }
    writeln!(
        out,
        "  opened:      {} by {} (as {})",
        format_local(i.opened_ms),
        i.opened_by,
        i.opened_user
    )?;
    if let Some(hold) = i.hold_id {
        writeln!(
            out,
            "  legal hold:  {hold}, rows of {} from {} to {}",
            i.client.as_deref().unwrap_or("?"),
            i.from_ms.map(format_local).unwrap_or_default(),
            i.to_ms.map(format_local).unwrap_or_default()
        )?;
    }
    for entry in &i.entries {
        match entry.agency {
            Some(agency) => writeln!(
                out,
                "  {}  referred to {agency} on {} by {}{}",
                format_local(entry.at_ms),
                entry.referred_ms.map(format_local).unwrap_or_default(),
                entry.by,
                if entry.text.is_empty() {
                    String::new()
                } else {
                    format!(": {}", inert_text(&entry.text))
                }
            )?,
            None => writeln!(
                out,
                "  {}  {}: {}",
                format_local(entry.at_ms),
                entry.by,
                inert_text(&entry.text)
            )?,
        }
    }
    if let (Some(at), Some(by)) = (i.closed_ms, &i.closed_by) {
        writeln!(out, "  closed:      {} by {by}", format_local(at))?;
        writeln!(
            out,
            "  conclusion:  {}",
            i.conclusion.as_deref().map(inert_text).unwrap_or_default()
        )?;
    }
    if record.rows.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nlog rows ({}, newest first):", record.rows.len())?;
    let mut table = Table::new(&["TIME", "CLIENT", "ACTION", "NAME", "CATEGORY"]);
    for row in &record.rows {
        table.push(vec![
            format_local(row.at_ms),
            row.who(),
            row.action.as_str().into(),
            inert(&row.name),
            row.category.clone().unwrap_or_default(),
        ]);
    }
    table.print(&mut out)?;
    Ok(())
}
