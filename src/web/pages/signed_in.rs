//! Who is looking at a page: [`SignedIn`] for pages that need a person
//! (anyone else is sent to sign in), and [`Posted`] for a form sent by
//! one, which must carry their session's CSRF token.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::PageError;
use super::frame::{Frame, Me};
use crate::policy::Role;
use crate::service::sessions::same_token;
use crate::service::{Actor, ConsoleCaller, Service, ServiceError};
use crate::web::body::MAX_BODY;
use crate::web::session::{FORM_COOKIE, Source, cookie, form_cookie, session_token};

/// A signed-in person looking at a page.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Their live session and person, read afresh for this request.
    pub caller: ConsoleCaller,
    /// The address the request came from.
    pub source: IpAddr,
}

impl SignedIn {
    /// Acting in the first of `roles` they hold.
    pub fn actor(&self, roles: &[Role]) -> Actor {
        self.caller.actor(roles, self.source)
    }

    /// The viewer as the layout shows them.
    pub fn me(&self) -> Me {
        Me::of(&self.caller)
    }

    /// The frame of a page titled `title`, shown to them.
    pub fn frame(&self, title: &str) -> Frame {
        Frame::new(title, Some(self.me()))
    }

    /// Whether they hold `role`.
    pub fn has(&self, role: Role) -> bool {
        self.caller.person.has(role)
    }

    /// Refused unless they hold one of `roles` (which `what` needs).
    pub fn require(&self, roles: &[Role], what: &str) -> Result<(), PageError> {
        if roles.iter().any(|role| self.has(*role)) {
            return Ok(());
        }
        let words: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
        Err(PageError::from(ServiceError::Forbidden(format!(
            "{} may not {what}: that needs the {} role",
            self.caller.person.name,
            words.join(" or ")
        ))))
    }
}

impl FromRequestParts<Arc<Service>> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<Service>,
    ) -> Result<SignedIn, PageError> {
        let Source(source) = Source::from_request_parts(parts, service)
            .await
            .map_err(|error| PageError::new(error.status, error.message))?;
        let Some(token) = session_token(parts) else {
            return Err(PageError::SignIn { expired: false });
        };
        match service.console_session(&token, source).await {
            Ok(caller) => Ok(SignedIn { caller, source }),
            Err(ServiceError::NotSignedIn(_)) => Err(PageError::SignIn { expired: true }),
            Err(error) => Err(error.into()),
        }
    }
}

/// The CSRF token every form a signed-in person sends carries.
#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// A form a signed-in person sent: the person, and the form's fields.
pub struct Posted<T> {
    pub who: SignedIn,
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<Arc<Service>> for Posted<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, service: &Arc<Service>) -> Result<Self, PageError> {
        let (mut parts, body) = request.into_parts();
        let who = SignedIn::from_request_parts(&mut parts, service).await?;
        let bytes = read_form(body).await?;
        let CsrfField { csrf } = serde_urlencoded::from_bytes(&bytes).unwrap_or(CsrfField {
            csrf: String::new(),
        });
        if !same_token(&csrf, &who.caller.csrf) {
            return Err(PageError::new(
                axum::http::StatusCode::FORBIDDEN,
                "this form is out of date or did not come from this console: go back, reload the page and send it again",
            ));
        }
        let form = parse_form(&bytes)?;
        Ok(Posted { who, form })
    }
}

/// A form sent by someone not signed in (signing in, enrolling), carrying
/// as `csrf` the value of the browser's [`FORM_COOKIE`] (see
/// [`FormToken`]).
pub struct Anonymous<T> {
    pub source: IpAddr,
    pub form: T,
    /// The form token it carried, for a form shown again.
    pub token: String,
}

impl<T: DeserializeOwned + Send> FromRequest<Arc<Service>> for Anonymous<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, service: &Arc<Service>) -> Result<Self, PageError> {
        let (mut parts, body) = request.into_parts();
        let Source(source) = Source::from_request_parts(&mut parts, service)
            .await
            .map_err(|error| PageError::new(error.status, error.message))?;
        let bytes = read_form(body).await?;
        let CsrfField { csrf } = serde_urlencoded::from_bytes(&bytes).unwrap_or(CsrfField {
            csrf: String::new(),
        });
        let cookie = cookie(&parts.headers, FORM_COOKIE).unwrap_or_default();
        if cookie.is_empty() || !same_token(&csrf, &cookie) {
            return Err(PageError::new(
                axum::http::StatusCode::FORBIDDEN,
                "this form is out of date or did not come from this console: reload the page and send it again",
            ));
        }
        Ok(Anonymous {
            source,
            form: parse_form(&bytes)?,
            token: cookie,
        })
    }
}

async fn read_form(body: Body) -> Result<axum::body::Bytes, PageError> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        PageError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "the form is larger than 64 KiB",
        )
    })
}

/// The form's fields; a missing or malformed one is named.
fn parse_form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PageError> {
    serde_urlencoded::from_bytes(bytes)
        .map_err(|error| PageError::bad(format!("the form could not be read: {error}")))
}

/// The token a form shown to someone not signed in carries: the one the
/// browser's [`FORM_COOKIE`] holds, or a new one the page sets.
pub struct FormToken {
    pub token: String,
    /// Whether the cookie must be set with the page.
    pub new: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for FormToken {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<FormToken, PageError> {
        if let Some(token) = cookie(&parts.headers, FORM_COOKIE)
            .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Ok(FormToken { token, new: false });
        }
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|error| {
            PageError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("no random numbers for a form token: {error}"),
            )
        })?;
        let token = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(FormToken { token, new: true })
    }
}

impl FormToken {
    /// `response` with the cookie set, if it is new.
    pub fn set_on(&self, mut response: axum::response::Response) -> axum::response::Response {
        if self.new {
            response
                .headers_mut()
                .append(axum::http::header::SET_COOKIE, form_cookie(&self.token));
        }
        response
    }
}
