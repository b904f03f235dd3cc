//! The words a decision is reported in, the same wherever it is reported:
//! the Extended DNS Error text a blocked client sees, the rule the query log
//! records, and the category and alert a block counts under. Both DNS
//! answer paths and `hedge explain` take them from here.

use hickory_proto::rr::Name;

use super::alerts::alert_category;
use super::decide::{AllowReason, Block, BlockRule};
use super::snapshot::Snapshot;

/// How a block is reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockWording {
    /// The text of Extended DNS Error 15 (Blocked) sent to the client:
    /// "blocked: category gambling", "blocked: deny list of group pupils",
    /// "blocked: schedule lights-out of group bedtime".
    pub why: String,
    /// The entry that matched: the listed name cut to the entry's length
    /// (the whole name for a schedule). A negative answer's SOA is for it.
    pub entry: Name,
    /// The rule the query log records: "list entry bet.example", "deny
    /// entry x.example of group pupils", "schedule lights-out of group
    /// bedtime"; after "CNAME target T: " when the block was of a CNAME
    /// target T rather than the question.
    pub rule: String,
    /// The id of the list category that blocked.
    pub category: Option<String>,
    /// A block of a mandatory category (illegal content).
    pub mandatory: bool,
    /// The safeguarding category of a block that raises an alert.
    pub alert: Option<String>,
}

/// Words `block` of `question` for a client of `group`; `listed` is the
/// name the decision was about (the question, or a CNAME target in its
/// chain).
pub fn block_wording(
    snapshot: &Snapshot,
    group: usize,
    question: &Name,
    listed: &Name,
    block: &Block,
) -> BlockWording {
    let group = &snapshot.groups[group];
    let why = match block.rule {
        BlockRule::Category { category, .. } => {
            format!("blocked: category {}", snapshot.catalogue.get(category).id)
        }
        BlockRule::GroupDeny { .. } => format!("blocked: deny list of group {}", group.name),
        BlockRule::Schedule { rule } => format!(
            "blocked: schedule {} of group {}",
            group
                .schedule
                .rules
                .get(rule)
                .map_or("?", |r| r.name.as_str()),
            group.name
        ),
    };
    let depth = match block.rule {
        BlockRule::Category { depth, .. } | BlockRule::GroupDeny { depth } => depth,
        BlockRule::Schedule { .. } => listed.num_labels(),
    };
    let entry = listed.trim_to(usize::from(depth));
    let entry_text = entry.to_lowercase().to_ascii();
    let entry_text = entry_text.trim_end_matches('.');
    let (category, mut rule) = match block.rule {
        BlockRule::Category { category, .. } => (
            Some(snapshot.catalogue.get(category).id.clone()),
            format!("list entry {entry_text}"),
        ),
        BlockRule::GroupDeny { .. } => (
            None,
            format!("deny entry {entry_text} of group {}", group.name),
        ),
        BlockRule::Schedule { .. } => (None, why.trim_start_matches("blocked: ").to_string()),
    };
    if listed != question {
        let target = listed.to_lowercase().to_ascii();
        rule = format!("CNAME target {}: {rule}", target.trim_end_matches('.'));
    }
    BlockWording {
        mandatory: matches!(
            block.rule,
            BlockRule::Category {
                mandatory: true,
                ..
            }
        ),
        alert: alert_category(&snapshot.catalogue, block).map(str::to_string),
        why,
        entry,
        rule,
        category,
    }
}

/// The rule the query log records for a name allowed for `reason` to a
/// client of `group`: "allow entry E of group G", "exemption N", or none
/// when nothing blocks it.
pub fn allow_rule(
    snapshot: &Snapshot,
    group: usize,
    question: &Name,
    reason: AllowReason,
) -> Option<String> {
    match reason {
        AllowReason::NotBlocked => None,
        AllowReason::GroupAllow { depth } => {
            let entry = question.trim_to(usize::from(depth));
            Some(format!(
                "allow entry {} of group {}",
                entry.to_lowercase().to_ascii().trim_end_matches('.'),
                snapshot.groups[group].name
            ))
        }
        AllowReason::Exemption { id, .. } => Some(format!("exemption {id}")),
    }
}

/// The rule the query log records for a safe-search rewrite by `engine`.
pub fn rewrite_rule(engine: &str) -> String {
    format!("safe search: {engine}")
}
