//! The rules an exemption request and its approval must meet.

use crate::config::{Approver, Config, MAX_EXEMPTION_DAYS};

use super::{ExemptionKind, ExemptionScope, NewExemption};
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
