//! Legal holds: query-log rows kept past retention for an investigation.

use tracing::info;

use super::{Actor, Service, ServiceError};
use crate::policy::holds::check_release;
use crate::policy::{HoldRequest, Role};
use crate::store::LegalHold;

impl Service {
    /// Places a hold (recorded with who placed it and why), once policy
    /// finds the request complete.
    pub async fn place_hold(
        &self,
        actor: &Actor,
        hold: &HoldRequest,
    ) -> Result<LegalHold, ServiceError> {
        let person = self
            .acting_person(
                actor,
                Some(&hold.by),
                &[Role::Safeguarding],
                "place legal holds",
            )
            .await?;
        let hold = &HoldRequest {
            by: person.name,
            ..hold.clone()
        };
        hold.check().map_err(ServiceError::Invalid)?;
        let placed = self
            .storage
            .get()?
            .add_hold(self.storage.audit_lock(), hold, &actor.user)
            .await?;
        info!(
            user = %actor.user,
            "legal hold {} placed by {} on {}: {}",
            placed.id, placed.placed_by, placed.client, placed.reason
        );
        Ok(placed)
    }

    /// Holds in force (and released ones too, with `all`).
    pub async fn holds(&self, all: bool) -> Result<Vec<LegalHold>, ServiceError> {
        Ok(self.storage.get()?.holds(all).await?)
    }

    /// Releases hold `id`; its rows fall to retention again.
    pub async fn release_hold(
        &self,
        actor: &Actor,
        id: i64,
        by: Option<&str>,
        reason: &str,
    ) -> Result<LegalHold, ServiceError> {
        let person = self
            .acting_person(actor, by, &[Role::Safeguarding], "release legal holds")
            .await?;
        let by = person.name.as_str();
        check_release(by, reason).map_err(ServiceError::Invalid)?;
        let released = self
            .storage
            .get()?
            .release_hold(self.storage.audit_lock(), id, by, reason, &actor.user)
            .await?;
        info!(user = %actor.user, "legal hold {id} released by {by}: {reason}");
        Ok(released)
    }
}
