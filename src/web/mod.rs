//! The web console: an HTTPS listener on the LAN (`[web] listen`) serving
//! pages for people and, under `/api/v1`, a JSON API, both onto the same
//! `service` operations as the admin socket, each in the name of the
//! signed-in person with the role they act in and the address they came
//! from. Every answer carries the security headers; a state-changing
//! request from another site's page is refused.
//!
//! - `tls`: the certificate (from files, or self-signed and kept).
//! - `server`: accepting connections (allowed networks only, TLS only)
//!   and serving each with hyper.
//! - `body`: request bodies read whole, at most 64 KiB.
//! - `session`: the session cookie, the CSRF header and the caller.
//! - `input`: typed-in times and requests read into the service's types.
//! - `error`: service errors as HTTP statuses and JSON.
//! - `pages`: the console's pages, one file per group.
//! - `api`: the JSON endpoints, one file per group.

pub mod api;
pub mod body;
pub mod error;
pub mod input;
pub mod pages;
pub mod server;
pub mod session;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::config::WebConfig;
use crate::service::{ConsoleStatus, Service};
use error::ApiError;

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
    let router = router(service.clone());
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

/// The console: pages at `/`, the API at `/api/v1`, with the limits and
/// headers every answer has.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .merge(pages::router())
        .nest("/api/v1", api::router())
        .fallback(pages::not_found)
        .layer(DefaultBodyLimit::max(body::MAX_BODY))
        .layer(middleware::from_fn(body::bounded))
        .layer(middleware::from_fn(same_origin))
        .layer(middleware::from_fn(security_headers))
        .with_state(service)
}

/// The policy for pages: nothing but the console's own stylesheet, no
/// script, forms only back to the console, never framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the headers every console answer has: nothing framed, fetched
/// from elsewhere, sniffed, referred or cached. A page that needs its own
/// content policy (the report, with its inline styles) sets it first.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    for (name, value) in [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Refuses a state-changing request a browser says came from a page of
/// another origin (its `Origin` header), before anything reads it. Under
/// `Referrer-Policy: no-referrer` a browser sends `Origin: null`, the
/// console's own forms included: those are judged by their CSRF or form
/// token alone.
async fn same_origin(request: Request, next: Next) -> Response {
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changes
        && let Some(origin) = request.headers().get(header::ORIGIN)
        && origin != "null"
    {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .unwrap_or("");
        let expected = format!("https://{host}");
        if origin.to_str().ok() != Some(expected.as_str()) {
            let why = "refused: this request came from a page of another site";
            let mut refusal = if request.uri().path().starts_with("/api/") {
                ApiError::new(StatusCode::FORBIDDEN, why).into_response()
            } else {
                pages::PageError::new(StatusCode::FORBIDDEN, why).into_response()
            };
            // The body was never read, so the connection cannot carry
            // another request: say so, or a client's next request on it
            // meets a closed socket.
            refusal
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return refusal;
        }
    }
    next.run(request).await
}
