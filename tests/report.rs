//! `hedge report` through the real binary, over a database the test fills
//! with known counts in known categories: the counts in CSV and text, the
//! HTML well-formed with its summary and an SVG chart, names inert, the
//! report recorded as an access to the log and in the audit trail.

mod common;

use std::net::IpAddr;
use std::path::Path;

use common::*;
use hedge::store::{Action, AlertHit, Database, QueryRecord};
use jiff::tz::TimeZone;

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

[categories.gambling]
sources = ["gambling.txt"]

[[groups]]
name = "pupils"
networks = ["127.0.0.0/26"]
block = ["pornography", "gambling"]

[[groups]]
name = "staff"
networks = ["127.0.0.64/26"]
block = ["pornography"]

[[clients]]
name = "Room 3, PC 12"
address = "127.0.0.5"
group = "pupils"

[[approvers]]
name = "H. Head"
role = "head teacher"
max_days = 7
may_file_and_approve = true

[reports]
site = "Hill Top Primary"

[alerts]
syslog = false

[logging]
database = "{}"
"#,
        database.display()
    )
}

const FILES: &[(&str, &str)] = &[
    ("adult.txt", "adult.upstream.example\n"),
    ("gambling.txt", "bet.upstream.example\n"),
];

fn row(at_ms: i64, client: &str, group: &str, name: &str, action: Action) -> QueryRecord {
    let category = match (action, name) {
        (Action::Blocked, "adult.upstream.example") => Some("pornography".to_string()),
        (Action::Blocked, _) => Some("gambling".to_string()),
        _ => None,
    };
    let client: IpAddr = client.parse().unwrap();
    QueryRecord {
        at_ms,
        client,
        client_name: (client == local(5)).then(|| "Room 3, PC 12".to_string()),
        mac: None,
        group: Some(group.into()),
        name: name.into(),
        qtype: 1,
        action,
        rule: category.as_ref().map(|_| format!("list entry {name}")),
        category,
        rcode: 0,
        upstream_us: None,
    }
}

/// Local midnight `days` ago, in Unix ms, and its date.
fn day(days: i64) -> (i64, String) {
    let today = jiff::Zoned::now().with_time_zone(TimeZone::system()).date();
    let date = today.checked_sub(jiff::Span::new().days(days)).unwrap();
    let start = date.to_zoned(TimeZone::system()).unwrap();
    (start.timestamp().as_millisecond(), date.to_string())
}

#[tokio::test]
async fn a_report_counts_what_the_log_holds() {
    let upstream = TestUpstream::start().await;
    let data = tempfile::tempdir().unwrap();
    let database_path = data.path().join("hedge.db");
    let (first, first_date) = day(3);
    let (second, second_date) = day(2);
    let quiet_date = day(1).1;
    let hour = 3_600_000;
    let mut rows = Vec::new();
    // Day one: 5 allowed, 3 blocked in a safeguarding category.
    for i in 0..5 {
        rows.push(row(
            first + 9 * hour + i,
            "127.0.0.5",
            "pupils",
            "www.upstream.example",
            Action::Allowed,
        ));
    }
    for i in 0..3 {
        rows.push(row(
            first + 10 * hour + i,
            "127.0.0.5",
            "pupils",
            "adult.upstream.example",
            Action::Blocked,
        ));
    }
    // Day two: 2 gambling blocks and 1 safeguarding block from another
    // pupil, 4 allowed for staff.
    for i in 0..2 {
        rows.push(row(
            second + 11 * hour + i,
            "127.0.0.6",
            "pupils",
            "bet.upstream.example",
            Action::Blocked,
        ));
    }
    rows.push(row(
        second + 12 * hour,
        "127.0.0.6",
        "pupils",
        "adult.upstream.example",
        Action::Blocked,
    ));
    for i in 0..4 {
        rows.push(row(
            second + 13 * hour + i,
            "127.0.0.70",
            "staff",
            "www.upstream.example",
            Action::Allowed,
        ));
    }
    // Outside the period: not counted.
    rows.push(row(
        first - hour,
        "127.0.0.5",
        "pupils",
        "adult.upstream.example",
        Action::Blocked,
    ));
    let database = Database::open(&database_path).await.unwrap();
    database.insert_queries(&rows).await.unwrap();
    let alert = database
        .raise_alert(&AlertHit {
            at_ms: first + 10 * hour,
            client: local(5),
            client_name: Some("Room 3, PC 12".into()),
            mac: None,
            group: "pupils".into(),
            name: "adult.upstream.example".into(),
            category: "pornography".into(),
        })
        .await
        .unwrap();
    database
        .add_alert_hits(alert.id, 2, first + 10 * hour + 2)
        .await
        .unwrap();
    database.close().await;

    let hedge = Hedge::start_with(&config(upstream.addr, &database_path), FILES).await;
    hedge.wait_for_database().await;
    hedge.person_unmapped("Mr Jones", &["staff"]);
    hedge.person("H. Head", &["approver"]);
    hedge.ok(&[
        "exempt",
        "add",
        "bet.upstream.example",
        "--group",
        "pupils",
        "--reason",
        "history project on the second world war",
        "--requested-by",
        "Mr Jones",
        "--by",
        "H. Head",
        "--until",
        "+2h",
    ]);
    hedge.person("Ms Khan", &["safeguarding"]);
    hedge.ok(&[
        "logs",
        "hold",
        "add",
        "--client",
        "127.0.0.5",
        "--from",
        &first_date,
        "--to",
        &second_date,
        "--reason",
        "investigation of a safeguarding alert",
        "--by",
        "Ms Khan",
    ]);

    // Up to the end of yesterday: today holds the server's own probes.
    let period = ["--from", first_date.as_str(), "--to", quiet_date.as_str()];
    let mut args = vec!["report", "--format", "csv"];
    args.extend_from_slice(&period);
    let csv = hedge.ok(&args);
    for line in [
        "section,item,field,value",
        "summary,totals,queries,15",
        "summary,totals,blocked,6",
        "summary,totals,safeguarding_blocked,4",
        &format!("day,{first_date},queries,8"),
        &format!("day,{first_date},blocked,3"),
        &format!("day,{second_date},queries,7"),
        &format!("day,{second_date},blocked,3"),
        &format!("day,{quiet_date},queries,0"),
        "category,pornography,blocked,4",
        "category,gambling,blocked,2",
        "group,pupils,queries,11",
        "group,pupils,blocked,6",
        "group,staff,queries,4",
        "client,127.0.0.5,blocked,3",
        "client,127.0.0.6,blocked,1",
        "name,adult[.]upstream[.]example,blocked,4",
        "name,bet[.]upstream[.]example,blocked,2",
        "alerts,totals,raised,1",
        "alerts,totals,hits,3",
        "audit,chain,intact,yes",
    ] {
        assert!(csv.lines().any(|l| l == line), "no line {line:?} in\n{csv}");
    }
    assert!(!csv.contains("adult.upstream.example"), "{csv}");

    // Up to now: today's exemption and hold.
    let now = hedge.ok(&["report", "--format", "csv", "--from", &first_date]);
    assert!(
        now.lines().any(|l| l == "exemptions,totals,approved,1"),
        "{now}"
    );
    assert!(now.lines().any(|l| l.starts_with("hold,1,")), "{now}");
    let text = hedge.ok(&["report", "--format", "text", "--from", &first_date]);
    assert!(text.contains("Hill Top Primary"), "{text}");
    let mut args = vec!["report", "--format", "text"];
    args.extend_from_slice(&period);
    let counted = hedge.ok(&args);
    assert!(counted.contains("15 queries"), "{counted}");
    assert!(counted.contains("6 (40.0%) were blocked"), "{counted}");
    assert!(
        text.contains("history project on the second world war"),
        "{text}"
    );
    assert!(text.contains("adult[.]upstream[.]example"), "{text}");

    // Only one group.
    let mut args = vec!["report", "--format", "csv", "--group", "staff"];
    args.extend_from_slice(&period);
    let staff = hedge.ok(&args);
    assert!(
        staff.lines().any(|l| l == "summary,totals,queries,4"),
        "{staff}"
    );
    assert!(
        staff.lines().any(|l| l == "summary,totals,blocked,0"),
        "{staff}"
    );
    let error = hedge.refused(&["report", "--group", "nobody"]);
    assert!(error.contains("no group \"nobody\""), "{error}");
    assert!(error.contains("pupils"), "{error}");

    // HTML to a file: well-formed, a summary, an SVG chart, nothing that
    // reaches out or runs.
    let out = hedge.path("report.html");
    let out_text = out.to_str().unwrap();
    let mut args = vec!["report", "--format", "html", "--out", out_text];
    args.extend_from_slice(&period);
    hedge.ok(&args);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..40]);
    let document = roxmltree::Document::parse(html.trim_start_matches("<!DOCTYPE html>"))
        .expect("the HTML report is well-formed");
    let summary = document
        .descendants()
        .find(|n| n.attribute("id") == Some("summary"))
        .expect("a summary");
    let summary_text: String = summary
        .descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(summary_text.contains("15 queries"), "{summary_text}");
    assert!(document.descendants().any(|n| n.tag_name().name() == "svg"));
    assert!(!html.contains("<script"));
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("adult.upstream.example"));

    // Each report is an access to the log, and audited.
    let access = hedge.ok(&["logs", "access", "--json"]);
    assert!(access.matches("\"report\"").count() >= 4, "{access}");
    let audit = hedge.ok(&["audit", "list", "--json"]);
    assert!(audit.contains("log.reported"), "{audit}");
}
