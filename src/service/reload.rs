//! `reload`: re-read the configuration, zones and lists and swap them in.
//! SIGHUP and `hedge reload` (and `hedge lists update`) both come here, so
//! every reload is recorded the same way.

use serde::{Deserialize, Serialize};
use tracing::{error, info};

use super::{Actor, Service, ServiceError};
use crate::dns::ReloadSummary;

/// What a reload put in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reloaded {
    /// Why it was asked for (`SIGHUP`, `hedge reload`, `lists update`).
    pub cause: String,
    /// What is in force now.
    #[serde(flatten)]
    pub summary: ReloadSummary,
}

impl Service {
    /// Re-reads the configuration file in force and everything it names,
    /// and swaps it in; on error the running configuration is kept. Either
    /// way the audit trail gets one row: `config.reloaded` with what is in
    /// force, or `config.reload-failed` with the error.
    pub async fn reload(&self, actor: &Actor, cause: &str) -> Result<Reloaded, ServiceError> {
        info!(user = %actor.user, "{cause}: re-reading {}", self.handler.config().path.display());
        match self.handler.reload_config_file().await {
            Ok(summary) => {
                let reloaded = Reloaded {
                    cause: cause.to_string(),
                    summary,
                };
                let details = serde_json::to_value(&reloaded).unwrap_or_default();
                self.record(actor, "config.reloaded", details).await;
                Ok(reloaded)
            }
            Err(failure) => {
                error!("{failure}\nkeeping the running configuration");
                let details = serde_json::json!({ "cause": cause, "error": failure.to_string() });
                self.record(actor, "config.reload-failed", details).await;
                Err(ServiceError::Reload(failure.to_string()))
            }
        }
    }
}
