//! What a page shows when something is refused or fails: the status and
//! a sentence saying what was wrong, on a page of its own (the browser's
//! Back button returns to the form as it was filled in). Someone not
//! signed in is sent to sign in instead.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::frame::Frame;
use tracing::{error, warn};

use crate::service::ServiceError;
use crate::service::inert::inert_text;
use crate::web::error::ApiError;

/// Why a page is not shown: the viewer must sign in first, or a refusal or
/// failure is shown on a page of its own, with its status.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in (or the session ended): to the sign-in page.
    SignIn {
        expired: bool,
    },
    Shown {
        status: StatusCode,
        message: String,
    },
}

impl PageError {
    /// A page answered with `status` that says `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError::Shown {
            status,
            message: message.into(),
        }
    }

    /// 400: what was wrong with what was sent.
    pub fn bad(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 400 naming the form field.
    pub fn field(field: &str, message: impl std::fmt::Display) -> PageError {
        PageError::bad(format!("{field}: {message}"))
    }
}

impl From<ServiceError> for PageError {
    fn from(error: ServiceError) -> PageError {
        if let ServiceError::NotSignedIn(_) = error {
            return PageError::SignIn { expired: true };
        }
        PageError::from(ApiError::from(error))
    }
}

impl From<ApiError> for PageError {
    /// What the service said, with any site named in it made inert; a
    /// failure of the server itself is logged, and the page says only
    /// that it happened (its detail names files and databases).
    fn from(ApiError { status, message }: ApiError) -> PageError {
        let message = if status == StatusCode::SERVICE_UNAVAILABLE {
            warn!("web console: {message}");
            "hedge's database is not open yet: try again in a minute".to_string()
        } else if status.is_server_error() {
            error!("web console: {message}");
            "hedge could not do this: its log says why (journalctl -u hedge); try again, or ask whoever looks after it".to_string()
        } else {
            inert_text(&message)
        };
        PageError::Shown { status, message }
    }
}

/// The page a refusal or failure is shown on: its status and what was wrong.
#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    frame: Frame,
    status: u16,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn { expired } => {
                let to = if expired {
                    "/sign-in?done=expired"
                } else {
                    "/sign-in"
                };
                see_other(to)
            }
            PageError::Shown { status, message } => {
                let title = match status {
                    StatusCode::FORBIDDEN => "Not allowed",
                    StatusCode::NOT_FOUND => "Not found",
                    StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
                    s if s.is_server_error() => "Something went wrong",
                    _ => "Not done",
                };
                let page = ErrorPage {
                    frame: Frame::new(title, None),
                    status: status.as_u16(),
                    message: &message,
                };
                (status, render(&page)).into_response()
            }
        }
    }
}

/// A page rendered to HTML. Rendering fails only on a template's own
/// error (a `Display` that fails), which would be a bug: it reads as one.
pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("hedge could not draw this page: {error}"),
        )
            .into_response(),
    }
}

/// 303 See Other to `to`: where a form sends the browser once done.
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}
