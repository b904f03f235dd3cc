//! `POST /api/v1/session {name, password, totp?}` signs in: it sets the
//! session cookie and returns `{"csrf": TOKEN}` for the `X-CSRF-Token`
//! header. `DELETE /api/v1/session` signs out.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::body;
use crate::service::{Service, ServiceError, SignInRefusal, SignInStep};
use crate::web::error::ApiError;
use crate::web::session::{Caller, Source, cleared_cookie, session_cookie};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SignIn {
    name: String,
    password: String,
    #[serde(default)]
    totp: Option<String>,
}

pub(super) async fn sign_in(
    State(service): State<Arc<Service>>,
    Source(source): Source,
    json: Result<Json<SignIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let SignIn {
        name,
        password,
        totp,
    } = body(json)?;
    let signed_in = match service
        .console_sign_in(source, &name, &password, totp.as_deref())
        .await?
    {
        SignInStep::Done(signed_in) => signed_in,
        SignInStep::SetUpTotp(_) => {
            return Err(ServiceError::SignIn(SignInRefusal::TotpRequired).into());
        }
    };
    let mut response = Json(serde_json::json!({
        "csrf": signed_in.csrf,
        "name": signed_in.person.name,
        "roles": signed_in.person.roles,
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&signed_in.token));
    Ok(response)
}

pub(super) async fn sign_out(
    State(service): State<Arc<Service>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    service
        .console_sign_out(&caller.session, caller.source)
        .await?;
    let mut response = Json(serde_json::json!({ "signed_out": true })).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cleared_cookie());
    Ok(response)
}
