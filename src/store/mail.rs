//! Mail on record: each mail hedge sends (an alert or a report, one row per
//! recipient) from the moment it is queued to delivered or failed, and the
//! last period each scheduled report was sent for.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Database, StoreError, now_ms};

/// What a mail carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailKind {
    Alert,
    Report,
}

impl MailKind {
    fn as_str(self) -> &'static str {
        match self {
            MailKind::Alert => "alert",
            MailKind::Report => "report",
        }
    }
}

/// Mail sent since a time, for `hedge status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailSummary {
    pub delivered: u64,
    pub failed: u64,
    /// Still being tried.
    pub sending: u64,
    /// The latest mail that could not be delivered.
    #[serde(default)]
    pub last_failure: Option<MailFailure>,
}

/// A mail that could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailFailure {
    pub at_ms: i64,
    pub kind: MailKind,
    pub recipient: String,
    pub subject: String,
    pub attempts: u32,
    pub error: String,
}

impl Database {
    /// Records a mail about to be sent; its number for [`Database::finish_mail`].
    pub async fn begin_mail(
        &self,
        kind: MailKind,
        recipient: &str,
        subject: &str,
    ) -> Result<i64, StoreError> {
        let now = now_ms();
        let id = sqlx::query(
            "INSERT INTO mail_sends (kind, recipient, subject, state, attempts, queued_ms, at_ms) \
             VALUES (?, ?, ?, 'sending', 0, ?, ?)",
        )
        .bind(kind.as_str())
        .bind(recipient)
        .bind(subject)
        .bind(now)
        .bind(now)
        .execute(self.pool())
        .await?
        .last_insert_rowid();
        Ok(id)
    }

    /// Records how mail `id` ended: delivered (`error` is `None`) or failed.
    pub async fn finish_mail(
        &self,
        id: i64,
        attempts: u32,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let state = if error.is_none() {
            "delivered"
        } else {
            "failed"
        };
        sqlx::query(
            "UPDATE mail_sends SET state = ?, attempts = ?, error = ?, at_ms = ? WHERE id = ?",
        )
        .bind(state)
        .bind(attempts)
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Mail that ended (or was queued) since `since_ms`.
    pub async fn mail_summary(&self, since_ms: i64) -> Result<MailSummary, StoreError> {
        let mut summary = MailSummary::default();
        let counts = sqlx::query(
            "SELECT state, count(*) AS n FROM mail_sends WHERE at_ms >= ? GROUP BY state",
        )
        .bind(since_ms)
        .fetch_all(self.pool())
        .await?;
        for row in counts {
            let state: String = row.try_get("state")?;
            let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or_default();
            match state.as_str() {
                "delivered" => summary.delivered = n,
                "failed" => summary.failed = n,
                _ => summary.sending = n,
            }
        }
        let last = sqlx::query(
            "SELECT * FROM mail_sends WHERE state = 'failed' AND at_ms >= ? \
             ORDER BY at_ms DESC, id DESC LIMIT 1",
        )
        .bind(since_ms)
        .fetch_optional(self.pool())
        .await?;
        if let Some(row) = last {
            let kind: String = row.try_get("kind")?;
            summary.last_failure = Some(MailFailure {
                at_ms: row.try_get("at_ms")?,
                kind: if kind == "alert" {
                    MailKind::Alert
                } else {
                    MailKind::Report
                },
                recipient: row.try_get("recipient")?,
                subject: row.try_get("subject")?,
                attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or_default(),
                error: row
                    .try_get::<Option<String>, _>("error")?
                    .unwrap_or_default(),
            });
        }
        Ok(summary)
    }

    /// When the last period scheduled report `key` was sent for fell due;
    /// `None` for a schedule never seen.
    pub async fn schedule_last_due(&self, key: &str) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT last_due_ms FROM report_schedules WHERE key = ?")
                .bind(key)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Records that scheduled report `key` has been dealt with up to the
    /// period due at `due_ms`.
    pub async fn set_schedule_last_due(&self, key: &str, due_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO report_schedules (key, last_due_ms, at_ms) VALUES (?, ?, ?) \
             ON CONFLICT (key) DO UPDATE SET last_due_ms = excluded.last_due_ms, at_ms = excluded.at_ms",
        )
        .bind(key)
        .bind(due_ms)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn mail_is_counted_by_how_it_ended() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("hedge.db")).await.unwrap();
        let a = db
            .begin_mail(MailKind::Alert, "dsl@school.example", "alert 1")
            .await
            .unwrap();
        let b = db
            .begin_mail(MailKind::Report, "head@school.example", "weekly report")
            .await
            .unwrap();
        db.begin_mail(MailKind::Report, "x@school.example", "pending")
            .await
            .unwrap();
        db.finish_mail(a, 1, None).await.unwrap();
        db.finish_mail(b, 3, Some("connection refused"))
            .await
            .unwrap();
        let summary = db.mail_summary(0).await.unwrap();
        assert_eq!(
            (summary.delivered, summary.failed, summary.sending),
            (1, 1, 1)
        );
        let failure = summary.last_failure.unwrap();
        assert_eq!(failure.recipient, "head@school.example");
        assert_eq!(failure.kind, MailKind::Report);
        assert_eq!(
            (failure.attempts, failure.error.as_str()),
            (3, "connection refused")
        );

        assert_eq!(db.schedule_last_due("day 07:00").await.unwrap(), None);
        db.set_schedule_last_due("day 07:00", 5).await.unwrap();
        db.set_schedule_last_due("day 07:00", 9).await.unwrap();
        assert_eq!(db.schedule_last_due("day 07:00").await.unwrap(), Some(9));
    }
}
