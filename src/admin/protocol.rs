//! The requests and responses on the admin socket, shared by the server and
//! the CLI. One JSON object per line each way. Each request names one
//! operation of [`crate::service`]; a response carries its typed result
//! as JSON.

use serde::{Deserialize, Serialize};

use crate::policy::{Agency, HoldRequest, NewExemption, Role};
use crate::service::IncidentRequest;
use crate::service::report::ReportFormat;
use crate::store::{AccessKind, AlertSelection, ExemptionSelection, LogFilter, ReportRequest};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AdminRequest {
    /// What the server is doing.
    Status,
    /// What DNSSEC makes of a name's answer now (for `hedge explain`).
    DnssecCheck {
        name: String,
    },
    /// Re-read the configuration, zones and lists (as SIGHUP does).
    /// `cause` says why, for the audit trail (`lists update`).
    Reload {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<String>,
    },
    /// Search the query log. The rows come back over several lines, each
    /// with `more: true` and an array of rows, then one line with the count.
    /// Recorded, with the peer's OS user, before any row is sent.
    LogSearch {
        filter: LogFilter,
        kind: AccessKind,
    },
    /// Delete the rows past retention now (or, `dry_run`, count them).
    LogPurge {
        dry_run: bool,
    },
    /// Place a legal hold.
    HoldAdd {
        hold: HoldRequest,
    },
    /// Holds in force (every hold, released ones too, with `all`).
    HoldList {
        all: bool,
    },
    /// Release a hold.
    HoldRelease {
        id: i64,
        /// Must be the caller's person if given (the default).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        reason: String,
    },
    /// Who searched or exported the query log since a time.
    LogAccess {
        since_ms: i64,
        limit: u64,
    },
    /// Audit rows from a time on, oldest first.
    AuditList {
        since_ms: i64,
        limit: u64,
    },
    /// Recompute the audit chain.
    AuditVerify,
    /// File an exemption request (pending until approved).
    ExemptRequest {
        request: NewExemption,
    },
    /// File and approve in one step (`by` must differ from the requester).
    ExemptAdd {
        request: NewExemption,
        /// Must be the caller's person if given (the default).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    ExemptApprove {
        id: i64,
        /// Must be the caller's person if given (the default).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    ExemptReject {
        id: i64,
        /// Must be the caller's person if given (the default).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        reason: String,
    },
    ExemptRevoke {
        id: i64,
        /// Must be the caller's person if given (the default).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        reason: String,
    },
    ExemptList {
        selection: ExemptionSelection,
    },
    ExemptShow {
        id: i64,
    },
    /// Devices seen by MAC address, most recently seen first.
    DeviceList,
    /// Safeguarding alerts, newest first.
    AlertList {
        selection: AlertSelection,
    },
    AlertShow {
        id: i64,
    },
    /// Mark an alert as seen and dealt with.
    AlertAck {
        id: i64,
        /// Must be the caller's person if given (the default).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        note: String,
    },
    /// Gather a report over a period (recorded as an access to the log).
    Report {
        request: ReportRequest,
    },
    /// Gather a report and mail it to each of `to` now, as `format`.
    ReportEmail {
        request: ReportRequest,
        to: Vec<String>,
        format: ReportFormat,
    },
    /// Open an incident (with a legal hold when a client is named).
    IncidentOpen {
        request: IncidentRequest,
    },
    /// Append an action taken.
    IncidentNote {
        id: i64,
        /// Must be the caller's person if given (the default).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        text: String,
    },
    /// Record a referral to an agency.
    IncidentRefer {
        id: i64,
        agency: Agency,
        /// Must be the caller's person if given (the default).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        #[serde(default)]
        referred_ms: Option<i64>,
        #[serde(default)]
        text: String,
    },
    IncidentClose {
        id: i64,
        /// Must be the caller's person if given (the default).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        conclusion: String,
        release_hold: bool,
    },
    IncidentList {
        open_only: bool,
    },
    /// One incident with the matching log rows (recorded as an access to
    /// the log).
    IncidentShow {
        id: i64,
    },
    /// Add a person; the answer carries their one-time enrolment code.
    PeopleAdd {
        name: String,
        roles: Vec<Role>,
        #[serde(default)]
        os_user: Option<String>,
    },
    /// Everyone on record (no credentials).
    PeopleList,
    PeopleDisable {
        name: String,
    },
    /// A disabled person may sign in and act again.
    PeopleEnable {
        name: String,
    },
    /// A new enrolment code; password and TOTP cleared.
    PeopleReset {
        name: String,
    },
    /// Give a person exactly these roles.
    PeopleRoles {
        name: String,
        roles: Vec<Role>,
    },
    /// Map an OS account to a person (`None`: none).
    PeopleMap {
        name: String,
        #[serde(default)]
        os_user: Option<String>,
    },
    /// A person sets their password with their enrolment code.
    PeopleEnrol {
        code: String,
        password: String,
    },
    /// Set up TOTP for the caller's own person; the answer carries the
    /// secret, once.
    PeopleTotp {
        name: String,
    },
    /// Check a person's password (and TOTP code) as a sign-in does,
    /// counting failures towards a lockout.
    PeopleCheck {
        name: String,
        password: String,
        #[serde(default)]
        totp: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminResponse {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub result: serde_json::Value,
    /// More lines follow for the same request (a search's rows).
    #[serde(default, skip_serializing_if = "is_false")]
    pub more: bool,
}

fn is_false(value: &bool) -> bool {
    !value
}

impl AdminResponse {
    pub fn success(result: serde_json::Value) -> AdminResponse {
        AdminResponse {
            ok: true,
            error: None,
            result,
            more: false,
        }
    }

    pub fn failure(error: impl Into<String>) -> AdminResponse {
        AdminResponse {
            ok: false,
            error: Some(error.into()),
            result: serde_json::Value::Null,
            more: false,
        }
    }
}
