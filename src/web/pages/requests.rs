//! A member of staff's requests: the ones they asked for (or filed for
//! someone), each with where it stands and why, a form to ask for a
//! blocked site to be allowed for a group or one device, and withdrawing
//! one that is waiting or in force.

use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::Done;
use super::error::{PageError, render, see_other};
use super::exemptions::ExemptionView;
use super::frame::Frame;
use super::signed_in::{Posted, SignedIn};
use crate::policy::Role;
use crate::service::Service;
use crate::store::{ExemptionSelection, now_ms};
use crate::web::input::SiteRequest;

/// Who may ask for a site.
const REQUESTERS: [Role; 2] = [Role::Staff, Role::Approver];

/// The viewer's requests, each with where it stands and a form to withdraw it.
#[derive(Template)]
#[template(path = "console/requests.html")]
struct RequestsPage {
    frame: Frame,
    requests: Vec<ExemptionView>,
}

/// GET /requests: the viewer's own requests, newest first.
pub(super) async fn mine(
    State(service): State<Arc<Service>>,
    who: SignedIn,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    who.require(&REQUESTERS, "ask for sites")?;
    let now = now_ms();
    let name = who.caller.person.name.clone();
    let own = |text: &str| text.eq_ignore_ascii_case(&name);
    let mut requests = service.exemptions(ExemptionSelection::All).await?;
    requests.retain(|e| own(&e.requested_by) || e.filed_by.as_deref().is_some_and(own));
    requests.sort_by_key(|e| std::cmp::Reverse(e.requested_ms));
    Ok(render(&RequestsPage {
        frame: who.frame("Your requests").with_notice(done.done.as_deref()),
        requests: requests.iter().map(|e| ExemptionView::of(e, now)).collect(),
    }))
}

/// The form asking for a site to be allowed.
#[derive(Template)]
#[template(path = "console/new_request.html")]
struct NewRequestPage {
    frame: Frame,
    groups: Vec<String>,
    /// A sensible end for the date-time field: the end of the school day
    /// after tomorrow. The start is left empty (now), so that a form left
    /// open a while is not refused for starting in the past.
    until: String,
}

/// GET /requests/new: the form.
pub(super) async fn new(
    State(service): State<Arc<Service>>,
    who: SignedIn,
) -> Result<Response, PageError> {
    who.require(&REQUESTERS, "ask for sites")?;
    let groups = service
        .handler
        .config()
        .groups
        .iter()
        .map(|group| group.name.clone())
        .collect();
    let now = jiff::Zoned::now();
    let field = |zoned: &jiff::Zoned| zoned.strftime("%Y-%m-%dT%H:%M").to_string();
    let until = now
        .date()
        .checked_add(jiff::Span::new().days(2))
        .ok()
        .and_then(|day| day.at(16, 0, 0, 0).to_zoned(now.time_zone().clone()).ok())
        .map(|zoned| field(&zoned))
        .unwrap_or_default();
    Ok(render(&NewRequestPage {
        frame: who.frame("Ask for a site to be allowed"),
        groups,
        until,
    }))
}

/// The fields of the request form: `name`, `reason` and `until` are required, and one
/// of `group` or `client`; `from` is optional (empty: now).
#[derive(Deserialize)]
pub(super) struct RequestForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    client: Option<String>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    until: String,
}

/// POST /requests: files it in the viewer's name.
pub(super) async fn file(
    State(service): State<Arc<Service>>,
    Posted { who, form }: Posted<RequestForm>,
) -> Result<Response, PageError> {
    let request = SiteRequest {
        name: form.name,
        group: form.group,
        client: form.client,
        reason: form.reason,
        from: form.from,
        until: form.until,
    }
    .read()?;
    service
        .file_exemption(&who.actor(&REQUESTERS), &request)
        .await?;
    Ok(see_other("/requests?done=filed"))
}

/// The fields of the withdraw form: `reason` (required: a few words).
#[derive(Deserialize)]
pub(super) struct Withdrawal {
    #[serde(default)]
    reason: String,
}

/// POST /requests/{id}/withdraw {reason}.
pub(super) async fn withdraw(
    State(service): State<Arc<Service>>,
    path: Result<Path<i64>, PathRejection>,
    Posted { who, form }: Posted<Withdrawal>,
) -> Result<Response, PageError> {
    let id = super::id(path)?;
    service
        .withdraw_exemption(&who.actor(&REQUESTERS), id, &form.reason)
        .await?;
    Ok(see_other("/requests?done=withdrawn"))
}
