//! Incidents: opened with a legal hold on the evidence, actions noted,
//! referrals recorded, closed with a conclusion. Who was involved is worked
//! out from the configuration (client names and groups, not typed names),
//! an alert fills in the client and period, and showing an incident's log
//! rows is recorded like any search.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use tracing::info;

use super::{Actor, Service, ServiceError};
use crate::policy::incidents::{check_closing, check_entry, check_opening};
use crate::policy::{Agency, Identified, IncidentKind, NewIncident, Role};
use crate::store::{AccessKind, Incident, LogFilter, StoredQuery, now_ms};

/// An incident as asked for on the command line; the server works out
/// who was involved and fills in what an alert already says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentRequest {
    pub kind: IncidentKind,
    pub summary: String,
    /// The person opening it, if typed (`--by`): it must be the caller's
    /// own person, who is recorded whatever this says.
    #[serde(default)]
    pub by: String,
    #[serde(default)]
    pub client: Option<ipnet::IpNet>,
    #[serde(default)]
    pub from_ms: Option<i64>,
    #[serde(default)]
    pub to_ms: Option<i64>,
    #[serde(default)]
    pub alert: Option<i64>,
    /// Default: `alert` with an alert, else `staff`.
    #[serde(default)]
    pub identified: Option<Identified>,
    /// Free text about who was involved, only if the operator chooses.
    #[serde(default)]
    pub involved: Option<String>,
}

/// An incident and the log rows of its client and period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentRecord {
    pub incident: Incident,
    /// Newest first, at most [`ROWS_SHOWN`].
    pub rows: Vec<StoredQuery>,
}

/// The most log rows shown with an incident (`hedge logs search` gives
/// them all).
pub const ROWS_SHOWN: u64 = 500;

impl Service {
    /// Opens an incident; naming a client places a legal hold on its rows
    /// for the period, in the same transaction.
    pub async fn open_incident(
        &self,
        actor: &Actor,
        mut request: IncidentRequest,
    ) -> Result<Incident, ServiceError> {
        request.by = self.recording_person(actor, Some(&request.by)).await?;
        let new = self.resolve(request).await?;
        check_opening(&new, now_ms()).map_err(ServiceError::Invalid)?;
        let incident = self
            .storage
            .get()?
            .open_incident(self.storage.audit_lock(), &new, &actor.user)
            .await?;
        info!(user = %actor.user, "incident {} opened by {}", incident.id, incident.opened_by);
        Ok(incident)
    }

    /// Appends an action taken to incident `id`.
    pub async fn note_incident(
        &self,
        actor: &Actor,
        id: i64,
        by: Option<&str>,
        text: &str,
    ) -> Result<Incident, ServiceError> {
        let by = &self.recording_person(actor, by).await?;
        check_entry(by, text, None).map_err(ServiceError::Invalid)?;
        Ok(self
            .storage
            .get()?
            .add_incident_entry(
                self.storage.audit_lock(),
                id,
                by,
                text,
                None,
                None,
                &actor.user,
            )
            .await?)
    }

    /// Records a referral of incident `id` to an agency.
    pub async fn refer_incident(
        &self,
        actor: &Actor,
        id: i64,
        agency: Agency,
        by: Option<&str>,
        referred_ms: Option<i64>,
        text: &str,
    ) -> Result<Incident, ServiceError> {
        let by = &self.recording_person(actor, by).await?;
        check_entry(by, text, Some(agency)).map_err(ServiceError::Invalid)?;
        Ok(self
            .storage
            .get()?
            .add_incident_entry(
                self.storage.audit_lock(),
                id,
                by,
                text,
                Some(agency),
                referred_ms,
                &actor.user,
            )
            .await?)
    }

    /// Closes incident `id` with a conclusion, releasing its hold if asked.
    pub async fn close_incident(
        &self,
        actor: &Actor,
        id: i64,
        by: Option<&str>,
        conclusion: &str,
        release_hold: bool,
    ) -> Result<Incident, ServiceError> {
        let by = &self.recording_person(actor, by).await?;
        check_closing(by, conclusion).map_err(ServiceError::Invalid)?;
        Ok(self
            .storage
            .get()?
            .close_incident(
                self.storage.audit_lock(),
                id,
                by,
                conclusion,
                release_hold,
                &actor.user,
            )
            .await?)
    }

    /// Incidents (open ones only, with `open_only`).
    pub async fn incidents(&self, open_only: bool) -> Result<Vec<Incident>, ServiceError> {
        Ok(self.storage.get()?.incidents(open_only).await?)
    }

    /// Incident `id` with the log rows of its client and period; reading
    /// them is recorded as an access to the log.
    pub async fn show_incident(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<IncidentRecord, ServiceError> {
        self.recording_person(actor, None).await?;
        self.flush_log().await;
        let database = self.storage.get()?;
        let incident = database
            .incident(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("there is no incident {id}")))?;
        let rows = match (&incident.client, incident.from_ms) {
            (Some(client), Some(from_ms)) => {
                let filter = LogFilter {
                    client: client.parse().ok(),
                    from_ms: Some(from_ms),
                    to_ms: Some(incident.to_ms.unwrap_or(incident.opened_ms).max(from_ms) + 1),
                    limit: Some(ROWS_SHOWN),
                    ..LogFilter::default()
                };
                let details = serde_json::json!({
                    "kind": "incident", "incident": id, "filter": &filter
                });
                let access = self
                    .record_access(
                        database,
                        actor,
                        AccessKind::Incident,
                        &filter,
                        "log.searched",
                        details,
                    )
                    .await?;
                let rows = database.search_all(&filter).await?;
                database.finish_access(access, rows.len() as u64).await?;
                rows
            }
            _ => Vec::new(),
        };
        Ok(IncidentRecord { incident, rows })
    }

    /// The name of the caller's person, who must have the safeguarding
    /// role to keep incidents; `by`, if typed, must be them.
    async fn recording_person(
        &self,
        actor: &Actor,
        by: Option<&str>,
    ) -> Result<String, ServiceError> {
        let person = self
            .acting_person(actor, by, &[Role::Safeguarding], "keep incident records")
            .await?;
        Ok(person.name)
    }

    /// Fills in what an alert says, and who was involved as hedge knows them.
    async fn resolve(&self, request: IncidentRequest) -> Result<NewIncident, ServiceError> {
        let mut client = request.client;
        let mut from_ms = request.from_ms;
        let mut known_name = None;
        if let Some(id) = request.alert {
            let alert = self
                .storage
                .get()?
                .alert(id)
                .await?
                .ok_or_else(|| ServiceError::NotFound(format!("there is no alert {id}")))?;
            client = client.or_else(|| Some(IpNet::from(alert.client)));
            from_ms = from_ms.or(Some(alert.first_ms));
            known_name = alert.client_name.clone();
        }
        let policy = self.handler.policy();
        let mut involved = match client {
            Some(net) => {
                let first: IpAddr = net.network();
                let who = policy.identify(first, None);
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
}
