//! Exemptions: the rules a request and its approval must meet, and the set
//! in force that lifts blocks. An exemption lifts every block on its name
//! (and the names below it) for its group or client while it runs, except a
//! mandatory category's, which nothing lifts. A bypass lifts every block
//! but the mandatory ones.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::config::{Approver, Config, MAX_EXEMPTION_DAYS};
use crate::store::{
    Exemption, ExemptionKind, ExemptionScope, NewExemption, check_person, check_reason,
};

use super::decide::{Block, BlockRule};
use super::snapshot::Snapshot;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// How far in the past a request may say it starts (clocks differ, and a
/// request is filed a moment before the server reads it).
const START_SLACK_MS: i64 = 10 * 60_000;

/// Checks a request as filed: reason, requester, period, scope and name.
/// A name in a mandatory category is refused, saying which and why.
pub fn check_request(
    config: &Config,
    snapshot: &Snapshot,
    request: &NewExemption,
    now_ms: i64,
) -> Result<(), String> {
    check_reason(&request.reason, "the reason")?;
    check_person(&request.requested_by, "--requested-by")?;
    if request.from_ms < now_ms - START_SLACK_MS {
        return Err("the exemption would start (--from) in the past: start it now or later".into());
    }
    if request.from_ms > now_ms + i64::from(MAX_EXEMPTION_DAYS) * DAY_MS {
        return Err(format!(
            "the exemption would start (--from) more than {MAX_EXEMPTION_DAYS} days from now"
        ));
    }
    if request.until_ms <= now_ms {
        return Err("the exemption would end (--until) in the past: nothing to approve".into());
    }
    if request.until_ms <= request.from_ms {
        return Err("the exemption ends (--until) before it starts (--from)".into());
    }
    if let ExemptionScope::Group(group) = &request.scope
        && !config.groups.iter().any(|g| &g.name == group)
    {
        let known: Vec<&str> = config.groups.iter().map(|g| g.name.as_str()).collect();
        return Err(format!(
            "--group {group:?} is not a group; the groups are: {}",
            known.join(", ")
        ));
    }
    match (request.kind, &request.name) {
        (ExemptionKind::Site, Some(name)) => {
            let normal = crate::filter::normalize(name)
                .map_err(|problem| format!("{name:?} is not a name hedge can exempt: {problem}"))?;
            if &normal != name {
                return Err(format!("{name:?} is not normalised (expected {normal:?})"));
            }
            for hit in snapshot.index.matches_str(name).iter() {
                for category in hit.verdict.block.iter() {
                    let category = snapshot.catalogue.get(category);
                    if category.mandatory {
                        return Err(format!(
                            "{name} is listed in the mandatory category {} ({}): illegal content is blocked for everyone and no exemption can allow it",
                            category.id, category.name
                        ));
                    }
                }
            }
            Ok(())
        }
        (ExemptionKind::Bypass, None) => Ok(()),
        _ => Err("a site exemption needs a name, a bypass has none".into()),
    }
}

/// Checks that `by` may approve `request`: on the roster, not the
/// requester, within their longest exemption, and allowed to grant a
/// bypass if it is one. `in_one_step` (file and approve together) needs
/// an approver the roster lets do that.
pub fn check_approval<'c>(
    config: &'c Config,
    request: &NewExemption,
    by: &str,
    in_one_step: bool,
) -> Result<&'c Approver, String> {
    let Some(approver) = config.approver(by) else {
        if config.approvers.is_empty() {
            return Err(
                "no approvers are configured: add [[approvers]] to the configuration".into(),
            );
        }
        let names: Vec<String> = config
            .approvers
            .iter()
            .map(|a| format!("{} ({})", a.name, a.role))
            .collect();
        return Err(format!(
            "{by:?} is not on the approver roster; the approvers are: {}",
            names.join(", ")
        ));
    };
    if approver
        .name
        .eq_ignore_ascii_case(request.requested_by.trim())
    {
        return Err(format!(
            "{} asked for this exemption and cannot also approve it: another approver must",
            approver.name
        ));
    }
    if in_one_step && !approver.may_file_and_approve {
        return Err(format!(
            "{} may not file and approve in one step (may_file_and_approve in [[approvers]]): file it with `hedge exempt request` and approve it separately",
            approver.name
        ));
    }
    let length = request
        .until_ms
        .checked_sub(request.from_ms)
        .filter(|length| *length > 0)
        .ok_or("the exemption ends (--until) before it starts (--from)")?;
    if length > i64::from(approver.max_days) * DAY_MS {
        return Err(format!(
            "{} may approve exemptions of at most {} days; this one runs {:.1} days",
            approver.name,
            approver.max_days,
            length as f64 / DAY_MS as f64
        ));
    }
    match request.kind {
        ExemptionKind::Site => {}
        ExemptionKind::Bypass => {
            if !approver.may_bypass {
                return Err(format!(
                    "{} may not lift filtering (may_bypass in [[approvers]])",
                    approver.name
                ));
            }
            let most = i64::from(config.exemptions.max_bypass_hours) * HOUR_MS;
            if length > most {
                return Err(format!(
                    "a bypass may last at most {} hours ([exemptions] max_bypass_hours); this one runs {:.1} hours",
                    config.exemptions.max_bypass_hours,
                    length as f64 / HOUR_MS as f64
                ));
            }
        }
    }
    Ok(approver)
}

/// An approved exemption as the DNS path sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Granted {
    id: i64,
    /// `None`: a bypass.
    name: Option<String>,
    from_ms: i64,
    until_ms: i64,
}

/// The approved exemptions that have not ended, by group and by client.
#[derive(Debug, Default)]
pub struct ExemptionSet {
    by_group: HashMap<String, Vec<Granted>>,
    by_client: HashMap<IpAddr, Vec<Granted>>,
}

impl ExemptionSet {
    /// From stored exemptions; those not approved or already ended at
    /// `now_ms` are left out.
    pub fn new(exemptions: &[Exemption], now_ms: i64) -> ExemptionSet {
        let mut set = ExemptionSet::default();
        for exemption in exemptions {
            if exemption.status != crate::store::ExemptionStatus::Approved
                || exemption.until_ms <= now_ms
            {
                continue;
            }
            let granted = Granted {
                id: exemption.id,
                name: exemption.name.clone(),
                from_ms: exemption.from_ms,
                until_ms: exemption.until_ms,
            };
            match &exemption.scope {
                ExemptionScope::Group(group) => {
                    set.by_group.entry(group.clone()).or_default().push(granted)
                }
                ExemptionScope::Client(ip) => set
                    .by_client
                    .entry(ip.to_canonical())
                    .or_default()
                    .push(granted),
            }
        }
        set
    }

    pub fn is_empty(&self) -> bool {
        self.by_group.is_empty() && self.by_client.is_empty()
    }

    /// How many lift blocks at `now_ms` (begun and not ended).
    pub fn in_force(&self, now_ms: i64) -> usize {
        self.by_group
            .values()
            .chain(self.by_client.values())
            .flatten()
            .filter(|granted| granted.from_ms <= now_ms && now_ms < granted.until_ms)
            .count()
    }

    /// The exemption that lifts `block` on `name` (normalised) for a client
    /// at `ip` in `group` at `now_ms`, if any. Mandatory blocks are never
    /// lifted.
    pub fn lifts(
        &self,
        block: &Block,
        group: &str,
        ip: IpAddr,
        name: &str,
        now_ms: i64,
    ) -> Option<(i64, i64)> {
        if self.is_empty() {
            return None;
        }
        if let BlockRule::Category {
            mandatory: true, ..
        } = block.rule
        {
            return None;
        }
        let covers = |g: &&Granted| {
            g.from_ms <= now_ms
                && now_ms < g.until_ms
                && match &g.name {
                    None => true,
                    Some(exempt) => {
                        name == exempt
                            || (name.len() > exempt.len()
                                && name.ends_with(exempt.as_str())
                                && name.as_bytes()[name.len() - exempt.len() - 1] == b'.')
                    }
                }
        };
        let client = self
            .by_client
            .get(&ip.to_canonical())
            .and_then(|list| list.iter().find(covers));
        client
            .or_else(|| {
                self.by_group
                    .get(group)
                    .and_then(|list| list.iter().find(covers))
            })
            .map(|g| (g.id, g.until_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::decide::BlockAnswer;
    use crate::store::ExemptionStatus;

    fn exemption(
        id: i64,
        name: Option<&str>,
        scope: ExemptionScope,
        from: i64,
        until: i64,
    ) -> Exemption {
        Exemption {
            id,
            kind: if name.is_some() {
                ExemptionKind::Site
            } else {
                ExemptionKind::Bypass
            },
            name: name.map(str::to_string),
            scope,
            reason: "lesson on online gambling harms".into(),
            requested_by: "T. Teacher".into(),
            requested_user: "teacher".into(),
            requested_ms: 0,
            from_ms: from,
            until_ms: until,
            status: ExemptionStatus::Approved,
            decided_by: Some("H. Head".into()),
            decided_user: Some("head".into()),
            decided_ms: Some(0),
            decision_reason: None,
            revoked_by: None,
            revoked_user: None,
            revoked_ms: None,
            revoke_reason: None,
            expiry_recorded_ms: None,
        }
    }

    fn block(mandatory: bool) -> Block {
        Block {
            rule: BlockRule::Category {
                category: crate::filter::CategoryId(1),
                depth: 2,
                mandatory,
            },
            answer: BlockAnswer::NxDomain,
            ttl: 10,
        }
    }

    #[test]
    fn exemptions_lift_their_names_for_their_scope_and_time_only() {
        let ip: IpAddr = "10.1.3.12".parse().unwrap();
        let set = ExemptionSet::new(
            &[
                exemption(
                    1,
                    Some("bet.example"),
                    ExemptionScope::Group("pupils".into()),
                    100,
                    200,
                ),
                exemption(2, None, ExemptionScope::Client(ip), 100, 200),
            ],
            150,
        );
        let ordinary = block(false);
        assert_eq!(
            set.lifts(
                &ordinary,
                "pupils",
                "10.9.9.9".parse().unwrap(),
                "www.bet.example",
                150
            ),
            Some((1, 200))
        );
        assert_eq!(
            set.lifts(
                &ordinary,
                "pupils",
                "10.9.9.9".parse().unwrap(),
                "notbet.example",
                150
            ),
            None
        );
        assert_eq!(
            set.lifts(
                &ordinary,
                "staff",
                "10.9.9.9".parse().unwrap(),
                "bet.example",
                150
            ),
            None
        );
        assert_eq!(
            set.lifts(
                &ordinary,
                "pupils",
                "10.9.9.9".parse().unwrap(),
                "bet.example",
                200
            ),
            None,
            "ended"
        );
        assert_eq!(
            set.lifts(
                &ordinary,
                "pupils",
                "10.9.9.9".parse().unwrap(),
                "bet.example",
                99
            ),
            None,
            "not begun"
        );
        // The bypass covers every name for its client, but never a
        // mandatory block.
        assert_eq!(
            set.lifts(&ordinary, "staff", ip, "anything.example", 150),
            Some((2, 200))
        );
        assert_eq!(
            set.lifts(&block(true), "staff", ip, "anything.example", 150),
            None
        );
        assert_eq!(
            set.lifts(&block(true), "pupils", ip, "bet.example", 150),
            None
        );
        // Ended ones are not even kept.
        assert!(
            ExemptionSet::new(&[exemption(3, None, ExemptionScope::Client(ip), 1, 2)], 5)
                .is_empty()
        );
    }
}
