//! `hedge central report` against a real PostgreSQL: the schema made by
//! `hedge central init`, two sites' rows inserted as their shippers would
//! have sent them, and the report's totals, its `--site`, its table of
//! sites, its CSV and HTML shapes and its record in `central_access`
//! checked against what was inserted.

mod common;

use std::path::Path;
use std::process::Command;

use common::postgres::{ADMIN, Postgres};
use sqlx::PgPool;

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

/// The hedge binary: `HEDGE_BIN` when set (a target directory shared by
/// several checkouts may hold another checkout's `hedge`), else Cargo's.
fn hedge_bin() -> String {
    std::env::var("HEDGE_BIN").unwrap_or_else(|_| common::hedge_bin().to_string())
}

/// Runs `hedge central ARGS --url URL --password-file FILE -c (none)`;
/// gives stdout, or panics with stderr when it fails.
fn hedge(dir: &Path, url: &str, args: &[&str]) -> String {
    let output = Command::new(hedge_bin())
        .arg("central")
        .args(args)
        .args(["--url", url, "--password-file"])
        .arg(dir.join("password"))
        .arg("-c")
        .arg(dir.join("absent.toml"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "hedge central {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A query row as a site ships it.
#[allow(clippy::too_many_arguments)]
async fn query(
    pool: &PgPool,
    site: &str,
    id: i64,
    at_ms: i64,
    client: &str,
    group: &str,
    name_key: &str,
    category: Option<&str>,
    times: i32,
) {
    sqlx::query("SELECT hedge_day_partition($1)")
        .bind(at_ms)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO queries (site, id, at_ms, client_ip, mac, client_name, group_name, name_key, \
         qtype, action, category, rcode, times) \
         VALUES ($1, $2, $3, $4::inet, $5::macaddr, $6, $7, $8, 1, $9, $10, 0, $11)",
    )
    .bind(site)
    .bind(id)
    .bind(at_ms)
    .bind(client)
    .bind((client == "10.0.0.5").then_some("02:00:00:00:00:05"))
    .bind((client == "10.0.0.5").then_some("ipad-5"))
    .bind(group)
    .bind(name_key)
    .bind(if category.is_some() {
        "blocked"
    } else {
        "allowed"
    })
    .bind(category)
    .bind(times)
    .execute(pool)
    .await
    .unwrap();
}

/// An alert as a site ships it.
async fn alert(pool: &PgPool, site: &str, id: i64, first_ms: i64, hits: i64, acked: bool) {
    sqlx::query(
        "INSERT INTO alerts (site, id, first_ms, last_ms, hits, client_ip, group_name, category, \
         name, acked_ms, acked_by) VALUES ($1, $2, $3, $3, $4, '10.0.0.5', 'pupils', \
         'pornography', 'bad.adult.com', $5, $6)",
    )
    .bind(site)
    .bind(id)
    .bind(first_ms)
    .bind(hits)
    .bind(acked.then_some(first_ms + 1))
    .bind(acked.then_some("Ms Khan"))
    .execute(pool)
    .await
    .unwrap();
}

/// Two sites' records: `north` and `south`, the period being the UTC day
/// that starts at `base`.
async fn populate(pool: &PgPool, base: i64) {
    sqlx::query(
        "INSERT INTO sites (site, instance, first_ms, last_shipped_ms, backlog_rows, \
         backlog_oldest_ms, never_shipped, audit_head_id, audit_head_hash, version) VALUES \
         ('north', 1, $1, $2, 12, $3, 0, 2, $4, '0.1.0'), \
         ('south', 2, $1, NULL, 0, NULL, 3, NULL, NULL, NULL)",
    )
    .bind(base - 10 * DAY)
    .bind(base + DAY)
    .bind(base + 20 * HOUR)
    .bind(audit_chain(pool).await)
    .execute(pool)
    .await
    .unwrap();
    // north: 3 + 4 + 1 in the period, 100 before it.
    query(
        pool,
        "north",
        1,
        base + HOUR,
        "10.0.0.5",
        "pupils",
        "com.example.www",
        None,
        3,
    )
    .await;
    query(
        pool,
        "north",
        2,
        base + 2 * HOUR,
        "10.0.0.5",
        "pupils",
        "com.adult.bad",
        Some("pornography"),
        4,
    )
    .await;
    query(
        pool,
        "north",
        3,
        base + 3 * HOUR,
        "10.0.0.6",
        "staff",
        "com.bet.x",
        Some("gambling"),
        1,
    )
    .await;
    query(
        pool,
        "north",
        4,
        base - HOUR,
        "10.0.0.6",
        "staff",
        "com.bet.x",
        Some("gambling"),
        100,
    )
    .await;
    // south: 2 + 10 in the period.
    query(
        pool,
        "south",
        1,
        base + 5 * HOUR,
        "10.0.0.5",
        "pupils",
        "com.adult.bad",
        Some("pornography"),
        2,
    )
    .await;
    query(
        pool,
        "south",
        2,
        base + 6 * HOUR,
        "10.1.0.9",
        "pupils",
        "org.example",
        None,
        10,
    )
    .await;
    alert(pool, "north", 1, base + 2 * HOUR, 4, false).await;
    alert(pool, "south", 1, base + 5 * HOUR, 2, true).await;
    alert(pool, "south", 2, base - DAY, 9, false).await;
    sqlx::query(
        "INSERT INTO exemptions (site, id, kind, name, scope_group, reason, requested_by, \
         requested_user, requested_ms, from_ms, until_ms, status, decided_by, decided_ms) \
         VALUES ('north', 1, 'site', 'video.example.org', 'pupils', 'lesson', 'Mr Lee', 'lee', \
         $1, $1, $2, 'approved', 'Ms Khan', $1)",
    )
    .bind(base + HOUR)
    .bind(base + 3 * DAY)
    .execute(pool)
    .await
    .unwrap();
}

/// Two audit rows of `north`, chained as a site chains them; gives the
/// head's hash.
async fn audit_chain(pool: &PgPool) -> String {
    let mut prev = hedge::store::GENESIS.to_string();
    for id in 1..=2 {
        let hash = hedge::store::row_hash(&prev, id, id * 1000, "root", None, "test", "{}");
        sqlx::query(
            "INSERT INTO audit (site, id, at_ms, actor, action, details, prev_hash, hash) \
             VALUES ('north', $1, $2, 'root', 'test', '{}', $3, $4)",
        )
        .bind(id)
        .bind(id * 1000)
        .bind(&prev)
        .bind(&hash)
        .execute(pool)
        .await
        .unwrap();
        prev = hash;
    }
    prev
}

/// The value of `section,item,field` in a CSV report.
fn csv_value<'a>(csv: &'a str, key: &str) -> &'a str {
    csv.lines()
        .find_map(|l| l.strip_prefix(&format!("{key},")))
        .unwrap_or_else(|| panic!("no {key} in\n{csv}"))
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

#[tokio::test]
async fn the_report_across_sites_sums_what_they_shipped_and_lists_each_site() {
    let postgres = match Postgres::start() {
        Ok(postgres) => postgres,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    postgres.create_database("hedge_central", "");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("password"), postgres.admin_password()).unwrap();
    let url = format!(
        "postgres://{ADMIN}@127.0.0.1:{}/hedge_central",
        postgres.port()
    );
    hedge(dir.path(), &url, &["init"]);
    let pool =
        PgPool::connect(&postgres.url_for(ADMIN, postgres.admin_password(), "hedge_central"))
            .await
            .unwrap();
    let base = (jiff::Timestamp::now().as_millisecond() - 3 * DAY).div_euclid(DAY) * DAY;
    populate(&pool, base).await;
    let (from, to) = (rfc3339(base), rfc3339(base + DAY));
    let period = ["--from", from.as_str(), "--to", to.as_str()];

    let csv = hedge(
        dir.path(),
        &url,
        &[&["report"][..], &period, &["--format", "csv"]].concat(),
    );
    assert_eq!(csv_value(&csv, "summary,totals,queries"), "20");
    assert_eq!(csv_value(&csv, "summary,totals,blocked"), "7");
    assert_eq!(csv_value(&csv, "summary,totals,safeguarding_blocked"), "6");
    assert_eq!(csv_value(&csv, "summary,totals,clients"), "4");
    assert_eq!(csv_value(&csv, "summary,totals,safeguarding_clients"), "2");
    assert_eq!(csv_value(&csv, "category,pornography,blocked"), "6");
    assert_eq!(csv_value(&csv, "name,bad[.]adult[.]com,blocked"), "6");
    assert_eq!(csv_value(&csv, "group,north: pupils,queries"), "7");
    assert_eq!(csv_value(&csv, "client,10.0.0.5 at north,name"), "ipad-5");
    assert_eq!(csv_value(&csv, "alerts,totals,raised"), "2");
    assert_eq!(csv_value(&csv, "alerts,totals,hits"), "6");
    assert_eq!(csv_value(&csv, "alerts,totals,open"), "1");
    assert_eq!(csv_value(&csv, "exemptions,totals,filed"), "1");
    assert_eq!(csv_value(&csv, "exemptions,totals,active_at_end"), "1");
    assert_eq!(csv_value(&csv, "audit,chain,rows"), "2");
    assert_eq!(csv_value(&csv, "audit,chain,intact"), "yes");
    // The table of sites: each site's period and state.
    assert_eq!(csv_value(&csv, "site,north,queries"), "8");
    assert_eq!(csv_value(&csv, "site,north,blocked"), "5");
    assert_eq!(csv_value(&csv, "site,north,alerts"), "1");
    assert_eq!(csv_value(&csv, "site,north,backlog_rows"), "12");
    let shipped: jiff::Timestamp = csv_value(&csv, "site,north,last_shipped").parse().unwrap();
    assert_eq!(shipped.as_millisecond(), base + DAY);
    assert!(csv_value(&csv, "site,north,audit_head").starts_with("2 "));
    assert_eq!(
        csv_value(&csv, "site,north,audit_received"),
        "\"intact, 2 rows, up to the head\""
    );
    assert_eq!(csv_value(&csv, "site,south,queries"), "12");
    assert_eq!(csv_value(&csv, "site,south,last_shipped"), "");
    assert_eq!(csv_value(&csv, "site,south,never_shipped"), "3");

    // --site narrows every count, and the table to that site.
    let north = hedge(
        dir.path(),
        &url,
        &[
            &["report"][..],
            &period,
            &["--format", "csv", "--site", "north"],
        ]
        .concat(),
    );
    assert_eq!(csv_value(&north, "summary,totals,queries"), "8");
    assert_eq!(csv_value(&north, "summary,totals,blocked"), "5");
    assert_eq!(csv_value(&north, "summary,totals,clients"), "2");
    assert_eq!(csv_value(&north, "group,pupils,queries"), "7");
    assert_eq!(csv_value(&north, "alerts,totals,raised"), "1");
    assert!(!north.contains("site,south,"), "{north}");

    let text = hedge(dir.path(), &url, &[&["report"][..], &period].concat());
    assert!(text.contains("\nSITES\n"), "{text}");
    assert!(text.contains("hedge answered 20 queries"), "{text}");

    let html_file = dir.path().join("report.html");
    hedge(
        dir.path(),
        &url,
        &[
            &["report"][..],
            &period,
            &["--format", "html", "--out"],
            &[html_file.to_str().unwrap()],
        ]
        .concat(),
    );
    let html = std::fs::read_to_string(&html_file).unwrap();
    assert!(html.contains("<h2>Sites</h2>"), "{html}");
    assert!(html.contains("<td>north</td>") && html.contains("<td>south</td>"));
    assert!(html.contains("bad[.]<wbr/>adult[.]<wbr/>com"));
    assert!(!html.to_lowercase().contains("<script"));

    // An unknown site is refused, and not recorded.
    let refused = Command::new(hedge_bin())
        .args([
            "central",
            "report",
            "--site",
            "nowhere",
            "--url",
            &url,
            "--password-file",
        ])
        .arg(dir.path().join("password"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));

    // Every report is recorded at the centre: who, what, how many rows.
    let recorded: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT db_user, kind, filters, rows FROM central_access ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(recorded.len(), 4, "{recorded:?}");
    assert!(
        recorded
            .iter()
            .all(|(user, kind, _, _)| user == ADMIN && kind == "report")
    );
    assert_eq!(recorded[0].3, 20);
    assert_eq!(recorded[1].3, 8);
    assert!(
        recorded[1].2.contains("\"site\":\"north\""),
        "{:?}",
        recorded[1]
    );
}
