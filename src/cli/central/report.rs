//! `hedge central report`: the report `hedge report` gives of one site,
//! gathered from the central store across every site (or one), with a
//! table of the sites and their shipping state; recorded at the centre as
//! an access.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use clap::Args;

use super::{CentralTarget, block_on, os_user};
use crate::cli::report::{end_time, write_private};
use crate::cli::time::parse_time;
use crate::config::Config;
use crate::service::report::{ReportFormat, render_central};
use crate::store::central::{self, CentralReportContext, CentralReportRequest};
use crate::store::now_ms;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The start (RFC 3339, a date meaning local midnight, or an age such
    /// as 7d); default: 7 days ago.
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// The end, not included; a date alone means the end of that day.
    /// Default: now.
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// Only this site's records (default: every site's).
    #[arg(long, value_name = "SITE")]
    site: Option<String>,
    /// The shape: text (the default), csv, or html.
    #[arg(long, value_enum, default_value = "text")]
    format: ReportFormat,
    /// Write the report to this file (mode 0640) instead of printing it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn report(target: &CentralTarget, args: ReportArgs, config: &Path) -> Result<()> {
    let now = now_ms();
    let from_ms = match &args.from {
        Some(text) => parse_time(text)
            .map_err(|e| anyhow!("--from: {e}"))?
            .as_millisecond(),
        None => now - 7 * 86_400_000,
    };
    let to_ms = match &args.to {
        Some(text) => end_time(text).map_err(|e| anyhow!("--to: {e}"))?,
        None => now,
    };
    if to_ms <= from_ms {
        bail!("--to must be after --from");
    }
    let request = CentralReportRequest {
        from_ms,
        to_ms,
        site: args.site.clone(),
        time_zone: jiff::tz::TimeZone::system().iana_name().map(str::to_string),
    };
    // The safeguarding categories of -c's catalogue, else hedge's own.
    let loaded = Config::load(config).ok();
    let catalogue = loaded
        .as_ref()
        .map(|c| c.lists.catalogue.clone())
        .unwrap_or_else(crate::config::catalogue::built_in);
    let context = CentralReportContext {
        safeguarding: catalogue
            .safeguarding()
            .iter()
            .map(|id| catalogue.get(id).id.clone())
            .collect(),
        retention_days: loaded
            .and_then(|c| c.central)
            .map_or(365, |c| c.retention_days),
    };
    let gathered = block_on(async {
        let pool = target.connect(config).await?;
        let gathered = central::report(&pool, &request, &context).await?;
        central::record_access(
            &pool,
            &os_user(),
            "report",
            &serde_json::json!({ "request": request, "format": args.format }),
            gathered.report.totals.queries,
            now_ms(),
        )
        .await?;
        pool.close().await;
        anyhow::Ok(gathered)
    })?;
    let text = render_central(&gathered, args.format);
    match &args.out {
        Some(path) => {
            write_private(path, text.as_bytes())?;
            eprintln!("report written to {}", path.display());
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}
