//! People through the real binary and admin socket: adding, listing,
//! disabling, resetting and changing roles, each in the audit trail;
//! enrolling with a one-time code and the password rules; the argon2id
//! hash that is stored instead of the password; TOTP; the lockout after
//! five failed sign-ins; and the CLI acting only as the caller's person
//! (a typed `--by` is never identity, an account with no person may not
//! approve, the requester may not approve their own request, a request
//! filed on someone's behalf says so).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::str::FromStr;

use common::*;
use serde_json::Value;

const REASON: &str = "Year 10 PSHE lesson on gambling harms";

fn config(extra: &str) -> String {
    format!(
        r#"[server]
listen = ["LISTEN"]

[upstream]
servers = ["192.0.2.1"]
timeout_ms = 400
attempts = 1

[categories.gambling]
sources = ["gambling.txt"]

[[groups]]
name = "pupils"
networks = ["127.0.0.2/32"]
block = ["gambling"]

[[approvers]]
name = "H. Head"
role = "head teacher"
max_days = 7

[[approvers]]
name = "T. Teacher"
role = "teacher (also on the roster, to show persons are compared)"
max_days = 7
{extra}
"#
    )
}

const FILES: &[(&str, &str)] = &[("gambling.txt", "bet.upstream.example\n")];

async fn start() -> Hedge {
    let hedge = Hedge::start_with(&config(""), FILES).await;
    hedge.wait_for_database().await;
    hedge
}

/// `hedge ARGS -c CONFIG` with `input` on stdin.
fn with_stdin(config: &Path, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(hedge_bin())
        .args(args)
        .arg("-c")
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn enrol(hedge: &Hedge, code: &str, password: &str) -> Output {
    with_stdin(
        &hedge.config_path,
        &["people", "enrol"],
        &format!("{code}\n{password}\n"),
    )
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn audit(hedge: &Hedge) -> Vec<Value> {
    serde_json::from_str(&hedge.ok(&["audit", "list", "--json"])).unwrap()
}

fn people(hedge: &Hedge) -> Vec<Value> {
    serde_json::from_str(&hedge.ok(&["people", "list", "--json"])).unwrap()
}

async fn password_hash(hedge: &Hedge, name: &str) -> Option<String> {
    use sqlx::{Connection, Row};
    let url = format!("sqlite:{}?mode=ro", hedge.path("hedge.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let row = sqlx::query("SELECT password_hash FROM people WHERE name = ?")
        .bind(name)
        .fetch_one(&mut db)
        .await
        .unwrap();
    let hash = row.get("password_hash");
    db.close().await.unwrap();
    hash
}

#[tokio::test]
async fn people_are_added_listed_changed_and_audited() {
    let hedge = start().await;
    let added: Value = serde_json::from_str(&hedge.ok(&[
        "people",
        "add",
        "Jo Head",
        "--role",
        "approver",
        "--role",
        "staff",
        "--os-user",
        "jo.head",
        "--json",
    ]))
    .unwrap();
    assert_eq!(added["name"], "Jo Head");
    let code = added["enrolment_code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 19, "{code}");
    assert_eq!(added.as_object().unwrap().len(), 2, "{added}");
    let shown = hedge.ok(&["people", "add", "Sam Lead", "--role", "safeguarding"]);
    assert!(
        shown.contains("enrolment code: ") && shown.contains("72 hours"),
        "{shown}"
    );

    // Names are unique in any case, OS accounts too; roles are checked.
    let error = hedge.refused(&["people", "add", "jo head", "--role", "staff"]);
    assert!(
        error.contains("already a person called \"Jo Head\""),
        "{error}"
    );
    let error = hedge.refused(&[
        "people",
        "add",
        "Other",
        "--role",
        "staff",
        "--os-user",
        "jo.head",
    ]);
    assert!(error.contains("already acts as Jo Head"), "{error}");
    let output = run_hedge(
        &["people", "add", "Other", "--role", "head"],
        &hedge.config_path,
    );
    assert_eq!(output.status.code(), Some(2), "bad usage");
    assert!(stderr(&output).contains("staff, approver, safeguarding and admin"));

    let listed = people(&hedge);
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["name"], "Jo Head");
    assert_eq!(listed[0]["roles"], serde_json::json!(["staff", "approver"]));
    assert_eq!(listed[0]["os_user"], "jo.head");
    assert_eq!(listed[0]["enrolled"], false);
    let table = hedge.ok(&["people", "list"]);
    let csv = hedge.ok(&["people", "list", "--csv"]);
    assert!(table.contains("waiting to enrol"), "{table}");
    assert!(csv.starts_with("name,roles,os_user,state,totp"), "{csv}");
    for text in [&table, &csv, &serde_json::to_string(&listed).unwrap()] {
        assert!(!text.contains(&code), "no code in a listing: {text}");
        assert!(!text.contains("hash"), "no hash in a listing: {text}");
    }

    hedge.ok(&["people", "roles", "Jo Head", "--role", "approver"]);
    let reset: Value =
        serde_json::from_str(&hedge.ok(&["people", "reset", "jo head", "--json"])).unwrap();
    let new_code = reset["enrolment_code"].as_str().unwrap();
    assert_ne!(new_code, code);
    // The old code no longer works.
    let output = enrol(&hedge, &code, "copper kettle marching slowly");
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("not valid"), "{}", stderr(&output));
    hedge.ok(&["people", "disable", "Jo Head"]);
    let output = enrol(&hedge, new_code, "copper kettle marching slowly");
    assert!(stderr(&output).contains("disabled"), "{}", stderr(&output));
    let enabled = hedge.ok(&["people", "enable", "Jo Head"]);
    assert!(enabled.contains("Jo Head is enabled again"), "{enabled}");
    let error = hedge.refused(&["people", "enable", "Jo Head"]);
    assert!(error.contains("Jo Head is not disabled"), "{error}");
    hedge.ok(&["people", "disable", "Jo Head"]);
    let error = hedge.refused(&["people", "disable", "Nobody Here"]);
    assert!(
        error.contains("no person called \"Nobody Here\""),
        "{error}"
    );

    let rows = audit(&hedge);
    let people_rows: Vec<&Value> = rows
        .iter()
        .filter(|r| r["action"].as_str().unwrap().starts_with("person."))
        .collect();
    let actions: Vec<&str> = people_rows
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "person.added",
            "person.added",
            "person.roles-changed",
            "person.reset",
            "person.disabled",
            "person.enabled",
            "person.disabled"
        ]
    );
    let user = own_user();
    for row in &people_rows {
        assert_eq!(row["actor"], user.as_str());
        let details = row["details"].to_string();
        assert!(
            !details.contains(&code) && !details.contains(new_code),
            "{details}"
        );
    }
    assert_eq!(
        people_rows[2]["details"]["roles"],
        serde_json::json!(["approver"])
    );
    assert_eq!(
        people_rows[2]["details"]["roles_before"],
        serde_json::json!(["staff", "approver"])
    );
    assert!(hedge.ok(&["audit", "verify"]).contains("intact"));
}

/// Sets the expiry of `name`'s enrolment code, as if time had passed.
async fn set_enrolment_expiry(hedge: &Hedge, name: &str, expires_ms: i64) {
    use sqlx::Connection;
    let url = format!("sqlite:{}", hedge.path("hedge.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("UPDATE people SET enrolment_expires_ms = ? WHERE name = ?")
        .bind(expires_ms)
        .bind(name)
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
}

#[tokio::test]
async fn an_expired_enrolment_code_is_refused() {
    let hedge = start().await;
    let code = hedge.person_unmapped("Jo Head", &["approver"]);
    let listed = people(&hedge);
    let expires = jiff::Timestamp::from_str(listed[0]["enrolment_expires"].as_str().unwrap())
        .unwrap()
        .as_millisecond();
    let now = jiff::Timestamp::now().as_millisecond();
    let hours = (expires - now) as f64 / 3_600_000.0;
    assert!((71.9..=72.0).contains(&hours), "valid 72 hours: {hours}");
    // 72 hours later (the code's expiry, a moment ago).
    set_enrolment_expiry(&hedge, "Jo Head", now - 1).await;
    let output = enrol(&hedge, &code, "copper kettle marching slowly");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("has expired"),
        "{}",
        stderr(&output)
    );
    let reset: Value =
        serde_json::from_str(&hedge.ok(&["people", "reset", "Jo Head", "--json"])).unwrap();
    let output = enrol(
        &hedge,
        reset["enrolment_code"].as_str().unwrap(),
        "copper kettle marching slowly",
    );
    assert!(output.status.success(), "{}", stderr(&output));
}

#[tokio::test]
async fn enrolment_sets_a_good_password_once_and_only_its_hash_is_kept() {
    let hedge = start().await;
    let code = hedge.person_unmapped("Heather Jones", &["staff"]);
    for (password, why) in [
        ("short pass", "at least 12"),
        ("password1234", "common"),
        ("qwertyuiop123", "guess"),
        ("heather-lantern-91", "your name"),
    ] {
        let output = enrol(&hedge, &code, password);
        assert_eq!(output.status.code(), Some(1), "{password}");
        assert!(
            stderr(&output).contains(why),
            "{password}: {}",
            stderr(&output)
        );
    }
    assert_eq!(password_hash(&hedge, "Heather Jones").await, None);
    // Never from the command line.
    let output = run_hedge(&["people", "enrol", &code], &hedge.config_path);
    assert_eq!(output.status.code(), Some(2));

    let password = "copper kettle marching slowly";
    let output = enrol(&hedge, &code.to_lowercase().replace('-', " "), password);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("Heather Jones is enrolled"));
    let hash = password_hash(&hedge, "Heather Jones").await.unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(password));
    let database = std::fs::read(hedge.path("hedge.db")).unwrap();
    let wal = std::fs::read(hedge.path("hedge.db-wal")).unwrap_or_default();
    for bytes in [&database, &wal] {
        assert!(
            !bytes
                .windows(password.len())
                .any(|w| w == password.as_bytes()),
            "the password is nowhere in the database"
        );
    }

    // The code is used up.
    let output = enrol(&hedge, &code, "another fine sentence here");
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("not valid"), "{}", stderr(&output));
    let listed = people(&hedge);
    assert_eq!(listed[0]["enrolled"], true);
    assert_eq!(listed[0]["enrolment_expires"], Value::Null);
    let rows = audit(&hedge);
    let enrolled = rows
        .iter()
        .find(|r| r["action"] == "person.enrolled")
        .unwrap();
    assert_eq!(enrolled["person"], "Heather Jones");
    let everything = serde_json::to_string(&rows).unwrap();
    assert!(!everything.contains("argon2") && !everything.contains(password));
}

fn check(hedge: &Hedge, name: &str, password: &str, totp: &str) -> Output {
    with_stdin(
        &hedge.config_path,
        &["people", "check", name],
        &format!("{password}\n{totp}\n"),
    )
}

#[tokio::test]
async fn totp_codes_are_checked_and_five_failures_lock_a_person_out() {
    let hedge = start().await;
    let password = "copper kettle marching slowly";
    let code = hedge.person("Sam Lead", &["safeguarding"]);
    assert!(enrol(&hedge, &code, password).status.success());
    let output = check(&hedge, "sam lead", password, "");
    assert!(output.status.success(), "{}", stderr(&output));

    // TOTP for one's own person only.
    let error = hedge.refused(&["people", "totp", "Someone Else"]);
    assert!(error.contains("is not you"), "{error}");
    let shown = hedge.ok(&["people", "totp", "Sam Lead"]);
    let url = shown
        .split_whitespace()
        .find(|w| w.starts_with("otpauth://totp/"))
        .unwrap_or_else(|| panic!("an otpauth address in {shown}"));
    let totp = totp_rs::TOTP::from_url(url).unwrap();
    assert_eq!(totp.algorithm, totp_rs::Algorithm::SHA1);
    assert_eq!((totp.digits, totp.step), (6, 30));
    assert!(
        !hedge
            .ok(&["people", "list"])
            .contains(&totp.get_secret_base32())
    );
    let error = hedge.refused(&["people", "totp", "Sam Lead"]);
    assert!(error.contains("set up already"), "{error}");

    let output = check(&hedge, "Sam Lead", password, "");
    assert!(
        stderr(&output).contains("code from the authenticator app"),
        "{}",
        stderr(&output)
    );
    let current = totp.generate_current().unwrap();
    let output = check(&hedge, "Sam Lead", password, &current);
    assert!(output.status.success(), "{}", stderr(&output));
    // A code is accepted once.
    let output = check(&hedge, "Sam Lead", password, &current);
    assert!(
        stderr(&output).contains("authenticator code is wrong"),
        "{}",
        stderr(&output)
    );
    let wrong = format!(
        "{:06}",
        (totp.generate_current().unwrap().parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    let output = check(&hedge, "Sam Lead", password, &wrong);
    assert!(
        stderr(&output).contains("authenticator code is wrong"),
        "{}",
        stderr(&output)
    );

    // A wrong name reads like a wrong password.
    let output = check(&hedge, "Nobody Here", password, "");
    assert!(
        stderr(&output).contains("wrong name or password"),
        "{}",
        stderr(&output)
    );
    // Two failures above, three more: locked.
    for attempt in 3..=5 {
        let output = check(&hedge, "Sam Lead", "not the password at all", "");
        assert_eq!(output.status.code(), Some(1));
        let error = stderr(&output);
        if attempt < 5 {
            assert!(
                error.contains("wrong name or password"),
                "{attempt}: {error}"
            );
        } else {
            assert!(error.contains("locked out for 15 more minutes"), "{error}");
        }
    }
    let output = check(
        &hedge,
        "Sam Lead",
        password,
        &totp.generate_current().unwrap(),
    );
    assert!(
        stderr(&output).contains("locked out"),
        "{}",
        stderr(&output)
    );
    let listed = hedge.ok(&["people", "list"]);
    assert!(listed.contains("locked"), "{listed}");
    let actions: Vec<String> = audit(&hedge)
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .filter(|a| a.starts_with("person.") && a != "person.added")
        .collect();
    assert_eq!(
        actions,
        [
            "person.enrolled",
            "person.signed-in",
            "person.totp-set",
            "person.signed-in",
            "person.sign-in-failed",
            "person.sign-in-failed",
            "person.sign-in-failed",
            "person.sign-in-failed",
            "person.locked",
        ]
    );
    let reasons: Vec<String> = audit(&hedge)
        .iter()
        .filter(|r| r["action"] == "person.sign-in-failed")
        .map(|r| r["details"]["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        reasons,
        [
            "TOTP code used already",
            "wrong TOTP code",
            "wrong password",
            "wrong password"
        ]
    );
    // A reset lifts the lockout (and clears the password and TOTP).
    let reset: Value =
        serde_json::from_str(&hedge.ok(&["people", "reset", "Sam Lead", "--json"])).unwrap();
    assert!(
        enrol(&hedge, reset["enrolment_code"].as_str().unwrap(), password)
            .status
            .success()
    );
    assert!(check(&hedge, "Sam Lead", password, "").status.success());
}

fn request(hedge: &Hedge, extra: &[&str]) -> Result<String, String> {
    let mut args = vec![
        "exempt",
        "request",
        "bet.upstream.example",
        "--group",
        "pupils",
        "--reason",
        REASON,
        "--until",
        "+1h",
    ];
    args.extend_from_slice(extra);
    let output = run_hedge(&args, &hedge.config_path);
    if output.status.success() {
        Ok(String::from_utf8(output.stdout).unwrap())
    } else {
        Err(stderr(&output))
    }
}

#[tokio::test]
async fn the_cli_acts_only_as_the_callers_person() {
    let hedge = start().await;
    // An account with no person may run hedge, not decide anything.
    hedge.ok(&["status"]);
    hedge.ok(&["people", "list"]);
    let error = request(&hedge, &[]).unwrap_err();
    assert!(error.contains("is not mapped to a person"), "{error}");
    let error = hedge.refused(&["logs", "search", "--since", "1h"]);
    assert!(error.contains("is not mapped to a person"), "{error}");

    hedge.person_unmapped("T. Teacher", &["staff", "approver"]);
    hedge.person("H. Head", &["approver", "staff"]);
    // The head files her own request: she cannot approve it, whatever
    // name she types; T. Teacher (on the roster too) could.
    request(&hedge, &[]).unwrap();
    let error = hedge.refused(&["exempt", "approve", "1"]);
    assert!(
        error.contains("H. Head asked for exemption 1 and cannot also decide it"),
        "{error}"
    );
    let error = hedge.refused(&["exempt", "approve", "1", "--by", "T. Teacher"]);
    assert!(
        error.contains("--by \"T. Teacher\" is not you")
            && error.contains(&format!("{} acts as H. Head", own_user())),
        "{error}"
    );
    hedge.act_as("T. Teacher");
    let approved = hedge.ok(&["exempt", "approve", "1"]);
    assert!(approved.contains("approved by T. Teacher"), "{approved}");

    // A request on paper, filed for a member of staff who must exist.
    hedge.act_as("H. Head");
    let error = request(&hedge, &["--requested-by", "Nobody Here"]).unwrap_err();
    assert!(error.contains("not a person on record"), "{error}");
    let filed = request(&hedge, &["--requested-by", "t. teacher"]).unwrap();
    assert!(filed.contains("filed by H. Head for T. Teacher"), "{filed}");
    let shown: Value = serde_json::from_str(
        &serde_json::to_string(
            &serde_json::from_str::<Vec<Value>>(&hedge.ok(&["exempt", "list", "--json"]))
                .unwrap()
                .into_iter()
                .find(|e| e["id"] == 2)
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(shown["requested_by"], "T. Teacher");
    let text = hedge.ok(&["exempt", "show", "2"]);
    assert!(
        text.contains("filed by:     H. Head, on their behalf"),
        "{text}"
    );
    let rows = audit(&hedge);
    let filed_row = rows
        .iter()
        .filter(|r| r["action"] == "exemption.filed")
        .nth(1)
        .unwrap();
    assert_eq!(filed_row["person"], "H. Head");
    assert_eq!(filed_row["details"]["requested_by"], "T. Teacher");
    assert_eq!(filed_row["details"]["filed_by"], "H. Head");
    // The head may approve what the teacher asked for.
    hedge.ok(&["exempt", "approve", "2", "--by", "h. head"]);

    // Root, or any account with no person, may not approve or acknowledge.
    hedge.release_own_user();
    request(&hedge, &["--requested-by", "T. Teacher"]).unwrap_err();
    let error = hedge.refused(&[
        "exempt",
        "revoke",
        "2",
        "--reason",
        "lesson moved to next term",
    ]);
    assert!(
        error.contains("is not mapped to a person, so it may not revoke"),
        "{error}"
    );
    let error = hedge.refused(&["alerts", "ack", "1", "--note", "spoke to the pupil"]);
    assert!(error.contains("is not mapped to a person"), "{error}");
    // A disabled person may not act.
    hedge.act_as("H. Head");
    hedge.ok(&["people", "disable", "H. Head"]);
    let error = hedge.refused(&[
        "exempt",
        "revoke",
        "2",
        "--reason",
        "lesson moved to next term",
    ]);
    assert!(error.contains("H. Head is disabled"), "{error}");
}

/// Two OS accounts, two people: a teacher (the `nobody` account) files a
/// request, the head (root) approves it; the teacher may neither approve
/// nor manage people.
#[tokio::test]
async fn two_accounts_two_people() {
    if own_uid() != 0 {
        eprintln!("skipped: needs root to run the CLI as a second OS account");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let hedge = Hedge::start_with(
        &config("[admin]\nsocket = \"admin.sock\"\ngroup = \"nogroup\"\n"),
        FILES,
    )
    .await;
    hedge.wait_for_database().await;
    std::fs::set_permissions(hedge.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&hedge.config_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let copy = hedge.path("hedge-cli");
    std::fs::copy(hedge_bin(), &copy).unwrap();
    let as_nobody = |args: &[&str]| {
        let mut command = Command::new(&copy);
        command
            .args(args)
            .arg("-c")
            .arg(&hedge.config_path)
            .uid(65534)
            .gid(65534);
        output_of_copy(&mut command)
    };
    hedge.ok(&[
        "people",
        "add",
        "T. Teacher",
        "--role",
        "staff",
        "--os-user",
        "nobody",
    ]);
    hedge.person("H. Head", &["approver"]);

    let output = as_nobody(&[
        "exempt",
        "request",
        "bet.upstream.example",
        "--group",
        "pupils",
        "--reason",
        REASON,
        "--until",
        "+1h",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = as_nobody(&["exempt", "approve", "1"]);
    assert!(
        stderr(&output).contains("needs the approver role"),
        "{}",
        stderr(&output)
    );
    let output = as_nobody(&["people", "add", "Someone", "--role", "admin"]);
    assert!(
        stderr(&output).contains("may not manage people"),
        "{}",
        stderr(&output)
    );
    let output = as_nobody(&["people", "roles", "T. Teacher", "--role", "approver"]);
    assert!(
        stderr(&output).contains("may not manage people"),
        "{}",
        stderr(&output)
    );

    let approved = hedge.ok(&["exempt", "approve", "1"]);
    assert!(approved.contains("approved by H. Head"), "{approved}");
    let shown = hedge.ok(&["exempt", "show", "1"]);
    assert!(
        shown.contains("asked by:     T. Teacher (as nobody"),
        "{shown}"
    );
    assert!(shown.contains("approved by:  H. Head (as root"), "{shown}");
    // An admin person may manage people from their own account.
    hedge.ok(&[
        "people",
        "roles",
        "T. Teacher",
        "--role",
        "staff",
        "--role",
        "admin",
    ]);
    let output = as_nobody(&["people", "add", "Someone", "--role", "staff"]);
    assert!(output.status.success(), "{}", stderr(&output));
}
