//! The `query_counts` table: queries per 15-minute bucket by group, action
//! and category, changed in the same transaction as the rows it counts.

use std::collections::BTreeMap;

use sqlx::{QueryBuilder, SqliteConnection};

/// The width of a bucket (15 minutes, in ms).
pub const BUCKET_MS: i64 = 15 * 60 * 1000;

/// (bucket, group, action, category); `""` for no group or category.
pub type CountKey = (i64, String, String, String);

/// Adds up rows by key.
#[derive(Debug, Default)]
pub struct Tally(BTreeMap<CountKey, i64>);

impl Tally {
    /// Counts `times` queries at `at_ms`.
    pub fn add(
        &mut self,
        at_ms: i64,
        group: Option<&str>,
        action: &str,
        category: Option<&str>,
        times: i64,
    ) {
        let key = (
            at_ms.div_euclid(BUCKET_MS),
            group.unwrap_or_default().to_string(),
            action.to_string(),
            category.unwrap_or_default().to_string(),
        );
        *self.0.entry(key).or_default() += times;
    }

    /// Adds the tally to the table (`sign` 1), or takes it away (`-1`),
    /// on `connection` (inside the caller's transaction).
    pub async fn apply(
        self,
        connection: &mut SqliteConnection,
        sign: i64,
    ) -> Result<(), sqlx::Error> {
        let entries: Vec<(CountKey, i64)> = self.0.into_iter().collect();
        // Five values per row: well under SQLite's limit of bound values.
        for chunk in entries.chunks(1000) {
            let mut upsert = QueryBuilder::new(
                "INSERT INTO query_counts (bucket, group_name, action, category, n) ",
            );
            upsert.push_values(chunk, |mut row, ((bucket, group, action, category), n)| {
                row.push_bind(*bucket)
                    .push_bind(group.as_str())
                    .push_bind(action.as_str())
                    .push_bind(category.as_str())
                    .push_bind(n * sign);
            });
            upsert.push(" ON CONFLICT DO UPDATE SET n = n + excluded.n");
            upsert.build().execute(&mut *connection).await?;
        }
        if sign < 0 {
            sqlx::query("DELETE FROM query_counts WHERE n <= 0")
                .execute(&mut *connection)
                .await?;
        }
        Ok(())
    }
}
