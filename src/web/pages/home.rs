//! The start page: what waits for the viewer (requests to approve, open
//! alerts, their own requests) and where each of their jobs is.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

use super::Done;
use super::error::{PageError, render};
use super::frame::Frame;
use super::signed_in::SignedIn;
use crate::policy::{ExemptionStatus, Role};
use crate::service::Service;
use crate::store::{AlertSelection, ExemptionSelection, now_ms};

/// The start page: how many requests wait for the viewer's decision, how many
/// alerts are open, and how many of their own requests wait or are in force.
#[derive(Template)]
#[template(path = "console/home.html")]
struct HomePage {
    frame: Frame,
    waiting: usize,
    open_alerts: usize,
    my_pending: usize,
    my_active: usize,
}

/// GET /: the start page for anyone signed in: what waits for them (their own
/// requests, requests to decide, open alerts), each shown only to the roles it concerns.
pub(super) async fn home(
    State(service): State<Arc<Service>>,
    who: SignedIn,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let now = now_ms();
    let requests = service.exemptions(ExemptionSelection::All).await?;
    let waiting = if who.has(Role::Approver) {
        requests
            .iter()
            .filter(|e| e.status == ExemptionStatus::Pending && e.until_ms > now)
            .count()
    } else {
        0
    };
    let name = &who.caller.person.name;
    let own = |text: &str| text.eq_ignore_ascii_case(name);
    let mine: Vec<_> = requests
        .iter()
        .filter(|e| own(&e.requested_by) || e.filed_by.as_deref().is_some_and(own))
        .collect();
    let open_alerts = if who.has(Role::Safeguarding) {
        let selection = AlertSelection {
            open_only: true,
            since_ms: 0,
            limit: 1000,
        };
        service.alerts(&selection).await?.len()
    } else {
        0
    };
    Ok(render(&HomePage {
        frame: Frame::new(format!("Hello, {name}"), Some(who.me()))
            .with_notice(done.done.as_deref()),
        waiting,
        open_alerts,
        my_pending: mine.iter().filter(|e| e.state(now) == "pending").count(),
        my_active: mine.iter().filter(|e| e.in_force(now)).count(),
    }))
}
