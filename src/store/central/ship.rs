//! Shipping: every new or changed row of the site's records goes to the
//! centre, table by table, in batches. The centre keys a row by (site,
//! local id) and ignores (or, for rows that change, overwrites) a copy it
//! has, and the site moves a table's mark only after the centre has
//! committed: a crash, a restart or an outage never loses or doubles a
//! row.

use std::collections::HashSet;

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqliteRow;
use sqlx::{Postgres, QueryBuilder, Row};

use super::tables::{Kind, TABLES, Table};
use super::{CentralError, day_of};
use crate::config::Mac;
use crate::store::record::ip_from_key;
use crate::store::{Database, StoreError};

/// Rows per PostgreSQL statement: 16 columns of the query log stay well
/// under its 65,535 parameters.
const ROWS_PER_STATEMENT: usize = 1000;

/// What is waiting to be shipped, from the site's own database.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Backlog {
    /// Rows (and changes of rows) not yet at the centre.
    pub rows: u64,
    /// When the oldest of them was written.
    pub oldest_ms: Option<i64>,
    /// Query-log rows retention deleted before they were shipped (older
    /// than `max_backlog_days`).
    pub never_shipped: u64,
}

/// A shipping round's outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShippingRound {
    /// Rows sent (a changed row counts each time it is sent).
    pub rows: u64,
    /// Some table had more than one batch waiting: ship again at once.
    pub more: bool,
}

/// Ships one site's records. Keeps what it learnt of the centre (that the
/// site is claimed, which day partitions exist) between rounds.
#[derive(Debug)]
pub struct Shipper {
    site: String,
    batch: usize,
    claimed: bool,
    partitions: HashSet<i64>,
}

enum Cell {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(bool),
}

impl Shipper {
    /// A shipper for `site`, sending at most `batch` rows of a table per
    /// round.
    pub fn new(site: &str, batch: usize) -> Shipper {
        Shipper {
            site: site.to_string(),
            batch: batch.max(1),
            claimed: false,
            partitions: HashSet::new(),
        }
    }

    /// Forgets what it knew of the centre (after a failure: the centre may
    /// have been recreated).
    pub fn forget(&mut self) {
        self.claimed = false;
        self.partitions.clear();
    }

    /// Sends one batch of each table's new and changed rows, then the
    /// site's state.
    pub async fn round(
        &mut self,
        local: &Database,
        central: &PgPool,
        now_ms: i64,
    ) -> Result<ShippingRound, CentralError> {
        if !self.claimed {
            self.claim(local, central, now_ms).await?;
        }
        let mut round = ShippingRound::default();
        for table in TABLES {
            let (rows, more) = if table.changing {
                self.ship_changes(local, central, table, now_ms).await?
            } else {
                self.ship_new(local, central, table, now_ms).await?
            };
            round.rows += rows;
            round.more |= more;
        }
        self.report(local, central, now_ms).await?;
        Ok(round)
    }

    /// Takes the site's name at the centre for this database, or finds it
    /// already taken by this database; refuses a name another has.
    async fn claim(
        &mut self,
        local: &Database,
        central: &PgPool,
        now_ms: i64,
    ) -> Result<(), CentralError> {
        if !super::initialised(central).await? {
            return Err(CentralError::NotInitialised);
        }
        let instance: i64 =
            sqlx::query_scalar("SELECT value FROM central_state WHERE key = 'instance'")
                .fetch_one(local.pool())
                .await
                .map_err(StoreError::from)?;
        sqlx::query(
            "INSERT INTO sites (site, instance, first_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (site) DO NOTHING",
        )
        .bind(&self.site)
        .bind(instance)
        .bind(now_ms)
        .execute(central)
        .await?;
        let holder: i64 = sqlx::query_scalar("SELECT instance FROM sites WHERE site = $1")
            .bind(&self.site)
            .fetch_one(central)
            .await?;
        if holder != instance {
            return Err(CentralError::SiteTaken {
                site: self.site.clone(),
            });
        }
        self.claimed = true;
        Ok(())
    }

    /// Rows above the table's mark, in id order.
    async fn ship_new(
        &mut self,
        local: &Database,
        central: &PgPool,
        table: &Table,
        now_ms: i64,
    ) -> Result<(u64, bool), CentralError> {
        let mark = mark(local, table.name).await?.unwrap_or(0);
        let rows = sqlx::query(&format!(
            "SELECT {} FROM {} WHERE {id} > ? ORDER BY {id} LIMIT ?",
            select_list(table),
            table.from,
            id = table.id
        ))
        .bind(mark)
        .bind(self.batch as i64)
        .fetch_all(local.pool())
        .await
        .map_err(StoreError::from)?;
        let Some(last) = rows.last() else {
            return Ok((0, false));
        };
        let last_id: i64 = last.try_get(0).map_err(StoreError::from)?;
        let more = rows.len() == self.batch;
        let cells = cells(table, &rows)?;
        if table.name == "queries" {
            self.make_partitions(central, &cells).await?;
        }
        let count = cells.len() as u64;
        self.send(central, table, cells).await?;
        set_mark(local, table.name, last_id, now_ms).await?;
        Ok((count, more))
    }

    /// Rows changed since the table's mark, each in its state now; the
    /// whole table the first time.
    async fn ship_changes(
        &mut self,
        local: &Database,
        central: &PgPool,
        table: &Table,
        now_ms: i64,
    ) -> Result<(u64, bool), CentralError> {
        let pool = local.pool();
        let Some(mark) = mark(local, table.name).await? else {
            // First shipment: everything there is, then the changes made
            // from now on (read first, so that none falls between).
            let upto: i64 = sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM central_changes")
                .fetch_one(pool)
                .await
                .map_err(StoreError::from)?;
            let mut cursor = i64::MIN;
            let mut count = 0;
            loop {
                let rows = sqlx::query(&format!(
                    "SELECT {} FROM {} WHERE {id} > ? ORDER BY {id} LIMIT ?",
                    select_list(table),
                    table.from,
                    id = table.id
                ))
                .bind(cursor)
                .bind(self.batch as i64)
                .fetch_all(pool)
                .await
                .map_err(StoreError::from)?;
                let Some(last) = rows.last() else { break };
                let last_id: i64 = last.try_get(0).map_err(StoreError::from)?;
                let full = rows.len() == self.batch;
                // Where several rows share an id (an alert's deliveries), a
                // full page may have cut the last id's rows short: read
                // that id again with the next page.
                let next = if full && table.id != "id" {
                    last_id - 1
                } else {
                    last_id
                };
                if next <= cursor {
                    return Err(CentralError::Invalid(format!(
                        "central store: {} rows share id {last_id} of {}",
                        rows.len(),
                        table.name
                    )));
                }
                cursor = next;
                let cells = cells(table, &rows)?;
                count += cells.len() as u64;
                self.send(central, table, cells).await?;
                if !full {
                    break;
                }
            }
            set_mark(local, table.name, upto, now_ms).await?;
            forget_changes(local, table.name, upto).await?;
            return Ok((count, true));
        };
        let changes = sqlx::query(
            "SELECT seq, row_id FROM central_changes WHERE tbl = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(table.name)
        .bind(mark)
        .bind(self.batch as i64)
        .fetch_all(pool)
        .await
        .map_err(StoreError::from)?;
        let Some(last) = changes.last() else {
            return Ok((0, false));
        };
        let upto: i64 = last.try_get("seq").map_err(StoreError::from)?;
        let more = changes.len() == self.batch;
        let mut ids: Vec<i64> = changes
            .iter()
            .map(|row| row.try_get("row_id"))
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)?;
        ids.sort_unstable();
        ids.dedup();
        let mut select = sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!(
            "SELECT {} FROM {} WHERE {} IN (",
            select_list(table),
            table.from,
            table.id
        ));
        let mut list = select.separated(", ");
        for id in &ids {
            list.push_bind(*id);
        }
        list.push_unseparated(format!(") ORDER BY {}", table.id));
        let rows = select
            .build()
            .fetch_all(pool)
            .await
            .map_err(StoreError::from)?;
        let cells = cells(table, &rows)?;
        let count = cells.len() as u64;
        self.send(central, table, cells).await?;
        set_mark(local, table.name, upto, now_ms).await?;
        forget_changes(local, table.name, upto).await?;
        Ok((count, more))
    }

    /// Makes the day partitions `rows` (query-log rows) fall in.
    async fn make_partitions(
        &mut self,
        central: &PgPool,
        rows: &[Vec<Cell>],
    ) -> Result<(), CentralError> {
        for row in rows {
            let Cell::Int(Some(at_ms)) = row[1] else {
                continue;
            };
            let day = day_of(at_ms);
            if self.partitions.insert(day) {
                sqlx::query("SELECT hedge_day_partition($1)")
                    .bind(day)
                    .execute(central)
                    .await
                    .inspect_err(|_| {
                        self.partitions.remove(&day);
                    })?;
            }
        }
        Ok(())
    }

    /// Writes `rows` of `table` at the centre in one transaction.
    async fn send(
        &self,
        central: &PgPool,
        table: &Table,
        mut rows: Vec<Vec<Cell>>,
    ) -> Result<(), CentralError> {
        let columns: Vec<&str> = table.columns.iter().map(|(_, c, _)| *c).collect();
        let on_conflict = if table.changing {
            let keys: Vec<&str> = table.key.split(", ").collect();
            let set: Vec<String> = columns
                .iter()
                .filter(|c| !keys.contains(c))
                .map(|c| format!("{c} = EXCLUDED.{c}"))
                .collect();
            format!(
                " ON CONFLICT (site, {}) DO UPDATE SET {}",
                table.key,
                set.join(", ")
            )
        } else {
            format!(" ON CONFLICT (site, {}) DO NOTHING", table.key)
        };
        let mut transaction = central.begin().await?;
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(ROWS_PER_STATEMENT));
            let chunk = std::mem::replace(&mut rows, rest);
            let mut insert = QueryBuilder::<Postgres>::new(format!(
                "INSERT INTO {} (site, {}) ",
                table.name,
                columns.join(", ")
            ));
            insert.push_values(chunk, |mut values, row| {
                values.push_bind(self.site.clone());
                for (cell, (_, _, kind)) in row.into_iter().zip(table.columns) {
                    match cell {
                        Cell::Int(value) => values.push_bind(value),
                        Cell::Bool(value) => values.push_bind(value),
                        Cell::Text(value) => values.push_bind(value),
                    };
                    match kind {
                        Kind::Inet => values.push_unseparated("::inet"),
                        Kind::Mac => values.push_unseparated("::macaddr"),
                        Kind::Cidr => values.push_unseparated("::cidr"),
                        Kind::Int | Kind::Text | Kind::Bool => &mut values,
                    };
                }
            });
            insert.push(&on_conflict);
            insert.build().execute(&mut *transaction).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Tells the centre how this site stands: when it last shipped, what
    /// waits, where its audit chain ends.
    async fn report(
        &self,
        local: &Database,
        central: &PgPool,
        now_ms: i64,
    ) -> Result<(), CentralError> {
        let backlog = backlog(local).await?;
        let head = sqlx::query("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
            .fetch_optional(local.pool())
            .await
            .map_err(StoreError::from)?;
        let (head_id, head_hash): (Option<i64>, Option<String>) = match head {
            Some(row) => (
                Some(row.try_get("id").map_err(StoreError::from)?),
                Some(row.try_get("hash").map_err(StoreError::from)?),
            ),
            None => (None, None),
        };
        sqlx::query(
            "UPDATE sites SET last_shipped_ms = $2, backlog_rows = $3, backlog_oldest_ms = $4, \
             never_shipped = $5, audit_head_id = $6, audit_head_hash = $7, version = $8 \
             WHERE site = $1",
        )
        .bind(&self.site)
        .bind(now_ms)
        .bind(backlog.rows as i64)
        .bind(backlog.oldest_ms)
        .bind(backlog.never_shipped as i64)
        .bind(head_id)
        .bind(head_hash)
        .bind(env!("CARGO_PKG_VERSION"))
        .execute(central)
        .await?;
        Ok(())
    }
}

fn select_list(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|(local, _, _)| *local)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The site's rows as values the centre takes.
fn cells(table: &Table, rows: &[SqliteRow]) -> Result<Vec<Vec<Cell>>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut cells = Vec::with_capacity(table.columns.len());
        for (i, (_, column, kind)) in table.columns.iter().enumerate() {
            cells.push(match kind {
                Kind::Int => Cell::Int(row.try_get(i)?),
                Kind::Text | Kind::Cidr => Cell::Text(row.try_get(i)?),
                Kind::Bool => Cell::Bool(row.try_get::<Option<i64>, _>(i)?.unwrap_or(0) != 0),
                Kind::Inet => {
                    let key: Option<Vec<u8>> = row.try_get(i)?;
                    Cell::Text(match key {
                        None => None,
                        Some(key) => Some(
                            ip_from_key(&key)
                                .ok_or_else(|| {
                                    StoreError::Invalid(format!(
                                        "{}.{column}: {} bytes is not an address",
                                        table.name,
                                        key.len()
                                    ))
                                })?
                                .to_string(),
                        ),
                    })
                }
                Kind::Mac => Cell::Text(
                    row.try_get::<Option<i64>, _>(i)?
                        .and_then(|n| Mac::from_u64(n as u64))
                        .map(|mac| mac.to_string()),
                ),
            });
        }
        out.push(cells);
    }
    Ok(out)
}

async fn mark(local: &Database, table: &str) -> Result<Option<i64>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT shipped FROM central_marks WHERE tbl = ?")
            .bind(table)
            .fetch_optional(local.pool())
            .await?,
    )
}

async fn set_mark(
    local: &Database,
    table: &str,
    shipped: i64,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO central_marks (tbl, shipped, at_ms) VALUES (?, ?, ?) \
         ON CONFLICT (tbl) DO UPDATE SET shipped = max(shipped, excluded.shipped), at_ms = excluded.at_ms",
    )
    .bind(table)
    .bind(shipped)
    .bind(now_ms)
    .execute(local.pool())
    .await?;
    Ok(())
}

async fn forget_changes(local: &Database, table: &str, upto: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM central_changes WHERE tbl = ? AND seq <= ?")
        .bind(table)
        .bind(upto)
        .execute(local.pool())
        .await?;
    Ok(())
}

/// What waits to be shipped. The query log's count is its ids above the
/// mark (ids are given one after another), so it costs nothing however
/// long the backlog.
pub async fn backlog(local: &Database) -> Result<Backlog, StoreError> {
    let pool = local.pool();
    let mut backlog = Backlog {
        never_shipped: sqlx::query_scalar::<_, i64>(
            "SELECT coalesce((SELECT value FROM central_state WHERE key = 'never_shipped'), 0)",
        )
        .fetch_one(pool)
        .await? as u64,
        ..Backlog::default()
    };
    let mut oldest = |at: Option<i64>| {
        if let Some(at) = at {
            backlog.oldest_ms = Some(backlog.oldest_ms.map_or(at, |o: i64| o.min(at)));
        }
    };
    let mut rows = 0u64;
    for table in TABLES {
        let mark = mark(local, table.name).await?;
        if table.changing {
            let (count, at): (i64, Option<i64>) = match mark {
                Some(mark) => {
                    sqlx::query_as(
                        "SELECT count(DISTINCT row_id), min(at_ms) FROM central_changes \
                     WHERE tbl = ? AND seq > ?",
                    )
                    .bind(table.name)
                    .bind(mark)
                    .fetch_one(pool)
                    .await?
                }
                None => (
                    sqlx::query_scalar(&format!("SELECT count(*) FROM {}", table.name))
                        .fetch_one(pool)
                        .await?,
                    sqlx::query_scalar("SELECT min(at_ms) FROM central_changes WHERE tbl = ?")
                        .bind(table.name)
                        .fetch_one(pool)
                        .await?,
                ),
            };
            rows += count as u64;
            oldest(at);
        } else {
            let mark = mark.unwrap_or(0);
            let (count, at): (i64, Option<i64>) = if table.name == "queries" {
                sqlx::query_as(
                    "SELECT coalesce(max(id), ?) - ?, \
                     (SELECT at_ms FROM queries WHERE id > ? ORDER BY id LIMIT 1) FROM queries",
                )
                .bind(mark)
                .bind(mark)
                .bind(mark)
                .fetch_one(pool)
                .await?
            } else {
                sqlx::query_as(&format!(
                    "SELECT count(*), min(at_ms) FROM {} WHERE id > ?",
                    table.name
                ))
                .bind(mark)
                .fetch_one(pool)
                .await?
            };
            rows += count.max(0) as u64;
            oldest(at);
        }
    }
    backlog.rows = rows;
    Ok(backlog)
}

/// With no centre configured, the changes kept for one are dropped (and
/// the marks of the tables they follow, so that a centre configured later
/// gets those tables whole): they would otherwise grow for ever.
pub async fn forget_changes_without_centre(local: &Database) -> Result<(), StoreError> {
    let mut transaction = local.pool().begin().await?;
    sqlx::query("DELETE FROM central_changes")
        .execute(&mut *transaction)
        .await?;
    for table in TABLES.iter().filter(|t| t.changing) {
        sqlx::query("DELETE FROM central_marks WHERE tbl = ?")
            .bind(table.name)
            .execute(&mut *transaction)
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}
