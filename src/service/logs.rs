//! The query log: searching it (every search recorded before a row is
//! read), purging what is past retention, and who has searched it; and
//! a row as its CSV export writes it, the same from the command line and
//! the console.

use hickory_proto::rr::RecordType;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::time::format_rfc3339;
use super::{Actor, Service, ServiceError};
use crate::store::{
    AccessKind, AccessRecord, Database, LogFilter, PurgeReport, StoreError, StoredQuery, now_ms,
};

/// Rows per batch of a search's answer.
const SEARCH_CHUNK: usize = 500;

/// A search under way: its rows come in batches from [`Search::next`];
/// [`Search::finish`] records how many went out. The access was recorded
/// before the first row was read.
pub struct Search {
    database: Database,
    access: i64,
    rows: mpsc::Receiver<Vec<StoredQuery>>,
    reader: JoinHandle<Result<u64, StoreError>>,
    sent: u64,
}

impl Search {
    /// The next batch of rows, oldest first; `None` when there are no more.
    pub async fn next(&mut self) -> Option<Vec<StoredQuery>> {
        let rows = self.rows.recv().await?;
        self.sent += rows.len() as u64;
        Some(rows)
    }

    /// Ends the search (all rows read, or the reader gone away): records how
    /// many rows went out, and returns how many the search found, or its
    /// error.
    pub async fn finish(self) -> Result<u64, ServiceError> {
        let Search {
            database,
            access,
            rows,
            reader,
            sent,
        } = self;
        drop(rows);
        let result = match reader.await {
            Ok(result) => result,
            Err(error) => Err(StoreError::Invalid(format!("the search failed: {error}"))),
        };
        database.finish_access(access, sent).await?;
        Ok(result?)
    }
}

/// The columns of a query-log CSV export (`hedge logs search --csv`, the
/// console's download).
pub const CSV_HEADERS: &[&str] = &[
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

/// One row's cells under [`CSV_HEADERS`]: times in RFC 3339, the type and
/// response code by name, the upstream time in milliseconds, the name as
/// asked (a spreadsheet is evidence, not a page to click), the client's
/// configured name, and the device's MAC address and the name it gave
/// DHCP (its own choice, so in a column of its own) where known.
pub fn csv_cells(query: &StoredQuery) -> Vec<String> {
    vec![
        format_rfc3339(query.at_ms),
        query.client.to_string(),
        query.client_name.clone().unwrap_or_default(),
        query.group.clone().unwrap_or_default(),
        query.name.clone(),
        type_name(query.qtype),
        query.action.to_string(),
        query.category.clone().unwrap_or_default(),
        query.rule.clone().unwrap_or_default(),
        rcode_name(query.rcode),
        upstream_ms(query)
            .map(|ms| format!("{ms:.1}"))
            .unwrap_or_default(),
        query.times.to_string(),
        query.last_ms.map(format_rfc3339).unwrap_or_default(),
        query.mac.map(|mac| mac.to_string()).unwrap_or_default(),
        query.dhcp_name.clone().unwrap_or_default(),
    ]
}

/// The query type by name (`A`, `HTTPS`).
pub fn type_name(qtype: u16) -> String {
    RecordType::from(qtype).to_string()
}

/// The response code as dig shows it.
pub fn rcode_name(rcode: u16) -> String {
    match rcode {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        16 => "BADVERS".into(),
        other => format!("RCODE{other}"),
    }
}

/// How long the upstream took, in milliseconds.
pub fn upstream_ms(row: &StoredQuery) -> Option<f64> {
    row.upstream_us.map(|us| f64::from(us) / 1000.0)
}

impl Service {
    /// Starts a search of the query log for `actor`. Reports and incidents
    /// have their own operations (they record their own kind of access).
    pub async fn search_log(
        &self,
        actor: &Actor,
        filter: LogFilter,
        kind: AccessKind,
    ) -> Result<Search, ServiceError> {
        self.acting_person(
            actor,
            None,
            &[crate::policy::Role::Safeguarding],
            "search or export the query log",
        )
        .await?;
        if matches!(kind, AccessKind::Report | AccessKind::Incident) {
            return Err(ServiceError::Invalid(
                "a report is asked for with the report request".into(),
            ));
        }
        // Queries answered a moment ago are searched too.
        self.flush_log().await;
        let database = self.storage.get()?.clone();
        let details = serde_json::json!({ "kind": kind.as_str(), "filter": &filter });
        let access = self
            .record_access(&database, actor, kind, &filter, "log.searched", details)
            .await?;
        info!(user = %actor.user, kind = kind.as_str(), "query log searched");
        let (sender, rows) = mpsc::channel(2);
        let reader = {
            let database = database.clone();
            tokio::spawn(async move { database.search(&filter, SEARCH_CHUNK, sender).await })
        };
        Ok(Search {
            database,
            access,
            rows,
            reader,
            sent: 0,
        })
    }

    /// Deletes the rows past `[logging] retention_days` now, sparing rows
    /// under a legal hold, and records it; with `dry_run`, only counts them.
    pub async fn purge_log(
        &self,
        actor: &Actor,
        dry_run: bool,
    ) -> Result<PurgeReport, ServiceError> {
        let days = self.handler.config().logging.retention_days;
        let database = self.storage.get()?;
        if dry_run {
            return Ok(crate::store::purge_preview(
                database,
                days,
                self.shipping_guard(),
                now_ms(),
            )
            .await?);
        }
        info!(user = %actor.user, "purge of the query log past {days} days");
        let report = crate::store::purge(database, days, self.shipping_guard(), now_ms()).await?;
        self.record(actor, "log.purged", serde_json::json!(report))
            .await;
        Ok(report)
    }

    /// What hedge does by itself every hour: deletes the rows past
    /// retention (read afresh, so a reload changes it), sparing held rows;
    /// a purge that deleted something is recorded.
    pub async fn apply_retention(&self) -> Result<PurgeReport, ServiceError> {
        let days = self.handler.config().logging.retention_days;
        let database = self.storage.get()?;
        let guard = self.shipping_guard();
        if guard.is_none() {
            crate::store::central::forget_changes_without_centre(database).await?;
        }
        let report = crate::store::purge(database, days, guard, now_ms()).await?;
        if report.deleted > 0 || report.held > 0 || report.kept_for_central > 0 {
            info!(
                "retention ({days} days): deleted {} query-log rows, kept {} under legal hold and {} not yet shipped to the central store",
                report.deleted, report.held, report.kept_for_central
            );
        }
        if report.never_shipped > 0 {
            warn!(
                "retention: {} query-log rows older than [central] max_backlog_days were deleted before the central store had them",
                report.never_shipped
            );
        }
        if report.deleted > 0 {
            self.record(&Actor::hedge(), "log.purged", serde_json::json!(report))
                .await;
        }
        Ok(report)
    }

    /// Who searched or exported the query log since `since_ms`.
    pub async fn log_access(
        &self,
        since_ms: i64,
        limit: u64,
    ) -> Result<Vec<AccessRecord>, ServiceError> {
        Ok(self.storage.get()?.access_log(since_ms, limit).await?)
    }
}
