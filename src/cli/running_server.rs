//! The running server as the CLI reaches it: the admin socket that the
//! configuration names, one request and one typed answer at a time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::admin::{AdminClientError, AdminRequest, call, call_streaming};
use crate::config::Config;

/// The server behind the admin socket of one configuration, and how long
/// to wait for each line of its answers.
#[derive(Debug, Clone)]
pub struct RunningServer {
    socket: PathBuf,
    timeout: Duration,
}

impl RunningServer {
    /// The server that the configuration file at `config_path` sets up.
    pub fn of_file(config_path: &Path, timeout: Duration) -> anyhow::Result<RunningServer> {
        Ok(RunningServer::of(&Config::load(config_path)?, timeout))
    }

    /// The server that `config` sets up.
    pub fn of(config: &Config, timeout: Duration) -> RunningServer {
        RunningServer {
            socket: config.admin.socket.clone(),
            timeout,
        }
    }

    /// Sends `request`; its answer as a `T`.
    pub fn call<T: DeserializeOwned>(&self, request: AdminRequest) -> Result<T, AdminClientError> {
        call(&self.socket, &request, self.timeout)
    }

    /// Sends a request answered over several lines: each part goes to
    /// `part` as a `P` as it arrives; the last line comes back as a `T`.
    pub fn call_streaming<P: DeserializeOwned, T: DeserializeOwned>(
        &self,
        request: AdminRequest,
        part: impl FnMut(P) -> std::io::Result<()>,
    ) -> Result<T, AdminClientError> {
        call_streaming(&self.socket, &request, self.timeout, part)
    }
}
