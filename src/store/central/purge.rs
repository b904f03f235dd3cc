//! The central retention: the query log's day partitions past it are
//! dropped whole; a partition holding rows under a hold in force (a
//! central hold, or a site's own hold as it shipped it) keeps those rows
//! and loses the rest.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::PgPool;

use super::{CentralError, DAY_MS, day_of};

/// Matches a `queries q` row a hold in force covers.
const HELD: &str = "(EXISTS (SELECT 1 FROM central_holds h WHERE h.site = q.site \
     AND h.released_ms IS NULL AND q.client_ip <<= h.client_net \
     AND q.at_ms BETWEEN h.from_ms AND h.to_ms) \
     OR EXISTS (SELECT 1 FROM legal_holds h WHERE h.site = q.site \
     AND h.released_ms IS NULL AND q.client_ip <<= h.client_net \
     AND q.at_ms BETWEEN h.from_ms AND h.to_ms))";

/// What a central purge did, or would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentralPurge {
    pub retention_days: u32,
    /// Days before this were past retention.
    pub cutoff_ms: i64,
    /// Day partitions dropped whole (would be, on a dry run).
    pub partitions_dropped: u64,
    /// Day partitions kept for the held rows in them.
    pub partitions_kept: u64,
    /// Rows deleted, in dropped partitions and around held rows.
    pub deleted: u64,
    /// Rows kept under a hold.
    pub held: u64,
    pub dry_run: bool,
}

/// The query log's day partitions, as (name, first millisecond).
async fn partitions(pool: &PgPool) -> Result<Vec<(String, i64)>, CentralError> {
    let rows = sqlx::query(
        "SELECT c.relname::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'queries'::regclass ORDER BY 1",
    )
    .fetch_all(pool)
    .await?;
    let mut out = Vec::new();
    for row in rows {
        let name: String = row.try_get("name")?;
        let Some(day) = name
            .strip_prefix("queries_")
            .and_then(|d| jiff::civil::Date::strptime("%Y%m%d", d).ok())
        else {
            continue;
        };
        let start = day
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|e| CentralError::Invalid(format!("partition {name}: {e}")))?
            .timestamp()
            .as_millisecond();
        out.push((name, start));
    }
    Ok(out)
}

/// Drops (or, with `dry_run`, counts) what is past `retention_days` at
/// `now_ms`, sparing held rows.
pub async fn purge(
    pool: &PgPool,
    retention_days: u32,
    now_ms: i64,
    dry_run: bool,
) -> Result<CentralPurge, CentralError> {
    let cutoff_ms = day_of(now_ms - i64::from(retention_days) * DAY_MS);
    let mut report = CentralPurge {
        retention_days,
        cutoff_ms,
        dry_run,
        ..CentralPurge::default()
    };
    for (name, start) in partitions(pool).await? {
        if start + DAY_MS > cutoff_ms {
            continue;
        }
        let counts = sqlx::query(&format!(
            "SELECT count(*) AS total, count(*) FILTER (WHERE {HELD}) AS held FROM \"{name}\" q"
        ))
        .fetch_one(pool)
        .await?;
        let total: i64 = counts.try_get("total")?;
        let held: i64 = counts.try_get("held")?;
        report.held += held as u64;
        report.deleted += (total - held) as u64;
        if held == 0 {
            report.partitions_dropped += 1;
            if !dry_run {
                sqlx::query(&format!("DROP TABLE \"{name}\""))
                    .execute(pool)
                    .await?;
            }
        } else {
            report.partitions_kept += 1;
            if !dry_run {
                sqlx::query(&format!("DELETE FROM \"{name}\" q WHERE NOT {HELD}"))
                    .execute(pool)
                    .await?;
            }
        }
    }
    Ok(report)
}
