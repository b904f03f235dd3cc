//! Email through the real binary to an SMTP server the test runs on
//! loopback (Debian's python3-aiosmtpd, driven by a small script the test
//! writes): an alert arrives once, its name inert, over STARTTLS with a
//! certificate from the test's own authority, and over TLS from the
//! first byte; a relay that is down is retried, then the mail is recorded
//! as failed and `hedge status` says so; a relay that refuses for good
//! (550) is not asked again; a scheduled report that fell due while hedge was stopped is sent at
//! the next start; `hedge report --email` sends the HTML report attached;
//! a wrong `[email]` is refused naming file, line and key. Without
//! aiosmtpd the tests say they skipped and why.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use hickory_proto::rr::RecordType;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use serde_json::Value;

/// Debian's interpreter, where python3-aiosmtpd installs.
const PYTHON: &str = "/usr/bin/python3";

/// The SMTP server: each mail it takes is written as JSON (envelope,
/// whether the session was under TLS, headers, text and attachments).
const SINK: &str = r#"
import email, email.policy, json, os, ssl, sys
from aiosmtpd.controller import Controller

out, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]

class Sink:
    count = 0
    async def handle_RCPT(self, server, session, envelope, address, options):
        if mode == "refuse":
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        body, files = None, []
        for part in message.walk():
            if part.is_multipart():
                continue
            if part.get_content_disposition() == "attachment":
                files.append({"name": part.get_filename(), "type": part.get_content_type(),
                              "content": part.get_content()})
            elif body is None:
                body = part.get_content()
        Sink.count += 1
        path = os.path.join(out, "%04d" % Sink.count)
        with open(path + ".tmp", "w") as f:
            json.dump({"rcpt": envelope.rcpt_tos, "mail_from": envelope.mail_from,
                       "tls": session.ssl is not None
                              or server.transport.get_extra_info("ssl_object") is not None,
                       "from": str(message["from"]),
                       "subject": str(message["subject"]), "body": body,
                       "attachments": files}, f)
        os.rename(path + ".tmp", path + ".json")
        return "250 OK"

if mode in ("starttls", "tls"):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[4], sys.argv[5])
if mode == "starttls":
    controller = Controller(Sink(), hostname="127.0.0.1", port=port,
                            tls_context=context, require_starttls=True)
elif mode == "tls":
    controller = Controller(Sink(), hostname="127.0.0.1", port=port,
                            ssl_context=context)
else:
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"#;

/// How the SMTP sink speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Relay {
    /// No TLS: `security = "none"`.
    Plain,
    /// STARTTLS required: `security = "starttls"`.
    StartTls,
    /// TLS from the first byte (port 465 style): `security = "tls"`.
    Tls,
    /// No TLS, and every recipient refused for good (550).
    Refusing,
}

impl Relay {
    fn word(self) -> &'static str {
        match self {
            Relay::Plain => "plain",
            Relay::StartTls => "starttls",
            Relay::Tls => "tls",
            Relay::Refusing => "refuse",
        }
    }
}

/// A running SMTP sink on loopback and the mails it took.
struct SmtpServer {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    /// The authority that signed the server's certificate (TLS).
    ca_file: Option<PathBuf>,
    relay: Relay,
    child: Child,
}

impl SmtpServer {
    /// Starts one speaking as `relay` says; `None` (after saying why) when
    /// aiosmtpd is not installed.
    fn start(relay: Relay) -> Option<SmtpServer> {
        let have = Command::new(PYTHON)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !have {
            println!("skipped: {PYTHON} cannot import aiosmtpd (apt-get install python3-aiosmtpd)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("mail");
        std::fs::create_dir(&out).unwrap();
        let script = dir.path().join("sink.py");
        std::fs::write(&script, SINK).unwrap();
        let addr = free_addr("127.0.0.1:0".parse().unwrap());
        let mut command = Command::new(PYTHON);
        command
            .arg(&script)
            .arg(&out)
            .arg(addr.port().to_string())
            .arg(relay.word());
        let mut ca_file = None;
        if matches!(relay, Relay::StartTls | Relay::Tls) {
            let (ca, cert, key) = test_pki();
            for (name, text) in [("ca.pem", &ca), ("cert.pem", &cert), ("key.pem", &key)] {
                std::fs::write(dir.path().join(name), text).unwrap();
            }
            command
                .arg(dir.path().join("cert.pem"))
                .arg(dir.path().join("key.pem"));
            ca_file = Some(dir.path().join("ca.pem"));
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        Some(SmtpServer {
            addr,
            dir,
            ca_file,
            relay,
            child,
        })
    }

    fn mails(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("mail"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    async fn wait_for(&self, count: usize) -> Vec<Value> {
        wait_until(&format!("{count} mail(s) at the SMTP server"), || {
            let mails = self.mails();
            (mails.len() >= count).then_some(mails)
        })
        .await
    }

    /// `[email]` for this server.
    fn email_section(&self) -> String {
        match &self.ca_file {
            Some(ca) => format!(
                "[email]\nserver = \"{}\"\nsecurity = \"{}\"\ntls_ca_file = \"{}\"\nfrom = \"hedge <hedge@hill-top.example>\"\ntimeout_secs = 10\n",
                self.addr,
                self.relay.word(),
                ca.display()
            ),
            None => format!(
                "[email]\nserver = \"{}\"\nsecurity = \"none\"\nfrom = \"hedge@hill-top.example\"\ntimeout_secs = 10\n",
                self.addr
            ),
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test authority, and a certificate it signed for 127.0.0.1: (CA PEM,
/// certificate PEM, key PEM).
fn test_pki() -> (String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

fn config(upstream: SocketAddr, extra: &str) -> String {
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
name = "Room 3, PC 12"
address = "127.0.0.5"
group = "pupils"

{extra}
"#
    )
}

const FILES: &[(&str, &str)] = &[("adult.txt", "adult.upstream.example\n")];

async fn ask(hedge: &Hedge, from: IpAddr, name: &str) {
    udp_exchange_from(from, hedge.addr, &query(name, RecordType::A), PATIENCE)
        .await
        .unwrap_or_else(|| panic!("an answer for {name}"));
}

/// The deliveries of the newest alert, once the one to `sink` has ended.
async fn delivery_to(hedge: &Hedge, sink: &str) -> Value {
    for () in patiently() {
        let alerts: Vec<Value> =
            serde_json::from_str(&hedge.ok(&["alerts", "list", "--json"])).unwrap();
        if let Some(delivery) = alerts.first().and_then(|a| {
            a["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["sink"] == sink && d["state"] != "sending")
                .cloned()
        }) {
            return delivery;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the delivery to {sink} never ended");
}

#[tokio::test]
async fn an_alert_arrives_once_by_mail_over_starttls_with_the_name_inert() {
    let Some(smtp) = SmtpServer::start(Relay::StartTls) else {
        return;
    };
    let upstream = TestUpstream::start().await;
    let extra = format!(
        "[reports]\nsite = \"Hill Top Primary\"\n[alerts]\nsyslog = false\nemail = [\"dsl@hill-top.example\"]\n{}",
        smtp.email_section()
    );
    let hedge = Hedge::start_with(&config(upstream.addr, &extra), FILES).await;
    hedge.wait_for_database().await;
    for _ in 0..5 {
        ask(&hedge, local(5), "adult.upstream.example.").await;
    }
    let delivery = delivery_to(&hedge, "mailto:dsl@hill-top.example").await;
    assert_eq!(delivery["state"], "delivered", "{delivery}");
    assert_eq!(delivery["attempts"], 1, "{delivery}");
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1, "one mail for the burst: {mails:?}");
    let mail = &mails[0];
    assert_eq!(mail["tls"], true, "sent after STARTTLS: {mail}");
    assert_eq!(mail["rcpt"], serde_json::json!(["dsl@hill-top.example"]));
    assert_eq!(mail["mail_from"], "hedge@hill-top.example");
    let subject = mail["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("hedge safeguarding alert 1 at Hill Top Primary: pornography"),
        "{subject}"
    );
    let body = mail["body"].as_str().unwrap();
    assert!(body.contains("Room 3, PC 12 (127.0.0.5)"), "{body}");
    assert!(body.contains("adult[.]upstream[.]example"), "{body}");
    assert!(!body.contains("adult.upstream.example"), "{body}");
    assert!(!subject.contains("adult"), "{subject}");
    let status = hedge.status();
    assert_eq!(status["mail"]["delivered"], 1, "{status}");
    assert_eq!(status["mail"]["failed"], 0, "{status}");
}

#[tokio::test]
async fn an_alert_goes_over_tls_from_the_first_byte() {
    let Some(smtp) = SmtpServer::start(Relay::Tls) else {
        return;
    };
    let upstream = TestUpstream::start().await;
    let extra = format!(
        "[alerts]\nsyslog = false\nemail = [\"dsl@hill-top.example\"]\n{}",
        smtp.email_section()
    );
    let hedge = Hedge::start_with(&config(upstream.addr, &extra), FILES).await;
    hedge.wait_for_database().await;
    ask(&hedge, local(5), "adult.upstream.example.").await;
    let delivery = delivery_to(&hedge, "mailto:dsl@hill-top.example").await;
    assert_eq!(delivery["state"], "delivered", "{delivery}");
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0]["tls"], true, "under TLS throughout: {}", mails[0]);
    assert!(
        mails[0]["body"]
            .as_str()
            .unwrap()
            .contains("adult[.]upstream[.]example")
    );
}

#[tokio::test]
async fn a_relay_that_refuses_for_good_is_not_asked_again() {
    let Some(smtp) = SmtpServer::start(Relay::Refusing) else {
        return;
    };
    let upstream = TestUpstream::start().await;
    let extra = format!(
        "[alerts]\nsyslog = false\nemail = [\"dsl@hill-top.example\"]\n{}attempts = 5\n",
        smtp.email_section()
    );
    let hedge = Hedge::start_with(&config(upstream.addr, &extra), FILES).await;
    hedge.wait_for_database().await;
    ask(&hedge, local(5), "adult.upstream.example.").await;
    let delivery = delivery_to(&hedge, "mailto:dsl@hill-top.example").await;
    assert_eq!(delivery["state"], "failed", "{delivery}");
    assert_eq!(delivery["attempts"], 1, "a 5xx is final: {delivery}");
    let error = delivery["error"].as_str().unwrap();
    assert!(error.contains("no such mailbox"), "{error}");
    assert!(smtp.mails().is_empty());
    hedge
        .wait_for_status("the failed mail in status", |s| s["mail"]["failed"] == 1)
        .await;
}

#[tokio::test]
async fn a_relay_that_is_down_is_retried_then_the_mail_is_recorded_as_failed() {
    let upstream = TestUpstream::start().await;
    // Nothing listens there.
    let down = free_addr("127.0.0.1:0".parse().unwrap());
    let web = free_addr("127.0.0.1:0".parse().unwrap());
    let extra = format!(
        "[web]\nlisten = \"{web}\"\n\
         [alerts]\nsyslog = false\nemail = [\"dsl@hill-top.example\"]\n\
         [email]\nserver = \"{down}\"\nsecurity = \"none\"\nfrom = \"hedge@hill-top.example\"\nattempts = 3\ntimeout_secs = 5\n"
    );
    let hedge = Hedge::start_with(&config(upstream.addr, &extra), FILES).await;
    hedge.wait_for_database().await;
    hedge.wait_for_log("web console on https://").await;
    ask(&hedge, local(5), "adult.upstream.example.").await;
    // Answering goes on while the mail waits to be tried again.
    for _ in 0..5 {
        ask(&hedge, local(6), "www.upstream.example.").await;
    }
    let delivery = delivery_to(&hedge, "mailto:dsl@hill-top.example").await;
    assert_eq!(delivery["state"], "failed", "{delivery}");
    assert_eq!(delivery["attempts"], 3, "{delivery}");
    let error = delivery["error"].as_str().unwrap();
    assert!(error.contains(&down.to_string()), "{error}");
    assert_eq!(
        hedge.log().matches("mail not sent").count(),
        3,
        "three attempts, each logged"
    );
    let status = hedge
        .wait_for_status("the failed mail in status", |s| s["mail"]["failed"] == 1)
        .await;
    let failure = &status["mail"]["last_failure"];
    assert_eq!(failure["recipient"], "dsl@hill-top.example", "{status}");
    assert_eq!(failure["kind"], "alert", "{status}");
    assert_eq!(failure["attempts"], 3, "{status}");
    let text = hedge.ok(&["status"]);
    assert!(
        text.contains("mail:        0 delivered, 1 failed"),
        "{text}"
    );
    assert!(
        text.contains("to dsl@hill-top.example after 3 attempt(s)"),
        "{text}"
    );
    // And on the console's status page, for an administrator.
    let admin = common::console::Visitor::signed_in(&hedge, web, "A. Admin", &["admin"]);
    let page = admin.get("/status");
    assert!(
        page.has("0 delivered, 1 failed, 0 being tried"),
        "{}",
        page.body
    );
    assert!(
        page.has("to dsl@hill-top[.]example after 3 attempt(s)"),
        "{}",
        page.body
    );
}

/// A daily report at 00:00 (due once a day at local midnight).
fn scheduled_config(upstream: SocketAddr, smtp: &SmtpServer, database: &Path) -> String {
    config(
        upstream,
        &format!(
            "[reports]\nsite = \"Hill Top Primary\"\n\
             [[reports.scheduled]]\nevery = \"day\"\nat = \"00:00\"\nto = [\"governors@hill-top.example\"]\nformat = \"html\"\n\
             [alerts]\nsyslog = false\n{}\n[logging]\ndatabase = \"{}\"\n",
            smtp.email_section(),
            database.display()
        ),
    )
}

#[tokio::test]
async fn a_scheduled_report_missed_while_hedge_was_stopped_is_sent_at_the_next_start() {
    let Some(smtp) = SmtpServer::start(Relay::Plain) else {
        return;
    };
    let upstream = TestUpstream::start().await;
    let data = tempfile::tempdir().unwrap();
    let database = data.path().join("hedge.db");
    let text = scheduled_config(upstream.addr, &smtp, &database);
    let hedge = Hedge::start_with(&text, FILES).await;
    // A new schedule starts from its latest due time: nothing is sent.
    hedge
        .wait_for_log("scheduled report \"day 00:00 html to governors@hill-top.example\": new")
        .await;
    assert!(hedge.terminate().success());
    assert!(smtp.mails().is_empty(), "{:?}", smtp.mails());

    // As if hedge had been stopped for two days.
    let db = hedge::store::Database::open(&database).await.unwrap();
    let moved = sqlx::query("UPDATE report_schedules SET last_due_ms = last_due_ms - 2 * 86400000")
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(moved.rows_affected(), 1);
    db.close().await;

    let hedge = Hedge::start_with(&text, FILES).await;
    let mails = smtp.wait_for(1).await;
    let mail = &mails[0];
    assert_eq!(
        mail["rcpt"],
        serde_json::json!(["governors@hill-top.example"])
    );
    let subject = mail["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("hedge report for Hill Top Primary, "),
        "{subject}"
    );
    let body = mail["body"].as_str().unwrap();
    assert!(
        body.contains("The hedge report for Hill Top Primary is attached"),
        "{body}"
    );
    assert!(body.contains("on the schedule \"day 00:00 html"), "{body}");
    let files = mail["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{mail}");
    assert_eq!(files[0]["type"], "text/html");
    assert!(files[0]["name"].as_str().unwrap().ends_with(".html"));
    assert!(
        files[0]["content"].as_str().unwrap().contains("<html"),
        "the HTML report"
    );
    // In the audit trail and the access record, as hedge itself.
    let audit: Vec<Value> = serde_json::from_str(&hedge.ok(&["audit", "list", "--json"])).unwrap();
    let row = audit
        .iter()
        .find(|r| r["action"] == "log.reported")
        .expect("the report is in the audit trail");
    assert_eq!(
        row["details"]["emailed_to"][0], "governors@hill-top.example",
        "{row}"
    );
    assert!(
        row["details"]["schedule"]
            .as_str()
            .unwrap()
            .starts_with("day 00:00")
    );
    let access = hedge.ok(&["logs", "access", "--json"]);
    assert!(access.contains("report"), "{access}");
    // Sent once: the period is on record as done.
    let status = hedge
        .wait_for_status("the report mail in status", |s| s["mail"]["delivered"] == 1)
        .await;
    assert_eq!(status["mail"]["failed"], 0);
    let db = hedge::store::Database::open(&database).await.unwrap();
    let last: i64 = sqlx::query_scalar("SELECT last_due_ms FROM report_schedules")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(last > jiff::Timestamp::now().as_millisecond() - 86_400_000);
    drop(hedge);
    assert_eq!(smtp.mails().len(), 1);
}

#[tokio::test]
async fn report_email_sends_the_html_report_attached() {
    let Some(smtp) = SmtpServer::start(Relay::Plain) else {
        return;
    };
    let upstream = TestUpstream::start().await;
    let extra = format!(
        "[reports]\nsite = \"Hill Top Primary\"\n[alerts]\nsyslog = false\n{}",
        smtp.email_section()
    );
    let hedge = Hedge::start_with(&config(upstream.addr, &extra), FILES).await;
    hedge.wait_for_database().await;
    ask(&hedge, local(5), "adult.upstream.example.").await;
    let refused = hedge.refused(&["report", "--email", "dsl@hill-top.example"]);
    assert!(refused.contains("is not mapped to a person"), "{refused}");
    hedge.person("Ms Khan", &["safeguarding"]);
    let refused = hedge.refused(&["report", "--email", "not-an-address"]);
    assert!(refused.contains("is not an email address"), "{refused}");
    let output = run_hedge(
        &["report", "--email", "dsl@hill-top.example"],
        &hedge.config_path,
    );
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(said.contains("sent to dsl@hill-top.example"), "{said}");
    let mails = smtp.wait_for(1).await;
    let mail = &mails[0];
    assert_eq!(mail["tls"], false);
    let body = mail["body"].as_str().unwrap();
    assert!(body.contains("at the request of"), "{body}");
    assert!(
        body.contains("1 blocked attempt was in safeguarding categories"),
        "{body}"
    );
    let files = mail["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["type"], "text/html");
    let html = files[0]["content"].as_str().unwrap();
    assert!(html.contains("Hill Top Primary"), "the HTML report");
    assert!(
        html.contains("adult[.]<wbr/>upstream[.]<wbr/>example"),
        "names inert: {html}"
    );
    assert!(
        !html.contains("adult.upstream.example"),
        "names inert: {html}"
    );
    let audit: Vec<Value> = serde_json::from_str(&hedge.ok(&["audit", "list", "--json"])).unwrap();
    let row = audit
        .iter()
        .find(|r| r["action"] == "log.reported")
        .expect("the report is in the audit trail");
    assert_eq!(row["person"], "Ms Khan");
    assert_eq!(row["details"]["emailed_to"][0], "dsl@hill-top.example");
}

#[test]
fn a_wrong_email_section_names_file_line_and_key() {
    config_check_refuses(
        "[upstream]\nservers = [\"127.0.0.1:53\"]\n\
         [email]\nserver = \"mail.hill-top.example:25\"\nsecurity = \"none\"\nfrom = \"hedge@hill-top.example\"\npassword = \"secret\"\n\
         [[reports.scheduled]]\nevery = \"week\"\nat = \"monday\"\nto = [\"governors\"]\n",
        &[
            "5: email.security: \"none\" sends mail unencrypted",
            "7: email.password: the password is never written in the configuration",
            "10: reports.scheduled.at: \"monday\" is not a day and a time",
            "11: reports.scheduled.to: \"governors\" is not an email address",
        ],
        "secret",
    );
}
