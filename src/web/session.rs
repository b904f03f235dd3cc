//! Who is calling: the session cookie (`Secure; HttpOnly;
//! SameSite=Strict; Path=/`) names a live session, and a state-changing
//! call (anything but GET and HEAD) made with it must carry the session's
//! CSRF token as `X-CSRF-Token`.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};

use super::error::ApiError;
use super::server::Peer;
use crate::policy::Role;
use crate::service::sessions::same_token;
use crate::service::{Actor, ConsoleCaller, Service};

/// The session cookie's name. `__Host-`: browsers accept it only with
/// `Secure`, `Path=/` and no `Domain`, so no other site can set it.
pub const SESSION_COOKIE: &str = "__Host-hedge-session";
/// The header a state-changing call carries the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The `Set-Cookie` value that starts a session with `token`.
pub fn session_cookie(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict"
    ))
    .expect("a hex token is a valid header value")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "__Host-hedge-session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
    )
}

/// The address a request came from.
#[derive(Debug, Clone, Copy)]
pub struct Source(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Source, ApiError> {
        parts
            .extensions
            .get::<Peer>()
            .map(|peer| Source(peer.ip()))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the request's source address is unknown",
                )
            })
    }
}

/// A signed-in caller, their session checked (and, for a state-changing
/// call, its CSRF token).
#[derive(Debug, Clone)]
pub struct Caller {
    /// Their live session and person, read afresh for this request.
    pub session: ConsoleCaller,
    /// The address the call came from.
    pub source: IpAddr,
}

impl Caller {
    /// The caller acting in the first of `roles` they hold.
    pub fn actor(&self, roles: &[Role]) -> Actor {
        self.session.actor(roles, self.source)
    }

    /// The signed-in person's name.
    pub fn name(&self) -> &str {
        &self.session.person.name
    }

    /// Whether the signed-in person holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.session.person.has(role)
    }
}

/// The session token in the request's cookies, if any.
pub fn session_token(parts: &Parts) -> Option<String> {
    cookie(&parts.headers, SESSION_COOKIE)
}

/// The value of cookie `wanted` among `headers`' cookies, if set.
pub fn cookie(headers: &axum::http::HeaderMap, wanted: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == wanted && !value.is_empty()).then(|| value.to_string())
        })
}

/// The cookie that ties a form shown to someone not signed in (signing
/// in, enrolling) to the browser it was shown in: the form carries the
/// same value, and a page of another site can neither read the cookie nor
/// make a browser send it (`SameSite=Strict`).
pub const FORM_COOKIE: &str = "__Host-hedge-form";

/// The `Set-Cookie` value for [`FORM_COOKIE`] with `token`.
pub fn form_cookie(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{FORM_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict"
    ))
    .expect("a hex token is a valid header value")
}

impl FromRequestParts<Arc<Service>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<Service>,
    ) -> Result<Caller, ApiError> {
        let Source(source) = Source::from_request_parts(parts, service).await?;
        let Some(token) = session_token(parts) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "not signed in: sign in first (POST /api/v1/session)",
            ));
        };
        let session = service.console_session(&token, source).await?;
        if parts.method != Method::GET && parts.method != Method::HEAD {
            let given = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("");
            if !same_token(given, &session.csrf) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "the X-CSRF-Token header is missing or wrong: send the csrf token that signing in returned",
                ));
            }
        }
        Ok(Caller { session, source })
    }
}
