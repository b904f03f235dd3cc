//! What hedge did with a query (a block in policy's words, an answer, a
//! refusal), and its recording: the counts, a safeguarding alert, and the
//! query-log entry when policy says the log keeps it.

use std::net::SocketAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tracing::debug;

use crate::policy::logging::{Answered, keeps};
use crate::policy::{Block, Client, Snapshot, block_wording};
use crate::store::{Action, AlertEvent, AlertHit, QueryRecord};

use crate::dns::answer::ExtendedError;

use super::Handler;

impl Handler {
    /// Counts what was done, and raises an alert for a blocked attempt in
    /// a safeguarding category.
    fn count(
        &self,
        policy: &Snapshot,
        client: Client<'_>,
        name: &Name,
        outcome: &Outcome,
        src: SocketAddr,
        now: jiff::Timestamp,
    ) {
        let group = &policy.groups[client.group].name;
        self.breakdown
            .count(group, outcome.action, outcome.category.as_deref());
        if let Some(category) = &outcome.alert {
            let name = name.to_lowercase().to_ascii();
            self.alerts.send(AlertEvent::Hit(AlertHit {
                at_ms: now.as_millisecond(),
                client: src.ip(),
                client_name: client.name.map(str::to_string),
                mac: client.mac,
                group: group.clone(),
                name: name.trim_end_matches('.').to_string(),
                category: category.clone(),
            }));
        }
    }

    /// Counts an answered query and hands it to the query log if its
    /// group's level keeps it. `name` and `qtype` are the question's.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn record(
        &self,
        policy: &Snapshot,
        client: Client<'_>,
        name: &Name,
        qtype: RecordType,
        outcome: &Outcome,
        rcode: ResponseCode,
        src: SocketAddr,
        now: jiff::Timestamp,
    ) {
        self.count(policy, client, name, outcome, src, now);
        let group = &policy.groups[client.group];
        let answered = if outcome.action == Action::Blocked {
            Answered::Blocked {
                mandatory: outcome.mandatory,
            }
        } else {
            Answered::Otherwise
        };
        if !self.log.is_enabled() || !keeps(group.log, answered) {
            return;
        }
        let name = name.to_lowercase().to_ascii();
        self.log.record(QueryRecord {
            at_ms: now.as_millisecond(),
            client: src.ip(),
            client_name: client.name.map(str::to_string),
            mac: client.mac,
            group: Some(group.name.clone()),
            name: name.trim_end_matches('.').to_string(),
            qtype: u16::from(qtype),
            action: outcome.action,
            category: outcome.category.clone(),
            rule: outcome.rule.clone(),
            rcode: u16::from(rcode),
            upstream_us: outcome.upstream_us,
        });
    }
}

/// What a block means for the log and the client, whichever path answers.
pub(super) struct Blocked {
    /// The Extended DNS Error text ("blocked: category malware").
    pub(super) why: String,
    /// The listed name, for the SOA of a negative answer.
    pub(super) zone: Name,
    pub(super) outcome: Outcome,
}

/// Describes `block` of `question` (for a client of `group`) in policy's
/// words; `listed` is the name the decision was about (the question, or a
/// CNAME target).
pub(super) fn blocked_outcome(
    policy: &Snapshot,
    group: usize,
    question: &Name,
    listed: &Name,
    block: &Block,
) -> Blocked {
    let wording = block_wording(policy, group, question, listed, block);
    debug!(name = %question, why = %wording.why, group = %policy.groups[group].name, "blocked");
    Blocked {
        why: wording.why,
        zone: wording.entry,
        outcome: Outcome {
            action: Action::Blocked,
            mandatory: wording.mandatory,
            category: wording.category,
            alert: wording.alert,
            rule: Some(wording.rule),
            upstream_us: None,
        },
    }
}

/// A response before EDNS and encoding.
pub(super) struct Response {
    pub(super) message: Message,
    pub(super) extended_error: Option<(ExtendedError, String)>,
    /// What the query log records; `None`: the query is not logged (bad
    /// requests, rate-limited clients).
    pub(super) outcome: Option<Outcome>,
}

/// What hedge did with a query, for the query log.
pub(super) struct Outcome {
    pub(super) action: Action,
    /// A block of a mandatory category.
    pub(super) mandatory: bool,
    pub(super) category: Option<String>,
    /// The safeguarding category of a block that raises an alert.
    pub(super) alert: Option<String>,
    pub(super) rule: Option<String>,
    pub(super) upstream_us: Option<u32>,
}

impl Response {
    pub(super) fn plain(message: Message) -> Response {
        Response {
            message,
            extended_error: None,
            outcome: None,
        }
    }

    pub(super) fn with_error(message: Message, code: ExtendedError, text: &str) -> Response {
        Response {
            message,
            extended_error: Some((code, text.to_string())),
            outcome: None,
        }
    }

    pub(super) fn logged(mut self, action: Action, rule: Option<String>) -> Response {
        self.outcome = Some(Outcome {
            action,
            mandatory: false,
            category: None,
            alert: None,
            rule,
            upstream_us: None,
        });
        self
    }
}
