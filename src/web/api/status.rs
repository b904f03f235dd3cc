//! `GET /api/v1/status`: what `hedge status` shows, for administrators.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use crate::policy::Role;
use crate::service::{Service, StatusReport};
use crate::web::error::ApiResult;
use crate::web::session::Caller;

pub(super) async fn status(
    State(service): State<Arc<Service>>,
    caller: Caller,
) -> ApiResult<StatusReport> {
    let actor = caller.actor(&[Role::Admin]);
    service
        .acting_person(&actor, None, &[Role::Admin], "see the server's status")
        .await?;
    Ok(Json(service.status().await))
}
