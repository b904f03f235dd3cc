//! Counters of what the server did, shared by every listener. Cheap enough to
//! bump on every query (relaxed atomics), read for logs and status.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;

use crate::store::Action;

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// Totals since the server started.
        #[derive(Debug, Default)]
        pub struct Stats {
            $($(#[$doc])* pub $name: AtomicU64,)*
        }

        /// A copy of [`Stats`] at one moment.
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub struct StatsSnapshot {
            $(pub $name: u64,)*
        }

        impl Stats {
            pub fn snapshot(&self) -> StatsSnapshot {
                StatsSnapshot { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }
    };
}

counters! {
    /// Queries that parsed and were answered in any way.
    queries,
    /// Packets that could not be parsed (answered FORMERR or dropped).
    malformed,
    /// Queries from clients outside `allow_networks`: answered REFUSED (by
    /// UDP at most 50 a second in all, the rest not at all).
    refused_not_allowed,
    /// Queries over the per-client rate limit: over TCP answered REFUSED,
    /// over UDP every second one an empty truncated reply, the rest nothing.
    rate_limited,
    /// Of `rate_limited`, the UDP queries given an empty truncated reply.
    rate_limit_slips,
    /// Answers from the cache while still fresh.
    cache_hits,
    /// Names looked for in the cache and not found fresh there.
    cache_misses,
    /// Cache entries refreshed in the background before they expired,
    /// because they were asked for in the last tenth of their TTL.
    prefetches,
    /// Upstream lookups that failed (whether or not a stale answer was
    /// served instead).
    upstream_errors,
    /// Queries answered by waiting on the same question already sent
    /// upstream for another query.
    upstream_shared,
    /// Queries not sent upstream because `max_pending` questions were
    /// already waiting (answered stale or SERVFAIL at once).
    upstream_shed,
    /// Answers served from an expired cache entry because upstreams failed.
    stale_answers,
    /// Queries answered SERVFAIL because no upstream answered.
    upstream_failures,
    /// Queries answered SERVFAIL because the answer failed DNSSEC
    /// validation (bogus, expired, unsigned where it must be signed).
    dnssec_bogus,
    /// Queries answered as blocked (the name or a CNAME in its chain).
    blocked,
    /// Queries answered with a safe-search CNAME.
    rewritten,
    /// Queries answered from a local zone.
    local_answers,
    /// UDP answers cut short with TC set.
    truncated,
    /// TCP connections refused because a client had too many open.
    tcp_refused,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Queries by group and action, and blocks by category: labelled counters
/// for the metrics endpoint. Groups and categories come and go with
/// reloads, so they are keyed by name.
#[derive(Debug, Default)]
pub struct Breakdown {
    by_group: DashMap<Arc<str>, [AtomicU64; Action::ALL.len()]>,
    blocked_by_category: DashMap<String, AtomicU64>,
}

impl Breakdown {
    /// Counts one answered query.
    pub fn count(&self, group: &Arc<str>, action: Action, category: Option<&str>) {
        let index = Action::ALL
            .iter()
            .position(|a| *a == action)
            .unwrap_or_default();
        match self.by_group.get(group) {
            Some(counters) => bump(&counters[index]),
            None => bump(&self.by_group.entry(group.clone()).or_default()[index]),
        }
        if action == Action::Blocked {
            let category = category.unwrap_or("(group rule)");
            match self.blocked_by_category.get(category) {
                Some(counter) => bump(&counter),
                None => bump(
                    &self
                        .blocked_by_category
                        .entry(category.to_string())
                        .or_default(),
                ),
            }
        }
    }

    /// (group, action, count) for every group seen, sorted.
    pub fn by_group(&self) -> Vec<(String, Action, u64)> {
        let mut out = Vec::new();
        for entry in &self.by_group {
            for (action, counter) in Action::ALL.iter().zip(entry.value()) {
                out.push((
                    entry.key().to_string(),
                    *action,
                    counter.load(Ordering::Relaxed),
                ));
            }
        }
        out.sort_by(|a, b| (&a.0, a.1.as_str()).cmp(&(&b.0, b.1.as_str())));
        out
    }

    /// (category, blocked) for every category that blocked, sorted.
    pub fn blocked_by_category(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .blocked_by_category
            .iter()
            .map(|entry| (entry.key().clone(), entry.value().load(Ordering::Relaxed)))
            .collect();
        out.sort();
        out
    }
}

/// Upper bounds, in seconds, of the upstream latency buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// How long upstream lookups took: a histogram in the Prometheus shape
/// (cumulative buckets, sum and count).
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Per bucket (not cumulative), plus one past the last bound.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl LatencyHistogram {
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let index = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        bump(&self.buckets[index]);
        self.sum_us.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        bump(&self.count);
    }

    /// Cumulative counts per bound (the last is +Inf), the sum in seconds
    /// and the count.
    pub fn read(&self) -> (Vec<u64>, f64, u64) {
        let mut total = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|bucket| {
                total += bucket.load(Ordering::Relaxed);
                total
            })
            .collect();
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        (cumulative, sum, self.count.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let histogram = LatencyHistogram::default();
        histogram.observe(Duration::from_micros(500));
        histogram.observe(Duration::from_millis(30));
        histogram.observe(Duration::from_secs(9));
        let (buckets, sum, count) = histogram.read();
        assert_eq!(count, 3);
        assert_eq!(buckets[0], 1);
        assert_eq!(buckets[5], 2); // <= 50 ms
        assert_eq!(buckets[LATENCY_BUCKETS.len() - 1], 2);
        assert_eq!(buckets[LATENCY_BUCKETS.len()], 3);
        assert!((sum - 9.0305).abs() < 1e-9);
    }

    #[test]
    fn breakdown_counts_by_group_action_and_category() {
        let breakdown = Breakdown::default();
        let pupils: Arc<str> = "pupils".into();
        breakdown.count(&pupils, Action::Blocked, Some("adult"));
        breakdown.count(&pupils, Action::Blocked, Some("adult"));
        breakdown.count(&pupils, Action::Allowed, None);
        breakdown.count(&"staff".into(), Action::Blocked, None);
        let groups = breakdown.by_group();
        assert!(groups.contains(&("pupils".into(), Action::Blocked, 2)));
        assert!(groups.contains(&("pupils".into(), Action::Allowed, 1)));
        assert!(groups.contains(&("staff".into(), Action::Blocked, 1)));
        assert_eq!(
            breakdown.blocked_by_category(),
            vec![("(group rule)".into(), 1), ("adult".into(), 2)]
        );
    }
}
