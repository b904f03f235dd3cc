//! When a blocked query is a safeguarding alert, and how repeated hits are
//! grouped so that the safeguarding lead is told once, not flooded, and
//! what acknowledging one must give.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::config::Catalogue;

use super::reasons::{check_person, check_reason};
use super::{Block, BlockRule};

/// The category of `block` if it raises an alert: a block by a list in a
/// category flagged `safeguarding` (mandatory categories always are).
/// Group deny entries and schedules are the site's own rules, not alerts.
pub fn alert_category<'c>(catalogue: &'c Catalogue, block: &Block) -> Option<&'c str> {
    match block.rule {
        BlockRule::Category { category, .. } if catalogue.safeguarding().contains(category) => {
            Some(catalogue.get(category).id.as_str())
        }
        _ => None,
    }
}

/// Where a hit goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Counted in alert `id`, already raised and delivered.
    Joined(i64),
    /// The first hit of a new alert: raise it, deliver it, then call
    /// [`AlertGrouping::opened`].
    New,
}

/// Open alerts by client and category. An alert takes every hit from its
/// client in its category until `window` after its first hit, or until it
/// is acknowledged; the next hit after that raises a new alert.
#[derive(Debug)]
pub struct AlertGrouping {
    window_ms: i64,
    open: HashMap<(IpAddr, String), OpenAlert>,
}

#[derive(Debug)]
struct OpenAlert {
    /// `None` while the alert could not be stored.
    id: Option<i64>,
    first_ms: i64,
    /// Hits since the count was last stored, and the latest.
    pending: u64,
    last_ms: i64,
}

impl AlertGrouping {
    pub fn new(window: Duration) -> AlertGrouping {
        AlertGrouping {
            window_ms: millis(window),
            open: HashMap::new(),
        }
    }

    /// Applies a changed window to alerts raised from now on, and to the
    /// open ones.
    pub fn set_window(&mut self, window: Duration) {
        self.window_ms = millis(window);
    }

    /// Places a hit from `client` in `category` at `at_ms`.
    pub fn place(&mut self, client: IpAddr, category: &str, at_ms: i64) -> Placement {
        match self.open.get_mut(&(client, category.to_string())) {
            Some(open) if at_ms < open.first_ms + self.window_ms => {
                open.pending += 1;
                open.last_ms = open.last_ms.max(at_ms);
                match open.id {
                    Some(id) => Placement::Joined(id),
                    // Counted in memory only; the alert was delivered.
                    None => Placement::Joined(0),
                }
            }
            _ => Placement::New,
        }
    }

    /// Notes the alert raised for a [`Placement::New`] hit (`None`: it
    /// could not be stored, but was delivered).
    pub fn opened(&mut self, client: IpAddr, category: &str, id: Option<i64>, first_ms: i64) {
        self.open.insert(
            (client, category.to_string()),
            OpenAlert {
                id,
                first_ms,
                pending: 0,
                last_ms: first_ms,
            },
        );
    }

    /// Hits not yet stored, as (alert id, hits, last hit); forgets them.
    pub fn take_pending(&mut self) -> Vec<(i64, u64, i64)> {
        let mut out = Vec::new();
        for open in self.open.values_mut() {
            if open.pending > 0 {
                if let Some(id) = open.id {
                    out.push((id, open.pending, open.last_ms));
                }
                open.pending = 0;
            }
        }
        out
    }

    /// Forgets alerts whose window has passed and whose hits are stored.
    pub fn expire(&mut self, now_ms: i64) {
        let window = self.window_ms;
        self.open
            .retain(|_, open| open.pending > 0 || now_ms < open.first_ms + window);
    }

    /// Forgets alert `id` (acknowledged): the next hit raises a new one.
    /// Returns its hits not yet stored, as [`take_pending`](Self::take_pending) does.
    pub fn close(&mut self, id: i64) -> Option<(i64, u64, i64)> {
        let key = self
            .open
            .iter()
            .find(|(_, open)| open.id == Some(id))
            .map(|(key, _)| key.clone())?;
        let open = self.open.remove(&key)?;
        (open.pending > 0).then_some((id, open.pending, open.last_ms))
    }

    /// Alerts currently taking hits.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

/// Checks an acknowledgement: the person who dealt with the alert, and a
/// note saying what was done.
pub fn check_acknowledgement(by: &str, note: &str) -> Result<(), String> {
    check_person(by, "--by")?;
    check_reason(note, "the note")
}

fn millis(window: Duration) -> i64 {
    i64::try_from(window.as_millis()).unwrap_or(i64::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_acknowledgement_names_the_person_and_what_was_done() {
        assert_eq!(
            check_acknowledgement("J. Smith", "spoke to the pupil"),
            Ok(())
        );
        assert!(
            check_acknowledgement("J. Smith", "ok")
                .unwrap_err()
                .starts_with("the note")
        );
        assert!(
            check_acknowledgement("", "spoke to the pupil")
                .unwrap_err()
                .starts_with("--by")
        );
    }

    #[test]
    fn a_burst_is_one_alert_with_a_count() {
        let mut grouping = AlertGrouping::new(Duration::from_secs(600));
        let pupil = ip("10.0.0.5");
        assert_eq!(grouping.place(pupil, "adult", 0), Placement::New);
        grouping.opened(pupil, "adult", Some(7), 0);
        for i in 1..=9 {
            assert_eq!(
                grouping.place(pupil, "adult", i * 1000),
                Placement::Joined(7)
            );
        }
        assert_eq!(grouping.take_pending(), vec![(7, 9, 9000)]);
        assert_eq!(grouping.take_pending(), vec![]);
    }

    #[test]
    fn another_client_or_category_is_another_alert() {
        let mut grouping = AlertGrouping::new(Duration::from_secs(600));
        grouping.opened(ip("10.0.0.5"), "adult", Some(1), 0);
        assert_eq!(grouping.place(ip("10.0.0.6"), "adult", 10), Placement::New);
        assert_eq!(grouping.place(ip("10.0.0.5"), "drugs", 10), Placement::New);
        assert_eq!(
            grouping.place(ip("10.0.0.5"), "adult", 10),
            Placement::Joined(1)
        );
    }

    #[test]
    fn the_window_runs_from_the_first_hit() {
        let mut grouping = AlertGrouping::new(Duration::from_secs(600));
        let pupil = ip("10.0.0.5");
        grouping.opened(pupil, "adult", Some(1), 0);
        assert_eq!(
            grouping.place(pupil, "adult", 9 * MINUTE),
            Placement::Joined(1)
        );
        // Still trying after ten minutes: the lead hears again.
        assert_eq!(grouping.place(pupil, "adult", 10 * MINUTE), Placement::New);
        // Expiry keeps an alert until its hits are stored.
        grouping.expire(11 * MINUTE);
        assert_eq!(grouping.len(), 1);
        grouping.take_pending();
        grouping.expire(11 * MINUTE);
        assert!(grouping.is_empty());
    }

    #[test]
    fn an_acknowledged_alert_takes_no_more_hits() {
        let mut grouping = AlertGrouping::new(Duration::from_secs(600));
        let pupil = ip("10.0.0.5");
        grouping.opened(pupil, "adult", Some(3), 0);
        grouping.place(pupil, "adult", 1000);
        assert_eq!(grouping.close(3), Some((3, 1, 1000)));
        assert_eq!(grouping.place(pupil, "adult", 2000), Placement::New);
        assert_eq!(grouping.close(3), None);
    }

    #[test]
    fn an_unstored_alert_still_groups_its_hits() {
        let mut grouping = AlertGrouping::new(Duration::from_secs(600));
        let pupil = ip("10.0.0.5");
        grouping.opened(pupil, "adult", None, 0);
        assert_eq!(grouping.place(pupil, "adult", 1000), Placement::Joined(0));
        assert_eq!(grouping.take_pending(), vec![]);
    }
}
