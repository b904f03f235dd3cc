//! Times as people and spreadsheets read them: local time with the zone
//! shown for people, RFC 3339 with its offset for JSON and CSV. Every
//! renderer (the command line's tables, reports, the web console) prints
//! times through these, so that a time reads the same wherever it is shown.
//! A time that cannot be shown (out of range) is printed as its raw
//! milliseconds rather than dropped.

use std::time::SystemTime;

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// `ms` since the epoch in the system's time zone; `None` out of range.
fn zoned(ms: i64) -> Option<Zoned> {
    Some(
        Timestamp::from_millisecond(ms)
            .ok()?
            .to_zoned(TimeZone::system()),
    )
}

/// `2026-03-01 09:00:00 GMT`: for tables and reports, read by people.
pub fn format_local(ms: i64) -> String {
    zoned(ms).map_or_else(
        || format!("{ms} ms"),
        |z| z.strftime("%Y-%m-%d %H:%M:%S %Z").to_string(),
    )
}

/// `09:00:05`: the time of day alone, for a second time in a table row.
pub fn format_local_time(ms: i64) -> String {
    zoned(ms).map_or_else(
        || format!("{ms} ms"),
        |z| z.strftime("%H:%M:%S").to_string(),
    )
}

/// `2026-03-01T09:00:00.123+00:00`: RFC 3339 in local time, for JSON and
/// CSV (a spreadsheet reads it; the offset keeps it unambiguous).
pub fn format_rfc3339(ms: i64) -> String {
    zoned(ms).map_or_else(
        || format!("{ms}"),
        |z| z.strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
    )
}

/// A `SystemTime` in local time with its zone.
pub fn format_time(time: SystemTime) -> String {
    Timestamp::try_from(time).map_or_else(
        |_| format!("{time:?}"),
        |stamp| format_local(stamp.as_millisecond()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_out_of_range_is_shown_as_its_milliseconds() {
        assert_eq!(format_local(i64::MAX), format!("{} ms", i64::MAX));
        assert_eq!(format_local_time(i64::MAX), format!("{} ms", i64::MAX));
        assert_eq!(format_rfc3339(i64::MAX), i64::MAX.to_string());
    }

    #[test]
    fn rfc3339_keeps_milliseconds_and_the_offset() {
        let text = format_rfc3339(1_793_620_800_123);
        let back: Timestamp = text.parse().unwrap();
        assert_eq!(back.as_millisecond(), 1_793_620_800_123, "{text}");
        assert!(text.contains(".123"), "{text}");
    }
}
