//! Safeguarding alerts for the safeguarding lead: the open ones first,
//! each with what was tried (the name inert), by which device, how often
//! and where the alert was sent; acknowledged with a note saying what was
//! done, which is kept with who and when.

use std::cmp::Reverse;
use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::error::{PageError, render, see_other};
use super::frame::Frame;
use super::signed_in::{Posted, SignedIn};
use super::{All, Done, id};
use crate::policy::Role;
use crate::service::Service;
use crate::service::inert::{inert, inert_text};
use crate::service::time::format_local;
use crate::store::{Alert, AlertSelection};

/// The most alerts one page shows.
const SHOWN: u64 = 200;

/// One alert as its card shows it.
struct AlertCard {
    id: i64,
    open: bool,
    who: String,
    group: String,
    category: String,
    name: String,
    hits: u64,
    first: String,
    last: String,
    deliveries: Vec<String>,
    /// Who acknowledged it, when, and their note (inert).
    acknowledged: Option<(String, String, String)>,
}

impl AlertCard {
    fn of(alert: &Alert) -> AlertCard {
        AlertCard {
            id: alert.id,
            open: alert.is_open(),
            who: inert_text(&alert.who()),
            group: alert.group.clone(),
            category: alert.category.clone(),
            name: inert(&alert.name),
            hits: alert.hits,
            first: format_local(alert.first_ms),
            last: format_local(alert.last_ms),
            deliveries: alert
                .deliveries
                .iter()
                .map(|d| {
                    let mut text = format!(
                        "{}: {} ({} attempt{}, {})",
                        inert_text(&d.sink),
                        d.state,
                        d.attempts,
                        if d.attempts == 1 { "" } else { "s" },
                        format_local(d.at_ms)
                    );
                    if let Some(error) = &d.error {
                        text.push_str(&format!(": {}", inert_text(error)));
                    }
                    text
                })
                .collect(),
            acknowledged: alert.acked_ms.map(|at| {
                (
                    alert.acked_by.clone().unwrap_or_default(),
                    format_local(at),
                    inert_text(alert.ack_note.as_deref().unwrap_or("")),
                )
            }),
        }
    }
}

/// The alerts page: the open alerts, or (`?all=1`) the acknowledged ones too.
#[derive(Template)]
#[template(path = "console/alerts.html")]
struct AlertsPage {
    frame: Frame,
    all: bool,
    alerts: Vec<AlertCard>,
    open: usize,
    /// The listing reached [`SHOWN`]: older ones are not on the page.
    more: bool,
}

/// GET /alerts[?all=1]: the open alerts, newest first, each with a form to acknowledge it;
/// `all` adds the acknowledged ones after them. Safeguarding leads only.
pub(super) async fn page(
    State(service): State<Arc<Service>>,
    who: SignedIn,
    Query(all): Query<All>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    who.require(&[Role::Safeguarding], "see alerts")?;
    let all = all.all();
    let selection = AlertSelection {
        open_only: !all,
        since_ms: 0,
        limit: SHOWN,
    };
    let mut alerts = service.alerts(&selection).await?;
    alerts.sort_by_key(|alert| (!alert.is_open(), Reverse(alert.id)));
    Ok(render(&AlertsPage {
        frame: who.frame("Alerts").with_notice(done.done.as_deref()),
        all,
        more: alerts.len() as u64 >= SHOWN,
        open: alerts.iter().filter(|a| a.is_open()).count(),
        alerts: alerts.iter().map(AlertCard::of).collect(),
    }))
}

/// The fields of the acknowledge form: `note`, what was done (required: a few words).
#[derive(Deserialize)]
pub(super) struct Acknowledgement {
    #[serde(default)]
    note: String,
}

/// POST /alerts/{id}/ack {note}: acknowledges the alert in the viewer's name, with the
/// note (safeguarding leads only); then to /alerts.
pub(super) async fn acknowledge(
    State(service): State<Arc<Service>>,
    path: Result<Path<i64>, PathRejection>,
    Posted { who, form }: Posted<Acknowledgement>,
) -> Result<Response, PageError> {
    let id = id(path)?;
    let actor = who.actor(&[Role::Safeguarding]);
    service
        .acknowledge_alert(&actor, id, None, &form.note)
        .await?;
    Ok(see_other("/alerts?done=acknowledged"))
}
