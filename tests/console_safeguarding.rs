//! The safeguarding lead's pages through the real binary over HTTPS, as a
//! browser without script sees them: an alert raised by a pupil's query
//! is acknowledged with a note (a member of staff is refused), an
//! incident opened from it, noted, referred and closed; the log searched
//! and downloaded as the CSV `hedge logs search --csv` writes, each on
//! the record; the report page is `hedge report --format html` with its
//! own content policy; the audit trail lists what was done and its chain
//! verifies. Names of sites are shown inert and never inside a link.

mod common;

use std::time::Duration;

use common::console::{Page, Visitor, start};
use common::*;
use hickory_proto::rr::RecordType;
use serde_json::Value;

const PUPIL: u8 = 2;
const BLOCKED: &str = "adult.upstream.example";
const LEAD: &str = "S. Lead";

async fn ask_as_pupil(hedge: &Hedge, name: &str) -> Vec<String> {
    let reply = udp_exchange_from(
        local(PUPIL),
        hedge.addr,
        &query(&format!("{name}."), RecordType::A),
        PATIENCE,
    )
    .await
    .expect("an answer");
    addresses(&reply)
}

/// Every `href` on the page.
fn links(page: &Page) -> Vec<&str> {
    page.body
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

/// The page shows `name` inert and links to no name of the test zone.
fn shows_inert(page: &Page, name: &str) {
    assert!(
        page.has(&name.replace('.', "[.]")),
        "{name} is shown inert on {}: {}",
        page.path,
        page.body
    );
    assert!(
        !page.body.contains(name),
        "{name} appears as it is on {}",
        page.path
    );
    for link in links(page) {
        assert!(!link.contains("upstream"), "a link to a site: {link}");
    }
}

/// The open alert's id, once the lead's alerts page shows one.
async fn first_open_alert(lead: &Visitor) -> i64 {
    for () in patiently() {
        let page = lead.get("/alerts");
        assert_eq!(page.status, 200, "{}", page.body);
        if let Some(rest) = page.body.split("action=\"/alerts/").nth(1) {
            return rest.split('/').next().unwrap().parse().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no alert was raised");
}

fn access_log(hedge: &Hedge) -> Vec<Value> {
    serde_json::from_str(&hedge.ok(&["logs", "access", "--json"])).unwrap()
}

#[tokio::test]
async fn a_lead_acknowledges_an_alert_and_keeps_an_incident_on_the_page() {
    let upstream = TestUpstream::start().await;
    let (hedge, web) = start(upstream.addr, "").await;
    let lead = Visitor::signed_in(&hedge, web, LEAD, &["safeguarding"]);
    let staff = Visitor::signed_in(&hedge, web, "T. Teacher", &["staff"]);

    assert_eq!(ask_as_pupil(&hedge, BLOCKED).await, ["0.0.0.0"]);
    let id = first_open_alert(&lead).await;
    let alerts = lead.get("/alerts");
    shows_inert(&alerts, BLOCKED);
    assert!(alerts.has("1 open alert."), "{}", alerts.body);
    assert!(alerts.has("<dd>pornography</dd>"), "{}", alerts.body);
    assert!(alerts.has("<dd>pupils</dd>"), "{}", alerts.body);
    assert!(alerts.has(&format!("href=\"/incidents/new?alert={id}\"")));
    let ack = format!("/alerts/{id}/ack");

    // Staff may not see alerts, nor acknowledge one.
    let refused = staff.get("/alerts");
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.has("safeguarding"), "{}", refused.body);
    staff.get("/");
    let refused = staff.post(&ack, &[("note", "spoke to the pupil about it")]);
    assert_eq!(refused.status, 403, "{}", refused.body);

    // A note is required, and says something.
    lead.get("/alerts");
    let empty = lead.post(&ack, &[("note", "  ")]);
    assert_eq!(empty.status, 400, "{}", empty.body);
    assert!(empty.has("the note is empty"), "{}", empty.body);
    let note = format!("spoke to the pupil, who typed {BLOCKED} by mistake");
    let done = lead.post(&ack, &[("note", &note)]);
    assert_eq!(done.path, "/alerts?done=acknowledged", "{}", done.body);
    assert!(done.has("The alert is acknowledged."), "{}", done.body);
    assert!(done.has("0 open alerts."), "{}", done.body);
    assert!(!done.has(&ack));
    let all = lead.get("/alerts?all=1");
    shows_inert(&all, BLOCKED);
    assert!(all.has("<span class=\"state acknowledged\">acknowledged</span>"));
    assert!(all.has("by S. Lead, "), "{}", all.body);
    assert!(
        all.has("spoke to the pupil, who typed adult[.]upstream[.]example by mistake"),
        "{}",
        all.body
    );
    assert_eq!(lead.post(&ack, &[("note", &note)]).status, 409);

    // An incident from the alert: its device and period, with the rows
    // held and shown (recorded as an access).
    let new = lead.get(&format!("/incidents/new?alert={id}"));
    assert_eq!(new.status, 200, "{}", new.body);
    shows_inert(&new, BLOCKED);
    assert!(new.has(&format!("name=\"alert\" value=\"{id}\"")));
    let vague = lead.post(
        "/incidents",
        &[
            ("kind", "accidental-inappropriate"),
            ("summary", "misuse"),
            ("alert", &id.to_string()),
        ],
    );
    assert_eq!(vague.status, 400, "{}", vague.body);
    assert!(vague.has("too short"), "{}", vague.body);
    let unknown = lead.post(
        "/incidents",
        &[
            ("kind", "naughty"),
            ("summary", "a pupil reached an adult site"),
        ],
    );
    assert_eq!(unknown.status, 400);
    assert!(unknown.has("kind: "), "{}", unknown.body);
    lead.get(&format!("/incidents/new?alert={id}"));
    let opened = lead.post(
        "/incidents",
        &[
            ("kind", "accidental-inappropriate"),
            ("summary", "a pupil tried an adult site in a lesson"),
            ("identified", ""),
            ("client", ""),
            ("from", ""),
            ("to", ""),
            ("alert", &id.to_string()),
            ("involved", ""),
        ],
    );
    assert_eq!(opened.status, 200, "{}", opened.body);
    assert!(opened.path.ends_with("?done=opened"), "{}", opened.path);
    let incident: i64 = opened.path["/incidents/".len()..]
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(opened.has("The incident is opened"), "{}", opened.body);
    assert!(opened.has("Legal hold"), "{}", opened.body);
    assert!(opened.has("127.0.0.2/32"), "{}", opened.body);
    assert!(opened.has(&format!("alert {id}")), "{}", opened.body);
    shows_inert(&opened, BLOCKED);
    assert!(opened.has("<span class=\"state blocked\">blocked</span>"));
    let shown = access_log(&hedge);
    let last = shown.last().unwrap();
    assert_eq!(last["kind"], "incident", "{last}");
    assert_eq!(last["os_user"], "S. Lead (safeguarding, console 127.0.0.1)");

    // Noted, referred, closed: each on the page with its notice.
    let page = format!("/incidents/{incident}");
    let noted = lead.post(
        &format!("{page}/note"),
        &[("text", "spoke to the class teacher and the parents")],
    );
    assert_eq!(noted.path, format!("{page}?done=noted"), "{}", noted.body);
    assert!(noted.has("The action is recorded on the incident."));
    assert!(noted.has("spoke to the class teacher and the parents"));
    let wrong = lead.post(&format!("{page}/refer"), &[("agency", "the press")]);
    assert_eq!(wrong.status, 400);
    assert!(wrong.has("agency: "), "{}", wrong.body);
    lead.get(&page);
    let referred = lead.post(
        &format!("{page}/refer"),
        &[
            ("agency", "lado"),
            ("on", ""),
            ("text", "reference 2026/114 by telephone"),
        ],
    );
    assert_eq!(referred.path, format!("{page}?done=referred"));
    assert!(referred.has("referred to lado on "), "{}", referred.body);
    assert!(referred.has("reference 2026/114 by telephone"));
    let closed = lead.post(
        &format!("{page}/close"),
        &[
            ("conclusion", "an accident, handled with the class teacher"),
            ("release_hold", "1"),
        ],
    );
    assert_eq!(
        closed.path,
        format!("{page}?done=closed"),
        "{}",
        closed.body
    );
    assert!(closed.has("The incident is closed."));
    assert!(closed.has("<span class=\"state closed\">closed</span>"));
    assert!(closed.has("an accident, handled with the class teacher"));
    assert!(!closed.has(&format!("action=\"{page}/note\"")), "no forms");
    let open = lead.get("/incidents");
    assert!(open.has("No open incidents."), "{}", open.body);
    let all = lead.get("/incidents?all=1");
    assert!(all.has(&format!("href=\"{page}\"")), "{}", all.body);
    assert!(all.has("lado"), "{}", all.body);
    assert_eq!(staff.get("/incidents").status, 403);
    assert_eq!(staff.get(&page).status, 403);
    let missing = lead.get("/incidents/999");
    assert_eq!(missing.status, 404);
    assert!(missing.has("there is no incident 999"), "{}", missing.body);

    // The audit trail lists each of these, newest first, and verifies.
    let audit = lead.get("/audit");
    assert_eq!(audit.status, 200, "{}", audit.body);
    let position = |action: &str| {
        audit
            .body
            .find(&format!("<td>{action}</td>"))
            .unwrap_or_else(|| panic!("{action} is not on the page: {}", audit.body))
    };
    assert!(position("incident.closed") < position("incident.referred"));
    assert!(position("incident.noted") < position("incident.opened"));
    assert!(position("incident.opened") < position("alert.acknowledged"));
    assert!(audit.has("<td>S. Lead</td>"));
    shows_inert(&audit, BLOCKED);
    assert!(!audit.has("id=\"verdict\""));
    let verified = lead.get("/audit?since=&verify=1");
    assert!(
        verified.has("The audit trail is intact: "),
        "{}",
        verified.body
    );
    assert!(verified.has("last row: "), "{}", verified.body);
    let bad = lead.get("/audit?since=yesterday");
    assert_eq!(bad.status, 400);
    assert!(bad.has("since: "), "{}", bad.body);
    assert_eq!(staff.get("/audit").status, 403);
    let admin = Visitor::signed_in(&hedge, web, "A. Admin", &["admin"]);
    assert_eq!(admin.get("/audit").status, 200);
    assert_eq!(admin.get("/alerts").status, 403);
}

#[tokio::test]
async fn a_lead_searches_the_log_and_downloads_it_on_the_record() {
    let upstream = TestUpstream::start().await;
    let (hedge, web) = start(upstream.addr, "").await;
    let lead = Visitor::signed_in(&hedge, web, LEAD, &["safeguarding"]);
    let staff = Visitor::signed_in(&hedge, web, "T. Teacher", &["staff"]);
    assert_eq!(ask_as_pupil(&hedge, BLOCKED).await, ["0.0.0.0"]);
    assert_eq!(
        ask_as_pupil(&hedge, "www.upstream.example").await,
        ["192.0.2.10"]
    );

    // The form alone, until a search is asked for; no search recorded.
    let form = lead.get("/logs");
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.has("formaction=\"/logs.csv\""));
    assert!(!form.has("<table>"));
    assert!(access_log(&hedge).is_empty());

    let found = lead.get("/logs?name=&client=127.0.0.2&from=&to=");
    assert_eq!(found.status, 200, "{}", found.body);
    assert!(found.has("2 rows, newest first"), "{}", found.body);
    let newer = found.body.find("www[.]upstream[.]example").unwrap();
    let older = found.body.find("adult[.]upstream[.]example").unwrap();
    assert!(newer < older, "the newest row comes first: {}", found.body);
    shows_inert(&found, BLOCKED);
    shows_inert(&found, "www.upstream.example");
    assert!(found.has("<td>pornography</td>"), "{}", found.body);
    assert!(found.has("<span class=\"state allowed\">allowed</span>"));
    assert!(
        found.has("value=\"127.0.0.2\""),
        "the form is filled in again"
    );
    let access = access_log(&hedge);
    assert_eq!(access.len(), 1, "{access:?}");
    assert_eq!(access[0]["kind"], "search");
    assert_eq!(access[0]["rows"], 2);
    assert_eq!(
        access[0]["os_user"],
        "S. Lead (safeguarding, console 127.0.0.1)"
    );

    // Bad fields are named; staff may not search.
    let bad = lead.get("/logs?client=pupils");
    assert_eq!(bad.status, 400);
    assert!(bad.has("client: "), "{}", bad.body);
    let bad = lead.get("/logs?from=last+tuesday");
    assert!(bad.has("from: "), "{}", bad.body);
    assert_eq!(lead.get("/logs?colour=red").status, 400);
    assert_eq!(staff.get("/logs?client=127.0.0.2").status, 403);
    assert_eq!(staff.get("/logs.csv?client=127.0.0.2").status, 403);

    // The download is what `hedge logs search --csv` writes, recorded as
    // an export with its rows.
    let from = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1))
        .to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%dT%H:%M")
        .to_string();
    let csv = lead.get(&format!(
        "/logs.csv?name={BLOCKED}&client=127.0.0.2&from={from}&to="
    ));
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "time,client,client_name,group,name,type,action,category,rule,rcode,upstream_ms,times,last_time,mac,dhcp_name"
    );
    assert_eq!(lines.len(), 2, "{}", csv.body);
    assert!(
        lines[1].contains(",127.0.0.2,,pupils,adult.upstream.example,A,blocked,pornography,"),
        "{}",
        lines[1]
    );
    hedge.person("C. Clerk", &["safeguarding"]);
    let cli = hedge.ok(&[
        "logs",
        "search",
        "--name",
        BLOCKED,
        "--client",
        "127.0.0.2",
        "--from",
        &from,
        "--csv",
    ]);
    assert_eq!(csv.body, cli, "the console's CSV is the command line's");
    let access = access_log(&hedge);
    let export = access
        .iter()
        .find(|a| a["kind"] == "export-csv" && a["os_user"].as_str().unwrap().starts_with(LEAD))
        .unwrap_or_else(|| panic!("the download is recorded: {access:?}"));
    assert_eq!(export["rows"], 1, "{export}");
}

#[tokio::test]
async fn the_report_page_is_the_command_line_report_with_its_own_policy() {
    let upstream = TestUpstream::start().await;
    let (hedge, web) = start(upstream.addr, "").await;
    let lead = Visitor::signed_in(&hedge, web, LEAD, &["safeguarding"]);
    let staff = Visitor::signed_in(&hedge, web, "T. Teacher", &["staff"]);
    assert_eq!(ask_as_pupil(&hedge, BLOCKED).await, ["0.0.0.0"]);
    first_open_alert(&lead).await;

    let form = lead.get("/report");
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.has("<option value=\"pupils\">pupils</option>"));
    assert_eq!(staff.get("/report").status, 403);
    let bad = lead.get("/report?from=monday&to=2026-03-01");
    assert_eq!(bad.status, 400);
    assert!(bad.has("from: "), "{}", bad.body);
    let backwards = lead.get("/report?from=2026-03-02&to=2026-03-01");
    assert_eq!(backwards.status, 400);
    assert!(backwards.has("to: "), "{}", backwards.body);

    let today = jiff::Zoned::now().date().to_string();
    let page = lead.get(&format!("/report?from={today}&to={today}&group="));
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        page.headers["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let access = access_log(&hedge);
    assert_eq!(access.last().unwrap()["kind"], "report", "{access:?}");

    hedge.person("C. Clerk", &["safeguarding"]);
    let cli = hedge.ok(&[
        "report", "--from", &today, "--to", &today, "--format", "html",
    ]);
    // The same bytes but for when each was made and the audit trail's
    // length (each report is a row of it).
    let steady = |html: &str| -> Vec<String> {
        html.lines()
            .filter(|line| {
                !line.contains("Generated by hedge")
                    && !line.contains("audit trail")
                    && !line.contains("Last entry:")
            })
            .map(str::to_string)
            .collect()
    };
    assert_eq!(steady(&page.body), steady(&cli));
    assert!(page.has("<h2>Summary</h2>"), "{}", page.body);
    assert!(
        page.has("<td>adult[.]<wbr/>upstream[.]<wbr/>example</td>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(BLOCKED));
    assert!(
        page.body.len() > 2000,
        "a whole report: {} bytes",
        page.body.len()
    );
    // The console's own pages keep the stricter policy.
    assert!(
        form.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("style-src 'self'")
    );
}
