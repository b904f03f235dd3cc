//! The server's status for administrators: what `hedge status` prints
//! (the service's [`StatusReport`]), in its words, as cards and tables
//! that read on a phone.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::error::{PageError, render};
use super::frame::Frame;
use super::signed_in::SignedIn;
use crate::policy::Role;
use crate::service::inert::inert_text;
use crate::service::time::format_local;
use crate::service::{Service, StatusReport};

/// One counter as a table row: what it counts, and how many.
struct Count {
    what: &'static str,
    n: u64,
}

/// The status page: what `hedge status` prints, as cards and tables.
#[derive(Template)]
#[template(path = "console/status.html")]
struct StatusPage {
    frame: Frame,
    report: StatusReport,
    uptime: String,
    /// The console's certificate: "self-signed" or "configured".
    certificate: &'static str,
    queries: Vec<Count>,
    problems: Vec<Count>,
    upstream_counts: Vec<Count>,
    refused: Vec<Count>,
    /// Mail in the last days, as `hedge status` says it, if any was sent.
    mail: Option<String>,
    /// The last mail that could not be delivered, sites named inert.
    mail_failure: Option<String>,
}

/// GET /status: the server's status, as `hedge status` prints it. Administrators only.
pub(super) async fn page(
    State(service): State<Arc<Service>>,
    who: SignedIn,
) -> Result<Response, PageError> {
    who.require(&[Role::Admin], "see the server's status")?;
    service
        .acting_person(
            &who.actor(&[Role::Admin]),
            None,
            &[Role::Admin],
            "see the server's status",
        )
        .await?;
    let report = service.status().await;
    let s = &report.stats;
    let count = |what, n| Count { what, n };
    let sent = report
        .mail
        .as_ref()
        .filter(|m| m.delivered + m.failed + m.sending > 0);
    let mail = sent.map(|m| {
        format!(
            "{} delivered, {} failed, {} being tried in the last {} days",
            m.delivered,
            m.failed,
            m.sending,
            crate::service::status::MAIL_DAYS
        )
    });
    let mail_failure = sent.and_then(|m| m.last_failure.as_ref()).map(|failure| {
        inert_text(&format!(
            "{}: {:?} to {} after {} attempt(s): {}",
            format_local(failure.at_ms),
            failure.subject,
            failure.recipient,
            failure.attempts,
            failure.error
        ))
    });
    let page = StatusPage {
        frame: who.frame("Server status"),
        mail,
        mail_failure,
        uptime: uptime(report.uptime_secs),
        certificate: match &report.console {
            Some(console) if !console.self_signed => "configured",
            _ => "self-signed",
        },
        queries: vec![
            count("answered", s.queries),
            count("blocked", s.blocked),
            count("from cache", s.cache_hits),
            count("not in the cache", s.cache_misses),
            count("local", s.local_answers),
            count("safe search", s.rewritten),
        ],
        problems: vec![
            count("upstream failures", s.upstream_failures),
            count(
                "upstream errors (retried or served stale)",
                s.upstream_errors,
            ),
            count("stale answers", s.stale_answers),
            count("failed DNSSEC validation", s.dnssec_bogus),
            count("malformed", s.malformed),
            count("truncated", s.truncated),
        ],
        upstream_counts: vec![
            count(
                "shared an identical question already out",
                s.upstream_shared,
            ),
            count("not sent (max_pending reached)", s.upstream_shed),
            count("refreshed before expiry (prefetch)", s.prefetches),
        ],
        refused: vec![
            count("outside allow_networks", s.refused_not_allowed),
            count("over the rate limit", s.rate_limited),
            count("of those, given a truncated reply", s.rate_limit_slips),
            count("TCP connections", s.tcp_refused),
        ],
        report,
    };
    Ok(render(&page))
}

/// `3 d 4 h`, `2 h 5 min`, `40 s`: how long the server has run.
fn uptime(secs: u64) -> String {
    let (days, hours, minutes) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60);
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {minutes} min")
    } else if minutes > 0 {
        format!("{minutes} min {} s", secs % 60)
    } else {
        format!("{secs} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_in_its_largest_units() {
        assert_eq!(uptime(40), "40 s");
        assert_eq!(uptime(125), "2 min 5 s");
        assert_eq!(uptime(2 * 3_600 + 5 * 60 + 9), "2 h 5 min");
        assert_eq!(uptime(3 * 86_400 + 4 * 3_600 + 59), "3 d 4 h");
    }
}
