//! Times in answers meant to be read by a person.

use std::time::SystemTime;

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A `SystemTime` in the machine's local time with its zone:
/// `2026-03-01 09:00:00 GMT`.
pub fn format_time(time: SystemTime) -> String {
    Timestamp::try_from(time).map_or_else(
        |_| format!("{time:?}"),
        |stamp| {
            stamp
                .to_zoned(TimeZone::system())
                .strftime("%Y-%m-%d %H:%M:%S %Z")
                .to_string()
        },
    )
}
