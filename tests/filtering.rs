//! Category filtering through the real binary: groups by client address,
//! sinkhole and NXDOMAIN answers for every type, Extended DNS Errors, CNAME
//! chains, mandatory categories, and reloading lists under load.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};

const PUPIL: u8 = 2;
const STAFF: u8 = 3;
const STRICT: u8 = 4;

fn config(upstream: std::net::SocketAddr) -> String {
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

[categories.social-networking]
sources = [{{ path = "social.txt", format = "adblock" }}]

[categories.iwf]
sources = ["iwf.txt"]

[[groups]]
name = "pupils"
networks = ["127.0.0.2/32"]
block = ["gambling", "social-networking"]

[[groups]]
name = "staff"
networks = ["127.0.0.3/32"]
block = []

[[groups]]
name = "strict"
networks = ["127.0.0.4/32"]
block = ["gambling"]
blocking = "nxdomain"
"#
    )
}

const GAMBLING: &str = "# test gambling list\nbet.upstream.example\n";
const SOCIAL: &str = "! adblock\n||chat.upstream.example^\n";
const IWF: &str = "abuse.upstream.example\n";

async fn start() -> (TestUpstream, Hedge) {
    let upstream = TestUpstream::start().await;
    let hedge = Hedge::start_with(
        &config(upstream.addr),
        &[
            ("gambling.txt", GAMBLING),
            ("social.txt", SOCIAL),
            ("iwf.txt", IWF),
        ],
    )
    .await;
    (upstream, hedge)
}

async fn ask(hedge: &Hedge, from: u8, name: &str, rtype: RecordType) -> Message {
    udp_exchange_from(
        local(from),
        hedge.addr,
        &query_edns(name, rtype, 1232),
        PATIENCE,
    )
    .await
    .unwrap_or_else(|| panic!("an answer for {name}"))
}

fn blocked_text(message: &Message) -> Option<String> {
    match message.edns.as_ref()?.option(EdnsCode::Unknown(15))? {
        EdnsOption::Unknown(15, data) if data.len() >= 2 && data[..2] == [0, 15] => {
            Some(String::from_utf8_lossy(&data[2..]).into_owned())
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pupils_and_staff_get_different_answers() {
    let (_upstream, hedge) = start().await;

    let pupil = ask(&hedge, PUPIL, "bet.upstream.example.", RecordType::A).await;
    assert_eq!(addresses(&pupil), ["0.0.0.0"]);
    assert_eq!(pupil.answers[0].ttl, 10, "short block TTL");
    assert_eq!(
        blocked_text(&pupil).as_deref(),
        Some("blocked: category gambling")
    );

    let staff = ask(&hedge, STAFF, "bet.upstream.example.", RecordType::A).await;
    assert_eq!(addresses(&staff), ["192.0.2.66"]);
    assert_eq!(blocked_text(&staff), None);

    // Names below a listed name are blocked too.
    let pupil = ask(&hedge, PUPIL, "www.bet.upstream.example.", RecordType::A).await;
    assert_eq!(addresses(&pupil), ["0.0.0.0"]);

    // The adblock list of another category.
    let pupil = ask(&hedge, PUPIL, "chat.upstream.example.", RecordType::A).await;
    assert_eq!(
        blocked_text(&pupil).as_deref(),
        Some("blocked: category social-networking")
    );

    // Unlisted names are untouched for everyone.
    let pupil = ask(&hedge, PUPIL, "www.upstream.example.", RecordType::A).await;
    assert_eq!(addresses(&pupil), ["192.0.2.10"]);

    // A client in no group gets the default group: safeguarding only.
    let other = ask(&hedge, 9, "bet.upstream.example.", RecordType::A).await;
    assert_eq!(addresses(&other), ["192.0.2.66"]);

    // `hedge explain` prints the decision the DNS path made, in the same
    // words (both come from policy): what the client sees and what is
    // logged.
    let client = format!("127.0.0.{PUPIL}");
    let out = run_hedge(
        &["explain", "www.bet.upstream.example", "--client", &client],
        &hedge.config_path,
    );
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.contains("decision: BLOCKED by category gambling"),
        "{out}"
    );
    assert!(
        out.contains("client sees: Extended DNS Error 15 \"blocked: category gambling\""),
        "{out}"
    );
    assert!(
        out.contains("logged:  list entry bet.upstream.example"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_type_of_a_blocked_name_gets_a_blocked_answer() {
    let (_upstream, hedge) = start().await;

    let aaaa = ask(&hedge, PUPIL, "bet.upstream.example.", RecordType::AAAA).await;
    assert_eq!(addresses(&aaaa), ["::"]);

    for rtype in [
        RecordType::HTTPS,
        RecordType::MX,
        RecordType::TXT,
        RecordType::SVCB,
    ] {
        let reply = ask(&hedge, PUPIL, "bet.upstream.example.", rtype).await;
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::NoError,
            "{rtype}"
        );
        assert!(reply.answers.is_empty(), "{rtype}: NODATA");
        assert_eq!(
            reply.authorities[0].record_type(),
            RecordType::SOA,
            "{rtype}"
        );
        assert_eq!(
            reply.authorities[0].name.to_string(),
            "bet.upstream.example."
        );
        assert!(blocked_text(&reply).is_some(), "{rtype}: EDE Blocked");
    }

    // Without EDNS the answer is the same, just without the EDE.
    let plain = udp_exchange_from(
        local(PUPIL),
        hedge.addr,
        &query("bet.upstream.example.", RecordType::A),
        PATIENCE,
    )
    .await
    .unwrap();
    assert_eq!(addresses(&plain), ["0.0.0.0"]);
    assert!(plain.edns.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn nxdomain_mode_answers_nxdomain_for_every_type() {
    let (_upstream, hedge) = start().await;
    for rtype in [
        RecordType::A,
        RecordType::AAAA,
        RecordType::MX,
        RecordType::HTTPS,
    ] {
        let reply = ask(&hedge, STRICT, "bet.upstream.example.", rtype).await;
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::NXDomain,
            "{rtype}"
        );
        assert!(reply.answers.is_empty());
        assert_eq!(reply.authorities[0].record_type(), RecordType::SOA);
    }
    // The strict group does not block social networking.
    let reply = ask(&hedge, STRICT, "chat.upstream.example.", RecordType::A).await;
    assert_eq!(addresses(&reply), ["192.0.2.77"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cname_into_a_blocked_name_is_blocked() {
    let (_upstream, hedge) = start().await;
    let staff = ask(&hedge, STAFF, "tobet.upstream.example.", RecordType::A).await;
    assert_eq!(staff.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(addresses(&staff), ["192.0.2.66"]);

    // The same answer is now cached; the pupil still gets a block.
    let pupil = ask(&hedge, PUPIL, "tobet.upstream.example.", RecordType::A).await;
    assert_eq!(addresses(&pupil), ["0.0.0.0"]);
    assert!(
        pupil
            .answers
            .iter()
            .all(|r| r.record_type() == RecordType::A)
    );
    assert_eq!(
        blocked_text(&pupil).as_deref(),
        Some("blocked: category gambling")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mandatory_categories_are_blocked_for_everyone() {
    let (_upstream, hedge) = start().await;
    for from in [PUPIL, STAFF, STRICT, 9] {
        let reply = ask(&hedge, from, "abuse.upstream.example.", RecordType::A).await;
        assert!(
            addresses(&reply) == ["0.0.0.0"]
                || reply.metadata.response_code == ResponseCode::NXDomain,
            "client 127.0.0.{from}: {reply:?}"
        );
        assert_eq!(
            blocked_text(&reply).as_deref(),
            Some("blocked: category iwf")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_reload_under_load_without_a_failed_query() {
    let (_upstream, hedge) = start().await;
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for worker in 0..4u8 {
        let (stop, failures, answered, addr) =
            (stop.clone(), failures.clone(), answered.clone(), hedge.addr);
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let name = if worker % 2 == 0 {
                    "bet.upstream.example."
                } else {
                    "www.upstream.example."
                };
                let reply = udp_exchange_from(
                    local(20 + worker),
                    addr,
                    &query(name, RecordType::A),
                    PATIENCE,
                )
                .await;
                match reply {
                    Some(r)
                        if r.metadata.response_code == ResponseCode::NoError
                            && !r.answers.is_empty() =>
                    {
                        answered.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => failures.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }

    // A large list: 300,000 names, with a new blocked name among them.
    let mut big = String::with_capacity(8_000_000);
    for i in 0..300_000 {
        big.push_str(&format!("host{i}.generated-{}.example\n", i % 1000));
    }
    big.push_str("www.upstream.example\n");
    std::fs::write(hedge.path("gambling.txt"), &big).unwrap();
    let mark = hedge.log_mark();
    hedge.signal("HUP");
    hedge.wait_for_log_after(mark, "reloaded:").await;
    let reply = ask(&hedge, PUPIL, "www.upstream.example.", RecordType::A).await;
    assert_eq!(addresses(&reply), ["0.0.0.0"], "the new list is in force");

    // A list that no longer parses keeps the old index.
    std::fs::write(
        hedge.path("gambling.txt"),
        "this is not\na list of names at all\n",
    )
    .unwrap();
    let mark = hedge.log_mark();
    hedge.signal("HUP");
    hedge
        .wait_for_log_after(mark, "keeping the running configuration")
        .await;
    let reply = ask(&hedge, PUPIL, "www.upstream.example.", RecordType::A).await;
    assert_eq!(addresses(&reply), ["0.0.0.0"], "the old index is kept");

    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "no query failed during the reloads"
    );
    assert!(answered.load(Ordering::Relaxed) > 0);
}

fn clock(minutes: i64) -> String {
    let m = minutes.rem_euclid(24 * 60);
    format!("{:02}:{:02}", m / 60, m % 60)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_in_force_now_blocks_and_one_that_is_not_does_not() {
    let upstream = TestUpstream::start().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 60;
    let config = format!(
        r#"[server]
listen = ["LISTEN"]
rate_limit_qps = 0

[upstream]
servers = ["{}"]
timeout_ms = 1000
attempts = 1

[categories.gambling]
sources = ["gambling.txt"]

[[groups]]
name = "now"
networks = ["127.0.0.5/32"]
timezone = "UTC"
[[groups.schedule]]
name = "around-now"
days = "all"
from = "{}"
to = "{}"
block = ["gambling"]

[[groups]]
name = "later"
networks = ["127.0.0.6/32"]
timezone = "UTC"
[[groups.schedule]]
name = "later-today"
days = "all"
from = "{}"
to = "{}"
block = ["gambling"]

[[groups]]
name = "bedtime"
networks = ["127.0.0.7/32"]
timezone = "UTC"
allow = ["www.upstream.example"]
[[groups.schedule]]
name = "lights-out"
days = "all"
from = "{}"
to = "{}"
block_all = true
"#,
        upstream.addr,
        clock(now - 60),
        clock(now + 60),
        clock(now + 120),
        clock(now + 180),
        clock(now - 60),
        clock(now + 60),
    );
    let hedge = Hedge::start_with(&config, &[("gambling.txt", GAMBLING)]).await;

    let reply = ask(&hedge, 5, "bet.upstream.example.", RecordType::A).await;
    assert_eq!(
        addresses(&reply),
        ["0.0.0.0"],
        "the rule around now is in force"
    );
    let reply = ask(&hedge, 6, "bet.upstream.example.", RecordType::A).await;
    assert_eq!(
        addresses(&reply),
        ["192.0.2.66"],
        "the rule for later is not"
    );

    // Bedtime: everything but the allow list.
    let reply = ask(&hedge, 7, "chat.upstream.example.", RecordType::A).await;
    assert_eq!(addresses(&reply), ["0.0.0.0"]);
    assert_eq!(
        blocked_text(&reply).as_deref(),
        Some("blocked: schedule lights-out of group bedtime")
    );
    let reply = ask(&hedge, 7, "www.upstream.example.", RecordType::A).await;
    assert_eq!(addresses(&reply), ["192.0.2.10"]);

    let out = run_hedge(
        &["explain", "bet.upstream.example", "--client", "127.0.0.5"],
        &hedge.config_path,
    );
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.contains("around-now") && out.contains("[IN FORCE]"),
        "{out}"
    );
    assert!(out.contains("next change:"), "{out}");
}
