//! Retention: rows older than `[logging] retention_days` are deleted,
//! except those a legal hold in force covers. Deletion goes in small
//! batches with pauses so that the writer is never held up for long, and
//! the freed pages are handed back to the file system a little at a time.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::counts::Tally;
use super::{Database, StoreError};

/// Rows looked at per batch.
const BATCH: i64 = 2000;
/// Pause between batches, so the writer gets the database in between.
const PAUSE: Duration = Duration::from_millis(5);
/// Pages given back per incremental-vacuum step.
const VACUUM_PAGES: i64 = 2000;

const DAY_MS: i64 = 86_400_000;

/// Matches a `queries q` row that a hold in force covers.
const HELD: &str = "EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_ms IS NULL \
     AND q.client_ip BETWEEN h.client_lo AND h.client_hi \
     AND q.at_ms BETWEEN h.from_ms AND h.to_ms)";

/// What a purge did, or would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeReport {
    pub retention_days: u32,
    /// Rows older than this are expired.
    pub cutoff_ms: i64,
    /// Expired rows found.
    pub expired: u64,
    /// Of those, rows kept because a legal hold covers them.
    pub held: u64,
    /// Rows deleted (0 on a dry run).
    pub deleted: u64,
    pub dry_run: bool,
    /// The oldest row left (after the purge; now, on a dry run).
    pub oldest_ms: Option<i64>,
    /// Why the purge stopped early, after deleting `deleted` rows.
    #[serde(default)]
    pub interrupted: Option<String>,
    /// Expired rows kept because they are not yet shipped to the central
    /// store (`[central]`), and younger than its `max_backlog_days`.
    #[serde(default)]
    pub kept_for_central: u64,
    /// Expired rows deleted although never shipped: older than
    /// `max_backlog_days` (counted in the database for `hedge status`).
    #[serde(default)]
    pub never_shipped: u64,
}

/// Rows retention must keep for the central store: those not yet shipped,
/// unless older than `max_backlog_days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShippingGuard {
    pub max_backlog_days: u32,
}

/// The highest query id shipped (0 when none).
async fn shipped_id(database: &Database) -> Result<i64, sqlx::Error> {
    Ok(
        sqlx::query_scalar("SELECT shipped FROM central_marks WHERE tbl = 'queries'")
            .fetch_optional(database.pool())
            .await?
            .unwrap_or(0),
    )
}

fn cutoff(retention_days: u32, now_ms: i64) -> i64 {
    now_ms - i64::from(retention_days) * DAY_MS
}

async fn oldest(database: &Database) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT min(at_ms) FROM queries")
        .fetch_one(database.pool())
        .await
}

/// Counts what a purge at `now_ms` would delete, deleting nothing.
pub async fn purge_preview(
    database: &Database,
    retention_days: u32,
    guard: Option<ShippingGuard>,
    now_ms: i64,
) -> Result<PurgeReport, StoreError> {
    let cutoff_ms = cutoff(retention_days, now_ms);
    let (mut kept_for_central, mut never_shipped) = (0, 0);
    if let Some(guard) = guard {
        let shipped = shipped_id(database).await?;
        let give_up_ms = cutoff(guard.max_backlog_days, now_ms);
        let count = |older: &str| {
            format!(
                "SELECT count(*) FROM queries q WHERE q.at_ms < ? AND q.id > ? \
                 AND q.at_ms {older} ? AND NOT {HELD}"
            )
        };
        kept_for_central = sqlx::query_scalar::<_, i64>(&count(">="))
            .bind(cutoff_ms)
            .bind(shipped)
            .bind(give_up_ms)
            .fetch_one(database.pool())
            .await? as u64;
        never_shipped = sqlx::query_scalar::<_, i64>(&count("<"))
            .bind(cutoff_ms)
            .bind(shipped)
            .bind(give_up_ms)
            .fetch_one(database.pool())
            .await? as u64;
    }
    let expired: i64 = sqlx::query_scalar("SELECT count(*) FROM queries WHERE at_ms < ?")
        .bind(cutoff_ms)
        .fetch_one(database.pool())
        .await?;
    let held: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM queries q WHERE q.at_ms < ? AND {HELD}"
    ))
    .bind(cutoff_ms)
    .fetch_one(database.pool())
    .await?;
    Ok(PurgeReport {
        retention_days,
        cutoff_ms,
        expired: expired as u64,
        held: held as u64,
        deleted: 0,
        dry_run: true,
        oldest_ms: oldest(database).await?,
        interrupted: None,
        kept_for_central,
        never_shipped,
    })
}

/// Deletes every expired row no hold covers (nor `guard`, while the row
/// waits for the central store), then gives the freed space back. Safe to
/// run while the writer writes and the shipper ships.
pub async fn purge(
    database: &Database,
    retention_days: u32,
    guard: Option<ShippingGuard>,
    now_ms: i64,
) -> Result<PurgeReport, StoreError> {
    let cutoff_ms = cutoff(retention_days, now_ms);
    // The mark only moves forward: a row above it now may be shipped by
    // the time it is deleted, never the other way round.
    let shipped = match guard {
        Some(_) => Some(shipped_id(database).await?),
        None => None,
    };
    let give_up_ms = guard.map_or(i64::MIN, |g| cutoff(g.max_backlog_days, now_ms));
    let (mut kept_for_central, mut never_shipped) = (0u64, 0u64);
    let select = format!(
        "SELECT q.id, q.at_ms, {HELD} AS held FROM queries q \
         WHERE q.at_ms < ? AND (q.at_ms, q.id) > (?, ?) ORDER BY q.at_ms, q.id LIMIT ?"
    );
    let (mut expired, mut held, mut deleted) = (0u64, 0u64, 0u64);
    let mut interrupted = None;
    // A cursor over (time, id), so held rows are looked at once, not once
    // per batch.
    let mut cursor = (i64::MIN, i64::MIN);
    loop {
        let rows = match sqlx::query(&select)
            .bind(cutoff_ms)
            .bind(cursor.0)
            .bind(cursor.1)
            .bind(BATCH)
            .fetch_all(database.pool())
            .await
        {
            Ok(rows) => rows,
            Err(error) if deleted > 0 => {
                interrupted = Some(error.to_string());
                break;
            }
            Err(error) => return Err(error.into()),
        };
        let Some(last) = rows.last() else { break };
        cursor = (last.try_get("at_ms")?, last.try_get("id")?);
        let mut doomed = Vec::with_capacity(rows.len());
        let mut doomed_unshipped = 0;
        for row in &rows {
            expired += 1;
            let id: i64 = row.try_get("id")?;
            let unshipped = shipped.is_some_and(|shipped| id > shipped);
            if row.try_get::<bool, _>("held")? {
                held += 1;
            } else if unshipped && row.try_get::<i64, _>("at_ms")? >= give_up_ms {
                kept_for_central += 1;
            } else {
                doomed_unshipped += u64::from(unshipped);
                doomed.push(id);
            }
        }
        if !doomed.is_empty() {
            // The hold test again in the DELETE itself: a hold placed since
            // the rows were read still protects them.
            let mut delete = sqlx::QueryBuilder::new("DELETE FROM queries WHERE id IN (");
            let mut ids = delete.separated(", ");
            for id in &doomed {
                ids.push_bind(*id);
            }
            ids.push_unseparated(") AND NOT ");
            delete.push(HELD.replace("q.", "queries."));
            delete.push(" RETURNING at_ms, group_name, action, category, times");
            match delete_counted(database, delete, doomed_unshipped).await {
                Ok(done) => {
                    deleted += done;
                    never_shipped += doomed_unshipped;
                }
                // Rows already deleted must still be reported (and audited).
                Err(error) if deleted > 0 => {
                    interrupted = Some(error.to_string());
                    break;
                }
                Err(error) => return Err(error.into()),
            }
        }
        tokio::time::sleep(PAUSE).await;
    }
    if deleted > 0
        && interrupted.is_none()
        && let Err(error) = reclaim(database).await
    {
        interrupted = Some(format!("rows deleted, space not yet reclaimed: {error}"));
    }
    Ok(PurgeReport {
        retention_days,
        cutoff_ms,
        expired,
        held,
        deleted,
        dry_run: false,
        oldest_ms: oldest(database).await.ok().flatten(),
        interrupted,
        kept_for_central,
        never_shipped,
    })
}

/// Runs `delete` (which returns each deleted row's time, group, action,
/// category and times asked) and takes those rows out of `query_counts`, in one
/// transaction; the number deleted. The highest id is noted first (it is
/// never given again), and `never_shipped` added to the count of rows the
/// central store will never have.
async fn delete_counted(
    database: &Database,
    mut delete: sqlx::QueryBuilder<'_, sqlx::Sqlite>,
    never_shipped: u64,
) -> Result<u64, sqlx::Error> {
    let mut transaction = database.pool().begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query(
        "INSERT INTO central_state (key, value) \
         VALUES ('queries_last_id', (SELECT coalesce(max(id), 0) FROM queries)) \
         ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
    )
    .execute(&mut *transaction)
    .await?;
    if never_shipped > 0 {
        sqlx::query(
            "INSERT INTO central_state (key, value) VALUES ('never_shipped', ?) \
             ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
        )
        .bind(never_shipped as i64)
        .execute(&mut *transaction)
        .await?;
    }
    let rows = delete.build().fetch_all(&mut *transaction).await?;
    let mut tally = Tally::default();
    for row in &rows {
        let group: Option<String> = row.try_get("group_name")?;
        let action: String = row.try_get("action")?;
        let category: Option<String> = row.try_get("category")?;
        tally.add(
            row.try_get("at_ms")?,
            group.as_deref(),
            &action,
            category.as_deref(),
            row.try_get("times")?,
        );
    }
    tally.apply(&mut transaction, -1).await?;
    transaction.commit().await?;
    Ok(rows.len() as u64)
}

/// Hands free pages back to the file system in small steps, then lets
/// SQLite refresh its query-planning statistics.
async fn reclaim(database: &Database) -> Result<(), sqlx::Error> {
    loop {
        let free: i64 = sqlx::query("PRAGMA freelist_count")
            .fetch_one(database.pool())
            .await?
            .try_get(0)?;
        if free == 0 {
            break;
        }
        sqlx::query(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))
            .execute(database.pool())
            .await?;
        if free <= VACUUM_PAGES {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    sqlx::query("PRAGMA optimize")
        .execute(database.pool())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::policy::HoldRequest;
    use crate::store::{Action, QueryRecord};

    fn row(at_ms: i64, client: &str, name: &str) -> QueryRecord {
        QueryRecord {
            at_ms,
            client: client.parse::<IpAddr>().unwrap(),
            client_name: None,
            mac: None,
            group: Some("pupils".into()),
            name: name.into(),
            qtype: 1,
            action: Action::Blocked,
            category: Some("adult".into()),
            rule: None,
            rcode: 0,
            upstream_us: None,
        }
    }

    #[tokio::test]
    async fn deletes_exactly_the_expired_rows_no_hold_covers() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("log.db")).await.unwrap();
        let now = 1_800_000_000_000;
        let mut rows = Vec::new();
        // 3000 expired rows of 10.0.0.1 (more than one batch), 5 expired of
        // a held client, 7 fresh ones.
        for i in 0..3000 {
            rows.push(row(now - 100 * DAY_MS + i, "10.0.0.1", "old.example"));
        }
        for i in 0..5 {
            rows.push(row(now - 95 * DAY_MS + i, "10.9.0.7", "held.example"));
        }
        for i in 0..7 {
            rows.push(row(now - DAY_MS + i, "10.0.0.1", "new.example"));
        }
        db.insert_queries(&rows).await.unwrap();
        let lock = crate::store::AuditLock::default();
        db.add_hold(
            &lock,
            &HoldRequest {
                client: "10.9.0.0/24".parse().unwrap(),
                from_ms: now - 96 * DAY_MS,
                to_ms: now - 94 * DAY_MS,
                reason: "investigation of a safeguarding alert".into(),
                by: "DSL".into(),
            },
            "root",
        )
        .await
        .unwrap();

        let preview = purge_preview(&db, 90, None, now).await.unwrap();
        assert_eq!(
            (preview.expired, preview.held, preview.deleted),
            (3005, 5, 0)
        );
        let done = purge(&db, 90, None, now).await.unwrap();
        assert_eq!((done.expired, done.held, done.deleted), (3005, 5, 3000));
        assert_eq!(done.oldest_ms, Some(now - 95 * DAY_MS));
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM queries")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(left, 12);

        // Released, the held rows go at the next purge.
        let hold = db.holds(false).await.unwrap().remove(0);
        db.release_hold(
            &lock,
            hold.id,
            "DSL",
            "investigation closed with no action",
            "root",
        )
        .await
        .unwrap();
        assert_eq!(purge(&db, 90, None, now).await.unwrap().deleted, 5);
        assert!(db.holds(false).await.unwrap().is_empty());
        assert_eq!(db.holds(true).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn unshipped_rows_wait_for_the_centre_until_max_backlog_days() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("log.db")).await.unwrap();
        let now = 1_800_000_000_000;
        // Ids 1-10 are 100 days old, 11-20 are 40 days old, 21-25 fresh.
        let mut rows = Vec::new();
        for i in 0..10 {
            rows.push(row(now - 100 * DAY_MS + i, "10.0.0.1", "a.example"));
        }
        for i in 0..10 {
            rows.push(row(now - 40 * DAY_MS + i, "10.0.0.1", "b.example"));
        }
        for i in 0..5 {
            rows.push(row(now - DAY_MS + i, "10.0.0.1", "c.example"));
        }
        db.insert_queries(&rows).await.unwrap();
        // The centre has the first 5 rows.
        sqlx::query("INSERT INTO central_marks (tbl, shipped, at_ms) VALUES ('queries', 5, 0)")
            .execute(db.pool())
            .await
            .unwrap();
        let guard = Some(ShippingGuard {
            max_backlog_days: 60,
        });
        let preview = purge_preview(&db, 30, guard, now).await.unwrap();
        assert_eq!(
            (
                preview.expired,
                preview.kept_for_central,
                preview.never_shipped
            ),
            (20, 10, 5)
        );
        let done = purge(&db, 30, guard, now).await.unwrap();
        // Shipped and expired: deleted. Unshipped, 100 days old (past the
        // 60 days): deleted and counted. Unshipped, 40 days old: kept.
        assert_eq!(
            (done.deleted, done.kept_for_central, done.never_shipped),
            (10, 10, 5)
        );
        let never: i64 =
            sqlx::query_scalar("SELECT value FROM central_state WHERE key = 'never_shipped'")
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(never, 5);
        // Once shipped, they go.
        sqlx::query("UPDATE central_marks SET shipped = 25")
            .execute(db.pool())
            .await
            .unwrap();
        assert_eq!(purge(&db, 30, guard, now).await.unwrap().deleted, 10);
    }

    #[tokio::test]
    async fn an_id_is_never_given_twice_even_after_the_log_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("log.db")).await.unwrap();
        let now = 1_800_000_000_000;
        let old: Vec<_> = (0..3)
            .map(|i| row(now - 100 * DAY_MS + i, "10.0.0.1", "a.example"))
            .collect();
        db.insert_queries(&old).await.unwrap();
        assert_eq!(purge(&db, 30, None, now).await.unwrap().deleted, 3);
        db.insert_queries(&[row(now, "10.0.0.1", "b.example")])
            .await
            .unwrap();
        let id: i64 = sqlx::query_scalar("SELECT id FROM queries")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(id, 4, "ids go on from the highest ever given");
    }
}
