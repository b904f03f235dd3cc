//! Safeguarding alerts: `GET /api/v1/alerts[?open=true&limit=N]` and
//! `POST /api/v1/alerts/{id}/ack {note}`, for safeguarding leads.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use super::{body, id};
use crate::policy::Role;
use crate::service::Service;
use crate::store::{Alert, AlertSelection};
use crate::web::error::{ApiError, ApiResult};
use crate::web::session::Caller;

/// The most alerts one listing returns.
const MAX_ALERTS: u64 = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Listing {
    #[serde(default)]
    open: bool,
    #[serde(default)]
    limit: Option<u64>,
}

pub(super) async fn list(
    State(service): State<Arc<Service>>,
    caller: Caller,
    query: Result<Query<Listing>, QueryRejection>,
) -> ApiResult<Vec<Alert>> {
    let Query(listing) =
        query.map_err(|rejection| ApiError::bad_input("query", rejection.body_text()))?;
    let actor = caller.actor(&[Role::Safeguarding]);
    service
        .acting_person(&actor, None, &[Role::Safeguarding], "see alerts")
        .await?;
    let selection = AlertSelection {
        open_only: listing.open,
        since_ms: 0,
        limit: listing.limit.unwrap_or(200).min(MAX_ALERTS),
    };
    Ok(Json(service.alerts(&selection).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Acknowledgement {
    note: String,
}

pub(super) async fn acknowledge(
    State(service): State<Arc<Service>>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
    json: Result<Json<Acknowledgement>, JsonRejection>,
) -> ApiResult<Alert> {
    let id = id(path)?;
    let Acknowledgement { note } = body(json)?;
    let actor = caller.actor(&[Role::Safeguarding]);
    Ok(Json(
        service.acknowledge_alert(&actor, id, None, &note).await?,
    ))
}
