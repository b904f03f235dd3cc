//! The central report's table of sites: each site's queries, blocks and
//! alerts in the period beside its state as it last reported it, added
//! after the summary of the report across sites in every format.

use super::{Cell, ExtraTable, ReportFormat, render_with};
use crate::service::inert::inert_text;
use crate::store::central::{CentralReport, SiteState};

/// The report across sites as `format`: the report, with the sites' table
/// after its summary.
pub fn render_central(central: &CentralReport, format: ReportFormat) -> String {
    render_with(&central.report, format, &[site_table(&central.sites)])
}

/// One row per site.
pub fn site_table(sites: &[SiteState]) -> ExtraTable {
    ExtraTable {
        title: "Sites".into(),
        id: "site",
        columns: vec![
            ("Site", "site"),
            ("Queries", "queries"),
            ("Blocked", "blocked"),
            ("Alerts", "alerts"),
            ("Last shipped", "last_shipped"),
            ("Backlog rows", "backlog_rows"),
            ("Oldest unshipped", "backlog_oldest"),
            ("Never shipped", "never_shipped"),
            ("Audit head", "audit_head"),
            ("Audit at the centre", "audit_received"),
            ("Version", "version"),
        ],
        rows: sites.iter().map(row).collect(),
    }
}

fn row(site: &SiteState) -> Vec<Cell> {
    let head = match (&site.audit_head_id, &site.audit_head_hash) {
        (Some(id), Some(hash)) => format!("{id} {hash}"),
        (Some(id), None) => id.to_string(),
        _ => "(none reported)".into(),
    };
    let received = match (&site.audit.first_broken, &site.audit.last) {
        (Some((id, why)), _) => format!("BROKEN at {id}: {why}"),
        (None, Some((id, _))) if Some(*id) == site.audit_head_id => {
            format!("intact, {} rows, up to the head", site.audit.rows)
        }
        (None, Some((id, _))) => format!("intact, {} rows, up to {id}", site.audit.rows),
        (None, None) => "no rows".into(),
    };
    vec![
        Cell::Text(inert_text(&site.site)),
        Cell::Count(site.queries),
        Cell::Count(site.blocked),
        Cell::Count(site.alerts),
        Cell::Time(site.last_shipped_ms),
        Cell::Count(site.backlog_rows),
        Cell::Time(site.backlog_oldest_ms),
        Cell::Count(site.never_shipped),
        Cell::Text(head),
        Cell::Text(received),
        Cell::Text(site.version.clone().unwrap_or_default()),
    ]
}
