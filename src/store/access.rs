//! The record of who read the query log: every search and export, with the
//! OS user who ran it, the filters and the number of rows, so that access
//! to children's browsing records can itself be reviewed.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Database, StoreError, now_ms};

/// How the rows were asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessKind {
    /// Shown as a table.
    Search,
    ExportJson,
    ExportCsv,
    /// Counted into a report (`hedge report`).
    Report,
    /// Shown with an incident (`hedge incident show`).
    Incident,
}

impl AccessKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKind::Search => "search",
            AccessKind::ExportJson => "export-json",
            AccessKind::ExportCsv => "export-csv",
            AccessKind::Report => "report",
            AccessKind::Incident => "incident",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    pub id: i64,
    pub at_ms: i64,
    pub os_user: String,
    pub uid: u32,
    pub kind: String,
    /// The filters, as JSON.
    pub filters: String,
    pub rows: u64,
}

impl Database {
    /// Records that `os_user` is reading rows matching `filter`, before
    /// any row is read; [`Database::finish_access`] fills in the count.
    pub async fn begin_access(
        &self,
        os_user: &str,
        uid: u32,
        kind: AccessKind,
        filter: &impl Serialize,
    ) -> Result<i64, StoreError> {
        let filters = serde_json::to_string(filter).unwrap_or_else(|_| "{}".into());
        let id = sqlx::query_scalar(
            "INSERT INTO log_access (at_ms, os_user, uid, kind, filters, rows) \
             VALUES (?, ?, ?, ?, ?, 0) RETURNING id",
        )
        .bind(now_ms())
        .bind(os_user)
        .bind(i64::from(uid))
        .bind(kind.as_str())
        .bind(filters)
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// Sets how many rows access `id` returned.
    pub async fn finish_access(&self, id: i64, rows: u64) -> Result<(), StoreError> {
        sqlx::query("UPDATE log_access SET rows = ? WHERE id = ?")
            .bind(i64::try_from(rows).unwrap_or(i64::MAX))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Accesses since `since_ms`, newest first.
    pub async fn access_log(
        &self,
        since_ms: i64,
        limit: u64,
    ) -> Result<Vec<AccessRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM log_access WHERE at_ms >= ? ORDER BY at_ms DESC, id DESC LIMIT ?",
        )
        .bind(since_ms)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AccessRecord {
                    id: row.try_get("id")?,
                    at_ms: row.try_get("at_ms")?,
                    os_user: row.try_get("os_user")?,
                    uid: u32::try_from(row.try_get::<i64, _>("uid")?).unwrap_or(u32::MAX),
                    kind: row.try_get("kind")?,
                    filters: row.try_get("filters")?,
                    rows: u64::try_from(row.try_get::<i64, _>("rows")?).unwrap_or(0),
                })
            })
            .collect()
    }
}
