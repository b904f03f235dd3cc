//! The rules an exemption request and its approval must meet.

use crate::config::{Approver, Config, MAX_EXEMPTION_DAYS};

use super::{Exemption, ExemptionKind, ExemptionScope, NewExemption};
use crate::policy::reasons::{check_person, check_reason};
use crate::policy::snapshot::Snapshot;

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
        return Err("the exemption would start (from) in the past: start it now or later".into());
    }
    if request.from_ms > now_ms + i64::from(MAX_EXEMPTION_DAYS) * DAY_MS {
        return Err(format!(
            "the exemption would start (from) more than {MAX_EXEMPTION_DAYS} days from now"
        ));
    }
    if request.until_ms <= now_ms {
        return Err("the exemption would end (until) in the past: nothing to approve".into());
    }
    if request.until_ms <= request.from_ms {
        return Err("the exemption ends (until) before it starts (from)".into());
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
            let normal = crate::config::normalize(name)
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
        .ok_or("the exemption ends (until) before it starts (from)")?;
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

/// Why a withdrawal is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WithdrawalRefused {
    /// The person neither asked for it nor filed it.
    NotTheirs(String),
    /// It has ended already (or was never approved and has lapsed).
    Ended(String),
}

/// Whether `person` may withdraw `exemption` (a request still waiting,
/// or one in force or to come): only the person who asked for it, or who
/// filed it for them, may; anything already ended stays as it was.
pub fn check_withdrawal(
    exemption: &Exemption,
    person: &str,
    now_ms: i64,
) -> Result<(), WithdrawalRefused> {
    let own = |name: &str| name.trim().eq_ignore_ascii_case(person.trim());
    if !own(&exemption.requested_by) && !exemption.filed_by.as_deref().is_some_and(own) {
        return Err(WithdrawalRefused::NotTheirs(format!(
            "{person} did not ask for exemption {}: only its requester may withdraw it (an approver may revoke it)",
            exemption.id
        )));
    }
    match exemption.state(now_ms) {
        "pending" | "scheduled" | "active" => Ok(()),
        state => Err(WithdrawalRefused::Ended(format!(
            "exemption {} is {state} already: there is nothing to withdraw",
            exemption.id
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ExemptionStatus;

    fn filed(status: ExemptionStatus, until_ms: i64) -> Exemption {
        Exemption {
            id: 7,
            kind: ExemptionKind::Site,
            name: Some("bet.example".into()),
            scope: ExemptionScope::Group("pupils".into()),
            reason: "lesson".into(),
            requested_by: "T. Teacher".into(),
            filed_by: Some("O. Office".into()),
            requested_user: "www".into(),
            requested_ms: 0,
            from_ms: 0,
            until_ms,
            status,
            decided_by: None,
            decided_user: None,
            decided_ms: None,
            decision_reason: None,
            revoked_by: None,
            revoked_user: None,
            revoked_ms: None,
            revoke_reason: None,
            expiry_recorded_ms: None,
        }
    }

    #[test]
    fn only_the_requester_or_filer_withdraws_and_only_what_has_not_ended() {
        let pending = filed(ExemptionStatus::Pending, 100);
        assert_eq!(check_withdrawal(&pending, "t. teacher", 50), Ok(()));
        assert_eq!(check_withdrawal(&pending, "O. Office", 50), Ok(()));
        let Err(WithdrawalRefused::NotTheirs(other)) = check_withdrawal(&pending, "H. Head", 50)
        else {
            panic!("H. Head withdrew T. Teacher's request");
        };
        assert!(other.contains("only its requester"), "{other}");
        let active = filed(ExemptionStatus::Approved, 100);
        assert_eq!(check_withdrawal(&active, "T. Teacher", 50), Ok(()));
        let Err(WithdrawalRefused::Ended(expired)) = check_withdrawal(&active, "T. Teacher", 100)
        else {
            panic!("an expired exemption was withdrawn");
        };
        assert!(expired.contains("is expired already"), "{expired}");
        let rejected = filed(ExemptionStatus::Rejected, 100);
        assert!(check_withdrawal(&rejected, "T. Teacher", 50).is_err());
    }
}
