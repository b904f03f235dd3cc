//! The central store: a PostgreSQL many sites ship their records to
//! ([`ship`]), and the schema it keeps them in. A site's own SQLite stays
//! its primary record; the centre is a copy that an authority searches,
//! reports on and verifies across sites.

mod holds;
mod purge;
mod records;
mod report;
mod search;
mod ship;
mod tables;
mod verify;

pub use holds::{
    CentralHold, CentralHoldRequest, holds, known_site, place_hold, record_access, release_hold,
};
pub use purge::{CentralPurge, purge};
pub use records::{CentralAlert, CentralExemption, alerts, exemptions};
pub use report::{CentralReport, CentralReportContext, CentralReportRequest, SiteState, report};
pub use search::{CentralFilter, CentralQuery, search};
pub use ship::{Backlog, Shipper, ShippingRound, backlog, forget_changes_without_centre};
pub use verify::{BrokenRow, CentralChainCheck, Expected, verify_audit};

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::StoreError;

/// The longest one statement at the centre may take: a centre that hangs
/// makes a round fail (and be tried again), never a shipper that waits
/// for ever.
const STATEMENT_TIMEOUT: &str = "120s";
/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum CentralError {
    #[error("central store {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("central store: cannot read the password file {}: {source}", path.display())]
    Password {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("central store: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("central store: cannot bring its tables up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "central store: the site {site:?} is already shipped by another hedge (another database): \
         give this site a name of its own in [central] site"
    )]
    SiteTaken { site: String },
    /// Said beside the URL (in `hedge status` and the log), so not here.
    #[error(
        "central store: the database has no hedge tables: create them with `hedge central init --url URL`"
    )]
    NotInitialised,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Local(#[from] StoreError),
}

/// Where the centre is and how to sign in to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CentralAddress {
    /// The URL as written (never with a password).
    pub url: String,
    /// The password's file; without one, PostgreSQL's own ways apply
    /// (`PGPASSWORD`, `~/.pgpass`, a certificate in the URL).
    pub password_file: Option<PathBuf>,
}

impl CentralAddress {
    /// Connection options, the password read from its file now.
    pub fn options(&self) -> Result<PgConnectOptions, CentralError> {
        let mut options =
            PgConnectOptions::from_str(&self.url).map_err(|source| CentralError::Connect {
                url: self.url.clone(),
                source,
            })?;
        if let Some(path) = &self.password_file {
            options = options.password(&read_password(path)?);
        }
        Ok(options
            .application_name("hedge")
            .options([("statement_timeout", STATEMENT_TIMEOUT)]))
    }

    /// A small pool of connections to the centre, one tried at once so that
    /// a wrong password or an unreachable host is said now.
    pub async fn connect(&self) -> Result<PgPool, CentralError> {
        let options = self.options()?;
        PgPoolOptions::new()
            .max_connections(2)
            .min_connections(0)
            .acquire_timeout(CONNECT_TIMEOUT)
            .idle_timeout(Duration::from_secs(300))
            .connect_with(options)
            .await
            .map_err(|source| CentralError::Connect {
                url: self.url.clone(),
                source,
            })
    }
}

fn read_password(path: &Path) -> Result<String, CentralError> {
    let text = std::fs::read_to_string(path).map_err(|source| CentralError::Password {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

/// The central schema's migrations, in order. Applied migrations never
/// change: a new change is a new file.
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "central schema",
    include_str!("../../../migrations/central/0001_schema.sql"),
)];

#[derive(Debug)]
struct Embedded;

impl<'s> sqlx::migrate::MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> futures_util::future::BoxFuture<
        's,
        Result<Vec<sqlx::migrate::Migration>, sqlx::error::BoxDynError>,
    > {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|(version, description, sql)| {
                    sqlx::migrate::Migration::new(
                        *version,
                        std::borrow::Cow::Borrowed(*description),
                        sqlx::migrate::MigrationType::Simple,
                        std::borrow::Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Creates the central schema (or brings it up to date), and the day
/// partitions of the query log from `days_back` days ago to a week ahead.
pub async fn init(pool: &PgPool, now_ms: i64, days_back: u32) -> Result<(), CentralError> {
    let migrator = sqlx::migrate::Migrator::new(Embedded).await?;
    migrator.run(pool).await?;
    make_partitions(
        pool,
        now_ms - i64::from(days_back) * DAY_MS,
        now_ms + 7 * DAY_MS,
    )
    .await
}

/// Makes sure each UTC day from `from_ms` to `to_ms` has its partition.
pub async fn make_partitions(pool: &PgPool, from_ms: i64, to_ms: i64) -> Result<(), CentralError> {
    let mut day = from_ms;
    while day < to_ms + DAY_MS {
        sqlx::query("SELECT hedge_day_partition($1)")
            .bind(day)
            .execute(pool)
            .await?;
        day += DAY_MS;
    }
    Ok(())
}

/// Whether the central schema is there (any version).
pub async fn initialised(pool: &PgPool) -> Result<bool, CentralError> {
    Ok(
        sqlx::query_scalar::<_, bool>("SELECT to_regclass('sites') IS NOT NULL")
            .fetch_one(pool)
            .await?,
    )
}

pub(crate) const DAY_MS: i64 = 86_400_000;

/// The UTC day `at_ms` falls in, as its first millisecond.
pub(crate) fn day_of(at_ms: i64) -> i64 {
    at_ms - at_ms.rem_euclid(DAY_MS)
}
