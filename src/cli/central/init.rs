//! `hedge central init` and `hedge central purge`: the central schema, and
//! its retention.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use super::{CentralTarget, block_on, os_user};
use crate::service::time::format_local;
use crate::store::central::{self, CentralPurge};
use crate::store::now_ms;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Also make the query log's day partitions this many days back (for
    /// sites whose first shipment brings their whole log; they are made on
    /// demand anyway).
    #[arg(long, value_name = "DAYS", default_value_t = 0)]
    pub days_back: u32,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// How many days the centre keeps query-log rows (default: `[central]
    /// retention_days` of -c, else 365).
    #[arg(long, value_name = "DAYS")]
    pub retention_days: Option<u32>,
    /// Count what would go; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn init(target: &CentralTarget, args: InitArgs, config: &Path) -> Result<()> {
    block_on(async {
        let pool = target.connect(config).await?;
        central::init(&pool, now_ms(), args.days_back).await?;
        pool.close().await;
        println!(
            "central store ready: tables, day partitions to a week ahead, roles hedge_site \
             (grant it to each site's login role) and hedge_officer (read-only, for officers)"
        );
        Ok(())
    })
}

pub fn purge(target: &CentralTarget, args: PurgeArgs, config: &Path) -> Result<()> {
    let days = args
        .retention_days
        .or_else(|| target.settings(config).map(|c| c.retention_days))
        .unwrap_or(365);
    if days == 0 {
        anyhow::bail!("--retention-days: at least 1 day");
    }
    block_on(async {
        let pool = target.connect(config).await?;
        let now = now_ms();
        let report: CentralPurge = central::purge(&pool, days, now, args.dry_run).await?;
        if !args.dry_run {
            central::record_access(
                &pool,
                &os_user(),
                "purge",
                &serde_json::json!(report),
                report.deleted,
                now,
            )
            .await?;
        }
        pool.close().await;
        let verb = if args.dry_run {
            "would drop"
        } else {
            "dropped"
        };
        println!(
            "central retention: {days} days; rows from before {} are expired",
            format_local(report.cutoff_ms)
        );
        println!(
            "{verb} {} day partition(s) whole; {} kept for {} held row(s); {} row(s) {}",
            report.partitions_dropped,
            report.partitions_kept,
            report.held,
            report.deleted,
            if args.dry_run {
                "would be deleted"
            } else {
                "deleted"
            }
        );
        Ok(())
    })
}
