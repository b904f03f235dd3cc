//! When a scheduled report (`[[reports.scheduled]]`) falls due and which
//! period it covers, in local time (daylight saving included). A report
//! covers whole local days: from the previous sending day up to, not
//! including, the day it is sent. A daily report sent on Tuesday covers
//! Monday; a weekly one sent on a Monday, the seven days before; a monthly
//! one sent on the 1st, the month before (on the 15th: from the 15th of the
//! month before to the 14th).

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use crate::config::{ReportEvery, ScheduledReport};

/// Whether the schedule sends on `date`.
fn sends_on(schedule: &ScheduledReport, date: Date) -> bool {
    match schedule.every {
        ReportEvery::Day => true,
        ReportEvery::Week { weekday } => {
            date.weekday().to_monday_zero_offset() == i8::try_from(weekday).unwrap_or(-1)
        }
        ReportEvery::Month { day } => date.day() == i8::try_from(day).unwrap_or(-1),
    }
}

/// The moment of the sending time on `date` (a time skipped by a clock
/// change is taken as the moment after it).
fn due_on(schedule: &ScheduledReport, zone: &TimeZone, date: Date) -> Option<Timestamp> {
    let hour = i8::try_from(schedule.minute / 60).ok()?;
    let minute = i8::try_from(schedule.minute % 60).ok()?;
    zone.to_zoned(date.at(hour, minute, 0, 0))
        .ok()
        .map(|z| z.timestamp())
}

/// Far enough to find any sending day (a month and a bit).
const SEARCH_DAYS: i64 = 40;

/// The latest moment at or before `now` when the schedule fell due.
pub fn due_at_or_before(
    schedule: &ScheduledReport,
    zone: &TimeZone,
    now: Timestamp,
) -> Option<Timestamp> {
    let mut date = now.to_zoned(zone.clone()).date();
    for _ in 0..SEARCH_DAYS {
        if sends_on(schedule, date)
            && let Some(due) = due_on(schedule, zone, date)
            && due <= now
        {
            return Some(due);
        }
        date = date.yesterday().ok()?;
    }
    None
}

/// The first moment after `after` when the schedule falls due.
pub fn due_after(
    schedule: &ScheduledReport,
    zone: &TimeZone,
    after: Timestamp,
) -> Option<Timestamp> {
    let mut date = after.to_zoned(zone.clone()).date();
    for _ in 0..SEARCH_DAYS {
        if sends_on(schedule, date)
            && let Some(due) = due_on(schedule, zone, date)
            && due > after
        {
            return Some(due);
        }
        date = date.tomorrow().ok()?;
    }
    None
}

/// The period `[from, to)` a send due at `due` reports on.
pub fn period(
    schedule: &ScheduledReport,
    zone: &TimeZone,
    due: Timestamp,
) -> Option<(Timestamp, Timestamp)> {
    let day = due.to_zoned(zone.clone()).date();
    let first = match schedule.every {
        ReportEvery::Day => day.yesterday().ok()?,
        ReportEvery::Week { .. } => day.checked_sub(7.days()).ok()?,
        ReportEvery::Month { .. } => day.checked_sub(1.month()).ok()?,
    };
    let start = first.to_zoned(zone.clone()).ok()?.timestamp();
    let end = day.to_zoned(zone.clone()).ok()?.timestamp();
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AttachedFormat;

    fn schedule(every: ReportEvery, minute: u16) -> ScheduledReport {
        ScheduledReport {
            every,
            minute,
            to: vec!["dsl@school.example".into()],
            format: AttachedFormat::Html,
        }
    }

    fn london() -> TimeZone {
        TimeZone::get("Europe/London").unwrap()
    }

    fn at(text: &str) -> Timestamp {
        jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", text)
            .unwrap()
            .to_zoned(london())
            .unwrap()
            .timestamp()
    }

    #[test]
    fn a_weekly_report_on_monday_covers_the_week_before() {
        let weekly = schedule(ReportEvery::Week { weekday: 0 }, 7 * 60);
        // Wednesday 5 November 2025.
        let now = at("2025-11-05 12:00");
        let due = due_at_or_before(&weekly, &london(), now).unwrap();
        assert_eq!(due, at("2025-11-03 07:00"));
        assert_eq!(
            due_after(&weekly, &london(), due).unwrap(),
            at("2025-11-10 07:00")
        );
        let (from, to) = period(&weekly, &london(), due).unwrap();
        assert_eq!((from, to), (at("2025-10-27 00:00"), at("2025-11-03 00:00")));
    }

    #[test]
    fn a_daily_report_covers_yesterday_and_is_due_at_its_time() {
        let daily = schedule(ReportEvery::Day, 7 * 60);
        let before = at("2025-11-05 06:59");
        assert_eq!(
            due_at_or_before(&daily, &london(), before).unwrap(),
            at("2025-11-04 07:00")
        );
        let due = due_after(&daily, &london(), before).unwrap();
        assert_eq!(due, at("2025-11-05 07:00"));
        assert_eq!(
            period(&daily, &london(), due).unwrap(),
            (at("2025-11-04 00:00"), at("2025-11-05 00:00"))
        );
    }

    #[test]
    fn a_monthly_report_covers_the_month_before_across_a_clock_change() {
        let monthly = schedule(ReportEvery::Month { day: 1 }, 6 * 60);
        let due = due_after(&monthly, &london(), at("2025-10-15 00:00")).unwrap();
        assert_eq!(due, at("2025-11-01 06:00"));
        let (from, to) = period(&monthly, &london(), due).unwrap();
        assert_eq!((from, to), (at("2025-10-01 00:00"), at("2025-11-01 00:00")));
        // October 2025 had 31 days and one 25-hour day (26 October).
        assert_eq!(to.as_second() - from.as_second(), 31 * 86_400 + 3_600);
    }
}
