//! `hedge central hold`: legal holds at the centre, which keep a client's
//! rows of one site past the central retention.

use std::path::Path;

use anyhow::Result;
use clap::Subcommand;
use serde::Serialize;

use super::{CentralTarget, block_on, os_user};
use crate::cli::logs::{client_net, time_ms};
use crate::cli::output::{Listing, OutputFlags, print_listing};
use crate::service::time::{format_local, format_rfc3339};
use crate::store::central::{self, CentralHold, CentralHoldRequest};
use crate::store::now_ms;

#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Keep every row of a client (an address or network) of one site in
    /// a period until the hold is released. Recorded under your
    /// PostgreSQL role and OS account.
    Add {
        /// The site, as it ships ([central] site).
        #[arg(long)]
        site: String,
        /// The client's address or network, e.g. 10.1.2.34 or 10.1.2.0/24.
        #[arg(long, value_name = "CIDR")]
        client: String,
        /// Start of the period (RFC 3339, a date, or an age such as 30d).
        #[arg(long, value_name = "TIME")]
        from: String,
        /// End of the period.
        #[arg(long, value_name = "TIME")]
        to: String,
        /// Why: an investigation reference, in a few words.
        #[arg(long)]
        reason: String,
    },
    /// Holds in force (and released ones with --all), of one site or all.
    List {
        #[arg(long)]
        site: Option<String>,
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        output: OutputFlags,
    },
    /// Release a hold: its rows then age out under the central retention.
    Release {
        id: i64,
        #[arg(long)]
        site: String,
        #[arg(long)]
        reason: String,
    },
}

pub fn run(target: &CentralTarget, command: HoldCommand, config: &Path) -> Result<()> {
    block_on(async {
        let pool = target.connect(config).await?;
        let result = apply(&pool, command).await;
        pool.close().await;
        result
    })
}

async fn apply(pool: &sqlx::PgPool, command: HoldCommand) -> Result<()> {
    match command {
        HoldCommand::Add {
            site,
            client,
            from,
            to,
            reason,
        } => {
            let request = CentralHoldRequest {
                site,
                client: client_net(&client)?,
                from_ms: time_ms(&from, "--from")?,
                to_ms: time_ms(&to, "--to")?,
                reason,
            };
            let hold = central::place_hold(pool, &request, &os_user(), now_ms()).await?;
            println!(
                "central hold {} placed on site {}: rows of {} from {} to {} are kept until it is released",
                hold.id,
                hold.site,
                hold.client_net,
                format_local(hold.from_ms),
                format_local(hold.to_ms)
            );
        }
        HoldCommand::List { site, all, output } => {
            let holds = central::holds(pool, site.as_deref(), all).await?;
            print_listing(holds.iter().map(HoldRow::of), output)?;
        }
        HoldCommand::Release { id, site, reason } => {
            let hold =
                central::release_hold(pool, &site, id, &reason, &os_user(), now_ms()).await?;
            println!(
                "central hold {} on site {} ({}) released: its rows now age out under the central retention",
                hold.id, hold.site, hold.client_net
            );
        }
    }
    Ok(())
}

/// A central hold as listed (JSON adds the times in RFC 3339).
#[derive(Serialize)]
struct HoldRow<'a> {
    #[serde(flatten)]
    hold: &'a CentralHold,
    from: String,
    to: String,
    placed: String,
}

impl HoldRow<'_> {
    fn of(hold: &CentralHold) -> HoldRow<'_> {
        HoldRow {
            hold,
            from: format_rfc3339(hold.from_ms),
            to: format_rfc3339(hold.to_ms),
            placed: format_rfc3339(hold.placed_ms),
        }
    }

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
        "SITE",
        "ID",
        "CLIENT",
        "FROM",
        "TO",
        "PLACED BY",
        "STATUS",
        "REASON",
    ];
    const CSV_HEADERS: &'static [&'static str] = &[
        "site",
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
    const EMPTY: &'static str = "no central holds";

    fn table_cells(&self) -> Vec<String> {
        let h = self.hold;
        vec![
            h.site.clone(),
            h.id.to_string(),
            h.client_net.clone(),
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
            h.site.clone(),
            h.id.to_string(),
            h.client_net.clone(),
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
