//! The web console's sessions: signing in (a person's password and TOTP,
//! with the lockouts per person and per source address), finding the
//! person behind a session token (ending it when idle 30 minutes or 12
//! hours old), and signing out. Only the SHA-256 of a token is stored;
//! the CSRF token a session's state-changing calls carry is derived from
//! its token, so it needs no storage and is useless without the cookie.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::info;

use super::people::random;
use super::totp::TotpOffer;
use super::{Actor, Service, ServiceError, SignInRefusal};
use crate::policy::Role;
use crate::policy::people::MAX_FAILED_SIGNINS;
use crate::store::{ConsoleSession, Person, SIGNIN_FAILURE_WINDOW_MS, now_ms};

/// A session ends after this long without a request: 30 minutes.
pub const SESSION_IDLE_MS: i64 = 30 * 60 * 1000;
/// A session ends this long after sign-in, however busy: 12 hours.
pub const SESSION_MAX_MS: i64 = 12 * 60 * 60 * 1000;

/// Where the console listens and what its certificate is, for
/// `hedge status`: the fingerprint lets a first visit be checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleStatus {
    pub listen: SocketAddr,
    /// SHA-256 of the certificate's DER, as colon-separated hex.
    pub fingerprint: String,
    /// Whether the certificate was made by hedge (not read from files).
    pub self_signed: bool,
}

/// A new session: its token (for the cookie, shown once), the CSRF token
/// its state-changing calls must carry, and who signed in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub token: String,
    pub csrf: String,
    pub person: Person,
}

/// Where a sign-in got to: signed in, or (with `[web] require_totp`, for
/// an approver or safeguarding lead without it) offered a TOTP secret to
/// set up first; the code from it signs them in
/// ([`Service::console_sign_in_with_new_totp`]).
#[derive(Debug, Clone)]
pub enum SignInStep {
    Done(SignedIn),
    SetUpTotp(TotpOffer),
}

/// The person behind a live session, read afresh for each request.
#[derive(Debug, Clone)]
pub struct ConsoleCaller {
    pub session: ConsoleSession,
    pub person: Person,
    /// The CSRF token this session's state-changing calls must carry.
    pub csrf: String,
}

impl ConsoleCaller {
    /// The caller acting in the first of `roles` they hold (the role
    /// recorded with what they do), from `source`.
    pub fn actor(&self, roles: &[Role], source: IpAddr) -> Actor {
        let role = roles.iter().copied().find(|role| self.person.has(*role));
        Actor::console(&self.person.name, role, source)
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a session token, as stored.
pub(super) fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// The CSRF token of the session whose token is `token`.
pub fn csrf_token(token: &str) -> String {
    hex(&Sha256::digest(
        format!("hedge console csrf\0{token}").as_bytes(),
    ))
}

/// Whether `given` is `expected`, compared in constant time.
pub fn same_token(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

impl Service {
    /// Signs `name` in on the console from `source`: refused while the
    /// address has had 5 failed sign-ins in 15 minutes (each failure is
    /// recorded against the address too), then as
    /// [`Service::authenticate`] decides; then, with `[web]
    /// require_totp`, an approver or safeguarding lead without TOTP is
    /// offered it to set up instead of a session.
    pub async fn console_sign_in(
        &self,
        source: IpAddr,
        name: &str,
        password: &str,
        totp_code: Option<&str>,
    ) -> Result<SignInStep, ServiceError> {
        self.console_sign_in_at(source, name, password, totp_code, now_ms())
            .await
    }

    /// [`Service::console_sign_in`] at the moment `now_ms`.
    pub async fn console_sign_in_at(
        &self,
        source: IpAddr,
        name: &str,
        password: &str,
        totp_code: Option<&str>,
        now_ms: i64,
    ) -> Result<SignInStep, ServiceError> {
        let database = self.storage.get()?;
        let address = source.to_string();
        let visitor = Actor::console_visitor(source);
        let (failures, oldest) = database
            .console_signin_failures(&address, now_ms - SIGNIN_FAILURE_WINDOW_MS)
            .await?;
        if failures >= MAX_FAILED_SIGNINS {
            let until_ms = oldest.unwrap_or(now_ms) + SIGNIN_FAILURE_WINDOW_MS;
            return Err(ServiceError::SignIn(SignInRefusal::AddressLocked {
                until_ms,
            }));
        }
        let person = match self
            .authenticate_at(&visitor, name, password, totp_code, now_ms)
            .await
        {
            Ok(person) => person,
            Err(ServiceError::SignIn(refusal)) => {
                let counts = matches!(
                    refusal,
                    SignInRefusal::WrongPassword
                        | SignInRefusal::TotpWrong
                        | SignInRefusal::Locked { .. }
                );
                if counts {
                    let failures = database
                        .record_console_signin_failure(
                            self.storage.audit_lock(),
                            &address,
                            now_ms,
                            MAX_FAILED_SIGNINS,
                            &visitor.user,
                        )
                        .await?;
                    if failures >= MAX_FAILED_SIGNINS {
                        return Err(ServiceError::SignIn(SignInRefusal::AddressLocked {
                            until_ms: now_ms + SIGNIN_FAILURE_WINDOW_MS,
                        }));
                    }
                }
                return Err(ServiceError::SignIn(refusal));
            }
            Err(error) => return Err(error),
        };
        let needs_totp = person.has(Role::Approver) || person.has(Role::Safeguarding);
        if self.handler.config().web.require_totp && needs_totp && !person.totp {
            return Ok(SignInStep::SetUpTotp(self.offer_totp_to(&person)?));
        }
        Ok(SignInStep::Done(
            self.start_console_session(person, source, now_ms).await?,
        ))
    }

    /// A new session for `person`, signed in from `source`.
    pub(super) async fn start_console_session(
        &self,
        person: Person,
        source: IpAddr,
        now_ms: i64,
    ) -> Result<SignedIn, ServiceError> {
        let token = hex(&random::<32>()?);
        self.storage
            .get()?
            .start_console_session(&token_hash(&token), person.id, &source.to_string(), now_ms)
            .await?;
        info!("{} signed in on the console from {source}", person.name);
        Ok(SignedIn {
            csrf: csrf_token(&token),
            token,
            person,
        })
    }

    /// The person behind session `token`, if it is live; marks it used.
    /// An idle or too old session is ended (and recorded) here; a
    /// disabled person's session too, and a reset one's (their password
    /// is cleared until they enrol again).
    pub async fn console_session(
        &self,
        token: &str,
        source: IpAddr,
    ) -> Result<ConsoleCaller, ServiceError> {
        self.console_session_at(token, source, now_ms()).await
    }

    /// [`Service::console_session`] at the moment `now_ms`.
    pub async fn console_session_at(
        &self,
        token: &str,
        source: IpAddr,
        now_ms: i64,
    ) -> Result<ConsoleCaller, ServiceError> {
        let database = self.storage.get()?;
        let not_signed_in = || ServiceError::NotSignedIn("not signed in: sign in first".into());
        let Some(session) = database.console_session(&token_hash(token)).await? else {
            return Err(not_signed_in());
        };
        if session.ended_ms.is_some() {
            return Err(not_signed_in());
        }
        let visitor = Actor::console_visitor(source);
        let expired = if now_ms - session.last_seen_ms >= SESSION_IDLE_MS {
            Some("idle for 30 minutes")
        } else if now_ms - session.created_ms >= SESSION_MAX_MS {
            Some("12 hours old")
        } else {
            None
        };
        if let Some(why) = expired {
            database
                .end_console_session(
                    self.storage.audit_lock(),
                    &session,
                    now_ms,
                    &visitor.user,
                    "console.session-expired",
                )
                .await?;
            return Err(ServiceError::NotSignedIn(format!(
                "the session has expired ({why}): sign in again"
            )));
        }
        let person = self.person(&session.person).await?;
        if person.disabled || !person.enrolled {
            database
                .end_console_session(
                    self.storage.audit_lock(),
                    &session,
                    now_ms,
                    &visitor.user,
                    "console.session-ended",
                )
                .await?;
            if person.disabled {
                return Err(ServiceError::SignIn(SignInRefusal::Disabled));
            }
            return Err(ServiceError::NotSignedIn(
                "your account was reset: set a new password with the enrolment code an administrator gives you".into(),
            ));
        }
        database.touch_console_session(session.id, now_ms).await?;
        Ok(ConsoleCaller {
            csrf: csrf_token(token),
            session,
            person,
        })
    }

    /// Ends the caller's session (signing out), recorded.
    pub async fn console_sign_out(
        &self,
        caller: &ConsoleCaller,
        source: IpAddr,
    ) -> Result<(), ServiceError> {
        let actor = Actor::console(&caller.person.name, None, source);
        self.storage
            .get()?
            .end_console_session(
                self.storage.audit_lock(),
                &caller.session,
                now_ms(),
                &actor.user,
                "console.signed-out",
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_differ_by_session_and_compare_exactly() {
        let one = csrf_token("aaaa");
        assert_eq!(one.len(), 64);
        assert_ne!(one, csrf_token("aaab"));
        assert!(same_token(&one, &csrf_token("aaaa")));
        assert!(!same_token(&one, &csrf_token("aaab")));
        assert!(!same_token(&one, ""));
        assert_ne!(token_hash("aaaa"), csrf_token("aaaa"));
    }
}
