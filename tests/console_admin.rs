//! The administrator's pages through the real binary over HTTPS, as a
//! browser without script sees them: people added, changed, reset and
//! disabled on the pages and what that does to the person's own sign-in
//! and menu; the server's status next to `hedge status`; refusals of
//! other roles, of bad input and of forms without their CSRF token; and
//! each change in the audit trail under the administrator's name.

mod common;

use common::console::{PASSWORD, Page, Visitor, start};
use common::*;
use serde_json::Value;

/// The one-time code an enrolment page shows.
fn shown_code(page: &Page) -> String {
    page.body
        .split("<code class=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no code on the page: {}", page.body))
        .to_string()
}

fn people(hedge: &Hedge) -> Vec<Value> {
    let listed: Value = serde_json::from_str(&hedge.ok(&["people", "list", "--json"])).unwrap();
    listed.as_array().unwrap().clone()
}

fn listed<'a>(people: &'a [Value], name: &str) -> Option<&'a Value> {
    people.iter().find(|p| p["name"] == name)
}

/// Signing in as `name` with [`PASSWORD`]: the page it leads to.
fn try_sign_in(visitor: &Visitor, name: &str) -> Page {
    visitor.post_anonymous("/sign-in", &[("name", name), ("password", PASSWORD)])
}

#[tokio::test]
async fn an_administrator_adds_changes_resets_and_disables_a_person() {
    let upstream = TestUpstream::start().await;
    let (hedge, web) = start(upstream.addr, "").await;
    let admin = Visitor::signed_in(&hedge, web, "A. Admin", &["admin"]);

    let list = admin.get("/people");
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.has("A. Admin") && list.has("enrolled"),
        "{}",
        list.body
    );
    assert!(list.has("action=\"/people/add\""));

    // Added with the staff role: the code is shown once, with the address
    // to enrol at, which fills the code in.
    let added = admin.post(
        "/people/add",
        &[("name", "T. Teacher"), ("staff", "on"), ("os_user", "")],
    );
    assert_eq!(added.status, 200, "{}", added.body);
    assert!(added.has("T. Teacher is added"), "{}", added.body);
    let code = shown_code(&added);
    let link = format!("https://{web}/enrol?code={code}");
    assert!(added.has(&link), "{link}: {}", added.body);
    assert!(added.has("72 hours"));
    let listing = people(&hedge);
    let teacher = listed(&listing, "T. Teacher").unwrap();
    assert_eq!(teacher["roles"], serde_json::json!(["staff"]));
    assert_eq!(teacher["enrolled"], false);
    let waiting = admin.get("/people");
    assert!(waiting.has("waiting to enrol") && waiting.has("code valid until"));

    let teacher = Visitor::new(&hedge, web);
    let form = teacher.get(&format!("/enrol?code={code}"));
    assert!(form.has(&format!("value=\"{code}\"")), "{}", form.body);
    assert!(teacher.enrol(&code).has("Your password is set"));
    let home = teacher.sign_in("T. Teacher");
    assert!(home.has("href=\"/requests/new\""), "{}", home.body);
    for other in ["/approvals", "/people", "/status"] {
        assert!(
            !home.has(&format!("href=\"{other}\"")),
            "staff see no {other}"
        );
    }

    // Roles changed on the person's page take effect on the next page.
    let person = admin.get("/people/person?name=T.+Teacher");
    assert_eq!(person.status, 200, "{}", person.body);
    assert!(
        person.has("name=\"staff\" value=\"on\" checked"),
        "{}",
        person.body
    );
    assert!(!person.has("name=\"approver\" value=\"on\" checked"));
    let changed = admin.post(
        "/people/roles",
        &[("name", "T. Teacher"), ("staff", "on"), ("approver", "on")],
    );
    assert_eq!(changed.path, "/people?done=changed", "{}", changed.body);
    assert!(changed.has("The change is saved."));
    assert!(
        teacher.get("/").has("href=\"/approvals\""),
        "now an approver"
    );
    assert_eq!(
        listed(&people(&hedge), "T. Teacher").unwrap()["roles"],
        serde_json::json!(["staff", "approver"])
    );

    // The OS account acting as them.
    let mapped = admin.post(
        "/people/map",
        &[("name", "T. Teacher"), ("os_user", "tteacher")],
    );
    assert_eq!(mapped.path, "/people?done=changed", "{}", mapped.body);
    assert_eq!(
        listed(&people(&hedge), "T. Teacher").unwrap()["os_user"],
        "tteacher"
    );

    // Reset: asked first, saying what it does; then a new code. The old
    // password, the old code and the open session stop working.
    let ask = admin.get("/people/reset?name=T.+Teacher");
    assert_eq!(ask.status, 200, "{}", ask.body);
    assert!(
        ask.has("clears their password and their TOTP"),
        "{}",
        ask.body
    );
    let reset = admin.post("/people/reset", &[("name", "T. Teacher")]);
    assert_eq!(reset.status, 200, "{}", reset.body);
    assert!(
        reset.has("their password and TOTP are cleared"),
        "{}",
        reset.body
    );
    let new_code = shown_code(&reset);
    assert_ne!(new_code, code);
    assert!(reset.has(&format!("https://{web}/enrol?code={new_code}")));
    assert_eq!(
        teacher.get("/").path,
        "/sign-in?done=expired",
        "session ended"
    );
    let refused = try_sign_in(&teacher, "T. Teacher");
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(
        refused.has("wrong name or password"),
        "the old password no longer works: {}",
        refused.body
    );
    assert_eq!(teacher.enrol(&code).status, 400, "the old code is void");
    assert!(teacher.enrol(&new_code).has("Your password is set"));
    teacher.sign_in("T. Teacher");

    // Disable: asked first; then their session ends and sign-in is refused.
    let ask = admin.get("/people/disable?name=T.+Teacher");
    assert!(ask.has("stops them signing in or acting"), "{}", ask.body);
    assert!(ask.has("class=\"danger\""));
    let disabled = admin.post("/people/disable", &[("name", "T. Teacher")]);
    assert_eq!(disabled.path, "/people?done=disabled", "{}", disabled.body);
    assert!(disabled.has("The person is disabled"));
    let ended = teacher.get("/");
    assert_eq!(ended.status, 403, "{}", ended.body);
    assert!(ended.has("this person is disabled"), "{}", ended.body);
    assert_eq!(teacher.get("/").path, "/sign-in?done=expired");
    let refused = try_sign_in(&teacher, "T. Teacher");
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.has("disabled"), "{}", refused.body);
    assert_eq!(
        listed(&people(&hedge), "T. Teacher").unwrap()["disabled"],
        true
    );

    // Enabled again from their page: they sign in as before.
    let page = admin.get("/people/person?name=T.+Teacher");
    assert!(page.has("action=\"/people/enable\""), "{}", page.body);
    let enabled = admin.post("/people/enable", &[("name", "T. Teacher")]);
    assert_eq!(enabled.path, "/people?done=enabled", "{}", enabled.body);
    assert!(enabled.has("The person is enabled again"));
    teacher.sign_in("T. Teacher");
    let again = admin.post("/people/enable", &[("name", "T. Teacher")]);
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(again.has("is not disabled"), "{}", again.body);

    // Every change is in the audit trail under the administrator's name.
    let rows: Value = serde_json::from_str(&hedge.ok(&["audit", "list", "--json"])).unwrap();
    let by_admin: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["person"] == "A. Admin" && row["details"]["name"] == "T. Teacher")
        .map(|row| row["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        by_admin,
        [
            "person.added",
            "person.roles-changed",
            "person.os-user-changed",
            "person.reset",
            "person.disabled",
            "person.enabled"
        ],
        "{rows:#}"
    );
    let added_row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["action"] == "person.added" && row["details"]["name"] == "T. Teacher")
        .unwrap();
    assert!(
        added_row["actor"]
            .as_str()
            .unwrap()
            .starts_with("A. Admin (admin, console 127.0.0.1"),
        "{added_row}"
    );
}

#[tokio::test]
async fn other_roles_bad_input_and_forged_forms_are_refused() {
    let upstream = TestUpstream::start().await;
    let (hedge, web) = start(upstream.addr, "").await;
    let admin = Visitor::signed_in(&hedge, web, "A. Admin", &["admin"]);
    let staff = Visitor::signed_in(&hedge, web, "T. Teacher", &["staff", "approver"]);
    let before = people(&hedge);

    // Another role: refused on every page and form.
    for path in [
        "/people",
        "/status",
        "/people/person?name=A.+Admin",
        "/people/reset?name=A.+Admin",
        "/people/disable?name=A.+Admin",
    ] {
        let page = staff.get(path);
        assert_eq!(page.status, 403, "{path}: {}", page.body);
        assert!(page.has("needs the admin role"), "{path}: {}", page.body);
    }
    for (path, fields) in [
        ("/people/add", &[("name", "Sneaky"), ("admin", "on")][..]),
        (
            "/people/roles",
            &[("name", "T. Teacher"), ("admin", "on")][..],
        ),
        (
            "/people/map",
            &[("name", "A. Admin"), ("os_user", "root")][..],
        ),
        ("/people/reset", &[("name", "A. Admin")][..]),
        ("/people/disable", &[("name", "A. Admin")][..]),
    ] {
        let page = staff.post(path, fields);
        assert_eq!(page.status, 403, "{path}: {}", page.body);
    }
    assert_eq!(people(&hedge), before, "nothing changed");

    // Bad input: a 400 page naming the field.
    admin.get("/people");
    let no_name = admin.post("/people/add", &[("name", "  "), ("staff", "on")]);
    assert_eq!(no_name.status, 400, "{}", no_name.body);
    assert!(no_name.has("name: the person"), "{}", no_name.body);
    let no_role = admin.post("/people/add", &[("name", "N. Body")]);
    assert_eq!(no_role.status, 400, "{}", no_role.body);
    assert!(
        no_role.has("roles: tick at least one role"),
        "{}",
        no_role.body
    );
    let bad_user = admin.post(
        "/people/add",
        &[("name", "N. Body"), ("staff", "on"), ("os_user", "-rf")],
    );
    assert_eq!(bad_user.status, 400, "{}", bad_user.body);
    assert!(bad_user.has("OS account:"), "{}", bad_user.body);
    let unknown = admin.post("/people/roles", &[("name", "Nobody Here"), ("staff", "on")]);
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert!(unknown.has("no person called"), "{}", unknown.body);
    let taken = admin.post("/people/add", &[("name", "t. teacher"), ("staff", "on")]);
    assert_eq!(taken.status, 400, "{}", taken.body);
    assert!(taken.has("already a person called"), "{}", taken.body);

    // Forms without the session's CSRF token change nothing.
    for (path, fields) in [
        ("/people/add", &[("name", "Forged"), ("admin", "on")][..]),
        (
            "/people/roles",
            &[("name", "T. Teacher"), ("admin", "on")][..],
        ),
        ("/people/reset", &[("name", "T. Teacher")][..]),
        ("/people/disable", &[("name", "T. Teacher")][..]),
    ] {
        let page = admin.post_exactly(path, fields);
        assert_eq!(page.status, 403, "{path}: {}", page.body);
        assert!(page.has("did not come from this console"), "{}", page.body);
        let mut forged = vec![("csrf", "00ff")];
        forged.extend_from_slice(fields);
        assert_eq!(admin.post_exactly(path, &forged).status, 403, "{path}");
    }
    assert_eq!(people(&hedge), before, "nothing changed");

    // The only administrator can neither be disabled nor lose the role.
    let last = admin.post("/people/disable", &[("name", "A. Admin")]);
    assert_eq!(last.status, 403, "{}", last.body);
    assert!(last.has("the only administrator"), "{}", last.body);
    let last = admin.post("/people/roles", &[("name", "A. Admin"), ("staff", "on")]);
    assert_eq!(last.status, 403, "{}", last.body);
    assert_eq!(people(&hedge), before, "nothing changed");

    // The status page: what `hedge status` says, the certificate's
    // fingerprint and the addresses among it.
    let status = hedge.status();
    let page = admin.get("/status");
    assert_eq!(page.status, 200, "{}", page.body);
    let fingerprint = status["console"]["fingerprint"].as_str().unwrap();
    assert!(fingerprint.len() > 60, "{status}");
    assert!(page.has(fingerprint), "{fingerprint}: {}", page.body);
    assert!(page.has(&format!("https://{web}/")), "{}", page.body);
    let listening = status["listening"][0].as_str().unwrap();
    assert!(page.has(listening), "{listening}: {}", page.body);
    let text = hedge.ok(&["status"]);
    assert!(text.contains(fingerprint), "{text}");
    for words in [
        "names from",
        "in the catalogue",
        "blocked by some group",
        "waiting for an approver",
        "not yet acknowledged",
        "failed DNSSEC validation",
        "outside allow_networks",
        "retention",
        "self-signed",
    ] {
        assert!(page.has(words), "{words}: {}", page.body);
    }
    assert!(page.has(&format!("hedge {}", status["version"].as_str().unwrap())));
}
