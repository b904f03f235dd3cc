//! The web console's pages through the real binary over HTTPS, as a
//! browser without script sees them (`common::console::Visitor`): signing
//! in and enrolling, the start page and menu each role sees, TOTP set-up,
//! a teacher's request decided by an approver on the pages (and the DNS
//! answer following it), and every form refused without its CSRF token or
//! from another site. And in a real browser (headless Chromium, through
//! chromedriver): the same journey on a phone-sized window, and a
//! safeguarding lead acknowledging an alert, searching the log and
//! reading the report; these take the README's screenshots when
//! `HEDGE_SCREENSHOTS` names a folder.

mod common;

use common::browser::{Browser, PHONE};
use common::console::{PASSWORD, Visitor, a_for, start};
use common::*;

#[tokio::test]
async fn enrolling_signing_in_and_out_and_the_menu_each_role_sees() {
    let upstream = TestUpstream::start().await;
    let (hedge, web) = start(upstream.addr, "").await;

    // Not signed in: every page leads to sign-in.
    let nobody = Visitor::new(&hedge, web);
    let page = nobody.get("/");
    assert_eq!(page.path, "/sign-in", "{}", page.body);
    assert!(page.has("<form class=\"stacked\" method=\"post\" action=\"/sign-in\">"));
    assert_eq!(nobody.get("/account").path, "/sign-in");
    assert_eq!(nobody.get("/console.css").status, 200);
    let missing = nobody.get("/no-such-page");
    assert_eq!(missing.status, 404);
    assert!(missing.has("there is nothing at this address"));

    // Before enrolling, the name reads like any unknown one.
    for name in ["T. Teacher", "Nobody Here"] {
        let refused = nobody.post_anonymous("/sign-in", &[("name", name), ("password", PASSWORD)]);
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert!(
            refused.has("wrong name or password"),
            "{name}: {}",
            refused.body
        );
    }

    // Enrolling: the two passwords must match, a weak one is refused with
    // the reason, the code works once.
    let code = hedge.person_unmapped("T. Teacher", &["staff"]);
    let differ = nobody.post_anonymous(
        "/enrol",
        &[("code", &code), ("password", PASSWORD), ("again", "other")],
    );
    assert_eq!(differ.status, 400);
    assert!(differ.has("the two passwords differ"), "{}", differ.body);
    assert!(
        differ.has(&format!("value=\"{code}\"")),
        "the code stays filled in"
    );
    let weak = nobody.post_anonymous(
        "/enrol",
        &[
            ("code", &code),
            ("password", "password"),
            ("again", "password"),
        ],
    );
    assert_eq!(weak.status, 400, "{}", weak.body);
    let enrolled = nobody.enrol(&code);
    assert_eq!(enrolled.path, "/sign-in?done=enrolled");
    assert!(enrolled.has("Your password is set"));
    assert_eq!(nobody.enrol(&code).status, 400, "a code is used once");

    // A wrong password is refused on the sign-in page, the name kept.
    let wrong = nobody.post_anonymous(
        "/sign-in",
        &[
            ("name", "T. Teacher"),
            ("password", "not the password at all"),
        ],
    );
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert!(wrong.has("value=\"T. Teacher\""));
    assert!(wrong.has("class=\"error\""));

    let home = nobody.sign_in("T. Teacher");
    assert!(home.has("Hello, T. Teacher"), "{}", home.body);
    assert!(home.has("href=\"/requests/new\""));
    for other in ["/approvals", "/alerts", "/people", "/status"] {
        assert!(
            !home.has(&format!("href=\"{other}\"")),
            "staff see no {other}"
        );
    }
    for (header, value) in [("x-frame-options", "DENY"), ("cache-control", "no-store")] {
        assert_eq!(home.headers[header], value);
    }
    assert!(
        home.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );

    // Every role's part of the menu.
    let lead = Visitor::signed_in(&hedge, web, "S. Lead", &["safeguarding", "admin"]);
    let home = lead.get("/");
    for link in [
        "/alerts",
        "/incidents",
        "/logs",
        "/report",
        "/people",
        "/status",
        "/audit",
    ] {
        assert!(
            home.has(&format!("href=\"{link}\"")),
            "{link}: {}",
            home.body
        );
    }
    assert!(!home.has("href=\"/approvals\""));

    // Signing out needs the session's own token; then the session is gone.
    let forged = nobody.post_exactly("/sign-out", &[("csrf", "0000")]);
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(forged.has("out of date or did not come from this console"));
    assert_eq!(nobody.get("/").path, "/", "still signed in");
    let out = nobody.post("/sign-out", &[]);
    assert_eq!(out.path, "/sign-in?done=signed-out", "{}", out.body);
    assert_eq!(nobody.get("/").path, "/sign-in");
}

#[tokio::test]
async fn a_form_from_another_site_is_refused_before_it_is_read() {
    let upstream = TestUpstream::start().await;
    let (hedge, web) = start(upstream.addr, "").await;
    hedge.person_unmapped("T. Teacher", &["staff"]);
    let pem = std::fs::read(hedge.path("console-cert.pem")).unwrap();
    let certificate = ureq::tls::Certificate::from_pem(&pem).unwrap();
    let agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![
                    certificate,
                ])))
                .build(),
        )
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent();
    let send = |path: &str, origin: &str| {
        let request = ureq::http::Request::builder()
            .method("POST")
            .uri(format!("https://{web}{path}"))
            .header("Origin", origin)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("name=T.+Teacher&password=x".to_string())
            .unwrap();
        let mut response = agent.run(request).unwrap();
        let status = response.status().as_u16();
        // A refusal leaves the body unread, so it must close the connection
        // rather than let this agent send the next request down it.
        if status == 403 && origin.starts_with("https://evil") {
            assert_eq!(
                response.headers().get("connection").map(|v| v.as_bytes()),
                Some(&b"close"[..]),
                "{path}"
            );
        }
        (status, response.body_mut().read_to_string().unwrap())
    };
    let sign_in = |origin: &str| send("/sign-in", origin).0;
    // Refused in the words of each: a page, or the API's JSON.
    let (status, page) = send("/sign-in", "https://evil.example");
    assert_eq!(status, 403);
    assert!(page.contains("<p class=\"error\" role=\"alert\">refused: this request came from a page of another site"), "{page}");
    let (status, json) = send("/api/v1/session", "https://evil.example");
    assert_eq!(status, 403);
    assert!(
        json.starts_with("{\"error\":\"refused: this request came from a page of another site"),
        "{json}"
    );
    assert_eq!(sign_in("https://evil.example"), 403);
    // Past the origin check (its own, or `null` as under no-referrer), a
    // form still needs the form token of a page the console showed.
    for origin in [format!("https://{web}"), "null".to_string()] {
        let (status, page) = send("/sign-in", &origin);
        assert_eq!(status, 403, "{origin}");
        assert!(
            page.contains("this form is out of date or did not come from this console"),
            "{origin}: {page}"
        );
    }
}

#[tokio::test]
async fn totp_is_set_up_from_the_account_page_and_then_asked_for() {
    let upstream = TestUpstream::start().await;
    let (hedge, web) = start(upstream.addr, "").await;
    let head = Visitor::signed_in(&hedge, web, "H. Head", &["approver"]);
    let account = head.get("/account");
    assert!(account.has("not set up"), "{}", account.body);
    let shown = head.post("/account/totp", &[]);
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.has("<svg"), "a QR code: {}", shown.body);
    let (totp, token) = offered_totp(&shown);
    assert!(
        shown.has(&totp.get_secret_base32()),
        "the secret as text too"
    );
    // Nothing changes until a code from it comes back: leaving the page
    // locks nobody out.
    assert!(head.get("/account").has("not set up"));
    let wrong = head.post(
        "/account/totp/confirm",
        &[("token", &token), ("code", "000000")],
    );
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert!(wrong.has("that code does not match"), "{}", wrong.body);
    let code = totp.generate_current().unwrap();
    let confirmed = head.post(
        "/account/totp/confirm",
        &[("token", &token), ("code", &code)],
    );
    assert_eq!(confirmed.path, "/account?done=totp", "{}", confirmed.body);
    assert!(confirmed.has("set up: you sign in with a code"));
    let twice = head.post("/account/totp", &[]);
    assert_eq!(twice.status, 400, "only once: {}", twice.body);
    assert!(twice.has("has TOTP set up already"), "{}", twice.body);

    // Signing in now needs the code.
    let again = Visitor::new(&hedge, web);
    let without = again.post_anonymous("/sign-in", &[("name", "H. Head"), ("password", PASSWORD)]);
    assert_eq!(without.status, 401, "{}", without.body);
    let code = totp.generate_current().unwrap();
    let with = again.post_anonymous(
        "/sign-in",
        &[("name", "H. Head"), ("password", PASSWORD), ("totp", &code)],
    );
    assert_eq!(with.path, "/", "{}", with.body);
}

/// The TOTP secret a page offers, and the token its form sends back.
fn offered_totp(page: &common::console::Page) -> (totp_rs::TOTP, String) {
    let url = page
        .body
        .split("<p class=\"name\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no otpauth address: {}", page.body))
        .replace("&amp;", "&");
    let token = page
        .body
        .split("name=\"token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    (totp_rs::TOTP::from_url(&url).unwrap(), token)
}

#[tokio::test]
async fn with_totp_required_an_approver_sets_it_up_at_sign_in() {
    let upstream = TestUpstream::start().await;
    let (hedge, web) = start(upstream.addr, "require_totp = true").await;
    let code = hedge.person_unmapped("H. Head", &["approver"]);
    let head = Visitor::new(&hedge, web);
    head.enrol(&code);

    // The password alone: no session, but the set-up page.
    let offered = head.post_anonymous("/sign-in", &[("name", "H. Head"), ("password", PASSWORD)]);
    assert_eq!(offered.status, 200, "{}", offered.body);
    assert!(offered.has("action=\"/sign-in/totp\""), "{}", offered.body);
    assert_eq!(head.get("/").path, "/sign-in", "not signed in yet");
    let (totp, token) = offered_totp(&offered);
    let forged = head.post_anonymous("/sign-in/totp", &[("token", "00"), ("code", "123456")]);
    assert_eq!(forged.status, 400, "{}", forged.body);
    assert!(forged.has("this set-up has ended"), "{}", forged.body);
    let now = totp.generate_current().unwrap();
    let signed_in = head.post_anonymous("/sign-in/totp", &[("token", &token), ("code", &now)]);
    assert_eq!(signed_in.path, "/?done=totp", "{}", signed_in.body);
    assert!(signed_in.has("Hello, H. Head"));
    assert!(head.get("/account").has("set up: you sign in with a code"));
    let used = head.post_anonymous("/sign-in/totp", &[("token", &token), ("code", &now)]);
    assert_eq!(used.status, 400, "the token works once: {}", used.body);

    // From now on: password and code; the code just used is spent.
    let later = Visitor::new(&hedge, web);
    let without = later.post_anonymous("/sign-in", &[("name", "H. Head"), ("password", PASSWORD)]);
    assert_eq!(without.status, 401, "{}", without.body);
    assert!(without.has("a code from the authenticator app is needed"));
    let reused = later.post_anonymous(
        "/sign-in",
        &[("name", "H. Head"), ("password", PASSWORD), ("totp", &now)],
    );
    assert_eq!(reused.status, 401, "{}", reused.body);
}

/// The `id` in the first `id="request-N"` of a page.
fn first_request(page: &common::console::Page) -> String {
    let start = page.body.find("id=\"request-").expect("a request") + 12;
    let end = page.body[start..].find('"').unwrap();
    page.body[start..start + end].to_string()
}

#[tokio::test]
async fn a_teacher_asks_an_approver_decides_and_the_answer_follows() {
    let upstream = TestUpstream::start().await;
    let (hedge, web) = start(upstream.addr, "").await;
    let bet = "bet.upstream.example.";
    assert_eq!(a_for(&hedge, bet).await, ["0.0.0.0"]);
    let teacher = Visitor::signed_in(&hedge, web, "T. Teacher", &["staff"]);
    let head = Visitor::signed_in(&hedge, web, "H. Head", &["approver"]);

    // The form offers the configured groups; a bad field is named.
    let form = teacher.get("/requests/new");
    assert!(
        form.has("<option value=\"pupils\">pupils</option>"),
        "{}",
        form.body
    );
    let no_scope = teacher.post(
        "/requests",
        &[
            ("name", "bet.upstream.example"),
            ("reason", "x"),
            ("until", "2099-01-01T10:00"),
        ],
    );
    assert_eq!(no_scope.status, 400);
    assert!(
        no_scope.has("group: give either a group or a client"),
        "{}",
        no_scope.body
    );
    let bad_until = teacher.post(
        "/requests",
        &[
            ("name", "bet.upstream.example"),
            ("group", "pupils"),
            ("reason", "Year 10 lesson"),
            ("until", "Thursday"),
        ],
    );
    assert_eq!(bad_until.status, 400);
    assert!(
        bad_until.has("until: &#34;Thursday&#34; is not a time"),
        "{}",
        bad_until.body
    );

    let until = (jiff::Zoned::now() + jiff::SignedDuration::from_hours(3))
        .strftime("%Y-%m-%dT%H:%M")
        .to_string();
    let filed = teacher.post(
        "/requests",
        &[
            ("name", "bet.upstream.example"),
            ("group", "pupils"),
            ("client", ""),
            (
                "reason",
                "Year 10 lesson on gambling harms, see bet.upstream.example",
            ),
            ("until", &until),
        ],
    );
    assert_eq!(filed.path, "/requests?done=filed", "{}", filed.body);
    assert!(filed.has("Your request is filed"));
    assert!(
        filed.has("bet[.]upstream[.]example"),
        "the name is inert: {}",
        filed.body
    );
    assert!(!filed.has("href=\"http"), "no name is ever a link");
    assert!(filed.has("class=\"state pending\""));
    let id = first_request(&filed);

    // A member of staff cannot decide, not even by posting the form.
    let page = teacher.get("/approvals");
    assert_eq!(page.status, 403);
    assert!(
        page.has("needs the approver or safeguarding or admin role"),
        "{}",
        page.body
    );
    let refused = teacher.post(&format!("/exemptions/{id}/approve"), &[]);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.has("may not approve exemptions"),
        "{}",
        refused.body
    );
    assert_eq!(a_for(&hedge, bet).await, ["0.0.0.0"]);

    // The approver sees it waiting and approves; the pupils' answer follows.
    let waiting = head.get("/approvals");
    assert!(
        waiting.has(&format!("id=\"request-{id}\"")),
        "{}",
        waiting.body
    );
    assert!(waiting.has("Asked by</dt><dd>T. Teacher"));
    let forged = head.post_exactly(&format!("/exemptions/{id}/approve"), &[("csrf", "nope")]);
    assert_eq!(forged.status, 403);
    let approved = head.post(&format!("/exemptions/{id}/approve"), &[]);
    assert_eq!(
        approved.path, "/approvals?done=approved",
        "{}",
        approved.body
    );
    assert!(approved.has("Nothing is waiting"));
    hedge
        .wait_for_log("(bet.upstream.example for group pupils): active")
        .await;
    assert_ne!(a_for(&hedge, bet).await, ["0.0.0.0"]);
    let mine = teacher.get("/requests");
    assert!(mine.has("class=\"state active\""), "{}", mine.body);
    assert!(mine.has("approved by H. Head"));

    // Revoking needs a reason, then blocks again.
    let in_force = head.get("/exemptions");
    assert!(in_force.has(&format!("action=\"/exemptions/{id}/revoke\"")));
    let blank = head.post(&format!("/exemptions/{id}/revoke"), &[("reason", " ")]);
    assert_eq!(blank.status, 400, "{}", blank.body);
    let revoked = head.post(
        &format!("/exemptions/{id}/revoke"),
        &[("reason", "lesson moved to next week")],
    );
    assert_eq!(revoked.path, "/exemptions?done=revoked", "{}", revoked.body);
    hedge
        .wait_for_log("(bet.upstream.example for group pupils): revoked")
        .await;
    assert_eq!(a_for(&hedge, bet).await, ["0.0.0.0"]);

    // A second request: rejected with a reason the teacher reads.
    teacher.post(
        "/requests",
        &[
            ("name", "bet.upstream.example"),
            ("group", "pupils"),
            ("reason", "Year 10 lesson again"),
            ("until", &until),
        ],
    );
    let second = first_request(&head.get("/approvals"));
    let no_reason = head.post(&format!("/exemptions/{second}/reject"), &[]);
    assert_eq!(no_reason.status, 400, "{}", no_reason.body);
    head.post(
        &format!("/exemptions/{second}/reject"),
        &[("reason", "use the BBC Bitesize page instead")],
    );
    let mine = teacher.get("/requests");
    assert!(mine.has("rejected by H. Head"), "{}", mine.body);
    assert!(mine.has("use the BBC Bitesize page instead"));

    // A third: withdrawn by the teacher; the approver cannot withdraw it.
    teacher.post(
        "/requests",
        &[
            ("name", "bet.upstream.example"),
            ("group", "pupils"),
            ("reason", "Year 11 lesson"),
            ("until", &until),
        ],
    );
    let third = first_request(&teacher.get("/requests"));
    let not_theirs = head.post(
        &format!("/requests/{third}/withdraw"),
        &[("reason", "not mine to withdraw")],
    );
    assert_eq!(not_theirs.status, 403, "{}", not_theirs.body);
    assert!(
        not_theirs.has("only its requester may withdraw it"),
        "{}",
        not_theirs.body
    );
    let withdrawn = teacher.post(
        &format!("/requests/{third}/withdraw"),
        &[("reason", "found another resource")],
    );
    assert_eq!(
        withdrawn.path, "/requests?done=withdrawn",
        "{}",
        withdrawn.body
    );
    assert!(head.get("/approvals").has("Nothing is waiting"));

    // The record says who did each, as people.
    let audit = hedge.ok(&["audit", "list"]);
    for person in ["T. Teacher", "H. Head"] {
        assert!(audit.contains(person), "{person} in {audit}");
    }
}

/// Saves the browser's view as `name`.png in `$HEDGE_SCREENSHOTS`, if set.
fn screenshot(browser: &Browser, name: &str) {
    if let Some(dir) = std::env::var_os("HEDGE_SCREENSHOTS") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        browser.screenshot(&dir.join(format!("{name}.png")));
    }
}

#[tokio::test]
async fn in_a_real_browser_a_teacher_asks_the_head_approves_on_a_phone_and_the_site_opens() {
    let browser = match Browser::start() {
        Ok(browser) => browser,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let upstream = TestUpstream::start().await;
    let (hedge, web) = start(upstream.addr, "").await;
    let bet = "bet.upstream.example.";
    assert_eq!(a_for(&hedge, bet).await, ["0.0.0.0"]);
    let teacher_code = hedge.person_unmapped("T. Teacher", &["staff"]);
    let head_code = hedge.person_unmapped("H. Head", &["approver", "staff"]);
    let base = format!("https://{web}");
    browser.set_window_size(PHONE.0, PHONE.1);

    // The teacher enrols with the link they were given, then signs in.
    browser.goto(&format!("{base}/enrol?code={teacher_code}"));
    browser.fill("input[name=password]", PASSWORD);
    browser.fill("input[name=again]", PASSWORD);
    browser.click("form[action='/enrol'] button");
    browser.wait_for_text("Your password is set");
    browser.fill("input[name=name]", "T. Teacher");
    browser.fill("input[name=password]", PASSWORD);
    screenshot(&browser, "sign-in");
    browser.click("form[action='/sign-in'] button");
    browser.wait_for_text("Hello, T. Teacher");

    // Asks for the site for the pupils, keeping the suggested period.
    browser.click("a[href='/requests/new']");
    browser.wait_for_text("Ask for a site to be allowed");
    browser.fill("input[name=name]", "bet.upstream.example");
    browser.select("select[name=group]", "pupils");
    browser.fill(
        "textarea[name=reason]",
        "Year 10 PSHE lesson on the harms of gambling adverts",
    );
    screenshot(&browser, "new-request");
    browser.click("form[action='/requests'] button");
    browser.wait_for_text("Your request is filed");
    assert!(browser.text().contains("bet[.]upstream[.]example"));
    assert_eq!(
        browser.count("a[href*='upstream']"),
        0,
        "names are never links"
    );
    screenshot(&browser, "my-requests");
    browser.click("form[action='/sign-out'] button");
    browser.wait_for_text("You have signed out");

    // The head teacher, on their phone, approves it.
    browser.goto(&format!("{base}/enrol?code={head_code}"));
    browser.fill("input[name=password]", PASSWORD);
    browser.fill("input[name=again]", PASSWORD);
    browser.click("form[action='/enrol'] button");
    browser.wait_for_text("Your password is set");
    browser.fill("input[name=name]", "H. Head");
    browser.fill("input[name=password]", PASSWORD);
    browser.click("form[action='/sign-in'] button");
    browser.wait_for_text("1 request waiting for a decision");
    screenshot(&browser, "home-approver");
    browser.click("a[href='/approvals']");
    browser.wait_for_text("Year 10 PSHE lesson");
    screenshot(&browser, "approvals");
    browser.click("form[action$='/approve'] button");
    browser.wait_for_text("The request is approved");

    // The pupils' DNS answer is the real one now.
    hedge
        .wait_for_log("(bet.upstream.example for group pupils): active")
        .await;
    assert_ne!(a_for(&hedge, bet).await, ["0.0.0.0"]);
    browser.click("a[href='/exemptions']");
    browser.wait_for_text("In force, or to come");
    assert!(browser.text().contains("approved by H. Head"));
    screenshot(&browser, "exemptions");
}

#[tokio::test]
async fn in_a_real_browser_the_safeguarding_lead_acknowledges_an_alert_and_reads_the_report() {
    let browser = match Browser::start() {
        Ok(browser) => browser,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let upstream = TestUpstream::start().await;
    let (hedge, web) = start(upstream.addr, "").await;
    let code = hedge.person_unmapped("S. Lead", &["safeguarding"]);
    let base = format!("https://{web}");

    // A pupil tries a site in a category that alerts.
    assert_eq!(a_for(&hedge, "adult.upstream.example.").await, ["0.0.0.0"]);

    browser.goto(&format!("{base}/enrol?code={code}"));
    browser.fill("input[name=password]", PASSWORD);
    browser.fill("input[name=again]", PASSWORD);
    browser.click("form[action='/enrol'] button");
    browser.wait_for_text("Your password is set");
    browser.fill("input[name=name]", "S. Lead");
    browser.fill("input[name=password]", PASSWORD);
    browser.click("form[action='/sign-in'] button");
    browser.wait_for_text("Hello, S. Lead");

    // The alert is there (it may take a moment to be raised), inert.
    for () in patiently() {
        browser.goto(&format!("{base}/alerts"));
        if browser.count("form[action$='/ack']") > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let text = browser.text();
    assert!(text.contains("adult[.]upstream[.]example"), "{text}");
    assert_eq!(
        browser.count("a[href*='upstream']"),
        0,
        "names are never links"
    );
    screenshot(&browser, "alerts");
    browser.fill(
        "textarea[name=note]",
        "Spoke to the pupil and their form tutor; parents informed.",
    );
    browser.click("form[action$='/ack'] button");
    browser.wait_for_text("The alert is acknowledged");

    // The log, searched for that name; then the week's report.
    browser.goto(&format!("{base}/logs"));
    browser.fill("input[name=name]", "adult.upstream.example");
    browser.click("form[action='/logs'] button:not([formaction])");
    browser.wait_for_text("1 row, newest first");
    screenshot(&browser, "log-search");
    browser.goto(&format!("{base}/report"));
    browser.click("form[action='/report'] button");
    browser.wait_for_text("pornography");
    screenshot(&browser, "report");
    let access = hedge.ok(&["logs", "access"]);
    for kind in ["search", "report"] {
        assert!(access.contains(kind), "{kind} is on the record: {access}");
    }
}
