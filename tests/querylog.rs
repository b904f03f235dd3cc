//! The query log through the real binary: rows with the right fields, group
//! log levels, retention and legal holds, search filters and CSV export,
//! the record of searches, drops when the writer cannot keep up, flushing
//! at shutdown, and a read-only database that does not stop DNS.

mod common;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use common::*;
use hedge::store::{Action, Database, QueryRecord};
use hickory_proto::rr::RecordType;
use serde_json::Value;

fn config(upstream: std::net::SocketAddr, logging: &str) -> String {
    format!(
        r#"[server]
listen = ["LISTEN"]
rate_limit_qps = 0

[upstream]
servers = ["{upstream}"]
timeout_ms = 1000
attempts = 1

[categories.gambling]
sources = ["gambling.txt"]

[categories.iwf]
sources = ["iwf.txt"]


[[groups]]
name = "pupils"
networks = ["127.0.0.0/26"]
block = ["gambling"]

[[groups]]
name = "staff"
networks = ["127.0.0.64/26"]
block = ["gambling"]
log = "blocked"

[[groups]]
name = "quiet"
networks = ["127.0.0.128/26"]
block = ["gambling"]
log = "none"

[[clients]]
name = "Room 3, PC 12"
address = "127.0.0.5"
group = "pupils"

[logging]
database = "hedge.db"
{logging}
"#
    )
}

const GAMBLING: &str = "bet.upstream.example\n";
const FILES: &[(&str, &str)] = &[
    ("gambling.txt", GAMBLING),
    ("iwf.txt", "abuse.upstream.example\n"),
];

async fn start(logging: &str) -> (TestUpstream, Hedge) {
    let upstream = TestUpstream::start().await;
    let hedge = Hedge::start_with(&config(upstream.addr, logging), FILES).await;
    // Rows are read back: wait for the database to open.
    hedge.wait_for_database().await;
    // Searches and holds are the safeguarding lead's, whose OS account
    // this is.
    hedge.person("A. Lead", &["safeguarding"]);
    (upstream, hedge)
}

async fn ask(hedge: &Hedge, from: IpAddr, name: &str, rtype: RecordType) {
    udp_exchange_from(from, hedge.addr, &query(name, rtype), PATIENCE)
        .await
        .unwrap_or_else(|| panic!("an answer for {name} from {from}"));
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn search(hedge: &Hedge, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["logs", "search", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&hedge.ok(&all)).expect("search --json prints a JSON array")
}

/// Polls (bounded) until a search returns at least `count` rows.
async fn wait_rows(hedge: &Hedge, args: &[&str], count: usize) -> Vec<Value> {
    for () in patiently() {
        let rows = search(hedge, args);
        if rows.len() >= count {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "fewer than {count} rows for {args:?}: {:?}",
        search(hedge, args)
    );
}

fn status(hedge: &Hedge) -> Value {
    serde_json::from_str(&hedge.ok(&["status", "--json"])).unwrap()
}

/// Waits (bounded) until the server has opened its database and written
/// everything queued so far.
async fn wait_idle_writer(hedge: &Hedge) {
    for () in patiently() {
        let log = &status(hedge)["log"];
        if log["open"] == true && log["pending"] == 0 && log["written"].as_u64() > Some(0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the writer never caught up: {}", status(hedge)["log"]);
}

fn record(at_ms: i64, client: &str, group: &str, name: &str, action: Action) -> QueryRecord {
    QueryRecord {
        at_ms,
        client: ip(client),
        client_name: None,
        mac: None,
        group: Some(group.into()),
        name: name.into(),
        qtype: 1,
        action,
        category: (action == Action::Blocked).then(|| "gambling".to_string()),
        rule: (action == Action::Blocked).then(|| format!("list entry {name}")),
        rcode: 0,
        upstream_us: (action == Action::Allowed).then_some(2500),
    }
}

async fn insert(path: &Path, rows: &[QueryRecord]) {
    let database = Database::open(path).await.unwrap();
    database.insert_queries(rows).await.unwrap();
    database.close().await;
}

/// SQLite finds nothing wrong with the file.
async fn assert_intact(database: &Database) {
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(database.pool())
        .await
        .unwrap();
    assert_eq!(check, "ok");
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

#[tokio::test]
async fn queries_are_logged_with_their_fields() {
    let (_upstream, hedge) = start("").await;
    let pc = ip("127.0.0.5");
    ask(&hedge, pc, "www.upstream.example.", RecordType::A).await;
    ask(&hedge, pc, "bet.upstream.example.", RecordType::AAAA).await;
    ask(&hedge, pc, "localhost.", RecordType::A).await;
    ask(&hedge, pc, "upstream.example.", RecordType::AXFR).await;
    ask(&hedge, pc, "WWW.Upstream.Example.", RecordType::A).await;

    // The second ask for www.upstream.example (in capitals, from the
    // cache) is a repeat: one row, asked twice.
    let rows = wait_rows(&hedge, &["--client", "127.0.0.5"], 4).await;
    assert_eq!(rows.len(), 4, "{rows:#?}");
    // Newest first.
    let refused = &rows[0];
    let local = &rows[1];
    let blocked = &rows[2];
    let allowed = &rows[3];
    for row in &rows {
        assert_eq!(row["client"], "127.0.0.5");
        assert_eq!(row["client_name"], "Room 3, PC 12");
        assert_eq!(row["group"], "pupils");
        assert!(row["time"].as_str().unwrap().len() >= 23, "{row}");
    }
    assert_eq!(allowed["name"], "www.upstream.example");
    assert_eq!(allowed["type"], "A");
    assert_eq!(allowed["action"], "allowed");
    assert_eq!(allowed["rcode"], "NOERROR");
    assert!(allowed["upstream_ms"].as_f64().unwrap() > 0.0, "{allowed}");
    assert_eq!(allowed["category"], Value::Null);
    assert_eq!(allowed["times"], 2, "{allowed}");
    assert!(allowed["last_time"].as_str().unwrap() >= allowed["time"].as_str().unwrap());

    assert_eq!(blocked["name"], "bet.upstream.example");
    assert_eq!(blocked["type"], "AAAA");
    assert_eq!(blocked["action"], "blocked");
    assert_eq!(blocked["category"], "gambling");
    assert_eq!(blocked["rule"], "list entry bet.upstream.example");
    assert_eq!(blocked["upstream_ms"], Value::Null);

    assert_eq!(local["action"], "local");
    assert_eq!(local["rule"], "special-use name");
    assert_eq!(refused["action"], "refused");
    assert_eq!(refused["type"], "AXFR");
    assert_eq!(refused["rcode"], "REFUSED");
    for row in [refused, local, blocked] {
        assert_eq!(row["times"], 1, "{row}");
        assert_eq!(row["last_time"], Value::Null, "{row}");
    }

    let table = hedge.ok(&["logs", "search", "--client", "127.0.0.5"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("TIME") && lines[0].ends_with("TIMES"),
        "{table}"
    );
    assert_eq!(lines.len(), 5, "{table}");
    assert!(lines[3].contains("127.0.0.5 (Room 3, PC 12)") && lines[3].contains("gambling"));
    assert!(lines[4].contains(" 2 to "), "{table}");
}

#[tokio::test]
async fn group_log_levels_decide_what_is_kept() {
    let (_upstream, hedge) = start("").await;
    let staff = ip("127.0.0.70");
    let quiet = ip("127.0.0.130");
    for from in [staff, quiet] {
        ask(&hedge, from, "www.upstream.example.", RecordType::A).await;
        ask(&hedge, from, "bet.upstream.example.", RecordType::A).await;
    }
    // A pupil's query after them: once it is written, theirs were handled.
    ask(
        &hedge,
        ip("127.0.0.9"),
        "chat.upstream.example.",
        RecordType::A,
    )
    .await;
    wait_rows(&hedge, &["--client", "127.0.0.9"], 1).await;

    let staff_rows = search(&hedge, &["--client", "127.0.0.70"]);
    assert_eq!(staff_rows.len(), 1, "log = \"blocked\" keeps blocked only");
    assert_eq!(staff_rows[0]["action"], "blocked");
    assert_eq!(staff_rows[0]["group"], "staff");
    // A mandatory category's block is evidence, kept even at "none".
    let quiet_rows = search(&hedge, &["--client", "127.0.0.130"]);
    assert!(quiet_rows.is_empty(), "{quiet_rows:?}");
    ask(&hedge, quiet, "abuse.upstream.example.", RecordType::A).await;
    let kept = wait_rows(&hedge, &["--client", "127.0.0.130"], 1).await;
    assert_eq!(kept[0]["category"], "iwf");
}

#[tokio::test]
async fn retention_deletes_exactly_the_expired_rows_and_spares_held_ones() {
    let (_upstream, hedge) = start("retention_days = 90").await;
    wait_idle_writer(&hedge).await;
    let now = now_ms();
    let mut rows = Vec::new();
    for i in 0..3 {
        rows.push(record(
            now - 100 * DAY + i,
            "127.0.0.21",
            "pupils",
            "held.example",
            Action::Blocked,
        ));
    }
    for i in 0..4 {
        rows.push(record(
            now - 100 * DAY + i,
            "127.0.0.31",
            "pupils",
            "old.example",
            Action::Allowed,
        ));
    }
    for i in 0..2 {
        rows.push(record(
            now - 89 * DAY + i,
            "127.0.0.31",
            "pupils",
            "recent.example",
            Action::Allowed,
        ));
    }
    insert(&hedge.path("hedge.db"), &rows).await;
    let ours = ["--client", "127.0.0.16/28", "--all"];
    assert_eq!(search(&hedge, &ours).len(), 9);

    // A hold needs a real reason, and a period that is one.
    let error = hedge.refused(&[
        "logs",
        "hold",
        "add",
        "--client",
        "127.0.0.20/30",
        "--from",
        "101d",
        "--to",
        "99d",
        "--reason",
        "test",
        "--by",
        "A. Lead",
    ]);
    assert!(error.contains("placeholder"), "{error}");
    let error = hedge.refused(&[
        "logs",
        "hold",
        "add",
        "--client",
        "127.0.0.20/30",
        "--from",
        "99d",
        "--to",
        "101d",
        "--reason",
        "DSL investigation of repeated alerts",
        "--by",
        "A. Lead",
    ]);
    assert!(error.contains("before it starts"), "{error}");
    let error = hedge.refused(&[
        "logs",
        "hold",
        "add",
        "--client",
        "room 3",
        "--from",
        "101d",
        "--to",
        "99d",
        "--reason",
        "DSL investigation of repeated alerts",
        "--by",
        "A. Lead",
    ]);
    assert!(error.contains("not an IP address or network"), "{error}");
    let placed = hedge.ok(&[
        "logs",
        "hold",
        "add",
        "--client",
        "127.0.0.20/30",
        "--from",
        "101d",
        "--to",
        "99d",
        "--reason",
        "DSL investigation of repeated alerts",
        "--by",
        "A. Lead",
    ]);
    assert!(placed.contains("legal hold 1 placed"), "{placed}");

    let preview = hedge.ok(&["logs", "purge", "--dry-run"]);
    assert!(
        preview.contains("7 expired rows, 3 of them kept under legal hold; 4 would be deleted"),
        "{preview}"
    );
    assert_eq!(search(&hedge, &ours).len(), 9, "a dry run deletes nothing");

    let purged = hedge.ok(&["logs", "purge"]);
    assert!(purged.contains("4 deleted"), "{purged}");
    let left = search(&hedge, &ours);
    let names: Vec<&str> = left.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "recent.example",
            "recent.example",
            "held.example",
            "held.example",
            "held.example"
        ]
    );

    let holds = hedge.ok(&["logs", "hold", "list"]);
    assert!(
        holds.contains("127.0.0.20/30") && holds.contains("in force"),
        "{holds}"
    );
    let error = hedge.refused(&[
        "logs",
        "hold",
        "release",
        "7",
        "--by",
        "A. Lead",
        "--reason",
        "investigation closed, no action",
    ]);
    assert!(error.contains("there is no legal hold 7"), "{error}");
    hedge.ok(&[
        "logs",
        "hold",
        "release",
        "1",
        "--by",
        "A. Lead",
        "--reason",
        "investigation closed, no action",
    ]);
    let purged = hedge.ok(&["logs", "purge"]);
    assert!(purged.contains("3 deleted"), "{purged}");
    assert_eq!(search(&hedge, &ours).len(), 2);

    let all: Vec<Value> =
        serde_json::from_str(&hedge.ok(&["logs", "hold", "list", "--all", "--json"])).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["released_by"], "A. Lead");
    assert_eq!(all[0]["placed_by"], "A. Lead");
    assert!(
        all[0]["placed_user"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );
}

#[tokio::test]
async fn searches_filter_export_csv_and_are_recorded() {
    let (_upstream, hedge) = start("").await;
    wait_idle_writer(&hedge).await;
    let now = now_ms();
    let mut named = record(
        now - HOUR / 6,
        "127.0.0.41",
        "pupils",
        "=cmd.example.net",
        Action::Allowed,
    );
    named.client_name = Some("Room 3, PC 12".into());
    named.rule = Some("allow entry a, b".into());
    insert(
        &hedge.path("hedge.db"),
        &[
            record(
                now - 3 * HOUR,
                "127.0.0.41",
                "pupils",
                "www.example.com",
                Action::Allowed,
            ),
            record(
                now - 2 * HOUR,
                "127.0.0.41",
                "pupils",
                "ads.tracker.example.com",
                Action::Blocked,
            ),
            record(
                now - HOUR,
                "127.0.0.42",
                "staff",
                "example.com",
                Action::Allowed,
            ),
            record(
                now - HOUR / 2,
                "127.0.0.43",
                "pupils",
                "example-other.com",
                Action::Allowed,
            ),
            named,
        ],
    )
    .await;
    let names = |rows: Vec<Value>| -> Vec<String> {
        rows.iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };

    assert_eq!(
        names(search(&hedge, &["--name", "*.example.com"])),
        ["example.com", "ads.tracker.example.com", "www.example.com"]
    );
    assert_eq!(
        names(search(&hedge, &["--name", "Example.COM."])),
        ["example.com"]
    );
    assert_eq!(
        names(search(
            &hedge,
            &["--client", "127.0.0.40/30", "--since", "150m"]
        )),
        [
            "=cmd.example.net",
            "example-other.com",
            "example.com",
            "ads.tracker.example.com"
        ]
    );
    let from = jiff::Timestamp::from_millisecond(now - 4 * HOUR)
        .unwrap()
        .to_string();
    let to = jiff::Timestamp::from_millisecond(now - 90 * 60_000)
        .unwrap()
        .to_string();
    assert_eq!(
        names(search(
            &hedge,
            &["--client", "127.0.0.41", "--from", &from, "--to", &to]
        )),
        ["ads.tracker.example.com", "www.example.com"]
    );
    assert_eq!(
        names(search(
            &hedge,
            &["--action", "blocked", "--group", "pupils"]
        )),
        ["ads.tracker.example.com"]
    );
    assert_eq!(
        names(search(
            &hedge,
            &["--category", "gambling", "--client", "127.0.0.40/29"]
        )),
        ["ads.tracker.example.com"]
    );
    assert_eq!(
        names(search(
            &hedge,
            &["--client", "127.0.0.40/30", "--limit", "2"]
        )),
        ["=cmd.example.net", "example-other.com"]
    );

    let error = hedge.refused(&["logs", "search", "--group", "teachers"]);
    assert!(
        error.contains("\"teachers\" is not a group") && error.contains("pupils, staff"),
        "{error}"
    );
    let error = hedge.refused(&["logs", "search", "--category", "casino"]);
    assert!(error.contains("\"casino\" is not a category"), "{error}");
    let error = hedge.refused(&["logs", "search", "--action", "maybe"]);
    assert!(error.contains("not an action"), "{error}");
    let error = hedge.refused(&["logs", "search", "--from", "last tuesday"]);
    assert!(
        error.contains("--from") && error.contains("is not a time"),
        "{error}"
    );

    let csv = hedge.ok(&["logs", "search", "--csv", "--client", "127.0.0.40/30"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "time,client,client_name,group,name,type,action,category,rule,rcode,upstream_ms,times,last_time,mac,dhcp_name"
    );
    assert_eq!(lines.len(), 6, "{csv}");
    assert!(
        lines[1].contains(",127.0.0.41,\"Room 3, PC 12\",pupils,'=cmd.example.net,A,allowed,,\"allow entry a, b\",NOERROR,2.5"),
        "{}",
        lines[1]
    );
    assert!(
        lines[4].contains(",ads.tracker.example.com,A,blocked,gambling,"),
        "{}",
        lines[4]
    );

    let access: Vec<Value> =
        serde_json::from_str(&hedge.ok(&["logs", "access", "--json"])).unwrap();
    let export = access
        .iter()
        .find(|a| a["kind"] == "export-csv")
        .expect("the CSV export is recorded");
    assert_eq!(export["rows"], 5);
    assert_eq!(export["filters"]["client"], "127.0.0.40/30");
    assert!(export["os_user"].as_str().is_some_and(|u| !u.is_empty()));
    let table = access.iter().filter(|a| a["kind"] == "export-json").count();
    assert!(table >= 7, "every search is recorded: {access:#?}");
}

#[tokio::test]
async fn a_full_queue_counts_drops_and_dns_goes_on() {
    // No repeat window: each entry goes to the database at once, so the
    // writer is held by the lock from the first query on (with a window it
    // takes entries in until the first one's window closes, however slow
    // the machine).
    let (_upstream, hedge) = start("queue = 4\nrepeat_window_secs = 0").await;
    wait_idle_writer(&hedge).await;

    // Another process holds the write lock: the writer waits, then retries.
    use sqlx::Connection;
    let url = format!("sqlite:{}", hedge.path("hedge.db").display());
    let mut lock = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut lock)
        .await
        .unwrap();

    // How many the writer takes in before its write meets the lock
    // depends on how fast queries come (it gathers for 100 ms): ask until
    // the queue has overflowed well past that, whatever the machine.
    let client = ip("127.0.0.51");
    let mut sent = 0u64;
    let mut dropped = 0;
    while dropped < 20 {
        assert!(sent < 2_000, "no drops after {sent} queries");
        // Every query is still answered.
        ask(
            &hedge,
            client,
            &format!("n{sent}.upstream.example."),
            RecordType::A,
        )
        .await;
        sent += 1;
        dropped = status(&hedge)["log"]["dropped"].as_u64().unwrap();
    }
    hedge.wait_for_log("entries dropped").await;
    let text = hedge.ok(&["status"]);
    assert!(text.contains(&format!("{dropped} dropped")), "{text}");

    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    drop(lock);
    let mut kept = 0;
    for () in patiently() {
        kept = search(&hedge, &["--client", "127.0.0.51", "--all"]).len() as u64;
        if kept + dropped == sent {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        kept + dropped,
        sent,
        "what was not dropped is written once the lock goes"
    );
    let (_, dir) = hedge.terminate_keeping_files();
    let database = Database::open(&dir.path().join("hedge.db")).await.unwrap();
    assert_intact(&database).await;
    let recorded: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(dropped), 0) FROM log_drops")
        .fetch_one(database.pool())
        .await
        .unwrap();
    assert_eq!(
        recorded as u64, dropped,
        "the drops are on record for reports"
    );
}

#[tokio::test]
async fn a_graceful_stop_writes_what_is_queued() {
    let (_upstream, hedge) = start("").await;
    let client = ip("127.0.0.61");
    for i in 0..30 {
        ask(
            &hedge,
            client,
            &format!("n{i}.upstream.example."),
            RecordType::A,
        )
        .await;
    }
    // Straight away: most entries are still queued.
    let (status, dir) = hedge.terminate_keeping_files();
    assert!(status.success());
    let database = Database::open(&dir.path().join("hedge.db")).await.unwrap();
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM queries WHERE name_key LIKE 'example.upstream.n%'",
    )
    .fetch_one(database.pool())
    .await
    .unwrap();
    assert_eq!(
        count, 30,
        "every answered query is written before hedge exits"
    );
}

#[tokio::test]
async fn a_read_only_database_does_not_stop_answering() {
    use std::os::unix::fs::PermissionsExt;
    let upstream = TestUpstream::start().await;
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("log.db");
    Database::open(&path).await.unwrap().close().await;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    // Root may write any file, so as root hedge runs as nobody.
    let uid = (own_uid() == 0).then_some(65534);
    let text = config(upstream.addr, "").replace(
        "database = \"hedge.db\"",
        &format!("database = \"{}\"", path.display()),
    );
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let hedge = Hedge::start_as(&text, FILES, uid).await;

    let client = ip("127.0.0.55");
    for i in 0..5 {
        ask(
            &hedge,
            client,
            &format!("n{i}.upstream.example."),
            RecordType::A,
        )
        .await;
    }
    let mut problem = Value::Null;
    for () in patiently() {
        problem = status(&hedge)["log"]["problem"].clone();
        if problem
            .as_str()
            .is_some_and(|p| p.contains("readonly") || p.contains("read-only"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        problem.as_str().is_some_and(|p| p.contains("readonly")),
        "{problem}"
    );
    let text = hedge.ok(&["status"]);
    assert!(
        text.contains("PROBLEM:") && text.contains("readonly"),
        "{text}"
    );
    ask(&hedge, client, "www.upstream.example.", RecordType::A).await;

    // Writable again: what was kept in the queue is written.
    // As an operator would: the database and the -wal and -shm files
    // SQLite made beside it with the same permissions.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().starts_with("log.db") {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o666)).unwrap();
        }
    }
    // The writer retries with backoff (doubling, at most 30 s apart).
    for () in patiently_for(2 * PATIENCE) {
        if status(&hedge)["log"]["open"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Searching is the safeguarding lead's (whose person can be added
    // now that the database takes writes).
    hedge.person("A. Lead", &["safeguarding"]);
    let rows = wait_rows(&hedge, &["--client", "127.0.0.55", "--all"], 6).await;
    assert_eq!(rows.len(), 6);
    assert_eq!(status(&hedge)["log"]["problem"], Value::Null);
    let database = Database::open(&path).await.unwrap();
    assert_intact(&database).await;
}

/// Unmounts a test file system when dropped.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test]
async fn a_full_file_system_does_not_stop_answering_and_writing_resumes() {
    if own_uid() != 0 {
        eprintln!("skipped: needs root to mount a small file system");
        return;
    }
    let dir = tempfile::TempDir::new().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=3m,mode=0755", "hedge-test"])
        .arg(dir.path())
        .output()
        .unwrap();
    if !mounted.status.success() {
        // A container without the right to mount: say so, loudly.
        eprintln!(
            "skipped: cannot mount a tmpfs here: {}",
            String::from_utf8_lossy(&mounted.stderr)
        );
        return;
    }
    let _unmount = Mounted(dir.path().to_path_buf());
    let path = dir.path().join("log.db");
    let upstream = TestUpstream::start().await;
    let text = config(upstream.addr, "queue = 200\nrepeat_window_secs = 0").replace(
        "database = \"hedge.db\"",
        &format!("database = \"{}\"", path.display()),
    );
    let hedge = Hedge::start_with(&text, FILES).await;
    hedge.wait_for_database().await;
    hedge.person("A. Lead", &["safeguarding"]);
    let client = ip("127.0.0.56");
    for i in 0..5 {
        ask(
            &hedge,
            client,
            &format!("before{i}.upstream.example."),
            RecordType::A,
        )
        .await;
    }
    wait_rows(&hedge, &["--client", "127.0.0.56", "--all"], 5).await;

    // Fill the file system to the last byte.
    let filler = dir.path().join("filler");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0xa5u8; 16 * 1024];
        while file.write_all(&block).is_ok() {}
        while file.write_all(&[0]).is_ok() {}
        let _ = file.sync_all();
    }
    let dropped_before = status(&hedge)["log"]["dropped"].as_u64().unwrap();
    let mut asked = 5;
    let mut problem = Value::Null;
    for round in 0..60 {
        for i in 0..50 {
            // Answered all the same.
            ask(
                &hedge,
                client,
                &format!("full{round}x{i}.upstream.example."),
                RecordType::A,
            )
            .await;
            asked += 1;
        }
        problem = status(&hedge)["log"]["problem"].clone();
        if problem.as_str().is_some_and(|p| p.contains("full")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        problem.as_str().is_some_and(|p| p.contains("full")),
        "the full disk is reported: {problem}"
    );
    let text = hedge.ok(&["status"]);
    assert!(text.contains("PROBLEM:"), "{text}");

    // Space again: writing resumes, nothing is lost that was not counted.
    std::fs::remove_file(&filler).unwrap();
    for () in patiently_for(2 * PATIENCE) {
        let log = &status(&hedge)["log"];
        if log["problem"].is_null() && log["pending"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ask(&hedge, client, "after.upstream.example.", RecordType::A).await;
    asked += 1;
    let log = status(&hedge)["log"].clone();
    assert!(log["problem"].is_null(), "{log}");
    let dropped = log["dropped"].as_u64().unwrap() - dropped_before;
    let mut kept = 0;
    for () in patiently() {
        kept = search(&hedge, &["--client", "127.0.0.56", "--all"]).len() as u64;
        if kept + dropped == asked {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        kept + dropped,
        asked,
        "every query is written or counted as dropped ({kept} written, {dropped} dropped)"
    );
    let (_, _config_dir) = hedge.terminate_keeping_files();
    let database = Database::open(&path).await.unwrap();
    assert_intact(&database).await;
    database.close().await;
}

#[tokio::test]
async fn the_database_is_private_to_hedge() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let (_upstream, hedge) = start("").await;
    ask(
        &hedge,
        ip("127.0.0.57"),
        "www.upstream.example.",
        RecordType::A,
    )
    .await;
    wait_idle_writer(&hedge).await;
    for file in ["hedge.db", "hedge.db-wal", "hedge.db-shm"] {
        assert_eq!(mode(&hedge.path(file)), 0o600, "{file}");
    }
    assert_eq!(mode(&hedge.path("admin.sock")), 0o660);
    let (_, dir) = hedge.terminate_keeping_files();

    // One left readable by everyone (an old backup restored carelessly)
    // loses that at the next start.
    let path = dir.path().join("hedge.db");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let upstream = TestUpstream::start().await;
    let text = config(upstream.addr, "").replace(
        "database = \"hedge.db\"",
        &format!("database = \"{}\"", path.display()),
    );
    let hedge = Hedge::start_with(&text, FILES).await;
    assert_eq!(mode(&path), 0o640);
    hedge
        .wait_for_log("was readable by every user (0644); made it 0640")
        .await;
}
