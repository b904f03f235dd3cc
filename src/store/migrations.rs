//! The schema migrations in `migrations/`, built into the binary so that an
//! installed hedge brings its database up to date by itself at start-up.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::SqlitePool;
use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};

/// (version, description, SQL), in order. Applied migrations never change:
/// a new change is a new file.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "query log",
        include_str!("../../migrations/0001_query_log.sql"),
    ),
    (
        2,
        "audit trail",
        include_str!("../../migrations/0002_audit.sql"),
    ),
    (
        3,
        "exemptions",
        include_str!("../../migrations/0003_exemptions.sql"),
    ),
    (
        4,
        "alerts and log drops",
        include_str!("../../migrations/0004_alerts.sql"),
    ),
    (
        5,
        "query counts for reports",
        include_str!("../../migrations/0005_query_counts.sql"),
    ),
    (
        6,
        "exemption revocations",
        include_str!("../../migrations/0006_exemption_revocations.sql"),
    ),
    (
        7,
        "incidents",
        include_str!("../../migrations/0007_incidents.sql"),
    ),
    (
        8,
        "query repeats",
        include_str!("../../migrations/0008_query_repeats.sql"),
    ),
    (
        9,
        "people",
        include_str!("../../migrations/0009_people.sql"),
    ),
    (
        10,
        "console sessions",
        include_str!("../../migrations/0010_console_sessions.sql"),
    ),
    (
        11,
        "mail sent and report schedules",
        include_str!("../../migrations/0011_mail.sql"),
    ),
    (
        12,
        "devices by MAC address",
        include_str!("../../migrations/0012_devices.sql"),
    ),
    (
        13,
        "shipping to a central PostgreSQL",
        include_str!("../../migrations/0013_central.sql"),
    ),
];

#[derive(Debug)]
struct Embedded;

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Applies every migration the database has not seen, each in its own
/// transaction. A database from a newer hedge (one with migrations this
/// binary does not know) is refused rather than guessed at.
pub(super) async fn run(pool: &SqlitePool) -> Result<(), MigrateError> {
    let migrator = Migrator::new(Embedded).await?;
    migrator.run(pool).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_match_file_names() {
        let mut last = 0;
        for (version, _, sql) in MIGRATIONS {
            assert!(*version > last);
            assert!(!sql.trim().is_empty());
            last = *version;
        }
        let files: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        assert_eq!(
            files.len(),
            MIGRATIONS.len(),
            "every file in migrations/ is built in"
        );
    }
}
