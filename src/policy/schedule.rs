//! Time rules for a group: "games and social networking blocked Mon-Fri
//! 08:30-15:30", or a foster home's bedtime, "everything but the allow list
//! from 21:00 to 07:00". Rules are read in the group's time zone (daylight
//! saving included), may span midnight, and combine. Evaluation takes the
//! time as an argument: one clock per query, and tests use a fixed one.

use jiff::Timestamp;

use crate::config::{CategorySet, Schedule, ScheduleRule};

/// What a group's schedule adds at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActiveRules {
    pub block: CategorySet,
    pub block_all: bool,
    /// Bit i set: rule i is in force.
    pub rules: u64,
}

impl ActiveRules {
    pub fn is_empty(&self) -> bool {
        self.rules == 0
    }
}

impl ScheduleRule {
    /// Whether the rule is in force at `minute` of a day that is `weekday`.
    pub fn covers(&self, weekday: usize, minute: u16) -> bool {
        let yesterday = (weekday + 6) % 7;
        if self.from < self.to {
            self.days[weekday] && (self.from..self.to).contains(&minute)
        } else if self.from == self.to {
            // From a time to the same time: the whole day.
            self.days[weekday]
        } else {
            (self.days[weekday] && minute >= self.from)
                || (self.days[yesterday] && minute < self.to)
        }
    }
}

impl Schedule {
    /// The rules in force at `now`.
    pub fn active(&self, now: Timestamp) -> ActiveRules {
        let mut active = ActiveRules::default();
        if self.rules.is_empty() {
            return active;
        }
        let local = now.to_zoned(self.time_zone.clone());
        let weekday = local.weekday().to_monday_zero_offset() as usize;
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        for (i, rule) in self.rules.iter().enumerate().take(64) {
            if rule.covers(weekday, minute) {
                active.block = active.block.union(rule.block);
                active.block_all |= rule.block_all;
                active.rules |= 1 << i;
            }
        }
        active
    }

    /// When the set of rules in force next changes after `now`, looking up
    /// to eight days ahead (rules are weekly).
    pub fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        let current = self.active(now).rules;
        let start = now.as_second() - now.as_second().rem_euclid(60);
        (1..=8 * 24 * 60)
            .map(|m| Timestamp::from_second(start + m * 60).expect("in range"))
            .find(|t| self.active(*t).rules != current)
    }
}

#[cfg(test)]
mod tests {
    use jiff::tz::TimeZone;

    use super::*;
    use crate::config::{CategoryId, parse_clock, parse_days};

    fn london(rules: Vec<ScheduleRule>) -> Schedule {
        Schedule {
            time_zone: TimeZone::get("Europe/London").unwrap(),
            zone_name: "Europe/London".into(),
            rules,
        }
    }

    fn rule(name: &str, days: &str, from: &str, to: &str) -> ScheduleRule {
        ScheduleRule {
            name: name.into(),
            days: parse_days(days).unwrap(),
            from: parse_clock(from).unwrap(),
            to: parse_clock(to).unwrap(),
            block: CategorySet::only(CategoryId(3)),
            block_all: false,
        }
    }

    fn at(utc: &str) -> Timestamp {
        utc.parse().unwrap()
    }

    #[test]
    fn school_hours_on_weekdays() {
        let s = london(vec![rule("lessons", "mon-fri", "08:30", "15:30")]);
        // Monday 23 Nov 2026, GMT (UTC+0).
        assert!(!s.active(at("2026-11-23T08:29:00Z")).block_all);
        assert_eq!(s.active(at("2026-11-23T08:29:00Z")).rules, 0);
        assert_eq!(s.active(at("2026-11-23T08:30:00Z")).rules, 1);
        assert_eq!(s.active(at("2026-11-23T15:29:59Z")).rules, 1);
        assert_eq!(s.active(at("2026-11-23T15:30:00Z")).rules, 0);
        // Saturday.
        assert_eq!(s.active(at("2026-11-28T10:00:00Z")).rules, 0);
        // In summer, 08:30 London is 07:30 UTC.
        assert_eq!(s.active(at("2026-06-15T07:30:00Z")).rules, 1);
        assert_eq!(s.active(at("2026-06-15T14:45:00Z")).rules, 0);
    }

    #[test]
    fn bedtime_spans_midnight() {
        let s = london(vec![rule("bedtime", "sun-thu", "21:00", "07:00")]);
        // Thursday 21:30 and Friday 06:59 (Thursday's night) are in force.
        assert_eq!(s.active(at("2026-11-26T21:30:00Z")).rules, 1);
        assert_eq!(s.active(at("2026-11-27T06:59:00Z")).rules, 1);
        // Friday night is not a school night.
        assert_eq!(s.active(at("2026-11-27T22:00:00Z")).rules, 0);
        assert_eq!(s.active(at("2026-11-28T06:00:00Z")).rules, 0);
        // Sunday night, into Monday morning.
        assert_eq!(s.active(at("2026-11-30T06:00:00Z")).rules, 1);
    }

    #[test]
    fn both_daylight_saving_changes() {
        let s = london(vec![rule("bedtime", "all", "21:00", "07:00")]);
        // Clocks go forward at 01:00 UTC on Sunday 29 March 2026.
        assert_eq!(s.active(at("2026-03-29T00:30:00Z")).rules, 1, "00:30 GMT");
        assert_eq!(s.active(at("2026-03-29T05:59:00Z")).rules, 1, "06:59 BST");
        assert_eq!(s.active(at("2026-03-29T06:00:00Z")).rules, 0, "07:00 BST");
        assert_eq!(
            s.active(at("2026-03-28T20:30:00Z")).rules,
            0,
            "20:30 GMT on Saturday"
        );
        assert_eq!(
            s.active(at("2026-03-29T20:00:00Z")).rules,
            1,
            "21:00 BST on Sunday"
        );
        // Clocks go back at 01:00 UTC on Sunday 25 October 2026.
        assert_eq!(s.active(at("2026-10-24T20:00:00Z")).rules, 1, "21:00 BST");
        assert_eq!(s.active(at("2026-10-25T06:30:00Z")).rules, 1, "06:30 GMT");
        assert_eq!(s.active(at("2026-10-25T07:00:00Z")).rules, 0, "07:00 GMT");
        assert_eq!(s.active(at("2026-10-25T20:59:00Z")).rules, 0, "20:59 GMT");
    }

    #[test]
    fn rules_combine_and_next_change_is_found() {
        let mut games = rule("lessons", "mon-fri", "08:30", "15:30");
        games.block = CategorySet::only(CategoryId(5));
        let mut night = rule("bedtime", "all", "21:00", "07:00");
        night.block_all = true;
        let s = london(vec![games, night]);
        let active = s.active(at("2026-11-23T10:00:00Z"));
        assert_eq!(active.block, CategorySet::only(CategoryId(5)));
        assert!(!active.block_all);
        assert!(s.active(at("2026-11-23T22:00:00Z")).block_all);
        assert_eq!(
            s.next_change(at("2026-11-23T10:00:00Z")),
            Some(at("2026-11-23T15:30:00Z"))
        );
        assert_eq!(
            s.next_change(at("2026-11-23T16:00:00Z")),
            Some(at("2026-11-23T21:00:00Z"))
        );
        assert_eq!(london(vec![]).next_change(at("2026-11-23T16:00:00Z")), None);
    }
}
