//! Times on the command line: read as RFC 3339, as a local date or date and
//! time, as `now`, or as an age (`2h`, `3d`); printed in local time with the
//! zone shown, by the formatters of [`crate::service::time`] (so that a
//! time reads the same in a table, a report and the web console).

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// Reads a point in time: `2026-03-01T09:00:00Z` (or any RFC 3339 offset),
/// `2026-03-01` (local midnight), `2026-03-01 09:00` or `2026-03-01T09:00`
/// (local), `now`, or an age such as `2h` meaning that long ago.
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    parse_time_in(text, &TimeZone::system(), Timestamp::now())
}

fn parse_time_in(text: &str, zone: &TimeZone, now: Timestamp) -> Result<Timestamp, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(age) = parse_age(text) {
        return now
            .checked_sub(age)
            .map_err(|_| format!("{text:?} reaches too far back"));
    }
    if let Ok(stamp) = text.parse::<Timestamp>() {
        return Ok(stamp);
    }
    let local = |civil: DateTime| {
        zone.to_ambiguous_zoned(civil)
            .later()
            .map(|z| z.timestamp())
            .map_err(|e| format!("{text:?}: {e}"))
    };
    // A date alone is local midnight; jiff would read a date out of a date
    // and time, so the longer form goes first.
    if let Ok(civil) = text.replacen(' ', "T", 1).parse::<DateTime>() {
        return local(civil);
    }
    if let Ok(date) = text.parse::<Date>() {
        return local(date.to_datetime(jiff::civil::Time::midnight()));
    }
    Err(format!(
        "{text:?} is not a time: use 2026-03-01T09:00:00Z, 2026-03-01, \"2026-03-01 09:00\", now, or an age such as 2h or 3d"
    ))
}

/// Reads an age: a whole number and a unit, `s`, `m`, `h`, `d` or `w`.
pub fn parse_age(text: &str) -> Result<SignedDuration, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not an age: use a number and s, m, h, d or w, e.g. 2h or 3d");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    number
        .checked_mul(seconds)
        .map(SignedDuration::from_secs)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn london() -> TimeZone {
        TimeZone::get("Europe/London").unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn times_in_every_accepted_form() {
        let now = at("2026-07-01T12:00:00Z");
        let zone = london();
        let parse = |text| parse_time_in(text, &zone, now).unwrap();
        assert_eq!(parse("2026-03-01T09:00:00Z"), at("2026-03-01T09:00:00Z"));
        assert_eq!(
            parse("2026-07-01T09:00:00+02:00"),
            at("2026-07-01T07:00:00Z")
        );
        // Local midnight: BST in July, GMT in March.
        assert_eq!(parse("2026-07-01"), at("2026-06-30T23:00:00Z"));
        assert_eq!(parse("2026-03-01"), at("2026-03-01T00:00:00Z"));
        assert_eq!(parse("2026-07-01 09:30"), at("2026-07-01T08:30:00Z"));
        assert_eq!(parse("now"), now);
        assert_eq!(parse("2h"), at("2026-07-01T10:00:00Z"));
        assert_eq!(parse("3d"), at("2026-06-28T12:00:00Z"));
        let error = parse_time_in("yesterday", &zone, now).unwrap_err();
        assert!(error.contains("\"yesterday\" is not a time"), "{error}");
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("90s").unwrap(), SignedDuration::from_secs(90));
        assert_eq!(parse_age("1w").unwrap(), SignedDuration::from_hours(168));
        assert!(parse_age("2 hours").is_err());
        assert!(parse_age("h").is_err());
        assert!(parse_age("99999999999999999d").is_err());
    }
}
