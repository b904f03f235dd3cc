//! The audit trail: every change made through hedge, appended with the
//! time, the OS user who made it, the person they named, what was done and
//! its details, each row's hash covering the previous row's hash. `verify`
//! recomputes the chain and names the first row that does not match.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use tokio::sync::Mutex;

use super::{Database, StoreError, now_ms};

/// The hash the first row chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One change, as asked to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The OS user (from the admin socket's peer credentials), or `hedge`.
    pub actor: String,
    /// The person named on the command line, if any.
    pub person: Option<String>,
    /// What happened, as `thing.verb`: `hold.placed`, `log.searched`.
    pub action: String,
    pub details: serde_json::Value,
}

/// A row of the trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub person: Option<String>,
    pub action: String,
    /// JSON text, exactly as hashed.
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The result of recomputing the chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainCheck {
    pub rows: u64,
    /// The last row's id and hash: written down, or kept in an export
    /// elsewhere, they show whether rows were later removed from the end
    /// (which the chain alone cannot).
    pub last: Option<(i64, String)>,
    /// The first row whose hash or link does not match, and why.
    pub first_broken: Option<(i64, String)>,
}

/// The hash of a row: SHA-256 over the previous hash and every field, each
/// length-prefixed so that no two rows can hash the same by moving text
/// from one field to the next.
pub fn row_hash(
    prev_hash: &str,
    id: i64,
    at_ms: i64,
    actor: &str,
    person: Option<&str>,
    action: &str,
    details: &str,
) -> String {
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    field(prev_hash.as_bytes());
    field(&id.to_be_bytes());
    field(&at_ms.to_be_bytes());
    field(actor.as_bytes());
    match person {
        Some(person) => {
            field(b"1");
            field(person.as_bytes());
        }
        None => field(b"0"),
    }
    field(action.as_bytes());
    field(details.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn audit_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<AuditRow, sqlx::Error> {
    Ok(AuditRow {
        id: row.try_get("id")?,
        at_ms: row.try_get("at_ms")?,
        actor: row.try_get("actor")?,
        person: row.try_get("person")?,
        action: row.try_get("action")?,
        details: row.try_get("details")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// Serialises appends within the server, so that each row links to the one
/// really before it.
#[derive(Debug, Default)]
pub struct AuditLock(Mutex<()>);

impl AuditLock {
    pub(super) async fn hold(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.0.lock().await
    }
}

/// Appends `entry` after the last row, inside the caller's transaction (so
/// a change and its record commit together). The caller holds the
/// [`AuditLock`].
pub(super) async fn append(
    connection: &mut sqlx::SqliteConnection,
    entry: &AuditEntry,
) -> Result<AuditRow, sqlx::Error> {
    {
        let transaction = connection;
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut *transaction)
                .await?;
        let (id, prev_hash) = match last {
            Some((id, hash)) => (id + 1, hash),
            None => (1, GENESIS.to_string()),
        };
        let at_ms = now_ms();
        let details = entry.details.to_string();
        let hash = row_hash(
            &prev_hash,
            id,
            at_ms,
            &entry.actor,
            entry.person.as_deref(),
            &entry.action,
            &details,
        );
        sqlx::query(
            "INSERT INTO audit (id, at_ms, actor, person, action, details, prev_hash, hash) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(at_ms)
        .bind(&entry.actor)
        .bind(entry.person.as_deref())
        .bind(&entry.action)
        .bind(&details)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut *transaction)
        .await?;
        Ok(AuditRow {
            id,
            at_ms,
            actor: entry.actor.clone(),
            person: entry.person.clone(),
            action: entry.action.clone(),
            details,
            prev_hash,
            hash,
        })
    }
}

impl Database {
    /// Appends `entry` to the trail in a transaction of its own.
    pub async fn audit(
        &self,
        lock: &AuditLock,
        entry: &AuditEntry,
    ) -> Result<AuditRow, StoreError> {
        let _held = lock.hold().await;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let row = append(&mut transaction, entry).await?;
        transaction.commit().await?;
        Ok(row)
    }

    /// Rows from `since_ms` on, oldest first, at most `limit`.
    pub async fn audit_rows(&self, since_ms: i64, limit: u64) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit WHERE at_ms >= ? ORDER BY id LIMIT ?")
            .bind(since_ms)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(audit_from_row).collect::<Result<_, _>>()?)
    }

    /// The newest `limit` rows from `since_ms` on, newest first.
    pub async fn latest_audit_rows(
        &self,
        since_ms: i64,
        limit: u64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit WHERE at_ms >= ? ORDER BY id DESC LIMIT ?")
            .bind(since_ms)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(audit_from_row).collect::<Result<_, _>>()?)
    }

    /// Recomputes every row's hash and link, oldest first; names the first
    /// row that does not match (an edit, a deletion before it, an insert).
    pub async fn verify_audit(&self) -> Result<ChainCheck, StoreError> {
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query("SELECT * FROM audit ORDER BY id").fetch(self.pool());
        let mut expected_prev = GENESIS.to_string();
        let mut expected_id = 1;
        let mut count = 0;
        while let Some(row) = rows.try_next().await? {
            let row = audit_from_row(&row)?;
            count += 1;
            let broken = if row.id != expected_id {
                Some(format!(
                    "row {expected_id} is missing (the next row is {})",
                    row.id
                ))
            } else if row.prev_hash != expected_prev {
                Some("its link to the previous row does not match that row's hash".to_string())
            } else if row_hash(
                &row.prev_hash,
                row.id,
                row.at_ms,
                &row.actor,
                row.person.as_deref(),
                &row.action,
                &row.details,
            ) != row.hash
            {
                Some("its contents do not match its hash: the row was changed".to_string())
            } else {
                None
            };
            if let Some(why) = broken {
                return Ok(ChainCheck {
                    rows: count,
                    last: None,
                    first_broken: Some((row.id.min(expected_id), why)),
                });
            }
            expected_prev = row.hash;
            expected_id += 1;
        }
        Ok(ChainCheck {
            rows: count,
            last: (count > 0).then(|| (expected_id - 1, expected_prev)),
            first_broken: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str) -> AuditEntry {
        AuditEntry {
            actor: "root".into(),
            person: Some("A. Lead".into()),
            action: action.into(),
            details: serde_json::json!({"client": "10.1.3.12"}),
        }
    }

    #[tokio::test]
    async fn the_chain_verifies_and_names_the_first_changed_row() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("audit.db")).await.unwrap();
        let lock = AuditLock::default();
        for action in [
            "hold.placed",
            "log.searched",
            "hold.released",
            "log.searched",
        ] {
            db.audit(&lock, &entry(action)).await.unwrap();
        }
        let check = db.verify_audit().await.unwrap();
        let rows = db.audit_rows(0, 10).await.unwrap();
        assert_eq!(
            check,
            ChainCheck {
                rows: 4,
                last: Some((4, rows[3].hash.clone())),
                first_broken: None
            }
        );
        assert_eq!(rows[0].prev_hash, GENESIS);
        assert_eq!(rows[1].prev_hash, rows[0].hash);

        // Updates and deletes are refused by the database itself...
        let refused = sqlx::query("UPDATE audit SET person = 'someone else' WHERE id = 2")
            .execute(db.pool())
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("append-only"), "{refused}");
        // ...and one made around the trigger is found.
        sqlx::query("DROP TRIGGER audit_no_update")
            .execute(db.pool())
            .await
            .unwrap();
        sqlx::query("UPDATE audit SET person = 'someone else' WHERE id = 3")
            .execute(db.pool())
            .await
            .unwrap();
        let check = db.verify_audit().await.unwrap();
        let (row, why) = check.first_broken.unwrap();
        assert_eq!(row, 3);
        assert!(why.contains("changed"), "{why}");
    }

    #[tokio::test]
    async fn a_deleted_row_breaks_the_chain_at_the_gap() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("audit.db")).await.unwrap();
        let lock = AuditLock::default();
        for action in ["a.one", "a.two", "a.three"] {
            db.audit(&lock, &entry(action)).await.unwrap();
        }
        sqlx::query("DROP TRIGGER audit_no_delete")
            .execute(db.pool())
            .await
            .unwrap();
        sqlx::query("DELETE FROM audit WHERE id = 2")
            .execute(db.pool())
            .await
            .unwrap();
        let (row, why) = db.verify_audit().await.unwrap().first_broken.unwrap();
        assert_eq!(row, 2);
        assert!(why.contains("missing"), "{why}");
    }

    #[test]
    fn moving_text_between_fields_changes_the_hash() {
        let a = row_hash(GENESIS, 1, 5, "ab", None, "c", "{}");
        let b = row_hash(GENESIS, 1, 5, "a", None, "bc", "{}");
        assert_ne!(a, b);
        let c = row_hash(GENESIS, 1, 5, "a", Some(""), "bc", "{}");
        assert_ne!(b, c);
    }
}
