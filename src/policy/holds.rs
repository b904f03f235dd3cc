//! Legal holds: what a request to keep a client's query-log rows past
//! retention must give (a reason, the person placing it, a period that
//! does not end before it starts) and what releasing one must give.
//! `store` keeps holds; it judges nothing.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::reasons::{check_person, check_reason};

/// A hold as asked for on the admin socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    pub client: IpNet,
    pub from_ms: i64,
    pub to_ms: i64,
    pub reason: String,
    /// The person placing the hold (the safeguarding lead, say). On the
    /// admin socket it may be left empty: the caller's person places it.
    #[serde(default)]
    pub by: String,
}

impl HoldRequest {
    /// Checks the request: a reason, the person, and its period.
    pub fn check(&self) -> Result<(), String> {
        check_reason(&self.reason, "the reason")?;
        check_person(&self.by, "--by")?;
        check_period(self.from_ms, self.to_ms)
    }
}

/// A hold's period `[from_ms, to_ms]` must not end before it starts.
pub fn check_period(from_ms: i64, to_ms: i64) -> Result<(), String> {
    if to_ms < from_ms {
        return Err("the hold ends (--to) before it starts (--from)".into());
    }
    Ok(())
}

/// Checks a release of a hold: the person releasing it and why.
pub fn check_release(by: &str, reason: &str) -> Result<(), String> {
    check_person(by, "--by")?;
    check_reason(reason, "the reason")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> HoldRequest {
        HoldRequest {
            client: "10.1.2.0/24".parse().unwrap(),
            from_ms: 1000,
            to_ms: 2000,
            reason: "safeguarding referral for pupil device".into(),
            by: "J. Smith".into(),
        }
    }

    #[test]
    fn a_hold_must_not_end_before_it_starts() {
        assert_eq!(request().check(), Ok(()));
        let backwards = HoldRequest {
            from_ms: 2000,
            to_ms: 1000,
            ..request()
        };
        assert!(backwards.check().unwrap_err().contains("before it starts"));
        let one_moment = HoldRequest {
            to_ms: 1000,
            ..request()
        };
        assert_eq!(one_moment.check(), Ok(()));
    }

    #[test]
    fn a_hold_needs_a_reason_and_a_person() {
        let placeholder = HoldRequest {
            reason: "test".into(),
            ..request()
        };
        assert!(placeholder.check().unwrap_err().contains("placeholder"));
        let nobody = HoldRequest {
            by: " ".into(),
            ..request()
        };
        assert!(nobody.check().unwrap_err().starts_with("--by is empty"));
    }

    #[test]
    fn a_release_needs_a_person_and_a_reason() {
        assert_eq!(
            check_release("DSL", "investigation closed with no action"),
            Ok(())
        );
        assert!(
            check_release("", "investigation closed with no action")
                .unwrap_err()
                .starts_with("--by")
        );
        assert!(
            check_release("DSL", "done")
                .unwrap_err()
                .starts_with("the reason")
        );
    }
}
