//! Every operation a person or an operator performs on a running hedge:
//! filing and deciding exemptions, acknowledging alerts, incidents,
//! searching and purging the log, holds, reports, status, reload. One file
//! per group of operations; each takes typed arguments and the [`Actor`]
//! who asks, checks what `policy` says, changes `store` (the change and its
//! audit row in one transaction) and returns a typed result.
//!
//! The admin socket and the web console are transports onto this
//! layer: they say who is asking and carry the answer, nothing more.

pub mod alerting;
pub mod alerts;
pub mod audit;
pub mod central;
pub mod devices;
pub mod exemptions;
pub mod holds;
pub mod incidents;
pub mod inert;
pub mod logs;
pub mod metrics;
pub mod people;
pub mod reload;
pub mod report;
pub mod sessions;
pub mod status;
pub mod table;
pub mod time;
pub mod totp;

pub use incidents::{IncidentRecord, IncidentRequest};
pub use logs::Search;
pub use people::{Enrolment, SignInRefusal, TotpSetup};
pub use reload::Reloaded;
pub use sessions::{ConsoleCaller, ConsoleStatus, SignInStep, SignedIn};
pub use status::StatusReport;
pub use totp::TotpOffer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::warn;

use crate::dns::Handler;
use crate::store::{AccessKind, AuditEntry, Database, StoreError};

/// What the operations act on: the DNS path's state and the database.
pub struct Service {
    pub handler: Arc<Handler>,
    pub storage: Arc<crate::store::Storage>,
    pub started: Instant,
    /// The DNS addresses hedge answers on.
    pub listening: Vec<SocketAddr>,
    /// One reading of the exemptions at a time, so an older set never
    /// replaces a newer one.
    exemption_refresh: tokio::sync::Mutex<()>,
    /// The web console, once it listens: where, and its certificate's
    /// fingerprint (for `hedge status`).
    pub console: std::sync::OnceLock<ConsoleStatus>,
    /// TOTP secrets shown on the console and not yet confirmed.
    totp_offers: totp::TotpOffers,
    /// How shipping to the central store stands.
    central: central::CentralState,
}

impl Service {
    pub fn new(
        handler: Arc<Handler>,
        storage: Arc<crate::store::Storage>,
        listening: Vec<SocketAddr>,
    ) -> Service {
        Service {
            handler,
            storage,
            started: Instant::now(),
            listening,
            exemption_refresh: tokio::sync::Mutex::new(()),
            console: std::sync::OnceLock::new(),
            totp_offers: totp::TotpOffers::default(),
            central: central::CentralState::default(),
        }
    }
}

/// Who performs an operation, as the transport established it (the kernel's
/// peer credentials on the admin socket, the signed-in session on the web
/// console), never as typed: every change is recorded under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Who acts, as the audit trail and the access record name them: the
    /// OS account on the admin socket (`hedge` for what hedge does by
    /// itself); on the console, the person with the role they act in and
    /// the address they came from (see [`Actor::console`]).
    pub user: String,
    /// The OS account's uid; [`CONSOLE_UID`] on the console.
    pub uid: u32,
    /// The person acting, as the transport established it: the person the
    /// OS account is mapped to on the admin socket, the signed-in person on
    /// the console. `None`: nobody in particular (root, hedge itself).
    pub person: Option<String>,
}

/// The uid a console actor carries: no account has it (it is `(uid_t)-1`),
/// so nothing a console caller does passes as root or as hedge itself.
pub const CONSOLE_UID: u32 = u32::MAX;

impl Actor {
    /// A person signed in on the web console, acting in `role` (the role
    /// the operation needs that they hold; `None` for what needs none),
    /// from `source`. Recorded as `NAME (ROLE, console ADDRESS)`.
    pub fn console(
        person: &str,
        role: Option<crate::policy::Role>,
        source: std::net::IpAddr,
    ) -> Actor {
        let user = match role {
            Some(role) => format!("{person} ({}, console {source})", role.as_str()),
            None => format!("{person} (console {source})"),
        };
        Actor {
            user,
            uid: CONSOLE_UID,
            person: Some(person.to_string()),
        }
    }

    /// Someone on the console who has not signed in yet (enrolling,
    /// signing in), from `source`.
    pub fn console_visitor(source: std::net::IpAddr) -> Actor {
        Actor {
            user: format!("console {source}"),
            uid: CONSOLE_UID,
            person: None,
        }
    }

    /// hedge itself: retention, expiries, a reload on SIGHUP.
    pub fn hedge() -> Actor {
        use std::os::unix::fs::MetadataExt;
        Actor {
            user: "hedge".into(),
            // The process's own account, as the kernel shows it.
            uid: std::fs::metadata("/proc/self").map_or(0, |meta| meta.uid()),
            person: None,
        }
    }
}

/// Why an operation was refused or failed. The text is for the person who
/// asked: it says what was wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this (their person, or the role it needs).
    #[error("{0}")]
    Forbidden(String),
    /// What was asked for is not on record.
    #[error("{0}")]
    NotFound(String),
    /// The console caller has no session, or it has ended or expired.
    #[error("{0}")]
    NotSignedIn(String),
    /// A sign-in was refused.
    #[error("{0}")]
    SignIn(SignInRefusal),
    /// A reload whose new configuration (or lists, or zones) is unusable.
    #[error("{0}\nthe running configuration is kept")]
    Reload(String),
}

/// How long a search or report waits for the query log to write what it
/// holds (it goes ahead without it after that).
const FLUSH_LIMIT: Duration = Duration::from_secs(5);

impl Service {
    /// Records a change that has already happened (a reload, a purge). If
    /// the database cannot take it, the server log says so: the change
    /// stands.
    async fn record(&self, actor: &Actor, action: &str, details: serde_json::Value) {
        let entry = AuditEntry {
            actor: actor.user.clone(),
            person: actor.person.clone(),
            action: action.to_string(),
            details,
        };
        if let Err(error) = self.storage.audit(&entry).await {
            warn!(%error, "could not record {action} by {} in the audit trail", actor.user);
        }
    }

    /// Records that `actor` is about to read the query log: a row in the
    /// access record (`what` they asked for; the caller fills in the row
    /// count at the end) and an audit row `action` with `details`. No
    /// record, no rows: an error here stops the read.
    async fn record_access(
        &self,
        database: &Database,
        actor: &Actor,
        kind: AccessKind,
        what: &impl serde::Serialize,
        action: &str,
        details: serde_json::Value,
    ) -> Result<i64, ServiceError> {
        let access = database
            .begin_access(&actor.user, actor.uid, kind, what)
            .await?;
        self.storage
            .audit(&AuditEntry {
                actor: actor.user.clone(),
                person: actor.person.clone(),
                action: action.to_string(),
                details,
            })
            .await?;
        Ok(access)
    }

    /// Waits (a bounded time) for the query log to write the queries of a
    /// moment ago, so searches and reports see them.
    async fn flush_log(&self) {
        self.handler.log.flush(FLUSH_LIMIT).await;
    }
}
