//! Setting up TOTP from the console. A new secret is shown with a
//! one-time token and kept aside for [`TOTP_OFFER_MS`]; it becomes the
//! person's only when they send a code their app made from it, so a page
//! closed before scanning never locks anyone out. With `[web]
//! require_totp`, an approver or safeguarding lead without TOTP is offered
//! one at sign-in (after their password), and is signed in by the code.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use tracing::info;

use super::people::{matching_step, random, totp};
use super::sessions::{SignedIn, hex, token_hash};
use super::{Actor, Service, ServiceError, TotpSetup};
use crate::policy::Role;
use crate::store::{ChangedBy, Person, now_ms};

/// How long an offered secret waits for its first code: 10 minutes.
pub const TOTP_OFFER_MS: i64 = 10 * 60 * 1000;

/// A secret shown and not yet confirmed: for whom, and until when.
struct Offered {
    person_id: i64,
    name: String,
    secret: String,
    expires_ms: i64,
}

/// The secrets on offer, by the hash of their token.
#[derive(Default)]
pub struct TotpOffers(Mutex<HashMap<String, Offered>>);

/// A secret offered to a person: what their app needs, and the token the
/// page sends back with the first code.
#[derive(Debug, Clone)]
pub struct TotpOffer {
    pub setup: TotpSetup,
    pub token: String,
}

impl TotpOffers {
    fn put(&self, token: &str, offered: Offered) {
        let mut offers = self.0.lock().expect("the TOTP offers are never poisoned");
        let now = now_ms();
        offers.retain(|_, o| o.expires_ms > now && o.person_id != offered.person_id);
        offers.insert(token_hash(token), offered);
    }

    fn take(&self, token: &str) -> Option<Offered> {
        let mut offers = self.0.lock().expect("the TOTP offers are never poisoned");
        offers
            .remove(&token_hash(token))
            .filter(|o| o.expires_ms > now_ms())
    }
}

impl Service {
    /// Offers the caller's own person a new TOTP secret, unless they have
    /// one (an administrator resets them to replace it).
    pub async fn offer_totp(&self, actor: &Actor) -> Result<TotpOffer, ServiceError> {
        let person = self
            .acting_person(actor, None, &Role::ALL, "set up TOTP")
            .await?;
        self.offer_totp_to(&person)
    }

    /// A new secret on offer to `person`.
    pub(super) fn offer_totp_to(&self, person: &Person) -> Result<TotpOffer, ServiceError> {
        if person.totp {
            return Err(ServiceError::Invalid(format!(
                "{} has TOTP set up already: to replace it, an administrator resets them",
                person.name
            )));
        }
        let secret = totp_rs::Secret::Raw(random::<20>()?.to_vec())
            .to_encoded()
            .to_string();
        let url = totp(&secret, &person.name)?.get_url();
        let token = hex(&random::<32>()?);
        self.totp_offers.put(
            &token,
            Offered {
                person_id: person.id,
                name: person.name.clone(),
                secret: secret.clone(),
                expires_ms: now_ms() + TOTP_OFFER_MS,
            },
        );
        Ok(TotpOffer {
            setup: TotpSetup {
                name: person.name.clone(),
                url,
                secret,
            },
            token,
        })
    }

    /// Makes the secret offered with `token` the caller's own, if `code`
    /// is a code from it now.
    pub async fn confirm_totp(
        &self,
        actor: &Actor,
        token: &str,
        code: &str,
    ) -> Result<Person, ServiceError> {
        let person = self
            .acting_person(actor, None, &Role::ALL, "set up TOTP")
            .await?;
        let (person, _) = self
            .confirm_offer(&person, token, code, actor.changed_by())
            .await?;
        Ok(person)
    }

    /// Signs in the person the secret offered with `token` (at sign-in,
    /// after their password) was for, once `code` proves their app has it.
    pub async fn console_sign_in_with_new_totp(
        &self,
        source: IpAddr,
        token: &str,
        code: &str,
    ) -> Result<SignedIn, ServiceError> {
        let offered_to = {
            let offers = self.totp_offers.0.lock().expect("never poisoned");
            offers.get(&token_hash(token)).map(|o| o.name.clone())
        };
        let person = match offered_to {
            Some(name) => self.storage.get()?.person(&name).await?,
            None => None,
        }
        .ok_or_else(offer_gone)?;
        let visitor = Actor::console_visitor(source);
        let by = ChangedBy {
            os_user: &visitor.user,
            person: Some(&person.name),
        };
        let (person, step) = self.confirm_offer(&person, token, code, by).await?;
        // Signed in with that code: it may not sign in again.
        let person = self
            .storage
            .get()?
            .record_signin(self.storage.audit_lock(), person.id, Some(step), by)
            .await?;
        self.start_console_session(person, source, now_ms()).await
    }

    /// Keeps the secret offered to `person` with `token` if `code` is from
    /// it; the person and the code's time step.
    async fn confirm_offer(
        &self,
        person: &Person,
        token: &str,
        code: &str,
        by: ChangedBy<'_>,
    ) -> Result<(Person, i64), ServiceError> {
        let offered = self
            .totp_offers
            .take(token)
            .filter(|o| o.person_id == person.id)
            .ok_or_else(offer_gone)?;
        let code = code.trim();
        let Some(step) = matching_step(&totp(&offered.secret, &person.name)?, code, now_ms())
        else {
            // Offered again, so that a mistyped code can be retried.
            self.totp_offers.put(token, offered);
            return Err(ServiceError::Invalid(
                "that code does not match: type the six digits your app shows now".into(),
            ));
        };
        let person = self
            .storage
            .get()?
            .set_person_totp(self.storage.audit_lock(), person.id, &offered.secret, by)
            .await?;
        info!("{} set up TOTP on the console", person.name);
        Ok((person, step))
    }
}

fn offer_gone() -> ServiceError {
    ServiceError::Invalid(
        "this set-up has ended (10 minutes pass, or it was finished): start again".into(),
    )
}
