//! `hedge logs hold`: legal holds that keep a client's rows past retention.

use anyhow::Result;
use clap::Subcommand;
use serde::Serialize;

use super::{client_net, time_ms};
use crate::admin::AdminRequest;
use crate::cli::output::{Listing, OutputFlags, print_listing};
use crate::cli::running_server::RunningServer;
use crate::policy::HoldRequest;
use crate::service::time::{format_local, format_rfc3339};
use crate::store::LegalHold;

#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Keep every row of a client (an address or network) in a period
    /// until the hold is released, whatever retention says.
    Add {
        /// The client's address or network, e.g. 10.1.2.34 or 10.1.2.0/24.
        #[arg(long, value_name = "CIDR")]
        client: String,
        /// Start of the period (RFC 3339, a date, or an age such as 30d).
        #[arg(long, value_name = "TIME")]
        from: String,
        /// End of the period; a time in the future also keeps rows yet to
        /// come.
        #[arg(long, value_name = "TIME")]
        to: String,
        /// Why: an investigation reference, in a few words.
        #[arg(long)]
        reason: String,
        /// You: the person your OS account acts as (optional; naming anyone
        /// else is refused).
        #[arg(long, value_name = "PERSON")]
        by: Option<String>,
    },
    /// Holds in force (and released ones with --all).
    List {
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        output: OutputFlags,
    },
    /// Release a hold: its rows then age out under retention.
    Release {
        id: i64,
        #[arg(long, value_name = "PERSON")]
        by: Option<String>,
        #[arg(long)]
        reason: String,
    },
}

pub(super) fn run(command: HoldCommand, server: &RunningServer) -> Result<()> {
    match command {
        HoldCommand::Add {
            client,
            from,
            to,
            reason,
            by,
        } => {
            let hold = HoldRequest {
                client: client_net(&client)?,
                from_ms: time_ms(&from, "--from")?,
                to_ms: time_ms(&to, "--to")?,
                reason,
                // Empty: the caller's own person (the server checks it).
                by: by.unwrap_or_default(),
            };
            crate::policy::holds::check_period(hold.from_ms, hold.to_ms)
                .map_err(anyhow::Error::msg)?;
            let placed: LegalHold = server.call(AdminRequest::HoldAdd { hold })?;
            println!(
                "legal hold {} placed: rows of {} from {} to {} are kept until it is released",
                placed.id,
                placed.client,
                format_local(placed.from_ms),
                format_local(placed.to_ms)
            );
        }
        HoldCommand::List { all, output } => {
            let holds: Vec<LegalHold> = server.call(AdminRequest::HoldList { all })?;
            print_listing(holds.iter().map(HoldRow::of), output)?;
        }
        HoldCommand::Release { id, by, reason } => {
            let released: LegalHold = server.call(AdminRequest::HoldRelease { id, by, reason })?;
            println!(
                "legal hold {} on {} released: its rows now age out under retention",
                released.id, released.client
            );
        }
    }
    Ok(())
}

/// A hold as listed (JSON adds `from`, `to` and `placed` in RFC 3339 to
/// the stored fields).
#[derive(Serialize)]
struct HoldRow<'a> {
    #[serde(flatten)]
    hold: &'a LegalHold,
    from: String,
    to: String,
    placed: String,
}

impl HoldRow<'_> {
    fn of(hold: &LegalHold) -> HoldRow<'_> {
        HoldRow {
            hold,
            from: format_rfc3339(hold.from_ms),
            to: format_rfc3339(hold.to_ms),
            placed: format_rfc3339(hold.placed_ms),
        }
    }

    /// "in force", or when, by whom and why it was released.
    fn status(&self) -> String {
        let h = self.hold;
        match h.released_ms {
            Some(ms) => format!(
                "released {} by {} ({})",
                format_local(ms),
                h.released_by.as_deref().unwrap_or("?"),
                h.release_reason.as_deref().unwrap_or("")
            ),
            None => "in force".into(),
        }
    }
}

impl Listing for HoldRow<'_> {
    const TABLE_HEADERS: &'static [&'static str] = &[
        "ID",
        "CLIENT",
        "FROM",
        "TO",
        "PLACED BY",
        "STATUS",
        "REASON",
    ];
    const CSV_HEADERS: &'static [&'static str] = &[
        "id",
        "client",
        "from",
        "to",
        "reason",
        "placed_by",
        "placed_user",
        "placed",
        "released",
        "released_by",
        "release_reason",
    ];
    const EMPTY: &'static str = "no legal holds";

    fn table_cells(&self) -> Vec<String> {
        let h = self.hold;
        vec![
            h.id.to_string(),
            h.client.clone(),
            format_local(h.from_ms),
            format_local(h.to_ms),
            format!("{} ({})", h.placed_by, h.placed_user),
            self.status(),
            h.reason.clone(),
        ]
    }

    fn csv_cells(&self) -> Vec<String> {
        let h = self.hold;
        vec![
            h.id.to_string(),
            h.client.clone(),
            self.from.clone(),
            self.to.clone(),
            h.reason.clone(),
            h.placed_by.clone(),
            h.placed_user.clone(),
            self.placed.clone(),
            h.released_ms.map(format_rfc3339).unwrap_or_default(),
            h.released_by.clone().unwrap_or_default(),
            h.release_reason.clone().unwrap_or_default(),
        ]
    }
}
