//! The audit trail through the real binary: changes are recorded with the
//! OS user and the person named, the chain verifies, and an edit made
//! behind hedge's back is found and named.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

fn hedge_out(hedge: &Hedge, args: &[&str]) -> std::process::Output {
    run_hedge(args, &hedge.config_path)
}

fn ok(hedge: &Hedge, args: &[&str]) -> String {
    let output = hedge_out(hedge, args);
    assert!(
        output.status.success(),
        "hedge {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn changes_are_chained_and_an_edit_is_named() {
    let upstream = TestUpstream::start().await;
    let hedge = Hedge::start(
        &config_text(&[], upstream.addr, "", "").replace("listen = []", "listen = [\"LISTEN\"]"),
    )
    .await;
    // The database opens beside the writer; wait for it.
    for _ in 0..100 {
        let status: Value = serde_json::from_str(&ok(&hedge, &["status", "--json"])).unwrap();
        if status["log"]["open"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ok(
        &hedge,
        &[
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
        ],
    );
    ok(
        &hedge,
        &["logs", "search", "--csv", "--client", "10.1.3.12"],
    );
    ok(&hedge, &["reload"]);
    ok(
        &hedge,
        &[
            "logs",
            "hold",
            "release",
            "1",
            "--by",
            "A. Lead",
            "--reason",
            "investigation closed, no action",
        ],
    );

    let rows: Vec<Value> = serde_json::from_str(&ok(&hedge, &["audit", "list", "--json"])).unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "hold.placed",
            "log.searched",
            "config.reloaded",
            "hold.released"
        ]
    );
    assert_eq!(rows[0]["person"], "A. Lead");
    assert_eq!(rows[0]["details"]["client"], "10.1.3.12/32");
    assert_eq!(rows[1]["details"]["kind"], "export-csv");
    assert!(
        rows.iter()
            .all(|r| r["actor"].as_str().is_some_and(|a| !a.is_empty()))
    );
    let verified = ok(&hedge, &["audit", "verify"]);
    assert!(verified.contains("intact: 4 rows"), "{verified}");
    assert!(verified.contains("last row: 4, hash "), "{verified}");
    let export: Vec<Value> = serde_json::from_str(&ok(&hedge, &["audit", "export"])).unwrap();
    assert_eq!(export[1]["prev_hash"], export[0]["hash"]);

    // Someone edits row 2 directly in the database file.
    use sqlx::Connection;
    let url = format!("sqlite:{}", hedge.path("hedge.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let refused = sqlx::query("UPDATE audit SET details = '{}' WHERE id = 2")
        .execute(&mut db)
        .await;
    assert!(refused.is_err(), "a plain UPDATE is refused by the trigger");
    sqlx::query("DROP TRIGGER audit_no_update")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("UPDATE audit SET details = '{\"kind\":\"search\"}' WHERE id = 2")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();

    let output = hedge_out(&hedge, &["audit", "verify"]);
    assert_eq!(output.status.code(), Some(1));
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("BROKEN at row 2") && error.contains("changed"),
        "{error}"
    );
}
