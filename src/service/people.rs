//! People: adding them (with a one-time enrolment code), listing,
//! disabling, resetting and changing their roles; a person enrolling with
//! their code, setting up TOTP and signing in (with the lockout after
//! repeated failures); and who the caller of an operation is as a person,
//! with the role it needs. The admin socket and the web console both
//! come through here.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::info;

use super::{Actor, Service, ServiceError};
use crate::policy::Role;
use crate::policy::people::{
    ENROLMENT_VALID_MS, after_failed_signin, check_leaves_an_admin, check_os_user, check_password,
    check_person_name, check_role, check_roles, enrolment_code, normalise_enrolment_code,
    roles_text,
};
use crate::store::{ChangedBy, Person, now_ms};

/// A person's one-time enrolment code, shown once when they are added or
/// reset; only its hash is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    pub name: String,
    pub enrolment_code: String,
    pub expires_ms: i64,
}

/// A person's new TOTP secret, shown once: the `otpauth://` address an
/// authenticator app reads (as a QR code, or typed), and the secret alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpSetup {
    pub name: String,
    pub url: String,
    pub secret: String,
}

/// Why a sign-in was refused. A wrong name and a wrong password read the
/// same, so that nobody learns who has an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "refusal")]
pub enum SignInRefusal {
    WrongPassword,
    Locked {
        until_ms: i64,
    },
    Disabled,
    TotpNeeded,
    TotpWrong,
    /// `[web] require_totp`: an approver or safeguarding lead without TOTP
    /// may not sign in on the console.
    TotpRequired,
    /// Too many failed sign-ins from the caller's address.
    AddressLocked {
        until_ms: i64,
    },
}

impl fmt::Display for SignInRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignInRefusal::WrongPassword => f.write_str("wrong name or password"),
            SignInRefusal::Locked { until_ms } => {
                let minutes = (until_ms - now_ms()).max(0) / 60_000 + 1;
                write!(
                    f,
                    "too many failed sign-ins: this person is locked out for {minutes} more minute{}",
                    if minutes == 1 { "" } else { "s" }
                )
            }
            SignInRefusal::Disabled => {
                f.write_str("this person is disabled: ask an administrator")
            }
            SignInRefusal::TotpNeeded => {
                f.write_str("a code from the authenticator app is needed too")
            }
            SignInRefusal::TotpWrong => f.write_str("the authenticator code is wrong"),
            SignInRefusal::TotpRequired => f.write_str(
                "approvers and safeguarding leads must use an authenticator app to sign in on the console: sign in once on the console's own sign-in page to set it up (or with `hedge people totp` on the server)",
            ),
            SignInRefusal::AddressLocked { until_ms } => {
                let minutes = (until_ms - now_ms()).max(0) / 60_000 + 1;
                write!(
                    f,
                    "too many failed sign-ins from this address: try again in {minutes} minute{}",
                    if minutes == 1 { "" } else { "s" }
                )
            }
        }
    }
}

/// The SHA-256 of an enrolment code (already normalised), as stored.
fn code_hash(code: &str) -> String {
    Sha256::digest(code.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Random bytes from the operating system.
pub(super) fn random<const N: usize>() -> Result<[u8; N], ServiceError> {
    let mut bytes = [0; N];
    getrandom::getrandom(&mut bytes)
        .map_err(|error| ServiceError::Invalid(format!("no random numbers: {error}")))?;
    Ok(bytes)
}

/// A new enrolment code, and its hash and expiry from now.
fn new_enrolment(name: &str) -> Result<(Enrolment, String), ServiceError> {
    let code = enrolment_code(&random::<10>()?);
    let hash = code_hash(&code);
    Ok((
        Enrolment {
            name: name.to_string(),
            enrolment_code: code,
            expires_ms: now_ms() + ENROLMENT_VALID_MS,
        },
        hash,
    ))
}

/// The TOTP of a base32 secret: RFC 6238, SHA-1, 6 digits, 30 s steps,
/// one step either side accepted.
pub(super) fn totp(secret: &str, name: &str) -> Result<totp_rs::TOTP, ServiceError> {
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .map_err(|_| ServiceError::Invalid(format!("{name}'s TOTP secret is damaged")))?;
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        Some("hedge".into()),
        name.replace(':', " "),
    )
    .map_err(|error| ServiceError::Invalid(format!("{name}'s TOTP secret: {error}")))
}

/// The 30-second step (of the one before `now_ms`, its own, or the one
/// after) whose code `code` is, if any.
pub(super) fn matching_step(totp: &totp_rs::TOTP, code: &str, now_ms: i64) -> Option<i64> {
    let step = now_ms.div_euclid(1000) / 30;
    [step - 1, step, step + 1].into_iter().find(|step| {
        let expected = totp.generate(u64::try_from(step * 30).unwrap_or_default());
        same_text(&expected, code.trim())
    })
}

/// Whether two codes are the same, in a time that does not depend on where
/// they differ.
fn same_text(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |differ, (x, y)| differ | (x ^ y))
            == 0
}

/// Hashes a password with argon2id (default parameters), off the async
/// threads: it takes a noticeable moment by design.
async fn hash_password(password: String) -> Result<String, ServiceError> {
    let salt = random::<16>()?;
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|error| ServiceError::Invalid(format!("hashing the password failed: {error}")))?
    .map_err(|error| ServiceError::Invalid(format!("hashing the password failed: {error}")))
}

/// The argon2id hash of a password nobody knows, checked when a sign-in
/// names nobody.
async fn decoy_hash() -> Result<&'static str, ServiceError> {
    static DECOY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let hash = DECOY
        .get_or_try_init(|| async {
            let unknown: String = random::<16>()?.iter().map(|b| format!("{b:02x}")).collect();
            hash_password(unknown).await
        })
        .await?;
    Ok(hash)
}

/// Whether `password` matches an argon2 PHC string, off the async threads.
async fn password_matches(password: String, hash: String) -> Result<bool, ServiceError> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .map_err(|error| ServiceError::Invalid(format!("checking the password failed: {error}")))
}

impl Actor {
    pub(super) fn changed_by(&self) -> ChangedBy<'_> {
        ChangedBy {
            os_user: &self.user,
            person: self.person.as_deref(),
        }
    }
}

impl Service {
    /// The person the OS account `user` acts as, if any.
    pub async fn person_for_os_user(&self, user: &str) -> Result<Option<Person>, ServiceError> {
        Ok(self.storage.get()?.person_for_os_user(user).await?)
    }

    /// One person, by name (any case).
    pub async fn person(&self, name: &str) -> Result<Person, ServiceError> {
        self.storage.get()?.person(name).await?.ok_or_else(|| {
            ServiceError::Invalid(format!(
                "there is no person called {:?}: see `hedge people list`",
                name.trim()
            ))
        })
    }

    /// The caller's own person, who must be enabled and hold one of
    /// `needs` to `what`. `claimed` is a name the caller typed (`--by`):
    /// it must be their own, since typed names are never identity.
    pub async fn acting_person(
        &self,
        actor: &Actor,
        claimed: Option<&str>,
        needs: &[Role],
        what: &str,
    ) -> Result<Person, ServiceError> {
        let Some(name) = actor.person.as_deref() else {
            return Err(ServiceError::Forbidden(format!(
                "the OS account {user} is not mapped to a person, so it may not {what}: an administrator maps it with `hedge people add NAME --role ROLE --os-user {user}`",
                user = actor.user
            )));
        };
        let Some(person) = self.storage.get()?.person(name).await? else {
            return Err(ServiceError::Forbidden(format!(
                "{} acts as {name:?}, who is no longer on record",
                actor.user
            )));
        };
        if person.disabled {
            return Err(ServiceError::Forbidden(format!(
                "{} is disabled and may not {what}",
                person.name
            )));
        }
        if let Some(claimed) = claimed.map(str::trim).filter(|c| !c.is_empty())
            && !claimed.eq_ignore_ascii_case(&person.name)
        {
            return Err(ServiceError::Forbidden(format!(
                "--by {claimed:?} is not you: the OS account {} acts as {}, and acts only in their own name (leave out --by)",
                actor.user, person.name
            )));
        }
        check_role(&person.name, &person.roles, needs, what).map_err(ServiceError::Forbidden)?;
        Ok(person)
    }

    /// Whether the caller may add, change and list people: root, hedge's
    /// own account, or a person with the admin role.
    pub async fn check_people_admin(&self, actor: &Actor) -> Result<(), ServiceError> {
        if actor.uid == 0 || actor.uid == Actor::hedge().uid {
            return Ok(());
        }
        if actor.person.is_none() {
            return Err(ServiceError::Forbidden(format!(
                "{} may not manage people: that needs root, hedge's own account or a person with the admin role",
                actor.user
            )));
        }
        self.acting_person(actor, None, &[Role::Admin], "manage people")
            .await
            .map(|_| ())
    }

    /// Refused if `person` is the last enabled administrator and would
    /// not be one after the change (`admin_after`), unless root or hedge's
    /// own account asks: they can always add another.
    async fn check_keeps_an_admin(
        &self,
        actor: &Actor,
        person: &Person,
        admin_after: bool,
    ) -> Result<(), ServiceError> {
        if actor.uid == 0 || actor.uid == Actor::hedge().uid {
            return Ok(());
        }
        let others = self
            .storage
            .get()?
            .people()
            .await?
            .iter()
            .filter(|p| p.id != person.id && !p.disabled && p.has(Role::Admin))
            .count();
        let admin_now = !person.disabled && person.has(Role::Admin);
        check_leaves_an_admin(&person.name, admin_now, admin_after, others)
            .map_err(ServiceError::Forbidden)
    }

    /// Adds a person; returns their enrolment code, valid 72 hours.
    pub async fn add_person(
        &self,
        actor: &Actor,
        name: &str,
        roles: &[Role],
        os_user: Option<&str>,
    ) -> Result<Enrolment, ServiceError> {
        self.check_people_admin(actor).await?;
        let name = check_person_name(name).map_err(ServiceError::Invalid)?;
        let roles = check_roles(roles).map_err(ServiceError::Invalid)?;
        let os_user = os_user
            .map(check_os_user)
            .transpose()
            .map_err(ServiceError::Invalid)?;
        let (enrolment, hash) = new_enrolment(&name)?;
        let person = self
            .storage
            .get()?
            .add_person(
                self.storage.audit_lock(),
                &name,
                &roles_text(&roles),
                os_user.as_deref(),
                &hash,
                enrolment.expires_ms,
                actor.changed_by(),
            )
            .await?;
        info!(user = %actor.user, "person {} added with roles {}", person.name, roles_text(&roles));
        Ok(enrolment)
    }

    /// Everyone on record (no credentials).
    pub async fn people(&self, actor: &Actor) -> Result<Vec<Person>, ServiceError> {
        self.check_people_admin(actor).await?;
        Ok(self.storage.get()?.people().await?)
    }

    /// Disables person `name`: they can no longer sign in or act.
    pub async fn disable_person(&self, actor: &Actor, name: &str) -> Result<Person, ServiceError> {
        self.check_people_admin(actor).await?;
        let person = self.person(name).await?;
        self.check_keeps_an_admin(actor, &person, false).await?;
        Ok(self
            .storage
            .get()?
            .set_person_disabled(
                self.storage.audit_lock(),
                person.id,
                true,
                actor.changed_by(),
            )
            .await?)
    }

    /// Lets a disabled person `name` sign in and act again, with the roles
    /// and password they had.
    pub async fn enable_person(&self, actor: &Actor, name: &str) -> Result<Person, ServiceError> {
        self.check_people_admin(actor).await?;
        let person = self.person(name).await?;
        if !person.disabled {
            return Err(ServiceError::Invalid(format!(
                "{} is not disabled",
                person.name
            )));
        }
        Ok(self
            .storage
            .get()?
            .set_person_disabled(
                self.storage.audit_lock(),
                person.id,
                false,
                actor.changed_by(),
            )
            .await?)
    }

    /// Clears person `name`'s password and TOTP and gives them a new
    /// enrolment code (the old one no longer works).
    pub async fn reset_person(&self, actor: &Actor, name: &str) -> Result<Enrolment, ServiceError> {
        self.check_people_admin(actor).await?;
        let person = self.person(name).await?;
        let (enrolment, hash) = new_enrolment(&person.name)?;
        self.storage
            .get()?
            .reset_person(
                self.storage.audit_lock(),
                person.id,
                &hash,
                enrolment.expires_ms,
                actor.changed_by(),
            )
            .await?;
        Ok(enrolment)
    }

    /// Gives person `name` exactly `roles`.
    pub async fn set_person_roles(
        &self,
        actor: &Actor,
        name: &str,
        roles: &[Role],
    ) -> Result<Person, ServiceError> {
        self.check_people_admin(actor).await?;
        let roles = check_roles(roles).map_err(ServiceError::Invalid)?;
        let person = self.person(name).await?;
        self.check_keeps_an_admin(actor, &person, roles.contains(&Role::Admin))
            .await?;
        Ok(self
            .storage
            .get()?
            .set_person_roles(
                self.storage.audit_lock(),
                person.id,
                &roles_text(&roles),
                &person.roles,
                actor.changed_by(),
            )
            .await?)
    }

    /// Maps the OS account `os_user` to person `name`, or (`None`) leaves
    /// them with none.
    pub async fn map_person(
        &self,
        actor: &Actor,
        name: &str,
        os_user: Option<&str>,
    ) -> Result<Person, ServiceError> {
        self.check_people_admin(actor).await?;
        let os_user = os_user
            .map(check_os_user)
            .transpose()
            .map_err(ServiceError::Invalid)?;
        let person = self.person(name).await?;
        Ok(self
            .storage
            .get()?
            .set_person_os_user(
                self.storage.audit_lock(),
                person.id,
                &person.name,
                os_user.as_deref(),
                actor.changed_by(),
            )
            .await?)
    }

    /// A person sets their own password with their enrolment code, which
    /// is then used up.
    pub async fn enrol(
        &self,
        actor: &Actor,
        code: &str,
        password: &str,
    ) -> Result<Person, ServiceError> {
        self.enrol_at(actor, code, password, now_ms()).await
    }

    /// [`Service::enrol`] at the moment `now_ms` (for tests of expiry).
    pub async fn enrol_at(
        &self,
        actor: &Actor,
        code: &str,
        password: &str,
        now_ms: i64,
    ) -> Result<Person, ServiceError> {
        let code = normalise_enrolment_code(code).map_err(ServiceError::Invalid)?;
        let hash = code_hash(&code);
        let database = self.storage.get()?;
        let Some(person) = database.person_by_enrolment(&hash).await? else {
            return Err(ServiceError::Invalid(
                "that enrolment code is not valid: it has been used or replaced, or was mistyped; ask an administrator for a new one (hedge people reset)".into(),
            ));
        };
        if person.disabled {
            return Err(ServiceError::SignIn(SignInRefusal::Disabled));
        }
        if person
            .enrolment_expires_ms
            .is_none_or(|expires| expires <= now_ms)
        {
            return Err(ServiceError::Invalid(
                "that enrolment code has expired (codes last 72 hours): ask an administrator for a new one (hedge people reset)".into(),
            ));
        }
        check_password(password, &person.name).map_err(ServiceError::Invalid)?;
        let password_hash = hash_password(password.to_string()).await?;
        let by = ChangedBy {
            os_user: &actor.user,
            person: Some(&person.name),
        };
        let person = database
            .enrol_person(
                self.storage.audit_lock(),
                person.id,
                &hash,
                &password_hash,
                now_ms,
                by,
            )
            .await?;
        info!(user = %actor.user, "{} enrolled", person.name);
        Ok(person)
    }

    /// Gives the caller's own person (`name` must be them) a new TOTP
    /// secret, shown once. A person who has one already is reset first
    /// by an administrator.
    pub async fn set_up_totp(&self, actor: &Actor, name: &str) -> Result<TotpSetup, ServiceError> {
        let person = self
            .acting_person(actor, Some(name), &Role::ALL, "set up TOTP")
            .await?;
        if person.totp {
            return Err(ServiceError::Invalid(format!(
                "{} has TOTP set up already: to replace it, an administrator runs `hedge people reset`",
                person.name
            )));
        }
        let secret = totp_rs::Secret::Raw(random::<20>()?.to_vec())
            .to_encoded()
            .to_string();
        let url = totp(&secret, &person.name)?.get_url();
        self.storage
            .get()?
            .set_person_totp(
                self.storage.audit_lock(),
                person.id,
                &secret,
                actor.changed_by(),
            )
            .await?;
        Ok(TotpSetup {
            name: person.name,
            url,
            secret,
        })
    }

    /// Whether `code` is person `name`'s TOTP code now (one step either
    /// side accepted). A person without TOTP has no code.
    pub async fn check_totp(&self, name: &str, code: &str) -> Result<bool, ServiceError> {
        let Some((person, credentials)) = self.storage.get()?.credentials(name).await? else {
            return Ok(false);
        };
        let Some(secret) = credentials.totp_secret else {
            return Ok(false);
        };
        Ok(matching_step(&totp(&secret, &person.name)?, code, now_ms()).is_some())
    }

    /// Checks a person's password (and TOTP code, if they use TOTP); the
    /// person, or why not. Five failures in a row lock them out for 15
    /// minutes; each failure and lockout is in the audit trail. An unknown
    /// name, a person not yet enrolled and a disabled person all read as a
    /// wrong password, unless the password is right.
    pub async fn authenticate(
        &self,
        actor: &Actor,
        name: &str,
        password: &str,
        totp_code: Option<&str>,
    ) -> Result<Person, ServiceError> {
        self.authenticate_at(actor, name, password, totp_code, now_ms())
            .await
    }

    /// [`Service::authenticate`] at the moment `now_ms`.
    pub async fn authenticate_at(
        &self,
        actor: &Actor,
        name: &str,
        password: &str,
        totp_code: Option<&str>,
        now_ms: i64,
    ) -> Result<Person, ServiceError> {
        use SignInRefusal as Refused;
        let database = self.storage.get()?;
        let Some((person, credentials)) = database.credentials(name).await? else {
            // As long as a wrong password takes, so that timing does not
            // tell who has an account.
            let decoy = decoy_hash().await?.to_string();
            password_matches(password.to_string(), decoy).await?;
            return Err(ServiceError::SignIn(Refused::WrongPassword));
        };
        if let Some(until_ms) = person.locked_until_ms.filter(|until| *until > now_ms) {
            return Err(ServiceError::SignIn(Refused::Locked { until_ms }));
        }
        // Not enrolled, or disabled, is said only to someone who knows
        // the password: anyone else learns nothing about the name.
        let Some(hash) = credentials.password_hash else {
            let decoy = decoy_hash().await?.to_string();
            password_matches(password.to_string(), decoy).await?;
            return Err(ServiceError::SignIn(Refused::WrongPassword));
        };
        let by = ChangedBy {
            os_user: &actor.user,
            person: actor.person.as_deref(),
        };
        let failed = |refusal: Refused, reason: &'static str| async move {
            let failures = person.failed_signins + 1;
            let (failures, locked) = after_failed_signin(failures, now_ms);
            database
                .record_failed_signin(
                    self.storage.audit_lock(),
                    person.id,
                    failures,
                    locked,
                    reason,
                    by,
                )
                .await?;
            Err(ServiceError::SignIn(match locked {
                Some(until_ms) => Refused::Locked { until_ms },
                None => refusal,
            }))
        };
        if !password_matches(password.to_string(), hash).await? {
            return failed(Refused::WrongPassword, "wrong password").await;
        }
        if person.disabled {
            return Err(ServiceError::SignIn(Refused::Disabled));
        }
        let mut totp_step = None;
        if let Some(secret) = &credentials.totp_secret {
            let Some(code) = totp_code.map(str::trim).filter(|c| !c.is_empty()) else {
                return Err(ServiceError::SignIn(Refused::TotpNeeded));
            };
            let Some(step) = matching_step(&totp(secret, &person.name)?, code, now_ms) else {
                return failed(Refused::TotpWrong, "wrong TOTP code").await;
            };
            if credentials.totp_last_step.is_some_and(|last| step <= last) {
                return failed(Refused::TotpWrong, "TOTP code used already").await;
            }
            totp_step = Some(step);
        }
        Ok(database
            .record_signin(self.storage.audit_lock(), person.id, totp_step, by)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_their_step_or_the_next_to_it_and_nothing_else() {
        let secret = totp_rs::Secret::Raw(b"12345678901234567890".to_vec())
            .to_encoded()
            .to_string();
        let totp = totp(&secret, "Jo Head").unwrap();
        // RFC 6238, appendix B: SHA-1 at 59 s (step 1) is 94287082 (8
        // digits); six digits are its last six.
        assert_eq!(totp.generate(59), "287082");
        assert_eq!(matching_step(&totp, "287082", 59_000), Some(1));
        assert_eq!(matching_step(&totp, " 287082 ", 89_000), Some(1));
        assert_eq!(matching_step(&totp, "287082", 30_000 * 3), None);
        assert_eq!(matching_step(&totp, "000000", 59_000), None);
        assert!(same_text("123456", "123456"));
        assert!(!same_text("123456", "123457"));
        assert!(!same_text("123456", "12345"));
    }

    #[test]
    fn enrolment_code_hashes_are_sha256() {
        assert_eq!(
            code_hash("AAAA-AAAA-AAAA-AAAA").len(),
            64,
            "hex of 32 bytes"
        );
        assert_ne!(
            code_hash("AAAA-AAAA-AAAA-AAAA"),
            code_hash("AAAA-AAAA-AAAA-AAAB")
        );
    }
}
