//! Verifying a site's audit chain as the centre holds it: the same check
//! as `hedge audit verify` at the site ([`crate::store::Database::verify_audit`]),
//! over the rows the site shipped, and whether it reaches the hash the
//! site's own check printed.

use serde::Serialize;
use sqlx::Row;
use sqlx::postgres::PgPool;

use super::{CentralError, SiteState};
use crate::store::{ChainCheck, GENESIS, row_hash};

/// The first shipped row that does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenRow {
    /// The site's id of the row (for a missing row, the one missing).
    pub id: i64,
    /// When the row found there says it was written.
    pub at_ms: i64,
    /// What is wrong, in words.
    pub why: String,
}

/// Where the shipped chain stands against a hash the site printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Expected {
    /// The shipped chain ends at that hash.
    Ends,
    /// The chain has that hash at row `id` and holds `later` rows after
    /// it: the site has recorded more since its check, and they have
    /// been shipped. Up to that row the centre's copy is the site's.
    Passes { id: i64, later: u64 },
    /// The hash is not in the shipped chain and the centre holds fewer
    /// rows than the site reports (or none): not yet shipped up to it.
    Behind,
    /// The hash is not in the shipped chain, though the centre holds
    /// every row the site last reported: the chains differ (or the site
    /// checked rows it has not reported yet, since its last round).
    Differs,
}

/// The outcome of recomputing one site's shipped chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CentralChainCheck {
    pub site: String,
    /// Rows checked (up to and including a broken one).
    pub rows: u64,
    /// The last row's id and hash, when every row verifies.
    pub last: Option<(i64, String)>,
    pub first_broken: Option<BrokenRow>,
    /// The newest audit row the site had when it last shipped (`sites`).
    pub reported_head: Option<(i64, String)>,
    /// When the site last shipped.
    pub last_shipped_ms: Option<i64>,
    /// Against `--expect-hash`, when given and the chain verifies.
    pub expected: Option<Expected>,
}

impl CentralChainCheck {
    /// Whether the chain verifies and, if a hash was expected, reaches it.
    pub fn holds(&self) -> bool {
        self.first_broken.is_none()
            && matches!(
                self.expected,
                None | Some(Expected::Ends | Expected::Passes { .. })
            )
    }
}

/// Recomputes `site`'s shipped audit chain in id order exactly as the site
/// does: ids run from 1 without a gap, each row's `prev_hash` is the
/// previous row's hash ([`GENESIS`] for the first), and each row's hash is
/// [`row_hash`] of its fields. With `expect_hash` (the hash `hedge audit
/// verify` printed at the site), also says where the chain stands against
/// it. Refuses a site that has never shipped.
pub async fn verify_audit(
    pool: &PgPool,
    site: &str,
    expect_hash: Option<&str>,
) -> Result<CentralChainCheck, CentralError> {
    use futures_util::TryStreamExt;
    let reported = sqlx::query(
        "SELECT audit_head_id, audit_head_hash, last_shipped_ms FROM sites WHERE site = $1",
    )
    .bind(site)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| {
        CentralError::Invalid(format!(
            "--site {site:?}: no site of that name has shipped to this central store"
        ))
    })?;
    let head_id: Option<i64> = reported.try_get("audit_head_id")?;
    let head_hash: Option<String> = reported.try_get("audit_head_hash")?;
    let expect = match expect_hash.map(str::trim) {
        Some(hash) if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            return Err(CentralError::Invalid(format!(
                "--expect-hash {hash:?}: a hash is 64 hexadecimal digits, as `hedge audit verify` prints it"
            )));
        }
        other => other.map(str::to_ascii_lowercase),
    };
    let mut check = CentralChainCheck {
        site: site.to_string(),
        rows: 0,
        last: None,
        first_broken: None,
        reported_head: head_id.zip(head_hash),
        last_shipped_ms: reported.try_get("last_shipped_ms")?,
        expected: None,
    };

    let mut rows = sqlx::query(
        "SELECT id, at_ms, actor, person, action, details, prev_hash, hash FROM audit \
         WHERE site = $1 ORDER BY id",
    )
    .bind(site)
    .fetch(pool);
    let mut expected_prev = GENESIS.to_string();
    let mut expected_id = 1;
    let mut found_at = None;
    while let Some(row) = rows.try_next().await? {
        let id: i64 = row.try_get("id")?;
        let at_ms: i64 = row.try_get("at_ms")?;
        let prev_hash: String = row.try_get("prev_hash")?;
        let hash: String = row.try_get("hash")?;
        check.rows += 1;
        let broken = if id != expected_id {
            Some(format!(
                "row {expected_id} is missing (the next row is {id})"
            ))
        } else if prev_hash != expected_prev {
            Some("its link to the previous row does not match that row's hash".to_string())
        } else if row_hash(
            &prev_hash,
            id,
            at_ms,
            row.try_get("actor")?,
            row.try_get::<Option<&str>, _>("person")?,
            row.try_get("action")?,
            row.try_get("details")?,
        ) != hash
        {
            Some("its contents do not match its hash: the row was changed".to_string())
        } else {
            None
        };
        if let Some(why) = broken {
            check.first_broken = Some(BrokenRow {
                id: id.min(expected_id),
                at_ms,
                why,
            });
            return Ok(check);
        }
        if expect.as_deref() == Some(hash.as_str()) {
            found_at = Some(id);
        }
        expected_prev = hash;
        expected_id += 1;
    }
    let last_id = expected_id - 1;
    check.last = (check.rows > 0).then_some((last_id, expected_prev));
    if let Some(expect) = expect {
        check.expected = Some(match found_at {
            Some(id) if id == last_id => Expected::Ends,
            Some(id) => Expected::Passes {
                id,
                later: (last_id - id) as u64,
            },
            None => match &check.reported_head {
                Some((head, hash)) if *head > last_id || *hash == expect => Expected::Behind,
                None if check.rows == 0 => Expected::Behind,
                _ => Expected::Differs,
            },
        });
    }
    Ok(check)
}

/// The sites' audit chains as one: every row counted, the first break
/// named with its site; the last row only for a single site's report.
pub(super) fn combined(sites: &[SiteState], single: bool) -> ChainCheck {
    let mut out = ChainCheck {
        rows: sites.iter().map(|s| s.audit.rows).sum(),
        ..ChainCheck::default()
    };
    out.first_broken = sites.iter().find_map(|s| {
        s.audit
            .first_broken
            .as_ref()
            .map(|(id, why)| (*id, format!("{} (site {})", why, s.site)))
    });
    if single && out.first_broken.is_none() {
        out.last = sites.first().and_then(|s| s.audit.last.clone());
    }
    out
}
