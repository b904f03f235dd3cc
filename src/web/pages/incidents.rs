//! Incidents for the safeguarding lead, as `hedge incident` keeps them:
//! the list, opening one (from an alert, or for a device and period whose
//! log rows are then held as evidence), and one incident with its entries
//! and log rows (reading them is recorded as an access to the log), where
//! an action is noted, a referral recorded or the incident closed.

use std::net::IpAddr;
use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use ipnet::IpNet;
use serde::Deserialize;

use super::error::{PageError, render, see_other};
use super::frame::Frame;
use super::logs::LogRow;
use super::signed_in::{Posted, SignedIn};
use super::{All, Done, given, id};
use crate::policy::{Agency, Identified, IncidentKind, Role};
use crate::service::incidents::ROWS_SHOWN;
use crate::service::inert::{inert, inert_text};
use crate::service::time::format_local;
use crate::service::{IncidentRequest, Service};
use crate::store::Incident;
use crate::web::input::parse_time;

/// An incident as a listing or its own page shows it: free text inert.
struct IncidentView {
    id: i64,
    open: bool,
    kind: &'static str,
    summary: String,
    identified: &'static str,
    involved: String,
    alert: Option<i64>,
    opened: String,
    opened_by: String,
    /// The legal hold on its evidence: id, device, from, to.
    hold: Option<(i64, String, String, String)>,
    referred: String,
    entries: Vec<EntryView>,
    /// When, by whom, and the conclusion.
    closed: Option<(String, String, String)>,
}

/// An action noted on an incident, or a referral.
struct EntryView {
    at: String,
    by: String,
    /// `referred to police on ...`, for a referral.
    referral: Option<String>,
    text: String,
}

impl IncidentView {
    fn of(incident: &Incident) -> IncidentView {
        let agencies: Vec<&str> = incident.referrals().iter().map(|a| a.as_str()).collect();
        IncidentView {
            id: incident.id,
            open: incident.is_open(),
            kind: incident.kind.as_str(),
            summary: inert_text(&incident.summary),
            identified: incident.identified.as_str(),
            involved: inert_text(&incident.involved),
            alert: incident.alert_id,
            opened: format_local(incident.opened_ms),
            opened_by: incident.opened_by.clone(),
            hold: incident.hold_id.map(|hold| {
                (
                    hold,
                    incident.client.clone().unwrap_or_default(),
                    incident.from_ms.map(format_local).unwrap_or_default(),
                    incident.to_ms.map(format_local).unwrap_or_default(),
                )
            }),
            referred: agencies.join(", "),
            entries: incident
                .entries
                .iter()
                .map(|entry| EntryView {
                    at: format_local(entry.at_ms),
                    by: entry.by.clone(),
                    referral: entry.agency.map(|agency| {
                        let on = entry.referred_ms.unwrap_or(entry.at_ms);
                        format!("referred to {agency} on {}", format_local(on))
                    }),
                    text: inert_text(&entry.text),
                })
                .collect(),
            closed: incident.closed_ms.map(|at| {
                (
                    format_local(at),
                    incident.closed_by.clone().unwrap_or_default(),
                    inert_text(incident.conclusion.as_deref().unwrap_or("")),
                )
            }),
        }
    }
}

/// The incidents page: the open incidents, or (`?all=1`) all of them.
#[derive(Template)]
#[template(path = "console/incidents.html")]
struct ListPage {
    frame: Frame,
    all: bool,
    incidents: Vec<IncidentView>,
}

/// GET /incidents[?all=1]: the open incidents, newest first; `all` adds the closed ones.
/// Safeguarding leads only.
pub(super) async fn list(
    State(service): State<Arc<Service>>,
    who: SignedIn,
    Query(all): Query<All>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    who.require(&[Role::Safeguarding], "see incidents")?;
    let all = all.all();
    let incidents = service.incidents(!all).await?;
    Ok(render(&ListPage {
        frame: who.frame("Incidents").with_notice(done.done.as_deref()),
        all,
        incidents: incidents.iter().map(IncidentView::of).collect(),
    }))
}

/// The alert an incident is opened from, as the form shows it.
struct FromAlert {
    id: i64,
    who: String,
    category: String,
    name: String,
    first: String,
}

/// The form to open an incident, showing the alert it is opened from, if any.
#[derive(Template)]
#[template(path = "console/incident_new.html")]
struct NewPage {
    frame: Frame,
    alert: Option<FromAlert>,
    kinds: &'static [IncidentKind],
    identified: &'static [Identified],
}

/// The new-incident page's query: `alert`, the alert to open it from (optional).
#[derive(Deserialize)]
pub(super) struct FromWhich {
    #[serde(default)]
    alert: Option<String>,
}

/// GET /incidents/new[?alert=ID]: the form to open an incident, from the alert if one is
/// named. Safeguarding leads only.
pub(super) async fn new(
    State(service): State<Arc<Service>>,
    who: SignedIn,
    Query(which): Query<FromWhich>,
) -> Result<Response, PageError> {
    who.require(&[Role::Safeguarding], "open incidents")?;
    let alert = match given(&which.alert) {
        Some(text) => {
            let alert = service.alert(alert_id(text)?).await?;
            Some(FromAlert {
                id: alert.id,
                who: inert_text(&alert.who()),
                category: alert.category.clone(),
                name: inert(&alert.name),
                first: format_local(alert.first_ms),
            })
        }
        None => None,
    };
    Ok(render(&NewPage {
        frame: who.frame("A new incident"),
        alert,
        kinds: IncidentKind::ALL,
        identified: Identified::ALL,
    }))
}

fn alert_id(text: &str) -> Result<i64, PageError> {
    text.trim()
        .parse()
        .map_err(|_| PageError::field("alert", format!("{text:?} is not an alert's number")))
}

/// The fields of the new-incident form: `kind` and `summary` (a few words) are required;
/// `client` needs `from` and the reverse, unless the `alert` gives them.
#[derive(Deserialize)]
pub(super) struct Opening {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    identified: Option<String>,
    #[serde(default)]
    client: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    alert: Option<String>,
    #[serde(default)]
    involved: Option<String>,
}

/// A device's address (that one address) or a network.
fn client(text: &str) -> Result<IpNet, PageError> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(IpNet::from(ip.to_canonical()));
    }
    text.parse::<IpNet>()
        .map(|net| net.trunc())
        .map_err(|_| PageError::field("client", format!("{text:?} is not an address or network")))
}

/// POST /incidents {kind, summary, ...}: opens an incident in the viewer's name, holding the
/// log rows of the device and period it names, if any (safeguarding leads only); then to its page.
pub(super) async fn open(
    State(service): State<Arc<Service>>,
    Posted { who, form }: Posted<Opening>,
) -> Result<Response, PageError> {
    let time = |field, value: &Option<String>| {
        given(value).map(|text| parse_time(field, text)).transpose()
    };
    let request = IncidentRequest {
        kind: IncidentKind::parse(&form.kind).map_err(|e| PageError::field("kind", e))?,
        summary: form.summary.clone(),
        by: String::new(),
        client: given(&form.client).map(client).transpose()?,
        from_ms: time("from", &form.from)?,
        to_ms: time("to", &form.to)?,
        alert: given(&form.alert).map(alert_id).transpose()?,
        identified: given(&form.identified)
            .map(Identified::parse)
            .transpose()
            .map_err(|e| PageError::field("identified", e))?,
        involved: given(&form.involved).map(str::to_string),
    };
    let actor = who.actor(&[Role::Safeguarding]);
    let incident = service.open_incident(&actor, request).await?;
    Ok(see_other(&format!(
        "/incidents/{}?done=opened",
        incident.id
    )))
}

/// One incident's page: its record, its device's log rows, and while open the forms to act on it.
#[derive(Template)]
#[template(path = "console/incident.html")]
struct ShowPage {
    frame: Frame,
    incident: IncidentView,
    rows: Vec<LogRow>,
    /// The rows reached [`ROWS_SHOWN`]: older ones are not on the page.
    more: bool,
    agencies: &'static [Agency],
}

/// GET /incidents/{id}: the incident, its entries and its device's log rows (reading them
/// is recorded), and while open the forms to note, refer and close it. Safeguarding leads only.
pub(super) async fn show(
    State(service): State<Arc<Service>>,
    who: SignedIn,
    path: Result<Path<i64>, PathRejection>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let id = id(path)?;
    let actor = who.actor(&[Role::Safeguarding]);
    let record = service.show_incident(&actor, id).await?;
    Ok(render(&ShowPage {
        frame: who
            .frame(&format!("Incident {id}"))
            .with_notice(done.done.as_deref()),
        incident: IncidentView::of(&record.incident),
        more: record.rows.len() as u64 >= ROWS_SHOWN,
        rows: record.rows.iter().map(LogRow::of).collect(),
        agencies: Agency::ALL,
    }))
}

/// The fields of the note form: `text`, the action taken (required: a few words).
#[derive(Deserialize)]
pub(super) struct Note {
    #[serde(default)]
    text: String,
}

/// POST /incidents/{id}/note {text}: records an action taken on the incident
/// (safeguarding leads only); then back to the incident.
pub(super) async fn note(
    State(service): State<Arc<Service>>,
    path: Result<Path<i64>, PathRejection>,
    Posted { who, form }: Posted<Note>,
) -> Result<Response, PageError> {
    let id = id(path)?;
    let actor = who.actor(&[Role::Safeguarding]);
    service.note_incident(&actor, id, None, &form.text).await?;
    Ok(see_other(&format!("/incidents/{id}?done=noted")))
}

/// The fields of the referral form: `agency` (required), `on` (when; now if empty) and
/// `text`, a reference or note (optional).
#[derive(Deserialize)]
pub(super) struct Referral {
    #[serde(default)]
    agency: String,
    #[serde(default)]
    on: Option<String>,
    #[serde(default)]
    text: String,
}

/// POST /incidents/{id}/refer {agency, on, text}: records a referral of the incident to an
/// agency (safeguarding leads only); then back to the incident.
pub(super) async fn refer(
    State(service): State<Arc<Service>>,
    path: Result<Path<i64>, PathRejection>,
    Posted { who, form }: Posted<Referral>,
) -> Result<Response, PageError> {
    let id = id(path)?;
    let agency = Agency::parse(&form.agency).map_err(|e| PageError::field("agency", e))?;
    let on = given(&form.on)
        .map(|text| parse_time("on", text))
        .transpose()?;
    let actor = who.actor(&[Role::Safeguarding]);
    service
        .refer_incident(&actor, id, agency, None, on, &form.text)
        .await?;
    Ok(see_other(&format!("/incidents/{id}?done=referred")))
}

/// The fields of the closing form: `conclusion` (required: a few words), and whether
/// to release the legal hold.
#[derive(Deserialize)]
pub(super) struct Closing {
    #[serde(default)]
    conclusion: String,
    /// The checkbox: present when ticked.
    #[serde(default)]
    release_hold: Option<String>,
}

/// POST /incidents/{id}/close {conclusion, release_hold}: closes the incident, releasing
/// its hold if ticked (safeguarding leads only); then back to the incident.
pub(super) async fn close(
    State(service): State<Arc<Service>>,
    path: Result<Path<i64>, PathRejection>,
    Posted { who, form }: Posted<Closing>,
) -> Result<Response, PageError> {
    let id = id(path)?;
    let actor = who.actor(&[Role::Safeguarding]);
    let release = form.release_hold.is_some();
    service
        .close_incident(&actor, id, None, &form.conclusion, release)
        .await?;
    Ok(see_other(&format!("/incidents/{id}?done=closed")))
}
