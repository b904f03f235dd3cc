//! The report as one HTML file: its own styles and SVG charts, no script
//! and nothing fetched from anywhere, laid out to print on A4. The markup
//! is also well-formed XML (every element closed, every attribute quoted),
//! so that any parser reads it.

use std::fmt::Write as _;

use super::markup::escape;
use super::{
    ExtraTable, allows, count, inert, inert_text, long_date, scope, summary_sentences, svg,
    thousands,
};
use crate::service::time::format_local;
use crate::store::Report;

const STYLE: &str = r#"
@page { size: A4; margin: 15mm; }
* { box-sizing: border-box; }
body { font-family: "Helvetica Neue", Helvetica, Arial, sans-serif; font-size: 10.5pt; line-height: 1.4; color: #222; max-width: 190mm; margin: 0 auto; padding: 8mm; }
h1 { font-size: 18pt; margin: 0 0 1mm; }
h2 { font-size: 13pt; margin: 7mm 0 2mm; padding-bottom: 1mm; border-bottom: 1px solid #ccc; break-after: avoid; }
p { margin: 1mm 0 2mm; }
.period { color: #444; margin: 0 0 4mm; }
.summary { background: #f3f6fa; border-left: 4px solid #5b7fa6; padding: 2mm 5mm; margin: 0 0 4mm; break-inside: avoid; }
.summary ul { margin: 1mm 0; padding-left: 5mm; }
.summary li { margin: 1.2mm 0; }
.alarm { color: #b00020; font-weight: bold; }
.muted { color: #666; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; margin: 1mm 0 3mm; }
th, td { text-align: left; padding: 1mm 1.5mm; border-bottom: 1px solid #e2e2e2; vertical-align: top; overflow-wrap: break-word; }
th { background: #f0f0f0; font-weight: 600; white-space: nowrap; }
td.n, th.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr { break-inside: avoid; }
thead { display: table-header-group; }
figure { margin: 2mm 0 3mm; break-inside: avoid; }
svg { width: 100%; height: auto; display: block; font-family: inherit; }
footer { margin-top: 8mm; font-size: 8.5pt; color: #666; }
@media print {
  body { padding: 0; max-width: none; }
  .summary, th, svg { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"#;

/// One table; columns listed in `numeric` are right-aligned.
fn table(out: &mut String, headers: &[&str], numeric: &[usize], rows: &[Vec<String>]) {
    if rows.is_empty() {
        out.push_str("<p class=\"muted\">None in this period.</p>\n");
        return;
    }
    out.push_str("<table>\n<thead><tr>");
    for (i, header) in headers.iter().enumerate() {
        let class = if numeric.contains(&i) {
            " class=\"n\""
        } else {
            ""
        };
        let _ = write!(out, "<th{class}>{}</th>", escape(header));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if numeric.contains(&i) {
                " class=\"n\""
            } else {
                ""
            };
            // Long inert names may break after each [.], nowhere else.
            let cell = escape(cell).replace("[.]", "[.]<wbr/>");
            let _ = write!(out, "<td{class}>{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// A section heading.
fn heading(out: &mut String, text: &str) {
    let _ = writeln!(out, "<h2>{}</h2>", escape(text));
}

/// A paragraph of text.
fn paragraph(out: &mut String, text: &str) {
    let _ = writeln!(out, "<p>{}</p>", escape(text));
}

/// The whole HTML file: title and period, the summary, the charts and a
/// table per section, then the footer with when it was generated.
pub fn render(report: &Report, extra: &[ExtraTable]) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let group = report
        .group
        .as_ref()
        .map(|g| format!(", group {g}"))
        .unwrap_or_default();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&format!("Filtering report: {}", report.site))
    );
    let _ = writeln!(
        out,
        "<header><h1>Filtering report: {}</h1><p class=\"period\">{} to {}{}</p></header>",
        escape(&report.site),
        escape(&long_date(report.from_ms)),
        escape(&long_date(report.to_ms - 1)),
        escape(&group)
    );

    out.push_str("<section id=\"summary\" class=\"summary\">\n<h2>Summary</h2>\n<ul>\n");
    for sentence in summary_sentences(report) {
        let class = if sentence.contains("BROKEN") || sentence.contains("lost (") {
            " class=\"alarm\""
        } else {
            ""
        };
        let _ = writeln!(out, "<li{class}>{}</li>", escape(&sentence));
    }
    out.push_str("</ul>\n</section>\n");

    for extra in extra {
        heading(&mut out, &extra.title);
        let headers: Vec<&str> = extra.columns.iter().map(|(h, _)| *h).collect();
        let numeric: Vec<usize> = extra
            .rows
            .first()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .filter(|(_, c)| matches!(c, super::Cell::Count(_)))
                    .map(|(i, _)| i)
                    .collect()
            })
            .unwrap_or_default();
        let rows: Vec<Vec<String>> = extra
            .rows
            .iter()
            .map(|row| row.iter().map(|c| c.shown()).collect())
            .collect();
        table(&mut out, &headers, &numeric, &rows);
    }

    heading(&mut out, "Queries and blocked attempts per day");
    if report.days.is_empty() {
        paragraph(&mut out, "No days in this period.");
    } else {
        let _ = writeln!(out, "<figure>{}</figure>", svg::daily(&report.days));
    }

    heading(&mut out, "Blocked attempts by category");
    if !report.categories.is_empty() {
        let _ = writeln!(
            out,
            "<figure>{}</figure>",
            svg::categories(&report.categories, 15)
        );
        paragraph(
            &mut out,
            "Categories in red are safeguarding categories: attempts there raise an alert.",
        );
    }
    let rows: Vec<Vec<String>> = report
        .categories
        .iter()
        .map(|c| {
            vec![
                c.category.clone(),
                if c.safeguarding { "yes" } else { "" }.into(),
                thousands(c.blocked),
            ]
        })
        .collect();
    table(
        &mut out,
        &["Category", "Safeguarding", "Blocked"],
        &[2],
        &rows,
    );

    heading(&mut out, "By group");
    let rows: Vec<Vec<String>> = report
        .groups
        .iter()
        .map(|g| vec![g.group.clone(), thousands(g.queries), thousands(g.blocked)])
        .collect();
    table(&mut out, &["Group", "Queries", "Blocked"], &[1, 2], &rows);

    heading(
        &mut out,
        "Devices with the most blocked attempts in safeguarding categories",
    );
    let rows: Vec<Vec<String>> = report
        .top_clients
        .iter()
        .map(|c| {
            vec![
                c.client_name.clone().unwrap_or_default(),
                c.client.clone(),
                c.mac.clone().unwrap_or_default(),
                c.group.clone().unwrap_or_default(),
                thousands(c.blocked),
                c.categories.join(", "),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            "Device",
            "Address",
            "MAC address",
            "Group",
            "Attempts",
            "Categories",
        ],
        &[4],
        &rows,
    );

    heading(&mut out, "Names blocked most often");
    let rows: Vec<Vec<String>> = report
        .top_names
        .iter()
        .map(|n| {
            vec![
                inert(&n.name),
                n.category.clone().unwrap_or_else(|| "(group rule)".into()),
                thousands(n.blocked),
            ]
        })
        .collect();
    table(&mut out, &["Name", "Category", "Blocked"], &[2], &rows);

    heading(&mut out, "Safeguarding alerts");
    let alerts = &report.alerts;
    paragraph(
        &mut out,
        &format!(
            "{} raised in the period, counting {}; {} still open.",
            count(alerts.raised, "alert", "alerts"),
            count(alerts.hits, "attempt", "attempts"),
            thousands(alerts.open)
        ),
    );
    let rows: Vec<Vec<String>> = alerts
        .list
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                format_local(a.first_ms),
                inert_text(&a.who()),
                a.group.clone(),
                a.category.clone(),
                inert(&a.name),
                thousands(a.hits),
                match (&a.acked_by, &a.ack_note) {
                    (Some(by), Some(note)) => format!("{by}: {note}"),
                    (Some(by), None) => by.clone(),
                    _ => "open".into(),
                },
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            "No.",
            "First",
            "Device",
            "Group",
            "Category",
            "Name",
            "Attempts",
            "Acknowledged",
        ],
        &[6],
        &rows,
    );

    heading(&mut out, "Exemptions");
    let e = &report.exemptions;
    paragraph(
        &mut out,
        &format!(
            "{} filed, {} approved, {} rejected, {} revoked, {} expired; {} in force at the end of the period; {} of all filtering.",
            thousands(e.filed),
            thousands(e.approved),
            thousands(e.rejected),
            thousands(e.revoked),
            thousands(e.expired),
            thousands(e.active_at_end),
            count(e.bypasses, "bypass", "bypasses"),
        ),
    );
    let rows: Vec<Vec<String>> = e
        .list
        .iter()
        .map(|x| {
            vec![
                x.id.to_string(),
                x.state(report.to_ms).to_string(),
                allows(x),
                scope(&x.scope),
                format!(
                    "{} to {}",
                    format_local(x.from_ms),
                    format_local(x.until_ms)
                ),
                x.reason.clone(),
                x.requested_by.clone(),
                x.decided_by.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            "No.", "Status", "Allows", "For", "Period", "Reason", "Asked by", "Approver",
        ],
        &[],
        &rows,
    );

    heading(&mut out, "Legal holds");
    let rows: Vec<Vec<String>> = report
        .holds
        .iter()
        .map(|h| {
            vec![
                h.id.to_string(),
                h.client.clone(),
                format!("{} to {}", format_local(h.from_ms), format_local(h.to_ms)),
                h.reason.clone(),
                h.placed_by.clone(),
                h.released_ms
                    .map(format_local)
                    .unwrap_or_else(|| "in force".into()),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            "No.",
            "Devices",
            "Period kept",
            "Reason",
            "Placed by",
            "Released",
        ],
        &[],
        &rows,
    );

    heading(&mut out, "E-safety incidents");
    let incidents = &report.incidents;
    paragraph(
        &mut out,
        &format!(
            "{} opened and {} closed in the period; {} open now.",
            thousands(incidents.opened),
            thousands(incidents.closed),
            incidents.open.len()
        ),
    );
    let rows: Vec<Vec<String>> = incidents
        .by_kind
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| vec![kind.clone(), thousands(*n)])
        .collect();
    table(&mut out, &["Type", "Opened in the period"], &[1], &rows);
    let rows: Vec<Vec<String>> = incidents
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
        .collect();
    if !rows.is_empty() {
        paragraph(&mut out, "Still open:");
        table(
            &mut out,
            &["No.", "Type", "Opened", "By", "Summary"],
            &[],
            &rows,
        );
    }

    heading(&mut out, "Audit trail and the log itself");
    match &report.audit.first_broken {
        None => paragraph(
            &mut out,
            &format!(
                "The audit trail of every change made through hedge is intact: {} checked, every hash matches.",
                count(report.audit.rows, "entry", "entries")
            ),
        ),
        Some((id, why)) => {
            let _ = writeln!(
                out,
                "<p class=\"alarm\">{}</p>",
                escape(&format!("The audit trail is BROKEN at entry {id}: {why}."))
            );
        }
    }
    if let Some((id, hash)) = &report.audit.last {
        paragraph(
            &mut out,
            &format!("Last entry: {id}, hash {hash} (compare with a copy kept elsewhere)."),
        );
    }
    paragraph(
        &mut out,
        &format!(
            "Query logs are kept for {} days; the oldest entry kept is from {}. Entries lost in this period: {}.",
            report.retention_days,
            report
                .oldest_kept_ms
                .map(long_date)
                .unwrap_or_else(|| "(the log is empty)".into()),
            thousands(report.log_drops)
        ),
    );
    let _ = writeln!(
        out,
        "<footer>Generated by hedge {} on {} (times in {}). Names of blocked sites are shown with [.] in place of dots so that they cannot be opened by accident.</footer>",
        env!("CARGO_PKG_VERSION"),
        escape(&format_local(report.generated_ms)),
        escape(&report.time_zone)
    );
    out.push_str("</body>\n</html>\n");
    out
}
