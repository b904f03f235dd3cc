//! The report over a period, for the safeguarding lead and governors: a
//! form for the days, then the very file `hedge report --format html`
//! writes (gathered by the same service call, so recorded as the same
//! access to the log), with a content policy of its own that lets its
//! inline styles and charts through and nothing else.

use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;

use super::error::{PageError, render};
use super::frame::Frame;
use super::given;
use super::signed_in::SignedIn;
use crate::policy::Role;
use crate::service::Service;
use crate::service::report::{ReportFormat, render as render_report};
use crate::store::ReportRequest;

/// The report's own policy: its inline `<style>` and `data:` images, no
/// script, no form, never framed.
const REPORT_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The report page's query: `from` and `to`, the first and last days (both, or the form
/// is shown), and `group` (optional); any other field is refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Period {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    group: Option<String>,
}

/// The form asking for the report's days (the last week, to start with) and group.
#[derive(Template)]
#[template(path = "console/report.html")]
struct FormPage {
    frame: Frame,
    from: String,
    to: String,
    groups: Vec<String>,
}

/// `2026-03-01` as a local day, or a 400 naming `field`.
fn day(field: &str, text: &str) -> Result<Date, PageError> {
    text.trim()
        .parse::<Date>()
        .map_err(|_| PageError::field(field, format!("{text:?} is not a date: use 2026-03-01")))
}

/// The start of local day `date`, in ms.
fn midnight(field: &str, date: Date) -> Result<i64, PageError> {
    date.to_zoned(TimeZone::system())
        .map(|zoned| zoned.timestamp().as_millisecond())
        .map_err(|e| PageError::field(field, e))
}

/// GET /report[?from=DAY&to=DAY&group=]: with both days, the report from the first day's
/// start to the last day's end, as `hedge report --format html` writes it; else the form.
/// Safeguarding leads only.
pub(super) async fn page(
    State(service): State<Arc<Service>>,
    who: SignedIn,
    query: Result<Query<Period>, QueryRejection>,
) -> Result<Response, PageError> {
    who.require(&[Role::Safeguarding], "gather reports")?;
    let Query(period) = query
        .map_err(|rejection| PageError::bad(format!("the period: {}", rejection.body_text())))?;
    let (Some(from), Some(to)) = (given(&period.from), given(&period.to)) else {
        let today = jiff::Zoned::now().date();
        let week_ago = today
            .checked_sub(jiff::Span::new().days(6))
            .unwrap_or(today);
        let policy = service.handler.policy();
        return Ok(render(&FormPage {
            frame: who.frame("Report for a period"),
            from: week_ago.to_string(),
            to: today.to_string(),
            groups: policy.groups.iter().map(|g| g.name.to_string()).collect(),
        }));
    };
    // As `hedge report --from DAY --to DAY`: from the first day's start to
    // the last day's end.
    let from_ms = midnight("from", day("from", from)?)?;
    let last = day("to", to)?;
    let after = last.tomorrow().map_err(|e| PageError::field("to", e))?;
    let to_ms = midnight("to", after)?;
    if to_ms <= from_ms {
        return Err(PageError::field("to", "the last day is before the first"));
    }
    let request = ReportRequest {
        from_ms,
        to_ms,
        group: given(&period.group).map(str::to_string),
        time_zone: TimeZone::system().iana_name().map(str::to_string),
    };
    let actor = who.actor(&[Role::Safeguarding]);
    let report = service.report(&actor, &request).await?;
    let mut response = Html(render_report(&report, ReportFormat::Html)).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(REPORT_POLICY),
    );
    Ok(response)
}
