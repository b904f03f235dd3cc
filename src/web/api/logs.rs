//! `GET /api/v1/logs?name=&client=&from=&to=&limit=`: a search of the
//! query log for safeguarding leads, recorded (in the access record and
//! the audit trail, under the person's name) before a row is read, as
//! `hedge logs search` is. The console's log page reads its search with
//! the same [`Search`] and [`filter`].

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use ipnet::IpNet;
use serde::Deserialize;

use crate::policy::Role;
use crate::service::Service;
use crate::store::{AccessKind, LogFilter, NamePattern, StoredQuery};
use crate::web::error::{ApiError, ApiResult};
use crate::web::input::parse_time;
use crate::web::session::Caller;

/// Rows a search returns when no limit is given, and at most.
const DEFAULT_ROWS: u64 = 1000;
const MAX_ROWS: u64 = 10_000;

/// A search of the log as asked for in an address's query.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Search {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub client: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub limit: Option<u64>,
}

/// The filter a search asks for; bad fields are named.
pub(crate) fn filter(search: Search) -> Result<LogFilter, ApiError> {
    let present = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let name = present(search.name)
        .map(|name| NamePattern::parse(&name).map_err(|e| ApiError::bad_input("name", e)))
        .transpose()?;
    let client = present(search.client)
        .map(|client| {
            let text = client.trim();
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    ApiError::bad_input(
                        "client",
                        format!("{client:?} is not an address or network"),
                    )
                })
        })
        .transpose()?;
    let from_ms = present(search.from)
        .map(|t| parse_time("from", &t))
        .transpose()?;
    let to_ms = present(search.to)
        .map(|t| parse_time("to", &t))
        .transpose()?;
    Ok(LogFilter {
        name,
        client,
        from_ms,
        to_ms,
        limit: Some(search.limit.unwrap_or(DEFAULT_ROWS).clamp(1, MAX_ROWS)),
        ..LogFilter::default()
    })
}

pub(super) async fn search(
    State(service): State<Arc<Service>>,
    caller: Caller,
    query: Result<Query<Search>, QueryRejection>,
) -> ApiResult<Vec<StoredQuery>> {
    let Query(search) =
        query.map_err(|rejection| ApiError::bad_input("query", rejection.body_text()))?;
    let filter = filter(search)?;
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
