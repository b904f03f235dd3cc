//! The web console: an HTTPS listener on the LAN (`[web] listen`) and,
//! under `/api/v1`, a JSON API onto the same `service` operations as the
//! admin socket, each in the name of the signed-in person with the role
//! they act in and the address they came from. The console's pages will
//! sit beside the API (`pages/`), on the same sessions and router.
//!
//! - `tls`: the certificate (from files, or self-signed and kept).
//! - `server`: accepting connections (allowed networks only, TLS only)
//!   and serving each with hyper.
//! - `body`: request bodies read whole, at most 64 KiB.
//! - `session`: the session cookie, the CSRF header and the caller.
//! - `error`: service errors as HTTP statuses and JSON.
//! - `api`: the endpoints, one file per group.

pub mod api;
pub mod body;
pub mod error;
pub mod server;
pub mod session;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::config::WebConfig;
use crate::service::{ConsoleStatus, Service};

pub use tls::{ConsoleCertificate, SELF_SIGNED_CERT, SELF_SIGNED_KEY, fingerprint};

/// Why the console could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("the web console cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the web console's certificate {}: {reason}", path.display())]
    Certificate { path: PathBuf, reason: String },
    #[error("the web console's TLS: {0}")]
    Tls(String),
}

/// Starts the console on `[web] listen` if set: the certificate is read
/// (or made, in `data_dir`), the port bound, and connections served until
/// `shutdown`. Returns where it listens and the certificate's fingerprint.
pub async fn start(
    config: &WebConfig,
    data_dir: &Path,
    service: Arc<Service>,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) -> Result<Option<ConsoleStatus>, WebError> {
    let Some(address) = config.listen else {
        return Ok(None);
    };
    let certificate =
        ConsoleCertificate::load_or_make(config.tls_files.as_ref(), data_dir, address.ip())?;
    let tls = certificate.server_config()?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| WebError::Listen { address, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| WebError::Listen { address, source })?;
    info!(
        "web console on https://{bound}/ (certificate SHA-256 fingerprint {})",
        certificate.fingerprint
    );
    let status = ConsoleStatus {
        listen: bound,
        fingerprint: certificate.fingerprint,
        self_signed: certificate.self_signed,
    };
    let _ = service.console.set(status.clone());
    let router = api::router(service.clone());
    tracker.spawn(server::serve(
        listener,
        tls,
        router,
        service,
        shutdown,
        tracker.clone(),
    ));
    Ok(Some(status))
}
