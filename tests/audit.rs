//! The audit trail through the real binary: changes are recorded with the
//! OS user and the person named, the chain verifies, and an edit made
//! behind hedge's back is found and named.

mod common;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn changes_are_chained_and_an_edit_is_named() {
    let upstream = TestUpstream::start().await;
    let hedge = Hedge::start(
        &config_text(&[], upstream.addr, "", "").replace("listen = []", "listen = [\"LISTEN\"]"),
    )
    .await;
    // The database opens beside the writer; wait for it.
    hedge.wait_for_database().await;
    hedge.person("A. Lead", &["safeguarding"]);
    hedge.ok(&[
        "logs",
        "hold",
        "add",
        "--client",
        "10.1.3.12",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-08",
        "--reason",
        "DSL investigation, alert 14",
        "--by",
        "A. Lead",
    ]);
    hedge.ok(&["logs", "search", "--csv", "--client", "10.1.3.12"]);
    hedge.ok(&["reload"]);
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

    let rows: Vec<Value> = serde_json::from_str(&hedge.ok(&["audit", "list", "--json"])).unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "person.added",
            "hold.placed",
            "log.searched",
            "config.reloaded",
            "hold.released"
        ]
    );
    assert_eq!(rows[0]["details"]["name"], "A. Lead");
    assert_eq!(rows[1]["person"], "A. Lead");
    assert_eq!(rows[1]["details"]["client"], "10.1.3.12/32");
    assert_eq!(rows[2]["details"]["kind"], "export-csv");
    assert_eq!(rows[2]["person"], "A. Lead");
    assert!(
        rows.iter()
            .all(|r| r["actor"].as_str().is_some_and(|a| !a.is_empty()))
    );
    let verified = hedge.ok(&["audit", "verify"]);
    assert!(verified.contains("intact: 5 rows"), "{verified}");
    assert!(verified.contains("last row: 5, hash "), "{verified}");
    let export: Vec<Value> = serde_json::from_str(&hedge.ok(&["audit", "export"])).unwrap();
    assert_eq!(export[1]["prev_hash"], export[0]["hash"]);

    // Someone edits row 3 (the search) directly in the database file.
    use sqlx::Connection;
    let url = format!("sqlite:{}", hedge.path("hedge.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let refused = sqlx::query("UPDATE audit SET details = '{}' WHERE id = 3")
        .execute(&mut db)
        .await;
    assert!(refused.is_err(), "a plain UPDATE is refused by the trigger");
    sqlx::query("DROP TRIGGER audit_no_update")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("UPDATE audit SET details = '{\"kind\":\"search\"}' WHERE id = 3")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();

    let error = hedge.refused(&["audit", "verify"]);
    assert!(
        error.contains("BROKEN at row 3") && error.contains("changed"),
        "{error}"
    );
}
