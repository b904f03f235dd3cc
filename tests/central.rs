//! Shipping to a central PostgreSQL through the real binary, against a
//! throwaway cluster the test starts: two sites ship and the centre's
//! sums equal their own; a changed row (a hold released) arrives in its
//! new state; the centre stopped and started again, and a site killed
//! while it ships, lose and double nothing; a wrong password and a site
//! name another database holds are said in `hedge status`, and DNS goes
//! on. Without PostgreSQL's server binaries the tests say they skipped.

mod common;

use std::path::Path;

use common::postgres::Postgres;
use common::*;
use hickory_proto::rr::RecordType;
use serde_json::Value;
use sqlx::PgPool;

/// A cluster with the central schema in database `hedge`, and a login
/// role for each of `sites` (a member of hedge_site) whose password is in
/// `<dir>/<site>.password`.
struct Centre {
    postgres: Postgres,
    dir: tempfile::TempDir,
}

impl Centre {
    fn start(sites: &[&str]) -> Option<Centre> {
        let postgres = match Postgres::start() {
            Ok(postgres) => postgres,
            Err(reason) => {
                eprintln!("skipped: {reason}");
                return None;
            }
        };
        postgres.create_database("hedge", "");
        let dir = tempfile::TempDir::new().unwrap();
        let admin_password = dir.path().join("admin.password");
        std::fs::write(&admin_password, postgres.admin_password()).unwrap();
        let url = format!(
            "postgres://{}@127.0.0.1:{}/hedge",
            common::postgres::ADMIN,
            postgres.port()
        );
        let init = run_hedge(
            &[
                "central",
                "init",
                "--url",
                &url,
                "--password-file",
                admin_password.to_str().unwrap(),
            ],
            Path::new("/nonexistent.toml"),
        );
        assert!(
            init.status.success(),
            "central init: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        for site in sites {
            let password = format!("{site}-secret");
            postgres.create_role(site, &password, "IN ROLE hedge_site");
            std::fs::write(dir.path().join(format!("{site}.password")), &password).unwrap();
        }
        Some(Centre { postgres, dir })
    }

    /// The `[central]` section for a site shipping as `site` with role `role`.
    fn section(&self, role: &str, site: &str) -> String {
        format!(
            "[central]\nurl = \"postgres://{role}@127.0.0.1:{}/hedge?sslmode=disable\"\n\
             password_file = \"{}\"\nsite = \"{site}\"\n",
            self.postgres.port(),
            self.dir.path().join(format!("{role}.password")).display()
        )
    }

    async fn pool(&self) -> PgPool {
        PgPool::connect(&self.postgres.url_for(
            common::postgres::ADMIN,
            self.postgres.admin_password(),
            "hedge",
        ))
        .await
        .unwrap()
    }
}

/// (rows, sum of times asked) of site `site` at the centre.
async fn central_counts(pool: &PgPool, site: &str) -> (i64, i64) {
    sqlx::query_as("SELECT count(*), coalesce(sum(times), 0)::bigint FROM queries WHERE site = $1")
        .bind(site)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// (rows, sum of times asked) in a site's own database.
async fn local_counts(database: &Path) -> (i64, i64) {
    let database = hedge::store::Database::open(database).await.unwrap();
    let counts = sqlx::query_as("SELECT count(*), coalesce(sum(times), 0) FROM queries")
        .fetch_one(database.pool())
        .await
        .unwrap();
    database.close().await;
    counts
}

/// Asks `count` distinct names (and the first one twice more, a repeat).
async fn ask(hedge: &Hedge, tag: &str, count: usize) {
    for i in 0..count {
        let name = format!("{tag}-{i}.upstream.example.");
        udp(hedge.addr, &query(&name, RecordType::A)).await;
    }
    let first = format!("{tag}-0.upstream.example.");
    for _ in 0..2 {
        udp(hedge.addr, &query(&first, RecordType::A)).await;
    }
    // A search writes every row waiting for its repeat window.
    hedge.ok(&["logs", "search", "--since", "1h", "--limit", "1"]);
}

/// Writes `count` rows into a site's own log beside the running server
/// (more than one shipping batch).
async fn add_rows(database: &Path, count: usize) {
    let database = hedge::store::Database::open(database).await.unwrap();
    let now = hedge::store::now_ms();
    let rows: Vec<_> = (0..count)
        .map(|i| hedge::store::QueryRecord {
            at_ms: now - 60_000 + i as i64,
            client: format!("10.0.{}.{}", i / 250, i % 250).parse().unwrap(),
            client_name: None,
            mac: None,
            group: Some("default".into()),
            name: format!("bulk-{i}.example"),
            qtype: 1,
            action: hedge::store::Action::Allowed,
            category: None,
            rule: None,
            rcode: 0,
            upstream_us: Some(1000),
        })
        .collect();
    for chunk in rows.chunks(2000) {
        database.insert_queries(chunk).await.unwrap();
    }
    database.close().await;
}

/// Waits until a site has shipped everything it has.
async fn shipped(hedge: &Hedge) -> Value {
    hedge
        .wait_for_status("the central backlog to be shipped", |s| {
            let central = &s["central"];
            central["error"].is_null()
                && central["last_success_ms"].is_i64()
                && central["backlog"]["rows"] == 0
        })
        .await
}

fn site_config(upstream: std::net::SocketAddr, database: &Path, central: &str) -> String {
    config_text(&[], upstream, "", "").replace("listen = []", "listen = [\"LISTEN\"]")
        + &format!(
            "\n[logging]\ndatabase = \"{}\"\n\n{central}",
            database.display()
        )
}

#[tokio::test]
async fn sites_ship_everything_once_through_outages_and_a_kill() {
    let Some(mut centre) = Centre::start(&["site_a", "site_b"]) else {
        return;
    };
    let upstream = TestUpstream::start().await;
    let data = tempfile::TempDir::new().unwrap();
    let (db_a, db_b) = (data.path().join("a.db"), data.path().join("b.db"));
    let config_a = site_config(upstream.addr, &db_a, &centre.section("site_a", "hill-top"));
    let site_a = Hedge::start(&config_a).await;
    let site_b = Hedge::start(&site_config(
        upstream.addr,
        &db_b,
        &centre.section("site_b", "brook-house"),
    ))
    .await;
    site_a.wait_for_database().await;
    site_b.wait_for_database().await;
    site_a.person("A. Lead", &["safeguarding"]);
    site_b.person("B. Lead", &["safeguarding"]);
    ask(&site_a, "a", 40).await;
    ask(&site_b, "b", 25).await;

    // A hold placed and released at site A: the release changes the row
    // after it may have been shipped.
    site_a.ok(&[
        "logs",
        "hold",
        "add",
        "--client",
        "127.0.0.1",
        "--from",
        "2026-01-01",
        "--to",
        "2026-02-01",
        "--reason",
        "DSL investigation, alert 7",
        "--by",
        "A. Lead",
    ]);
    shipped(&site_a).await;
    site_a.ok(&[
        "logs",
        "hold",
        "release",
        "1",
        "--by",
        "A. Lead",
        "--reason",
        "investigation closed, no action",
    ]);
    shipped(&site_a).await;
    shipped(&site_b).await;

    let pool = centre.pool().await;
    assert_eq!(
        central_counts(&pool, "hill-top").await,
        local_counts(&db_a).await
    );
    assert_eq!(
        central_counts(&pool, "brook-house").await,
        local_counts(&db_b).await
    );
    let (rows, times) = central_counts(&pool, "hill-top").await;
    assert!(
        rows >= 40 && times >= rows + 2,
        "repeats counted: {rows} rows, {times} asked"
    );
    let released: Option<i64> = sqlx::query_scalar(
        "SELECT released_ms FROM legal_holds WHERE site = 'hill-top' AND id = 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        released.is_some(),
        "the released hold arrived in its new state"
    );
    let audit: i64 = sqlx::query_scalar("SELECT count(*) FROM audit WHERE site = 'hill-top'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        audit >= 3,
        "person added, hold placed, hold released: {audit}"
    );
    let state: (i64, Option<String>) =
        sqlx::query_as("SELECT backlog_rows, audit_head_hash FROM sites WHERE site = 'hill-top'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(state.0, 0);
    assert!(state.1.is_some());
    pool.close().await;

    // The centre stops: the site answers and records as before, and says
    // what waits and why.
    centre.postgres.stop();
    ask(&site_a, "outage", 30).await;
    let status = site_a
        .wait_for_status("shipping to fail with rows waiting", |s| {
            s["central"]["error"].is_string() && s["central"]["backlog"]["rows"].as_u64() > Some(0)
        })
        .await;
    assert!(
        status["central"]["backlog"]["oldest_ms"].is_i64(),
        "{status}"
    );
    let text = site_a.ok(&["status"]);
    assert!(
        text.contains("central:") && text.contains("failing"),
        "{text}"
    );
    let metrics_free = site_a.ok(&["status", "--json"]);
    assert!(metrics_free.contains("backlog"));
    centre.postgres.start_again();
    shipped(&site_a).await;
    let pool = centre.pool().await;
    assert_eq!(
        central_counts(&pool, "hill-top").await,
        local_counts(&db_a).await
    );

    // A site killed while it ships: a backlog built while the centre is
    // down, the centre back, the site killed as soon as shipping begins.
    centre.postgres.stop();
    add_rows(&db_a, 20_000).await;
    centre.postgres.start_again();
    let before = central_counts(&pool, "hill-top").await.0;
    for () in patiently() {
        if central_counts(&pool, "hill-top").await.0 > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    site_a.signal("KILL");
    drop(site_a);
    let site_a = Hedge::start(&config_a).await;
    site_a.wait_for_database().await;
    site_a.act_as("A. Lead");
    shipped(&site_a).await;
    assert_eq!(
        central_counts(&pool, "hill-top").await,
        local_counts(&db_a).await
    );
    let distinct: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT id) FROM queries WHERE site = 'hill-top'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        distinct,
        central_counts(&pool, "hill-top").await.0,
        "no row twice"
    );
    pool.close().await;
}

#[tokio::test]
async fn a_wrong_password_or_a_taken_site_is_said_and_dns_goes_on() {
    let Some(centre) = Centre::start(&["site_a", "site_b"]) else {
        return;
    };
    let upstream = TestUpstream::start().await;
    let data = tempfile::TempDir::new().unwrap();

    // A wrong password.
    std::fs::write(centre.dir.path().join("wrong.password"), "not-it").unwrap();
    let section = centre
        .section("site_a", "hill-top")
        .replace("site_a.password", "wrong.password");
    let wrong = Hedge::start(&site_config(
        upstream.addr,
        &data.path().join("w.db"),
        &section,
    ))
    .await;
    let status = wrong
        .wait_for_status("the central error", |s| {
            s["central"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("password"))
        })
        .await;
    let error = status["central"]["error"].as_str().unwrap();
    assert!(error.contains("password authentication failed"), "{error}");
    assert!(
        !error.contains("not-it"),
        "the password is never shown: {error}"
    );
    let answer = udp(wrong.addr, &query("www.upstream.example.", RecordType::A)).await;
    assert_eq!(addresses(&answer), ["192.0.2.10"]);

    // A database without the central tables: said, with its URL.
    centre.postgres.create_database("empty", "");
    let section = centre
        .section("site_a", "hill-top")
        .replace("/hedge?", "/empty?");
    let uninitialised = Hedge::start(&site_config(
        upstream.addr,
        &data.path().join("u.db"),
        &section,
    ))
    .await;
    let status = uninitialised
        .wait_for_status("the missing tables", |s| {
            s["central"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("no hedge tables"))
        })
        .await;
    let error = status["central"]["error"].as_str().unwrap();
    assert!(error.contains("hedge central init"), "{error}");
    assert!(error.contains("/empty?sslmode=disable"), "the URL: {error}");
    drop(uninitialised);

    // Two databases under one site name: the second is refused.
    let first = Hedge::start(&site_config(
        upstream.addr,
        &data.path().join("1.db"),
        &centre.section("site_a", "brook-house"),
    ))
    .await;
    shipped(&first).await;
    let second = Hedge::start(&site_config(
        upstream.addr,
        &data.path().join("2.db"),
        &centre.section("site_b", "brook-house"),
    ))
    .await;
    let status = second
        .wait_for_status("the taken site to be refused", |s| {
            s["central"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("another hedge"))
        })
        .await;
    let error = status["central"]["error"].as_str().unwrap();
    assert!(
        error.contains("already shipped by another hedge"),
        "{error}"
    );
    let answer = udp(second.addr, &query("www.upstream.example.", RecordType::A)).await;
    assert_eq!(addresses(&answer), ["192.0.2.10"]);
}

#[test]
fn a_wrong_central_section_or_url_is_named_where_it_is() {
    config_check_refuses(
        "[upstream]\nservers = [\"127.0.0.1:53\"]\n\
         [central]\nurl = \"postgres://hill_top:secret@central.example/hedge\"\n\
         site = \"Hill Top\"\npassword_file = \"/nonexistent/central-password\"\n\
         max_backlog_days = 0\n",
        &[
            "4: central.url: the URL holds a password",
            "5: central.site: \"Hill Top\" is not a site name",
            "6: central.password_file:",
            "7: central.max_backlog_days: 0 is out of range",
        ],
        "secret",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hedge.toml");
    let file = path.display().to_string();

    // No site: said at the section's URL.
    std::fs::write(
        &path,
        "[upstream]\nservers = [\"127.0.0.1:53\"]\n\
         [central]\nurl = \"postgres://hill_top@central.example/hedge\"\n",
    )
    .unwrap();
    let output = run_hedge(&["config", "check"], &path);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains(&format!("{file}:4: central.url: [central] needs site")),
        "{said}"
    );

    // The central commands: a URL with a password, or none at all.
    let output = run_hedge(
        &[
            "central",
            "search",
            "--url",
            "postgres://officer:secret@central.example/hedge",
        ],
        &path,
    );
    assert_eq!(output.status.code(), Some(1));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("--url: the URL holds a password"), "{said}");
    assert!(!said.contains("secret"), "{said}");
    let none = dir.path().join("none.toml");
    std::fs::write(&none, "[upstream]\nservers = [\"127.0.0.1:53\"]\n").unwrap();
    let output = run_hedge(&["central", "alerts"], &none);
    assert_eq!(output.status.code(), Some(1));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("no --url given"), "{said}");
    assert!(said.contains("has no [central] section"), "{said}");
}
