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
use super::signed_in::{Anonymous, FormToken, Posted};
use super::{Done, given};
use crate::service::{Actor, Service, SignInStep, SignedIn};
use crate::web::session::{cleared_cookie, session_cookie};

/// The sign-in form; after a refusal, with the name typed and why it was refused.
#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    frame: Frame,
    name: String,
    error: Option<String>,
    /// The form token (see `FormToken`).
    token: String,
}

/// GET /sign-in: the sign-in form, with the notice the last action left (signed out,
/// session ended, enrolled).
pub(super) async fn page(form: FormToken, Query(done): Query<Done>) -> Response {
    form.set_on(render(&SignInPage {
        frame: Frame::new("Sign in", None).with_notice(done.done.as_deref()),
        name: String::new(),
        error: None,
        token: form.token.clone(),
    }))
}

/// The fields of the sign-in form: `name` and `password` are required; `totp`, for those
/// who have set up an authenticator app.
#[derive(Deserialize)]
pub(super) struct SignIn {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    totp: Option<String>,
}

/// POST /sign-in {name, password, totp}: starts a session and goes to /, or first offers
/// a TOTP secret to whoever the server requires it of; refused, the form again saying why.
pub(super) async fn sign_in(
    State(service): State<Arc<Service>>,
    Anonymous {
        source,
        form,
        token,
    }: Anonymous<SignIn>,
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
            token,
        )),
        Err(error) => {
            let PageError::Shown { status, message } = PageError::from(error) else {
                return see_other("/sign-in");
            };
            let page = SignInPage {
                frame: Frame::new("Sign in", None),
                name: form.name,
                error: Some(message),
                token,
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
    Anonymous { source, form, .. }: Anonymous<FirstCode>,
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

/// The enrolment form; after a refusal, with the code typed and why it was refused.
#[derive(Template)]
#[template(path = "console/enrol.html")]
struct EnrolPage {
    frame: Frame,
    code: String,
    error: Option<String>,
    /// The form token (see `FormToken`).
    token: String,
}

/// The enrolment page's query: `code`, from the link an administrator gave (optional).
#[derive(Deserialize)]
pub(super) struct CodeInLink {
    #[serde(default)]
    code: Option<String>,
}

/// GET /enrol[?code=]: the form to set one's password with an enrolment code.
pub(super) async fn enrol_page(form: FormToken, Query(link): Query<CodeInLink>) -> Response {
    form.set_on(render(&EnrolPage {
        frame: Frame::new("Set your password", None),
        code: link.code.unwrap_or_default(),
        error: None,
        token: form.token.clone(),
    }))
}

/// The fields of the enrolment form: `code`, `password` and `again` (the same password),
/// all required.
#[derive(Deserialize)]
pub(super) struct Enrol {
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    again: String,
}

/// POST /enrol {code, password, again}: sets the person's password and uses up the code;
/// then to /sign-in. Refused, the form again saying why.
pub(super) async fn enrol(
    State(service): State<Arc<Service>>,
    Anonymous {
        source,
        form,
        token,
    }: Anonymous<Enrol>,
) -> Response {
    let refused = |status, message: String, code: String| {
        let page = EnrolPage {
            frame: Frame::new("Set your password", None),
            code,
            error: Some(message),
            token: token.clone(),
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
