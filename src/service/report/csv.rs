//! The report as one CSV table, `section,item,field,value`: long rather
//! than wide, so that a spreadsheet can filter and pivot every section.

use super::{ExtraTable, allows, scope};
use crate::service::inert::inert;
use crate::service::table::csv_record;
use crate::service::time::format_rfc3339;
use crate::store::Report;

/// The whole CSV file: a header row, then one `section,item,field,value`
/// row per fact, every row ending in a line break.
pub fn render(report: &Report, extra: &[ExtraTable]) -> String {
    let mut out = String::new();
    let mut line = |section: &str, item: &str, field: &str, value: &str| {
        out.push_str(&csv_record(&[section, item, field, value]));
        out.push('\n');
    };
    line("section", "item", "field", "value");
    line("summary", "site", "name", &report.site);
    line("summary", "period", "from", &format_rfc3339(report.from_ms));
    line("summary", "period", "to", &format_rfc3339(report.to_ms));
    line(
        "summary",
        "period",
        "group",
        report.group.as_deref().unwrap_or("(all)"),
    );
    line("summary", "period", "time_zone", &report.time_zone);
    line(
        "summary",
        "generated",
        "at",
        &format_rfc3339(report.generated_ms),
    );
    let totals = &report.totals;
    for (field, value) in [
        ("queries", totals.queries),
        ("blocked", totals.blocked),
        ("safeguarding_blocked", totals.safeguarding_blocked),
        ("clients", totals.clients),
        ("safeguarding_clients", totals.safeguarding_clients),
    ] {
        line("summary", "totals", field, &value.to_string());
    }
    for table in extra {
        for row in &table.rows {
            let item = row.first().map(|c| c.raw()).unwrap_or_default();
            for ((_, field), cell) in table.columns.iter().zip(row).skip(1) {
                line(table.id, &item, field, &cell.raw());
            }
        }
    }
    for day in &report.days {
        line("day", &day.date, "queries", &day.queries.to_string());
        line("day", &day.date, "blocked", &day.blocked.to_string());
    }
    for category in &report.categories {
        line(
            "category",
            &category.category,
            "blocked",
            &category.blocked.to_string(),
        );
        line(
            "category",
            &category.category,
            "safeguarding",
            if category.safeguarding { "yes" } else { "no" },
        );
    }
    for group in &report.groups {
        line("group", &group.group, "queries", &group.queries.to_string());
        line("group", &group.group, "blocked", &group.blocked.to_string());
    }
    for client in &report.top_clients {
        line(
            "client",
            &client.client,
            "blocked",
            &client.blocked.to_string(),
        );
        line(
            "client",
            &client.client,
            "name",
            client.client_name.as_deref().unwrap_or(""),
        );
        line(
            "client",
            &client.client,
            "group",
            client.group.as_deref().unwrap_or(""),
        );
        if let Some(mac) = &client.mac {
            line("client", &client.client, "mac", mac);
        }
        line(
            "client",
            &client.client,
            "categories",
            &client.categories.join(" "),
        );
    }
    for name in &report.top_names {
        let item = inert(&name.name);
        line("name", &item, "blocked", &name.blocked.to_string());
        line(
            "name",
            &item,
            "category",
            name.category.as_deref().unwrap_or("(group rule)"),
        );
    }
    let alerts = &report.alerts;
    line("alerts", "totals", "raised", &alerts.raised.to_string());
    line("alerts", "totals", "hits", &alerts.hits.to_string());
    line("alerts", "totals", "open", &alerts.open.to_string());
    for alert in &alerts.list {
        let id = alert.id.to_string();
        for (field, value) in [
            ("first", format_rfc3339(alert.first_ms)),
            ("last", format_rfc3339(alert.last_ms)),
            ("hits", alert.hits.to_string()),
            ("client", alert.client.to_string()),
            ("client_name", alert.client_name.clone().unwrap_or_default()),
            ("group", alert.group.clone()),
            ("category", alert.category.clone()),
            ("name", inert(&alert.name)),
            (
                "acknowledged_by",
                alert.acked_by.clone().unwrap_or_default(),
            ),
            ("note", alert.ack_note.clone().unwrap_or_default()),
        ] {
            line("alert", &id, field, &value);
        }
    }
    let e = &report.exemptions;
    for (field, value) in [
        ("filed", e.filed),
        ("approved", e.approved),
        ("rejected", e.rejected),
        ("revoked", e.revoked),
        ("expired", e.expired),
        ("active_at_end", e.active_at_end),
        ("bypasses", e.bypasses),
    ] {
        line("exemptions", "totals", field, &value.to_string());
    }
    for x in &e.list {
        let id = x.id.to_string();
        for (field, value) in [
            ("status", x.state(report.to_ms).to_string()),
            ("allows", allows(x)),
            ("for", scope(&x.scope)),
            ("from", format_rfc3339(x.from_ms)),
            ("until", format_rfc3339(x.until_ms)),
            ("reason", x.reason.clone()),
            ("requested_by", x.requested_by.clone()),
            ("approver", x.decided_by.clone().unwrap_or_default()),
            ("revoked_by", x.revoked_by.clone().unwrap_or_default()),
        ] {
            line("exemption", &id, field, &value);
        }
    }
    for hold in &report.holds {
        let id = hold.id.to_string();
        for (field, value) in [
            ("clients", hold.client.clone()),
            ("from", format_rfc3339(hold.from_ms)),
            ("to", format_rfc3339(hold.to_ms)),
            ("reason", hold.reason.clone()),
            ("placed_by", hold.placed_by.clone()),
            (
                "released",
                hold.released_ms.map(format_rfc3339).unwrap_or_default(),
            ),
        ] {
            line("hold", &id, field, &value);
        }
    }
    let incidents = &report.incidents;
    line(
        "incidents",
        "totals",
        "opened",
        &incidents.opened.to_string(),
    );
    line(
        "incidents",
        "totals",
        "closed",
        &incidents.closed.to_string(),
    );
    line(
        "incidents",
        "totals",
        "open",
        &incidents.open.len().to_string(),
    );
    for (kind, n) in &incidents.by_kind {
        line("incidents", "type", kind, &n.to_string());
    }
    for (agency, n) in &incidents.referrals {
        line("incidents", "referred", agency, &n.to_string());
    }
    for incident in &incidents.open {
        let id = incident.id.to_string();
        line("open_incident", &id, "type", incident.kind.as_str());
        line(
            "open_incident",
            &id,
            "opened",
            &format_rfc3339(incident.opened_ms),
        );
        line("open_incident", &id, "opened_by", &incident.opened_by);
        line(
            "open_incident",
            &id,
            "summary",
            &crate::service::inert::inert_text(&incident.summary),
        );
    }
    line("audit", "chain", "rows", &report.audit.rows.to_string());
    line(
        "audit",
        "chain",
        "intact",
        if report.audit.first_broken.is_none() {
            "yes"
        } else {
            "no"
        },
    );
    if let Some((id, why)) = &report.audit.first_broken {
        line("audit", "chain", "first_broken", &format!("{id}: {why}"));
    }
    if let Some((id, hash)) = &report.audit.last {
        line("audit", "chain", "last", &format!("{id} {hash}"));
    }
    line(
        "retention",
        "policy",
        "days",
        &report.retention_days.to_string(),
    );
    line(
        "retention",
        "oldest_kept",
        "time",
        &report
            .oldest_kept_ms
            .map(format_rfc3339)
            .unwrap_or_default(),
    );
    line("log", "drops", "count", &report.log_drops.to_string());
    out
}
