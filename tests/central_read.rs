//! Reading across sites at the centre: `hedge central search`, `alerts`,
//! `exemptions` and `audit verify` against a real PostgreSQL (the
//! throwaway cluster of `common::postgres`), its tables made by `hedge
//! central init` and filled with SQL as sites would have shipped them.
//! Each test prints `skipped: ...` and passes when PostgreSQL is absent.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::postgres::Postgres;
use common::{own_user, run_hedge};
use hedge::store::{GENESIS, row_hash};
use sqlx::PgPool;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// A started cluster with the central schema in database `central`, an
/// officer role `officer1` (a member of hedge_officer) and an admin pool on
/// it; or `None` (having said why) when PostgreSQL is not installed.
struct Centre {
    // Kept so that the cluster lives as long as the centre.
    _postgres: Postgres,
    admin: PgPool,
    officer_url: String,
    dir: tempfile::TempDir,
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
    let admin_url = postgres.url_for(
        common::postgres::ADMIN,
        postgres.admin_password(),
        "central",
    );
    // hedge takes no password in a URL: each role's is in a file.
    let admin_password = dir.path().join("admin-password");
    std::fs::write(&admin_password, postgres.admin_password()).unwrap();
    let out = run_hedge(
        &[
            "central",
            "init",
            "--url",
            &format!(
                "postgres://{}@127.0.0.1:{}/central",
                common::postgres::ADMIN,
                postgres.port()
            ),
            "--password-file",
            admin_password.to_str().unwrap(),
        ],
        &dir.path().join("none.toml"),
    );
    assert!(out.status.success(), "init: {}", text(&out.stderr));
    postgres.create_role("officer1", "officer pass", "IN ROLE hedge_officer");
    std::fs::write(dir.path().join("officer-password"), "officer pass\n").unwrap();
    let officer_url = format!("postgres://officer1@127.0.0.1:{}/central", postgres.port());
    let admin = PgPool::connect(&admin_url).await.unwrap();
    Some(Centre {
        _postgres: postgres,
        admin,
        officer_url,
        dir,
    })
}

impl Centre {
    fn config(&self) -> PathBuf {
        self.dir.path().join("none.toml")
    }

    /// Runs `hedge central ARGS --url OFFICER`.
    fn hedge(&self, args: &[&str]) -> Output {
        let mut all = vec!["central"];
        all.extend_from_slice(args);
        let password = self.dir.path().join("officer-password");
        all.extend_from_slice(&["--url", &self.officer_url, "--password-file"]);
        all.push(password.to_str().unwrap());
        run_hedge(&all, &self.config())
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

    /// Runs a command expected to fail with exit code 1; gives its stderr.
    fn refused(&self, args: &[&str]) -> String {
        let out = self.hedge(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "hedge central {args:?} should fail: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stderr)
    }

    fn json(&self, args: &[&str]) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    async fn sql(&self, sql: &str) {
        sqlx::raw_sql(sql).execute(&self.admin).await.unwrap();
    }

    async fn site(&self, site: &str, instance: i64, head: Option<(i64, &str)>) {
        sqlx::query(
            "INSERT INTO sites (site, instance, first_ms, last_shipped_ms, audit_head_id, \
             audit_head_hash) VALUES ($1, $2, 0, $3, $4, $5) \
             ON CONFLICT (site) DO UPDATE SET audit_head_id = $4, audit_head_hash = $5",
        )
        .bind(site)
        .bind(instance)
        .bind(now_ms())
        .bind(head.map(|h| h.0))
        .bind(head.map(|h| h.1))
        .execute(&self.admin)
        .await
        .unwrap();
    }

    /// A query-log row as a site ships it.
    #[allow(clippy::too_many_arguments)]
    async fn query(
        &self,
        site: &str,
        id: i64,
        at_ms: i64,
        client: &str,
        mac: Option<&str>,
        client_name: Option<&str>,
        name: &str,
        action: &str,
        category: Option<&str>,
    ) {
        sqlx::query("SELECT hedge_day_partition($1)")
            .bind(at_ms)
            .execute(&self.admin)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO queries (site, id, at_ms, client_ip, mac, client_name, group_name, \
             name_key, qtype, action, category, rcode, times) \
             VALUES ($1, $2, $3, $4::inet, $5::macaddr, $6, 'pupils', $7, 1, $8, $9, 0, 1)",
        )
        .bind(site)
        .bind(id)
        .bind(at_ms)
        .bind(client)
        .bind(mac)
        .bind(client_name)
        .bind(hedge::store::name_key(name))
        .bind(action)
        .bind(category)
        .execute(&self.admin)
        .await
        .unwrap();
    }

    /// The last access recorded: (db_user, os_user, kind, filters, rows).
    async fn last_access(&self) -> (String, String, String, serde_json::Value, i64) {
        let (db, os, kind, filters, rows): (String, String, String, String, i64) = sqlx::query_as(
            "SELECT db_user, os_user, kind, filters, rows FROM central_access \
                 ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(&self.admin)
        .await
        .unwrap();
        (db, os, kind, serde_json::from_str(&filters).unwrap(), rows)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

/// (site, id) of each row of a JSON listing, in order.
fn keys(rows: &[serde_json::Value]) -> Vec<(String, i64)> {
    rows.iter()
        .map(|r| {
            (
                r["site"].as_str().unwrap().to_string(),
                r["id"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn key(site: &str, id: i64) -> (String, i64) {
    (site.to_string(), id)
}

#[tokio::test]
async fn searches_and_listings_read_across_sites_and_are_recorded() {
    let Some(centre) = centre().await else {
        return;
    };
    let base = now_ms() - 2 * HOUR_MS;
    centre.site("north", 1, None).await;
    centre.site("south", 2, None).await;
    let mac = Some("aa:bb:cc:dd:ee:01");
    centre
        .query(
            "north",
            1,
            base + 1000,
            "10.1.2.3",
            mac,
            Some("=cmd|' /C calc'!A0"),
            "www.example.com",
            "blocked",
            Some("gambling"),
        )
        .await;
    centre
        .query(
            "north",
            2,
            base + 2000,
            "10.1.3.4",
            None,
            None,
            "example.com",
            "allowed",
            None,
        )
        .await;
    centre
        .query(
            "north",
            3,
            base + 3000,
            "10.1.2.9",
            None,
            None,
            "www.example-x.com",
            "allowed",
            None,
        )
        .await;
    centre
        .query(
            "north",
            4,
            base - 3 * DAY_MS,
            "10.1.2.3",
            mac,
            None,
            "www.example.com",
            "allowed",
            None,
        )
        .await;
    centre
        .query(
            "south",
            1,
            base + 1500,
            "10.1.2.3",
            None,
            None,
            "mail.example.com",
            "allowed",
            None,
        )
        .await;
    centre
        .query(
            "south",
            2,
            base + 2500,
            "fd00::7",
            None,
            None,
            "notexample.com",
            "allowed",
            None,
        )
        .await;

    // A site, a name and everything below it, newest first; names that
    // merely share the prefix ("example-x", "notexample") are not found.
    let rows = centre.json(&[
        "search",
        "--site",
        "north",
        "--name",
        "*.example.com",
        "--json",
    ]);
    assert_eq!(
        keys(&rows),
        [key("north", 2), key("north", 1), key("north", 4)]
    );
    assert_eq!(rows[1]["name"], "www.example.com");
    assert_eq!(rows[1]["client"], "10.1.2.3");
    assert_eq!(rows[1]["mac"], "aa:bb:cc:dd:ee:01");
    assert_eq!(rows[1]["category"], "gambling");
    let (db_user, os_user, kind, filters, count) = centre.last_access().await;
    assert_eq!(
        (db_user.as_str(), os_user, kind.as_str(), count),
        ("officer1", own_user(), "export", 3)
    );
    assert_eq!(filters["site"], "north");
    assert_eq!(filters["filter"]["name"]["name"], "example.com");

    // Every site, by client network and period.
    let from = rfc3339(base);
    let rows = centre.json(&[
        "search",
        "--client",
        "10.1.2.0/24",
        "--from",
        &from,
        "--json",
    ]);
    assert_eq!(
        keys(&rows),
        [key("north", 3), key("south", 1), key("north", 1)]
    );
    let rows = centre.json(&["search", "--client", "fd00::/64", "--json"]);
    assert_eq!(keys(&rows), [key("south", 2)]);
    let to = rfc3339(base + 2000);
    let rows = centre.json(&["search", "--from", &from, "--to", &to, "--json"]);
    assert_eq!(keys(&rows), [key("south", 1), key("north", 1)]);
    let rows = centre.json(&[
        "search",
        "--mac",
        "aa:bb:cc:dd:ee:01",
        "--action",
        "blocked",
        "--json",
    ]);
    assert_eq!(keys(&rows), [key("north", 1)]);

    // A table is a search; CSV leads with the site and makes formulas inert.
    let table = centre.ok(&["search", "--name", "mail.example.com"]);
    assert!(table.starts_with("SITE"), "{table}");
    assert!(
        table.contains("south") && table.contains("mail.example.com"),
        "{table}"
    );
    let (_, _, kind, _, count) = centre.last_access().await;
    assert_eq!((kind.as_str(), count), ("search", 1));
    let csv = centre.ok(&[
        "search",
        "--site",
        "north",
        "--category",
        "gambling",
        "--csv",
    ]);
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("site,time,client,client_name,group,name")
    );
    let row = lines.next().unwrap();
    assert!(row.starts_with("north,"), "{row}");
    assert!(row.contains("'=cmd"), "formula not made inert: {row}");
    assert_eq!(lines.next(), None);

    // A site nobody ships as, and a backwards period, are refused by name.
    let error = centre.refused(&["search", "--site", "nowhere"]);
    assert!(
        error.contains("--site") && error.contains("nowhere"),
        "{error}"
    );
    let error = centre.refused(&["search", "--from", &to, "--to", &from]);
    assert!(error.contains("--to"), "{error}");

    // Alerts: open ones across sites with their deliveries; one site's all.
    centre
        .sql(
            "INSERT INTO alerts (site, id, first_ms, last_ms, hits, client_ip, mac, client_name, \
             group_name, category, name) VALUES \
             ('north', 1, 1000, 2000, 3, '10.1.2.3', 'aa:bb:cc:dd:ee:01', 'lab-3', 'pupils', \
              'gambling', 'bet.example'), \
             ('south', 1, 1500, 1600, 1, '10.9.0.1', NULL, NULL, 'staff', 'adult', 'x.example');
             INSERT INTO alerts (site, id, first_ms, last_ms, hits, client_ip, group_name, \
             category, name, acked_ms, acked_by, acked_user, ack_note) VALUES \
             ('north', 2, 3000, 3000, 1, '10.1.2.4', 'pupils', 'gambling', 'bet.example', \
              4000, 'Ann Officer', 'ann', 'spoke to the pupil');
             INSERT INTO alert_deliveries (site, alert_id, sink, state, attempts, error, at_ms) \
             VALUES ('north', 1, 'syslog', 'delivered', 1, NULL, 1100), \
             ('north', 1, 'https://hooks.example/x', 'failed', 3, 'timed out', 1900);",
        )
        .await;
    let open = centre.json(&["alerts", "--open", "--json"]);
    assert_eq!(keys(&open), [key("south", 1), key("north", 1)]);
    assert_eq!(open[1]["deliveries"].as_array().unwrap().len(), 2);
    assert_eq!(open[1]["mac"], "aa:bb:cc:dd:ee:01");
    let (_, _, kind, filters, count) = centre.last_access().await;
    assert_eq!((kind.as_str(), count), ("alerts", 2));
    assert_eq!(filters["open"], true);
    let north = centre.ok(&["alerts", "--site", "north", "--csv"]);
    let lines: Vec<&str> = north.lines().collect();
    assert_eq!(lines.len(), 3, "{north}");
    assert!(lines[1].starts_with("north,2,acknowledged,"), "{north}");
    assert!(lines[1].contains("Ann Officer") && lines[1].contains("spoke to the pupil"));
    assert!(
        lines[2].contains("https://hooks.example/x: failed after 3 (timed out); syslog: delivered"),
        "{north}"
    );

    // Exemptions of every site, and of one with its revocation.
    centre
        .sql(
            "INSERT INTO exemptions (site, id, kind, name, scope_group, reason, requested_by, \
             requested_user, requested_ms, from_ms, until_ms, status, decided_by, decided_user, \
             decided_ms) VALUES ('north', 1, 'site', 'maths.example', 'pupils', 'lesson', \
             'Tom Teacher', 'tom', 1000, 1000, 90000, 'approved', 'Ann Officer', 'ann', 1200);
             INSERT INTO exemptions (site, id, kind, scope_client, reason, requested_by, \
             requested_user, requested_ms, from_ms, until_ms, status, decided_by, decided_ms, \
             revoked_by, revoked_user, revoked_ms, revoke_reason) VALUES ('south', 1, 'bypass', \
             '10.9.0.5', 'exam laptop', 'Sam Staff', 'sam', 2000, 2000, 9000, 'revoked', \
             'Ann Officer', 2100, 'Ann Officer', 'ann', 2500, 'exam over');",
        )
        .await;
    let all = centre.json(&["exemptions", "--json"]);
    assert_eq!(keys(&all), [key("south", 1), key("north", 1)]);
    assert_eq!(all[1]["scope"], "group pupils");
    assert_eq!(all[1]["decided_by"], "Ann Officer");
    let south = centre.json(&["exemptions", "--site", "south", "--json"]);
    assert_eq!(keys(&south), [key("south", 1)]);
    assert_eq!(south[0]["status"], "revoked");
    assert_eq!(south[0]["revoke_reason"], "exam over");
    assert_eq!(south[0]["scope"], "client 10.9.0.5");
    let (db_user, _, kind, _, count) = centre.last_access().await;
    assert_eq!(
        (db_user.as_str(), kind.as_str(), count),
        ("officer1", "exemptions", 1)
    );
    let table = centre.ok(&["exemptions"]);
    assert!(table.contains("maths[.]example"), "{table}");
}

/// Inserts `site`'s audit chain of `n` rows, each hashed as the site
/// hashes it; gives the hashes (index 0: row 1).
async fn ship_chain(centre: &Centre, site: &str, n: i64) -> Vec<String> {
    let mut prev = GENESIS.to_string();
    let mut hashes = Vec::new();
    for id in 1..=n {
        let at_ms = 1_000 * id;
        let person = (id % 2 == 0).then_some("Ann Officer");
        let details = format!("{{\"n\":{id}}}");
        let hash = row_hash(&prev, id, at_ms, "ann", person, "hold.placed", &details);
        sqlx::query(
            "INSERT INTO audit (site, id, at_ms, actor, person, action, details, prev_hash, hash) \
             VALUES ($1, $2, $3, 'ann', $4, 'hold.placed', $5, $6, $7)",
        )
        .bind(site)
        .bind(id)
        .bind(at_ms)
        .bind(person)
        .bind(&details)
        .bind(&prev)
        .bind(&hash)
        .execute(&centre.admin)
        .await
        .unwrap();
        hashes.push(hash.clone());
        prev = hash;
    }
    hashes
}

#[tokio::test]
async fn audit_verify_recomputes_a_sites_shipped_chain() {
    let Some(centre) = centre().await else {
        return;
    };
    let hashes = ship_chain(&centre, "north", 4).await;
    centre.site("north", 1, Some((4, &hashes[3]))).await;
    ship_chain(&centre, "south", 2).await;
    centre.site("south", 2, Some((2, "0"))).await;

    let out = centre.ok(&["audit", "verify", "--site", "north"]);
    assert!(out.contains("intact: 4 rows"), "{out}");
    assert!(
        out.contains(&format!("last row: 4, hash {}", hashes[3])),
        "{out}"
    );
    assert!(
        out.contains(&format!("newest audit row as 4, hash {}", hashes[3])),
        "{out}"
    );
    let (db_user, os_user, kind, filters, count) = centre.last_access().await;
    assert_eq!(
        (db_user.as_str(), os_user, kind.as_str(), count),
        ("officer1", own_user(), "audit", 4)
    );
    assert_eq!(filters["site"], "north");

    // The hash the site printed: the end of the chain, or a row before it
    // (the site has recorded and shipped more since).
    let out = centre.ok(&[
        "audit",
        "verify",
        "--site",
        "north",
        "--expect-hash",
        &hashes[3],
    ]);
    assert!(out.contains("ends at the expected hash"), "{out}");
    let out = centre.ok(&[
        "audit",
        "verify",
        "--site",
        "north",
        "--expect-hash",
        &hashes[1],
    ]);
    assert!(
        out.contains("row 2's") && out.contains("2 later row(s)"),
        "{out}"
    );

    // A hash the centre has not got: a row the site reports but has not
    // shipped yet, or one that differs from everything shipped.
    let unshipped = row_hash(&hashes[3], 5, 5_000, "ann", None, "hold.placed", "{}");
    centre.site("north", 1, Some((5, &unshipped))).await;
    let error = centre.refused(&[
        "audit",
        "verify",
        "--site",
        "north",
        "--expect-hash",
        &unshipped,
    ]);
    assert!(error.contains("not yet shipped up to that row"), "{error}");
    centre.site("north", 1, Some((4, &hashes[3]))).await;
    let other = "ab".repeat(32);
    let error = centre.refused(&[
        "audit",
        "verify",
        "--site",
        "north",
        "--expect-hash",
        &other,
    ]);
    assert!(error.contains("differs"), "{error}");
    let error = centre.refused(&["audit", "verify", "--site", "north", "--expect-hash", "xyz"]);
    assert!(
        error.contains("--expect-hash") && error.contains("xyz"),
        "{error}"
    );

    // A row's details edited at the centre behind the chain's back: named,
    // with its time, and the command fails. The other site is untouched.
    centre
        .sql("UPDATE audit SET details = '{\"n\":99}' WHERE site = 'north' AND id = 3")
        .await;
    let error = centre.refused(&["audit", "verify", "--site", "north"]);
    assert!(error.contains("BROKEN at row 3"), "{error}");
    assert!(error.contains("the row was changed"), "{error}");
    let out = centre.ok(&["audit", "verify", "--site", "south"]);
    assert!(out.contains("intact: 2 rows"), "{out}");

    // A row removed from the middle is named as missing.
    centre
        .sql("DELETE FROM audit WHERE site = 'south' AND id = 1")
        .await;
    let error = centre.refused(&["audit", "verify", "--site", "south"]);
    assert!(
        error.contains("BROKEN at row 1") && error.contains("missing"),
        "{error}"
    );
    let error = centre.refused(&["audit", "verify", "--site", "nowhere"]);
    assert!(
        error.contains("--site") && error.contains("nowhere"),
        "{error}"
    );
}
