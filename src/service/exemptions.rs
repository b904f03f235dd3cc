//! Exemptions: filing a request, approving or rejecting it, revoking one
//! in force, listing them; and putting the approved ones in force for the
//! DNS path. Every change is checked against the rules in `policy` with
//! the configuration and lists in force, then stored with its audit row.

use tracing::{info, warn};

use super::{Actor, Service, ServiceError};
use crate::policy::people::check_role;
use crate::policy::{
    Exemption, ExemptionSet, NewExemption, Role, WithdrawalRefused, check_approval, check_reason,
    check_request, check_withdrawal,
};
use crate::store::{ExemptionSelection, Person, StoreError, now_ms};

impl Service {
    /// Files a request; it waits for an approver. The caller's person (a
    /// member of staff or an approver) is the requester, unless
    /// `request.requested_by` names another person: then it is filed on
    /// their behalf (a request received on paper or by email), and the
    /// record says who filed it.
    pub async fn file_exemption(
        &self,
        actor: &Actor,
        request: &NewExemption,
    ) -> Result<Exemption, ServiceError> {
        let filer = self
            .acting_person(
                actor,
                None,
                &[Role::Staff, Role::Approver],
                "file exemption requests",
            )
            .await?;
        let (request, filed_by) = self.with_requester(request, &filer).await?;
        let (config, policy) = (self.handler.config(), self.handler.policy());
        check_request(&config, &policy, &request, now_ms()).map_err(ServiceError::Invalid)?;
        let exemption = self
            .storage
            .get()?
            .file_exemption(
                self.storage.audit_lock(),
                &request,
                &actor.user,
                filed_by.as_deref(),
                None,
            )
            .await?;
        self.changed(actor, exemption).await
    }

    /// Files a request and approves it in one step: the caller's person
    /// (`by`, if given, must be them) must be an approver on the roster,
    /// allowed to, and the request must name another person as requester.
    pub async fn file_and_approve_exemption(
        &self,
        actor: &Actor,
        request: &NewExemption,
        by: Option<&str>,
    ) -> Result<Exemption, ServiceError> {
        let approver = self
            .acting_person(actor, by, &[Role::Approver], "approve exemptions")
            .await?;
        if request.requested_by.trim().is_empty() {
            return Err(ServiceError::Invalid(
                "filing and approving in one step needs the requester (--requested-by), another person".into(),
            ));
        }
        let (request, filed_by) = self.with_requester(request, &approver).await?;
        if filed_by.is_none() {
            return Err(ServiceError::Forbidden(format!(
                "{} asked for this exemption and cannot also approve it: another approver must",
                approver.name
            )));
        }
        let (config, policy) = (self.handler.config(), self.handler.policy());
        check_request(&config, &policy, &request, now_ms()).map_err(ServiceError::Invalid)?;
        let roster = check_approval(&config, &request, &approver.name, true)
            .map_err(ServiceError::Invalid)?;
        let exemption = self
            .storage
            .get()?
            .file_exemption(
                self.storage.audit_lock(),
                &request,
                &actor.user,
                filed_by.as_deref(),
                Some(&roster.name),
            )
            .await?;
        self.changed(actor, exemption).await
    }

    /// `request` with its requester as a person on record: `filer` when it
    /// names nobody else, else the person it names (who must exist, be
    /// enabled and be staff or an approver), with `filer` as who filed it.
    async fn with_requester(
        &self,
        request: &NewExemption,
        filer: &Person,
    ) -> Result<(NewExemption, Option<String>), ServiceError> {
        let mut request = request.clone();
        let named = request.requested_by.trim();
        if named.is_empty() || named.eq_ignore_ascii_case(&filer.name) {
            request.requested_by = filer.name.clone();
            return Ok((request, None));
        }
        let requester = self.storage.get()?.person(named).await?.ok_or_else(|| {
            ServiceError::Invalid(format!(
                "--requested-by {named:?} is not a person on record: an administrator adds them with `hedge people add`"
            ))
        })?;
        if requester.disabled {
            return Err(ServiceError::Invalid(format!(
                "{} is disabled and cannot request exemptions",
                requester.name
            )));
        }
        check_role(
            &requester.name,
            &requester.roles,
            &[Role::Staff, Role::Approver],
            "request exemptions",
        )
        .map_err(ServiceError::Invalid)?;
        request.requested_by = requester.name;
        Ok((request, Some(filer.name.clone())))
    }

    /// Approves request `id` (checked again: the lists may have changed
    /// since it was filed).
    pub async fn approve_exemption(
        &self,
        actor: &Actor,
        id: i64,
        by: Option<&str>,
    ) -> Result<Exemption, ServiceError> {
        self.decide_filed(actor, id, by, None).await
    }

    /// Rejects request `id`, with a reason.
    pub async fn reject_exemption(
        &self,
        actor: &Actor,
        id: i64,
        by: Option<&str>,
        reason: &str,
    ) -> Result<Exemption, ServiceError> {
        check_reason(reason, "the reason").map_err(ServiceError::Invalid)?;
        self.decide_filed(actor, id, by, Some(reason)).await
    }

    /// Decides request `id`: approved without a `rejection`, else rejected
    /// with it. The caller's person must be an approver on the roster,
    /// allowed to decide it, and not the person who asked for it; an
    /// approval checks the request again (the lists may have changed since
    /// it was filed).
    async fn decide_filed(
        &self,
        actor: &Actor,
        id: i64,
        by: Option<&str>,
        rejection: Option<&str>,
    ) -> Result<Exemption, ServiceError> {
        let what = if rejection.is_none() {
            "approve exemptions"
        } else {
            "reject exemptions"
        };
        let approver = self
            .acting_person(actor, by, &[Role::Approver], what)
            .await?;
        let config = self.handler.config();
        let filed = as_request(&self.exemption(id).await?);
        let requester = self.storage.get()?.person(&filed.requested_by).await?;
        if requester.is_some_and(|requester| requester.id == approver.id) {
            return Err(ServiceError::Forbidden(format!(
                "{} asked for exemption {id} and cannot also decide it: another approver must",
                approver.name
            )));
        }
        if rejection.is_none() {
            check_request(&config, &self.handler.policy(), &filed, now_ms())
                .map_err(ServiceError::Invalid)?;
        }
        let roster = check_approval(&config, &filed, &approver.name, false)
            .map_err(ServiceError::Invalid)?;
        let exemption = self
            .storage
            .get()?
            .decide_exemption(
                self.storage.audit_lock(),
                id,
                rejection.is_none(),
                &roster.name,
                rejection,
                &actor.user,
            )
            .await?;
        self.changed(actor, exemption).await
    }

    /// Ends exemption `id` now, with a reason (the caller's person must be
    /// an approver).
    pub async fn revoke_exemption(
        &self,
        actor: &Actor,
        id: i64,
        by: Option<&str>,
        reason: &str,
    ) -> Result<Exemption, ServiceError> {
        check_reason(reason, "the reason").map_err(ServiceError::Invalid)?;
        let person = self
            .acting_person(actor, by, &[Role::Approver], "revoke exemptions")
            .await?;
        let exemption = self
            .storage
            .get()?
            .revoke_exemption(
                self.storage.audit_lock(),
                id,
                &person.name,
                reason,
                &actor.user,
            )
            .await?;
        self.changed(actor, exemption).await
    }

    /// Withdraws exemption `id` (a request still waiting, or one in force
    /// or to come), with a reason: the caller's person must be the one who
    /// asked for it or filed it. Recorded as a revocation by them.
    pub async fn withdraw_exemption(
        &self,
        actor: &Actor,
        id: i64,
        reason: &str,
    ) -> Result<Exemption, ServiceError> {
        check_reason(reason, "the reason").map_err(ServiceError::Invalid)?;
        let person = self
            .acting_person(
                actor,
                None,
                &[Role::Staff, Role::Approver],
                "withdraw requests",
            )
            .await?;
        let exemption = self.exemption(id).await?;
        check_withdrawal(&exemption, &person.name, now_ms()).map_err(|refused| match refused {
            WithdrawalRefused::NotTheirs(why) => ServiceError::Forbidden(why),
            WithdrawalRefused::Ended(why) => ServiceError::Store(StoreError::Conflict(why)),
        })?;
        let exemption = self
            .storage
            .get()?
            .revoke_exemption(
                self.storage.audit_lock(),
                id,
                &person.name,
                reason,
                &actor.user,
            )
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
            .ok_or_else(|| ServiceError::NotFound(format!("there is no exemption {id}")))
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
