//! What people type into the console, pages and API alike, read into the
//! service's types; each error names the field and says what was wrong.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

use super::error::ApiError;
use crate::policy::{ExemptionKind, ExemptionScope, NewExemption};
use crate::store::{LogFilter, NamePattern, now_ms};

/// A time typed in: RFC 3339 (`2026-03-02T15:00:00Z`, any offset), or a
/// date and time (`2026-03-02T15:00`, as a browser's date-time field sends
/// it, or `2026-03-02 15:00`) in the server's time zone. `field` names it
/// in the error.
pub fn parse_time(field: &str, text: &str) -> Result<i64, ApiError> {
    let text = text.trim();
    if let Ok(stamp) = text.parse::<jiff::Timestamp>() {
        return Ok(stamp.as_millisecond());
    }
    if let Ok(civil) = text.replacen(' ', "T", 1).parse::<jiff::civil::DateTime>()
        && let Ok(zoned) = jiff::tz::TimeZone::system()
            .to_ambiguous_zoned(civil)
            .later()
    {
        return Ok(zoned.timestamp().as_millisecond());
    }
    Err(ApiError::bad_input(
        field,
        format!("{text:?} is not a time: use 2026-03-02T15:00:00Z or \"2026-03-02 15:00\""),
    ))
}

/// A request for a site to be allowed, as typed: the name, a group or a
/// client address (one of them), the reason, an optional start and the
/// end.
#[derive(Debug, Clone, Default)]
pub struct SiteRequest {
    pub name: String,
    pub group: Option<String>,
    pub client: Option<String>,
    pub reason: String,
    pub from: Option<String>,
    pub until: String,
}

impl SiteRequest {
    /// The request as the service takes it, the caller its requester.
    pub fn read(self) -> Result<NewExemption, ApiError> {
        let name = crate::config::normalize(&self.name).map_err(|problem| {
            ApiError::bad_input(
                "name",
                format!("{:?} is not a name hedge can exempt: {problem}", self.name),
            )
        })?;
        let present = |value: Option<String>| {
            value
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let scope = match (present(self.group), present(self.client)) {
            (Some(group), None) => ExemptionScope::Group(group),
            (None, Some(client)) => {
                let ip = client.parse::<IpAddr>().map_err(|_| {
                    ApiError::bad_input("client", format!("{client:?} is not an IP address"))
                })?;
                ExemptionScope::Client(ip.to_canonical())
            }
            _ => {
                return Err(ApiError::bad_input(
                    "group",
                    "give either a group or a client address (not both)",
                ));
            }
        };
        let from_ms = match present(self.from) {
            Some(from) => parse_time("from", &from)?,
            None => now_ms(),
        };
        Ok(NewExemption {
            kind: ExemptionKind::Site,
            name: Some(name),
            scope,
            reason: self.reason,
            // Empty: the caller's own person.
            requested_by: String::new(),
            from_ms,
            until_ms: parse_time("until", &self.until)?,
        })
    }
}

/// Rows a search returns when no limit is given, and at most.
const DEFAULT_ROWS: u64 = 1000;
const MAX_ROWS: u64 = 10_000;

/// A search of the log as asked for in an address's query.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSearch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub client: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub limit: Option<u64>,
}

/// The filter a search asks for; bad fields are named. At most
/// 10,000 rows, 1,000 unless `limit` says otherwise.
pub fn log_filter(search: LogSearch) -> Result<LogFilter, ApiError> {
    let present = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let name = present(search.name)
        .map(|name| NamePattern::parse(&name).map_err(|e| ApiError::bad_input("name", e)))
        .transpose()?;
    let client = present(search.client)
        .map(|client| {
            let text = client.trim();
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    ApiError::bad_input(
                        "client",
                        format!("{client:?} is not an address or network"),
                    )
                })
        })
        .transpose()?;
    let from_ms = present(search.from)
        .map(|t| parse_time("from", &t))
        .transpose()?;
    let to_ms = present(search.to)
        .map(|t| parse_time("to", &t))
        .transpose()?;
    Ok(LogFilter {
        name,
        client,
        from_ms,
        to_ms,
        limit: Some(search.limit.unwrap_or(DEFAULT_ROWS).clamp(1, MAX_ROWS)),
        ..LogFilter::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_its_bad_field() {
        let good = SiteRequest {
            name: "Bet.Example.".into(),
            group: Some("pupils".into()),
            reason: "lesson".into(),
            until: "2030-01-01T10:00:00Z".into(),
            ..SiteRequest::default()
        };
        let read = good.clone().read().unwrap();
        assert_eq!(read.name.as_deref(), Some("bet.example"));
        assert_eq!(read.scope, ExemptionScope::Group("pupils".into()));
        let both = SiteRequest {
            client: Some("10.0.0.1".into()),
            ..good.clone()
        };
        assert!(both.read().unwrap_err().message.starts_with("group:"));
        let blank_group = SiteRequest {
            group: Some(" ".into()),
            client: Some("10.0.0.1".into()),
            ..good.clone()
        };
        assert_eq!(
            blank_group.read().unwrap().scope,
            ExemptionScope::Client("10.0.0.1".parse().unwrap())
        );
        let late = SiteRequest {
            until: "Thursday".into(),
            ..good.clone()
        };
        assert!(late.read().unwrap_err().message.starts_with("until:"));
        let bad_name = SiteRequest {
            name: "no spaces please".into(),
            ..good
        };
        assert!(bad_name.read().unwrap_err().message.starts_with("name:"));
    }

    #[test]
    fn a_browser_date_time_is_local() {
        let civil = parse_time("from", "2026-03-02T15:00").unwrap();
        let spaced = parse_time("from", "2026-03-02 15:00").unwrap();
        assert_eq!(civil, spaced);
        assert!(parse_time("from", "soon").is_err());
    }
}
