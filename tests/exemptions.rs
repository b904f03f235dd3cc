//! Exemptions through the real binary and admin socket: request, approve,
//! in force, revoke and expire; every rule's error; mandatory categories
//! never exempted; the roster's limits; survival across SIGKILL; and the
//! audit trail of it all.

mod common;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use common::*;
use hickory_proto::rr::RecordType;
use serde_json::Value;

const PUPIL: u8 = 2;
const LAPTOP: u8 = 3;

fn config(upstream: std::net::SocketAddr, database: &Path) -> String {
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
networks = ["127.0.0.2/32", "127.0.0.3/32"]
block = ["gambling"]

[[approvers]]
name = "H. Head"
role = "head teacher"
max_days = 7
may_bypass = true

[[approvers]]
name = "D. Deputy"
role = "deputy head"
max_days = 1
may_file_and_approve = true

[exemptions]
max_bypass_hours = 2

[logging]
database = "{}"
"#,
        database.display()
    )
}

const FILES: &[(&str, &str)] = &[
    ("gambling.txt", "bet.upstream.example\n"),
    ("iwf.txt", "abuse.upstream.example\n"),
];

async fn a_for(hedge: &Hedge, from: u8, name: &str) -> Vec<String> {
    let reply = udp_exchange_from(
        local(from),
        hedge.addr,
        &query(name, RecordType::A),
        PATIENCE,
    )
    .await
    .expect("an answer");
    addresses(&reply)
}

/// Waits until the database is open and the approved exemptions have been
/// read from it (hedge logs how many are in force once it has).
async fn wait_open(hedge: &Hedge) {
    hedge.wait_for_database().await;
    hedge
        .wait_for_log("approved exemption(s) not yet ended")
        .await;
}

const REASON: &str = "Year 10 lesson on the harms of online gambling";

#[tokio::test]
async fn request_approve_in_force_revoke_and_expire() {
    let upstream = TestUpstream::start().await;
    let db_dir = tempfile::TempDir::new().unwrap();
    let hedge = Hedge::start_with(&config(upstream.addr, &db_dir.path().join("h.db")), FILES).await;
    wait_open(&hedge).await;
    let bet = "bet.upstream.example.";
    assert_eq!(a_for(&hedge, PUPIL, bet).await, ["0.0.0.0"]);
    hedge.person_unmapped("T. Teacher", &["staff"]);
    hedge.person_unmapped("D. Deputy", &["approver"]);
    hedge.person_unmapped("R. Elsewhere", &["approver"]);
    hedge.person_unmapped("S. Lead", &["safeguarding"]);
    // The head files a request handed in on paper by a teacher.
    hedge.person("H. Head", &["approver", "staff"]);

    let filed = hedge.ok(&[
        "exempt",
        "request",
        "bet.upstream.example",
        "--group",
        "pupils",
        "--reason",
        REASON,
        "--requested-by",
        "T. Teacher",
        "--until",
        "+1h",
    ]);
    assert!(
        filed.contains("exemption 1 filed")
            && filed.contains("filed by H. Head for T. Teacher")
            && filed.contains("waits for an approver"),
        "{filed}"
    );
    assert_eq!(
        a_for(&hedge, PUPIL, bet).await,
        ["0.0.0.0"],
        "pending is not in force"
    );
    let status = hedge.ok(&["status"]);
    assert!(status.contains("0 in force, 1 waiting"), "{status}");

    // A typed name is not who the caller is.
    let error = hedge.refused(&["exempt", "approve", "1", "--by", "T. Teacher"]);
    assert!(
        error.contains("--by \"T. Teacher\" is not you") && error.contains("acts as H. Head"),
        "{error}"
    );
    hedge.act_as("T. Teacher");
    let error = hedge.refused(&["exempt", "approve", "1"]);
    assert!(error.contains("needs the approver role"), "{error}");
    hedge.act_as("R. Elsewhere");
    let error = hedge.refused(&["exempt", "approve", "1"]);
    assert!(
        error.contains("\"R. Elsewhere\" is not on the approver roster")
            && error.contains("H. Head (head teacher), D. Deputy (deputy head)"),
        "{error}"
    );
    hedge.act_as("H. Head");
    let approved = hedge.ok(&["exempt", "approve", "1", "--by", "h. head"]);
    assert!(
        approved.contains("exemption 1 approved by H. Head"),
        "{approved}"
    );
    // In force for the very next query.
    assert_eq!(a_for(&hedge, PUPIL, bet).await, ["192.0.2.66"]);
    assert_eq!(
        a_for(&hedge, PUPIL, "www.bet.upstream.example.").await,
        ["192.0.2.66"]
    );
    let explained = hedge.ok(&["explain", "bet.upstream.example", "--client", "127.0.0.2"]);
    assert!(
        explained.contains("ALLOWED by exemption 1 until"),
        "{explained}"
    );
    hedge.act_as("D. Deputy");
    let error = hedge.refused(&["exempt", "approve", "1"]);
    assert!(
        error.contains("cannot be approved: it is active"),
        "{error}"
    );

    hedge.act_as("H. Head");
    let error = hedge.refused(&[
        "exempt", "revoke", "1", "--by", "H. Head", "--reason", "test",
    ]);
    assert!(error.contains("placeholder"), "{error}");
    hedge.ok(&[
        "exempt",
        "revoke",
        "1",
        "--by",
        "H. Head",
        "--reason",
        "lesson moved to next term",
    ]);
    assert_eq!(a_for(&hedge, PUPIL, bet).await, ["0.0.0.0"]);
    // The approver stays on record beside who revoked it.
    let shown = hedge.ok(&["exempt", "show", "1"]);
    assert!(shown.contains("approved by:  H. Head"), "{shown}");
    assert!(shown.contains("revoked by:   H. Head"), "{shown}");
    assert!(shown.contains("lesson moved to next term"), "{shown}");
    assert!(shown.contains("asked by:     T. Teacher"), "{shown}");
    assert!(
        shown.contains("filed by:     H. Head, on their behalf"),
        "{shown}"
    );
    hedge.act_as("D. Deputy");

    // File and approve in one step, for one client, for fifteen seconds:
    // long enough for the checks below to come well before the end however
    // slow the machine, short enough to wait for.
    let added = hedge.ok(&[
        "exempt",
        "add",
        "bet.upstream.example",
        "--client",
        "127.0.0.3",
        "--reason",
        REASON,
        "--requested-by",
        "T. Teacher",
        "--by",
        "D. Deputy",
        "--until",
        "+15s",
    ]);
    assert!(
        added.contains("exemption 2 approved by D. Deputy"),
        "{added}"
    );
    let reply = udp_exchange_from(
        local(LAPTOP),
        hedge.addr,
        &query(bet, RecordType::A),
        PATIENCE,
    )
    .await
    .unwrap();
    assert_eq!(addresses(&reply), ["192.0.2.66"]);
    assert!(
        reply.answers.iter().all(|r| r.ttl <= 15),
        "not cached past the exemption: {:?}",
        reply.answers
    );
    assert_eq!(
        a_for(&hedge, PUPIL, bet).await,
        ["0.0.0.0"],
        "only that client"
    );
    // At its end the DNS path stops lifting the block by itself ...
    let mut answer = Vec::new();
    for () in patiently() {
        answer = a_for(&hedge, LAPTOP, bet).await;
        if answer == ["0.0.0.0"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(answer, ["0.0.0.0"], "ended by itself");
    // ... and hedge records the end.
    hedge
        .wait_for_log("exemption 2 (bet.upstream.example for client 127.0.0.3) expired")
        .await;

    let listed: Vec<Value> =
        serde_json::from_str(&hedge.ok(&["exempt", "list", "--json"])).unwrap();
    let states: Vec<&str> = listed
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["expired", "revoked"]);
    let csv = hedge.ok(&["exempt", "list", "--expired", "--csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("id,state,kind,name,scope,from,until,reason,requested_by"));
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].contains("client:127.0.0.3") && lines[1].contains("D. Deputy"),
        "{csv}"
    );
    let shown = hedge.ok(&["exempt", "show", "2"]);
    assert!(
        shown.contains("exemption 2: expired") && shown.contains("end recorded"),
        "{shown}"
    );

    // The query log names the exemption that let a query through.
    hedge.act_as("S. Lead");
    let rows: Vec<Value> = serde_json::from_str(&hedge.ok(&[
        "logs",
        "search",
        "--json",
        "--client",
        "127.0.0.3",
        "--name",
        "bet.upstream.example",
    ]))
    .unwrap();
    assert!(
        rows.iter()
            .any(|r| r["rule"] == "exemption 2" && r["action"] == "allowed"),
        "{rows:#?}"
    );

    let audit: Vec<Value> = serde_json::from_str(&hedge.ok(&["audit", "list", "--json"])).unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .filter(|a| a.starts_with("exemption."))
        .collect();
    assert_eq!(
        actions,
        [
            "exemption.filed",
            "exemption.approved",
            "exemption.revoked",
            "exemption.filed",
            "exemption.approved",
            "exemption.expired"
        ]
    );
    assert!(hedge.ok(&["audit", "verify"]).contains("intact"));
}

#[tokio::test]
async fn every_rule_has_its_error_and_nothing_is_stored() {
    let upstream = TestUpstream::start().await;
    let db_dir = tempfile::TempDir::new().unwrap();
    let hedge = Hedge::start_with(&config(upstream.addr, &db_dir.path().join("h.db")), FILES).await;
    wait_open(&hedge).await;
    hedge.person_unmapped("T. Teacher", &["staff"]);
    hedge.person_unmapped("D. Deputy", &["approver"]);
    hedge.person("H. Head", &["approver", "staff"]);
    let request = |extra: &[&str]| {
        let mut args = vec!["exempt", "request"];
        args.extend_from_slice(extra);
        hedge.refused(&args)
    };
    let base = |name: &'static str, reason: &'static str, until: &'static str| {
        vec![
            name,
            "--group",
            "pupils",
            "--reason",
            reason,
            "--requested-by",
            "T. Teacher",
            "--until",
            until,
        ]
    };
    let error = request(&base("bet.upstream.example", "test", "+1h"));
    assert!(error.contains("placeholder"), "{error}");
    let error = request(&base("bet.upstream.example", "for lesson", "+1h"));
    assert!(error.contains("too short"), "{error}");
    let error = request(&base("bet.upstream.example", REASON, "2020-01-01"));
    assert!(error.contains("in the past"), "{error}");
    let mut past = base("bet.upstream.example", REASON, "+1h");
    past.extend(["--from", "2020-01-01"]);
    let error = request(&past);
    assert!(error.contains("would start (from) in the past"), "{error}");
    let error = request(&base("bet..example", REASON, "+1h"));
    assert!(error.contains("not a name hedge can exempt"), "{error}");
    let error = request(&base("www.abuse.upstream.example", REASON, "+1h"));
    assert!(
        error.contains("mandatory category iwf") && error.contains("no exemption can allow it"),
        "{error}"
    );
    let mut other_group = base("bet.upstream.example", REASON, "+1h");
    other_group[2] = "teachers";
    let error = request(&other_group);
    assert!(error.contains("\"teachers\" is not a group"), "{error}");

    // Approval rules: not the requester, within max_days, bypass rights.
    hedge.ok(&[
        "exempt",
        "request",
        "bet.upstream.example",
        "--group",
        "pupils",
        "--reason",
        REASON,
        "--requested-by",
        "H. Head",
        "--until",
        "+3d",
    ]);
    // The same person, whatever name is typed.
    let error = hedge.refused(&["exempt", "approve", "1", "--by", "h. head"]);
    assert!(error.contains("cannot also decide it"), "{error}");
    hedge.act_as("D. Deputy");
    let error = hedge.refused(&["exempt", "approve", "1"]);
    assert!(error.contains("at most 1 days"), "{error}");
    let bypass = |by: &'static str, until: &'static str| {
        hedge.act_as(by);
        vec![
            "exempt",
            "add",
            "--bypass",
            "--client",
            "127.0.0.3",
            "--reason",
            REASON,
            "--requested-by",
            "T. Teacher",
            "--by",
            by,
            "--until",
            until,
        ]
    };
    let error = hedge.refused(&bypass("D. Deputy", "30m"));
    assert!(error.contains("may not lift filtering"), "{error}");
    let error = hedge.refused(&bypass("H. Head", "+1h"));
    assert!(
        error.contains("may not file and approve in one step"),
        "{error}"
    );
    hedge.act_as("D. Deputy");
    let error = hedge.refused(&[
        "exempt",
        "add",
        "bet.upstream.example",
        "--group",
        "pupils",
        "--reason",
        REASON,
        "--requested-by",
        "D. Deputy",
        "--by",
        "D. Deputy",
        "--until",
        "+1h",
    ]);
    assert!(error.contains("cannot also approve it"), "{error}");
    hedge.act_as("H. Head");
    let error = hedge.refused(&[
        "exempt",
        "reject",
        "1",
        "--by",
        "H. Head",
        "--reason",
        "not needed for this lesson",
    ]);
    assert!(
        error.contains("cannot also decide it"),
        "the requester cannot decide: {error}"
    );

    // A bypass within the limits, then one beyond them.
    hedge.ok(&[
        "exempt",
        "request",
        "--bypass",
        "--client",
        "127.0.0.3",
        "--reason",
        REASON,
        "--requested-by",
        "T. Teacher",
        "--until",
        "+3h",
    ]);
    let error = hedge.refused(&["exempt", "approve", "2", "--by", "H. Head"]);
    assert!(
        error.contains("a bypass may last at most 2 hours"),
        "{error}"
    );

    let listed: Vec<Value> =
        serde_json::from_str(&hedge.ok(&["exempt", "list", "--json"])).unwrap();
    assert_eq!(
        listed.len(),
        2,
        "refused requests are not stored: {listed:#?}"
    );
    assert!(listed.iter().all(|e| e["state"] == "pending"));
}

#[tokio::test]
async fn exemptions_and_the_audit_trail_survive_sigkill() {
    let upstream = TestUpstream::start().await;
    let db_dir = tempfile::TempDir::new().unwrap();
    let database = db_dir.path().join("h.db");
    let hedge = Hedge::start_with(&config(upstream.addr, &database), FILES).await;
    wait_open(&hedge).await;
    hedge.person_unmapped("T. Teacher", &["staff"]);
    hedge.person("H. Head", &["approver"]);
    hedge.ok(&[
        "exempt",
        "request",
        "bet.upstream.example",
        "--group",
        "pupils",
        "--reason",
        REASON,
        "--requested-by",
        "T. Teacher",
        "--until",
        "+1h",
    ]);
    hedge.ok(&["exempt", "approve", "1", "--by", "H. Head"]);
    hedge.signal("KILL");
    drop(hedge);

    let hedge = Hedge::start_with(&config(upstream.addr, &database), FILES).await;
    wait_open(&hedge).await;
    assert_eq!(
        a_for(&hedge, PUPIL, "bet.upstream.example.").await,
        ["192.0.2.66"]
    );
    let listed: Vec<Value> =
        serde_json::from_str(&hedge.ok(&["exempt", "list", "--active", "--json"])).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["decided_by"], "H. Head");
    let verified = hedge.ok(&["audit", "verify"]);
    // Two people added, a request, its approval.
    assert!(verified.contains("intact: 4 rows"), "{verified}");
}

#[tokio::test]
async fn a_user_outside_the_admin_group_is_refused() {
    if own_uid() != 0 {
        eprintln!("skipped: needs root to run the CLI as another user");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let upstream = TestUpstream::start().await;
    let db_dir = tempfile::TempDir::new().unwrap();
    let hedge = Hedge::start_with(&config(upstream.addr, &db_dir.path().join("h.db")), FILES).await;
    wait_open(&hedge).await;
    // Let nobody read the config and run a copy of the binary.
    std::fs::set_permissions(hedge.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&hedge.config_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let copy = hedge.path("hedge-cli");
    std::fs::copy(hedge_bin(), &copy).unwrap();
    let mut command = std::process::Command::new(&copy);
    command
        .args([
            "exempt",
            "add",
            "bet.upstream.example",
            "--group",
            "pupils",
            "--reason",
            REASON,
            "--requested-by",
            "T. Teacher",
            "--by",
            "D. Deputy",
            "--until",
            "+1h",
            "-c",
        ])
        .arg(&hedge.config_path)
        .uid(65534)
        .gid(65534);
    let output = output_of_copy(&mut command);
    assert_eq!(output.status.code(), Some(1));
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("not allowed to use the admin socket"),
        "{error}"
    );
    assert_eq!(
        a_for(&hedge, PUPIL, "bet.upstream.example.").await,
        ["0.0.0.0"]
    );
    let _ = IpAddr::from([127, 0, 0, 1]);
}

/// Exemption changes (each acknowledged only once committed) and query-log
/// writes in full flow, and hedge killed with SIGKILL at a random moment,
/// several times over: every acknowledged change is on record after each
/// restart and the audit chain verifies. `HEDGE_KILL_ROUNDS` sets how many
/// kills (3 by default; the long run in the README uses more).
#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_changes_survive_sigkill_at_random_moments() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let rounds: usize = std::env::var("HEDGE_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("kill moments from seed {seed}");
    let mut random = seed | 1;
    let mut next = move || {
        // xorshift: enough to spread the kills.
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        random
    };
    let upstream = TestUpstream::start().await;
    let db_dir = tempfile::TempDir::new().unwrap();
    let database = db_dir.path().join("h.db");
    // id -> revoked (as acknowledged)
    let mut acknowledged: std::collections::BTreeMap<i64, bool> = Default::default();
    let mut changes = 0;

    for round in 0..=rounds {
        let hedge = Hedge::start_with(&config(upstream.addr, &database), FILES).await;
        wait_open(&hedge).await;
        if round == 0 {
            hedge.person_unmapped("T. Teacher", &["staff"]);
            hedge.person("D. Deputy", &["approver"]);
        }
        let listed: Vec<Value> =
            serde_json::from_str(&hedge.ok(&["exempt", "list", "--json"])).unwrap_or_default();
        for (id, revoked) in &acknowledged {
            let found = listed
                .iter()
                .find(|e| e["id"].as_i64() == Some(*id))
                .unwrap_or_else(|| panic!("round {round}: acknowledged exemption {id} is gone"));
            let state = found["state"].as_str().unwrap();
            if *revoked {
                assert_eq!(state, "revoked", "round {round}: exemption {id}");
            } else {
                assert!(
                    state == "active" || state == "revoked",
                    "round {round}: exemption {id} is {state}"
                );
            }
        }
        let verified = hedge.ok(&["audit", "verify"]);
        assert!(verified.contains("intact"), "round {round}: {verified}");
        let rows: usize = verified
            .split("intact: ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a row count in {verified:?}"));
        assert!(
            rows >= changes,
            "round {round}: {rows} audit rows for {changes} acknowledged changes"
        );
        if round == rounds {
            eprintln!(
                "{rounds} kills: {} exemptions and {changes} changes acknowledged, {rows} audit rows, chain intact",
                acknowledged.len()
            );
            break;
        }

        let stop = Arc::new(AtomicBool::new(false));
        // Revocations acknowledged this round.
        let revoked = Arc::new(AtomicUsize::new(0));
        // Log writes: a pupil asking for name after name.
        let queries = tokio::spawn({
            let (stop, addr) = (stop.clone(), hedge.addr);
            async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let name = format!("n{round}-{i}.upstream.example.");
                    let _ = udp_exchange_from(
                        local(PUPIL),
                        addr,
                        &query(&name, RecordType::A),
                        Duration::from_millis(500),
                    )
                    .await;
                    i += 1;
                }
            }
        });
        // Exemption changes: add, and revoke every other one.
        let worker = std::thread::spawn({
            let (stop, revoked, config_path) =
                (stop.clone(), revoked.clone(), hedge.config_path.clone());
            move || {
                let mut done: Vec<(i64, bool)> = Vec::new();
                let mut changes = 0;
                while !stop.load(Ordering::Relaxed) {
                    let output = run_hedge(
                        &[
                            "exempt",
                            "add",
                            "bet.upstream.example",
                            "--client",
                            "127.0.0.3",
                            "--reason",
                            REASON,
                            "--requested-by",
                            "T. Teacher",
                            "--by",
                            "D. Deputy",
                            "--until",
                            "+1h",
                        ],
                        &config_path,
                    );
                    if !output.status.success() {
                        continue;
                    }
                    let text = String::from_utf8_lossy(&output.stdout);
                    let id: i64 = text
                        .split_whitespace()
                        .nth(1)
                        .and_then(|n| n.parse().ok())
                        .unwrap_or_else(|| panic!("an id in {text:?}"));
                    done.push((id, false));
                    // Filed and approved: two audit rows, one change each.
                    changes += 2;
                    if id % 2 == 0 {
                        let output = run_hedge(
                            &[
                                "exempt",
                                "revoke",
                                &id.to_string(),
                                "--reason",
                                "lesson moved to next term",
                            ],
                            &config_path,
                        );
                        if output.status.success() {
                            done.last_mut().unwrap().1 = true;
                            changes += 1;
                            revoked.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                (done, changes)
            }
        });
        // Once changes are flowing (an addition and a revocation
        // acknowledged, however slow the machine), kill at a random moment.
        wait_until("a revocation to be acknowledged", || {
            (revoked.load(Ordering::Relaxed) > 0).then_some(())
        })
        .await;
        let moment = next() % 1500;
        tokio::time::sleep(Duration::from_millis(moment)).await;
        hedge.signal("KILL");
        stop.store(true, Ordering::Relaxed);
        let (done, added) = worker.join().unwrap();
        queries.await.unwrap();
        eprintln!(
            "round {round}: killed {moment} ms after the first revocation with {} exemptions acknowledged",
            done.len()
        );
        acknowledged.extend(done);
        changes += added;
        drop(hedge);
    }
    assert!(
        acknowledged.values().any(|revoked| *revoked) && acknowledged.values().any(|r| !*r),
        "additions and revocations were acknowledged before the kills"
    );
}
