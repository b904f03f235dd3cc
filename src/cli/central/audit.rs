//! `hedge central audit verify`: recompute a site's audit chain as shipped
//! to the centre, and compare its end with the hash `hedge audit verify`
//! printed at the site.

use std::path::Path;

use anyhow::{Result, bail};
use clap::Subcommand;

use super::{CentralTarget, block_on, os_user};
use crate::service::time::format_local;
use crate::store::central::{self, CentralChainCheck, Expected};
use crate::store::now_ms;

#[derive(Debug, Subcommand)]
pub enum CentralAuditCommand {
    /// Recompute one site's shipped audit chain; name the first row that
    /// does not match. Exit code 1 if any does, or if the chain does not
    /// reach --expect-hash.
    Verify {
        /// The site, as it ships ([central] site).
        #[arg(long)]
        site: String,
        /// The hash `hedge audit verify` printed at the site ("last row:
        /// N, hash H"): the shipped chain must reach it.
        #[arg(long, value_name = "HASH")]
        expect_hash: Option<String>,
    },
}

pub fn run(target: &CentralTarget, command: CentralAuditCommand, config: &Path) -> Result<()> {
    let CentralAuditCommand::Verify { site, expect_hash } = command;
    let check = block_on(async {
        let pool = target.connect(config).await?;
        let result = async {
            let check = central::verify_audit(&pool, &site, expect_hash.as_deref()).await?;
            let filters = serde_json::json!({ "site": site, "expect_hash": expect_hash });
            central::record_access(&pool, &os_user(), "audit", &filters, check.rows, now_ms())
                .await?;
            Ok::<_, anyhow::Error>(check)
        }
        .await;
        pool.close().await;
        result
    })?;
    report(&check)
}

/// Prints the outcome; an error when the chain is broken or does not reach
/// the expected hash.
fn report(check: &CentralChainCheck) -> Result<()> {
    let site = &check.site;
    match (&check.reported_head, check.last_shipped_ms) {
        (Some((id, hash)), Some(at)) => println!(
            "site {site} reported its newest audit row as {id}, hash {hash} (last shipped {})",
            format_local(at)
        ),
        (Some((id, hash)), None) => {
            println!("site {site} reported its newest audit row as {id}, hash {hash}")
        }
        (None, _) => println!("site {site} has not reported an audit row yet"),
    }
    if let Some(broken) = &check.first_broken {
        bail!(
            "site {site}: shipped audit trail BROKEN at row {} ({}): {}; rows before it verify, rows from it on cannot be trusted",
            broken.id,
            format_local(broken.at_ms),
            broken.why
        );
    }
    println!(
        "site {site}: shipped audit trail intact: {} rows, every hash matches",
        check.rows
    );
    if let Some((id, hash)) = &check.last {
        println!("last row: {id}, hash {hash}");
    }
    let last_id = check.last.as_ref().map_or(0, |(id, _)| *id);
    match &check.expected {
        None => Ok(()),
        Some(Expected::Ends) => {
            println!(
                "the shipped chain ends at the expected hash: the centre holds the site's trail up to that row"
            );
            Ok(())
        }
        Some(Expected::Passes { id, later }) => {
            println!(
                "the expected hash is row {id}'s: the centre holds the site's trail up to it, and {later} later row(s) the site has recorded since"
            );
            Ok(())
        }
        Some(Expected::Behind) => bail!(
            "site {site}: the expected hash is not in the shipped chain (rows 1 to {last_id}): not yet shipped up to that row; let the site ship, then verify again"
        ),
        Some(Expected::Differs) => bail!(
            "site {site}: the expected hash is not in the shipped chain (rows 1 to {last_id}), though the centre holds every row the site last reported: the chain at the centre differs from the site's (or the site recorded that row after it last shipped)"
        ),
    }
}
