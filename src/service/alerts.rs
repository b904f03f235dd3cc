//! Safeguarding alerts: listing, reading and acknowledging them.

use tracing::info;

use super::{Actor, Service, ServiceError};
use crate::policy::Role;
use crate::policy::alerts::check_acknowledgement;
use crate::store::{Alert, AlertEvent, AlertSelection};

impl Service {
    /// Alerts, newest first.
    pub async fn alerts(&self, selection: &AlertSelection) -> Result<Vec<Alert>, ServiceError> {
        Ok(self.storage.get()?.alerts(selection).await?)
    }

    /// One alert with its deliveries.
    pub async fn alert(&self, id: i64) -> Result<Alert, ServiceError> {
        self.storage.get()?.alert(id).await?.ok_or_else(|| {
            ServiceError::NotFound(format!("there is no alert {id}: see `hedge alerts list`"))
        })
    }

    /// Marks alert `id` as seen and dealt with; later hits from the same
    /// client start a new alert.
    pub async fn acknowledge_alert(
        &self,
        actor: &Actor,
        id: i64,
        by: Option<&str>,
        note: &str,
    ) -> Result<Alert, ServiceError> {
        let person = self
            .acting_person(actor, by, &[Role::Safeguarding], "acknowledge alerts")
            .await?;
        let by = person.name.as_str();
        check_acknowledgement(by, note).map_err(ServiceError::Invalid)?;
        let alert = self
            .storage
            .get()?
            .acknowledge_alert(self.storage.audit_lock(), id, by, note, &actor.user)
            .await?;
        self.handler
            .alerts
            .send_control(AlertEvent::Acknowledged(id))
            .await;
        info!(user = %actor.user, "alert {id} acknowledged by {by}");
        Ok(alert)
    }
}
