//! Exemptions: what one is, the rules a request and its approval must
//! meet ([`check_request`], [`check_approval`]), and the set in force that
//! lifts blocks ([`ExemptionSet`]). An exemption lifts every block on its
//! name (and the names below it) for its group or client while it runs,
//! except a mandatory category's, which nothing lifts. A bypass lifts every
//! block but the mandatory ones. `store` keeps them; it judges nothing.

mod in_force;
mod rules;

pub use in_force::ExemptionSet;
pub use rules::{WithdrawalRefused, check_approval, check_request, check_withdrawal};

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// What an exemption allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExemptionKind {
    /// One name and everything below it.
    Site,
    /// Every non-mandatory category: filtering lifted.
    Bypass,
}

impl ExemptionKind {
    /// As stored and shown: `site` or `bypass`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExemptionKind::Site => "site",
            ExemptionKind::Bypass => "bypass",
        }
    }
}

/// Whom an exemption applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExemptionScope {
    Group(String),
    Client(IpAddr),
}

impl std::fmt::Display for ExemptionScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExemptionScope::Group(group) => write!(f, "group {group}"),
            ExemptionScope::Client(ip) => write!(f, "client {ip}"),
        }
    }
}

/// A request as filed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewExemption {
    pub kind: ExemptionKind,
    /// Normalised; `None` for a bypass.
    pub name: Option<String>,
    pub scope: ExemptionScope,
    pub reason: String,
    pub requested_by: String,
    pub from_ms: i64,
    pub until_ms: i64,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExemptionStatus {
    Pending,
    Approved,
    Rejected,
    Revoked,
}

impl ExemptionStatus {
    /// From its stored word (`pending`, `approved`, ...).
    pub fn parse(text: &str) -> Option<ExemptionStatus> {
        Some(match text {
            "pending" => ExemptionStatus::Pending,
            "approved" => ExemptionStatus::Approved,
            "rejected" => ExemptionStatus::Rejected,
            "revoked" => ExemptionStatus::Revoked,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exemption {
    pub id: i64,
    pub kind: ExemptionKind,
    pub name: Option<String>,
    pub scope: ExemptionScope,
    pub reason: String,
    pub requested_by: String,
    /// The person who filed it for the requester (a request received on
    /// paper or by email), when that was someone else.
    #[serde(default)]
    pub filed_by: Option<String>,
    pub requested_user: String,
    pub requested_ms: i64,
    pub from_ms: i64,
    pub until_ms: i64,
    pub status: ExemptionStatus,
    pub decided_by: Option<String>,
    pub decided_user: Option<String>,
    pub decided_ms: Option<i64>,
    pub decision_reason: Option<String>,
    /// Who ended it early (or withdrew the request), when and why.
    #[serde(default)]
    pub revoked_by: Option<String>,
    #[serde(default)]
    pub revoked_user: Option<String>,
    #[serde(default)]
    pub revoked_ms: Option<i64>,
    #[serde(default)]
    pub revoke_reason: Option<String>,
    pub expiry_recorded_ms: Option<i64>,
}

impl Exemption {
    /// In words, at `now_ms`: pending, scheduled, active, expired,
    /// rejected or revoked.
    pub fn state(&self, now_ms: i64) -> &'static str {
        match self.status {
            ExemptionStatus::Pending if self.until_ms <= now_ms => "lapsed",
            ExemptionStatus::Pending => "pending",
            ExemptionStatus::Rejected => "rejected",
            ExemptionStatus::Revoked => "revoked",
            ExemptionStatus::Approved if self.until_ms <= now_ms => "expired",
            ExemptionStatus::Approved if self.from_ms > now_ms => "scheduled",
            ExemptionStatus::Approved => "active",
        }
    }

    /// In force at `now_ms`.
    pub fn in_force(&self, now_ms: i64) -> bool {
        self.status == ExemptionStatus::Approved && self.from_ms <= now_ms && now_ms < self.until_ms
    }

    /// What is exempted, in words: the name, or "all filtering".
    pub fn what(&self) -> String {
        match (&self.kind, &self.name) {
            (ExemptionKind::Site, Some(name)) => name.clone(),
            _ => "all non-mandatory filtering (bypass)".into(),
        }
    }
}
