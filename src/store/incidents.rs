//! E-safety incidents as stored: opened (with a legal hold on the client's
//! log rows when a client and period are given, in the same transaction),
//! actions and referrals appended and never edited, closed with a
//! conclusion. Every step commits with its audit row. What each step must
//! give is `policy::incidents`'s to check, before it gets here.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::audit::{AuditEntry, AuditLock, append};
use super::holds::{lift_hold, place_hold};
use super::{Database, StoreError, now_ms};
use crate::policy::HoldRequest;
use crate::policy::incidents::{Agency, Identified, IncidentKind, NewIncident};

/// One appended entry: an action taken, or a referral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentEntry {
    pub id: i64,
    pub at_ms: i64,
    /// `note` or `referral`.
    pub kind: String,
    pub by: String,
    pub os_user: String,
    pub text: String,
    pub agency: Option<Agency>,
    /// When the referral was made (it may be recorded later).
    pub referred_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: i64,
    pub kind: IncidentKind,
    pub summary: String,
    pub identified: Identified,
    pub involved: String,
    pub client: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub alert_id: Option<i64>,
    pub hold_id: Option<i64>,
    pub opened_ms: i64,
    pub opened_by: String,
    pub opened_user: String,
    pub closed_ms: Option<i64>,
    pub closed_by: Option<String>,
    pub closed_user: Option<String>,
    pub conclusion: Option<String>,
    #[serde(default)]
    pub entries: Vec<IncidentEntry>,
}

impl Incident {
    pub fn is_open(&self) -> bool {
        self.closed_ms.is_none()
    }

    /// The agencies it was referred to, in order.
    pub fn referrals(&self) -> Vec<Agency> {
        self.entries.iter().filter_map(|e| e.agency).collect()
    }
}

fn incident_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Incident, StoreError> {
    let bad = |what: &str, text: String| StoreError::Invalid(format!("incident {what}: {text}"));
    let kind: String = row.try_get("kind")?;
    let identified: String = row.try_get("identified")?;
    Ok(Incident {
        id: row.try_get("id")?,
        kind: IncidentKind::parse(&kind).map_err(|e| bad("kind", e))?,
        summary: row.try_get("summary")?,
        identified: Identified::parse(&identified).map_err(|e| bad("identified", e))?,
        involved: row.try_get("involved")?,
        client: row.try_get("client_net")?,
        from_ms: row.try_get("from_ms")?,
        to_ms: row.try_get("to_ms")?,
        alert_id: row.try_get("alert_id")?,
        hold_id: row.try_get("hold_id")?,
        opened_ms: row.try_get("opened_ms")?,
        opened_by: row.try_get("opened_by")?,
        opened_user: row.try_get("opened_user")?,
        closed_ms: row.try_get("closed_ms")?,
        closed_by: row.try_get("closed_by")?,
        closed_user: row.try_get("closed_user")?,
        conclusion: row.try_get("conclusion")?,
        entries: Vec::new(),
    })
}

fn entry_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<IncidentEntry, StoreError> {
    let agency: Option<String> = row.try_get("agency")?;
    Ok(IncidentEntry {
        id: row.try_get("id")?,
        at_ms: row.try_get("at_ms")?,
        kind: row.try_get("kind")?,
        by: row.try_get("by_person")?,
        os_user: row.try_get("os_user")?,
        text: row.try_get("text")?,
        agency: agency
            .map(|a| Agency::parse(&a))
            .transpose()
            .map_err(StoreError::Invalid)?,
        referred_ms: row.try_get("referred_ms")?,
    })
}

/// Counts for reports: incidents opened in a period by kind, and those
/// still open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentSummary {
    pub opened: u64,
    pub closed: u64,
    /// (kind, opened in the period), every kind listed.
    pub by_kind: Vec<(String, u64)>,
    /// Referrals made in the period, by agency.
    pub referrals: Vec<(String, u64)>,
    /// Every incident not yet closed (any opening date).
    pub open: Vec<Incident>,
}

async fn load(
    connection: &mut sqlx::SqliteConnection,
    id: i64,
) -> Result<Option<Incident>, StoreError> {
    let Some(row) = sqlx::query("SELECT * FROM incidents WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *connection)
        .await?
    else {
        return Ok(None);
    };
    let mut incident = incident_from_row(&row)?;
    let rows = sqlx::query("SELECT * FROM incident_entries WHERE incident_id = ? ORDER BY id")
        .bind(id)
        .fetch_all(&mut *connection)
        .await?;
    incident.entries = rows.iter().map(entry_from_row).collect::<Result<_, _>>()?;
    Ok(Some(incident))
}

/// Incident `id`, which must exist and be open, for a change.
async fn open_one(
    connection: &mut sqlx::SqliteConnection,
    id: i64,
) -> Result<Incident, StoreError> {
    match load(connection, id).await? {
        None => Err(StoreError::Invalid(format!(
            "there is no incident {id}: see `hedge incident list`"
        ))),
        Some(incident) if !incident.is_open() => Err(StoreError::Invalid(format!(
            "incident {id} is closed: its record can no longer change"
        ))),
        Some(incident) => Ok(incident),
    }
}

fn audit_entry(os_user: &str, by: &str, action: &str, incident: &Incident) -> AuditEntry {
    AuditEntry {
        actor: os_user.into(),
        person: Some(by.trim().into()),
        action: action.into(),
        details: serde_json::to_value(incident).unwrap_or_default(),
    }
}

impl Database {
    /// Opens an incident. With a client and a period, a legal hold on
    /// those rows is placed in the same transaction.
    pub async fn open_incident(
        &self,
        lock: &AuditLock,
        new: &NewIncident,
        os_user: &str,
    ) -> Result<Incident, StoreError> {
        let now = now_ms();
        let _held = lock.hold().await;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        if let Some(alert) = new.alert {
            let found: Option<i64> = sqlx::query_scalar("SELECT id FROM alerts WHERE id = ?")
                .bind(alert)
                .fetch_optional(&mut *transaction)
                .await?;
            if found.is_none() {
                return Err(StoreError::Invalid(format!(
                    "there is no alert {alert}: see `hedge alerts list`"
                )));
            }
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO incidents (kind, summary, identified, involved, client_net, from_ms, \
             to_ms, alert_id, opened_ms, opened_by, opened_user) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(new.kind.as_str())
        .bind(new.summary.trim())
        .bind(new.identified.as_str())
        .bind(new.involved.trim())
        .bind(new.client.map(|c| c.trunc().to_string()))
        .bind(new.from_ms)
        .bind(new.to_ms)
        .bind(new.alert)
        .bind(now)
        .bind(new.by.trim())
        .bind(os_user)
        .fetch_one(&mut *transaction)
        .await?;
        if let (Some(client), Some(from_ms)) = (new.client, new.from_ms) {
            let request = HoldRequest {
                client,
                from_ms,
                to_ms: new.to_ms.unwrap_or(now),
                reason: format!("evidence for incident {id}: {}", new.summary.trim()),
                by: new.by.clone(),
            };
            let hold = place_hold(&mut transaction, &request, os_user).await?;
            sqlx::query("UPDATE incidents SET hold_id = ? WHERE id = ?")
                .bind(hold.id)
                .bind(id)
                .execute(&mut *transaction)
                .await?;
        }
        let incident = load(&mut transaction, id)
            .await?
            .ok_or_else(|| StoreError::Invalid(format!("incident {id} vanished")))?;
        append(
            &mut transaction,
            &audit_entry(os_user, &new.by, "incident.opened", &incident),
        )
        .await?;
        transaction.commit().await?;
        Ok(incident)
    }

    /// Appends an action taken (`agency` `None`) or a referral to an open
    /// incident.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_incident_entry(
        &self,
        lock: &AuditLock,
        id: i64,
        by: &str,
        text: &str,
        agency: Option<Agency>,
        referred_ms: Option<i64>,
        os_user: &str,
    ) -> Result<Incident, StoreError> {
        let _held = lock.hold().await;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        open_one(&mut transaction, id).await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO incident_entries (incident_id, at_ms, kind, by_person, os_user, text, \
             agency, referred_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(now)
        .bind(if agency.is_some() { "referral" } else { "note" })
        .bind(by.trim())
        .bind(os_user)
        .bind(text.trim())
        .bind(agency.map(Agency::as_str))
        .bind(agency.map(|_| referred_ms.unwrap_or(now)))
        .execute(&mut *transaction)
        .await?;
        let incident = open_one(&mut transaction, id).await?;
        let action = if agency.is_some() {
            "incident.referred"
        } else {
            "incident.noted"
        };
        append(
            &mut transaction,
            &audit_entry(os_user, by, action, &incident),
        )
        .await?;
        transaction.commit().await?;
        Ok(incident)
    }

    /// Closes an open incident with its conclusion; releases its legal
    /// hold only when `release_hold` says so.
    pub async fn close_incident(
        &self,
        lock: &AuditLock,
        id: i64,
        by: &str,
        conclusion: &str,
        release_hold: bool,
        os_user: &str,
    ) -> Result<Incident, StoreError> {
        let _held = lock.hold().await;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let incident = open_one(&mut transaction, id).await?;
        sqlx::query(
            "UPDATE incidents SET closed_ms = ?, closed_by = ?, closed_user = ?, conclusion = ? \
             WHERE id = ?",
        )
        .bind(now_ms())
        .bind(by.trim())
        .bind(os_user)
        .bind(conclusion.trim())
        .bind(id)
        .execute(&mut *transaction)
        .await?;
        if release_hold && let Some(hold) = incident.hold_id {
            let released: Option<i64> =
                sqlx::query_scalar("SELECT released_ms FROM legal_holds WHERE id = ?")
                    .bind(hold)
                    .fetch_one(&mut *transaction)
                    .await?;
            if released.is_none() {
                lift_hold(
                    &mut transaction,
                    hold,
                    by,
                    &format!("incident {id} closed: {}", conclusion.trim()),
                    os_user,
                )
                .await?;
            }
        }
        let incident = load(&mut transaction, id)
            .await?
            .ok_or_else(|| StoreError::Invalid(format!("incident {id} vanished")))?;
        append(
            &mut transaction,
            &audit_entry(os_user, by, "incident.closed", &incident),
        )
        .await?;
        transaction.commit().await?;
        Ok(incident)
    }

    /// Incident `id` with its entries.
    pub async fn incident(&self, id: i64) -> Result<Option<Incident>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        load(&mut connection, id).await
    }

    /// Incidents newest first, with their entries; only open ones if
    /// `open_only`.
    pub async fn incidents(&self, open_only: bool) -> Result<Vec<Incident>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM incidents WHERE (? = 0 OR closed_ms IS NULL) ORDER BY id DESC",
        )
        .bind(open_only)
        .fetch_all(self.pool())
        .await?;
        let mut connection = self.pool().acquire().await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(incident) = load(&mut connection, id).await? {
                out.push(incident);
            }
        }
        Ok(out)
    }

    /// What a report says about incidents over `[from_ms, to_ms)`.
    pub async fn incident_summary(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<IncidentSummary, StoreError> {
        Ok(summarise_incidents(
            self.incidents(false).await?,
            from_ms,
            to_ms,
        ))
    }
}

/// Incidents of a period from `all` (with their entries): those opened by
/// kind (every kind listed), closed, referrals by agency, and those still
/// open.
pub(crate) fn summarise_incidents(all: Vec<Incident>, from_ms: i64, to_ms: i64) -> IncidentSummary {
    let mut summary = IncidentSummary::default();
    let in_period = |ms: i64| ms >= from_ms && ms < to_ms;
    for kind in IncidentKind::ALL {
        let n = all
            .iter()
            .filter(|i| i.kind == *kind && in_period(i.opened_ms))
            .count() as u64;
        summary.by_kind.push((kind.as_str().to_string(), n));
        summary.opened += n;
    }
    summary.closed = all
        .iter()
        .filter(|i| i.closed_ms.is_some_and(in_period))
        .count() as u64;
    for agency in Agency::ALL {
        let n = all
            .iter()
            .flat_map(|i| &i.entries)
            .filter(|e| e.agency == Some(*agency) && e.referred_ms.is_some_and(in_period))
            .count() as u64;
        if n > 0 {
            summary.referrals.push((agency.as_str().to_string(), n));
        }
    }
    summary.open = all.into_iter().filter(Incident::is_open).collect();
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(client: Option<&str>) -> NewIncident {
        NewIncident {
            kind: IncidentKind::DeliberateInappropriate,
            summary: "pupil searched for adult content repeatedly".into(),
            identified: Identified::Staff,
            involved: "Year 6 iPad 14 (10.1.0.14), group pupils".into(),
            client: client.map(|c| c.parse().unwrap()),
            from_ms: client.map(|_| 1_000),
            to_ms: client.map(|_| 5_000),
            alert: None,
            by: "Ms Khan".into(),
        }
    }

    #[tokio::test]
    async fn open_note_refer_close_with_the_hold_and_the_audit_trail() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("hedge.db")).await.unwrap();
        let lock = AuditLock::default();
        let opened = db
            .open_incident(&lock, &new(Some("10.1.0.14/32")), "root")
            .await
            .unwrap();
        let hold = opened.hold_id.expect("a hold is placed");
        assert_eq!(db.holds(false).await.unwrap()[0].id, hold);

        db.add_incident_entry(
            &lock,
            opened.id,
            "Ms Khan",
            "spoke to the pupil and their parents",
            None,
            None,
            "root",
        )
        .await
        .unwrap();
        let referred = db
            .add_incident_entry(
                &lock,
                opened.id,
                "Ms Khan",
                "",
                Some(Agency::Ceop),
                Some(42),
                "root",
            )
            .await
            .unwrap();
        assert_eq!(referred.referrals(), [Agency::Ceop]);
        assert_eq!(referred.entries[1].referred_ms, Some(42));

        // Closing keeps the hold unless told otherwise.
        let closed = db
            .close_incident(
                &lock,
                opened.id,
                "Ms Khan",
                "no further action needed",
                false,
                "root",
            )
            .await
            .unwrap();
        assert!(!closed.is_open());
        assert_eq!(db.holds(false).await.unwrap().len(), 1);
        let again = db
            .add_incident_entry(
                &lock,
                opened.id,
                "Ms Khan",
                "one more thing to add",
                None,
                None,
                "root",
            )
            .await
            .unwrap_err();
        assert!(again.to_string().contains("is closed"), "{again}");

        let second = db
            .open_incident(&lock, &new(Some("10.1.0.15/32")), "root")
            .await
            .unwrap();
        db.close_incident(
            &lock,
            second.id,
            "Ms Khan",
            "resolved with the class teacher",
            true,
            "root",
        )
        .await
        .unwrap();
        assert_eq!(
            db.holds(false).await.unwrap().len(),
            1,
            "second hold released"
        );

        let without = db.open_incident(&lock, &new(None), "root").await.unwrap();
        assert_eq!(without.hold_id, None);

        assert!(
            sqlx::query("UPDATE incident_entries SET text = 'x'")
                .execute(db.pool())
                .await
                .is_err()
        );
        assert!(
            sqlx::query("DELETE FROM incidents")
                .execute(db.pool())
                .await
                .is_err()
        );
        let summary = db.incident_summary(0, i64::MAX).await.unwrap();
        assert_eq!(summary.opened, 3);
        assert_eq!(summary.closed, 2);
        assert_eq!(summary.open.len(), 1);
        assert_eq!(summary.referrals, vec![("ceop".to_string(), 1)]);
        let actions: Vec<String> = db
            .audit_rows(0, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.action)
            .collect();
        assert_eq!(
            actions,
            [
                "hold.placed",
                "incident.opened",
                "incident.noted",
                "incident.referred",
                "incident.closed",
                "hold.placed",
                "incident.opened",
                "hold.released",
                "incident.closed",
                "incident.opened",
            ]
        );
        assert_eq!(db.verify_audit().await.unwrap().first_broken, None);
    }
}
