//! The web console's JSON API through the real binary over HTTPS, with a
//! real HTTP client (ureq) that trusts only the certificate hedge made in
//! its data directory: a request filed by a member of staff and approved
//! by an approver, both enrolled through the API, changes the DNS answer
//! until it is revoked; each refusal has its status; sessions expire
//! (their times moved back in the database, not slept through); sign-ins
//! lock out per person and per address; TOTP is required and checked; the
//! security headers are on every answer; plain HTTP is never answered; a
//! client outside `allow_networks` is closed unanswered; and the
//! fingerprint `hedge status` shows is the served certificate's.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::console::{PASSWORD, a_for, start};
use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const REASON: &str = "Year 10 lesson on the harms of online gambling";

/// An HTTPS client that trusts only the console's own certificate.
struct Console {
    agent: ureq::Agent,
    base: String,
}

/// One answer: status, headers and the body as JSON.
struct Answer {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Value,
}

impl Answer {
    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
}

/// A signed-in person: their session cookie and CSRF token.
#[derive(Clone)]
struct Session {
    cookie: String,
    csrf: String,
}

impl Console {
    fn new(hedge: &Hedge, web: SocketAddr) -> Console {
        let pem = std::fs::read(hedge.path("console-cert.pem")).unwrap();
        let certificate = ureq::tls::Certificate::from_pem(&pem).unwrap();
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![certificate])))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .new_agent();
        Console {
            agent,
            base: format!("https://{web}/api/v1"),
        }
    }

    /// `method path` with `session`'s cookie (and its CSRF token, unless
    /// `csrf` is false) and `body` as JSON.
    fn call(
        &self,
        method: &str,
        path: &str,
        session: Option<&Session>,
        csrf: bool,
        body: Option<Value>,
    ) -> Answer {
        let uri = format!("{}{path}", self.base);
        let mut request = ureq::http::Request::builder().method(method).uri(uri);
        if let Some(session) = session {
            request = request.header("Cookie", &session.cookie);
            if csrf {
                request = request.header("X-CSRF-Token", &session.csrf);
            }
        }
        let body = match body {
            Some(body) => {
                request = request.header("Content-Type", "application/json");
                body.to_string()
            }
            None => String::new(),
        };
        let mut response = self.agent.run(request.body(body).unwrap()).unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.body_mut().read_to_string().unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    fn get(&self, path: &str, session: &Session) -> Answer {
        self.call("GET", path, Some(session), false, None)
    }

    fn post(&self, path: &str, session: &Session, body: Value) -> Answer {
        self.call("POST", path, Some(session), true, Some(body))
    }

    fn enrol(&self, code: &str) -> Answer {
        self.call(
            "POST",
            "/enrol",
            None,
            false,
            Some(json!({ "code": code, "password": PASSWORD })),
        )
    }

    fn sign_in_with(&self, name: &str, password: &str, totp: Option<&str>) -> Answer {
        let mut body = json!({ "name": name, "password": password });
        if let Some(totp) = totp {
            body["totp"] = json!(totp);
        }
        self.call("POST", "/session", None, false, Some(body))
    }

    fn sign_in(&self, name: &str) -> Session {
        let answer = self.sign_in_with(name, PASSWORD, None);
        assert_eq!(answer.status, 200, "{}", answer.body);
        session_of(&answer)
    }
}

/// The session an answer to a sign-in started, checking its cookie.
fn session_of(answer: &Answer) -> Session {
    let set_cookie = answer.headers["set-cookie"].to_str().unwrap();
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            set_cookie.split("; ").any(|a| a == attribute),
            "{set_cookie}"
        );
    }
    Session {
        cookie: set_cookie.split(';').next().unwrap().to_string(),
        csrf: answer.body["csrf"].as_str().unwrap().to_string(),
    }
}

fn until(hours: i64) -> String {
    (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(hours)).to_string()
}

fn request_body(name: &str, hours: i64) -> Value {
    json!({ "name": name, "group": "pupils", "reason": REASON, "until": until(hours) })
}

/// Runs `sql` on the server's database (as tests/people.rs moves an
/// enrolment's expiry): how time passing is shown without sleeping.
async fn sql(hedge: &Hedge, sql: &str) {
    use sqlx::Connection;
    let url = format!("sqlite:{}", hedge.path("hedge.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(sql).execute(&mut db).await.unwrap();
    db.close().await.unwrap();
}

#[tokio::test]
async fn a_request_is_filed_approved_in_force_and_revoked_by_two_people() {
    let upstream = TestUpstream::start().await;
    let (hedge, web) = start(upstream.addr, "").await;
    let console = Console::new(&hedge, web);
    let bet = "bet.upstream.example.";
    assert_eq!(a_for(&hedge, bet).await, ["0.0.0.0"]);

    let teacher_code = hedge.person_unmapped("T. Teacher", &["staff"]);
    let head_code = hedge.person_unmapped("H. Head", &["approver", "staff"]);
    let enrolled = console.enrol(&teacher_code);
    assert_eq!(enrolled.status, 200, "{}", enrolled.body);
    assert_eq!(enrolled.body["name"], "T. Teacher");
    let again = console.enrol(&teacher_code);
    assert_eq!(again.status, 400, "a code is used once: {}", again.body);
    assert!(again.error().contains("not valid"), "{}", again.body);
    let weak = console.call(
        "POST",
        "/enrol",
        None,
        false,
        Some(json!({ "code": head_code, "password": "short" })),
    );
    assert_eq!(weak.status, 400, "{}", weak.body);
    assert_eq!(console.enrol(&head_code).status, 200);
    let missing = console.call("POST", "/enrol", None, false, Some(json!({ "code": "x" })));
    assert_eq!(missing.status, 400);
    assert!(missing.error().contains("password"), "{}", missing.body);
    let huge = console.call(
        "POST",
        "/enrol",
        None,
        false,
        Some(json!({ "code": "x".repeat(100_000), "password": PASSWORD })),
    );
    assert_eq!(huge.status, 413, "bodies are limited to 64 KiB");
    assert!(huge.error().contains("64 KiB"), "{}", huge.body);

    let teacher = console.sign_in("T. Teacher");
    let head = console.sign_in("H. Head");

    // Every answer has the security headers, errors included.
    for answer in [
        console.get("/exemptions", &teacher),
        console.call("GET", "/exemptions", None, false, None),
        console.call("GET", "/nothing-here", None, false, None),
    ] {
        for (name, value) in [
            (
                "content-security-policy",
                "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
            ("x-content-type-options", "nosniff"),
            ("cache-control", "no-store"),
        ] {
            assert_eq!(answer.headers[name], value, "{name} on {}", answer.status);
        }
    }

    // No session, no CSRF token: refused, nothing filed.
    let anonymous = console.call(
        "POST",
        "/exemptions",
        None,
        false,
        Some(request_body("bet.upstream.example", 1)),
    );
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    let no_csrf = console.call(
        "POST",
        "/exemptions",
        Some(&teacher),
        false,
        Some(request_body("bet.upstream.example", 1)),
    );
    assert_eq!(no_csrf.status, 403, "{}", no_csrf.body);
    assert!(no_csrf.error().contains("X-CSRF-Token"), "{}", no_csrf.body);
    let wrong_csrf = console.post(
        "/exemptions",
        &Session {
            csrf: head.csrf.clone(),
            ..teacher.clone()
        },
        request_body("bet.upstream.example", 1),
    );
    assert_eq!(wrong_csrf.status, 403, "another session's token");

    // Bad input names its field.
    let bad = console.post(
        "/exemptions",
        &teacher,
        json!({ "name": "bet.upstream.example", "group": "pupils", "reason": REASON, "until": "soon" }),
    );
    assert_eq!(bad.status, 400);
    assert!(bad.error().starts_with("until: "), "{}", bad.body);
    let mandatory = console.post(
        "/exemptions",
        &teacher,
        request_body("www.abuse.upstream.example", 1),
    );
    assert_eq!(mandatory.status, 400, "{}", mandatory.body);
    assert!(
        mandatory.error().contains("mandatory category iwf"),
        "{}",
        mandatory.body
    );

    // The teacher files; the request is theirs.
    let filed = console.post(
        "/exemptions",
        &teacher,
        request_body("bet.upstream.example", 1),
    );
    assert_eq!(filed.status, 200, "{}", filed.body);
    let id = filed.body["id"].as_i64().unwrap();
    assert_eq!(a_for(&hedge, bet).await, ["0.0.0.0"], "pending");

    // Beyond the roster's max_days (7 for H. Head): refused at approval.
    let long = console.post(
        "/exemptions",
        &teacher,
        request_body("bet.upstream.example", 10 * 24),
    );
    assert_eq!(long.status, 200, "{}", long.body);
    let long_id = long.body["id"].as_i64().unwrap();
    let beyond = console.post(&format!("/exemptions/{long_id}/approve"), &head, json!({}));
    assert_eq!(beyond.status, 400, "{}", beyond.body);
    assert!(beyond.error().contains("at most 7 days"), "{}", beyond.body);

    // Staff may not approve; an approver may not approve their own.
    let by_staff = console.post(&format!("/exemptions/{id}/approve"), &teacher, json!({}));
    assert_eq!(by_staff.status, 403, "{}", by_staff.body);
    assert!(
        by_staff.error().contains("approver role"),
        "{}",
        by_staff.body
    );
    let own = console.post(
        "/exemptions",
        &head,
        request_body("bet.upstream.example", 1),
    );
    let own_id = own.body["id"].as_i64().unwrap();
    let self_approval = console.post(&format!("/exemptions/{own_id}/approve"), &head, json!({}));
    assert_eq!(self_approval.status, 403, "{}", self_approval.body);
    assert!(
        self_approval.error().contains("cannot also decide it"),
        "{}",
        self_approval.body
    );

    // The head approves the teacher's request: in force at once.
    let approved = console.post(&format!("/exemptions/{id}/approve"), &head, json!({}));
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.body["status"], "approved");
    assert_eq!(approved.body["decided_by"], "H. Head");
    assert_eq!(a_for(&hedge, bet).await, ["192.0.2.66"]);
    let twice = console.post(&format!("/exemptions/{id}/approve"), &head, json!({}));
    assert_eq!(twice.status, 409, "{}", twice.body);
    let nowhere = console.post("/exemptions/999/approve", &head, json!({}));
    assert_eq!(nowhere.status, 404, "{}", nowhere.body);
    let another = console.post(
        "/exemptions",
        &teacher,
        request_body("bet.upstream.example", 2),
    );
    let another_id = another.body["id"].as_i64().unwrap();
    let rejected = console.post(
        &format!("/exemptions/{another_id}/reject"),
        &head,
        json!({ "reason": "the lesson can use the printed handout" }),
    );
    assert_eq!(rejected.status, 200, "{}", rejected.body);
    assert_eq!(rejected.body["status"], "rejected");

    // The teacher sees their own requests; the head sees all.
    let mine = console.get("/exemptions", &teacher);
    let ids: Vec<i64> = mine
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&id) && !ids.contains(&own_id), "{ids:?}");
    let all = console.get("/exemptions", &head);
    assert_eq!(all.body.as_array().unwrap().len(), 4);

    // Revoked: blocked again.
    let no_reason = console.post(&format!("/exemptions/{id}/revoke"), &head, json!({}));
    assert_eq!(no_reason.status, 400);
    assert!(no_reason.error().contains("reason"), "{}", no_reason.body);
    let revoked = console.post(
        &format!("/exemptions/{id}/revoke"),
        &head,
        json!({ "reason": "the lesson is over, thank you" }),
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(a_for(&hedge, bet).await, ["0.0.0.0"]);

    // A request is withdrawn by its requester, and by nobody else.
    let again = console.post(
        "/exemptions",
        &teacher,
        json!({ "name": "bet.upstream.example", "group": "pupils", "reason": REASON, "until": until(2) }),
    );
    let again = again.body["id"].as_i64().unwrap();
    let path = format!("/exemptions/{again}/withdraw");
    let reason = json!({ "reason": "the class went on a trip instead" });
    let not_theirs = console.post(&path, &head, reason.clone());
    assert_eq!(not_theirs.status, 403, "{}", not_theirs.body);
    let withdrawn = console.post(&path, &teacher, reason.clone());
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.body);
    assert_eq!(withdrawn.body["status"], "revoked");
    assert_eq!(withdrawn.body["revoked_by"], "T. Teacher");
    let twice = console.post(&path, &teacher, reason);
    assert_eq!(twice.status, 409, "{}", twice.body);
    assert!(
        twice.error().contains("nothing to withdraw"),
        "{}",
        twice.body
    );

    // Every console action is in the audit trail with the person, the
    // role used and the source address.
    let audit: Vec<Value> = serde_json::from_str(&hedge.ok(&["audit", "list", "--json"])).unwrap();
    let row = |action: &str| {
        audit
            .iter()
            .find(|row| row["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {audit:#?}"))
    };
    assert_eq!(
        row("exemption.filed")["actor"],
        "T. Teacher (staff, console 127.0.0.1)"
    );
    assert_eq!(
        row("exemption.approved")["actor"],
        "H. Head (approver, console 127.0.0.1)"
    );
    assert_eq!(row("exemption.approved")["person"], "H. Head");
    assert_eq!(
        row("exemption.revoked")["actor"],
        "H. Head (approver, console 127.0.0.1)"
    );

    // Alerts, logs and status need their roles.
    assert_eq!(console.get("/alerts", &teacher).status, 403);
    assert_eq!(console.get("/logs", &teacher).status, 403);
    assert_eq!(console.get("/status", &head).status, 403);

    // Signed out: the cookie is worth nothing.
    let out = console.call("DELETE", "/session", Some(&teacher), true, None);
    assert_eq!(out.status, 200, "{}", out.body);
    assert_eq!(console.get("/exemptions", &teacher).status, 401);
}

#[tokio::test]
async fn a_safeguarding_lead_acknowledges_alerts_and_searches_the_log_on_the_record() {
    let upstream = TestUpstream::start().await;
    let (hedge, web) = start(upstream.addr, "").await;
    let console = Console::new(&hedge, web);
    let code = hedge.person_unmapped("S. Lead", &["safeguarding"]);
    assert_eq!(console.enrol(&code).status, 200);
    let lead = console.sign_in("S. Lead");

    assert_eq!(a_for(&hedge, "adult.upstream.example.").await, ["0.0.0.0"]);
    let mut alert = Value::Null;
    for () in patiently() {
        let alerts = console.get("/alerts?open=true", &lead);
        assert_eq!(alerts.status, 200, "{}", alerts.body);
        if let Some(first) = alerts.body.as_array().and_then(|a| a.first()) {
            alert = first.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(alert["category"], "pornography", "{alert}");
    let id = alert["id"].as_i64().unwrap();
    let path = format!("/alerts/{id}/ack");
    let acked = console.post(
        &path,
        &lead,
        json!({ "note": "spoke to the pupil and their tutor" }),
    );
    assert_eq!(acked.status, 200, "{}", acked.body);
    assert_eq!(acked.body["acked_by"], "S. Lead");
    let again = console.post(&path, &lead, json!({ "note": "spoke to the pupil again" }));
    assert_eq!(again.status, 409, "{}", again.body);
    let nowhere = console.post(
        "/alerts/999/ack",
        &lead,
        json!({ "note": "no such alert here" }),
    );
    assert_eq!(nowhere.status, 404, "{}", nowhere.body);
    assert!(
        console
            .get("/alerts?open=true", &lead)
            .body
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The log search names its bad fields, and is on the record under
    // the person's name.
    let bad = console.get("/logs?from=last+tuesday", &lead);
    assert_eq!(bad.status, 400);
    assert!(bad.error().starts_with("from: "), "{}", bad.body);
    let bad = console.get("/logs?client=pupils", &lead);
    assert!(bad.error().starts_with("client: "), "{}", bad.body);
    let rows = console.get("/logs?name=adult.upstream.example&client=127.0.0.2", &lead);
    assert_eq!(rows.status, 200, "{}", rows.body);
    let rows = rows.body.as_array().unwrap();
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r["name"] == "adult.upstream.example"),
        "{rows:?}"
    );
    let access: Vec<Value> =
        serde_json::from_str(&hedge.ok(&["logs", "access", "--json"])).unwrap();
    let last = access.last().unwrap();
    assert_eq!(last["os_user"], "S. Lead (safeguarding, console 127.0.0.1)");
    assert_eq!(last["rows"], rows.len());
}

#[tokio::test]
async fn sessions_expire_and_sign_ins_lock_out_by_person_and_by_address() {
    let upstream = TestUpstream::start().await;
    let (hedge, web) = start(upstream.addr, "").await;
    let console = Console::new(&hedge, web);
    for name in ["T. Teacher", "O. Other", "L. Leaver"] {
        let code = hedge.person_unmapped(name, &["staff"]);
        assert_eq!(console.enrol(&code).status, 200);
    }

    // Idle 30 minutes: expired.
    let teacher = console.sign_in("T. Teacher");
    assert_eq!(console.get("/exemptions", &teacher).status, 200);
    sql(
        &hedge,
        "UPDATE console_sessions SET last_seen_ms = last_seen_ms - 31 * 60000",
    )
    .await;
    let idle = console.get("/exemptions", &teacher);
    assert_eq!(idle.status, 401, "{}", idle.body);
    assert!(idle.error().contains("expired"), "{}", idle.body);
    // Busy but 12 hours old: expired too.
    let teacher = console.sign_in("T. Teacher");
    sql(
        &hedge,
        "UPDATE console_sessions SET created_ms = created_ms - 12 * 3600000 - 1000 WHERE ended_ms IS NULL",
    )
    .await;
    let old = console.get("/exemptions", &teacher);
    assert_eq!(old.status, 401, "{}", old.body);
    assert!(old.error().contains("12 hours"), "{}", old.body);

    // A disabled person: their session ends, they cannot sign in.
    let leaver = console.sign_in("L. Leaver");
    hedge.ok(&["people", "disable", "L. Leaver"]);
    assert_eq!(console.get("/exemptions", &leaver).status, 403);
    let disabled = console.sign_in_with("L. Leaver", PASSWORD, None);
    assert_eq!(disabled.status, 403, "{}", disabled.body);

    // Five wrong passwords lock the person (429), and the address too.
    for attempt in 1..=5 {
        let wrong = console.sign_in_with("T. Teacher", "not the password at all", None);
        let expected = if attempt < 5 { 401 } else { 429 };
        assert_eq!(wrong.status, expected, "attempt {attempt}: {}", wrong.body);
    }
    let locked = console.sign_in_with("T. Teacher", PASSWORD, None);
    assert_eq!(locked.status, 429, "{}", locked.body);
    // Another person from the same address: the address is locked.
    let address = console.sign_in_with("O. Other", PASSWORD, None);
    assert_eq!(address.status, 429, "{}", address.body);
    assert!(address.error().contains("this address"), "{}", address.body);
    let audit = hedge.ok(&["audit", "list", "--json"]);
    assert!(audit.contains("console.address-locked"), "{audit}");
    assert!(audit.contains("person.locked"), "{audit}");
    // Fifteen minutes later (moved back, not slept), the address may try
    // again; the person's own lockout is theirs.
    sql(
        &hedge,
        "UPDATE console_signin_failures SET at_ms = at_ms - 16 * 60000",
    )
    .await;
    console.sign_in("O. Other");
    // Names nobody has count against the address as well.
    for _ in 0..5 {
        let nobody = console.sign_in_with("No Body", PASSWORD, None);
        assert!(matches!(nobody.status, 401 | 429), "{}", nobody.body);
    }
    assert_eq!(console.sign_in_with("O. Other", PASSWORD, None).status, 429);
}

#[tokio::test]
async fn totp_is_required_for_approvers_and_checked() {
    let upstream = TestUpstream::start().await;
    let (hedge, web) = start(upstream.addr, "require_totp = true").await;
    let console = Console::new(&hedge, web);
    let head_code = hedge.person("H. Head", &["approver"]);
    let teacher_code = hedge.person_unmapped("T. Teacher", &["staff"]);
    assert_eq!(console.enrol(&head_code).status, 200);
    assert_eq!(console.enrol(&teacher_code).status, 200);
    // Staff need no TOTP; an approver without it may not sign in.
    console.sign_in("T. Teacher");
    let refused = console.sign_in_with("H. Head", PASSWORD, None);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.error().contains("authenticator"),
        "{}",
        refused.body
    );

    // Set up (as the head's own OS account), then needed and checked.
    let shown = hedge.ok(&["people", "totp", "H. Head"]);
    let url = shown
        .split_whitespace()
        .find(|w| w.starts_with("otpauth://totp/"))
        .unwrap();
    let totp = totp_rs::TOTP::from_url(url).unwrap();
    let without = console.sign_in_with("H. Head", PASSWORD, None);
    assert_eq!(without.status, 401, "{}", without.body);
    let code = totp.generate_current().unwrap();
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let bad = console.sign_in_with("H. Head", PASSWORD, Some(&wrong));
    assert_eq!(bad.status, 401, "{}", bad.body);
    let good = console.sign_in_with("H. Head", PASSWORD, Some(&code));
    assert_eq!(good.status, 200, "{}", good.body);
    session_of(&good);
    let reused = console.sign_in_with("H. Head", PASSWORD, Some(&code));
    assert_eq!(
        reused.status, 401,
        "a code is accepted once: {}",
        reused.body
    );
}

#[tokio::test]
async fn only_tls_only_allowed_networks_and_the_fingerprint_is_the_served_certificate() {
    let upstream = TestUpstream::start().await;
    let (hedge, web) = start(upstream.addr, "allow_networks = [\"127.0.0.1/32\"]").await;

    // `hedge status` shows the fingerprint of the certificate in the data
    // directory, which is the only one the client trusts: the handshake
    // succeeding shows that it is the one served.
    let pem = std::fs::read(hedge.path("console-cert.pem")).unwrap();
    let der = ureq::tls::Certificate::from_pem(&pem)
        .unwrap()
        .der()
        .to_vec();
    let expected: Vec<String> = Sha256::digest(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    let status = hedge.status();
    assert_eq!(status["console"]["fingerprint"], expected.join(":"));
    assert_eq!(status["console"]["listen"], web.to_string());
    let human = hedge.ok(&["status"]);
    assert!(human.contains(&expected.join(":")), "{human}");
    assert!(hedge.log().contains(&expected.join(":")));
    let console = Console::new(&hedge, web);
    let answer = console.call("GET", "/status", None, false, None);
    assert_eq!(answer.status, 401, "{}", answer.body);

    // Plain HTTP gets no HTTP answer: the connection just closes.
    let mut plain = std::net::TcpStream::connect(web).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain
        .write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    let _ = plain.read_to_end(&mut reply);
    assert!(
        !reply.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );

    // From 127.0.0.2, outside allow_networks: closed before any byte,
    // where 127.0.0.1 is left waiting for its TLS handshake.
    let mut outside = tcp_connect_from(local(2), web).await.unwrap();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut outside, &mut byte),
    )
    .await
    .expect("closed at once");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let mut inside = tcp_connect_from(local(1), web).await.unwrap();
    let waiting = tokio::time::timeout(
        Duration::from_millis(500),
        tokio::io::AsyncReadExt::read(&mut inside, &mut byte),
    )
    .await;
    assert!(waiting.is_err(), "an allowed client is waited for");
}
