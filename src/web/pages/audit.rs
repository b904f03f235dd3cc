//! The audit trail, for the safeguarding lead and administrators: the
//! newest changes first (who, as whom, what, the details with names
//! inert), and on request the check `hedge audit verify` makes of its
//! hash chain.

use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;
use serde_json::Value;

use super::error::{PageError, render};
use super::frame::Frame;
use super::given;
use super::signed_in::SignedIn;
use crate::policy::Role;
use crate::service::Service;
use crate::service::inert::inert_text;
use crate::service::time::format_local;
use crate::store::{AuditRow, ChainCheck};

/// The most rows the page shows.
const SHOWN: u64 = 200;

/// The audit page's query: `since` and `verify`, both optional; any other field is
/// refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Asked {
    /// A date: rows from its start on.
    #[serde(default)]
    since: Option<String>,
    /// Present: check the chain too.
    #[serde(default)]
    verify: Option<String>,
}

/// An audit row as the page shows it.
struct RowView {
    id: i64,
    time: String,
    actor: String,
    person: String,
    action: String,
    /// `key: value`, one a line, every value inert.
    details: Vec<String>,
}

impl RowView {
    fn of(row: &AuditRow) -> RowView {
        RowView {
            id: row.id,
            time: format_local(row.at_ms),
            actor: row.actor.clone(),
            person: row.person.clone().unwrap_or_default(),
            action: row.action.clone(),
            details: details(&row.details),
        }
    }
}

/// A row's details (JSON, as hashed) as `key: value` lines, nested keys
/// joined with dots, each text value made inert on its own: read as one
/// word, compact JSON would hide a name behind an address.
fn details(text: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return vec![inert_text(text)];
    };
    let mut lines = Vec::new();
    flatten("", &value, &mut lines);
    lines
}

fn flatten(path: &str, value: &Value, lines: &mut Vec<String>) {
    let key = |name: &str| {
        if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    match value {
        Value::Object(fields) => {
            for (name, value) in fields {
                flatten(&key(name), value, lines);
            }
        }
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&key(&i.to_string()), item, lines);
            }
        }
        Value::Array(items) => {
            let texts: Vec<String> = items.iter().map(scalar).collect();
            lines.push(format!("{path}: {}", texts.join(", ")));
        }
        _ if path.is_empty() => lines.push(scalar(value)),
        _ => lines.push(format!("{path}: {}", scalar(value))),
    }
}

/// A value that is not an object or array, as text (inert).
fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => inert_text(text),
        other => inert_text(&other.to_string()),
    }
}

/// The chain check in words: whether it holds, and what to keep.
struct Verdict {
    intact: bool,
    text: String,
    /// The last row and its hash, to write down elsewhere.
    last: Option<String>,
}

impl Verdict {
    fn of(check: &ChainCheck) -> Verdict {
        let last = check
            .last
            .as_ref()
            .map(|(id, hash)| format!("last row: {id}, hash {hash}"));
        match &check.first_broken {
            None => Verdict {
                intact: true,
                text: format!(
                    "The audit trail is intact: {} row{}, every hash matches.",
                    check.rows,
                    if check.rows == 1 { "" } else { "s" }
                ),
                last,
            },
            Some((row, why)) => Verdict {
                intact: false,
                text: format!(
                    "The audit trail is BROKEN at row {row}: {why}. Rows before it verify; rows from it on cannot be trusted."
                ),
                last: None,
            },
        }
    }
}

/// The audit trail page: the newest rows, and the chain check when asked for.
#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    frame: Frame,
    since: String,
    rows: Vec<RowView>,
    more: bool,
    verdict: Option<Verdict>,
}

/// GET /audit[?since=DATE][&verify=1]: the newest audit rows (from `since` on), and with
/// `verify` the check of the hash chain. Safeguarding leads and administrators only.
pub(super) async fn page(
    State(service): State<Arc<Service>>,
    who: SignedIn,
    query: Result<Query<Asked>, QueryRejection>,
) -> Result<Response, PageError> {
    who.require(&[Role::Safeguarding, Role::Admin], "read the audit trail")?;
    let Query(asked) = query.map_err(|rejection| {
        PageError::bad(format!("the page's address: {}", rejection.body_text()))
    })?;
    let since_ms = match given(&asked.since) {
        Some(text) => text
            .parse::<Date>()
            .ok()
            .and_then(|date| date.to_zoned(TimeZone::system()).ok())
            .map(|zoned| zoned.timestamp().as_millisecond())
            .ok_or_else(|| {
                PageError::field("since", format!("{text:?} is not a date: use 2026-03-01"))
            })?,
        None => i64::MIN,
    };
    let rows = service.latest_audit_rows(since_ms, SHOWN).await?;
    let verdict = match asked.verify {
        Some(_) => Some(Verdict::of(&service.verify_audit().await?)),
        None => None,
    };
    Ok(render(&AuditPage {
        frame: who.frame("Audit trail"),
        since: given(&asked.since).unwrap_or("").to_string(),
        more: rows.len() as u64 >= SHOWN,
        rows: rows.iter().map(RowView::of).collect(),
        verdict,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_read_as_lines_with_every_name_inert() {
        let text = r#"{"client":"127.0.0.2/32","filter":{"name":"adult.example.com","from_ms":5},"ids":[1,2],"note":"saw www.example.org"}"#;
        let mut lines = details(text);
        lines.sort();
        assert_eq!(
            lines,
            [
                "client: 127.0.0.2/32",
                "filter.from_ms: 5",
                "filter.name: adult[.]example[.]com",
                "ids: 1, 2",
                "note: saw www[.]example[.]org",
            ]
        );
        assert_eq!(
            details("not json at a.example.com"),
            ["not json at a[.]example[.]com"]
        );
    }
}
