//! Request bodies: read whole before a handler sees them, at most
//! [`MAX_BODY`]. A larger body is still read to its end (up to
//! [`DRAIN_LIMIT`], within [`DRAIN_TIMEOUT`]) before the 413 is sent:
//! closing on a client still writing makes its kernel answer with a reset,
//! and the client sees "broken pipe" instead of the reason.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::error::ApiError;

/// The largest request body accepted: 64 KiB.
pub const MAX_BODY: usize = 64 * 1024;
/// How much of a too-large body is read and thrown away before answering.
pub const DRAIN_LIMIT: usize = 1024 * 1024;
/// How long reading a body (or draining a too-large one) may take.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What reading a body found.
enum Read {
    Whole(Bytes),
    TooLarge,
    Failed,
}

/// Middleware: reads the body (see the module comment), then passes the
/// request on with the body in memory, or answers 413.
pub async fn bounded(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let read = tokio::time::timeout(DRAIN_TIMEOUT, read(body))
        .await
        .unwrap_or(Read::Failed);
    match read {
        Read::Whole(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Read::TooLarge => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request is larger than {} KiB", MAX_BODY / 1024),
        )
        .into_response(),
        Read::Failed => ApiError::new(
            StatusCode::BAD_REQUEST,
            "the request's body could not be read in time",
        )
        .into_response(),
    }
}

async fn read(body: Body) -> Read {
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return Read::Failed;
        };
        seen += chunk.len();
        if seen > DRAIN_LIMIT {
            return Read::TooLarge;
        }
        if seen <= MAX_BODY {
            kept.extend_from_slice(&chunk);
        }
    }
    if seen > MAX_BODY {
        Read::TooLarge
    } else {
        Read::Whole(Bytes::from(kept))
    }
}
