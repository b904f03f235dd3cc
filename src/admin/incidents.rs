//! Incident requests on the admin socket: who was involved is worked out
//! from the configuration (client names and groups, not typed names), an
//! alert fills in the client and period, and showing an incident's log
//! rows is recorded like any search.

use std::net::IpAddr;

use ipnet::IpNet;
use tracing::info;

use super::peer::Peer;
use super::protocol::{AdminRequest, IncidentRequest};
use super::server::AdminContext;
use crate::store::{
    AccessKind, AuditEntry, Identified, Incident, LogFilter, NewIncident, StoreError, StoredQuery,
    now_ms,
};

/// An incident and the log rows of its client and period.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IncidentRecord {
    pub incident: Incident,
    /// Newest first, at most [`ROWS_SHOWN`].
    pub rows: Vec<StoredQuery>,
}

/// The most log rows shown with an incident (`hedge logs search` gives
/// them all).
pub const ROWS_SHOWN: u64 = 500;

pub async fn answer(
    request: AdminRequest,
    peer: &Peer,
    context: &AdminContext,
) -> Result<serde_json::Value, StoreError> {
    let storage = &context.storage;
    let database = storage.get()?;
    let lock = storage.audit_lock();
    let value = |incident: Incident| serde_json::to_value(incident).unwrap_or_default();
    Ok(match request {
        AdminRequest::IncidentOpen { request } => {
            let new = resolve(request, context).await?;
            let incident = database.open_incident(lock, &new, &peer.user).await?;
            info!(user = %peer.user, "incident {} opened by {}", incident.id, incident.opened_by);
            value(incident)
        }
        AdminRequest::IncidentNote { id, by, text } => value(
            database
                .add_incident_entry(lock, id, &by, &text, None, None, &peer.user)
                .await?,
        ),
        AdminRequest::IncidentRefer {
            id,
            agency,
            by,
            referred_ms,
            text,
        } => value(
            database
                .add_incident_entry(lock, id, &by, &text, Some(agency), referred_ms, &peer.user)
                .await?,
        ),
        AdminRequest::IncidentClose {
            id,
            by,
            conclusion,
            release_hold,
        } => value(
            database
                .close_incident(lock, id, &by, &conclusion, release_hold, &peer.user)
                .await?,
        ),
        AdminRequest::IncidentList { open_only } => {
            serde_json::to_value(database.incidents(open_only).await?).unwrap_or_default()
        }
        AdminRequest::IncidentShow { id } => {
            context.handler.log.flush(super::server::FLUSH_LIMIT).await;
            let incident = database
                .incident(id)
                .await?
                .ok_or_else(|| StoreError::Invalid(format!("there is no incident {id}")))?;
            let rows = match (&incident.client, incident.from_ms) {
                (Some(client), Some(from_ms)) => {
                    let filter = LogFilter {
                        client: client.parse().ok(),
                        from_ms: Some(from_ms),
                        to_ms: Some(incident.to_ms.unwrap_or(incident.opened_ms).max(from_ms) + 1),
                        limit: Some(ROWS_SHOWN),
                        ..LogFilter::default()
                    };
                    let access = database
                        .begin_access(&peer.user, peer.uid, AccessKind::Incident, &filter)
                        .await?;
                    storage
                        .audit(&AuditEntry {
                            actor: peer.user.clone(),
                            person: None,
                            action: "log.searched".into(),
                            details: serde_json::json!({
                                "kind": "incident", "incident": id, "filter": &filter
                            }),
                        })
                        .await?;
                    let rows = database.search_all(&filter).await?;
                    database.finish_access(access, rows.len() as u64).await?;
                    rows
                }
                _ => Vec::new(),
            };
            serde_json::to_value(IncidentRecord { incident, rows }).unwrap_or_default()
        }
        _ => return Err(StoreError::Invalid("not an incident request".into())),
    })
}

/// Fills in what an alert says, and who was involved as hedge knows them.
async fn resolve(
    request: IncidentRequest,
    context: &AdminContext,
) -> Result<NewIncident, StoreError> {
    let mut client = request.client;
    let mut from_ms = request.from_ms;
    let mut known_name = None;
    if let Some(id) = request.alert {
        let alert = context
            .storage
            .get()?
            .alert(id)
            .await?
            .ok_or_else(|| StoreError::Invalid(format!("there is no alert {id}")))?;
        client = client.or_else(|| Some(IpNet::from(alert.client)));
        from_ms = from_ms.or(Some(alert.first_ms));
        known_name = alert.client_name.clone();
    }
    if client.is_some() && from_ms.is_none() {
        return Err(StoreError::Invalid(
            "--client needs --from: the start of the period whose log rows are kept as evidence"
                .into(),
        ));
    }
    if from_ms.is_some() && client.is_none() {
        return Err(StoreError::Invalid(
            "--from needs --client: whose log rows are kept as evidence".into(),
        ));
    }
    let policy = context.handler.policy();
    let mut involved = match client {
        Some(net) => {
            let first: IpAddr = net.network();
            let who = policy.identify(first);
            let group = &policy.groups[who.group].name;
            if net.prefix_len() == net.max_prefix_len() {
                match who.name.map(str::to_string).or(known_name) {
                    Some(name) => format!("{name} ({first}), group {group}"),
                    None => format!("{first}, group {group}"),
                }
            } else {
                format!("devices in {net} (group {group} for its first address)")
            }
        }
        None => "no device named".to_string(),
    };
    if let Some(text) = request.involved.as_deref().map(str::trim)
        && !text.is_empty()
    {
        involved.push_str(&format!("; recorded by the operator: {text}"));
    }
    let to_ms = request.to_ms.or(client.map(|_| now_ms()));
    Ok(NewIncident {
        kind: request.kind,
        summary: request.summary,
        identified: request.identified.unwrap_or(if request.alert.is_some() {
            Identified::Alert
        } else {
            Identified::Staff
        }),
        involved,
        client,
        from_ms,
        to_ms,
        alert: request.alert,
        by: request.by,
    })
}
