//! What the API answers when something is refused or fails: a status and
//! `{"error": "..."}` whose text says what was wrong (and, for bad input,
//! which field).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::service::{ServiceError, SignInRefusal};
use crate::store::StoreError;

/// An API error: the status and the message for the caller.
#[derive(Debug)]
pub struct ApiError {
    /// The status to answer with.
    pub status: StatusCode,
    /// What was wrong, sent as `{"error": message}`.
    pub message: String,
}

impl ApiError {
    /// An error answered with `status`, saying `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400: bad input, naming the field.
    pub fn bad_input(field: &str, message: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, format!("{field}: {message}"))
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> ApiError {
        use SignInRefusal as R;
        let status = match &error {
            ServiceError::Invalid(_) => StatusCode::BAD_REQUEST,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::NotSignedIn(_) => StatusCode::UNAUTHORIZED,
            ServiceError::SignIn(refusal) => match refusal {
                R::Locked { .. } | R::AddressLocked { .. } => StatusCode::TOO_MANY_REQUESTS,
                R::Disabled | R::TotpRequired => StatusCode::FORBIDDEN,
                R::WrongPassword | R::TotpNeeded | R::TotpWrong => StatusCode::UNAUTHORIZED,
            },
            ServiceError::Store(StoreError::NotFound(_)) => StatusCode::NOT_FOUND,
            ServiceError::Store(StoreError::Conflict(_)) => StatusCode::CONFLICT,
            ServiceError::Store(StoreError::Invalid(_)) => StatusCode::BAD_REQUEST,
            ServiceError::Store(StoreError::NotOpen { .. }) => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Store(_) | ServiceError::Reload(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

/// An API answer: a JSON value, or an error.
pub type ApiResult<T> = Result<Json<T>, ApiError>;
