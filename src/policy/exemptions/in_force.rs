//! The approved exemptions not yet ended, as the DNS path reads them.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{Exemption, ExemptionScope, ExemptionStatus};
use crate::policy::decide::{Block, BlockRule};

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
            if exemption.status != ExemptionStatus::Approved || exemption.until_ms <= now_ms {
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
    /// lifted. Only [`crate::policy::decide`] asks: it is where a decision
    /// is made.
    pub(in crate::policy) fn lifts(
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
    use crate::policy::ExemptionKind;
    use crate::policy::decide::BlockAnswer;

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
            filed_by: None,
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
                category: crate::config::CategoryId(1),
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
