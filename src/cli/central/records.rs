//! `hedge central alerts` and `hedge central exemptions`: what every site
//! raised and let through, read at the centre. Each listing is recorded
//! there, before it is printed, under the PostgreSQL role and the OS
//! account (kinds `alerts` and `exemptions`).

use std::path::Path;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use super::{CentralTarget, block_on, os_user};
use crate::cli::output::{Listing, OutputFlags, print_listing};
use crate::service::inert::{inert, inert_text};
use crate::service::time::{format_local, format_rfc3339};
use crate::store::Delivery;
use crate::store::central::{self, CentralAlert, CentralExemption};
use crate::store::now_ms;

#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Only alerts nobody has acknowledged yet.
    #[arg(long)]
    open: bool,
    /// Only this site, as it ships ([central] site).
    #[arg(long)]
    site: Option<String>,
    #[command(flatten)]
    output: OutputFlags,
}

#[derive(Debug, Args)]
pub struct ExemptionsArgs {
    /// Only this site, as it ships ([central] site).
    #[arg(long)]
    site: Option<String>,
    #[command(flatten)]
    output: OutputFlags,
}

pub fn alerts(target: &CentralTarget, args: AlertsArgs, config: &Path) -> Result<()> {
    let filters = serde_json::json!({ "site": args.site, "open": args.open });
    let alerts = read(
        target,
        config,
        args.site.as_deref(),
        "alerts",
        filters,
        |pool| {
            let site = args.site.clone();
            async move { central::alerts(&pool, site.as_deref(), args.open).await }
        },
    )?;
    print_listing(alerts.iter().map(AlertRow::of), args.output)?;
    Ok(())
}

pub fn exemptions(target: &CentralTarget, args: ExemptionsArgs, config: &Path) -> Result<()> {
    let filters = serde_json::json!({ "site": args.site });
    let exemptions = read(
        target,
        config,
        args.site.as_deref(),
        "exemptions",
        filters,
        |pool| {
            let site = args.site.clone();
            async move { central::exemptions(&pool, site.as_deref()).await }
        },
    )?;
    print_listing(exemptions.iter().map(ExemptionRow::of), args.output)?;
    Ok(())
}

/// Connects, checks the site is known, reads with `fetch` and records the
/// access with the number of rows read.
fn read<T, F, Fut>(
    target: &CentralTarget,
    config: &Path,
    site: Option<&str>,
    kind: &str,
    filters: serde_json::Value,
    fetch: F,
) -> Result<Vec<T>>
where
    F: FnOnce(sqlx::PgPool) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, central::CentralError>>,
{
    block_on(async {
        let pool = target.connect(config).await?;
        let result = async {
            if let Some(site) = site {
                central::known_site(&pool, site).await?;
            }
            let rows = fetch(pool.clone()).await?;
            central::record_access(
                &pool,
                &os_user(),
                kind,
                &filters,
                rows.len() as u64,
                now_ms(),
            )
            .await?;
            Ok::<_, anyhow::Error>(rows)
        }
        .await;
        pool.close().await;
        result
    })
}

/// "syslog: delivered; https://hooks.example/x: failed after 3 (timeout)".
fn deliveries(deliveries: &[Delivery]) -> String {
    deliveries
        .iter()
        .map(|d| {
            let mut text = format!("{}: {}", d.sink, d.state);
            if d.attempts > 1 || d.state == "failed" {
                text.push_str(&format!(" after {}", d.attempts));
            }
            if let Some(error) = &d.error {
                text.push_str(&format!(" ({error})"));
            }
            text
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A central alert as listed (JSON adds the times in RFC 3339).
#[derive(Serialize)]
struct AlertRow<'a> {
    #[serde(flatten)]
    alert: &'a CentralAlert,
    state: &'static str,
    first: String,
    last: String,
    acknowledged: Option<String>,
}

impl AlertRow<'_> {
    fn of(alert: &CentralAlert) -> AlertRow<'_> {
        let a = &alert.alert;
        AlertRow {
            alert,
            state: if a.is_open() { "open" } else { "acknowledged" },
            first: format_rfc3339(a.first_ms),
            last: format_rfc3339(a.last_ms),
            acknowledged: a.acked_ms.map(format_rfc3339),
        }
    }
}

impl Listing for AlertRow<'_> {
    const TABLE_HEADERS: &'static [&'static str] = &[
        "SITE",
        "ID",
        "STATE",
        "FIRST",
        "LAST",
        "HITS",
        "CLIENT",
        "GROUP",
        "CATEGORY",
        "NAME",
        "ACKNOWLEDGED",
        "SENT",
    ];
    const CSV_HEADERS: &'static [&'static str] = &[
        "site",
        "id",
        "state",
        "first",
        "last",
        "hits",
        "client",
        "client_name",
        "mac",
        "group",
        "category",
        "name",
        "acknowledged",
        "acknowledged_by",
        "acknowledged_user",
        "note",
        "deliveries",
    ];
    const EMPTY: &'static str = "no central alerts";

    fn table_cells(&self) -> Vec<String> {
        let a = &self.alert.alert;
        let acknowledged = match (a.acked_ms, &a.acked_by) {
            (Some(at), by) => format!(
                "{} by {}{}",
                format_local(at),
                by.as_deref().unwrap_or("?"),
                a.ack_note
                    .as_deref()
                    .map(|note| format!(": {}", inert_text(note)))
                    .unwrap_or_default()
            ),
            (None, _) => String::new(),
        };
        vec![
            self.alert.site.clone(),
            a.id.to_string(),
            self.state.into(),
            format_local(a.first_ms),
            format_local(a.last_ms),
            a.hits.to_string(),
            a.who(),
            a.group.clone(),
            a.category.clone(),
            inert(&a.name),
            acknowledged,
            deliveries(&a.deliveries),
        ]
    }

    fn csv_cells(&self) -> Vec<String> {
        let a = &self.alert.alert;
        vec![
            self.alert.site.clone(),
            a.id.to_string(),
            self.state.into(),
            self.first.clone(),
            self.last.clone(),
            a.hits.to_string(),
            a.client.to_string(),
            a.client_name.clone().unwrap_or_default(),
            a.mac.map(|mac| mac.to_string()).unwrap_or_default(),
            a.group.clone(),
            a.category.clone(),
            a.name.clone(),
            self.acknowledged.clone().unwrap_or_default(),
            a.acked_by.clone().unwrap_or_default(),
            a.acked_user.clone().unwrap_or_default(),
            a.ack_note.clone().unwrap_or_default(),
            deliveries(&a.deliveries),
        ]
    }
}

/// A central exemption as listed (JSON adds the times in RFC 3339).
#[derive(Serialize)]
struct ExemptionRow<'a> {
    #[serde(flatten)]
    exemption: &'a CentralExemption,
    scope: String,
    from: String,
    until: String,
    requested: String,
}

impl ExemptionRow<'_> {
    fn of(exemption: &CentralExemption) -> ExemptionRow<'_> {
        ExemptionRow {
            exemption,
            scope: exemption.scope(),
            from: format_rfc3339(exemption.from_ms),
            until: format_rfc3339(exemption.until_ms),
            requested: format_rfc3339(exemption.requested_ms),
        }
    }

    /// What it lets through: the name, or the whole of filtering.
    fn what(&self) -> String {
        match (&self.exemption.kind[..], &self.exemption.name) {
            (_, Some(name)) => format!("{} {}", self.exemption.kind, inert(name)),
            (kind, None) => kind.to_string(),
        }
    }

    fn revocation(&self) -> String {
        let e = self.exemption;
        match e.revoked_ms {
            Some(at) => format!(
                "{} by {}: {}",
                format_local(at),
                e.revoked_by.as_deref().unwrap_or("?"),
                inert_text(e.revoke_reason.as_deref().unwrap_or(""))
            ),
            None => String::new(),
        }
    }
}

impl Listing for ExemptionRow<'_> {
    const TABLE_HEADERS: &'static [&'static str] = &[
        "SITE",
        "ID",
        "STATUS",
        "WHAT",
        "FOR",
        "FROM",
        "UNTIL",
        "ASKED BY",
        "DECIDED BY",
        "REASON",
        "REVOKED",
    ];
    const CSV_HEADERS: &'static [&'static str] = &[
        "site",
        "id",
        "status",
        "kind",
        "name",
        "scope",
        "from",
        "until",
        "reason",
        "requested_by",
        "requested_user",
        "requested",
        "filed_by",
        "decided_by",
        "decided_user",
        "decided",
        "decision_reason",
        "revoked_by",
        "revoked_user",
        "revoked",
        "revoke_reason",
    ];
    const EMPTY: &'static str = "no central exemptions";

    fn table_cells(&self) -> Vec<String> {
        let e = self.exemption;
        let decided = match (&e.decided_by, e.decided_ms) {
            (Some(by), Some(at)) => format!("{by} ({})", format_local(at)),
            (Some(by), None) => by.clone(),
            _ => String::new(),
        };
        vec![
            e.site.clone(),
            e.id.to_string(),
            e.status.clone(),
            self.what(),
            self.scope.clone(),
            format_local(e.from_ms),
            format_local(e.until_ms),
            e.requested_by.clone(),
            decided,
            inert_text(&e.reason),
            self.revocation(),
        ]
    }

    fn csv_cells(&self) -> Vec<String> {
        let e = self.exemption;
        vec![
            e.site.clone(),
            e.id.to_string(),
            e.status.clone(),
            e.kind.clone(),
            e.name.clone().unwrap_or_default(),
            self.scope.clone(),
            self.from.clone(),
            self.until.clone(),
            e.reason.clone(),
            e.requested_by.clone(),
            e.requested_user.clone(),
            self.requested.clone(),
            e.filed_by.clone().unwrap_or_default(),
            e.decided_by.clone().unwrap_or_default(),
            e.decided_user.clone().unwrap_or_default(),
            e.decided_ms.map(format_rfc3339).unwrap_or_default(),
            e.decision_reason.clone().unwrap_or_default(),
            e.revoked_by.clone().unwrap_or_default(),
            e.revoked_user.clone().unwrap_or_default(),
            e.revoked_ms.map(format_rfc3339).unwrap_or_default(),
            e.revoke_reason.clone().unwrap_or_default(),
        ]
    }
}
