//! Signing in (name, password and, for those who use it, a TOTP code),
//! signing out, and enrolling: setting one's own password with the
//! one-time code an administrator gave.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::account::TotpPage;
use super::error::{PageError, render, see_other};
use super::frame::Frame;
use super::signed_in::{Anonymous, Posted};
use super::{Done, given};
use crate::service::{Actor, Service, SignInStep, SignedIn};
use crate::web::session::{cleared_cookie, session_cookie};

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    frame: Frame,
    name: String,
    error: Option<String>,
}

pub(super) async fn page(Query(done): Query<Done>) -> Response {
    render(&SignInPage {
        frame: Frame::new("Sign in", None).with_notice(done.done.as_deref()),
        name: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub(super) struct SignIn {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    totp: Option<String>,
}

pub(super) async fn sign_in(
    State(service): State<Arc<Service>>,
    Anonymous { source, form }: Anonymous<SignIn>,
) -> Response {
    let signed_in = service
        .console_sign_in(source, &form.name, &form.password, given(&form.totp))
        .await;
    match signed_in {
        Ok(SignInStep::Done(signed_in)) => started(&signed_in, "/"),
        Ok(SignInStep::SetUpTotp(offer)) => render(&TotpPage::offered(
            Frame::new("Set up your authenticator app", None),
            offer,
            "/sign-in/totp",
        )),
        Err(error) => {
            let PageError::Shown { status, message } = PageError::from(error) else {
                return see_other("/sign-in");
            };
            let page = SignInPage {
                frame: Frame::new("Sign in", None),
                name: form.name,
                error: Some(message),
            };
            (status, render(&page)).into_response()
        }
    }
}

/// The answer that starts `signed_in`'s session: its cookie, and on to
/// `to`.
fn started(signed_in: &SignedIn, to: &str) -> Response {
    let mut response = see_other(to);
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&signed_in.token));
    response
}

/// The first code from a secret offered at sign-in.
#[derive(Deserialize)]
pub(super) struct FirstCode {
    #[serde(default)]
    token: String,
    #[serde(default)]
    code: String,
}

/// POST /sign-in/totp: the code from the app proves it has the secret;
/// the secret is kept and the person signed in.
pub(super) async fn sign_in_with_new_totp(
    State(service): State<Arc<Service>>,
    Anonymous { source, form }: Anonymous<FirstCode>,
) -> Result<Response, PageError> {
    let signed_in = service
        .console_sign_in_with_new_totp(source, &form.token, &form.code)
        .await?;
    Ok(started(&signed_in, "/?done=totp"))
}

/// POST /sign-out.
pub(super) async fn sign_out(
    State(service): State<Arc<Service>>,
    Posted { who, .. }: Posted<super::Nothing>,
) -> Result<Response, PageError> {
    service.console_sign_out(&who.caller, who.source).await?;
    let mut response = see_other("/sign-in?done=signed-out");
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cleared_cookie());
    Ok(response)
}

#[derive(Template)]
#[template(path = "console/enrol.html")]
struct EnrolPage {
    frame: Frame,
    code: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct CodeInLink {
    #[serde(default)]
    code: Option<String>,
}

pub(super) async fn enrol_page(Query(link): Query<CodeInLink>) -> Response {
    render(&EnrolPage {
        frame: Frame::new("Set your password", None),
        code: link.code.unwrap_or_default(),
        error: None,
    })
}

#[derive(Deserialize)]
pub(super) struct Enrol {
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    again: String,
}

pub(super) async fn enrol(
    State(service): State<Arc<Service>>,
    Anonymous { source, form }: Anonymous<Enrol>,
) -> Response {
    let refused = |status, message: String, code: String| {
        let page = EnrolPage {
            frame: Frame::new("Set your password", None),
            code,
            error: Some(message),
        };
        (status, render(&page)).into_response()
    };
    if form.password != form.again {
        return refused(
            axum::http::StatusCode::BAD_REQUEST,
            "the two passwords differ: type the same one twice".into(),
            form.code,
        );
    }
    match service
        .enrol(&Actor::console_visitor(source), &form.code, &form.password)
        .await
    {
        Ok(_) => see_other("/sign-in?done=enrolled"),
        Err(error) => match PageError::from(error) {
            PageError::Shown { status, message } => refused(status, message, form.code),
            PageError::SignIn { .. } => see_other("/sign-in"),
        },
    }
}
