//! `/api/v1`: the JSON API, one file per group of endpoints. Every answer
//! carries the security headers; request bodies are limited to
//! 64 KiB (`web::body`); errors are `{"error": "..."}` (see `web::error`).

mod alerts;
mod enrol;
mod exemptions;
mod logs;
mod session;
mod status;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use super::body::{self as request_body, MAX_BODY};
use super::error::ApiError;
use crate::service::Service;

/// The console's routes, with the headers and limits every answer has.
pub fn router(service: Arc<Service>) -> Router {
    let api = Router::new()
        .route("/enrol", post(enrol::enrol))
        .route("/session", post(session::sign_in).delete(session::sign_out))
        .route(
            "/exemptions",
            get(exemptions::list).post(exemptions::request),
        )
        .route("/exemptions/{id}/approve", post(exemptions::approve))
        .route("/exemptions/{id}/reject", post(exemptions::reject))
        .route("/exemptions/{id}/revoke", post(exemptions::revoke))
        .route("/alerts", get(alerts::list))
        .route("/alerts/{id}/ack", post(alerts::acknowledge))
        .route("/logs", get(logs::search))
        .route("/status", get(status::status));
    Router::new()
        .nest("/api/v1", api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(request_body::bounded))
        .layer(middleware::from_fn(security_headers))
        .with_state(service)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "there is nothing here")
}

/// Adds the headers every console answer has: nothing framed, fetched
/// from elsewhere, sniffed, referred or cached.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, "default-src 'self'"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A JSON body, or a 400 that says what was wrong with it (serde names
/// the missing or mistyped field); 413 when it is too large, 415 when it
/// is not said to be JSON.
fn body<T>(json: Result<axum::Json<T>, JsonRejection>) -> Result<T, ApiError> {
    json.map(|axum::Json(value)| value).map_err(|rejection| {
        let status = match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, rejection.body_text())
    })
}

/// A path's id, or a 400 naming it.
fn id(
    path: Result<axum::extract::Path<i64>, axum::extract::rejection::PathRejection>,
) -> Result<i64, ApiError> {
    path.map(|axum::extract::Path(id)| id)
        .map_err(|rejection| ApiError::bad_input("id", rejection.body_text()))
}

/// A time given to the API: RFC 3339 (`2026-03-02T15:00:00Z`, any offset),
/// or a date and time (`2026-03-02T15:00`, `2026-03-02 15:00`) in the
/// server's time zone. `field` names it in the error.
fn parse_time(field: &str, text: &str) -> Result<i64, ApiError> {
    let text = text.trim();
    if let Ok(stamp) = text.parse::<jiff::Timestamp>() {
        return Ok(stamp.as_millisecond());
    }
    if let Ok(civil) = text.replacen(' ', "T", 1).parse::<jiff::civil::DateTime>()
        && let Ok(zoned) = jiff::tz::TimeZone::system()
            .to_ambiguous_zoned(civil)
            .later()
    {
        return Ok(zoned.timestamp().as_millisecond());
    }
    Err(ApiError::bad_input(
        field,
        format!("{text:?} is not a time: use 2026-03-02T15:00:00Z or \"2026-03-02 15:00\""),
    ))
}
