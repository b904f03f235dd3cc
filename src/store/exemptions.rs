//! Exemptions as stored: filed, approved or rejected, revoked, and the end
//! of each recorded when it passes. Every change commits together with its
//! audit row. The rules about who may do what are checked by `policy`
//! before these are called; the store guards only what it must do
//! atomically (a decision applies to a pending request, once).

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::audit::{AuditEntry, AuditLock, append};
use super::{Database, StoreError, now_ms};
use crate::policy::{Exemption, ExemptionKind, ExemptionScope, ExemptionStatus, NewExemption};

fn exemption_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Exemption, StoreError> {
    let id: i64 = row.try_get("id")?;
    let corrupt = |what: &str| StoreError::Invalid(format!("exemption {id}: {what}"));
    let kind = match row.try_get::<String, _>("kind")?.as_str() {
        "site" => ExemptionKind::Site,
        "bypass" => ExemptionKind::Bypass,
        _ => return Err(corrupt("unknown kind")),
    };
    let group: Option<String> = row.try_get("scope_group")?;
    let client: Option<String> = row.try_get("scope_client")?;
    let scope = match (group, client) {
        (Some(group), None) => ExemptionScope::Group(group),
        (None, Some(client)) => {
            ExemptionScope::Client(client.parse().map_err(|_| corrupt("bad client address"))?)
        }
        _ => return Err(corrupt("scope is neither a group nor a client")),
    };
    let status: String = row.try_get("status")?;
    Ok(Exemption {
        id,
        kind,
        name: row.try_get("name")?,
        scope,
        reason: row.try_get("reason")?,
        requested_by: row.try_get("requested_by")?,
        filed_by: row.try_get("filed_by")?,
        requested_user: row.try_get("requested_user")?,
        requested_ms: row.try_get("requested_ms")?,
        from_ms: row.try_get("from_ms")?,
        until_ms: row.try_get("until_ms")?,
        status: ExemptionStatus::parse(&status).ok_or_else(|| corrupt("unknown status"))?,
        decided_by: row.try_get("decided_by")?,
        decided_user: row.try_get("decided_user")?,
        decided_ms: row.try_get("decided_ms")?,
        decision_reason: row.try_get("decision_reason")?,
        revoked_by: row.try_get("revoked_by")?,
        revoked_user: row.try_get("revoked_user")?,
        revoked_ms: row.try_get("revoked_ms")?,
        revoke_reason: row.try_get("revoke_reason")?,
        expiry_recorded_ms: row.try_get("expiry_recorded_ms")?,
    })
}

/// The audit details of an exemption: the whole row.
fn details(exemption: &Exemption) -> serde_json::Value {
    serde_json::to_value(exemption).unwrap_or_default()
}

/// Which exemptions a listing wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExemptionSelection {
    All,
    /// Approved and not yet ended (in force, or starting later).
    Active,
    Pending,
    /// Approved and ended.
    Expired,
}

impl Database {
    /// Files a request (pending); with `approver`, files and approves it in
    /// one step (two audit rows, one transaction). `filed_by` is the person
    /// who filed it for the requester, if someone else did.
    pub async fn file_exemption(
        &self,
        lock: &AuditLock,
        request: &NewExemption,
        os_user: &str,
        filed_by: Option<&str>,
        approver: Option<&str>,
    ) -> Result<Exemption, StoreError> {
        let _held = lock.hold().await;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let (group, client) = match &request.scope {
            ExemptionScope::Group(group) => (Some(group.clone()), None),
            ExemptionScope::Client(ip) => (None, Some(ip.to_string())),
        };
        let now = now_ms();
        let row = sqlx::query(
            "INSERT INTO exemptions (kind, name, scope_group, scope_client, reason, requested_by, \
             requested_user, requested_ms, from_ms, until_ms, status, filed_by) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?) RETURNING *",
        )
        .bind(request.kind.as_str())
        .bind(request.name.as_deref())
        .bind(group)
        .bind(client)
        .bind(request.reason.trim())
        .bind(request.requested_by.trim())
        .bind(os_user)
        .bind(now)
        .bind(request.from_ms)
        .bind(request.until_ms)
        .bind(filed_by)
        .fetch_one(&mut *transaction)
        .await?;
        let mut exemption = exemption_from_row(&row)?;
        append(
            &mut transaction,
            &AuditEntry {
                actor: os_user.into(),
                person: Some(
                    exemption
                        .filed_by
                        .clone()
                        .unwrap_or_else(|| exemption.requested_by.clone()),
                ),
                action: "exemption.filed".into(),
                details: details(&exemption),
            },
        )
        .await?;
        if let Some(approver) = approver {
            exemption = decide(
                &mut transaction,
                exemption.id,
                true,
                approver,
                None,
                os_user,
            )
            .await?;
        }
        transaction.commit().await?;
        Ok(exemption)
    }

    /// Approves or rejects pending request `id`.
    pub async fn decide_exemption(
        &self,
        lock: &AuditLock,
        id: i64,
        approve: bool,
        by: &str,
        reason: Option<&str>,
        os_user: &str,
    ) -> Result<Exemption, StoreError> {
        let _held = lock.hold().await;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let exemption = decide(&mut transaction, id, approve, by, reason, os_user).await?;
        transaction.commit().await?;
        Ok(exemption)
    }

    /// Ends approved (or pending) exemption `id` now.
    pub async fn revoke_exemption(
        &self,
        lock: &AuditLock,
        id: i64,
        by: &str,
        reason: &str,
        os_user: &str,
    ) -> Result<Exemption, StoreError> {
        let _held = lock.hold().await;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "UPDATE exemptions SET status = 'revoked', revoked_by = ?, revoked_user = ?, \
             revoked_ms = ?, revoke_reason = ? \
             WHERE id = ? AND (status = 'pending' OR (status = 'approved' AND until_ms > ?)) \
             RETURNING *",
        )
        .bind(by.trim())
        .bind(os_user)
        .bind(now_ms())
        .bind(reason.trim())
        .bind(id)
        .bind(now_ms())
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(row) = row else {
            let state = state_of(&mut transaction, id).await?;
            return Err(refused(id, "revoked", state));
        };
        let exemption = exemption_from_row(&row)?;
        append(
            &mut transaction,
            &AuditEntry {
                actor: os_user.into(),
                person: Some(by.trim().into()),
                action: "exemption.revoked".into(),
                details: details(&exemption),
            },
        )
        .await?;
        transaction.commit().await?;
        Ok(exemption)
    }

    /// Records the end of every approved exemption past its expiry that has
    /// not been recorded yet; returns them.
    pub async fn record_expiries(
        &self,
        lock: &AuditLock,
        now_ms: i64,
    ) -> Result<Vec<Exemption>, StoreError> {
        // Most of the time nothing has ended: look before taking the
        // write lock.
        let due: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM exemptions WHERE status = 'approved' AND until_ms <= ? \
             AND expiry_recorded_ms IS NULL",
        )
        .bind(now_ms)
        .fetch_one(self.pool())
        .await?;
        if due == 0 {
            return Ok(Vec::new());
        }
        let _held = lock.hold().await;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let rows = sqlx::query(
            "UPDATE exemptions SET expiry_recorded_ms = ? WHERE status = 'approved' \
             AND until_ms <= ? AND expiry_recorded_ms IS NULL RETURNING *",
        )
        .bind(now_ms)
        .bind(now_ms)
        .fetch_all(&mut *transaction)
        .await?;
        let mut ended = Vec::new();
        for row in &rows {
            let exemption = exemption_from_row(row)?;
            append(
                &mut transaction,
                &AuditEntry {
                    actor: "hedge".into(),
                    person: None,
                    action: "exemption.expired".into(),
                    details: details(&exemption),
                },
            )
            .await?;
            ended.push(exemption);
        }
        transaction.commit().await?;
        Ok(ended)
    }

    pub async fn exemption(&self, id: i64) -> Result<Option<Exemption>, StoreError> {
        sqlx::query("SELECT * FROM exemptions WHERE id = ?")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(exemption_from_row)
            .transpose()
    }

    /// Exemptions, newest first.
    pub async fn exemptions(
        &self,
        selection: ExemptionSelection,
        now_ms: i64,
    ) -> Result<Vec<Exemption>, StoreError> {
        let (condition, binds_now) = match selection {
            ExemptionSelection::All => ("1", false),
            ExemptionSelection::Active => ("status = 'approved' AND until_ms > ?", true),
            ExemptionSelection::Pending => ("status = 'pending' AND until_ms > ?", true),
            ExemptionSelection::Expired => ("status = 'approved' AND until_ms <= ?", true),
        };
        let sql = format!("SELECT * FROM exemptions WHERE {condition} ORDER BY id DESC");
        let mut query = sqlx::query(&sql);
        if binds_now {
            query = query.bind(now_ms);
        }
        query
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(exemption_from_row)
            .collect()
    }
}

/// Why exemption `id` in `state` (None: not on record) cannot be
/// `change`d.
fn refused(id: i64, change: &str, state: Option<String>) -> StoreError {
    match state {
        Some(state) => {
            StoreError::Conflict(format!("exemption {id} cannot be {change}: it is {state}"))
        }
        None => StoreError::NotFound(format!("there is no exemption {id}")),
    }
}

async fn state_of(
    connection: &mut sqlx::SqliteConnection,
    id: i64,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT * FROM exemptions WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *connection)
        .await?;
    Ok(match row {
        Some(row) => Some(exemption_from_row(&row)?.state(now_ms()).to_string()),
        None => None,
    })
}

async fn decide(
    connection: &mut sqlx::SqliteConnection,
    id: i64,
    approve: bool,
    by: &str,
    reason: Option<&str>,
    os_user: &str,
) -> Result<Exemption, StoreError> {
    let row = sqlx::query(
        "UPDATE exemptions SET status = ?, decided_by = ?, decided_user = ?, decided_ms = ?, \
         decision_reason = ? WHERE id = ? AND status = 'pending' AND until_ms > ? RETURNING *",
    )
    .bind(if approve { "approved" } else { "rejected" })
    .bind(by.trim())
    .bind(os_user)
    .bind(now_ms())
    .bind(reason.map(str::trim))
    .bind(id)
    .bind(now_ms())
    .fetch_optional(&mut *connection)
    .await?;
    let Some(row) = row else {
        let state = state_of(connection, id).await?;
        let change = if approve { "approved" } else { "rejected" };
        return Err(refused(id, change, state));
    };
    let exemption = exemption_from_row(&row)?;
    append(
        connection,
        &AuditEntry {
            actor: os_user.into(),
            person: Some(by.trim().into()),
            action: if approve {
                "exemption.approved"
            } else {
                "exemption.rejected"
            }
            .into(),
            details: details(&exemption),
        },
    )
    .await?;
    Ok(exemption)
}
