//! `/api/v1`: the JSON API, one file per group of endpoints, onto the same
//! sessions as the pages; errors are `{"error": "..."}` (see `web::error`).

mod alerts;
mod enrol;
mod exemptions;
mod logs;
mod session;
mod status;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::routing::{get, post};

use super::error::ApiError;
use crate::service::Service;

/// The API's routes, to be nested under `/api/v1`.
pub fn router() -> Router<Arc<Service>> {
    Router::new()
        .route("/enrol", post(enrol::enrol))
        .route("/session", post(session::sign_in).delete(session::sign_out))
        .route(
            "/exemptions",
            get(exemptions::list).post(exemptions::request),
        )
        .route("/exemptions/{id}/approve", post(exemptions::approve))
        .route("/exemptions/{id}/reject", post(exemptions::reject))
        .route("/exemptions/{id}/revoke", post(exemptions::revoke))
        .route("/exemptions/{id}/withdraw", post(exemptions::withdraw))
        .route("/alerts", get(alerts::list))
        .route("/alerts/{id}/ack", post(alerts::acknowledge))
        .route("/logs", get(logs::search))
        .route("/status", get(status::status))
        .fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "there is nothing here")
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
