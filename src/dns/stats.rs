//! Counters of what the server did, shared by every listener. Cheap enough to
//! bump on every query (relaxed atomics), read for logs and status.

use std::sync::atomic::{AtomicU64, Ordering};

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
    /// Clients outside `allow_networks`, answered REFUSED.
    refused_not_allowed,
    /// Queries over the per-client rate limit, answered REFUSED.
    rate_limited,
    /// Answers from the cache while still fresh.
    cache_hits,
    /// Answers served from an expired cache entry because upstreams failed.
    stale_answers,
    /// Queries answered SERVFAIL because no upstream answered.
    upstream_failures,
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
