//! The report as plain text: the summary, then one table per section.

use super::ExtraTable;
use super::{allows, count, inert, inert_text, long_date, scope, summary_sentences, thousands};
use crate::service::table::Table;
use crate::service::time::format_local;
use crate::store::Report;

/// The whole text report: header lines, the summary, then one titled table
/// per section (a line saying there is none when a section is empty).
pub fn render(report: &Report, extra: &[ExtraTable]) -> String {
    let mut out = String::new();
    out.push_str(&format!("hedge report: {}\n", report.site));
    out.push_str(&format!(
        "Period: {} to {}{}\n",
        format_local(report.from_ms),
        format_local(report.to_ms),
        report
            .group
            .as_ref()
            .map(|g| format!(", group {g}"))
            .unwrap_or_default()
    ));
    out.push_str(&format!(
        "Generated: {}\n\nSUMMARY\n",
        format_local(report.generated_ms)
    ));
    for sentence in summary_sentences(report) {
        out.push_str(&format!("  {sentence}\n"));
    }
    for table in extra {
        let headers: Vec<&'static str> = table.columns.iter().map(|(h, _)| *h).collect();
        section(
            &mut out,
            &table.title.to_uppercase(),
            &headers,
            table
                .rows
                .iter()
                .map(|row| row.iter().map(|c| c.shown()).collect())
                .collect(),
        );
    }

    section(
        &mut out,
        "QUERIES PER DAY",
        &["DATE", "QUERIES", "BLOCKED"],
        {
            report
                .days
                .iter()
                .map(|d| vec![d.date.clone(), thousands(d.queries), thousands(d.blocked)])
                .collect()
        },
    );
    section(
        &mut out,
        "BLOCKED BY CATEGORY",
        &["CATEGORY", "BLOCKED", "SAFEGUARDING"],
        report
            .categories
            .iter()
            .map(|c| {
                vec![
                    c.category.clone(),
                    thousands(c.blocked),
                    if c.safeguarding { "yes" } else { "" }.into(),
                ]
            })
            .collect(),
    );
    section(
        &mut out,
        "BY GROUP",
        &["GROUP", "QUERIES", "BLOCKED"],
        report
            .groups
            .iter()
            .map(|g| vec![g.group.clone(), thousands(g.queries), thousands(g.blocked)])
            .collect(),
    );
    section(
        &mut out,
        "DEVICES WITH THE MOST BLOCKED ATTEMPTS IN SAFEGUARDING CATEGORIES",
        &["DEVICE", "GROUP", "ATTEMPTS", "CATEGORIES"],
        report
            .top_clients
            .iter()
            .map(|c| {
                vec![
                    match (&c.client_name, &c.mac) {
                        (Some(name), Some(mac)) => format!("{name} ({}, {mac})", c.client),
                        (Some(name), None) => format!("{name} ({})", c.client),
                        (None, Some(mac)) => format!("{} ({mac})", c.client),
                        (None, None) => c.client.clone(),
                    },
                    c.group.clone().unwrap_or_default(),
                    thousands(c.blocked),
                    c.categories.join(", "),
                ]
            })
            .collect(),
    );
    section(
        &mut out,
        "NAMES BLOCKED MOST OFTEN",
        &["NAME", "CATEGORY", "BLOCKED"],
        report
            .top_names
            .iter()
            .map(|n| {
                vec![
                    inert(&n.name),
                    n.category.clone().unwrap_or_else(|| "(group rule)".into()),
                    thousands(n.blocked),
                ]
            })
            .collect(),
    );

    let alerts = &report.alerts;
    out.push_str(&format!(
        "\nSAFEGUARDING ALERTS\n  {} raised, {} attempts counted, {} still open\n",
        thousands(alerts.raised),
        thousands(alerts.hits),
        thousands(alerts.open)
    ));
    table_into(
        &mut out,
        &[
            "ID",
            "FIRST",
            "ATTEMPTS",
            "DEVICE",
            "GROUP",
            "CATEGORY",
            "NAME",
            "ACKNOWLEDGED BY",
        ],
        alerts
            .list
            .iter()
            .map(|a| {
                vec![
                    a.id.to_string(),
                    format_local(a.first_ms),
                    thousands(a.hits),
                    inert_text(&a.who()),
                    a.group.clone(),
                    a.category.clone(),
                    inert(&a.name),
                    a.acked_by.clone().unwrap_or_else(|| "(open)".into()),
                ]
            })
            .collect(),
    );

    let e = &report.exemptions;
    out.push_str(&format!(
        "\nEXEMPTIONS\n  {} filed, {} approved, {} rejected, {} revoked, {} expired, {} in force at the end; {}\n",
        thousands(e.filed),
        thousands(e.approved),
        thousands(e.rejected),
        thousands(e.revoked),
        thousands(e.expired),
        thousands(e.active_at_end),
        count(e.bypasses, "bypass", "bypasses"),
    ));
    table_into(
        &mut out,
        &[
            "ID", "STATUS", "ALLOWS", "FOR", "FROM", "UNTIL", "ASKED BY", "APPROVER", "REASON",
        ],
        e.list
            .iter()
            .map(|x| {
                vec![
                    x.id.to_string(),
                    x.state(report.to_ms).to_string(),
                    allows(x),
                    scope(&x.scope),
                    format_local(x.from_ms),
                    format_local(x.until_ms),
                    x.requested_by.clone(),
                    x.decided_by.clone().unwrap_or_default(),
                    x.reason.clone(),
                ]
            })
            .collect(),
    );

    section(
        &mut out,
        "LEGAL HOLDS",
        &[
            "ID",
            "CLIENTS",
            "FROM",
            "TO",
            "PLACED BY",
            "RELEASED",
            "REASON",
        ],
        report
            .holds
            .iter()
            .map(|h| {
                vec![
                    h.id.to_string(),
                    h.client.clone(),
                    format_local(h.from_ms),
                    format_local(h.to_ms),
                    h.placed_by.clone(),
                    h.released_ms
                        .map(format_local)
                        .unwrap_or_else(|| "in force".into()),
                    h.reason.clone(),
                ]
            })
            .collect(),
    );

    let incidents = &report.incidents;
    out.push_str(&format!(
        "\nE-SAFETY INCIDENTS\n  {} opened, {} closed in the period; {} open now\n",
        thousands(incidents.opened),
        thousands(incidents.closed),
        incidents.open.len()
    ));
    table_into(
        &mut out,
        &["TYPE", "OPENED IN THE PERIOD"],
        incidents
            .by_kind
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(kind, n)| vec![kind.clone(), thousands(*n)])
            .collect(),
    );
    if !incidents.open.is_empty() {
        out.push_str("  open:\n");
        table_into(
            &mut out,
            &["ID", "TYPE", "OPENED", "BY", "SUMMARY"],
            incidents
                .open
                .iter()
                .map(|i| {
                    vec![
                        i.id.to_string(),
                        i.kind.as_str().into(),
                        format_local(i.opened_ms),
                        i.opened_by.clone(),
                        crate::service::inert::inert_text(&i.summary),
                    ]
                })
                .collect(),
        );
    }

    out.push_str("\nAUDIT TRAIL AND LOG\n");
    match &report.audit.first_broken {
        None => out.push_str(&format!(
            "  audit trail intact: {} entries, every hash matches\n",
            thousands(report.audit.rows)
        )),
        Some((id, why)) => out.push_str(&format!("  audit trail BROKEN at entry {id}: {why}\n")),
    }
    if let Some((id, hash)) = &report.audit.last {
        out.push_str(&format!("  last entry {id}, hash {hash}\n"));
    }
    out.push_str(&format!(
        "  retention {} days; oldest entry kept {}\n  log entries lost in the period: {}\n",
        report.retention_days,
        report
            .oldest_kept_ms
            .map(long_date)
            .unwrap_or_else(|| "(none)".into()),
        thousands(report.log_drops)
    ));
    out
}

/// A titled table, or a line saying there is nothing.
fn section(out: &mut String, title: &str, headers: &[&'static str], rows: Vec<Vec<String>>) {
    out.push_str(&format!("\n{title}\n"));
    table_into(out, headers, rows);
}

/// `rows` as an aligned table indented by two spaces, or a line saying
/// there is none.
fn table_into(out: &mut String, headers: &[&'static str], rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        out.push_str("  (none in this period)\n");
        return;
    }
    let mut table = Table::new(headers);
    for row in rows {
        table.push(row);
    }
    let mut bytes = Vec::new();
    // Writing to memory does not fail.
    let _ = table.print(&mut bytes);
    for line in String::from_utf8_lossy(&bytes).lines() {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
}
