//! Legal holds: a client range and period whose query-log rows are kept
//! past retention, as evidence, until the hold is released. What placing
//! or releasing one must give is `policy::holds`'s to check.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::audit::{AuditEntry, AuditLock, append};
use super::record::net_keys;
use super::{Database, StoreError, now_ms};
use crate::policy::HoldRequest;

/// A hold as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHold {
    pub id: i64,
    pub client: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub reason: String,
    pub placed_by: String,
    /// The OS user who used the admin socket.
    pub placed_user: String,
    pub placed_ms: i64,
    pub released_ms: Option<i64>,
    pub released_by: Option<String>,
    pub released_user: Option<String>,
    pub release_reason: Option<String>,
}

fn hold_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<LegalHold, sqlx::Error> {
    Ok(LegalHold {
        id: row.try_get("id")?,
        client: row.try_get("client_net")?,
        from_ms: row.try_get("from_ms")?,
        to_ms: row.try_get("to_ms")?,
        reason: row.try_get("reason")?,
        placed_by: row.try_get("placed_by")?,
        placed_user: row.try_get("placed_user")?,
        placed_ms: row.try_get("placed_ms")?,
        released_ms: row.try_get("released_ms")?,
        released_by: row.try_get("released_by")?,
        released_user: row.try_get("released_user")?,
        release_reason: row.try_get("release_reason")?,
    })
}

/// Inserts `request` as a hold, with its audit row, inside `transaction`
/// (checked by the caller, against `policy`).
pub(super) async fn place_hold(
    transaction: &mut sqlx::SqliteConnection,
    request: &HoldRequest,
    os_user: &str,
) -> Result<LegalHold, StoreError> {
    let client = request.client.trunc();
    let (lo, hi) = net_keys(&client);
    let row = sqlx::query(
        "INSERT INTO legal_holds (client_net, client_lo, client_hi, from_ms, to_ms, reason, \
         placed_by, placed_user, placed_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
    )
    .bind(client.to_string())
    .bind(lo.to_vec())
    .bind(hi.to_vec())
    .bind(request.from_ms)
    .bind(request.to_ms)
    .bind(request.reason.trim())
    .bind(request.by.trim())
    .bind(os_user)
    .bind(now_ms())
    .fetch_one(&mut *transaction)
    .await?;
    let hold = hold_from_row(&row)?;
    append(
        transaction,
        &AuditEntry {
            actor: os_user.to_string(),
            person: Some(hold.placed_by.clone()),
            action: "hold.placed".into(),
            details: serde_json::to_value(&hold).unwrap_or_default(),
        },
    )
    .await?;
    Ok(hold)
}

/// Releases hold `id` with its audit row inside `transaction`.
pub(super) async fn lift_hold(
    transaction: &mut sqlx::SqliteConnection,
    id: i64,
    by: &str,
    reason: &str,
    os_user: &str,
) -> Result<LegalHold, StoreError> {
    let row = sqlx::query(
        "UPDATE legal_holds SET released_ms = ?, released_by = ?, released_user = ?, \
         release_reason = ? WHERE id = ? AND released_ms IS NULL RETURNING *",
    )
    .bind(now_ms())
    .bind(by.trim())
    .bind(os_user)
    .bind(reason.trim())
    .bind(id)
    .fetch_optional(&mut *transaction)
    .await?;
    match row {
        Some(row) => {
            let hold = hold_from_row(&row)?;
            append(
                transaction,
                &AuditEntry {
                    actor: os_user.to_string(),
                    person: Some(by.trim().to_string()),
                    action: "hold.released".into(),
                    details: serde_json::to_value(&hold).unwrap_or_default(),
                },
            )
            .await?;
            Ok(hold)
        }
        None => {
            let exists: Option<(Option<i64>,)> =
                sqlx::query_as("SELECT released_ms FROM legal_holds WHERE id = ?")
                    .bind(id)
                    .fetch_optional(&mut *transaction)
                    .await?;
            Err(StoreError::Invalid(match exists {
                Some(_) => format!("legal hold {id} is already released"),
                None => format!("there is no legal hold {id}"),
            }))
        }
    }
}

impl Database {
    /// Places a hold (checked by the caller, against `policy`); `os_user`
    /// is who asked on the admin socket. The hold and its audit row commit
    /// together.
    pub async fn add_hold(
        &self,
        lock: &AuditLock,
        request: &HoldRequest,
        os_user: &str,
    ) -> Result<LegalHold, StoreError> {
        let _held = lock.hold().await;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let hold = place_hold(&mut transaction, request, os_user).await?;
        transaction.commit().await?;
        Ok(hold)
    }

    /// Every hold, newest first; only those in force unless `all`.
    pub async fn holds(&self, all: bool) -> Result<Vec<LegalHold>, StoreError> {
        let sql = if all {
            "SELECT * FROM legal_holds ORDER BY id DESC"
        } else {
            "SELECT * FROM legal_holds WHERE released_ms IS NULL ORDER BY id DESC"
        };
        let rows = sqlx::query(sql).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(hold_from_row).collect::<Result<_, _>>()?)
    }

    /// Releases hold `id`; its rows then age out under retention.
    pub async fn release_hold(
        &self,
        lock: &AuditLock,
        id: i64,
        by: &str,
        reason: &str,
        os_user: &str,
    ) -> Result<LegalHold, StoreError> {
        let _held = lock.hold().await;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let hold = lift_hold(&mut transaction, id, by, reason, os_user).await?;
        transaction.commit().await?;
        Ok(hold)
    }
}
