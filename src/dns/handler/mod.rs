//! One query, from the bytes a client sent to the bytes hedge sends back.
//!
//! The order is fixed: drop what is not a query; refuse clients outside the
//! allowed networks and over their rate; answer protocol errors; answer ANY
//! minimally; answer local zones authoritatively; ask `policy` about every
//! other name, and answer a block, a rewrite, or from the cache or the
//! upstream, with a stale answer when every upstream fails.
//!
//! One file per job: [`Handler`] and what the admin side reads of it here;
//! the serving state and its reload in `serving`; the fast path (plain UDP
//! answered from its bytes) in `fast_path`; the general path in `general`;
//! asking the upstreams in `resolution`; what a query's outcome is and how
//! it is counted and recorded in `outcome`.

mod fast_path;
mod general;
mod outcome;
mod resolution;
mod serving;

pub use serving::{ReloadError, ReloadSummary, SetupError};

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use hickory_proto::rr::{LowerName, Name};
use tracing::info;

use crate::config::Config;
use crate::policy::{ExemptionSet, Neighbours, Snapshot, decide};
use crate::store::{AlertQueue, QueryLog};

use super::admission::RateLimiter;
use super::stats::{Breakdown, LatencyHistogram, Stats};
use serving::Serving;

/// Answers queries. Shared by every listener; a reload swaps what it reads
/// without stopping it.
pub struct Handler {
    serving: ArcSwap<Serving>,
    limiter: RateLimiter,
    /// One bucket for every UDP refusal to a client outside
    /// `allow_networks`: those addresses may be forged, and hedge must not
    /// reflect a flood at whoever owns them.
    refusals: RateLimiter,
    pub stats: Stats,
    /// Answered queries by group and action, blocks by category.
    pub breakdown: Breakdown,
    pub upstream_latency: LatencyHistogram,
    /// When the serving state was last built (start or reload), Unix ms.
    last_reload_ms: AtomicI64,
    pub reload_failures: AtomicU64,
    /// Where answered queries are recorded (never waited on).
    pub log: QueryLog,
    /// Where blocked attempts in safeguarding categories go (never waited
    /// on).
    pub alerts: AlertQueue,
    /// Approved exemptions not yet ended. Kept apart from the serving
    /// state: an approval swaps this small set in at once, without
    /// rebuilding the lists.
    exemptions: ArcSwap<ExemptionSet>,
    /// The MAC address at each address on hedge's link, from the kernel's
    /// neighbour table (`dns::neighbours` keeps it current). Apart from
    /// the serving state for the same reason as the exemptions.
    neighbours: ArcSwap<Neighbours>,
    /// Whether the neighbour table is being followed now.
    pub neighbours_followed: std::sync::atomic::AtomicBool,
}

impl Handler {
    pub fn new(config: &Config, log: QueryLog) -> Result<Handler, SetupError> {
        let serving = Serving::build(config, None)?;
        info!("{}", serving.describe());
        Ok(Handler {
            serving: ArcSwap::from_pointee(serving),
            limiter: RateLimiter::default(),
            refusals: RateLimiter::default(),
            stats: Stats::default(),
            breakdown: Breakdown::default(),
            upstream_latency: LatencyHistogram::default(),
            last_reload_ms: AtomicI64::new(crate::store::now_ms()),
            reload_failures: AtomicU64::new(0),
            log,
            alerts: AlertQueue::disabled(),
            exemptions: ArcSwap::from_pointee(ExemptionSet::default()),
            neighbours: ArcSwap::from_pointee(Neighbours::default()),
            neighbours_followed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Sends safeguarding hits to `alerts` (set before serving).
    pub fn with_alerts(mut self, alerts: AlertQueue) -> Handler {
        self.alerts = alerts;
        self
    }

    /// When the serving state was last built, Unix milliseconds.
    pub fn last_reload_ms(&self) -> i64 {
        self.last_reload_ms.load(Ordering::Relaxed)
    }

    /// Distinct questions waiting for the upstreams now.
    pub fn upstream_pending(&self) -> usize {
        self.serving.load().pending.len()
    }

    /// Answers in the cache now.
    pub fn cache_entries(&self) -> u64 {
        self.serving.load().cache.len()
    }

    /// Exemptions lifting blocks at `now_ms`.
    pub fn exemptions_in_force(&self, now_ms: i64) -> usize {
        self.exemptions.load().in_force(now_ms)
    }

    /// Puts a new neighbour table in force for the next query.
    pub fn set_neighbours(&self, neighbours: Neighbours) {
        self.neighbours.store(Arc::new(neighbours));
    }

    /// How many addresses on the link hedge knows a MAC address at, if it
    /// follows the neighbour table.
    pub fn neighbours_known(&self) -> Option<usize> {
        self.neighbours_followed
            .load(Ordering::Relaxed)
            .then(|| self.neighbours.load().len())
    }

    /// The MAC address hedge knows at `ip`, if any.
    pub fn mac_of(&self, ip: std::net::IpAddr) -> Option<crate::config::Mac> {
        self.neighbours.load().mac_of(ip)
    }

    /// Puts a new set of exemptions in force for the next query.
    pub fn set_exemptions(&self, exemptions: ExemptionSet) {
        self.exemptions.store(Arc::new(exemptions));
    }

    /// Reads the serving state and decides a name, without counting or
    /// logging anything: the systemd watchdog pings only after this
    /// returns, so a server wedged on its state is restarted.
    pub fn check_serving(&self) {
        let serving = self.serving.load();
        let policy = &serving.policy;
        let name = LowerName::from(Name::from_ascii("hedge.invalid.").expect("a valid name"));
        let ip = std::net::Ipv4Addr::LOCALHOST.into();
        let client = policy.identify(ip, None);
        let exemptions = self.exemptions.load();
        decide(
            policy,
            &exemptions,
            client,
            ip,
            &name,
            jiff::Timestamp::now(),
        );
    }

    /// The policy snapshot in force.
    pub fn policy(&self) -> Arc<Snapshot> {
        self.serving.load().policy.clone()
    }

    /// How queries go upstream, in words (servers or recursion).
    pub fn upstream_description(&self) -> String {
        self.serving.load().upstream.describe().to_string()
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.serving.load().config.clone()
    }

    /// Forgets rate-limit state of clients idle for a minute.
    pub fn prune(&self) {
        self.limiter.prune(Instant::now(), Duration::from_secs(60));
    }
}
