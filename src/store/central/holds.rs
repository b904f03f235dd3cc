//! Legal holds placed at the centre, and the record of who read what
//! there. A hold names a site, a client network and a period; `hedge
//! central purge` spares the rows it covers while it is in force.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::postgres::PgPool;

use super::CentralError;

/// A hold placed at the centre.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentralHold {
    pub site: String,
    pub id: i64,
    pub client_net: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub reason: String,
    /// The PostgreSQL role that placed it.
    pub placed_by: String,
    pub placed_user: String,
    pub placed_ms: i64,
    pub released_ms: Option<i64>,
    pub released_by: Option<String>,
    pub released_user: Option<String>,
    pub release_reason: Option<String>,
}

/// What a new central hold covers, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CentralHoldRequest {
    pub site: String,
    pub client: ipnet::IpNet,
    pub from_ms: i64,
    pub to_ms: i64,
    pub reason: String,
}

/// Refuses a site no hedge has shipped as (a typing mistake would place a
/// hold that covers nothing).
pub async fn known_site(pool: &PgPool, site: &str) -> Result<(), CentralError> {
    let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sites WHERE site = $1)")
        .bind(site)
        .fetch_one(pool)
        .await?;
    if known {
        Ok(())
    } else {
        Err(CentralError::Invalid(format!(
            "--site {site:?}: no site of that name has shipped to this central store"
        )))
    }
}

/// Places a hold, recorded under the signed-in role and `os_user`.
pub async fn place_hold(
    pool: &PgPool,
    request: &CentralHoldRequest,
    os_user: &str,
    now_ms: i64,
) -> Result<CentralHold, CentralError> {
    if request.reason.trim().is_empty() {
        return Err(CentralError::Invalid(
            "--reason: a hold always says why it is placed".into(),
        ));
    }
    if request.to_ms < request.from_ms {
        return Err(CentralError::Invalid(
            "--to is before --from: the period runs backwards".into(),
        ));
    }
    known_site(pool, &request.site).await?;
    let row = sqlx::query(&format!(
        "INSERT INTO central_holds (site, client_net, from_ms, to_ms, reason, placed_by, \
         placed_user, placed_ms) VALUES ($1, $2::cidr, $3, $4, $5, current_user, $6, $7) \
         RETURNING {COLUMNS}"
    ))
    .bind(&request.site)
    .bind(request.client.trunc().to_string())
    .bind(request.from_ms)
    .bind(request.to_ms)
    .bind(request.reason.trim())
    .bind(os_user)
    .bind(now_ms)
    .fetch_one(pool)
    .await?;
    Ok(hold(&row)?)
}

/// Holds, newest first: those in force, or all with `all`; of one site or
/// every site.
pub async fn holds(
    pool: &PgPool,
    site: Option<&str>,
    all: bool,
) -> Result<Vec<CentralHold>, CentralError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM central_holds WHERE ($1::text IS NULL OR site = $1) \
         AND ($2 OR released_ms IS NULL) ORDER BY placed_ms DESC, site, id DESC"
    ))
    .bind(site)
    .bind(all)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(hold).collect::<Result<_, _>>()?)
}

/// Releases hold `id` of `site`, saying why.
pub async fn release_hold(
    pool: &PgPool,
    site: &str,
    id: i64,
    reason: &str,
    os_user: &str,
    now_ms: i64,
) -> Result<CentralHold, CentralError> {
    if reason.trim().is_empty() {
        return Err(CentralError::Invalid(
            "--reason: a release always says why".into(),
        ));
    }
    let row = sqlx::query(&format!(
        "UPDATE central_holds SET released_ms = $3, released_by = current_user, \
         released_user = $4, release_reason = $5 \
         WHERE site = $1 AND id = $2 AND released_ms IS NULL RETURNING {COLUMNS}"
    ))
    .bind(site)
    .bind(id)
    .bind(now_ms)
    .bind(os_user)
    .bind(reason.trim())
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => Ok(hold(&row)?),
        None => Err(CentralError::Invalid(format!(
            "no hold {id} of site {site:?} is in force"
        ))),
    }
}

const COLUMNS: &str = "site, id, client_net::text AS client_net, from_ms, to_ms, reason, \
     placed_by, placed_user, placed_ms, released_ms, released_by, released_user, release_reason";

fn hold(row: &sqlx::postgres::PgRow) -> Result<CentralHold, sqlx::Error> {
    Ok(CentralHold {
        site: row.try_get("site")?,
        id: row.try_get("id")?,
        client_net: row.try_get("client_net")?,
        from_ms: row.try_get("from_ms")?,
        to_ms: row.try_get("to_ms")?,
        reason: row.try_get("reason")?,
        placed_by: row.try_get("placed_by")?,
        placed_user: row.try_get("placed_user")?,
        placed_ms: row.try_get("placed_ms")?,
        released_ms: row.try_get("released_ms")?,
        released_by: row.try_get("released_by")?,
        released_user: row.try_get("released_user")?,
        release_reason: row.try_get("release_reason")?,
    })
}

/// Records a search, export, report or purge at the centre: the role
/// signed in (PostgreSQL's `current_user`), `os_user`, what was asked
/// (`filters`, JSON) and how many rows it gave.
pub async fn record_access(
    pool: &PgPool,
    os_user: &str,
    kind: &str,
    filters: &serde_json::Value,
    rows: u64,
    now_ms: i64,
) -> Result<(), CentralError> {
    sqlx::query(
        "INSERT INTO central_access (at_ms, os_user, kind, filters, rows) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(now_ms)
    .bind(os_user)
    .bind(kind)
    .bind(filters.to_string())
    .bind(rows as i64)
    .execute(pool)
    .await?;
    Ok(())
}
