//! Safeguarding alerts as stored: raised by the server, counted while the
//! same client keeps trying, delivered to each sink, acknowledged by a
//! named person (with an audit row in the same transaction). Alerts are
//! never deleted.
//!
//! The DNS path only hands hits to [`AlertQueue`], which never waits.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tokio::sync::mpsc;

use super::audit::{AuditEntry, AuditLock, append};
use super::record::{ip_from_key, ip_key};
use super::{Database, StoreError, now_ms};
use crate::config::Mac;

/// A blocked attempt in a safeguarding category, as the DNS path saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertHit {
    pub at_ms: i64,
    pub client: IpAddr,
    pub client_name: Option<String>,
    /// The device's MAC address, when hedge knew it.
    pub mac: Option<Mac>,
    pub group: Arc<str>,
    /// The name asked, normalised.
    pub name: String,
    pub category: String,
}

/// What the alert task is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertEvent {
    Hit(AlertHit),
    /// Alert `id` was acknowledged: later hits start a new alert.
    Acknowledged(i64),
}

/// Where the DNS path hands hits. Cloning shares the queue.
#[derive(Debug, Clone)]
pub struct AlertQueue {
    sender: Option<mpsc::Sender<AlertEvent>>,
    dropped: Arc<AtomicU64>,
}

impl AlertQueue {
    /// A queue of `capacity` events and the receiving end for the task.
    pub fn new(capacity: usize) -> (AlertQueue, mpsc::Receiver<AlertEvent>) {
        let (sender, receiver) = mpsc::channel(capacity);
        let queue = AlertQueue {
            sender: Some(sender),
            dropped: Arc::default(),
        };
        (queue, receiver)
    }

    /// A queue that takes nothing (tools, tests).
    pub fn disabled() -> AlertQueue {
        AlertQueue {
            sender: None,
            dropped: Arc::default(),
        }
    }

    /// Hands `event` over without waiting; a full queue counts it as
    /// dropped (the hit is still in the query log).
    pub fn send(&self, event: AlertEvent) {
        if let Some(sender) = &self.sender
            && sender.try_send(event).is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Hands over a control event (an acknowledgement), waiting up to a
    /// few seconds for room: unlike a hit, it must not be lost to a burst.
    pub async fn send_control(&self, event: AlertEvent) {
        if let Some(sender) = &self.sender
            && tokio::time::timeout(std::time::Duration::from_secs(5), sender.send(event))
                .await
                .is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// One alert: a client's blocked attempts in one category, grouped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub id: i64,
    pub first_ms: i64,
    pub last_ms: i64,
    pub hits: u64,
    pub client: IpAddr,
    /// The configured name of the client, else its DHCP name when the
    /// alert was raised.
    pub client_name: Option<String>,
    /// The device's MAC address, when hedge knew it.
    #[serde(default)]
    pub mac: Option<Mac>,
    pub group: String,
    pub category: String,
    /// The first name asked.
    pub name: String,
    pub acked_ms: Option<i64>,
    pub acked_by: Option<String>,
    pub acked_user: Option<String>,
    pub ack_note: Option<String>,
    /// Where it was sent and whether it arrived.
    #[serde(default)]
    pub deliveries: Vec<Delivery>,
}

impl Alert {
    pub fn is_open(&self) -> bool {
        self.acked_ms.is_none()
    }

    /// The client as people know it: its name, address and MAC address.
    pub fn who(&self) -> String {
        match (&self.client_name, self.mac) {
            (Some(name), Some(mac)) => format!("{name} ({}, {mac})", self.client),
            (Some(name), None) => format!("{name} ({})", self.client),
            (None, Some(mac)) => format!("{} ({mac})", self.client),
            (None, None) => self.client.to_string(),
        }
    }
}

/// The outcome of sending one alert to one sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// `syslog`, or the webhook URL.
    pub sink: String,
    /// `sending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub error: Option<String>,
    pub at_ms: i64,
}

pub(super) fn alert_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Alert, sqlx::Error> {
    let key: Vec<u8> = row.try_get("client_ip")?;
    let hits: i64 = row.try_get("hits")?;
    Ok(Alert {
        id: row.try_get("id")?,
        first_ms: row.try_get("first_ms")?,
        last_ms: row.try_get("last_ms")?,
        hits: u64::try_from(hits).unwrap_or(0),
        client: ip_from_key(&key).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: "client_ip".into(),
            source: "not a 16-byte address".into(),
        })?,
        client_name: row.try_get("client_name")?,
        mac: row
            .try_get::<Option<i64>, _>("mac")?
            .and_then(|mac| Mac::from_u64(mac as u64)),
        group: row.try_get("group_name")?,
        category: row.try_get("category")?,
        name: row.try_get("name")?,
        acked_ms: row.try_get("acked_ms")?,
        acked_by: row.try_get("acked_by")?,
        acked_user: row.try_get("acked_user")?,
        ack_note: row.try_get("ack_note")?,
        deliveries: Vec::new(),
    })
}

/// Which alerts to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSelection {
    /// Only those not yet acknowledged.
    pub open_only: bool,
    /// First raised at or after this time.
    pub since_ms: i64,
    pub limit: u64,
}

impl Database {
    /// Stores a new alert for `hit` with a count of one.
    pub async fn raise_alert(&self, hit: &AlertHit) -> Result<Alert, StoreError> {
        let row = sqlx::query(
            "INSERT INTO alerts (first_ms, last_ms, hits, client_ip, client_name, mac, group_name, \
             category, name) VALUES (?, ?, 1, ?, \
             coalesce(?, (SELECT name || ' [DHCP name]' FROM dhcp_names WHERE mac = ?)), ?, ?, ?, ?) RETURNING *",
        )
        .bind(hit.at_ms)
        .bind(hit.at_ms)
        .bind(ip_key(hit.client).to_vec())
        .bind(&hit.client_name)
        .bind(hit.mac.map(|mac| mac.to_u64() as i64))
        .bind(hit.mac.map(|mac| mac.to_u64() as i64))
        .bind(&*hit.group)
        .bind(&hit.category)
        .bind(&hit.name)
        .fetch_one(self.pool())
        .await?;
        Ok(alert_from_row(&row)?)
    }

    /// Adds `hits` later attempts, the last at `last_ms`, to alert `id`.
    pub async fn add_alert_hits(&self, id: i64, hits: u64, last_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE alerts SET hits = hits + ?, last_ms = max(last_ms, ?) WHERE id = ?")
            .bind(i64::try_from(hits).unwrap_or(i64::MAX))
            .bind(last_ms)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records where alert `id` stands with `sink`.
    pub async fn record_delivery(
        &self,
        id: i64,
        sink: &str,
        state: &str,
        attempts: u32,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO alert_deliveries (alert_id, sink, state, attempts, error, at_ms) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (alert_id, sink) DO UPDATE SET \
             state = excluded.state, attempts = excluded.attempts, error = excluded.error, \
             at_ms = excluded.at_ms",
        )
        .bind(id)
        .bind(sink)
        .bind(state)
        .bind(attempts)
        .bind(error)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Alerts newest first, with their deliveries.
    pub async fn alerts(&self, selection: &AlertSelection) -> Result<Vec<Alert>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM alerts WHERE first_ms >= ? AND (? = 0 OR acked_ms IS NULL) \
             ORDER BY id DESC LIMIT ?",
        )
        .bind(selection.since_ms)
        .bind(selection.open_only)
        .bind(i64::try_from(selection.limit).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        let mut alerts = rows
            .iter()
            .map(alert_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        for alert in &mut alerts {
            alert.deliveries = self.deliveries(alert.id).await?;
        }
        Ok(alerts)
    }

    /// Alert `id` with its deliveries.
    pub async fn alert(&self, id: i64) -> Result<Option<Alert>, StoreError> {
        let row = sqlx::query("SELECT * FROM alerts WHERE id = ?")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut alert = alert_from_row(&row)?;
        alert.deliveries = self.deliveries(id).await?;
        Ok(Some(alert))
    }

    async fn deliveries(&self, id: i64) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query("SELECT * FROM alert_deliveries WHERE alert_id = ? ORDER BY sink")
            .bind(id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                let attempts: i64 = row.try_get("attempts")?;
                Ok(Delivery {
                    sink: row.try_get("sink")?,
                    state: row.try_get("state")?,
                    attempts: u32::try_from(attempts).unwrap_or(0),
                    error: row.try_get("error")?,
                    at_ms: row.try_get("at_ms")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Alerts not yet acknowledged.
    pub async fn open_alert_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM alerts WHERE acked_ms IS NULL")
            .fetch_one(self.pool())
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Marks alert `id` as seen and dealt with by `by`, with a note
    /// (checked by the caller, against `policy`); the acknowledgement and
    /// its audit row commit together.
    pub async fn acknowledge_alert(
        &self,
        lock: &AuditLock,
        id: i64,
        by: &str,
        note: &str,
        os_user: &str,
    ) -> Result<Alert, StoreError> {
        let _held = lock.hold().await;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "UPDATE alerts SET acked_ms = ?, acked_by = ?, acked_user = ?, ack_note = ? \
             WHERE id = ? AND acked_ms IS NULL RETURNING *",
        )
        .bind(now_ms())
        .bind(by.trim())
        .bind(os_user)
        .bind(note.trim())
        .bind(id)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(row) = row else {
            let acked: Option<Option<String>> =
                sqlx::query_scalar("SELECT acked_by FROM alerts WHERE id = ?")
                    .bind(id)
                    .fetch_optional(&mut *transaction)
                    .await?;
            return Err(match acked {
                None => {
                    StoreError::NotFound(format!("there is no alert {id}: see `hedge alerts list`"))
                }
                Some(by) => StoreError::Conflict(format!(
                    "alert {id} was already acknowledged by {}",
                    by.unwrap_or_default()
                )),
            });
        };
        let alert = alert_from_row(&row)?;
        append(
            &mut transaction,
            &AuditEntry {
                actor: os_user.into(),
                person: Some(by.trim().into()),
                action: "alert.acknowledged".into(),
                details: serde_json::json!({
                    "alert": alert.id,
                    "client": alert.client.to_string(),
                    "client_name": alert.client_name,
                    "mac": alert.mac,
                    "group": alert.group,
                    "category": alert.category,
                    "hits": alert.hits,
                    "note": alert.ack_note,
                }),
            },
        )
        .await?;
        transaction.commit().await?;
        Ok(alert)
    }

    /// Records `dropped` query-log entries never written, as of now.
    pub async fn record_log_drops(&self, dropped: u64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO log_drops (at_ms, dropped) VALUES (?, ?)")
            .bind(now_ms())
            .bind(i64::try_from(dropped).unwrap_or(i64::MAX))
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(at_ms: i64) -> AlertHit {
        AlertHit {
            at_ms,
            client: "10.0.0.5".parse().unwrap(),
            client_name: Some("pupil-ipad".into()),
            mac: None,
            group: "pupils".into(),
            name: "example.com".into(),
            category: "adult".into(),
        }
    }

    #[tokio::test]
    async fn raise_count_acknowledge_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("hedge.db")).await.unwrap();
        let lock = AuditLock::default();
        let alert = db.raise_alert(&hit(1_000)).await.unwrap();
        db.add_alert_hits(alert.id, 4, 5_000).await.unwrap();
        db.record_delivery(alert.id, "syslog", "delivered", 1, None)
            .await
            .unwrap();
        let stored = db.alert(alert.id).await.unwrap().unwrap();
        assert_eq!((stored.hits, stored.last_ms), (5, 5_000));
        assert_eq!(stored.deliveries[0].state, "delivered");
        assert_eq!(db.open_alert_count().await.unwrap(), 1);

        let acked = db
            .acknowledge_alert(&lock, alert.id, "J. Smith", "spoke to the pupil", "root")
            .await
            .unwrap();
        assert_eq!(acked.acked_by.as_deref(), Some("J. Smith"));
        let again = db
            .acknowledge_alert(&lock, alert.id, "J. Smith", "spoke to the pupil", "root")
            .await
            .unwrap_err();
        assert!(again.to_string().contains("already"), "{again}");
        assert_eq!(db.open_alert_count().await.unwrap(), 0);
        let missing = db
            .acknowledge_alert(&lock, 99, "J. Smith", "spoke to the pupil", "root")
            .await
            .unwrap_err();
        assert!(missing.to_string().contains("no alert 99"), "{missing}");
        assert!(
            sqlx::query("DELETE FROM alerts")
                .execute(db.pool())
                .await
                .is_err()
        );
        let chain = db.verify_audit().await.unwrap();
        assert_eq!((chain.rows, chain.first_broken), (1, None));
    }

    #[tokio::test]
    async fn an_alert_carries_the_mac_and_the_dhcp_name_of_its_device() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("hedge.db")).await.unwrap();
        let mac: Mac = "02:00:00:00:00:07".parse().unwrap();
        db.set_dhcp_names(
            &[crate::policy::leases::Lease {
                mac,
                address: None,
                name: "sams-ipad".into(),
            }],
            500,
        )
        .await
        .unwrap();
        let unnamed = AlertHit {
            client_name: None,
            mac: Some(mac),
            ..hit(1_000)
        };
        let alert = db.raise_alert(&unnamed).await.unwrap();
        assert_eq!(alert.client_name.as_deref(), Some("sams-ipad [DHCP name]"));
        assert_eq!(alert.mac, Some(mac));
        assert_eq!(
            alert.who(),
            "sams-ipad [DHCP name] (10.0.0.5, 02:00:00:00:00:07)"
        );
        // A configured name comes first.
        let named = AlertHit {
            mac: Some(mac),
            ..hit(2_000)
        };
        let alert = db.raise_alert(&named).await.unwrap();
        assert_eq!(alert.who(), "pupil-ipad (10.0.0.5, 02:00:00:00:00:07)");
        let stored = db.alert(alert.id).await.unwrap().unwrap();
        assert_eq!(stored.mac, Some(mac));
    }
}
