//! Searching the query log, for the safeguarding lead: a form (a name or
//! `*.example.com`, a device or network, a period) and the matching rows,
//! names inert, each search recorded before a row is read, as `hedge logs
//! search` is; and the same search downloaded as CSV, written as `hedge
//! logs search --csv` writes it and recorded as an export.

use std::sync::Arc;

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use tracing::warn;

use super::error::{PageError, render};
use super::frame::Frame;
use super::signed_in::SignedIn;
use crate::policy::Role;
use crate::service::inert::{inert, inert_text};
use crate::service::logs::{CSV_HEADERS, csv_cells, type_name};
use crate::service::table::csv_record;
use crate::service::time::{format_local, format_local_time};
use crate::service::{Search as Reading, Service};
use crate::store::{AccessKind, StoredQuery};
use crate::web::input::{LogSearch as Search, log_filter};

/// The most rows a page shows (the CSV download has them all).
const SHOWN: u64 = 1000;

/// A query-log row as a page shows it: local times, the name inert.
pub(super) struct LogRow {
    pub(super) time: String,
    pub(super) client: String,
    pub(super) group: String,
    pub(super) name: String,
    pub(super) qtype: String,
    pub(super) action: &'static str,
    pub(super) category: String,
    /// `1`, or `12 to 14:02:21` for a row of repeats.
    pub(super) times: String,
}

impl LogRow {
    /// `row` as a page shows it.
    pub(super) fn of(row: &StoredQuery) -> LogRow {
        LogRow {
            time: format_local(row.at_ms),
            // The device as people know it (its name, configured or from
            // DHCP, which a device chooses itself: made inert) and MAC.
            client: inert_text(&row.who()),
            group: row.group.clone().unwrap_or_default(),
            name: inert(&row.name),
            qtype: type_name(row.qtype),
            action: row.action.as_str(),
            category: row.category.clone().unwrap_or_default(),
            times: match row.last_ms {
                Some(last) if row.times > 1 => {
                    format!("{} to {}", row.times, format_local_time(last))
                }
                _ => row.times.to_string(),
            },
        }
    }
}

/// The log search page: the form, filled in again, and the rows found.
#[derive(Template)]
#[template(path = "console/logs.html")]
struct LogsPage {
    frame: Frame,
    /// The search as typed, to fill the form in again.
    name: String,
    client: String,
    from: String,
    to: String,
    /// The rows found, newest first; `None` before a search.
    rows: Option<Vec<LogRow>>,
    /// The search reached [`SHOWN`] rows: there may be more.
    more: bool,
}

/// The search in the address, or a 400 saying what was wrong with it.
fn search(query: Result<Query<Search>, QueryRejection>) -> Result<Search, PageError> {
    let Query(search) = query
        .map_err(|rejection| PageError::bad(format!("the search: {}", rejection.body_text())))?;
    Ok(search)
}

/// The form's text for a field left out.
fn typed(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}

/// GET /logs[?name=&client=&from=&to=]: the search form and, once something is asked,
/// the matching rows (at most [`SHOWN`]), the search recorded first. Safeguarding leads only.
pub(super) async fn page(
    State(service): State<Arc<Service>>,
    who: SignedIn,
    query: Result<Query<Search>, QueryRejection>,
) -> Result<Response, PageError> {
    who.require(&[Role::Safeguarding], "search the query log")?;
    let asked = search(query)?;
    let searching = asked.name.is_some()
        || asked.client.is_some()
        || asked.from.is_some()
        || asked.to.is_some();
    let mut rows = None;
    if searching {
        let wanted = Search {
            limit: Some(SHOWN),
            ..asked.clone()
        };
        let filter = log_filter(wanted)?;
        let actor = who.actor(&[Role::Safeguarding]);
        let mut reading = service
            .search_log(&actor, filter, AccessKind::Search)
            .await?;
        let mut found = Vec::new();
        while let Some(batch) = reading.next().await {
            found.extend(batch);
        }
        reading.finish().await?;
        rows = Some(found.iter().map(LogRow::of).collect::<Vec<_>>());
    }
    let more = rows.as_ref().is_some_and(|r| r.len() as u64 >= SHOWN);
    Ok(render(&LogsPage {
        frame: who.frame("Search the log"),
        name: typed(&asked.name).to_string(),
        client: typed(&asked.client).to_string(),
        from: typed(&asked.from).to_string(),
        to: typed(&asked.to).to_string(),
        rows,
        more,
    }))
}

/// GET /logs.csv?...: every row the same search matches, as `hedge logs search --csv`
/// writes them, recorded as an export. Safeguarding leads only.
pub(super) async fn csv(
    State(service): State<Arc<Service>>,
    who: SignedIn,
    query: Result<Query<Search>, QueryRejection>,
) -> Result<Response, PageError> {
    who.require(&[Role::Safeguarding], "export the query log")?;
    let mut filter = log_filter(search(query)?)?;
    // An export has every matching row, as `hedge logs search --csv` does.
    filter.limit = None;
    let actor = who.actor(&[Role::Safeguarding]);
    let reading = service
        .search_log(&actor, filter, AccessKind::ExportCsv)
        .await?;
    let (sender, receiver) = mpsc::channel(2);
    tokio::spawn(send_csv(reading, sender));
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|part| (part, receiver))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"hedge-query-log.csv\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Writes the search's rows as CSV into `sender` as they come, then
/// records how many went out (also when the browser went away before the
/// end). A search that fails half-way ends the download with an error, so
/// that a cut-off file is not taken for the whole.
async fn send_csv(mut reading: Reading, sender: mpsc::Sender<Result<Bytes, std::io::Error>>) {
    let mut text = csv_record(CSV_HEADERS);
    text.push('\n');
    let mut gone = sender.send(Ok(text.into())).await.is_err();
    while !gone && let Some(batch) = reading.next().await {
        let mut text = String::new();
        for row in &batch {
            let cells = csv_cells(row);
            let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
            text.push_str(&csv_record(&cells));
            text.push('\n');
        }
        gone = sender.send(Ok(text.into())).await.is_err();
    }
    if let Err(error) = reading.finish().await {
        warn!("a CSV export of the query log failed: {error}");
        let _ = sender
            .send(Err(std::io::Error::other(error.to_string())))
            .await;
    }
}
