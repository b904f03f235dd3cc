//! The requests and responses on the admin socket, shared by the server and
//! the CLI. One JSON object per line each way.

use serde::{Deserialize, Serialize};

use crate::dns::StatsSnapshot;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AdminRequest {
    /// What the server is doing.
    Status,
    /// Re-read the configuration, zones and lists (as SIGHUP does).
    Reload,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminResponse {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub result: serde_json::Value,
}

impl AdminResponse {
    pub fn success(result: serde_json::Value) -> AdminResponse {
        AdminResponse {
            ok: true,
            error: None,
            result,
        }
    }

    pub fn failure(error: impl Into<String>) -> AdminResponse {
        AdminResponse {
            ok: false,
            error: Some(error.into()),
            result: serde_json::Value::Null,
        }
    }
}

/// The answer to [`AdminRequest::Status`].
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
}
