//! `hedge logs access`: who searched or exported the query log.

use anyhow::Result;
use serde::Serialize;

use super::time_ms;
use crate::admin::AdminRequest;
use crate::cli::output::{Listing, OutputFlags, print_listing};
use crate::cli::running_server::RunningServer;
use crate::service::time::{format_local, format_rfc3339};
use crate::store::AccessRecord;

pub(super) fn run(
    server: &RunningServer,
    since: Option<&str>,
    limit: u64,
    output: OutputFlags,
) -> Result<()> {
    let since_ms = match since {
        Some(text) => time_ms(text, "--since")?,
        None => jiff::Timestamp::now().as_millisecond() - 30 * 86_400_000,
    };
    let records: Vec<AccessRecord> = server.call(AdminRequest::LogAccess { since_ms, limit })?;
    print_listing(records.iter().map(AccessRow::of), output)?;
    Ok(())
}

/// A record of an access as listed: its time in RFC 3339, and in JSON the
/// filters as JSON rather than text.
#[derive(Serialize)]
struct AccessRow<'a> {
    id: i64,
    at_ms: i64,
    time: String,
    os_user: &'a str,
    uid: u32,
    kind: &'a str,
    filters: serde_json::Value,
    rows: u64,
    /// The filters as stored, for the table and CSV.
    #[serde(skip)]
    filters_text: &'a str,
}

impl AccessRow<'_> {
    fn of(record: &AccessRecord) -> AccessRow<'_> {
        AccessRow {
            id: record.id,
            at_ms: record.at_ms,
            time: format_rfc3339(record.at_ms),
            os_user: &record.os_user,
            uid: record.uid,
            kind: &record.kind,
            filters: serde_json::from_str(&record.filters).unwrap_or(serde_json::Value::Null),
            rows: record.rows,
            filters_text: &record.filters,
        }
    }
}

impl Listing for AccessRow<'_> {
    const TABLE_HEADERS: &'static [&'static str] = &["TIME", "USER", "KIND", "ROWS", "FILTERS"];
    const CSV_HEADERS: &'static [&'static str] =
        &["time", "user", "uid", "kind", "rows", "filters"];
    const EMPTY: &'static str = "nobody searched the query log in that period";

    fn table_cells(&self) -> Vec<String> {
        vec![
            format_local(self.at_ms),
            self.os_user.to_string(),
            self.kind.to_string(),
            self.rows.to_string(),
            self.filters_text.to_string(),
        ]
    }

    fn csv_cells(&self) -> Vec<String> {
        vec![
            self.time.clone(),
            self.os_user.to_string(),
            self.uid.to_string(),
            self.kind.to_string(),
            self.rows.to_string(),
            self.filters_text.to_string(),
        ]
    }
}
