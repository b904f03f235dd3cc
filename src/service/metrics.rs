//! `metrics`: every counter and gauge hedge exposes, in Prometheus's text
//! exposition format (served by `admin::metrics`).

use std::fmt::Write as _;

use super::Service;
use crate::dns::{Handler, LATENCY_BUCKETS};
use crate::store::{Storage, now_ms};

impl Service {
    /// Every metric, as of now.
    pub async fn metrics(&self) -> String {
        let mut text = render(&self.handler, &self.storage).await;
        if let Some(central) = self.central_status().await {
            let mut out = Exposition {
                text: String::new(),
            };
            central_metrics(&mut out, &central, now_ms());
            text.push_str(&out.text);
        }
        text
    }
}

/// Builds the exposition text for one family.
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP hedge_{name} {help}");
        let _ = writeln!(self.text, "# TYPE hedge_{name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let _ = write!(self.text, "hedge_{name}");
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{label}=\"{}\"", escape(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// A label value as the format requires: backslash, quote and newline
/// escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Every metric hedge exposes, as of now.
async fn render(handler: &Handler, storage: &Storage) -> String {
    let stats = handler.stats.snapshot();
    let config = handler.config();
    let log = handler.log.status(storage, config.logging.retention_days);
    let mut out = Exposition {
        text: String::with_capacity(8 * 1024),
    };

    out.family(
        "queries_total",
        "counter",
        "Queries answered, by client group and what hedge did.",
    );
    for (group, action, count) in handler.breakdown.by_group() {
        out.sample(
            "queries_total",
            &[("group", &group), ("action", action.as_str())],
            count,
        );
    }
    out.family(
        "blocked_total",
        "counter",
        "Blocked queries by category (\"(group rule)\": a group's deny list or schedule).",
    );
    for (category, count) in handler.breakdown.blocked_by_category() {
        out.sample("blocked_total", &[("category", &category)], count);
    }
    out.family(
        "refused_total",
        "counter",
        "Queries refused before any decision, by reason (not logged; over the rate limit by UDP, most get no reply).",
    );
    out.sample(
        "refused_total",
        &[("reason", "not_allowed")],
        stats.refused_not_allowed,
    );
    out.sample(
        "refused_total",
        &[("reason", "rate_limited")],
        stats.rate_limited,
    );
    out.single(
        "rate_limit_slips_total",
        "counter",
        "UDP queries over the rate limit given an empty truncated reply (the rest get none).",
        stats.rate_limit_slips,
    );
    out.single(
        "malformed_total",
        "counter",
        "Packets that could not be parsed as DNS.",
        stats.malformed,
    );
    out.single(
        "cache_hits_total",
        "counter",
        "Answers served fresh from the cache.",
        stats.cache_hits,
    );
    out.single(
        "cache_misses_total",
        "counter",
        "Lookups not answered fresh from the cache.",
        stats.cache_misses,
    );
    out.single(
        "cache_entries",
        "gauge",
        "Answers in the cache.",
        handler.cache_entries(),
    );
    out.single(
        "prefetches_total",
        "counter",
        "Cached answers refreshed before they expired (asked for in the last tenth of their TTL).",
        stats.prefetches,
    );
    out.single(
        "stale_answers_total",
        "counter",
        "Expired answers served because every upstream failed.",
        stats.stale_answers,
    );
    out.single(
        "upstream_errors_total",
        "counter",
        "Upstream lookups that failed.",
        stats.upstream_errors,
    );
    out.single(
        "upstream_failures_total",
        "counter",
        "Queries answered SERVFAIL because no upstream answered and nothing stale was kept.",
        stats.upstream_failures,
    );
    out.single(
        "dnssec_bogus_total",
        "counter",
        "Queries answered SERVFAIL because the answer failed DNSSEC validation.",
        stats.dnssec_bogus,
    );
    out.single(
        "upstream_shared_total",
        "counter",
        "Queries answered by waiting for the same question already sent upstream.",
        stats.upstream_shared,
    );
    out.single(
        "upstream_shed_total",
        "counter",
        "Queries not sent upstream because max_pending questions were already waiting.",
        stats.upstream_shed,
    );
    out.single(
        "upstream_pending",
        "gauge",
        "Distinct questions waiting for the upstreams now.",
        handler.upstream_pending() as u64,
    );
    out.family(
        "upstream_latency_seconds",
        "histogram",
        "How long upstream lookups took.",
    );
    let (buckets, sum, count) = handler.upstream_latency.read();
    for (bound, cumulative) in LATENCY_BUCKETS.iter().zip(&buckets) {
        out.sample(
            "upstream_latency_seconds_bucket",
            &[("le", &bound.to_string())],
            cumulative,
        );
    }
    out.sample(
        "upstream_latency_seconds_bucket",
        &[("le", "+Inf")],
        buckets.last().copied().unwrap_or(count),
    );
    out.sample("upstream_latency_seconds_sum", &[], sum);
    out.sample("upstream_latency_seconds_count", &[], count);

    out.single(
        "log_written_total",
        "counter",
        "Query-log entries written to the database.",
        log.written,
    );
    out.single(
        "log_dropped_total",
        "counter",
        "Query-log entries never written (queue full, database failing).",
        log.dropped,
    );
    out.single(
        "log_pending",
        "gauge",
        "Query-log entries waiting for the writer.",
        log.pending,
    );
    out.single(
        "log_database_ok",
        "gauge",
        "1 while the query-log database is open and writing, else 0.",
        u8::from(log.open && log.problem.is_none()),
    );
    out.single(
        "exemptions_active",
        "gauge",
        "Approved exemptions lifting blocks now.",
        handler.exemptions_in_force(now_ms()),
    );
    out.single(
        "index_names",
        "gauge",
        "Names in the compiled block index.",
        handler.policy().index.len(),
    );
    out.single(
        "last_reload_timestamp_seconds",
        "gauge",
        "When the configuration and lists in force were loaded (Unix time).",
        handler.last_reload_ms() / 1000,
    );
    out.single(
        "reload_failures_total",
        "counter",
        "Reloads refused because the new configuration or lists were wrong.",
        handler
            .reload_failures
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    if let Ok(database) = storage.get()
        && let Ok(open) = database.open_alert_count().await
    {
        out.single(
            "alerts_open",
            "gauge",
            "Safeguarding alerts not yet acknowledged.",
            open,
        );
    }
    if let Ok(database) = storage.get()
        && let Ok(mail) = database.mail_summary(0).await
    {
        out.single(
            "mail_delivered_total",
            "counter",
            "Mails (alerts and reports, one per recipient) the relay took.",
            mail.delivered,
        );
        out.single(
            "mail_failed_total",
            "counter",
            "Mails that could not be delivered after their attempts.",
            mail.failed,
        );
    }
    out.single(
        "alerts_dropped_total",
        "counter",
        "Safeguarding hits not turned into alerts because the alert queue was full.",
        handler.alerts.dropped(),
    );
    out.text
}

/// Shipping to the central store, when `[central]` is configured.
fn central_metrics(out: &mut Exposition, central: &super::central::CentralStatus, now_ms: i64) {
    out.single(
        "central_backlog_rows",
        "gauge",
        "Rows (and changed rows) not yet shipped to the central store.",
        central.backlog.rows,
    );
    out.single(
        "central_backlog_age_seconds",
        "gauge",
        "Age of the oldest row not yet shipped to the central store (0: none waits).",
        central
            .backlog
            .oldest_ms
            .map_or(0, |at| (now_ms - at).max(0) / 1000),
    );
    out.single(
        "central_shipped_rows_total",
        "counter",
        "Rows shipped to the central store since hedge started.",
        central.shipped,
    );
    out.single(
        "central_failures_total",
        "counter",
        "Shipping rounds that failed since hedge started.",
        central.failures,
    );
    out.single(
        "central_last_success_timestamp_seconds",
        "gauge",
        "When shipping to the central store last succeeded (Unix time; 0: not yet).",
        central.last_success_ms.map_or(0, |at| at / 1000),
    );
    out.single(
        "central_never_shipped_rows",
        "gauge",
        "Query-log rows retention deleted before they could be shipped (older than max_backlog_days).",
        central.backlog.never_shipped,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = Exposition {
            text: String::new(),
        };
        out.sample("x", &[("group", "a\"b\\c\nd")], 1);
        assert_eq!(out.text, "hedge_x{group=\"a\\\"b\\\\c\\nd\"} 1\n");
    }
}
