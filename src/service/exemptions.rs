//! Exemptions: filing a request, approving or rejecting it, revoking one
//! in force, listing them; and putting the approved ones in force for the
//! DNS path. Every change is checked against the rules in `policy` with
//! the configuration and lists in force, then stored with its audit row.

use tracing::{info, warn};

use super::{Actor, Service, ServiceError};
use crate::policy::{
    Exemption, ExemptionSet, NewExemption, check_approval, check_person, check_reason,
    check_request,
};
use crate::store::{ExemptionSelection, now_ms};

impl Service {
    /// Files a request; it waits for an approver.
    pub async fn file_exemption(
        &self,
        actor: &Actor,
        request: &NewExemption,
    ) -> Result<Exemption, ServiceError> {
        let (config, policy) = (self.handler.config(), self.handler.policy());
        check_request(&config, &policy, request, now_ms()).map_err(ServiceError::Invalid)?;
        let exemption = self
            .storage
            .get()?
            .file_exemption(self.storage.audit_lock(), request, &actor.user, None)
            .await?;
        self.changed(actor, exemption).await
    }

    /// Files a request and approves it in one step: `by` must be on the
    /// roster, allowed to, and not the requester.
    pub async fn file_and_approve_exemption(
        &self,
        actor: &Actor,
        request: &NewExemption,
        by: &str,
    ) -> Result<Exemption, ServiceError> {
        let (config, policy) = (self.handler.config(), self.handler.policy());
        check_request(&config, &policy, request, now_ms()).map_err(ServiceError::Invalid)?;
        let approver = check_approval(&config, request, by, true).map_err(ServiceError::Invalid)?;
        let exemption = self
            .storage
            .get()?
            .file_exemption(
                self.storage.audit_lock(),
                request,
                &actor.user,
                Some(&approver.name),
            )
            .await?;
        self.changed(actor, exemption).await
    }

    /// Approves request `id` (checked again: the lists may have changed
    /// since it was filed).
    pub async fn approve_exemption(
        &self,
        actor: &Actor,
        id: i64,
        by: &str,
    ) -> Result<Exemption, ServiceError> {
        self.decide_filed(actor, id, by, None).await
    }

    /// Rejects request `id`, with a reason.
    pub async fn reject_exemption(
        &self,
        actor: &Actor,
        id: i64,
        by: &str,
        reason: &str,
    ) -> Result<Exemption, ServiceError> {
        check_reason(reason, "the reason").map_err(ServiceError::Invalid)?;
        self.decide_filed(actor, id, by, Some(reason)).await
    }

    /// Decides request `id`: approved without a `rejection`, else rejected
    /// with it. `by` must be on the roster and allowed to decide it; an
    /// approval checks the request again (the lists may have changed since
    /// it was filed).
    async fn decide_filed(
        &self,
        actor: &Actor,
        id: i64,
        by: &str,
        rejection: Option<&str>,
    ) -> Result<Exemption, ServiceError> {
        let config = self.handler.config();
        let filed = as_request(&self.exemption(id).await?);
        if rejection.is_none() {
            check_request(&config, &self.handler.policy(), &filed, now_ms())
                .map_err(ServiceError::Invalid)?;
        }
        let approver = check_approval(&config, &filed, by, false).map_err(ServiceError::Invalid)?;
        let exemption = self
            .storage
            .get()?
            .decide_exemption(
                self.storage.audit_lock(),
                id,
                rejection.is_none(),
                &approver.name,
                rejection,
                &actor.user,
            )
            .await?;
        self.changed(actor, exemption).await
    }

    /// Ends exemption `id` now, with a reason.
    pub async fn revoke_exemption(
        &self,
        actor: &Actor,
        id: i64,
        by: &str,
        reason: &str,
    ) -> Result<Exemption, ServiceError> {
        check_reason(reason, "the reason").map_err(ServiceError::Invalid)?;
        check_person(by, "--by").map_err(ServiceError::Invalid)?;
        let exemption = self
            .storage
            .get()?
            .revoke_exemption(self.storage.audit_lock(), id, by, reason, &actor.user)
            .await?;
        self.changed(actor, exemption).await
    }

    /// Exemptions of a selection.
    pub async fn exemptions(
        &self,
        selection: ExemptionSelection,
    ) -> Result<Vec<Exemption>, ServiceError> {
        Ok(self.storage.get()?.exemptions(selection, now_ms()).await?)
    }

    /// One exemption.
    pub async fn exemption(&self, id: i64) -> Result<Exemption, ServiceError> {
        self.storage
            .get()?
            .exemption(id)
            .await?
            .ok_or_else(|| ServiceError::Invalid(format!("there is no exemption {id}")))
    }

    /// Reads the approved exemptions that have not ended and puts them in
    /// force for the next query; returns how many there are.
    pub async fn refresh_exemptions(&self) -> Result<usize, ServiceError> {
        let _one_at_a_time = self.exemption_refresh.lock().await;
        let now = now_ms();
        let approved = self
            .storage
            .get()?
            .exemptions(ExemptionSelection::Active, now)
            .await?;
        let count = approved.len();
        self.handler
            .set_exemptions(ExemptionSet::new(&approved, now));
        Ok(count)
    }

    /// What hedge does by itself every few seconds: records the end of
    /// each exemption whose time has passed, and puts the set in force
    /// again. (An ended exemption stops lifting blocks at its expiry whether
    /// or not this has run: the DNS path checks the time itself.)
    pub async fn record_expiries(&self) -> Result<Vec<Exemption>, ServiceError> {
        let ended = self
            .storage
            .get()?
            .record_expiries(self.storage.audit_lock(), now_ms())
            .await?;
        for exemption in &ended {
            info!(
                "exemption {} ({} for {}) expired",
                exemption.id,
                exemption.what(),
                exemption.scope
            );
        }
        if !ended.is_empty() {
            self.refresh_exemptions().await?;
        }
        Ok(ended)
    }

    /// After a committed change: logs it and puts the set in force. If
    /// reading the set back fails now, the next tick (every 2 s) does it.
    async fn changed(
        &self,
        actor: &Actor,
        exemption: Exemption,
    ) -> Result<Exemption, ServiceError> {
        info!(
            user = %actor.user,
            "exemption {} ({} for {}): {}",
            exemption.id,
            exemption.what(),
            exemption.scope,
            exemption.state(now_ms())
        );
        if let Err(error) = self.refresh_exemptions().await {
            warn!(%error, "exemption {} changed; putting it in force failed, retrying", exemption.id);
        }
        Ok(exemption)
    }
}

/// The request an exemption on record was filed as, for checking again.
fn as_request(exemption: &Exemption) -> NewExemption {
    NewExemption {
        kind: exemption.kind,
        name: exemption.name.clone(),
        scope: exemption.scope.clone(),
        reason: exemption.reason.clone(),
        requested_by: exemption.requested_by.clone(),
        from_ms: exemption.from_ms,
        until_ms: exemption.until_ms,
    }
}
