//! `POST /api/v1/enrol {code, password}`: a person sets their password
//! with the one-time code an administrator gave them.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use serde::Deserialize;

use super::body;
use crate::service::{Actor, Service};
use crate::web::error::ApiResult;
use crate::web::session::Source;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Enrol {
    code: String,
    password: String,
}

pub(super) async fn enrol(
    State(service): State<Arc<Service>>,
    Source(source): Source,
    json: Result<Json<Enrol>, JsonRejection>,
) -> ApiResult<serde_json::Value> {
    let Enrol { code, password } = body(json)?;
    let person = service
        .enrol(&Actor::console_visitor(source), &code, &password)
        .await?;
    Ok(Json(serde_json::json!({
        "name": person.name,
        "roles": person.roles,
    })))
}
