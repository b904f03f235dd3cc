//! A report over a period rendered in its three shapes: text for a terminal
//! or an email, CSV for a spreadsheet, and one self-contained HTML file for
//! governors. All three start from the same plain-language summary, and
//! print the names of blocked sites inert (`example[.]com`). `hedge report`
//! and the web console both render through [`render`], so a report reads
//! the same wherever it is asked for.

mod csv;
mod gather;
mod html;
pub mod mailing;
mod markup;
mod sites;
mod svg;
mod text;

use crate::service::inert::{inert, inert_text};
use crate::store::Report;

/// The shape of a report: `text`, `csv` or `html` (the names `hedge report
/// --format` takes).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Text,
    Csv,
    Html,
}

/// `report` as `format`: the whole file, ending in a line break. The same
/// report renders to the same bytes, in the same system time zone.
pub fn render(report: &Report, format: ReportFormat) -> String {
    render_with(report, format, &[])
}

/// `report` as `format` with `extra` tables after its summary (the
/// central report's sites): the same sections, in the same shapes, as
/// [`render`], and each extra table shaped like the others.
pub fn render_with(report: &Report, format: ReportFormat, extra: &[ExtraTable]) -> String {
    match format {
        ReportFormat::Text => text::render(report, extra),
        ReportFormat::Csv => csv::render(report, extra),
        ReportFormat::Html => html::render(report, extra),
    }
}

pub use sites::render_central;

/// A table a caller adds to a report: a title, columns and rows, each
/// cell printed as its format prints such a value (counts with thousands
/// separators in text and HTML, plain in CSV; times local or RFC 3339).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtraTable {
    /// The heading, and in CSV the `section` of each row (`id`).
    pub title: String,
    pub id: &'static str,
    /// (heading in text and HTML, field name in CSV); the first column
    /// names the row (CSV's `item`).
    pub columns: Vec<(&'static str, &'static str)>,
    pub rows: Vec<Vec<Cell>>,
}

/// One value of an [`ExtraTable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    Count(u64),
    /// A time, or `None` for never.
    Time(Option<i64>),
}

impl Cell {
    /// As text and HTML show it.
    fn shown(&self) -> String {
        match self {
            Cell::Text(text) => text.clone(),
            Cell::Count(n) => thousands(*n),
            Cell::Time(Some(ms)) => crate::service::time::format_local(*ms),
            Cell::Time(None) => "never".into(),
        }
    }

    /// As CSV holds it.
    fn raw(&self) -> String {
        match self {
            Cell::Text(text) => text.clone(),
            Cell::Count(n) => n.to_string(),
            Cell::Time(Some(ms)) => crate::service::time::format_rfc3339(*ms),
            Cell::Time(None) => String::new(),
        }
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `part` of `whole` as a percentage with one decimal.
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0.0%".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// `ms` as a local date in words: `3 November 2026`.
fn long_date(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%-d %B %Y")
                .to_string()
        })
        .unwrap_or_default()
}

/// `n thing` or `n things`.
fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", thousands(n))
    }
}

/// "was" or "were" for `n`.
fn was(n: u64) -> &'static str {
    if n == 1 { "was" } else { "were" }
}

/// The period in words, from its first to its last local day.
fn period(report: &Report) -> String {
    let first = long_date(report.from_ms);
    let last = long_date(report.to_ms - 1);
    if first == last {
        format!("On {first}")
    } else {
        format!("Between {first} and {last}")
    }
}

/// The plain-language summary: full sentences a head teacher can read in
/// a minute, the same in every format.
pub fn summary_sentences(report: &Report) -> Vec<String> {
    let totals = &report.totals;
    let mut out = Vec::new();
    let whose = report
        .group
        .as_ref()
        .map(|g| format!(" for group {g}"))
        .unwrap_or_default();
    if totals.queries == 0 {
        out.push(format!(
            "{} hedge answered no queries{whose}.",
            period(report)
        ));
    } else {
        out.push(format!(
            "{} hedge answered {}{whose} from {}.",
            period(report),
            count(totals.queries, "query", "queries"),
            count(totals.clients, "device", "devices"),
        ));
        out.push(if totals.blocked == 0 {
            "None were blocked.".to_string()
        } else {
            format!(
                "{} ({}) {} blocked.",
                thousands(totals.blocked),
                percent(totals.blocked, totals.queries),
                was(totals.blocked)
            )
        });
    }
    if totals.safeguarding_blocked == 0 {
        out.push("No blocked attempts were in safeguarding categories.".into());
    } else {
        let categories: Vec<&str> = report
            .categories
            .iter()
            .filter(|c| c.safeguarding && c.blocked > 0)
            .map(|c| c.category.as_str())
            .collect();
        out.push(format!(
            "{} in safeguarding categories ({}), from {}.",
            if totals.safeguarding_blocked == 1 {
                "1 blocked attempt was".to_string()
            } else {
                format!(
                    "{} blocked attempts were",
                    thousands(totals.safeguarding_blocked)
                )
            },
            categories.join(", "),
            count(totals.safeguarding_clients, "device", "devices"),
        ));
    }
    let alerts = &report.alerts;
    out.push(match (alerts.raised, alerts.open) {
        (0, _) => "No safeguarding alerts were raised.".into(),
        (raised, 0) => format!(
            "{} {} raised; {} been acknowledged.",
            count(raised, "alert", "alerts"),
            was(raised),
            if raised == 1 { "it has" } else { "all have" }
        ),
        (raised, open) => format!(
            "{} {} raised; {} still open.",
            count(raised, "alert", "alerts"),
            was(raised),
            if open == 1 {
                "1 is".to_string()
            } else {
                format!("{} are", thousands(open))
            }
        ),
    });
    let exemptions = &report.exemptions;
    if exemptions.filed + exemptions.approved + exemptions.rejected + exemptions.active_at_end == 0
    {
        out.push("No exemptions were requested or in force.".into());
    } else {
        let mut sentence = format!(
            "{} {} filed, {} approved and {} rejected",
            count(exemptions.filed, "exemption request", "exemption requests"),
            was(exemptions.filed),
            thousands(exemptions.approved),
            thousands(exemptions.rejected),
        );
        if exemptions.bypasses > 0 {
            sentence.push_str(&format!(
                "; {} of all filtering {} in force at some time",
                count(exemptions.bypasses, "bypass", "bypasses"),
                was(exemptions.bypasses)
            ));
        }
        sentence.push_str(&format!(
            "; {} in force at the end of the period.",
            thousands(exemptions.active_at_end)
        ));
        out.push(sentence);
    }
    let incidents = &report.incidents;
    let open = incidents.open.len() as u64;
    out.push(if incidents.opened == 0 && open == 0 {
        "No e-safety incidents were recorded.".to_string()
    } else {
        let kinds: Vec<String> = incidents
            .by_kind
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        let mut sentence = format!(
            "{} {} recorded{}; {} still open",
            count(incidents.opened, "e-safety incident", "e-safety incidents"),
            was(incidents.opened),
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" ({})", kinds.join(", "))
            },
            thousands(open)
        );
        if !incidents.referrals.is_empty() {
            let referrals: Vec<String> = incidents
                .referrals
                .iter()
                .map(|(agency, n)| format!("{agency} {n}"))
                .collect();
            sentence.push_str(&format!("; referrals: {}", referrals.join(", ")));
        }
        sentence.push('.');
        sentence
    });
    out.push(match &report.audit.first_broken {
        None => format!(
            "The audit trail is intact ({} checked).",
            count(report.audit.rows, "entry", "entries")
        ),
        Some((id, why)) => format!(
            "The audit trail is BROKEN at entry {id}: {why}. Entries from that one on cannot be trusted."
        ),
    });
    out.push(match report.oldest_kept_ms {
        Some(oldest) => format!(
            "Logs are kept for {} days; the oldest entry kept is from {}.",
            report.retention_days,
            long_date(oldest)
        ),
        None => format!(
            "Logs are kept for {} days; the log is empty.",
            report.retention_days
        ),
    });
    if !report.holds.is_empty() {
        let holds = report.holds.len() as u64;
        out.push(format!(
            "{} {} in force during the period, keeping a device's entries for an investigation whatever their age.",
            count(holds, "legal hold", "legal holds"),
            was(holds)
        ));
    }
    out.push(if report.log_drops == 0 {
        "No log entries were lost.".into()
    } else {
        format!(
            "{} {} lost (the log could not keep up, or its database failed): the log is incomplete for this period.",
            count(report.log_drops, "log entry", "log entries"),
            was(report.log_drops)
        )
    });
    out
}

/// Whom an exemption is for, in words.
fn scope(scope: &crate::policy::ExemptionScope) -> String {
    scope.to_string()
}

/// What an exemption allows, names inert.
fn allows(exemption: &crate::policy::Exemption) -> String {
    match &exemption.name {
        Some(name) => inert(name),
        None => "BYPASS of all filtering".into(),
    }
}

#[cfg(test)]
mod tests;
