//! Exemptions for approvers: the requests waiting for a decision (approve,
//! or reject with a reason), and the exemptions in force or to come
//! (revoke with a reason). Safeguarding leads and administrators see both
//! lists without the buttons. [`ExemptionView`] is how any page shows one.

use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::Done;
use super::error::{PageError, render, see_other};
use super::frame::Frame;
use super::signed_in::{Posted, SignedIn};
use crate::policy::{Exemption, ExemptionStatus, Role};
use crate::service::Service;
use crate::service::inert::{inert, inert_text};
use crate::service::time::format_local;
use crate::store::{ExemptionSelection, now_ms};

/// One exemption as people read it: every name inert, times local.
pub struct ExemptionView {
    pub id: i64,
    pub what: String,
    pub scope: String,
    pub reason: String,
    pub requested_by: String,
    /// "filed by X" when someone filed it on the requester's behalf.
    pub filed_by: Option<String>,
    pub requested: String,
    pub from: String,
    pub until: String,
    /// pending, scheduled, active, expired, lapsed, rejected, revoked.
    pub state: &'static str,
    /// Who decided, when, and their reason if they gave one.
    pub decided: Option<String>,
    pub ended: Option<String>,
}

impl ExemptionView {
    /// `exemption` as it stands at `now_ms`.
    pub fn of(exemption: &Exemption, now_ms: i64) -> ExemptionView {
        let decided = exemption.decided_by.as_ref().map(|by| {
            let verb = match exemption.status {
                ExemptionStatus::Rejected => "rejected",
                _ => "approved",
            };
            let when = exemption.decided_ms.map(format_local).unwrap_or_default();
            match &exemption.decision_reason {
                Some(reason) => format!("{verb} by {by} at {when}: {}", inert_text(reason)),
                None => format!("{verb} by {by} at {when}"),
            }
        });
        let ended = exemption.revoked_by.as_ref().map(|by| {
            let when = exemption.revoked_ms.map(format_local).unwrap_or_default();
            let reason = exemption.revoke_reason.as_deref().unwrap_or("");
            format!("ended by {by} at {when}: {}", inert_text(reason))
        });
        ExemptionView {
            id: exemption.id,
            what: inert(&exemption.what()),
            scope: exemption.scope.to_string(),
            reason: inert_text(&exemption.reason),
            requested_by: exemption.requested_by.clone(),
            filed_by: exemption.filed_by.clone(),
            requested: format_local(exemption.requested_ms),
            from: format_local(exemption.from_ms),
            until: format_local(exemption.until_ms),
            state: exemption.state(now_ms),
            decided,
            ended,
        }
    }
}

/// The requests waiting for a decision, with the buttons for approvers only.
#[derive(Template)]
#[template(path = "console/approvals.html")]
struct ApprovalsPage {
    frame: Frame,
    waiting: Vec<ExemptionView>,
    approver: bool,
}

/// GET /approvals: the requests waiting for a decision, oldest first.
pub(super) async fn approvals(
    State(service): State<Arc<Service>>,
    who: SignedIn,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    who.require(
        &[Role::Approver, Role::Safeguarding, Role::Admin],
        "see requests waiting for approval",
    )?;
    let now = now_ms();
    let mut waiting = service.exemptions(ExemptionSelection::Pending).await?;
    waiting.retain(|e| e.state(now) == "pending");
    waiting.sort_by_key(|e| e.requested_ms);
    Ok(render(&ApprovalsPage {
        frame: who
            .frame("Requests waiting for approval")
            .with_notice(done.done.as_deref()),
        waiting: waiting.iter().map(|e| ExemptionView::of(e, now)).collect(),
        approver: who.has(Role::Approver),
    }))
}

/// The exemptions in force or to come, then the last ended ones, with the revoke
/// forms for approvers only.
#[derive(Template)]
#[template(path = "console/exemptions.html")]
struct ExemptionsPage {
    frame: Frame,
    current: Vec<ExemptionView>,
    past: Vec<ExemptionView>,
    approver: bool,
}

/// GET /exemptions: in force and to come, then the last ended ones.
pub(super) async fn exemptions(
    State(service): State<Arc<Service>>,
    who: SignedIn,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    who.require(
        &[Role::Approver, Role::Safeguarding, Role::Admin],
        "see exemptions",
    )?;
    let now = now_ms();
    let all = service.exemptions(ExemptionSelection::All).await?;
    let (mut current, mut past): (Vec<&Exemption>, Vec<&Exemption>) = all
        .iter()
        .filter(|e| e.state(now) != "pending")
        .partition(|e| matches!(e.state(now), "active" | "scheduled"));
    current.sort_by_key(|e| e.until_ms);
    past.sort_by_key(|e| std::cmp::Reverse(e.requested_ms));
    past.truncate(PAST_SHOWN);
    Ok(render(&ExemptionsPage {
        frame: who.frame("Exemptions").with_notice(done.done.as_deref()),
        current: current.iter().map(|e| ExemptionView::of(e, now)).collect(),
        past: past.iter().map(|e| ExemptionView::of(e, now)).collect(),
        approver: who.has(Role::Approver),
    }))
}

/// How many ended exemptions the page lists (`hedge exempt list` has all).
const PAST_SHOWN: usize = 50;

/// POST /exemptions/{id}/approve.
pub(super) async fn approve(
    State(service): State<Arc<Service>>,
    path: Result<Path<i64>, PathRejection>,
    Posted { who, .. }: Posted<super::Nothing>,
) -> Result<Response, PageError> {
    let id = super::id(path)?;
    service
        .approve_exemption(&who.actor(&[Role::Approver]), id, None)
        .await?;
    Ok(see_other("/approvals?done=approved"))
}

/// The fields of the reject and revoke forms: `reason` (required: a few words).
#[derive(Deserialize)]
pub(super) struct Reason {
    #[serde(default)]
    reason: String,
}

/// POST /exemptions/{id}/reject {reason}.
pub(super) async fn reject(
    State(service): State<Arc<Service>>,
    path: Result<Path<i64>, PathRejection>,
    Posted { who, form }: Posted<Reason>,
) -> Result<Response, PageError> {
    let id = super::id(path)?;
    service
        .reject_exemption(&who.actor(&[Role::Approver]), id, None, &form.reason)
        .await?;
    Ok(see_other("/approvals?done=rejected"))
}

/// POST /exemptions/{id}/revoke {reason}.
pub(super) async fn revoke(
    State(service): State<Arc<Service>>,
    path: Result<Path<i64>, PathRejection>,
    Posted { who, form }: Posted<Reason>,
) -> Result<Response, PageError> {
    let id = super::id(path)?;
    service
        .revoke_exemption(&who.actor(&[Role::Approver]), id, None, &form.reason)
        .await?;
    Ok(see_other("/exemptions?done=revoked"))
}
