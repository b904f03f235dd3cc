//! `hedge central search`: the query log of every site (or one), with the
//! filters of `hedge logs search`, newest first; a table, or an export
//! (JSON or CSV) with the site as its first column. Recorded at the
//! centre, before any row is printed, under the PostgreSQL role and the
//! OS account: as a search (a table) or an export (JSON, CSV).

use std::path::Path;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use super::{CentralTarget, block_on, os_user};
use crate::cli::logs::{QueryRow, SearchArgs, unchecked_filter};
use crate::cli::output::{Listing, OutputFormat, print_listing};
use crate::store::central::{self, CentralFilter, CentralQuery};
use crate::store::now_ms;

#[derive(Debug, Args)]
pub struct CentralSearchArgs {
    /// Only this site, as it ships ([central] site).
    #[arg(long)]
    site: Option<String>,
    #[command(flatten)]
    search: SearchArgs,
}

pub fn run(target: &CentralTarget, args: CentralSearchArgs, config: &Path) -> Result<()> {
    let filter = CentralFilter {
        site: args.site,
        filter: unchecked_filter(&args.search)?,
    };
    filter.check()?;
    let output = args.search.output();
    let kind = match output.format() {
        OutputFormat::Table => "search",
        OutputFormat::Json | OutputFormat::Csv => "export",
    };
    let rows = block_on(async {
        let pool = target.connect(config).await?;
        let result = async {
            if let Some(site) = &filter.site {
                central::known_site(&pool, site).await?;
            }
            let rows = central::search(&pool, &filter).await?;
            let filters = serde_json::json!({
                "format": format!("{:?}", output.format()).to_lowercase(),
                "site": filter.site,
                "filter": filter.filter,
            });
            central::record_access(
                &pool,
                &os_user(),
                kind,
                &filters,
                rows.len() as u64,
                now_ms(),
            )
            .await?;
            Ok::<_, anyhow::Error>(rows)
        }
        .await;
        pool.close().await;
        result
    })?;
    print_listing(rows.into_iter().map(SiteQueryRow::from), output)?;
    Ok(())
}

/// A row of the central query log: the site, then the row as `hedge logs
/// search` prints it.
#[derive(Serialize)]
struct SiteQueryRow {
    site: String,
    #[serde(flatten)]
    row: QueryRow,
}

impl From<CentralQuery> for SiteQueryRow {
    fn from(query: CentralQuery) -> SiteQueryRow {
        SiteQueryRow {
            site: query.site,
            row: QueryRow::from(query.query),
        }
    }
}

impl Listing for SiteQueryRow {
    const TABLE_HEADERS: &'static [&'static str] = &[
        "SITE", "TIME", "CLIENT", "GROUP", "ACTION", "TYPE", "NAME", "CATEGORY", "RULE", "TIMES",
    ];
    const CSV_HEADERS: &'static [&'static str] = &[
        "site",
        "time",
        "client",
        "client_name",
        "group",
        "name",
        "type",
        "action",
        "category",
        "rule",
        "rcode",
        "upstream_ms",
        "times",
        "last_time",
        "mac",
        "dhcp_name",
    ];
    const EMPTY: &'static str = "no central query-log rows match";

    fn table_cells(&self) -> Vec<String> {
        let mut cells = vec![self.site.clone()];
        cells.extend(self.row.table_cells());
        cells
    }

    fn csv_cells(&self) -> Vec<String> {
        let mut cells = vec![self.site.clone()];
        cells.extend(self.row.csv_cells());
        cells
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_columns_are_the_local_ones_after_the_site() {
        assert_eq!(SiteQueryRow::TABLE_HEADERS[0], "SITE");
        assert_eq!(&SiteQueryRow::TABLE_HEADERS[1..], QueryRow::TABLE_HEADERS);
        assert_eq!(SiteQueryRow::CSV_HEADERS[0], "site");
        assert_eq!(&SiteQueryRow::CSV_HEADERS[1..], QueryRow::CSV_HEADERS);
    }
}
