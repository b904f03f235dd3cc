//! `GET /api/v1/logs?name=&client=&from=&to=&limit=`: a search of the
//! query log for safeguarding leads, recorded (in the access record and
//! the audit trail, under the person's name) before a row is read, as
//! `hedge logs search` is. The console's log page reads its search the
//! same way (`web::input::LogSearch`).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};

use crate::policy::Role;
use crate::service::Service;
use crate::store::{AccessKind, StoredQuery};
use crate::web::error::{ApiError, ApiResult};
use crate::web::input::{LogSearch as Search, log_filter};
use crate::web::session::Caller;

pub(super) async fn search(
    State(service): State<Arc<Service>>,
    caller: Caller,
    query: Result<Query<Search>, QueryRejection>,
) -> ApiResult<Vec<StoredQuery>> {
    let Query(search) =
        query.map_err(|rejection| ApiError::bad_input("query", rejection.body_text()))?;
    let filter = log_filter(search)?;
    let actor = caller.actor(&[Role::Safeguarding]);
    let mut search = service
        .search_log(&actor, filter, AccessKind::Search)
        .await?;
    let mut rows = Vec::new();
    while let Some(batch) = search.next().await {
        rows.extend(batch);
    }
    search.finish().await?;
    Ok(Json(rows))
}
