//! [`decide`]: what one client may see of one name, with the exemptions
//! in force. Pure: no I/O, no clock.
//!
//! The rules (DESIGN.md): an entry covers its name and every name below it;
//! the most specific matching entry wins; at equal specificity an allow
//! beats a block; a mandatory category beats everything, allows included.
//! Within a category, a list's own exception (`@@||name^`,
//! `rpz-passthru`) lifts only that category's blocks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::{LowerName, Name};
use jiff::Timestamp;

use crate::config::{BlockingMode, CategoryId, Engine};
use crate::filter::{Matches, RpzAction};

use super::clients::Client;
use super::exemptions::ExemptionSet;
use super::groups::Group;
use super::schedule::ActiveRules;
use super::snapshot::Snapshot;

/// Why a name is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowReason {
    /// No list the group uses blocks it.
    NotBlocked,
    /// The group's own allow entry, `depth` labels long.
    GroupAllow { depth: u8 },
    /// An approved exemption in force lifted a block; it ends at
    /// `until_ms`, which bounds how long the answer may be cached.
    Exemption { id: i64, until_ms: i64 },
}

impl AllowReason {
    /// The longest, in seconds, a client may keep an answer allowed for
    /// this reason at `now`: an exemption's answer must not outlive it (at
    /// least a second). `None`: no limit beyond the answer's own.
    pub fn ttl_limit(self, now: Timestamp) -> Option<u32> {
        match self {
            AllowReason::Exemption { until_ms, .. } => {
                let left = (until_ms - now.as_millisecond()).max(1000) / 1000;
                Some(u32::try_from(left).unwrap_or(u32::MAX))
            }
            AllowReason::NotBlocked | AllowReason::GroupAllow { .. } => None,
        }
    }
}

/// Why a name is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockRule {
    /// A list of `category` has an entry `depth` labels long.
    Category {
        category: CategoryId,
        depth: u8,
        mandatory: bool,
    },
    /// The group's own deny entry.
    GroupDeny { depth: u8 },
    /// A schedule rule of the group blocking everything but its allow list
    /// (index into the group's rules).
    Schedule { rule: usize },
}

/// How a blocked query is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockAnswer {
    /// A and AAAA get these addresses; other types NODATA.
    Sinkhole {
        ipv4: Ipv4Addr,
        ipv6: Ipv6Addr,
    },
    NxDomain,
    NoData,
    /// An RPZ list's own addresses.
    LocalData(Vec<IpAddr>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub rule: BlockRule,
    pub answer: BlockAnswer,
    pub ttl: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(AllowReason),
    Block(Block),
    /// Safe search: answer with a CNAME to the engine's safe endpoint.
    Rewrite {
        engine: String,
        target: Name,
    },
}

impl Decision {
    pub fn is_blocked(&self) -> bool {
        matches!(self, Decision::Block(_))
    }
}

/// Decides `name` (as received) for `client` at address `ip` at `now`
/// (one clock reading per query, for every name the query involves), with
/// `exemptions` in force: the one place a decision is made. An exemption
/// lifts a block for its group or client, never a mandatory category's.
pub fn decide(
    snapshot: &Snapshot,
    exemptions: &ExemptionSet,
    client: Client<'_>,
    ip: IpAddr,
    name: &LowerName,
    now: Timestamp,
) -> Decision {
    let group = &snapshot.groups[client.group];
    let decision = decide_matches(
        snapshot,
        group,
        &snapshot.index.matches(name),
        &group.own.index.matches(name),
        group.schedule.active(now),
    );
    after_lists(
        group,
        decision,
        |block| {
            if exemptions.is_empty() {
                return Decision::Block(block);
            }
            // Exemptions hold names in their ASCII (punycode) form.
            let text = name.to_ascii();
            lift(
                group,
                exemptions,
                ip,
                text.trim_end_matches('.'),
                now,
                block,
            )
        },
        || snapshot.safe_search.rewrite(name, group.youtube),
    )
}

/// The same for a normalised name in text.
pub fn decide_str(
    snapshot: &Snapshot,
    exemptions: &ExemptionSet,
    client: Client<'_>,
    ip: IpAddr,
    name: &str,
    now: Timestamp,
) -> Decision {
    let group = &snapshot.groups[client.group];
    let decision = decide_matches(
        snapshot,
        group,
        &snapshot.index.matches_str(name),
        &group.own.index.matches_str(name),
        group.schedule.active(now),
    );
    after_lists(
        group,
        decision,
        |block| lift(group, exemptions, ip, name, now, block),
        || snapshot.safe_search.rewrite_str(name, group.youtube),
    )
}

/// What follows the lists' verdict, whichever form the name came in: an
/// exemption may lift a block (`lift`), and safe search rewrites a name
/// nothing blocks, even one an allow entry let through (`rewrite`).
fn after_lists<'a>(
    group: &Group,
    decision: Decision,
    lift: impl FnOnce(Block) -> Decision,
    rewrite: impl FnOnce() -> Option<(&'a Engine, &'a Name)>,
) -> Decision {
    match decision {
        Decision::Block(block) => lift(block),
        decision if group.safe_search => match rewrite() {
            Some((engine, target)) => Decision::Rewrite {
                engine: engine.id.clone(),
                target: target.clone(),
            },
            None => decision,
        },
        decision => decision,
    }
}

/// `block`, unless an exemption in force lifts it for a client of `group`
/// at `ip` (`name` in its ASCII form, normalised).
fn lift(
    group: &Group,
    exemptions: &ExemptionSet,
    ip: IpAddr,
    name: &str,
    now: Timestamp,
    block: Block,
) -> Decision {
    match exemptions.lifts(&block, &group.name, ip, name, now.as_millisecond()) {
        Some((id, until_ms)) => Decision::Allow(AllowReason::Exemption { id, until_ms }),
        None => Decision::Block(block),
    }
}

struct Found {
    depth: u8,
    category: CategoryId,
    rpz: Option<RpzAction>,
}

fn decide_matches(
    snapshot: &Snapshot,
    group: &Group,
    lists: &Matches<'_>,
    own: &Matches<'_>,
    active: ActiveRules,
) -> Decision {
    let mandatory = snapshot.catalogue.mandatory();
    let mut undecided = group.block.union(active.block).union(mandatory);
    let mut first_block: Option<Found> = None;
    let mut mandatory_block: Option<Found> = None;
    for m in lists.iter() {
        let verdict = m.verdict;
        let blocks = verdict.block.intersection(undecided).without(verdict.allow);
        if let Some(category) = blocks.first() {
            let rpz_for = |category: CategoryId| {
                verdict
                    .rpz
                    .as_ref()
                    .filter(|(c, _)| *c == category)
                    .map(|(_, action)| action.clone())
            };
            let mandatory_here = blocks.intersection(mandatory).first();
            if let (Some(category), None) = (mandatory_here, &mandatory_block) {
                mandatory_block = Some(Found {
                    depth: m.depth,
                    category,
                    rpz: rpz_for(category),
                });
            }
            if first_block.is_none() {
                let category = mandatory_here.unwrap_or(category);
                first_block = Some(Found {
                    depth: m.depth,
                    category,
                    rpz: rpz_for(category),
                });
            }
        }
        undecided = undecided.without(verdict.block.union(verdict.allow));
    }
    if let Some(found) = mandatory_block {
        return category_block(group, found, true);
    }
    if active.block_all {
        // Bedtime: nothing but the group's allow entries, and only where the
        // allow wins as it would by day (a more specific list block stays).
        let beaten = |depth: u8| first_block.as_ref().is_some_and(|f| f.depth > depth);
        return match own.first() {
            Some(m) if !m.verdict.allow.is_empty() && !beaten(m.depth) => {
                Decision::Allow(AllowReason::GroupAllow { depth: m.depth })
            }
            _ if first_block.is_some() => {
                category_block(group, first_block.expect("checked"), false)
            }
            _ => Decision::Block(Block {
                rule: BlockRule::Schedule {
                    rule: active.rules.trailing_zeros() as usize,
                },
                answer: group_answer(group),
                ttl: group.block_ttl,
            }),
        };
    }

    // The group's own most specific entry; allow wins at equal depth.
    let own = own.first().map(|m| (m.depth, !m.verdict.allow.is_empty()));
    match (own, first_block) {
        (Some((depth, allow)), Some(found)) if depth >= found.depth => {
            own_decision(group, depth, allow)
        }
        (_, Some(found)) => category_block(group, found, false),
        (Some((depth, allow)), None) => own_decision(group, depth, allow),
        (None, None) => Decision::Allow(AllowReason::NotBlocked),
    }
}

fn own_decision(group: &Group, depth: u8, allow: bool) -> Decision {
    if allow {
        Decision::Allow(AllowReason::GroupAllow { depth })
    } else {
        Decision::Block(Block {
            rule: BlockRule::GroupDeny { depth },
            answer: group_answer(group),
            ttl: group.block_ttl,
        })
    }
}

fn category_block(group: &Group, found: Found, mandatory: bool) -> Decision {
    let answer = match found.rpz {
        Some(RpzAction::NxDomain) => BlockAnswer::NxDomain,
        Some(RpzAction::NoData) => BlockAnswer::NoData,
        Some(RpzAction::LocalData(ips)) => BlockAnswer::LocalData(ips),
        None => group_answer(group),
    };
    Decision::Block(Block {
        rule: BlockRule::Category {
            category: found.category,
            depth: found.depth,
            mandatory,
        },
        answer,
        ttl: group.block_ttl,
    })
}

fn group_answer(group: &Group) -> BlockAnswer {
    match group.blocking {
        BlockingMode::Sinkhole => BlockAnswer::Sinkhole {
            ipv4: group.sinkhole_ipv4,
            ipv6: group.sinkhole_ipv6,
        },
        BlockingMode::Nxdomain => BlockAnswer::NxDomain,
    }
}

#[cfg(test)]
mod tests;
