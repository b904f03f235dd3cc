//! Searching the query log: by name (exact, or a name and everything below
//! it), period, client address or network, group, action and category;
//! newest first. Each search uses the one index that narrows it most, so a
//! time slot and address range of a ten-million-row log answers at once.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use tokio::sync::mpsc;

use super::record::{
    Action, MAX_REPEAT_WINDOW_MS, StoredQuery, ip_from_key, name_from_key, name_key, net_keys,
};
use super::{Database, StoreError};
use crate::config::Mac;

/// Which names a search matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "match", content = "name", rename_all = "lowercase")]
pub enum NamePattern {
    /// Just this name.
    Exact(String),
    /// This name and every name below it (`*.example.com`).
    Suffix(String),
}

impl NamePattern {
    /// `*.example.com` (or `.example.com`) is the name and everything
    /// below it; anything else is one exact name.
    pub fn parse(text: &str) -> Result<NamePattern, String> {
        let text = text.trim();
        let (suffix, rest) = match text.strip_prefix("*.").or_else(|| text.strip_prefix('.')) {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let name = match crate::config::normalize(rest) {
            Ok(name) => name,
            // Searching for what clients asked, not what lists may hold.
            Err(crate::config::NameProblem::Reserved | crate::config::NameProblem::IpAddress) => {
                rest.trim_end_matches('.').to_ascii_lowercase()
            }
            Err(problem) => return Err(format!("--name {text:?}: {problem}")),
        };
        Ok(if suffix {
            NamePattern::Suffix(name)
        } else {
            NamePattern::Exact(name)
        })
    }
}

impl std::fmt::Display for NamePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NamePattern::Exact(name) => f.write_str(name),
            NamePattern::Suffix(name) => write!(f, "*.{name}"),
        }
    }
}

/// What to search for. Every field narrows; none set matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<NamePattern>,
    /// From this time on (inclusive), Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_ms: Option<i64>,
    /// Before this time (exclusive), Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_ms: Option<i64>,
    /// One address (a /32 or /128) or a network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// One device, by its MAC address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<Mac>,
    /// At most this many rows (the newest); `None`: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// The index a search walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchPlan {
    Device,
    Time,
    Client,
    Name,
    Category,
}

/// A window this short is narrow enough to walk by time whatever else is
/// asked.
const NARROW_WINDOW_MS: i64 = 86_400_000;

impl LogFilter {
    /// Picks the index: an exact address or name first (few rows, already
    /// in time order), then a narrow time window, then a name or address
    /// range, a category, and otherwise time (newest first, stopping at
    /// the limit).
    pub fn plan(&self) -> SearchPlan {
        let single_client = self
            .client
            .is_some_and(|c| c.prefix_len() == c.max_prefix_len());
        let narrow_window = matches!((self.from_ms, self.to_ms),
(Some(from), Some(to)) if to.saturating_sub(from) <= NARROW_WINDOW_MS);
        let window_from_now = self.from_ms.is_some() && self.to_ms.is_none();
        if self.mac.is_some() {
            SearchPlan::Device
        } else if single_client {
            SearchPlan::Client
        } else if matches!(self.name, Some(NamePattern::Exact(_))) {
            SearchPlan::Name
        } else if narrow_window || (window_from_now && self.name.is_none()) {
            SearchPlan::Time
        } else if self.name.is_some() {
            SearchPlan::Name
        } else if self.client.is_some() {
            SearchPlan::Client
        } else if self.category.is_some() {
            SearchPlan::Category
        } else {
            SearchPlan::Time
        }
    }

    /// The SQL and its bound values.
    fn sql(&self) -> (String, Vec<Bound>) {
        let index = match self.plan() {
            SearchPlan::Device => "queries_mac",
            SearchPlan::Time => "queries_at",
            SearchPlan::Client => "queries_client",
            SearchPlan::Name => "queries_name",
            SearchPlan::Category => "queries_category",
        };
        let mut sql = format!(
            "SELECT id, at_ms, client_ip, client_name, group_name, name_key, qtype, action, \
             category, rule, rcode, upstream_us, times, last_ms, q.mac AS mac, \
             d.name AS dhcp_name FROM queries AS q INDEXED BY {index} \
             LEFT JOIN dhcp_names AS d ON d.mac = q.mac WHERE 1"
        );
        let mut binds = Vec::new();
        if let Some(from) = self.from_ms {
            // A row of repeats that began before `from` but went on past it
            // is found too.
            sql.push_str(" AND at_ms >= ? AND coalesce(last_ms, at_ms) >= ?");
            binds.push(Bound::Int(from.saturating_sub(MAX_REPEAT_WINDOW_MS)));
            binds.push(Bound::Int(from));
        }
        if let Some(to) = self.to_ms {
            sql.push_str(" AND at_ms < ?");
            binds.push(Bound::Int(to));
        }
        if let Some(net) = self.client {
            let (lo, hi) = net_keys(&net.trunc());
            if lo == hi {
                sql.push_str(" AND client_ip = ?");
                binds.push(Bound::Blob(lo.to_vec()));
            } else {
                sql.push_str(" AND client_ip BETWEEN ? AND ?");
                binds.push(Bound::Blob(lo.to_vec()));
                binds.push(Bound::Blob(hi.to_vec()));
            }
        }
        match &self.name {
            Some(NamePattern::Exact(name)) => {
                sql.push_str(" AND name_key = ?");
                binds.push(Bound::Text(name_key(name)));
            }
            Some(NamePattern::Suffix(name)) => {
                // '/' sorts right after '.': the range holds the name and
                // everything below it, and names like "example-x" that the
                // last test removes.
                let key = name_key(name);
                sql.push_str(
                    " AND name_key >= ? AND name_key < ? AND (substr(name_key, ?, 1) = '.' OR name_key = ?)",
                );
                binds.push(Bound::Text(key.clone()));
                binds.push(Bound::Text(format!("{key}/")));
                binds.push(Bound::Int(key.len() as i64 + 1));
                binds.push(Bound::Text(key));
            }
            None => {}
        }
        if let Some(group) = &self.group {
            sql.push_str(" AND group_name = ?");
            binds.push(Bound::Text(group.clone()));
        }
        if let Some(action) = self.action {
            sql.push_str(" AND action = ?");
            binds.push(Bound::Text(action.as_str().to_string()));
        }
        if let Some(category) = &self.category {
            sql.push_str(" AND category = ?");
            binds.push(Bound::Text(category.clone()));
        }
        if let Some(mac) = self.mac {
            sql.push_str(" AND q.mac = ?");
            binds.push(Bound::Int(mac.to_u64() as i64));
        }
        sql.push_str(" ORDER BY at_ms DESC, id DESC");
        if let Some(limit) = self.limit {
            sql.push_str(" LIMIT ?");
            binds.push(Bound::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
        }
        (sql, binds)
    }
}

#[derive(Debug, Clone)]
enum Bound {
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

fn stored_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<StoredQuery, StoreError> {
    let ip: Vec<u8> = row.try_get("client_ip")?;
    let action: String = row.try_get("action")?;
    let key: String = row.try_get("name_key")?;
    let id: i64 = row.try_get("id")?;
    let corrupt = |what: &str| StoreError::Invalid(format!("query log row {id}: {what}"));
    Ok(StoredQuery {
        id,
        at_ms: row.try_get("at_ms")?,
        client: ip_from_key(&ip).ok_or_else(|| corrupt("client address is not 16 bytes"))?,
        client_name: row.try_get("client_name")?,
        group: row.try_get("group_name")?,
        name: name_from_key(&key),
        qtype: u16::try_from(row.try_get::<i64, _>("qtype")?)
            .map_err(|_| corrupt("query type out of range"))?,
        action: Action::parse(&action).ok_or_else(|| corrupt("unknown action"))?,
        category: row.try_get("category")?,
        rule: row.try_get("rule")?,
        rcode: u16::try_from(row.try_get::<i64, _>("rcode")?)
            .map_err(|_| corrupt("response code out of range"))?,
        upstream_us: row
            .try_get::<Option<i64>, _>("upstream_us")?
            .and_then(|us| u32::try_from(us).ok()),
        times: u32::try_from(row.try_get::<i64, _>("times")?)
            .map_err(|_| corrupt("times asked out of range"))?,
        last_ms: row.try_get("last_ms")?,
        mac: row
            .try_get::<Option<i64>, _>("mac")?
            .and_then(|mac| Mac::from_u64(mac as u64)),
        dhcp_name: row.try_get("dhcp_name")?,
    })
}

impl Database {
    /// Runs `filter`, sending the rows newest first in chunks of `chunk`
    /// to `sink` as they are read (so an export of millions of rows never
    /// sits in memory). Returns how many rows matched; stops early if the
    /// receiver goes away.
    pub async fn search(
        &self,
        filter: &LogFilter,
        chunk: usize,
        sink: mpsc::Sender<Vec<StoredQuery>>,
    ) -> Result<u64, StoreError> {
        use futures_util::TryStreamExt;
        let (sql, binds) = filter.sql();
        let mut query = sqlx::query(&sql);
        for bound in binds {
            query = match bound {
                Bound::Int(value) => query.bind(value),
                Bound::Text(value) => query.bind(value),
                Bound::Blob(value) => query.bind(value),
            };
        }
        let mut rows = query.fetch(self.pool());
        let mut count = 0u64;
        let mut buffer = Vec::with_capacity(chunk);
        while let Some(row) = rows.try_next().await? {
            buffer.push(stored_from_row(&row)?);
            count += 1;
            if buffer.len() >= chunk {
                let full = std::mem::replace(&mut buffer, Vec::with_capacity(chunk));
                if sink.send(full).await.is_err() {
                    return Ok(count);
                }
            }
        }
        if !buffer.is_empty() {
            let _ = sink.send(buffer).await;
        }
        Ok(count)
    }

    /// Runs `filter` and collects every row (small searches, tests).
    pub async fn search_all(&self, filter: &LogFilter) -> Result<Vec<StoredQuery>, StoreError> {
        let (sender, mut receiver) = mpsc::channel(4);
        let search = self.search(filter, 1000, sender);
        let collect = async {
            let mut all = Vec::new();
            while let Some(rows) = receiver.recv().await {
                all.extend(rows);
            }
            all
        };
        let (count, rows) = tokio::join!(search, collect);
        count?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::store::QueryRecord;

    fn record(at_ms: i64, client: &str, name: &str, action: Action) -> QueryRecord {
        QueryRecord {
            at_ms,
            client: client.parse::<IpAddr>().unwrap(),
            client_name: None,
            mac: None,
            group: Some(
                if client.starts_with("10.1.") {
                    "pupils"
                } else {
                    "staff"
                }
                .into(),
            ),
            name: name.into(),
            qtype: 1,
            action,
            category: (action == Action::Blocked).then(|| "adult".to_string()),
            rule: None,
            rcode: 0,
            upstream_us: Some(1500),
        }
    }

    #[test]
    fn patterns_parse() {
        assert_eq!(
            NamePattern::parse("*.Example.COM.").unwrap(),
            NamePattern::Suffix("example.com".into())
        );
        assert_eq!(
            NamePattern::parse("www.example.com").unwrap(),
            NamePattern::Exact("www.example.com".into())
        );
        assert!(NamePattern::parse("a..b").is_err());
    }

    #[test]
    fn plans_pick_the_narrowest_index() {
        let one: IpNet = "10.1.2.3/32".parse().unwrap();
        let range: IpNet = "10.1.0.0/16".parse().unwrap();
        let hour = |f: &mut LogFilter| {
            f.from_ms = Some(0);
            f.to_ms = Some(3_600_000);
        };
        let mut f = LogFilter {
            client: Some(one),
            ..Default::default()
        };
        assert_eq!(f.plan(), SearchPlan::Client);
        f.client = Some(range);
        hour(&mut f);
        assert_eq!(f.plan(), SearchPlan::Time);
        f.from_ms = None;
        f.to_ms = None;
        assert_eq!(f.plan(), SearchPlan::Client);
        f.name = Some(NamePattern::Suffix("example.com".into()));
        assert_eq!(f.plan(), SearchPlan::Name);
        let f = LogFilter {
            category: Some("adult".into()),
            ..Default::default()
        };
        assert_eq!(f.plan(), SearchPlan::Category);
        assert_eq!(LogFilter::default().plan(), SearchPlan::Time);
    }

    #[tokio::test]
    async fn a_search_from_a_time_finds_repeats_running_into_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("log.db")).await.unwrap();
        db.insert_rows(&[crate::store::LogRow {
            record: record(100_000, "10.1.0.5", "www.example.com", Action::Allowed),
            times: 4,
            last_ms: Some(108_000),
        }])
        .await
        .unwrap();
        let from = |from_ms: i64| LogFilter {
            from_ms: Some(from_ms),
            ..Default::default()
        };
        let found = db.search_all(&from(105_000)).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].times, found[0].last_ms), (4, Some(108_000)));
        assert!(db.search_all(&from(108_001)).await.unwrap().is_empty());
        assert_eq!(db.search_all(&from(90_000)).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn filters_match_what_they_say() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("log.db")).await.unwrap();
        db.insert_queries(&[
            record(1000, "10.1.0.5", "www.example.com", Action::Allowed),
            record(2000, "10.1.0.6", "example.com", Action::Blocked),
            record(3000, "10.2.0.7", "example-other.com", Action::Allowed),
            record(4000, "10.1.0.5", "a.b.example.com", Action::Blocked),
            record(5000, "::1", "notexample.com", Action::Allowed),
        ])
        .await
        .unwrap();
        let names = |rows: Vec<StoredQuery>| rows.into_iter().map(|r| r.name).collect::<Vec<_>>();
        let search = |f: LogFilter| {
            let db = db.clone();
            async move { names(db.search_all(&f).await.unwrap()) }
        };

        let suffix = LogFilter {
            name: Some(NamePattern::Suffix("example.com".into())),
            ..Default::default()
        };
        assert_eq!(
            search(suffix.clone()).await,
            ["a.b.example.com", "example.com", "www.example.com"]
        );
        let exact = LogFilter {
            name: Some(NamePattern::Exact("example.com".into())),
            ..Default::default()
        };
        assert_eq!(search(exact).await, ["example.com"]);
        let net = LogFilter {
            client: Some("10.1.0.0/16".parse().unwrap()),
            from_ms: Some(1500),
            to_ms: Some(4000),
            ..Default::default()
        };
        assert_eq!(search(net).await, ["example.com"]);
        let blocked = LogFilter {
            action: Some(Action::Blocked),
            group: Some("pupils".into()),
            ..Default::default()
        };
        assert_eq!(search(blocked).await, ["a.b.example.com", "example.com"]);
        let category = LogFilter {
            category: Some("adult".into()),
            limit: Some(1),
            ..Default::default()
        };
        assert_eq!(search(category).await, ["a.b.example.com"]);
        let v6 = LogFilter {
            client: Some("::1/128".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(search(v6).await, ["notexample.com"]);
        let rows = db.search_all(&suffix).await.unwrap();
        assert_eq!(rows[0].client, "10.1.0.5".parse::<IpAddr>().unwrap());
        assert_eq!(rows[0].upstream_us, Some(1500));
        assert_eq!(rows[0].category.as_deref(), Some("adult"));
    }
}
