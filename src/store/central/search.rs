//! Searching the query log every site shipped: the filters of a site's own
//! search ([`LogFilter`]) and a site, newest first. Each filter is one the
//! central indexes answer: a name or a name and everything below it is
//! one range of `name_key` (compared byte by byte, `COLLATE "C"`, as at
//! the sites), a client network one range of `client_ip` (`<<=`), and a
//! period prunes the query log's day partitions.

use std::net::IpAddr;

use serde::Serialize;
use sqlx::postgres::{PgPool, PgRow, Postgres};
use sqlx::{QueryBuilder, Row};

use super::CentralError;
use crate::config::Mac;
use crate::store::{
    Action, LogFilter, MAX_REPEAT_WINDOW_MS, NamePattern, StoredQuery, name_from_key, name_key,
};

/// A central search: a site's filter, and which site (`None`: all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CentralFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    pub filter: LogFilter,
}

/// A query-log row as the centre holds it: the site it came from and the
/// row as the site recorded it (its `id` the site's own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CentralQuery {
    pub site: String,
    #[serde(flatten)]
    pub query: StoredQuery,
}

impl CentralFilter {
    /// Refuses a filter that cannot be meant: a period that runs
    /// backwards, or a blank site.
    pub fn check(&self) -> Result<(), CentralError> {
        if let (Some(from), Some(to)) = (self.filter.from_ms, self.filter.to_ms)
            && to <= from
        {
            return Err(CentralError::Invalid(
                "--to is not after --from: the period is empty".into(),
            ));
        }
        if let Some(site) = &self.site
            && site.trim().is_empty()
        {
            return Err(CentralError::Invalid(
                "--site \"\": name a site as it ships ([central] site)".into(),
            ));
        }
        Ok(())
    }

    /// The statement, its values bound.
    fn query(&self) -> QueryBuilder<'_, Postgres> {
        let filter = &self.filter;
        let mut sql = QueryBuilder::new(
            "SELECT site, id, at_ms, host(client_ip) AS client_ip, mac::text AS mac, \
             client_name, dhcp_name, group_name, name_key, qtype, action, category, rule, \
             rcode, upstream_us, times, last_ms FROM queries WHERE true",
        );
        if let Some(site) = &self.site {
            sql.push(" AND site = ").push_bind(site);
        }
        if let Some(from) = filter.from_ms {
            // A row of repeats that began before `from` but went on past
            // it is found too (as at the sites).
            sql.push(" AND at_ms >= ")
                .push_bind(from.saturating_sub(MAX_REPEAT_WINDOW_MS))
                .push(" AND coalesce(last_ms, at_ms) >= ")
                .push_bind(from);
        }
        if let Some(to) = filter.to_ms {
            sql.push(" AND at_ms < ").push_bind(to);
        }
        if let Some(net) = filter.client {
            sql.push(" AND client_ip <<= ")
                .push_bind(net.trunc().to_string())
                .push("::inet");
        }
        match &filter.name {
            Some(NamePattern::Exact(name)) => {
                sql.push(" AND name_key = ")
                    .push_bind(name_key(name))
                    .push(" COLLATE \"C\"");
            }
            Some(NamePattern::Suffix(name)) => {
                // '/' sorts right after '.': the range holds the name and
                // everything below it, and names like "example-x" that the
                // last test removes.
                let key = name_key(name);
                sql.push(" AND name_key >= ")
                    .push_bind(key.clone())
                    .push(" COLLATE \"C\" AND name_key < ")
                    .push_bind(format!("{key}/"))
                    .push(" COLLATE \"C\" AND (substr(name_key, ")
                    .push_bind(key.len() as i32 + 1)
                    .push(", 1) = '.' OR name_key = ")
                    .push_bind(key)
                    .push(" COLLATE \"C\")");
            }
            None => {}
        }
        if let Some(group) = &filter.group {
            sql.push(" AND group_name = ").push_bind(group);
        }
        if let Some(action) = filter.action {
            sql.push(" AND action = ").push_bind(action.as_str());
        }
        if let Some(category) = &filter.category {
            sql.push(" AND category = ").push_bind(category);
        }
        if let Some(mac) = filter.mac {
            sql.push(" AND mac = ")
                .push_bind(mac.to_string())
                .push("::macaddr");
        }
        sql.push(" ORDER BY at_ms DESC, site, id DESC");
        if let Some(limit) = filter.limit {
            sql.push(" LIMIT ")
                .push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        sql
    }
}

/// Runs `filter` at the centre: every matching row (up to its limit),
/// newest first, sites interleaved by time.
pub async fn search(
    pool: &PgPool,
    filter: &CentralFilter,
) -> Result<Vec<CentralQuery>, CentralError> {
    filter.check()?;
    let mut query = filter.query();
    let rows = query.build().fetch_all(pool).await?;
    rows.iter().map(central_query).collect()
}

fn central_query(row: &PgRow) -> Result<CentralQuery, CentralError> {
    let site: String = row.try_get("site")?;
    let id: i64 = row.try_get("id")?;
    let corrupt =
        |what: &str| CentralError::Invalid(format!("site {site:?} query-log row {id}: {what}"));
    let ip: String = row.try_get("client_ip")?;
    let action: String = row.try_get("action")?;
    let key: String = row.try_get("name_key")?;
    let mac: Option<String> = row.try_get("mac")?;
    let query = StoredQuery {
        id,
        at_ms: row.try_get("at_ms")?,
        client: ip
            .parse::<IpAddr>()
            .map_err(|_| corrupt("client address unreadable"))?,
        client_name: row.try_get("client_name")?,
        group: row.try_get("group_name")?,
        name: name_from_key(&key),
        qtype: u16::try_from(row.try_get::<i32, _>("qtype")?)
            .map_err(|_| corrupt("query type out of range"))?,
        action: Action::parse(&action).ok_or_else(|| corrupt("unknown action"))?,
        category: row.try_get("category")?,
        rule: row.try_get("rule")?,
        rcode: u16::try_from(row.try_get::<i32, _>("rcode")?)
            .map_err(|_| corrupt("response code out of range"))?,
        upstream_us: row
            .try_get::<Option<i32>, _>("upstream_us")?
            .and_then(|us| u32::try_from(us).ok()),
        times: u32::try_from(row.try_get::<i32, _>("times")?)
            .map_err(|_| corrupt("times asked out of range"))?,
        last_ms: row.try_get("last_ms")?,
        mac: mac
            .map(|mac| mac.parse::<Mac>())
            .transpose()
            .map_err(|_| corrupt("MAC address unreadable"))?,
        dhcp_name: row.try_get("dhcp_name")?,
    };
    Ok(CentralQuery { site, query })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suffix_search_is_one_range_of_the_name_index() {
        let filter = CentralFilter {
            site: Some("north".into()),
            filter: LogFilter {
                name: Some(NamePattern::Suffix("example.com".into())),
                client: Some("10.1.2.0/24".parse().unwrap()),
                limit: Some(5),
                ..LogFilter::default()
            },
        };
        let sql = filter.query().into_sql();
        assert!(
            sql.contains("site = $1 AND client_ip <<= $2::inet"),
            "{sql}"
        );
        assert!(
            sql.contains("name_key >= $3 COLLATE \"C\" AND name_key < $4"),
            "{sql}"
        );
        assert!(
            sql.ends_with("ORDER BY at_ms DESC, site, id DESC LIMIT $7"),
            "{sql}"
        );
    }

    #[test]
    fn a_backwards_period_is_refused_naming_the_flags() {
        let filter = CentralFilter {
            site: None,
            filter: LogFilter {
                from_ms: Some(10),
                to_ms: Some(5),
                ..LogFilter::default()
            },
        };
        let error = filter.check().unwrap_err().to_string();
        assert!(error.contains("--to"), "{error}");
    }
}
