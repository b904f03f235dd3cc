//! Reports: what the filter did over a period, gathered for the
//! safeguarding lead and governors. Gathering one is an access to the
//! query log, recorded like a search.

use std::collections::BTreeMap;

use tracing::info;

use crate::policy::ExemptionScope;
use crate::service::{Actor, Service, ServiceError};
use crate::store::{AccessKind, ExemptionSelection, Report, ReportContext, ReportRequest};

impl Service {
    /// Gathers the report `request` asks for, recorded as an access to the
    /// query log (who, what, how many rows it counted) and in the audit
    /// trail.
    pub async fn report(
        &self,
        actor: &Actor,
        request: &ReportRequest,
    ) -> Result<Report, ServiceError> {
        self.acting_person(
            actor,
            None,
            &[crate::policy::Role::Safeguarding],
            "gather reports",
        )
        .await?;
        self.gather_report(actor, request, serde_json::json!({ "request": request }))
            .await
    }

    /// Gathers a report for `actor`, whoever they are (the caller has
    /// checked that they may), recorded as an access to the query log and
    /// in the audit trail with `details`.
    pub(crate) async fn gather_report(
        &self,
        actor: &Actor,
        request: &ReportRequest,
        details: serde_json::Value,
    ) -> Result<Report, ServiceError> {
        // A request that cannot be answered is refused before it is
        // recorded as an access.
        if request.to_ms <= request.from_ms {
            return Err(ServiceError::Invalid(
                "the report's end must be after its start".into(),
            ));
        }
        if let Some(name) = &request.time_zone {
            jiff::tz::TimeZone::get(name)
                .map_err(|e| ServiceError::Invalid(format!("time zone {name:?}: {e}")))?;
        }
        self.flush_log().await;
        let database = self.storage.get()?;
        let config = self.handler.config();
        let policy = self.handler.policy();
        if let Some(group) = &request.group
            && !policy.groups.iter().any(|g| &*g.name == group)
        {
            let known: Vec<&str> = policy.groups.iter().map(|g| &*g.name).collect();
            return Err(ServiceError::Invalid(format!(
                "there is no group {group:?}; the groups are: {}",
                known.join(", ")
            )));
        }
        let catalogue = &policy.catalogue;
        let safeguarding = catalogue
            .safeguarding()
            .iter()
            .map(|id| catalogue.get(id).id.clone())
            .collect();
        let mut group_of_client = BTreeMap::new();
        for exemption in database.exemptions(ExemptionSelection::All, 0).await? {
            if let ExemptionScope::Client(ip) = exemption.scope {
                let group = &policy.groups[policy.identify(ip, None).group].name;
                group_of_client.insert(ip.to_string(), group.to_string());
            }
        }
        let context = ReportContext {
            site: crate::service::alerting::site_name(&config),
            safeguarding,
            retention_days: config.logging.retention_days,
            group_of_client,
            dropped_unrecorded: self.handler.log.unrecorded_drops(),
        };
        let access = self
            .record_access(
                database,
                actor,
                AccessKind::Report,
                request,
                "log.reported",
                details,
            )
            .await?;
        let report = database.report(request, &context).await?;
        database
            .finish_access(access, report.totals.queries)
            .await?;
        info!(user = %actor.user, "report gathered over {} queries", report.totals.queries);
        Ok(report)
    }
}
