//! Exemptions: `GET /api/v1/exemptions` (a member of staff sees their own
//! requests; approvers, safeguarding leads and administrators see all),
//! `POST /api/v1/exemptions {name, group | client, reason, from?, until}`
//! (the caller is the requester) and, for approvers,
//! `POST /api/v1/exemptions/{id}/approve`, `/reject {reason}`,
//! `/revoke {reason}`; the requester, `/withdraw {reason}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use super::{body, id};
use crate::policy::{Exemption, NewExemption, Role};
use crate::service::Service;
use crate::store::ExemptionSelection;
use crate::web::error::{ApiError, ApiResult};
use crate::web::input::SiteRequest;
use crate::web::session::Caller;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Listing {
    /// `all` (the default), `active`, `pending` or `expired`.
    #[serde(default)]
    selection: Option<String>,
}

pub(super) async fn list(
    State(service): State<Arc<Service>>,
    caller: Caller,
    query: Result<Query<Listing>, QueryRejection>,
) -> ApiResult<Vec<Exemption>> {
    let Query(listing) =
        query.map_err(|rejection| ApiError::bad_input("query", rejection.body_text()))?;
    let selection = match listing.selection.as_deref().unwrap_or("all") {
        "all" => ExemptionSelection::All,
        "active" => ExemptionSelection::Active,
        "pending" => ExemptionSelection::Pending,
        "expired" => ExemptionSelection::Expired,
        other => {
            return Err(ApiError::bad_input(
                "selection",
                format!("{other:?} is not one of all, active, pending, expired"),
            ));
        }
    };
    let actor = caller.actor(&Role::ALL);
    let person = service
        .acting_person(&actor, None, &Role::ALL, "see exemptions")
        .await?;
    let sees_all = [Role::Approver, Role::Safeguarding, Role::Admin]
        .iter()
        .any(|role| person.has(*role));
    let mut exemptions = service.exemptions(selection).await?;
    if !sees_all {
        let own = |name: &str| name.eq_ignore_ascii_case(&person.name);
        exemptions.retain(|e| own(&e.requested_by) || e.filed_by.as_deref().is_some_and(own));
    }
    Ok(Json(exemptions))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Request {
    name: String,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    client: Option<String>,
    reason: String,
    #[serde(default)]
    from: Option<String>,
    until: String,
}

/// The request as the service takes it; bad fields are named.
fn new_exemption(request: Request) -> Result<NewExemption, ApiError> {
    SiteRequest {
        name: request.name,
        group: request.group,
        client: request.client,
        reason: request.reason,
        from: request.from,
        until: request.until,
    }
    .read()
}

pub(super) async fn request(
    State(service): State<Arc<Service>>,
    caller: Caller,
    json: Result<Json<Request>, JsonRejection>,
) -> ApiResult<serde_json::Value> {
    let request = new_exemption(body(json)?)?;
    let actor = caller.actor(&[Role::Staff, Role::Approver]);
    let exemption = service.file_exemption(&actor, &request).await?;
    Ok(Json(serde_json::json!({ "id": exemption.id })))
}

pub(super) async fn approve(
    State(service): State<Arc<Service>>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
) -> ApiResult<Exemption> {
    let id = id(path)?;
    let actor = caller.actor(&[Role::Approver]);
    Ok(Json(service.approve_exemption(&actor, id, None).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Reason {
    reason: String,
}

pub(super) async fn reject(
    State(service): State<Arc<Service>>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
    json: Result<Json<Reason>, JsonRejection>,
) -> ApiResult<Exemption> {
    let id = id(path)?;
    let Reason { reason } = body(json)?;
    let actor = caller.actor(&[Role::Approver]);
    Ok(Json(
        service.reject_exemption(&actor, id, None, &reason).await?,
    ))
}

pub(super) async fn revoke(
    State(service): State<Arc<Service>>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
    json: Result<Json<Reason>, JsonRejection>,
) -> ApiResult<Exemption> {
    let id = id(path)?;
    let Reason { reason } = body(json)?;
    let actor = caller.actor(&[Role::Approver]);
    Ok(Json(
        service.revoke_exemption(&actor, id, None, &reason).await?,
    ))
}

/// `POST /exemptions/{id}/withdraw {reason}`: the requester withdraws
/// their own request.
pub(super) async fn withdraw(
    State(service): State<Arc<Service>>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
    json: Result<Json<Reason>, JsonRejection>,
) -> ApiResult<Exemption> {
    let id = id(path)?;
    let Reason { reason } = body(json)?;
    let actor = caller.actor(&[Role::Staff, Role::Approver]);
    Ok(Json(service.withdraw_exemption(&actor, id, &reason).await?))
}
