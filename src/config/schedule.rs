//! Time rules for a group as configured (`[[groups.schedule]]`): the days,
//! the times and what each rule blocks, read in the group's time zone.
//! What a schedule means at a moment is `policy`'s business.

use jiff::tz::TimeZone;

use super::CategorySet;

/// One rule: on `days` (Monday = 0), from `from` to `to` (minutes after
/// local midnight; `to <= from` runs past midnight into the next day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRule {
    pub name: String,
    pub days: [bool; 7],
    pub from: u16,
    pub to: u16,
    pub block: CategorySet,
    /// Everything is blocked except the group's allow entries.
    pub block_all: bool,
}

/// A group's rules and the zone they are read in.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub time_zone: TimeZone,
    pub zone_name: String,
    pub rules: Vec<ScheduleRule>,
}

impl Schedule {
    /// No rules (UTC, never in force).
    pub fn none() -> Schedule {
        Schedule {
            time_zone: TimeZone::UTC,
            zone_name: "UTC".to_string(),
            rules: Vec::new(),
        }
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Schedule) -> bool {
        self.zone_name == other.zone_name && self.rules == other.rules
    }
}

impl Eq for Schedule {}

/// Parses `HH:MM` into minutes after midnight (`24:00` is allowed as 1440,
/// meaning the end of the day).
pub fn parse_clock(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 || h == 24 && m == 0).then_some(h * 60 + m)
}

/// Parses days: `all`, `weekdays`, `weekends`, a day (`mon`), a range
/// (`mon-fri`, `sat-sun`), or several of those separated by commas.
pub fn parse_days(text: &str) -> Option<[bool; 7]> {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let day = |s: &str| {
        let s = s.trim().to_ascii_lowercase();
        NAMES
            .iter()
            .position(|n| s == *n || (s.len() > 3 && n.starts_with(&s[..3]) && full_name(n) == s))
    };
    let mut days = [false; 7];
    for part in text.split(',') {
        let part = part.trim().to_ascii_lowercase();
        match part.as_str() {
            "all" | "daily" | "every day" => days = [true; 7],
            "weekdays" => days[..5].iter_mut().for_each(|d| *d = true),
            "weekends" | "weekend" => days[5..].iter_mut().for_each(|d| *d = true),
            _ => match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a)?, day(b)?);
                    let mut i = a;
                    loop {
                        days[i] = true;
                        if i == b {
                            break;
                        }
                        i = (i + 1) % 7;
                    }
                }
                None => days[day(&part)?] = true,
            },
        }
    }
    days.iter().any(|d| *d).then_some(days)
}

fn full_name(short: &str) -> &'static str {
    match short {
        "mon" => "monday",
        "tue" => "tuesday",
        "wed" => "wednesday",
        "thu" => "thursday",
        "fri" => "friday",
        "sat" => "saturday",
        _ => "sunday",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_clocks_parse() {
        assert_eq!(
            parse_days("mon-fri"),
            Some([true, true, true, true, true, false, false])
        );
        assert_eq!(parse_days("sat-sun"), parse_days("weekends"));
        assert_eq!(
            parse_days("fri-mon"),
            Some([true, false, false, false, true, true, true])
        );
        assert_eq!(
            parse_days("mon, wed,Friday"),
            Some([true, false, true, false, true, false, false])
        );
        assert_eq!(parse_days("all"), Some([true; 7]));
        assert_eq!(parse_days("someday"), None);
        assert_eq!(parse_clock("08:30"), Some(510));
        assert_eq!(parse_clock("24:00"), Some(1440));
        assert_eq!(parse_clock("25:00"), None);
        assert_eq!(parse_clock("8.30"), None);
    }
}
