//! The web console's sessions (each kept by the SHA-256 of its token, never
//! the token) and its failed sign-ins by source address. The service says
//! when a session has expired and when an address is locked out; this
//! only keeps the record.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::audit::{AuditEntry, AuditLock, append};
use super::{Database, StoreError};

/// How far back failed sign-ins from one address count towards its
/// lockout: 15 minutes.
pub const SIGNIN_FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;

/// A console session as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSession {
    pub id: i64,
    pub person_id: i64,
    /// The person's name now.
    pub person: String,
    /// The address it was signed in from.
    pub source: String,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    /// When it was signed out or found expired; `None`: not ended.
    pub ended_ms: Option<i64>,
}

fn session_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<ConsoleSession, StoreError> {
    Ok(ConsoleSession {
        id: row.try_get("id")?,
        person_id: row.try_get("person_id")?,
        person: row.try_get("name")?,
        source: row.try_get("source")?,
        created_ms: row.try_get("created_ms")?,
        last_seen_ms: row.try_get("last_seen_ms")?,
        ended_ms: row.try_get("ended_ms")?,
    })
}

const SELECT_SESSION: &str = "SELECT s.id, s.person_id, p.name, s.source, s.created_ms, \
     s.last_seen_ms, s.ended_ms FROM console_sessions s JOIN people p ON p.id = s.person_id";

impl Database {
    /// Starts a session for person `person_id` from `source`, kept by
    /// `token_hash`.
    pub async fn start_console_session(
        &self,
        token_hash: &str,
        person_id: i64,
        source: &str,
        now_ms: i64,
    ) -> Result<ConsoleSession, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO console_sessions (token_hash, person_id, source, created_ms, \
             last_seen_ms) VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(token_hash)
        .bind(person_id)
        .bind(source)
        .bind(now_ms)
        .bind(now_ms)
        .fetch_one(self.pool())
        .await?;
        self.console_session_by_id(id)
            .await?
            .ok_or_else(|| StoreError::Invalid(format!("console session {id} vanished")))
    }

    async fn console_session_by_id(&self, id: i64) -> Result<Option<ConsoleSession>, StoreError> {
        let row = sqlx::query(&format!("{SELECT_SESSION} WHERE s.id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// The session kept by `token_hash`, ended or not.
    pub async fn console_session(
        &self,
        token_hash: &str,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        let row = sqlx::query(&format!("{SELECT_SESSION} WHERE s.token_hash = ?"))
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// Notes that session `id` was used at `now_ms`.
    pub async fn touch_console_session(&self, id: i64, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE console_sessions SET last_seen_ms = MAX(last_seen_ms, ?) WHERE id = ?")
            .bind(now_ms)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends session `id` (signed out, or found expired) and records it
    /// as `action` in the audit trail, by `actor` (as the audit row names
    /// who acted) and the session's person.
    pub async fn end_console_session(
        &self,
        lock: &AuditLock,
        session: &ConsoleSession,
        now_ms: i64,
        actor: &str,
        action: &str,
    ) -> Result<(), StoreError> {
        let _held = lock.hold().await;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let ended = sqlx::query(
            "UPDATE console_sessions SET ended_ms = ? WHERE id = ? AND ended_ms IS NULL",
        )
        .bind(now_ms)
        .bind(session.id)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        if ended > 0 {
            append(
                &mut transaction,
                &AuditEntry {
                    actor: actor.to_string(),
                    person: Some(session.person.clone()),
                    action: action.to_string(),
                    details: serde_json::json!({
                        "session": session.id,
                        "source": session.source,
                        "created_ms": session.created_ms,
                        "last_seen_ms": session.last_seen_ms,
                    }),
                },
            )
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// The failed sign-ins from `source` since `since_ms`: how many, and
    /// when the oldest of them was.
    pub async fn console_signin_failures(
        &self,
        source: &str,
        since_ms: i64,
    ) -> Result<(i64, Option<i64>), StoreError> {
        let (count, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(at_ms) FROM console_signin_failures \
             WHERE source = ? AND at_ms >= ?",
        )
        .bind(source)
        .bind(since_ms)
        .fetch_one(self.pool())
        .await?;
        Ok((count, oldest))
    }

    /// Records a failed sign-in from `source` at `now_ms`, forgetting
    /// those past the lockout window; when it makes `lockout_at` failures
    /// in the window, the address's lockout goes in the audit trail as
    /// `console.address-locked` by `actor`. Returns the failures in the
    /// window, this one included.
    pub async fn record_console_signin_failure(
        &self,
        lock: &AuditLock,
        source: &str,
        now_ms: i64,
        lockout_at: i64,
        actor: &str,
    ) -> Result<i64, StoreError> {
        let _held = lock.hold().await;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("DELETE FROM console_signin_failures WHERE at_ms < ?")
            .bind(now_ms - SIGNIN_FAILURE_WINDOW_MS)
            .execute(&mut *transaction)
            .await?;
        sqlx::query("INSERT INTO console_signin_failures (source, at_ms) VALUES (?, ?)")
            .bind(source)
            .bind(now_ms)
            .execute(&mut *transaction)
            .await?;
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM console_signin_failures WHERE source = ? AND at_ms >= ?",
        )
        .bind(source)
        .bind(now_ms - SIGNIN_FAILURE_WINDOW_MS)
        .fetch_one(&mut *transaction)
        .await?;
        if count == lockout_at {
            append(
                &mut transaction,
                &AuditEntry {
                    actor: actor.to_string(),
                    person: None,
                    action: "console.address-locked".into(),
                    details: serde_json::json!({
                        "source": source,
                        "failures": count,
                        "locked_until_ms": now_ms + SIGNIN_FAILURE_WINDOW_MS,
                    }),
                },
            )
            .await?;
        }
        transaction.commit().await?;
        Ok(count)
    }
}
