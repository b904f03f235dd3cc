//! Incidents through the real binary: opened for a client with blocked
//! attempts, its hold keeps those rows past retention while another
//! client's go; notes and a referral; closed (the hold kept until asked);
//! counted in the report and present in the audit trail; no export holds a
//! clickable name.

mod common;

use std::net::IpAddr;
use std::path::Path;

use common::*;
use hedge::store::{Action, Database, QueryRecord};
use serde_json::Value;

const DAY: i64 = 86_400_000;

fn config(upstream: std::net::SocketAddr, database: &Path) -> String {
    format!(
        r#"[server]
listen = ["LISTEN"]
rate_limit_qps = 0

[upstream]
servers = ["{upstream}"]
timeout_ms = 1000
attempts = 1

[categories.pornography]
sources = ["adult.txt"]

[[groups]]
name = "pupils"
networks = ["127.0.0.0/26"]
block = ["pornography"]

[[clients]]
name = "Year 6 iPad 14"
address = "127.0.0.14"
group = "pupils"

[alerts]
syslog = false

[logging]
database = "{}"
retention_days = 30
"#,
        database.display()
    )
}

fn blocked(at_ms: i64, client: &str) -> QueryRecord {
    let client: IpAddr = client.parse().unwrap();
    QueryRecord {
        at_ms,
        client,
        client_name: None,
        mac: None,
        group: Some("pupils".into()),
        name: "adult.upstream.example".into(),
        qtype: 1,
        action: Action::Blocked,
        category: Some("pornography".into()),
        rule: Some("list entry adult.upstream.example".into()),
        rcode: 0,
        upstream_us: None,
    }
}

#[tokio::test]
async fn an_incident_holds_its_evidence_through_to_the_report() {
    let upstream = TestUpstream::start().await;
    let data = tempfile::tempdir().unwrap();
    let database_path = data.path().join("hedge.db");
    let now = jiff::Timestamp::now().as_millisecond();
    // 40 days ago: past the 30-day retention.
    let old = now - 40 * DAY;
    let database = Database::open(&database_path).await.unwrap();
    database
        .insert_queries(&[
            blocked(old, "127.0.0.14"),
            blocked(old + 1000, "127.0.0.14"),
            blocked(old, "127.0.0.20"),
        ])
        .await
        .unwrap();
    database.close().await;
    let hedge = Hedge::start_with(
        &config(upstream.addr, &database_path),
        &[("adult.txt", "adult.upstream.example\n")],
    )
    .await;
    // Incidents are stored: wait for the database to open.
    hedge.wait_for_database().await;
    // The safeguarding lead's OS account acts as her.
    hedge.person("Ms Khan", &["safeguarding"]);

    let from = jiff::Timestamp::from_millisecond(old - DAY)
        .unwrap()
        .to_string();
    let error = hedge.refused(&[
        "incident",
        "open",
        "--type",
        "gossip",
        "--summary",
        "pupil looked for adult sites",
        "--by",
        "Ms Khan",
    ]);
    assert!(error.contains("deliberate-inappropriate"), "{error}");
    let error = hedge.refused(&[
        "incident",
        "open",
        "--type",
        "misuse",
        "--summary",
        "pupil looked for adult sites",
        "--by",
        "Ms Khan",
        "--client",
        "127.0.0.14",
    ]);
    assert!(error.contains("--client needs --from"), "{error}");
    let opened = hedge.ok(&[
        "incident",
        "open",
        "--type",
        "deliberate-inappropriate",
        "--summary",
        "pupil tried adult.upstream.example repeatedly in class",
        "--by",
        "Ms Khan",
        "--client",
        "127.0.0.14",
        "--from",
        &from,
    ]);
    assert!(opened.contains("incident 1 opened"), "{opened}");
    assert!(opened.contains("legal hold 1"), "{opened}");

    // Retention now: the other client's old row goes, the held ones stay.
    let purged = hedge.ok(&["logs", "purge"]);
    assert!(
        purged.contains("2 of them kept under legal hold; 1 deleted"),
        "{purged}"
    );
    let rows: Vec<Value> = serde_json::from_str(&hedge.ok(&[
        "logs",
        "search",
        "--json",
        "--name",
        "adult.upstream.example",
        "--from",
        &from,
    ]))
    .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r["client"] == "127.0.0.14"));

    hedge.ok(&[
        "incident",
        "note",
        "1",
        "--by",
        "Ms Khan",
        "--text",
        "spoke to the pupil and to their parents",
    ]);
    hedge.ok(&[
        "incident",
        "refer",
        "1",
        "--to",
        "social-care",
        "--by",
        "Ms Khan",
        "--text",
        "reference SC-2026-114",
    ]);
    let error = hedge.refused(&["incident", "refer", "1", "--to", "mi5", "--by", "Ms Khan"]);
    assert!(error.contains("lado"), "{error}");

    let shown = hedge.ok(&["incident", "show", "1"]);
    for needle in [
        "incident 1: open (deliberate-inappropriate)",
        "Year 6 iPad 14 (127.0.0.14), group pupils",
        "adult[.]upstream[.]example",
        "referred to social-care",
        "spoke to the pupil",
        "log rows (2, newest first)",
    ] {
        assert!(shown.contains(needle), "no {needle:?} in\n{shown}");
    }

    let closed = hedge.ok(&[
        "incident",
        "close",
        "1",
        "--by",
        "Ms Khan",
        "--conclusion",
        "curiosity, handled with the family; no further action",
    ]);
    assert!(closed.contains("legal hold 1 stays in force"), "{closed}");
    let holds = hedge.ok(&["logs", "hold", "list"]);
    assert!(holds.contains("incident 1"), "{holds}");
    let error = hedge.refused(&[
        "incident",
        "note",
        "1",
        "--by",
        "Ms Khan",
        "--text",
        "one more thing to say",
    ]);
    assert!(error.contains("closed"), "{error}");

    // A second one, by another member of the safeguarding team, closed
    // with its hold released.
    hedge.person("Mr Jones", &["safeguarding"]);
    hedge.ok(&[
        "incident",
        "open",
        "--type",
        "bullying",
        "--summary",
        "unkind messages reported by a parent",
        "--by",
        "Mr Jones",
        "--client",
        "127.0.0.21",
        "--from",
        &from,
        "--identified",
        "report",
    ]);
    let closed = hedge.ok(&[
        "incident",
        "close",
        "2",
        "--by",
        "Mr Jones",
        "--conclusion",
        "resolved with both families",
        "--release-hold",
    ]);
    assert!(closed.contains("legal hold 2 released"), "{closed}");
    hedge.person("Mrs Patel", &["safeguarding"]);
    hedge.ok(&[
        "incident",
        "open",
        "--type",
        "misuse",
        "--summary",
        "staff laptop used for personal shopping",
        "--by",
        "Mrs Patel",
    ]);

    let listed: Vec<Value> =
        serde_json::from_str(&hedge.ok(&["incident", "list", "--json"])).unwrap();
    assert_eq!(listed.len(), 3);
    let open: Vec<Value> =
        serde_json::from_str(&hedge.ok(&["incident", "list", "--open", "--json"])).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["kind"], "misuse");

    // No export holds a clickable name.
    let csv = hedge.ok(&["incident", "list", "--csv"]);
    let json = hedge.ok(&["incident", "show", "1", "--json"]);
    for export in [&csv, &json, &shown] {
        assert!(!export.contains("adult.upstream.example"), "{export}");
        assert!(!export.contains("http"), "{export}");
    }
    assert!(csv.contains("adult[.]upstream[.]example"), "{csv}");

    let report = hedge.ok(&["report", "--format", "csv", "--from", "1d"]);
    for line in [
        "incidents,totals,opened,3",
        "incidents,totals,closed,2",
        "incidents,totals,open,1",
        "incidents,type,deliberate-inappropriate,1",
        "incidents,type,bullying,1",
        "incidents,referred,social-care,1",
    ] {
        assert!(
            report.lines().any(|l| l == line),
            "no {line:?} in\n{report}"
        );
    }
    let audit: Vec<Value> = serde_json::from_str(&hedge.ok(&["audit", "list", "--json"])).unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for action in [
        "incident.opened",
        "hold.placed",
        "incident.noted",
        "incident.referred",
        "incident.closed",
        "hold.released",
    ] {
        assert!(actions.contains(&action), "no {action} in {actions:?}");
    }
    hedge.ok(&["audit", "verify"]);
    let access = hedge.ok(&["logs", "access", "--json"]);
    assert!(access.contains("\"incident\""), "{access}");
}
