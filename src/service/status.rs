//! `status`: what the running server is doing, in one answer.

use serde::{Deserialize, Serialize};

use hickory_proto::rr::Name;

use super::time::format_time;
use super::{Service, ServiceError};
use crate::config::CategorySet;
use crate::dns::StatsSnapshot;
use crate::dns::dnssec::DnssecVerdict;
use crate::store::{ExemptionSelection, LogStatus, MailSummary, now_ms};

/// What the server is doing: addresses, lists, counters, the query log,
/// exemptions and alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    pub version: String,
    pub config: String,
    pub uptime_secs: u64,
    pub listening: Vec<String>,
    pub stats: StatsSnapshot,
    pub index_names: usize,
    pub list_files: usize,
    pub lists_not_downloaded: usize,
    pub lists_loaded_at: String,
    pub groups: Vec<String>,
    /// The upstream servers (or recursion) in use.
    pub upstream: String,
    /// Categories in the catalogue, and how many some group blocks.
    pub categories: usize,
    pub categories_blocked: usize,
    pub log: LogStatus,
    /// Exemptions in force now, and requests waiting for an approver.
    pub exemptions_active: usize,
    pub exemptions_pending: usize,
    /// Safeguarding alerts not yet acknowledged (`None`: database closed).
    #[serde(default)]
    pub alerts_open: Option<u64>,
    /// The web console, if it listens.
    #[serde(default)]
    pub console: Option<super::ConsoleStatus>,
    /// Mail (alerts and reports) of the last [`MAIL_DAYS`] days, by how it
    /// ended (`None`: the database is closed).
    #[serde(default)]
    pub mail: Option<MailSummary>,
    /// Addresses on the link whose device's MAC address hedge knows, from
    /// the kernel's neighbour table (`None`: not followed, devices are
    /// known by address only).
    #[serde(default)]
    pub neighbours: Option<usize>,
    /// Shipping to the central store (`None`: no `[central]`).
    #[serde(default)]
    pub central: Option<super::central::CentralStatus>,
}

/// How far back `status` counts mail.
pub const MAIL_DAYS: i64 = 7;

impl Service {
    /// What DNSSEC makes of `name`'s answer now, asked past the cache and
    /// the query log.
    pub async fn check_dnssec(&self, name: &str) -> Result<DnssecVerdict, ServiceError> {
        let question = Name::from_utf8(name.trim())
            .map_err(|e| ServiceError::Invalid(format!("{name:?} is not a domain name: {e}")))?;
        Ok(self.handler.check_dnssec(&question).await)
    }

    /// The server's state now. Never fails: what cannot be read (the
    /// database not open) is shown as such.
    pub async fn status(&self) -> StatusReport {
        let handler = &self.handler;
        let storage = &self.storage;
        let policy = handler.policy();
        let config = handler.config();
        StatusReport {
            version: env!("CARGO_PKG_VERSION").to_string(),
            config: config.path.display().to_string(),
            uptime_secs: self.started.elapsed().as_secs(),
            listening: self.listening.iter().map(ToString::to_string).collect(),
            stats: handler.stats.snapshot(),
            index_names: policy.index.len(),
            list_files: policy.reports.iter().filter(|r| !r.not_downloaded).count(),
            lists_not_downloaded: policy.reports.iter().filter(|r| r.not_downloaded).count(),
            lists_loaded_at: format_time(policy.built_at),
            groups: policy.groups.iter().map(|g| g.name.to_string()).collect(),
            upstream: handler.upstream_description(),
            categories: policy.catalogue.ids().len(),
            categories_blocked: policy
                .groups
                .iter()
                .fold(CategorySet::EMPTY, |all, g| {
                    all.union(g.block).union(policy.catalogue.mandatory())
                })
                .iter()
                .count(),
            log: handler.log.status(storage, config.logging.retention_days),
            exemptions_active: self.count(ExemptionSelection::Active, true).await,
            exemptions_pending: self.count(ExemptionSelection::Pending, false).await,
            alerts_open: match storage.get() {
                Ok(database) => database.open_alert_count().await.ok(),
                Err(_) => None,
            },
            console: self.console.get().cloned(),
            mail: match storage.get() {
                Ok(database) => database
                    .mail_summary(now_ms() - MAIL_DAYS * 86_400_000)
                    .await
                    .ok(),
                Err(_) => None,
            },
            neighbours: handler.neighbours_known(),
            central: self.central_status().await,
        }
    }

    /// How many exemptions of a selection there are (in force now only,
    /// with `in_force`); 0 when the database is not open.
    async fn count(&self, selection: ExemptionSelection, in_force: bool) -> usize {
        let Ok(database) = self.storage.get() else {
            return 0;
        };
        let now = now_ms();
        database
            .exemptions(selection, now)
            .await
            .map(|list| list.iter().filter(|e| !in_force || e.in_force(now)).count())
            .unwrap_or(0)
    }
}
