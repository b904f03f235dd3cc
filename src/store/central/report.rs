//! The report across sites: the same [`Report`] a site gathers from its
//! own log (`hedge report`), gathered from what every site (or one) has
//! shipped to the centre, and beside it each site's own numbers and the
//! state it last reported (when it shipped, what it still holds back, its
//! audit head).
//!
//! Every count means what it means at a site: queries are counted with
//! their repeats (`times`), blocks by category and group, the names blocked
//! most, the devices behind safeguarding blocks, alerts first raised, and
//! exemptions, holds and incidents of the period. Across several sites a
//! group, a device, a hold's clients and a group-scoped exemption are
//! named with their site (`north: pupils`), since each site has its own.
//! The centre does not receive a site's count of log entries its writer
//! dropped, so `log_drops` is 0 here; `never_shipped` in [`SiteState`]
//! says what a site deleted before it could ship it.

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};

use super::CentralError;
use crate::config::Mac;
use crate::policy::incidents::{Agency, Identified, IncidentKind};
use crate::policy::{Exemption, ExemptionKind, ExemptionScope, ExemptionStatus};
use crate::store::counts::BUCKET_MS;
use crate::store::record::name_from_key;
use crate::store::report::{Count, LIST_LIMIT, TOP, summarise_exemptions, tally_traffic, to_u64};
use crate::store::{
    Alert, AlertSummary, ChainCheck, ClientCount, GENESIS, Incident, IncidentEntry, LegalHold,
    NameCount, Report, now_ms, row_hash,
};

/// What to report on at the centre.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentralReportRequest {
    pub from_ms: i64,
    pub to_ms: i64,
    /// Only this site's records; `None`: every site's.
    pub site: Option<String>,
    /// Days are counted in this zone (IANA name); `None`: this machine's.
    pub time_zone: Option<String>,
}

/// What the centre cannot know: which categories are safeguarding ones,
/// and how long it keeps query-log rows.
#[derive(Debug, Clone, Default)]
pub struct CentralReportContext {
    /// Ids of categories flagged safeguarding (mandatory ones included).
    pub safeguarding: Vec<String>,
    /// The central retention, in days.
    pub retention_days: u32,
}

/// One site as the report sees it: its traffic in the period and its state
/// as it last reported it to the centre.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteState {
    pub site: String,
    /// Queries in the period, repeats included.
    pub queries: u64,
    pub blocked: u64,
    /// Alerts first raised in the period.
    pub alerts: u64,
    /// When it first shipped.
    pub first_ms: i64,
    /// When it last shipped, if ever.
    pub last_shipped_ms: Option<i64>,
    /// Rows it had not yet shipped when it last shipped, and the time of
    /// the oldest of them.
    pub backlog_rows: u64,
    pub backlog_oldest_ms: Option<i64>,
    /// Rows its retention deleted before they could be shipped.
    pub never_shipped: u64,
    /// The newest audit row it had when it last shipped, as it reported it.
    pub audit_head_id: Option<i64>,
    pub audit_head_hash: Option<String>,
    /// The audit chain as received at the centre, checked here.
    pub audit: ChainCheck,
    /// The hedge version it runs.
    pub version: Option<String>,
}

/// The report across sites, and each site's own line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentralReport {
    pub report: Report,
    /// Every site reported on, by name.
    pub sites: Vec<SiteState>,
}

/// Gathers the report `request` asks for from the central tables. A
/// `--site` no hedge has shipped as is refused.
pub async fn report(
    pool: &PgPool,
    request: &CentralReportRequest,
    context: &CentralReportContext,
) -> Result<CentralReport, CentralError> {
    if request.to_ms <= request.from_ms {
        return Err(CentralError::Invalid(
            "the report's end must be after its start".into(),
        ));
    }
    let zone = match &request.time_zone {
        Some(name) => TimeZone::get(name)
            .map_err(|e| CentralError::Invalid(format!("time zone {name:?}: {e}")))?,
        None => TimeZone::system(),
    };
    if let Some(site) = &request.site {
        super::known_site(pool, site).await?;
    }
    let gather = Gather {
        pool,
        request,
        many: request.site.is_none(),
    };
    let mut sites = gather.sites().await?;
    let audits = gather.audit().await?;
    for site in &mut sites {
        if let Some(check) = audits.get(&site.site) {
            site.audit = check.clone();
        }
    }
    let mut report = Report {
        site: match &request.site {
            Some(site) => site.clone(),
            None => {
                let names: Vec<&str> = sites.iter().map(|s| s.site.as_str()).collect();
                format!("all sites ({})", names.join(", "))
            }
        },
        from_ms: request.from_ms,
        to_ms: request.to_ms,
        generated_ms: now_ms(),
        group: None,
        time_zone: zone.iana_name().unwrap_or("local").to_string(),
        retention_days: context.retention_days,
        ..Report::default()
    };
    let counts = gather.counts().await?;
    tally_traffic(
        &counts,
        request.from_ms,
        request.to_ms,
        &zone,
        &context.safeguarding,
        &mut report,
    )?;
    report.totals.clients = to_u64(
        sqlx::query_scalar(&format!(
            "SELECT count(*) FROM (SELECT DISTINCT site, client_ip FROM queries WHERE {IN_PERIOD}) AS c"
        ))
        .bind(request.from_ms)
        .bind(request.to_ms)
        .bind(&request.site)
        .fetch_one(pool)
        .await?,
    );
    let (clients, safeguarding_clients) = gather.top_clients(&context.safeguarding).await?;
    report.top_clients = clients;
    report.totals.safeguarding_clients = safeguarding_clients;
    report.top_names = gather.top_names().await?;
    report.alerts = gather.alerts().await?;
    report.exemptions =
        summarise_exemptions(gather.exemptions().await?, request.from_ms, request.to_ms);
    report.holds = gather.holds().await?;
    report.incidents = crate::store::incidents::summarise_incidents(
        gather.incidents().await?,
        request.from_ms,
        request.to_ms,
    );
    report.audit = super::verify::combined(&sites, request.site.is_some());
    report.oldest_kept_ms =
        sqlx::query_scalar("SELECT min(at_ms) FROM queries WHERE ($1::text IS NULL OR site = $1)")
            .bind(&request.site)
            .fetch_one(pool)
            .await?;
    Ok(CentralReport { report, sites })
}

/// Rows of the period, of the site asked for (`$1`, `$2`, `$3`).
const IN_PERIOD: &str = "at_ms >= $1 AND at_ms < $2 AND ($3::text IS NULL OR site = $3)";

/// The queries of one report, and whether it spans several sites (so that
/// site-local names carry their site).
struct Gather<'a> {
    pool: &'a PgPool,
    request: &'a CentralReportRequest,
    many: bool,
}

impl Gather<'_> {
    /// `name` of `site`, named with its site when the report spans several.
    fn label(&self, site: &str, name: &str) -> String {
        if self.many {
            format!("{site}: {name}")
        } else {
            name.to_string()
        }
    }

    /// Queries per bucket, group, action and category, repeats counted.
    async fn counts(&self) -> Result<Vec<Count>, CentralError> {
        let rows = sqlx::query(&format!(
            "SELECT at_ms / $4 AS bucket, \
             CASE WHEN group_name IS NULL THEN '' WHEN $5 THEN site || ': ' || group_name \
             ELSE group_name END AS group_name, action, coalesce(category, '') AS category, \
             sum(times)::bigint AS n FROM queries WHERE {IN_PERIOD} GROUP BY 1, 2, 3, 4"
        ))
        .bind(self.request.from_ms)
        .bind(self.request.to_ms)
        .bind(&self.request.site)
        .bind(BUCKET_MS)
        .bind(self.many)
        .fetch_all(self.pool)
        .await?;
        Ok(rows
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
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// The devices with the most blocked attempts in safeguarding
    /// categories (at most [`TOP`]), and how many devices had any.
    async fn top_clients(
        &self,
        safeguarding: &[String],
    ) -> Result<(Vec<ClientCount>, u64), CentralError> {
        if safeguarding.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let rows = sqlx::query(&format!(
            "SELECT site, host(client_ip) AS client, max(group_name) AS group_name, category, \
             sum(times)::bigint AS n FROM queries \
             WHERE action = 'blocked' AND category = ANY($4) AND {IN_PERIOD} \
             GROUP BY site, client_ip, category"
        ))
        .bind(self.request.from_ms)
        .bind(self.request.to_ms)
        .bind(&self.request.site)
        .bind(safeguarding)
        .fetch_all(self.pool)
        .await?;
        // (site, address) -> the device, and its (attempts, category).
        type Tally = (ClientCount, Vec<(u64, String)>);
        let mut clients: BTreeMap<(String, String), Tally> = BTreeMap::new();
        for row in &rows {
            let site: String = row.try_get("site")?;
            let client: String = row.try_get("client")?;
            let group: Option<String> = row.try_get("group_name")?;
            let category: String = row.try_get("category")?;
            let n = to_u64(row.try_get("n")?);
            let entry = clients
                .entry((site.clone(), client.clone()))
                .or_insert_with(|| {
                    let shown = if self.many {
                        format!("{client} at {site}")
                    } else {
                        client.clone()
                    };
                    (
                        ClientCount {
                            client: shown,
                            ..ClientCount::default()
                        },
                        Vec::new(),
                    )
                });
            entry.0.blocked += n;
            if entry.0.group.is_none() {
                entry.0.group = group.map(|g| self.label(&site, &g));
            }
            entry.1.push((n, category));
        }
        let mut list: Vec<((String, String), ClientCount)> = clients
            .into_iter()
            .map(|(key, (mut client, mut categories))| {
                categories.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
                client.categories = categories.into_iter().map(|(_, c)| c).collect();
                (key, client)
            })
            .collect();
        list.sort_by(|a, b| {
            b.1.blocked
                .cmp(&a.1.blocked)
                .then(a.1.client.cmp(&b.1.client))
        });
        let total = list.len() as u64;
        list.truncate(TOP);
        let mut out = Vec::with_capacity(list.len());
        for ((site, address), mut client) in list {
            let (from, to) = (self.request.from_ms, self.request.to_ms);
            client.client_name = sqlx::query_scalar(
                "SELECT client_name FROM queries WHERE site = $1 AND client_ip = $2::inet \
                 AND at_ms >= $3 AND at_ms < $4 AND client_name IS NOT NULL \
                 ORDER BY at_ms DESC LIMIT 1",
            )
            .bind(&site)
            .bind(&address)
            .bind(from)
            .bind(to)
            .fetch_optional(self.pool)
            .await?;
            let device: Option<(String, Option<String>)> = sqlx::query_as(
                "SELECT mac::text, dhcp_name FROM queries WHERE site = $1 AND client_ip = $2::inet \
                 AND at_ms >= $3 AND at_ms < $4 AND mac IS NOT NULL ORDER BY at_ms DESC LIMIT 1",
            )
            .bind(&site)
            .bind(&address)
            .bind(from)
            .bind(to)
            .fetch_optional(self.pool)
            .await?;
            if let Some((mac, dhcp_name)) = device {
                client.mac = Some(mac);
                client.client_name = client.client_name.take().or(dhcp_name);
            }
            out.push(client);
        }
        Ok((out, total))
    }

    /// The names blocked most often, repeats counted, across the sites.
    async fn top_names(&self) -> Result<Vec<NameCount>, CentralError> {
        let rows = sqlx::query(&format!(
            "SELECT name_key, max(category) AS category, sum(times)::bigint AS n FROM queries \
             WHERE action = 'blocked' AND {IN_PERIOD} \
             GROUP BY name_key ORDER BY n DESC, name_key LIMIT $4"
        ))
        .bind(self.request.from_ms)
        .bind(self.request.to_ms)
        .bind(&self.request.site)
        .bind(TOP as i64)
        .fetch_all(self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let key: String = row.try_get("name_key")?;
                Ok(NameCount {
                    name: name_from_key(&key),
                    category: row.try_get("category")?,
                    blocked: to_u64(row.try_get("n")?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Alerts first raised in the period: their counts, and the newest
    /// [`LIST_LIMIT`] of them.
    async fn alerts(&self) -> Result<AlertSummary, CentralError> {
        const RAISED: &str = "first_ms >= $1 AND first_ms < $2 AND ($3::text IS NULL OR site = $3)";
        let row = sqlx::query(&format!(
            "SELECT count(*) AS raised, coalesce(sum(hits), 0)::bigint AS hits, \
             count(*) FILTER (WHERE acked_ms IS NULL) AS open FROM alerts WHERE {RAISED}"
        ))
        .bind(self.request.from_ms)
        .bind(self.request.to_ms)
        .bind(&self.request.site)
        .fetch_one(self.pool)
        .await?;
        let rows = sqlx::query(&format!(
            "SELECT site, id, first_ms, last_ms, hits, host(client_ip) AS client, mac::text AS mac, \
             client_name, group_name, category, name, acked_ms, acked_by, acked_user, ack_note \
             FROM alerts WHERE {RAISED} ORDER BY first_ms DESC, site, id DESC LIMIT $4"
        ))
        .bind(self.request.from_ms)
        .bind(self.request.to_ms)
        .bind(&self.request.site)
        .bind(LIST_LIMIT as i64)
        .fetch_all(self.pool)
        .await?;
        let mut list = Vec::with_capacity(rows.len());
        for row in &rows {
            let site: String = row.try_get("site")?;
            let id: i64 = row.try_get("id")?;
            let client: String = row.try_get("client")?;
            let mac: Option<String> = row.try_get("mac")?;
            let group: String = row.try_get("group_name")?;
            list.push(Alert {
                id,
                first_ms: row.try_get("first_ms")?,
                last_ms: row.try_get("last_ms")?,
                hits: to_u64(row.try_get("hits")?),
                client: client.parse().map_err(|_| {
                    CentralError::Invalid(format!("alert {id} of {site}: bad address {client:?}"))
                })?,
                client_name: row.try_get("client_name")?,
                mac: mac.and_then(|m| m.parse::<Mac>().ok()),
                group: self.label(&site, &group),
                category: row.try_get("category")?,
                name: row.try_get("name")?,
                acked_ms: row.try_get("acked_ms")?,
                acked_by: row.try_get("acked_by")?,
                acked_user: row.try_get("acked_user")?,
                ack_note: row.try_get("ack_note")?,
                deliveries: Vec::new(),
            });
        }
        Ok(AlertSummary {
            raised: to_u64(row.try_get("raised")?),
            hits: to_u64(row.try_get("hits")?),
            open: to_u64(row.try_get("open")?),
            list,
        })
    }

    /// Every exemption of the sites asked for, newest first.
    async fn exemptions(&self) -> Result<Vec<Exemption>, CentralError> {
        let rows = sqlx::query(
            "SELECT * FROM exemptions WHERE ($1::text IS NULL OR site = $1) \
             ORDER BY requested_ms DESC, site, id DESC",
        )
        .bind(&self.request.site)
        .fetch_all(self.pool)
        .await?;
        rows.iter().map(|row| self.exemption(row)).collect()
    }

    fn exemption(&self, row: &PgRow) -> Result<Exemption, CentralError> {
        let site: String = row.try_get("site")?;
        let id: i64 = row.try_get("id")?;
        let corrupt =
            |what: &str| CentralError::Invalid(format!("exemption {id} of {site}: {what}"));
        let kind = match row.try_get::<String, _>("kind")?.as_str() {
            "site" => ExemptionKind::Site,
            "bypass" => ExemptionKind::Bypass,
            _ => return Err(corrupt("unknown kind")),
        };
        let group: Option<String> = row.try_get("scope_group")?;
        let client: Option<String> = row.try_get("scope_client")?;
        let scope = match (group, client) {
            (Some(group), None) => ExemptionScope::Group(self.label(&site, &group)),
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

    /// The sites' holds placed before the end and not released before the
    /// start of the period.
    async fn holds(&self) -> Result<Vec<LegalHold>, CentralError> {
        let rows = sqlx::query(
            "SELECT site, id, client_net::text AS client_net, from_ms, to_ms, reason, placed_by, \
             placed_user, placed_ms, released_ms, released_by, released_user, release_reason \
             FROM legal_holds WHERE ($3::text IS NULL OR site = $3) AND placed_ms < $2 \
             AND (released_ms IS NULL OR released_ms >= $1) \
             ORDER BY placed_ms DESC, site, id DESC LIMIT $4",
        )
        .bind(self.request.from_ms)
        .bind(self.request.to_ms)
        .bind(&self.request.site)
        .bind(LIST_LIMIT as i64)
        .fetch_all(self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let site: String = row.try_get("site")?;
                let client: String = row.try_get("client_net")?;
                Ok(LegalHold {
                    id: row.try_get("id")?,
                    client: self.label(&site, &client),
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
            })
            .collect()
    }

    /// Every incident of the sites asked for, with its entries.
    async fn incidents(&self) -> Result<Vec<Incident>, CentralError> {
        let bad =
            |what: &str, text: String| CentralError::Invalid(format!("incident {what}: {text}"));
        let mut entries: BTreeMap<(String, i64), Vec<IncidentEntry>> = BTreeMap::new();
        for row in sqlx::query(
            "SELECT * FROM incident_entries WHERE ($1::text IS NULL OR site = $1) \
             ORDER BY site, id",
        )
        .bind(&self.request.site)
        .fetch_all(self.pool)
        .await?
        {
            let agency: Option<String> = row.try_get("agency")?;
            entries
                .entry((row.try_get("site")?, row.try_get("incident_id")?))
                .or_default()
                .push(IncidentEntry {
                    id: row.try_get("id")?,
                    at_ms: row.try_get("at_ms")?,
                    kind: row.try_get("kind")?,
                    by: row.try_get("by_person")?,
                    os_user: row.try_get("os_user")?,
                    text: row.try_get("text")?,
                    agency: agency
                        .map(|a| Agency::parse(&a))
                        .transpose()
                        .map_err(|e| bad("agency", e))?,
                    referred_ms: row.try_get("referred_ms")?,
                });
        }
        let rows = sqlx::query(
            "SELECT * FROM incidents WHERE ($1::text IS NULL OR site = $1) \
             ORDER BY opened_ms DESC, site, id DESC",
        )
        .bind(&self.request.site)
        .fetch_all(self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let site: String = row.try_get("site")?;
            let id: i64 = row.try_get("id")?;
            let kind: String = row.try_get("kind")?;
            let identified: String = row.try_get("identified")?;
            out.push(Incident {
                id,
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
                opened_by: self.label(&site, &row.try_get::<String, _>("opened_by")?),
                opened_user: row.try_get("opened_user")?,
                closed_ms: row.try_get("closed_ms")?,
                closed_by: row.try_get("closed_by")?,
                closed_user: row.try_get("closed_user")?,
                conclusion: row.try_get("conclusion")?,
                entries: entries.remove(&(site, id)).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// Each site's audit chain as received, checked link by link from its
    /// first row, as `hedge audit verify` checks it at the site.
    async fn audit(&self) -> Result<BTreeMap<String, ChainCheck>, CentralError> {
        let mut rows = sqlx::query(
            "SELECT site, id, at_ms, actor, person, action, details, prev_hash, hash FROM audit \
             WHERE ($1::text IS NULL OR site = $1) ORDER BY site, id",
        )
        .bind(&self.request.site)
        .fetch(self.pool);
        let mut checks: BTreeMap<String, (ChainCheck, i64, String)> = BTreeMap::new();
        while let Some(row) = rows.try_next().await? {
            let site: String = row.try_get("site")?;
            let (check, expected_id, expected_prev) = checks
                .entry(site)
                .or_insert_with(|| (ChainCheck::default(), 1, GENESIS.to_string()));
            if check.first_broken.is_some() {
                continue;
            }
            let id: i64 = row.try_get("id")?;
            let prev_hash: String = row.try_get("prev_hash")?;
            let hash: String = row.try_get("hash")?;
            let person: Option<String> = row.try_get("person")?;
            check.rows += 1;
            let broken = if id != *expected_id {
                Some(format!(
                    "row {expected_id} is missing (the next row is {id})"
                ))
            } else if prev_hash != *expected_prev {
                Some("its link to the previous row does not match that row's hash".to_string())
            } else if row_hash(
                &prev_hash,
                id,
                row.try_get("at_ms")?,
                &row.try_get::<String, _>("actor")?,
                person.as_deref(),
                &row.try_get::<String, _>("action")?,
                &row.try_get::<String, _>("details")?,
            ) != hash
            {
                Some("its contents do not match its hash: the row was changed".to_string())
            } else {
                None
            };
            match broken {
                Some(why) => check.first_broken = Some((id.min(*expected_id), why)),
                None => {
                    check.last = Some((id, hash.clone()));
                    *expected_prev = hash;
                    *expected_id += 1;
                }
            }
        }
        Ok(checks
            .into_iter()
            .map(|(site, (mut check, _, _))| {
                if check.first_broken.is_some() {
                    check.last = None;
                }
                (site, check)
            })
            .collect())
    }

    /// Every site asked for: its traffic and alerts in the period, and its
    /// state as it last reported it.
    async fn sites(&self) -> Result<Vec<SiteState>, CentralError> {
        let rows = sqlx::query(&format!(
            "SELECT s.*, coalesce(q.queries, 0)::bigint AS queries, \
             coalesce(q.blocked, 0)::bigint AS blocked, coalesce(a.alerts, 0)::bigint AS alerts \
             FROM sites AS s \
             LEFT JOIN (SELECT site, sum(times) AS queries, \
                 sum(times) FILTER (WHERE action = 'blocked') AS blocked \
                 FROM queries WHERE {IN_PERIOD} GROUP BY site) AS q ON q.site = s.site \
             LEFT JOIN (SELECT site, count(*) AS alerts FROM alerts \
                 WHERE first_ms >= $1 AND first_ms < $2 GROUP BY site) AS a ON a.site = s.site \
             WHERE ($3::text IS NULL OR s.site = $3) ORDER BY s.site"
        ))
        .bind(self.request.from_ms)
        .bind(self.request.to_ms)
        .bind(&self.request.site)
        .fetch_all(self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SiteState {
                    site: row.try_get("site")?,
                    queries: to_u64(row.try_get("queries")?),
                    blocked: to_u64(row.try_get("blocked")?),
                    alerts: to_u64(row.try_get("alerts")?),
                    first_ms: row.try_get("first_ms")?,
                    last_shipped_ms: row.try_get("last_shipped_ms")?,
                    backlog_rows: to_u64(row.try_get("backlog_rows")?),
                    backlog_oldest_ms: row.try_get("backlog_oldest_ms")?,
                    never_shipped: to_u64(row.try_get("never_shipped")?),
                    audit_head_id: row.try_get("audit_head_id")?,
                    audit_head_hash: row.try_get("audit_head_hash")?,
                    audit: ChainCheck::default(),
                    version: row.try_get("version")?,
                })
            })
            .collect()
    }
}
