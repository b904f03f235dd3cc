//! The serving state a query reads (configuration, allow list, zones,
//! upstreams, cache, policy snapshot), built together and swapped in whole,
//! and the reload that rebuilds it from the configuration file.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tracing::info;

use crate::config::Config;
use crate::filter::sources::LoadError;
use crate::policy::Snapshot;

use crate::dns::admission::AllowList;
use crate::dns::cache::AnswerCache;
use crate::dns::pending::Pending;
use crate::dns::stats::bump;
use crate::dns::upstream::{Upstream, UpstreamAnswer, UpstreamError, UpstreamSetupError};
use crate::dns::zones::{LocalZones, ZoneLoadError};

use super::Handler;

/// Why the serving state could not be built from a configuration.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Zone(#[from] ZoneLoadError),
    #[error(transparent)]
    Upstream(#[from] UpstreamSetupError),
    #[error(transparent)]
    Lists(#[from] LoadError),
}

/// Why a reload of the configuration file failed.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Setup(#[from] SetupError),
}

/// What a reload of the configuration file put in force, for the one
/// audit entry its caller (SIGHUP or the admin socket) writes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReloadSummary {
    /// Names in the new index.
    pub index_names: usize,
    /// List files read (URL sources not yet downloaded are not counted).
    pub list_files: usize,
    /// Changes that take effect only after a restart, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Everything a query reads that a reload may replace, swapped as one.
pub(super) struct Serving {
    pub(super) config: Arc<Config>,
    pub(super) allow: AllowList,
    pub(super) zones: LocalZones,
    pub(super) upstream: Upstream,
    pub(super) cache: Arc<AnswerCache>,
    pub(super) pending: Arc<Pending<Resolved>>,
    pub(super) policy: Arc<Snapshot>,
}

/// What one upstream lookup came to, shared by every query that waited on it.
pub(super) type Resolved = Result<Arc<UpstreamAnswer>, Arc<UpstreamError>>;

impl Serving {
    pub(super) fn build(
        config: &Config,
        previous: Option<&Serving>,
    ) -> Result<Serving, SetupError> {
        let policy = Arc::new(Snapshot::build(config)?);
        let zones = LocalZones::load(&config.zones)?;
        let upstream = Upstream::from_config(&config.upstream)?;
        let stale_window = if config.upstream.serve_stale {
            config.upstream.stale_max_age
        } else {
            Duration::ZERO
        };
        let cache = match previous {
            // Answers checked (or not) under other DNSSEC settings would
            // carry the wrong AD: a change there starts a new cache.
            Some(previous)
                if previous
                    .cache
                    .has_settings(config.upstream.cache_size, stale_window)
                    && previous.config.upstream.dnssec == config.upstream.dnssec =>
            {
                previous.cache.clone()
            }
            _ => Arc::new(AnswerCache::new(config.upstream.cache_size, stale_window)),
        };
        // Kept across reloads, so a reload in the middle of a pile-up does
        // not make room for a second one.
        let pending = match previous {
            Some(previous) if previous.pending.limit() == config.upstream.max_pending => {
                previous.pending.clone()
            }
            _ => Arc::new(Pending::new(config.upstream.max_pending)),
        };
        Ok(Serving {
            config: Arc::new(config.clone()),
            allow: AllowList::new(config.server.allow_networks.clone()),
            zones,
            upstream,
            cache,
            pending,
            policy,
        })
    }

    pub(super) fn describe(&self) -> String {
        let waiting = self
            .policy
            .reports
            .iter()
            .filter(|r| r.not_downloaded)
            .count();
        let waiting = if waiting > 0 {
            format!(" ({waiting} URL source(s) not downloaded yet: run `hedge lists update`)")
        } else {
            String::new()
        };
        format!(
            "{}; {} local zone(s); cache of {} answers; {} names from {} list file(s){waiting}; {} group(s)",
            self.upstream.describe(),
            self.zones.len(),
            self.config.upstream.cache_size,
            self.policy.index.len(),
            self.policy
                .reports
                .iter()
                .filter(|r| !r.not_downloaded)
                .count(),
            self.policy.groups.len(),
        )
    }
}

impl Handler {
    /// Builds new serving state from `config` (lists, zones, upstream) on a
    /// blocking thread and swaps it in; queries go on being answered from
    /// the old state meanwhile. On error the running state is untouched.
    pub async fn reload(self: &Arc<Self>, config: Config) -> Result<(), SetupError> {
        let handler = self.clone();
        let next = tokio::task::spawn_blocking(move || {
            let current = handler.serving.load();
            Serving::build(&config, Some(&current))
        })
        .await
        .expect("the reload task does not panic")?;
        let description = next.describe();
        self.serving.store(Arc::new(next));
        self.last_reload_ms
            .store(crate::store::now_ms(), Ordering::Relaxed);
        info!("reloaded: {description}");
        Ok(())
    }

    /// Re-reads the configuration file in force (and everything it names)
    /// and swaps it in: what SIGHUP and `hedge reload` do. On error the
    /// running configuration is kept.
    pub async fn reload_config_file(self: &Arc<Self>) -> Result<ReloadSummary, ReloadError> {
        let running = self.config();
        let result = self.reload_from(&running).await;
        if result.is_err() {
            bump(&self.reload_failures);
        }
        result
    }

    async fn reload_from(self: &Arc<Self>, running: &Config) -> Result<ReloadSummary, ReloadError> {
        let config = Config::load(&running.path)?;
        let mut warnings = Vec::new();
        if config.server.listen != running.server.listen {
            warnings.push("server.listen changed: restart hedge to listen on the new addresses");
        }
        if config.metrics.listen != running.metrics.listen {
            warnings.push("metrics.listen changed: restart hedge to move the metrics endpoint");
        }
        if config.admin.socket != running.admin.socket {
            warnings.push("admin.socket changed: restart hedge to move the admin socket");
        }
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        self.reload(config).await?;
        let policy = self.policy();
        Ok(ReloadSummary {
            index_names: policy.index.len(),
            list_files: policy.reports.iter().filter(|r| !r.not_downloaded).count(),
            warnings: warnings.into_iter().map(str::to_string).collect(),
        })
    }
}
