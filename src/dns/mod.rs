//! Serving DNS: listeners, the request handler, answers, the cache, local
//! zones and the upstreams. This part asks and answers; it decides nothing
//! about filtering itself.

pub mod admission;
pub mod answer;
pub mod cache;
pub mod dnssec;
pub mod handler;
pub mod neighbours;
pub mod pending;
pub mod server;
pub mod special;
pub mod stats;
mod udp_batch;
pub mod upstream;
pub mod wire;
pub mod zones;

pub use answer::Transport;
pub use handler::{Handler, ReloadError, ReloadSummary, SetupError};
pub use server::{Listeners, ServeError};
pub use stats::{Breakdown, LATENCY_BUCKETS, LatencyHistogram, Stats, StatsSnapshot};
