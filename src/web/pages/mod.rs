//! The console's pages: HTML drawn on the server from `templates/console/`,
//! one file per group, each page a form or a listing that works with no
//! script at all and on a phone. A page shows only what its viewer's
//! roles allow; every name that could be a blocked site is shown inert
//! (`example[.]com`), never as a link. A form posts back, the action goes
//! through `service` in the viewer's name, and the browser is sent on to
//! a page that says it was done (`?done=`, a fixed set of notices).
//!
//! - `frame`: what every page shares (the viewer, title, notice, menu).
//! - `signed_in`: who is looking, and forms with their CSRF token.
//! - `error`: refusals and failures as a page; sign-in redirects.
//! - `sign_in`: signing in and out, enrolling with a code.
//! - `home`: the start page, with what waits for the viewer.
//! - `requests`: a member of staff's requests, asking and withdrawing.
//! - `exemptions`: approving, rejecting and revoking.
//! - `account`: the viewer's own account and TOTP set-up.
//! - `status`: the server's status, for administrators.
//! - `people`: adding, changing, resetting and disabling people, for
//!   administrators.
//! - `alerts`: safeguarding alerts, acknowledged with a note.
//! - `incidents`: incidents opened, noted, referred and closed.
//! - `logs`: searching the query log and downloading it as CSV.
//! - `report`: the report over a period, as `hedge report` draws it.
//! - `audit`: the audit trail and the check of its hash chain.

mod account;
mod alerts;
mod audit;
mod error;
mod exemptions;
mod frame;
mod home;
mod incidents;
mod logs;
mod people;
mod report;
mod requests;
mod sign_in;
mod signed_in;
mod status;

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Deserialize;

pub use error::PageError;

use crate::service::Service;

/// The stylesheet every page links to.
const STYLESHEET: &str = include_str!("console.css");

/// The pages' routes.
pub fn router() -> Router<Arc<Service>> {
    Router::new()
        .route("/", get(home::home))
        .route("/console.css", get(stylesheet))
        .route("/sign-in", get(sign_in::page).post(sign_in::sign_in))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/enrol", get(sign_in::enrol_page).post(sign_in::enrol))
        .route("/requests", get(requests::mine).post(requests::file))
        .route("/requests/new", get(requests::new))
        .route("/requests/{id}/withdraw", post(requests::withdraw))
        .route("/approvals", get(exemptions::approvals))
        .route("/exemptions", get(exemptions::exemptions))
        .route("/exemptions/{id}/approve", post(exemptions::approve))
        .route("/exemptions/{id}/reject", post(exemptions::reject))
        .route("/exemptions/{id}/revoke", post(exemptions::revoke))
        .route("/account", get(account::page))
        .route("/account/totp", post(account::set_up_totp))
        .route("/account/totp/confirm", post(account::confirm_totp))
        .route("/sign-in/totp", post(sign_in::sign_in_with_new_totp))
        .route("/status", get(status::page))
        .route("/people", get(people::page))
        .route("/people/add", post(people::add))
        .route("/people/person", get(people::person))
        .route("/people/roles", post(people::set_roles))
        .route("/people/map", post(people::map))
        .route(
            "/people/reset",
            get(people::confirm_reset).post(people::reset),
        )
        .route("/people/enable", post(people::enable))
        .route(
            "/people/disable",
            get(people::confirm_disable).post(people::disable),
        )
        .route("/alerts", get(alerts::page))
        .route("/alerts/{id}/ack", post(alerts::acknowledge))
        .route("/incidents", get(incidents::list).post(incidents::open))
        .route("/incidents/new", get(incidents::new))
        .route("/incidents/{id}", get(incidents::show))
        .route("/incidents/{id}/note", post(incidents::note))
        .route("/incidents/{id}/refer", post(incidents::refer))
        .route("/incidents/{id}/close", post(incidents::close))
        .route("/logs", get(logs::page))
        .route("/logs.csv", get(logs::csv))
        .route("/report", get(report::page))
        .route("/audit", get(audit::page))
}

/// Anything else: a page saying there is nothing here.
pub async fn not_found() -> PageError {
    PageError::new(
        axum::http::StatusCode::NOT_FOUND,
        "there is nothing at this address",
    )
}

/// GET /console.css: the stylesheet every page links to.
async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET,
    )
}

/// A form with nothing in it but its CSRF token (a button).
#[derive(Debug, Deserialize)]
pub struct Nothing {}

/// `?done=` on the page a form led to.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    pub done: Option<String>,
}

/// `?all=1`: a listing with the closed or acknowledged ones too.
#[derive(Debug, Default, Deserialize)]
pub struct All {
    #[serde(default)]
    pub all: Option<String>,
}

impl All {
    /// Whether the listing is to have them all: `all` given and not `0`.
    pub fn all(&self) -> bool {
        given(&self.all).is_some_and(|v| v != "0")
    }
}

/// The id in a page's address, or a 404 saying so.
fn id(path: Result<Path<i64>, PathRejection>) -> Result<i64, PageError> {
    path.map(|Path(id)| id).map_err(|_| {
        PageError::new(
            axum::http::StatusCode::NOT_FOUND,
            "there is nothing at this address: the number in it is not an id",
        )
    })
}

/// A form field that may be left empty: `None` when blank.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}
