//! The central retention and central legal holds: `hedge central purge`
//! drops the query log's day partitions past retention whole, keeps the
//! rows a central hold or a site's shipped hold covers, says what it would
//! do on a dry run and changes nothing then; `hedge central hold
//! add|list|release` record who placed and released a hold and why.
//! Against a real PostgreSQL (the throwaway cluster of
//! `common::postgres`); prints `skipped: ...` and passes without one.

mod common;

use std::process::Output;

use common::postgres::{ADMIN, Postgres};
use common::{own_user, run_hedge};
use sqlx::PgPool;

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

struct Centre {
    _postgres: Postgres,
    admin: PgPool,
    url: String,
    dir: tempfile::TempDir,
}

impl Centre {
    /// Runs `hedge central ARGS` as the schema's owner.
    fn hedge(&self, args: &[&str]) -> Output {
        let password = self.dir.path().join("admin-password");
        let mut all = vec!["central"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--url", &self.url, "--password-file"]);
        all.push(password.to_str().unwrap());
        run_hedge(&all, &self.dir.path().join("none.toml"))
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.hedge(args);
        assert!(
            out.status.success(),
            "hedge central {args:?} failed: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    fn refused(&self, args: &[&str]) -> String {
        let out = self.hedge(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "hedge central {args:?} should fail: {}",
            text(&out.stdout)
        );
        text(&out.stderr)
    }

    /// `count` rows of `client` at `site`, `days` before the start of
    /// `today`'s UTC day (so that they all fall in one day), ids from
    /// `first`.
    async fn rows(&self, today: i64, site: &str, first: i64, count: i64, days: i64, client: &str) {
        let at = today - today.rem_euclid(DAY_MS) - days * DAY_MS;
        sqlx::query("SELECT hedge_day_partition($1)")
            .bind(at)
            .execute(&self.admin)
            .await
            .unwrap();
        for id in first..first + count {
            sqlx::query(
                "INSERT INTO queries (site, id, at_ms, client_ip, name_key, qtype, action, \
                 rcode, times) VALUES ($1, $2, $3, $4::inet, 'org.example', 1, 'allowed', 0, 1)",
            )
            .bind(site)
            .bind(id)
            .bind(at + id)
            .bind(client)
            .execute(&self.admin)
            .await
            .unwrap();
        }
    }

    /// The query log's rows, as (site, client, count), in order.
    async fn counts(&self) -> Vec<(String, String, i64)> {
        sqlx::query_as(
            "SELECT site, host(client_ip), count(*) FROM queries GROUP BY 1, 2 ORDER BY 1, 2",
        )
        .fetch_all(&self.admin)
        .await
        .unwrap()
    }

    async fn partitions(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = 'queries'::regclass")
            .fetch_one(&self.admin)
            .await
            .unwrap()
    }
}

async fn centre() -> Option<Centre> {
    let postgres = match Postgres::start() {
        Ok(postgres) => postgres,
        Err(why) => {
            eprintln!("skipped: {why}");
            return None;
        }
    };
    postgres.create_database("central", "");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("admin-password"), postgres.admin_password()).unwrap();
    let url = format!("postgres://{ADMIN}@127.0.0.1:{}/central", postgres.port());
    let admin = PgPool::connect(&postgres.url_for(ADMIN, postgres.admin_password(), "central"))
        .await
        .unwrap();
    let centre = Centre {
        _postgres: postgres,
        admin,
        url,
        dir,
    };
    centre.ok(&["init"]);
    Some(centre)
}

#[tokio::test]
async fn purge_drops_old_days_and_keeps_what_a_hold_covers() {
    let Some(centre) = centre().await else { return };
    for site in ["hill-top", "oak-farm"] {
        sqlx::query("INSERT INTO sites (site, instance, first_ms) VALUES ($1, 1, 0)")
            .bind(site)
            .execute(&centre.admin)
            .await
            .unwrap();
    }
    // 400 days ago: a client a central hold will cover, one nothing
    // covers, and one of oak-farm under oak-farm's own hold as it shipped
    // it. 500 days ago: nothing held. 10 days ago: within retention.
    let today = now_ms();
    centre.rows(today, "hill-top", 1, 3, 400, "10.0.0.5").await;
    centre.rows(today, "hill-top", 4, 2, 400, "10.0.0.6").await;
    centre.rows(today, "oak-farm", 1, 1, 400, "10.9.0.1").await;
    centre.rows(today, "hill-top", 10, 2, 500, "10.0.0.7").await;
    centre.rows(today, "hill-top", 20, 2, 10, "10.0.0.5").await;
    sqlx::query(
        "INSERT INTO legal_holds (site, id, client_net, from_ms, to_ms, reason, placed_by, \
         placed_user, placed_ms) VALUES ('oak-farm', 1, '10.9.0.0/24', $1, $2, 'police request', \
         'Ms Head', 'head', $2)",
    )
    .bind(now_ms() - 410 * DAY_MS)
    .bind(now_ms() - 390 * DAY_MS)
    .execute(&centre.admin)
    .await
    .unwrap();
    let before = centre.counts().await;
    let partitions = centre.partitions().await;

    // A hold on a site that never shipped, or with no reason, is refused
    // with the value named.
    let err = centre.refused(&[
        "hold",
        "add",
        "--site",
        "hill-tops",
        "--client",
        "10.0.0.5",
        "--from",
        "401d",
        "--to",
        "399d",
        "--reason",
        "case 12",
    ]);
    assert!(err.contains("\"hill-tops\""), "{err}");
    let err = centre.refused(&[
        "hold", "add", "--site", "hill-top", "--client", "10.0.0.5", "--from", "401d", "--to",
        "399d", "--reason", " ",
    ]);
    assert!(err.contains("--reason"), "{err}");
    let err = centre.refused(&[
        "hold",
        "add",
        "--site",
        "hill-top",
        "--client",
        "10.0.0.500",
        "--from",
        "401d",
        "--to",
        "399d",
        "--reason",
        "case 12",
    ]);
    assert!(err.contains("10.0.0.500"), "{err}");

    let out = centre.ok(&[
        "hold", "add", "--site", "hill-top", "--client", "10.0.0.5", "--from", "401d", "--to",
        "399d", "--reason", "case 12",
    ]);
    assert!(
        out.contains("central hold 1 placed on site hill-top"),
        "{out}"
    );
    let listed: Vec<serde_json::Value> =
        serde_json::from_str(&centre.ok(&["hold", "list", "--json"])).unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["site"], "hill-top");
    assert_eq!(listed[0]["client_net"], "10.0.0.5/32");
    assert_eq!(listed[0]["reason"], "case 12");
    assert_eq!(listed[0]["placed_by"], ADMIN, "the role that signed in");
    assert_eq!(listed[0]["placed_user"], own_user().as_str());

    // A dry run says what would go, changes nothing and is not recorded.
    let last_access = || async {
        sqlx::query_scalar::<_, Option<i64>>("SELECT max(id) FROM central_access")
            .fetch_one(&centre.admin)
            .await
            .unwrap()
            .unwrap_or(0)
    };
    let before_dry_run = last_access().await;
    let out = centre.ok(&["purge", "--retention-days", "365", "--dry-run"]);
    assert!(
        out.contains(
            "would drop 1 day partition(s) whole; 1 kept for 4 held row(s); 4 row(s) would be deleted"
        ),
        "{out}"
    );
    assert_eq!(centre.counts().await, before);
    assert_eq!(centre.partitions().await, partitions);
    let accesses = last_access().await;
    assert_eq!(accesses, before_dry_run, "a dry run is not recorded");

    let out = centre.ok(&["purge", "--retention-days", "365"]);
    assert!(
        out.contains(
            "dropped 1 day partition(s) whole; 1 kept for 4 held row(s); 4 row(s) deleted"
        ),
        "{out}"
    );
    let held = vec![
        ("hill-top".to_string(), "10.0.0.5".to_string(), 5),
        ("oak-farm".to_string(), "10.9.0.1".to_string(), 1),
    ];
    assert_eq!(centre.counts().await, held, "held and recent rows kept");
    assert_eq!(
        centre.partitions().await,
        partitions - 1,
        "the 500-day-old day dropped"
    );
    let recorded: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT kind, os_user, rows FROM central_access WHERE id > $1 ORDER BY id")
            .bind(accesses)
            .fetch_all(&centre.admin)
            .await
            .unwrap();
    assert_eq!(recorded, vec![("purge".to_string(), own_user(), 4)]);

    // Released, the hold's rows age out at the next purge; oak-farm's own
    // hold still keeps its row.
    let err = centre.refused(&["hold", "release", "1", "--site", "hill-top", "--reason", ""]);
    assert!(err.contains("--reason"), "{err}");
    let out = centre.ok(&[
        "hold",
        "release",
        "1",
        "--site",
        "hill-top",
        "--reason",
        "case closed",
    ]);
    assert!(out.contains("central hold 1 on site hill-top"), "{out}");
    let listed = centre.hedge(&["hold", "list"]);
    assert!(listed.status.success() && listed.stdout.is_empty());
    assert!(text(&listed.stderr).contains("no central holds"));
    let all = centre.ok(&["hold", "list", "--all", "--csv"]);
    assert!(all.contains("case closed"), "{all}");
    assert!(all.contains(ADMIN), "{all}");
    let out = centre.ok(&["purge", "--retention-days", "365"]);
    assert!(
        out.contains(
            "dropped 0 day partition(s) whole; 1 kept for 1 held row(s); 3 row(s) deleted"
        ),
        "{out}"
    );
    assert_eq!(
        centre.counts().await,
        vec![
            ("hill-top".to_string(), "10.0.0.5".to_string(), 2),
            ("oak-farm".to_string(), "10.9.0.1".to_string(), 1),
        ]
    );
}
