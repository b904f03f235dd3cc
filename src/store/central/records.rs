//! Alerts and exemptions as every site shipped them, for reading across
//! sites: each row with its site, newest first.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Serialize;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};

use super::CentralError;
use crate::config::Mac;
use crate::store::{Alert, Delivery};

/// An alert as a site raised it (its `id` the site's own), with where the
/// site delivered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CentralAlert {
    pub site: String,
    #[serde(flatten)]
    pub alert: Alert,
}

/// Alerts of every site (or of `site`), newest first (by when they were
/// raised); only those nobody has acknowledged with `open_only`.
pub async fn alerts(
    pool: &PgPool,
    site: Option<&str>,
    open_only: bool,
) -> Result<Vec<CentralAlert>, CentralError> {
    let rows = sqlx::query(
        "SELECT site, id, first_ms, last_ms, hits, host(client_ip) AS client_ip, \
         mac::text AS mac, client_name, group_name, category, name, acked_ms, acked_by, \
         acked_user, ack_note FROM alerts \
         WHERE ($1::text IS NULL OR site = $1) AND (NOT $2 OR acked_ms IS NULL) \
         ORDER BY first_ms DESC, site, id DESC",
    )
    .bind(site)
    .bind(open_only)
    .fetch_all(pool)
    .await?;
    let mut alerts = rows
        .iter()
        .map(central_alert)
        .collect::<Result<Vec<_>, _>>()?;
    if alerts.is_empty() {
        return Ok(alerts);
    }
    let deliveries = sqlx::query(
        "SELECT d.site, d.alert_id, d.sink, d.state, d.attempts, d.error, d.at_ms \
         FROM alert_deliveries AS d JOIN alerts AS a ON a.site = d.site AND a.id = d.alert_id \
         WHERE ($1::text IS NULL OR d.site = $1) AND (NOT $2 OR a.acked_ms IS NULL) \
         ORDER BY d.site, d.alert_id, d.sink",
    )
    .bind(site)
    .bind(open_only)
    .fetch_all(pool)
    .await?;
    let mut by_alert: HashMap<(String, i64), Vec<Delivery>> = HashMap::new();
    for row in &deliveries {
        by_alert
            .entry((row.try_get("site")?, row.try_get("alert_id")?))
            .or_default()
            .push(Delivery {
                sink: row.try_get("sink")?,
                state: row.try_get("state")?,
                attempts: u32::try_from(row.try_get::<i32, _>("attempts")?).unwrap_or(0),
                error: row.try_get("error")?,
                at_ms: row.try_get("at_ms")?,
            });
    }
    for alert in &mut alerts {
        if let Some(found) = by_alert.remove(&(alert.site.clone(), alert.alert.id)) {
            alert.alert.deliveries = found;
        }
    }
    Ok(alerts)
}

fn central_alert(row: &PgRow) -> Result<CentralAlert, CentralError> {
    let site: String = row.try_get("site")?;
    let id: i64 = row.try_get("id")?;
    let corrupt = |what: &str| CentralError::Invalid(format!("site {site:?} alert {id}: {what}"));
    let ip: String = row.try_get("client_ip")?;
    let mac: Option<String> = row.try_get("mac")?;
    let alert = Alert {
        id,
        first_ms: row.try_get("first_ms")?,
        last_ms: row.try_get("last_ms")?,
        hits: u64::try_from(row.try_get::<i64, _>("hits")?).unwrap_or(0),
        client: ip
            .parse::<IpAddr>()
            .map_err(|_| corrupt("client address unreadable"))?,
        client_name: row.try_get("client_name")?,
        mac: mac
            .map(|mac| mac.parse::<Mac>())
            .transpose()
            .map_err(|_| corrupt("MAC address unreadable"))?,
        group: row.try_get("group_name")?,
        category: row.try_get("category")?,
        name: row.try_get("name")?,
        acked_ms: row.try_get("acked_ms")?,
        acked_by: row.try_get("acked_by")?,
        acked_user: row.try_get("acked_user")?,
        ack_note: row.try_get("ack_note")?,
        deliveries: Vec::new(),
    };
    Ok(CentralAlert { site, alert })
}

/// An exemption as a site recorded it, every column as shipped (text as
/// the site wrote it, so that a row the centre cannot interpret is still
/// shown rather than refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CentralExemption {
    pub site: String,
    pub id: i64,
    /// `site` (a name let through) or `bypass` (filtering off).
    pub kind: String,
    pub name: Option<String>,
    pub scope_group: Option<String>,
    pub scope_client: Option<String>,
    pub reason: String,
    pub requested_by: String,
    pub requested_user: String,
    pub requested_ms: i64,
    pub filed_by: Option<String>,
    pub from_ms: i64,
    pub until_ms: i64,
    /// `pending`, `approved`, `rejected` or `revoked`, as the site stored it.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_user: Option<String>,
    pub decided_ms: Option<i64>,
    pub decision_reason: Option<String>,
    pub revoked_by: Option<String>,
    pub revoked_user: Option<String>,
    pub revoked_ms: Option<i64>,
    pub revoke_reason: Option<String>,
    pub expiry_recorded_ms: Option<i64>,
}

impl CentralExemption {
    /// The group or client it applies to, as `group NAME` or `client IP`.
    pub fn scope(&self) -> String {
        match (&self.scope_group, &self.scope_client) {
            (Some(group), _) => format!("group {group}"),
            (None, Some(client)) => format!("client {client}"),
            (None, None) => "?".into(),
        }
    }
}

/// Every exemption of every site (or of `site`), newest request first.
pub async fn exemptions(
    pool: &PgPool,
    site: Option<&str>,
) -> Result<Vec<CentralExemption>, CentralError> {
    let rows = sqlx::query(
        "SELECT * FROM exemptions WHERE ($1::text IS NULL OR site = $1) \
         ORDER BY requested_ms DESC, site, id DESC",
    )
    .bind(site)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(CentralExemption {
                site: row.try_get("site")?,
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                name: row.try_get("name")?,
                scope_group: row.try_get("scope_group")?,
                scope_client: row.try_get("scope_client")?,
                reason: row.try_get("reason")?,
                requested_by: row.try_get("requested_by")?,
                requested_user: row.try_get("requested_user")?,
                requested_ms: row.try_get("requested_ms")?,
                filed_by: row.try_get("filed_by")?,
                from_ms: row.try_get("from_ms")?,
                until_ms: row.try_get("until_ms")?,
                status: row.try_get("status")?,
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
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(CentralError::from)
}
