//! `hedge exempt`: asking for, approving, rejecting and revoking
//! exemptions, and listing them for review. Every change goes through the
//! running server, which checks the rules and records it in the audit
//! trail with the OS user who ran the command.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::output::{Listing, OutputFlags, print_listing};
use super::running_server::RunningServer;
use super::time::{parse_age, parse_time};
use crate::admin::AdminRequest;
use crate::policy::{Exemption, ExemptionKind, ExemptionScope, NewExemption};
use crate::service::time::{format_local, format_rfc3339};
use crate::store::ExemptionSelection;

const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Subcommand)]
pub enum ExemptCommand {
    /// File a request for an exemption; it waits for an approver.
    Request(RequestArgs),
    /// File and approve in one step (the approver's roster entry must
    /// allow it; the requester is still a different person).
    Add {
        #[command(flatten)]
        request: RequestArgs,
        /// You, an approver on the [[approvers]] roster: the person your OS
        /// account acts as (optional; naming anyone else is refused).
        #[arg(long, value_name = "APPROVER")]
        by: Option<String>,
    },
    /// Approve a pending request: in force within a second.
    Approve {
        id: i64,
        #[arg(long, value_name = "APPROVER")]
        by: Option<String>,
    },
    /// Reject a pending request, saying why.
    Reject {
        id: i64,
        #[arg(long, value_name = "APPROVER")]
        by: Option<String>,
        #[arg(long)]
        reason: String,
    },
    /// End an exemption now (or withdraw a pending request).
    Revoke {
        id: i64,
        #[arg(long, value_name = "PERSON")]
        by: Option<String>,
        #[arg(long)]
        reason: String,
    },
    /// Exemptions, newest first (every one unless a filter is given). The
    /// CSV is the report for the local cluster.
    List {
        /// Approved and not yet ended.
        #[arg(long, group = "which")]
        active: bool,
        /// Waiting for an approver.
        #[arg(long, group = "which")]
        pending: bool,
        /// Approved and ended.
        #[arg(long, group = "which")]
        expired: bool,
        #[command(flatten)]
        output: OutputFlags,
    },
    /// Everything about one exemption.
    Show { id: i64 },
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The name to allow; it covers every name below it.
    #[arg(required_unless_present = "bypass", conflicts_with = "bypass")]
    name: Option<String>,
    /// Lift filtering entirely (every non-mandatory category) instead.
    #[arg(long)]
    bypass: bool,
    /// For every client of this group...
    #[arg(long, required_unless_present = "client", conflicts_with = "client")]
    group: Option<String>,
    /// ...or for this one client address.
    #[arg(long, value_name = "IP")]
    client: Option<IpAddr>,
    /// Why, in a few words (it is kept, and reported).
    #[arg(long)]
    reason: String,
    /// The member of staff asking, when you file it for them (a request
    /// received on paper or by email): a person on record. Default: you.
    #[arg(long, value_name = "PERSON")]
    requested_by: Option<String>,
    /// From this time (default now): 2026-03-02, "2026-03-02 09:00",
    /// RFC 3339, or +2h / +3d (2h, 3d) from now.
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Until this time (same forms).
    #[arg(long, value_name = "TIME")]
    until: String,
}

/// A time given for the future: `+2h` (from now) or any form `parse_time`
/// reads.
fn future_time(text: &str, option: &str) -> Result<i64> {
    let text = text.trim();
    // An age here means from now on: `+2h` and `2h` alike.
    let age = text.strip_prefix('+').unwrap_or(text);
    let stamp = match parse_age(age).ok().map(|_| age) {
        Some(age) => {
            let age = parse_age(age).map_err(|e| anyhow::anyhow!("{option}: {e}"))?;
            jiff::Timestamp::now()
                .checked_add(age)
                .map_err(|e| anyhow::anyhow!("{option}: {e}"))?
        }
        None => parse_time(text).map_err(|e| anyhow::anyhow!("{option}: {e}"))?,
    };
    Ok(stamp.as_millisecond())
}

fn new_exemption(args: &RequestArgs) -> Result<NewExemption> {
    let name = match &args.name {
        Some(name) => Some(crate::config::normalize(name).map_err(|problem| {
            anyhow::anyhow!("{name:?} is not a name hedge can exempt: {problem}")
        })?),
        None => None,
    };
    let scope = match (&args.group, args.client) {
        (Some(group), None) => ExemptionScope::Group(group.clone()),
        (None, Some(ip)) => ExemptionScope::Client(ip.to_canonical()),
        _ => bail!("give either --group or --client"),
    };
    let from_ms = match &args.from {
        Some(from) => future_time(from, "--from")?,
        None => jiff::Timestamp::now().as_millisecond(),
    };
    Ok(NewExemption {
        kind: if args.bypass {
            ExemptionKind::Bypass
        } else {
            ExemptionKind::Site
        },
        name,
        scope,
        reason: args.reason.clone(),
        // Empty: the caller's own person (the server knows who that is).
        requested_by: args.requested_by.clone().unwrap_or_default(),
        from_ms,
        until_ms: future_time(&args.until, "--until")?,
    })
}

pub fn run(command: ExemptCommand, config: &Path) -> Result<()> {
    let server = RunningServer::of_file(config, ANSWER_TIMEOUT)?;
    match command {
        ExemptCommand::Request(args) => {
            let request = new_exemption(&args)?;
            let e: Exemption = server.call(AdminRequest::ExemptRequest { request })?;
            println!(
                "exemption {} filed: {} for {}, {} to {}",
                e.id,
                e.what(),
                e.scope,
                format_local(e.from_ms),
                format_local(e.until_ms)
            );
            if let Some(filer) = &e.filed_by {
                println!("filed by {filer} for {}", e.requested_by);
            }
            println!(
                "it waits for an approver (someone other than {}): hedge exempt approve {}",
                e.requested_by, e.id
            );
        }
        ExemptCommand::Add { request, by } => {
            let new = new_exemption(&request)?;
            let e: Exemption = server.call(AdminRequest::ExemptAdd { request: new, by })?;
            print_decided(&e);
        }
        ExemptCommand::Approve { id, by } => {
            let e: Exemption = server.call(AdminRequest::ExemptApprove { id, by })?;
            print_decided(&e);
        }
        ExemptCommand::Reject { id, by, reason } => {
            let e: Exemption = server.call(AdminRequest::ExemptReject { id, by, reason })?;
            println!(
                "exemption {} rejected by {}",
                e.id,
                e.decided_by.unwrap_or_default()
            );
        }
        ExemptCommand::Revoke { id, by, reason } => {
            let e: Exemption = server.call(AdminRequest::ExemptRevoke { id, by, reason })?;
            println!(
                "exemption {} revoked: {} for {} is filtered again",
                e.id,
                e.what(),
                e.scope
            );
        }
        ExemptCommand::List {
            active,
            pending,
            expired,
            output,
        } => {
            let selection = if active {
                ExemptionSelection::Active
            } else if pending {
                ExemptionSelection::Pending
            } else if expired {
                ExemptionSelection::Expired
            } else {
                ExemptionSelection::All
            };
            let list: Vec<Exemption> = server.call(AdminRequest::ExemptList { selection })?;
            let now = jiff::Timestamp::now().as_millisecond();
            print_listing(list.iter().map(|e| ExemptionRow::at(e, now)), output)?;
        }
        ExemptCommand::Show { id } => {
            let e: Exemption = server.call(AdminRequest::ExemptShow { id })?;
            print_one(&e);
        }
    }
    Ok(())
}

fn print_decided(e: &Exemption) {
    println!(
        "exemption {} approved by {}: {} for {}, in force from {} until {}",
        e.id,
        e.decided_by.as_deref().unwrap_or("?"),
        e.what(),
        e.scope,
        format_local(e.from_ms),
        format_local(e.until_ms)
    );
}

fn scope_text(scope: &ExemptionScope) -> String {
    match scope {
        ExemptionScope::Group(group) => format!("group:{group}"),
        ExemptionScope::Client(ip) => format!("client:{ip}"),
    }
}

/// An exemption as `hedge exempt list` prints it: with its state at the
/// time of listing and its period in RFC 3339 (JSON adds `state`, `from`
/// and `until` to the stored fields).
#[derive(Serialize)]
struct ExemptionRow<'a> {
    #[serde(flatten)]
    exemption: &'a Exemption,
    state: &'static str,
    from: String,
    until: String,
}

impl ExemptionRow<'_> {
    fn at(exemption: &Exemption, now_ms: i64) -> ExemptionRow<'_> {
        ExemptionRow {
            exemption,
            state: exemption.state(now_ms),
            from: format_rfc3339(exemption.from_ms),
            until: format_rfc3339(exemption.until_ms),
        }
    }
}

impl Listing for ExemptionRow<'_> {
    const TABLE_HEADERS: &'static [&'static str] = &[
        "ID", "STATE", "WHAT", "FOR", "FROM", "UNTIL", "ASKED BY", "APPROVER", "REASON",
    ];
    const CSV_HEADERS: &'static [&'static str] = &[
        "id",
        "state",
        "kind",
        "name",
        "scope",
        "from",
        "until",
        "reason",
        "requested_by",
        "requested",
        "approver",
        "decided",
        "decision_reason",
        "revoked_by",
        "revoked",
        "revoke_reason",
    ];
    const EMPTY: &'static str = "no exemptions";

    fn table_cells(&self) -> Vec<String> {
        let e = self.exemption;
        vec![
            e.id.to_string(),
            self.state.to_string(),
            e.name.clone().unwrap_or_else(|| "BYPASS".into()),
            scope_text(&e.scope),
            format_local(e.from_ms),
            format_local(e.until_ms),
            e.requested_by.clone(),
            e.decided_by.clone().unwrap_or_default(),
            e.reason.clone(),
        ]
    }

    fn csv_cells(&self) -> Vec<String> {
        let e = self.exemption;
        vec![
            e.id.to_string(),
            self.state.to_string(),
            if e.kind == ExemptionKind::Bypass {
                "bypass"
            } else {
                "site"
            }
            .to_string(),
            e.name.clone().unwrap_or_default(),
            scope_text(&e.scope),
            self.from.clone(),
            self.until.clone(),
            e.reason.clone(),
            e.requested_by.clone(),
            format_rfc3339(e.requested_ms),
            e.decided_by.clone().unwrap_or_default(),
            e.decided_ms.map(format_rfc3339).unwrap_or_default(),
            e.decision_reason.clone().unwrap_or_default(),
            e.revoked_by.clone().unwrap_or_default(),
            e.revoked_ms.map(format_rfc3339).unwrap_or_default(),
            e.revoke_reason.clone().unwrap_or_default(),
        ]
    }
}

fn print_one(e: &Exemption) {
    let now = jiff::Timestamp::now().as_millisecond();
    println!("exemption {}: {}", e.id, e.state(now));
    println!("  allows:       {}", e.what());
    println!("  for:          {}", e.scope);
    println!("  from:         {}", format_local(e.from_ms));
    println!("  until:        {}", format_local(e.until_ms));
    println!("  reason:       {}", e.reason);
    println!(
        "  asked by:     {} (as {}, {})",
        e.requested_by,
        e.requested_user,
        format_local(e.requested_ms)
    );
    if let Some(filer) = &e.filed_by {
        println!("  filed by:     {filer}, on their behalf");
    }
    if let (Some(by), Some(at)) = (&e.decided_by, e.decided_ms) {
        let verb = match e.status {
            crate::policy::ExemptionStatus::Approved | crate::policy::ExemptionStatus::Revoked => {
                "approved"
            }
            crate::policy::ExemptionStatus::Rejected => "rejected",
            crate::policy::ExemptionStatus::Pending => "decided",
        };
        println!(
            "  {verb} by:  {by} (as {}, {})",
            e.decided_user.as_deref().unwrap_or("?"),
            format_local(at)
        );
    }
    if e.status == crate::policy::ExemptionStatus::Approved
        && e.decided_user.as_deref() == Some(e.requested_user.as_str())
    {
        println!(
            "  note:         filed and approved from the same OS account ({})",
            e.requested_user
        );
    }
    if let Some(reason) = &e.decision_reason {
        println!("  because:      {reason}");
    }
    if let (Some(by), Some(at)) = (&e.revoked_by, e.revoked_ms) {
        println!(
            "  revoked by:   {by} (as {}, {})",
            e.revoked_user.as_deref().unwrap_or("?"),
            format_local(at)
        );
        if let Some(reason) = &e.revoke_reason {
            println!("  revoked as:   {reason}");
        }
    }
    if let Some(at) = e.expiry_recorded_ms {
        println!("  end recorded: {}", format_local(at));
    }
}
