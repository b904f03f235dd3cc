//! What hedge did over a period, gathered for the safeguarding lead and the
//! governors: traffic per day, blocks by category and group, the clients
//! and names behind blocked attempts, alerts, exemptions, holds, the audit
//! chain and the state of the log itself.
//!
//! Gathering reads the query log in two passes (one aggregate over every
//! row of the period, one over the blocked rows), so a report over 90 days
//! of a school's log takes seconds. Rendering is the CLI's job.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::alerts::{Alert, alert_from_row};
use super::counts::BUCKET_MS;
use super::holds::LegalHold;
use super::record::{ip_from_key, name_from_key};
use super::{ChainCheck, Database, StoreError};
use crate::config::Mac;
use crate::policy::{Exemption, ExemptionScope, ExemptionStatus};

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRequest {
    pub from_ms: i64,
    pub to_ms: i64,
    /// Only this group's queries, alerts and exemptions.
    pub group: Option<String>,
    /// Days are counted in this zone (IANA name); `None`: the server's.
    pub time_zone: Option<String>,
}

/// Context the store cannot know: the catalogue and the configuration.
#[derive(Debug, Clone, Default)]
pub struct ReportContext {
    pub site: String,
    /// Ids of categories flagged safeguarding (mandatory ones included).
    pub safeguarding: Vec<String>,
    pub retention_days: u32,
    /// The group each client-scoped exemption's address falls in today.
    pub group_of_client: BTreeMap<String, String>,
    /// Entries dropped since the server started and not yet recorded.
    pub dropped_unrecorded: u64,
}

/// Everything a report shows. Times are Unix milliseconds (UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub site: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub generated_ms: i64,
    pub group: Option<String>,
    pub time_zone: String,
    pub totals: Totals,
    /// One entry per local day of the period, quiet days included.
    pub days: Vec<DayCount>,
    /// Blocked queries per category, most first.
    pub categories: Vec<CategoryCount>,
    /// Queries and blocks per group, most queries first.
    pub groups: Vec<GroupCount>,
    /// Clients with the most blocked attempts in safeguarding categories.
    pub top_clients: Vec<ClientCount>,
    /// The names blocked most often.
    pub top_names: Vec<NameCount>,
    pub alerts: AlertSummary,
    pub exemptions: ExemptionSummary,
    /// Holds placed, released or in force during the period.
    pub holds: Vec<LegalHold>,
    pub audit: ChainCheck,
    pub retention_days: u32,
    /// The oldest query-log row kept (any group), if any.
    pub oldest_kept_ms: Option<i64>,
    /// Query-log entries never written during the period.
    pub log_drops: u64,
    /// Incidents opened in the period by type, and those still open
    /// (every group: an incident is not filed under one).
    #[serde(default)]
    pub incidents: super::IncidentSummary,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub queries: u64,
    pub blocked: u64,
    /// Blocked attempts in safeguarding categories.
    pub safeguarding_blocked: u64,
    /// Distinct client addresses seen.
    pub clients: u64,
    /// Distinct clients with a blocked attempt in a safeguarding category.
    #[serde(default)]
    pub safeguarding_clients: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCount {
    /// `YYYY-MM-DD` in the report's zone.
    pub date: String,
    pub queries: u64,
    pub blocked: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryCount {
    pub category: String,
    pub safeguarding: bool,
    pub blocked: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCount {
    pub group: String,
    pub queries: u64,
    pub blocked: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCount {
    pub client: String,
    /// Its configured name in the period's log, else its DHCP name.
    pub client_name: Option<String>,
    /// The MAC address of the device last seen at the address in the
    /// period, when hedge knew it.
    #[serde(default)]
    pub mac: Option<String>,
    pub group: Option<String>,
    /// Blocked attempts in safeguarding categories.
    pub blocked: u64,
    /// Those categories, most attempts first.
    pub categories: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameCount {
    pub name: String,
    pub category: Option<String>,
    pub blocked: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSummary {
    /// Alerts first raised in the period.
    pub raised: u64,
    /// Hits those alerts counted.
    pub hits: u64,
    /// Of those, not yet acknowledged.
    pub open: u64,
    /// The alerts themselves, newest first (at most [`LIST_LIMIT`]).
    pub list: Vec<Alert>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExemptionSummary {
    /// Requests filed in the period.
    pub filed: u64,
    /// Approved in the period.
    pub approved: u64,
    pub rejected: u64,
    pub revoked: u64,
    /// Approved exemptions whose end fell in the period (not revoked).
    pub expired: u64,
    /// Approved exemptions in force at the end of the period.
    pub active_at_end: u64,
    /// Approved bypasses (all filtering lifted) in force at any time in
    /// the period.
    pub bypasses: u64,
    /// Every exemption filed, decided, ended or in force in the period.
    pub list: Vec<Exemption>,
}

/// A client's safeguarding blocks, and (attempts, category) pairs.
type ClientTally = (ClientCount, Vec<(u64, String)>);

/// The longest list of one kind a report carries.
pub const LIST_LIMIT: usize = 200;
/// How many clients and names the "top" tables show.
pub const TOP: usize = 20;

impl Database {
    /// Gathers the report for `request`.
    pub async fn report(
        &self,
        request: &ReportRequest,
        context: &ReportContext,
    ) -> Result<Report, StoreError> {
        let zone = match &request.time_zone {
            Some(name) => TimeZone::get(name)
                .map_err(|e| StoreError::Invalid(format!("time zone {name:?}: {e}")))?,
            None => TimeZone::system(),
        };
        let mut report = Report {
            site: context.site.clone(),
            from_ms: request.from_ms,
            to_ms: request.to_ms,
            generated_ms: super::now_ms(),
            group: request.group.clone(),
            time_zone: zone.iana_name().unwrap_or("local").to_string(),
            retention_days: context.retention_days,
            ..Report::default()
        };
        self.traffic(request, context, &zone, &mut report).await?;
        self.blocked_detail(request, context, &mut report).await?;
        report.alerts = self.alert_summary(request).await?;
        report.exemptions = self.exemption_summary(request, context).await?;
        report.holds = self.holds_in(request.from_ms, request.to_ms).await?;
        report.incidents = self
            .incident_summary(request.from_ms, request.to_ms)
            .await?;
        report.audit = self.verify_audit().await?;
        report.oldest_kept_ms = sqlx::query_scalar("SELECT min(at_ms) FROM queries")
            .fetch_one(self.pool())
            .await?;
        let recorded: Option<i64> =
            sqlx::query_scalar("SELECT sum(dropped) FROM log_drops WHERE at_ms >= ? AND at_ms < ?")
                .bind(request.from_ms)
                .bind(request.to_ms)
                .fetch_one(self.pool())
                .await?;
        report.log_drops = to_u64(recorded.unwrap_or(0));
        if request.to_ms > super::now_ms() {
            report.log_drops += context.dropped_unrecorded;
        }
        Ok(report)
    }

    /// Counts per (bucket, group, action, category) over `[from, to)`:
    /// whole buckets from `query_counts`, the ragged ends from the rows.
    async fn counts(
        &self,
        request: &ReportRequest,
    ) -> Result<Vec<sqlx::sqlite::SqliteRow>, StoreError> {
        let (from, to) = (request.from_ms, request.to_ms);
        let first = from.div_euclid(BUCKET_MS) + i64::from(from.rem_euclid(BUCKET_MS) != 0);
        let last = to.div_euclid(BUCKET_MS);
        let rows_between = |lo: i64, hi: i64| {
            sqlx::query(
                "SELECT at_ms / ? AS bucket, coalesce(group_name, '') AS group_name, action, \
                 coalesce(category, '') AS category, sum(times) AS n \
                 FROM queries INDEXED BY queries_at \
                 WHERE at_ms >= ? AND at_ms < ? AND (? IS NULL OR group_name = ?) \
                 GROUP BY 1, 2, 3, 4",
            )
            .bind(BUCKET_MS)
            .bind(lo)
            .bind(hi)
            .bind(&request.group)
            .bind(&request.group)
            .fetch_all(self.pool())
        };
        if first >= last {
            return Ok(rows_between(from, to).await?);
        }
        let mut rows = rows_between(from, first * BUCKET_MS).await?;
        rows.extend(
            sqlx::query(
                "SELECT bucket, group_name, action, category, n FROM query_counts \
                 WHERE bucket >= ? AND bucket < ? AND (? IS NULL OR group_name = ?)",
            )
            .bind(first)
            .bind(last)
            .bind(&request.group)
            .bind(&request.group)
            .fetch_all(self.pool())
            .await?,
        );
        rows.extend(rows_between(last * BUCKET_MS, to).await?);
        Ok(rows)
    }

    /// Per day, per group and per category.
    async fn traffic(
        &self,
        request: &ReportRequest,
        context: &ReportContext,
        zone: &TimeZone,
        report: &mut Report,
    ) -> Result<(), StoreError> {
        let rows = self
            .counts(request)
            .await?
            .iter()
            .map(|row| {
                Ok(Count {
                    bucket: row.try_get("bucket")?,
                    group: row.try_get("group_name")?,
                    action: row.try_get("action")?,
                    category: row.try_get("category")?,
                    n: row.try_get("n")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        tally_traffic(
            &rows,
            request.from_ms,
            request.to_ms,
            zone,
            &context.safeguarding,
            report,
        )?;
        let clients: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT DISTINCT client_ip FROM queries \
             WHERE at_ms >= ? AND at_ms < ? AND (? IS NULL OR group_name = ?))",
        )
        .bind(request.from_ms)
        .bind(request.to_ms)
        .bind(&request.group)
        .bind(&request.group)
        .fetch_one(self.pool())
        .await?;
        report.totals.clients = to_u64(clients);
        Ok(())
    }

    /// The clients behind safeguarding blocks and the names blocked most.
    async fn blocked_detail(
        &self,
        request: &ReportRequest,
        context: &ReportContext,
        report: &mut Report,
    ) -> Result<(), StoreError> {
        if !context.safeguarding.is_empty() {
            let marks = vec!["?"; context.safeguarding.len()].join(", ");
            let sql = format!(
                "SELECT client_ip, max(group_name) AS group_name, \
                 category, sum(times) AS n FROM queries INDEXED BY queries_blocked \
                 WHERE category IN ({marks}) AND action = 'blocked' \
                 AND at_ms >= ? AND at_ms < ? AND (? IS NULL OR group_name = ?) \
                 GROUP BY client_ip, category"
            );
            let mut query = sqlx::query(&sql);
            for category in &context.safeguarding {
                query = query.bind(category);
            }
            let rows = query
                .bind(request.from_ms)
                .bind(request.to_ms)
                .bind(&request.group)
                .bind(&request.group)
                .fetch_all(self.pool())
                .await?;
            let mut clients: BTreeMap<Vec<u8>, ClientTally> = BTreeMap::new();
            for row in &rows {
                let key: Vec<u8> = row.try_get("client_ip")?;
                let n = to_u64(row.try_get("n")?);
                let category: String = row.try_get("category")?;
                let entry = clients.entry(key.clone()).or_insert_with(|| {
                    (
                        ClientCount {
                            client: ip_from_key(&key)
                                .map_or_else(|| "?".into(), |ip| ip.to_string()),
                            ..ClientCount::default()
                        },
                        Vec::new(),
                    )
                });
                entry.0.blocked += n;
                if entry.0.group.is_none() {
                    entry.0.group = row.try_get("group_name")?;
                }
                entry.1.push((n, category));
            }
            let mut clients: Vec<ClientCount> = clients
                .into_values()
                .map(|(mut client, mut categories)| {
                    categories.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
                    client.categories = categories.into_iter().map(|(_, c)| c).collect();
                    client
                })
                .collect();
            clients.sort_by(|a, b| b.blocked.cmp(&a.blocked).then(a.client.cmp(&b.client)));
            report.totals.safeguarding_clients = clients.len() as u64;
            clients.truncate(TOP);
            for client in &mut clients {
                client.client_name = self.client_name(&client.client, request).await?;
                if let Some((mac, dhcp_name)) = self.device_at(&client.client, request).await? {
                    client.mac = Some(mac.to_string());
                    client.client_name = client.client_name.take().or(dhcp_name);
                }
            }
            report.top_clients = clients;
        }
        let rows = sqlx::query(
            "SELECT name_key, max(category) AS category, sum(times) AS n FROM queries \
             INDEXED BY queries_blocked \
             WHERE action = 'blocked' AND at_ms >= ? AND at_ms < ? \
             AND (? IS NULL OR group_name = ?) \
             GROUP BY name_key ORDER BY n DESC, name_key LIMIT ?",
        )
        .bind(request.from_ms)
        .bind(request.to_ms)
        .bind(&request.group)
        .bind(&request.group)
        .bind(TOP as i64)
        .fetch_all(self.pool())
        .await?;
        report.top_names = rows
            .iter()
            .map(|row| {
                let key: String = row.try_get("name_key")?;
                Ok(NameCount {
                    name: name_from_key(&key),
                    category: row.try_get("category")?,
                    blocked: to_u64(row.try_get("n")?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(())
    }

    /// The name a client had in the period's log, if any.
    async fn client_name(
        &self,
        client: &str,
        request: &ReportRequest,
    ) -> Result<Option<String>, StoreError> {
        let Ok(ip) = client.parse() else {
            return Ok(None);
        };
        Ok(sqlx::query_scalar(
            "SELECT client_name FROM queries INDEXED BY queries_client \
             WHERE client_ip = ? AND at_ms >= ? AND at_ms < ? AND client_name IS NOT NULL \
             ORDER BY at_ms DESC LIMIT 1",
        )
        .bind(super::record::ip_key(ip).to_vec())
        .bind(request.from_ms)
        .bind(request.to_ms)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The device last seen at a client address in the period (its MAC
    /// address and DHCP name), if hedge knew it.
    async fn device_at(
        &self,
        client: &str,
        request: &ReportRequest,
    ) -> Result<Option<(Mac, Option<String>)>, StoreError> {
        let Ok(ip) = client.parse() else {
            return Ok(None);
        };
        let row: Option<(i64, Option<String>)> = sqlx::query_as(
            "SELECT q.mac, d.name FROM queries AS q INDEXED BY queries_client \
             LEFT JOIN dhcp_names AS d ON d.mac = q.mac \
             WHERE client_ip = ? AND at_ms >= ? AND at_ms < ? AND q.mac IS NOT NULL \
             ORDER BY at_ms DESC LIMIT 1",
        )
        .bind(super::record::ip_key(ip).to_vec())
        .bind(request.from_ms)
        .bind(request.to_ms)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.and_then(|(mac, name)| Some((Mac::from_u64(mac as u64)?, name))))
    }

    async fn alert_summary(&self, request: &ReportRequest) -> Result<AlertSummary, StoreError> {
        let row = sqlx::query(
            "SELECT count(*) AS raised, coalesce(sum(hits), 0) AS hits, \
             coalesce(sum(acked_ms IS NULL), 0) AS open FROM alerts \
             WHERE first_ms >= ? AND first_ms < ? AND (? IS NULL OR group_name = ?)",
        )
        .bind(request.from_ms)
        .bind(request.to_ms)
        .bind(&request.group)
        .bind(&request.group)
        .fetch_one(self.pool())
        .await?;
        let list = sqlx::query(
            "SELECT * FROM alerts WHERE first_ms >= ? AND first_ms < ? \
             AND (? IS NULL OR group_name = ?) ORDER BY id DESC LIMIT ?",
        )
        .bind(request.from_ms)
        .bind(request.to_ms)
        .bind(&request.group)
        .bind(&request.group)
        .bind(LIST_LIMIT as i64)
        .fetch_all(self.pool())
        .await?;
        Ok(AlertSummary {
            raised: to_u64(row.try_get("raised")?),
            hits: to_u64(row.try_get("hits")?),
            open: to_u64(row.try_get("open")?),
            list: list.iter().map(alert_from_row).collect::<Result<_, _>>()?,
        })
    }

    async fn exemption_summary(
        &self,
        request: &ReportRequest,
        context: &ReportContext,
    ) -> Result<ExemptionSummary, StoreError> {
        let (from, to) = (request.from_ms, request.to_ms);
        let candidates = self
            .exemptions(super::ExemptionSelection::All, 0)
            .await?
            .into_iter()
            .filter(|e| match (&request.group, &e.scope) {
                (None, _) => true,
                (Some(group), ExemptionScope::Group(scope)) => scope == group,
                (Some(group), ExemptionScope::Client(ip)) => {
                    context.group_of_client.get(&ip.to_string()) == Some(group)
                }
            });
        Ok(summarise_exemptions(candidates, from, to))
    }

    /// Holds placed before `to_ms` and not released before `from_ms`.
    async fn holds_in(&self, from_ms: i64, to_ms: i64) -> Result<Vec<LegalHold>, StoreError> {
        Ok(self
            .holds(true)
            .await?
            .into_iter()
            .filter(|h| h.placed_ms < to_ms && h.released_ms.is_none_or(|r| r >= from_ms))
            .take(LIST_LIMIT)
            .collect())
    }
}

/// The exemptions of a period from `candidates` (newest first): counts of
/// those filed, decided, revoked, ended and in force, and the list of
/// those that were any of these (at most [`LIST_LIMIT`]).
pub(crate) fn summarise_exemptions(
    candidates: impl IntoIterator<Item = Exemption>,
    from: i64,
    to: i64,
) -> ExemptionSummary {
    let in_period = |ms: i64| ms >= from && ms < to;
    let mut summary = ExemptionSummary::default();
    for exemption in candidates {
        // Approved at some point: a revoked one was, if it has a
        // decision (a withdrawn request has none).
        let approved = matches!(
            exemption.status,
            ExemptionStatus::Approved | ExemptionStatus::Revoked
        ) && exemption.decided_ms.is_some();
        let decided = exemption.decided_ms.is_some_and(in_period);
        let revoked = exemption.revoked_ms.is_some_and(in_period);
        let filed = in_period(exemption.requested_ms);
        let end = exemption
            .revoked_ms
            .map_or(exemption.until_ms, |r| r.min(exemption.until_ms));
        let in_force = approved && exemption.from_ms < to && end > from;
        let ended = exemption.status == ExemptionStatus::Approved && in_period(exemption.until_ms);
        if filed {
            summary.filed += 1;
        }
        if decided {
            if approved {
                summary.approved += 1;
            } else if exemption.status == ExemptionStatus::Rejected {
                summary.rejected += 1;
            }
        }
        if revoked {
            summary.revoked += 1;
        }
        if ended {
            summary.expired += 1;
        }
        if approved && exemption.from_ms <= to && end > to {
            summary.active_at_end += 1;
        }
        if in_force && exemption.kind == crate::policy::ExemptionKind::Bypass {
            summary.bypasses += 1;
        }
        if (filed || decided || revoked || ended || in_force) && summary.list.len() < LIST_LIMIT {
            summary.list.push(exemption);
        }
    }
    summary
}

/// Queries counted in one bucket of [`BUCKET_MS`], of one group, action
/// and category (`""` for none), repeats included.
#[derive(Debug, Clone)]
pub(crate) struct Count {
    pub bucket: i64,
    pub group: String,
    pub action: String,
    pub category: String,
    pub n: i64,
}

/// Fills the report's totals (queries, blocked, safeguarding blocked),
/// days (every local day of `[from_ms, to_ms)`, quiet ones as zero),
/// groups and categories from `rows`; the same for a site's log and for
/// the centre's.
pub(crate) fn tally_traffic(
    rows: &[Count],
    from_ms: i64,
    to_ms: i64,
    zone: &TimeZone,
    safeguarding: &[String],
    report: &mut Report,
) -> Result<(), StoreError> {
    let mut days: BTreeMap<String, DayCount> = BTreeMap::new();
    // Every day of the period, so that quiet days show as zero.
    let mut day = jiff::Timestamp::from_millisecond(from_ms)
        .map_err(|e| StoreError::Invalid(e.to_string()))?
        .to_zoned(zone.clone())
        .date();
    let last = local_date(to_ms - 1, zone);
    while day.to_string() <= last {
        days.insert(
            day.to_string(),
            DayCount {
                date: day.to_string(),
                ..DayCount::default()
            },
        );
        match day.tomorrow() {
            Ok(next) => day = next,
            Err(_) => break,
        }
    }
    let mut groups: BTreeMap<String, GroupCount> = BTreeMap::new();
    let mut categories: BTreeMap<String, u64> = BTreeMap::new();
    for row in rows {
        let bucket = row.bucket;
        let group = Some(row.group.clone()).filter(|g| !g.is_empty());
        let blocked = row.action == "blocked";
        let category = Some(row.category.clone()).filter(|c| !c.is_empty());
        let n = to_u64(row.n);
        let date = local_date(bucket * BUCKET_MS, zone);
        let day = days.entry(date.clone()).or_insert_with(|| DayCount {
            date,
            ..DayCount::default()
        });
        let group = group.unwrap_or_else(|| "(none)".into());
        let group = groups.entry(group.clone()).or_insert_with(|| GroupCount {
            group,
            ..GroupCount::default()
        });
        day.queries += n;
        group.queries += n;
        report.totals.queries += n;
        if blocked {
            day.blocked += n;
            group.blocked += n;
            report.totals.blocked += n;
            let category = category.unwrap_or_else(|| "(group rule)".into());
            if safeguarding.contains(&category) {
                report.totals.safeguarding_blocked += n;
            }
            *categories.entry(category).or_default() += n;
        }
    }
    report.days = days.into_values().collect();
    report.groups = groups.into_values().collect();
    report
        .groups
        .sort_by(|a, b| b.queries.cmp(&a.queries).then(a.group.cmp(&b.group)));
    report.categories = categories
        .into_iter()
        .map(|(category, blocked)| CategoryCount {
            safeguarding: safeguarding.contains(&category),
            category,
            blocked,
        })
        .collect();
    report
        .categories
        .sort_by(|a, b| b.blocked.cmp(&a.blocked).then(a.category.cmp(&b.category)));
    Ok(())
}

pub(crate) fn local_date(ms: i64, zone: &TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(zone.clone()).date().to_string())
        .unwrap_or_default()
}

pub(crate) fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Action, QueryRecord};

    const DAY: i64 = 86_400_000;

    fn row(at_ms: i64, group: &str, action: Action, category: Option<&str>) -> QueryRecord {
        QueryRecord {
            at_ms,
            client: "10.0.0.5".parse().unwrap(),
            client_name: Some("ipad".into()),
            mac: None,
            group: Some(group.into()),
            name: "x.example.com".into(),
            qtype: 1,
            action,
            category: category.map(str::to_string),
            rule: None,
            rcode: 0,
            upstream_us: None,
        }
    }

    async fn totals(db: &Database, from_ms: i64, to_ms: i64, group: Option<&str>) -> Totals {
        let request = ReportRequest {
            from_ms,
            to_ms,
            group: group.map(str::to_string),
            time_zone: Some("UTC".into()),
        };
        let context = ReportContext {
            safeguarding: vec!["adult".into()],
            ..ReportContext::default()
        };
        db.report(&request, &context).await.unwrap().totals
    }

    #[tokio::test]
    async fn a_row_of_repeats_counts_every_time_asked() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("hedge.db")).await.unwrap();
        let now = crate::store::now_ms();
        let start = (now - 10 * DAY).div_euclid(DAY) * DAY;
        let repeated = |at: i64, times: u32, action, category| crate::store::LogRow {
            record: row(at, "pupils", action, category),
            times,
            last_ms: (times > 1).then_some(at + 5_000),
        };
        db.insert_rows(&[
            repeated(start + 60_000, 7, Action::Blocked, Some("adult")),
            repeated(start + 2 * 3_600_000, 3, Action::Allowed, None),
            repeated(start + 2 * 3_600_000 + 1, 1, Action::Blocked, Some("adult")),
        ])
        .await
        .unwrap();
        // From the counts (whole buckets) and from the rows (a ragged end).
        for (from, to) in [
            (start, start + DAY),
            (start + 1, start + 3 * 3_600_000 + 17),
        ] {
            let totals = totals(&db, from, to, None).await;
            assert_eq!(totals.queries, 11, "{from}..{to}");
            assert_eq!(totals.blocked, 8);
            assert_eq!(totals.safeguarding_blocked, 8);
        }
        let request = ReportRequest {
            from_ms: start,
            to_ms: start + DAY,
            group: None,
            time_zone: Some("UTC".into()),
        };
        let context = ReportContext {
            safeguarding: vec!["adult".into()],
            ..ReportContext::default()
        };
        let report = db.report(&request, &context).await.unwrap();
        assert_eq!(report.top_clients[0].blocked, 8);
        assert_eq!(report.top_names[0].blocked, 8);
        // Retention takes the repeats out of the counts with the rows.
        crate::store::purge(&db, 1, None, now).await.unwrap();
        assert_eq!(totals(&db, start, start + DAY, None).await.queries, 0);
    }

    #[tokio::test]
    async fn counts_agree_with_the_rows_at_any_edges_and_after_retention() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("hedge.db")).await.unwrap();
        let now = crate::store::now_ms();
        let start = (now - 100 * DAY).div_euclid(DAY) * DAY;
        let mut rows = Vec::new();
        // Every 7 minutes for three days: buckets and days cut unevenly.
        for i in 0..(3 * 24 * 60 / 7) {
            let at = start + i * 7 * 60_000;
            let (action, category) = match i % 5 {
                0 => (Action::Blocked, Some("adult")),
                1 => (Action::Blocked, Some("gambling")),
                _ => (Action::Allowed, None),
            };
            rows.push(row(
                at,
                if i % 3 == 0 { "staff" } else { "pupils" },
                action,
                category,
            ));
        }
        db.insert_queries(&rows).await.unwrap();
        let count = |rows: &[QueryRecord], from: i64, to: i64, group: Option<&str>| {
            let matching: Vec<&QueryRecord> = rows
                .iter()
                .filter(|r| r.at_ms >= from && r.at_ms < to)
                .filter(|r| group.is_none_or(|g| r.group.as_deref() == Some(g)))
                .collect();
            Totals {
                queries: matching.len() as u64,
                blocked: matching
                    .iter()
                    .filter(|r| r.action == Action::Blocked)
                    .count() as u64,
                safeguarding_blocked: matching
                    .iter()
                    .filter(|r| r.category.as_deref() == Some("adult"))
                    .count() as u64,
                clients: u64::from(!matching.is_empty()),
                safeguarding_clients: u64::from(
                    matching
                        .iter()
                        .any(|r| r.category.as_deref() == Some("adult")),
                ),
            }
        };
        for (from, to) in [
            (start, start + 3 * DAY),
            (start + 123_456, start + 2 * DAY + 654_321),
            (start + 60_000, start + 10 * 60_000),
            (start + 3 * DAY, start + 4 * DAY),
        ] {
            for group in [None, Some("staff")] {
                assert_eq!(
                    totals(&db, from, to, group).await,
                    count(&rows, from, to, group),
                    "{from}..{to} {group:?}"
                );
            }
        }
        // Retention of 99 days deletes the first day or so; the counts
        // follow the rows.
        let purged = crate::store::purge(&db, 99, None, now).await.unwrap();
        assert!(purged.deleted > 0);
        let kept: Vec<QueryRecord> = rows
            .iter()
            .filter(|r| r.at_ms >= purged.cutoff_ms)
            .cloned()
            .collect();
        rows = kept;
        assert_eq!(
            totals(&db, start, start + 3 * DAY, None).await,
            count(&rows, start, start + 3 * DAY, None)
        );
        let counted: i64 = sqlx::query_scalar("SELECT sum(n) FROM query_counts")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(counted as usize, rows.len());
    }
}
