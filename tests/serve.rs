//! The serving path through the real binary: forwarding, local zones,
//! truncation and TCP, access control, rate limits, serve-stale, bad packets.

mod common;

use std::time::Duration;

use common::*;
use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

const SCHOOL_ZONE: &str = "$ORIGIN school.lan.\n$TTL 3600\n\
@ IN SOA hedge.school.lan. admin.school.lan. 1 3600 600 604800 300\n\
@ IN NS hedge.school.lan.\n\
hedge IN A 192.168.1.2\n\
printer IN A 192.168.1.20\n";

const REVERSE_ZONE: &str = "$ORIGIN 1.168.192.in-addr.arpa.\n$TTL 3600\n\
@ IN SOA hedge.school.lan. admin.school.lan. 1 3600 600 604800 300\n\
@ IN NS hedge.school.lan.\n\
20 IN PTR printer.school.lan.\n";

const ZONES: &str = "[[zones]]\nname = \"school.lan\"\nfile = \"school.zone\"\n\n\
[[zones]]\nname = \"1.168.192.in-addr.arpa\"\nfile = \"reverse.zone\"\n";

async fn start_with_zones(upstream: &TestUpstream, extra_server: &str) -> Hedge {
    let config = config_text(
        &["127.0.0.1:0".parse().unwrap()],
        upstream.addr,
        extra_server,
        ZONES,
    )
    .replace("127.0.0.1:0", "LISTEN");
    Hedge::start_with(
        &config,
        &[("school.zone", SCHOOL_ZONE), ("reverse.zone", REVERSE_ZONE)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_through_the_upstream_over_udp_and_tcp() {
    let upstream = TestUpstream::start().await;
    let hedge = start_with_zones(&upstream, "").await;

    let reply = udp(hedge.addr, &query("www.upstream.example.", RecordType::A)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(addresses(&reply), ["192.0.2.10"]);
    assert!(reply.metadata.recursion_available);
    assert!(
        !reply.metadata.authoritative,
        "forwarded answers are not authoritative"
    );

    let reply = tcp(
        hedge.addr,
        &query("www.upstream.example.", RecordType::AAAA),
    )
    .await;
    assert_eq!(addresses(&reply), ["2001:db8::10"]);

    // Mixed case in the question is echoed as asked, answered all the same.
    let reply = udp(hedge.addr, &query("WwW.UpStream.Example.", RecordType::A)).await;
    assert_eq!(addresses(&reply), ["192.0.2.10"]);

    let reply = udp(hedge.addr, &query("alias.upstream.example.", RecordType::A)).await;
    assert_eq!(reply.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(addresses(&reply), ["192.0.2.10"]);

    let reply = udp(hedge.addr, &query("mail.upstream.example.", RecordType::MX)).await;
    assert!(matches!(reply.answers[0].data, RData::MX(_)));
}

#[tokio::test(flavor = "multi_thread")]
async fn negative_answers_carry_the_soa() {
    let upstream = TestUpstream::start().await;
    let hedge = start_with_zones(&upstream, "").await;

    let reply = udp(
        hedge.addr,
        &query("nothing.upstream.example.", RecordType::A),
    )
    .await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert!(reply.answers.is_empty());
    assert_eq!(reply.authorities[0].record_type(), RecordType::SOA);

    // The name exists, the type does not: NOERROR, no data, SOA.
    let reply = udp(hedge.addr, &query("www.upstream.example.", RecordType::TXT)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.answers.is_empty());
    assert_eq!(reply.authorities[0].record_type(), RecordType::SOA);

    // Asked again, the negative answer comes from the cache, the same.
    let reply = udp(
        hedge.addr,
        &query("nothing.upstream.example.", RecordType::A),
    )
    .await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
}

#[tokio::test(flavor = "multi_thread")]
async fn local_zones_answer_authoritatively() {
    let upstream = TestUpstream::start().await;
    let hedge = start_with_zones(&upstream, "").await;

    let reply = udp(hedge.addr, &query("printer.school.lan.", RecordType::A)).await;
    assert!(reply.metadata.authoritative);
    assert_eq!(addresses(&reply), ["192.168.1.20"]);

    let reply = udp(
        hedge.addr,
        &query("20.1.168.192.in-addr.arpa.", RecordType::PTR),
    )
    .await;
    assert!(reply.metadata.authoritative);
    match &reply.answers[0].data {
        RData::PTR(ptr) => assert_eq!(ptr.0.to_string(), "printer.school.lan."),
        other => panic!("expected a PTR, got {other:?}"),
    }

    let reply = udp(hedge.addr, &query("nobody.school.lan.", RecordType::A)).await;
    assert!(reply.metadata.authoritative);
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(reply.authorities[0].record_type(), RecordType::SOA);

    // Private reverse names outside the local zones never go upstream.
    let reply = udp(
        hedge.addr,
        &query("5.5.168.192.in-addr.arpa.", RecordType::PTR),
    )
    .await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(
        reply.authorities[0].name.to_string(),
        "168.192.in-addr.arpa."
    );
    let reply = udp(hedge.addr, &query("localhost.", RecordType::A)).await;
    assert_eq!(addresses(&reply), ["127.0.0.1"]);

    // With EDNS the local answer carries our OPT too.
    let reply = udp(
        hedge.addr,
        &query_edns("printer.school.lan.", RecordType::A, 1232),
    )
    .await;
    assert!(reply.edns.is_some());
    assert_eq!(addresses(&reply), ["192.168.1.20"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn large_answers_truncate_over_udp_and_come_whole_over_tcp() {
    let upstream = TestUpstream::start().await;
    let hedge = start_with_zones(&upstream, "").await;

    let plain = query("big.upstream.example.", RecordType::A);
    let reply = udp(hedge.addr, &plain).await;
    assert!(reply.metadata.truncation, "over 512 bytes without EDNS: TC");
    assert!(reply.answers.is_empty());

    let reply = tcp(hedge.addr, &plain).await;
    assert!(!reply.metadata.truncation);
    assert_eq!(reply.answers.len(), 40);

    // A client that advertises 1232 bytes gets it all over UDP...
    let reply = udp(
        hedge.addr,
        &query_edns("big.upstream.example.", RecordType::A, 1232),
    )
    .await;
    assert!(!reply.metadata.truncation);
    assert_eq!(reply.answers.len(), 40);
    assert_eq!(reply.edns.as_ref().unwrap().max_payload(), 1232);

    // ...and one that advertises 600 does not.
    let reply = udp(
        hedge.addr,
        &query_edns("big.upstream.example.", RecordType::A, 600),
    )
    .await;
    assert!(reply.metadata.truncation);
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_outside_allow_networks_are_refused() {
    let upstream = TestUpstream::start().await;
    let hedge = start_with_zones(&upstream, "allow_networks = [\"127.0.0.1/32\"]").await;

    let message = query_edns("www.upstream.example.", RecordType::A, 1232);
    let reply = udp_exchange_from(local(2), hedge.addr, &message, PATIENCE)
        .await
        .expect("an answer");
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
    assert!(reply.answers.is_empty());
    assert_eq!(
        extended_error(&reply).map(|e| e.0),
        Some(18),
        "EDE Prohibited"
    );

    let reply = udp_exchange_from(local(1), hedge.addr, &message, PATIENCE)
        .await
        .expect("an answer");
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);

    // TCP is held to the same rule.
    let mut stream = tcp_connect_from(local(2), hedge.addr).await.unwrap();
    let reply = tcp_exchange(&mut stream, &message).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
}

/// Reads replies on `socket`, passing each to `each`, until `done` is set
/// and nothing more has come for a while; the moment the last reply came.
/// (The test sets `done` once hedge's counters show it has handled every
/// query, so the pause only catches replies already on their way.)
fn read_replies(
    socket: std::sync::Arc<tokio::net::UdpSocket>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    mut each: impl FnMut(&[u8]) + Send + 'static,
) -> tokio::task::JoinHandle<Option<std::time::Instant>> {
    use std::sync::atomic::Ordering;
    tokio::spawn(async move {
        let mut last = None;
        let mut buf = vec![0u8; 65535];
        loop {
            match tokio::time::timeout(Duration::from_millis(500), socket.recv(&mut buf)).await {
                Ok(Ok(len)) => {
                    each(&buf[..len]);
                    last = Some(std::time::Instant::now());
                }
                _ if done.load(Ordering::Relaxed) => return last,
                _ => {}
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_from_outside_allow_networks_is_not_reflected() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let upstream = TestUpstream::start().await;
    let hedge = start_with_zones(&upstream, "allow_networks = [\"127.0.0.1/32\"]").await;
    // Forged in the name of 127.0.0.2 (outside the allowed networks), from
    // many ports as a reflection attack would be.
    let message = query_edns("www.upstream.example.", RecordType::A, 1232)
        .to_vec()
        .unwrap();
    let socket = Arc::new(roomy_udp_socket(local(2)));
    let (done, replies) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let receiver = read_replies(socket.clone(), done.clone(), {
        let replies = replies.clone();
        move |bytes| {
            let reply = Message::from_vec(bytes).unwrap();
            assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
            assert!(reply.answers.is_empty());
            replies.fetch_add(1, Ordering::Relaxed);
        }
    });
    let started = std::time::Instant::now();
    for _ in 0..500 {
        socket.send_to(&message, hedge.addr).await.unwrap();
    }
    // The allowed client is answered throughout.
    let reply = udp(hedge.addr, &query("printer.school.lan.", RecordType::A)).await;
    assert_eq!(addresses(&reply), ["192.168.1.20"]);
    // Every query handled (and counted).
    let status = hedge.wait_for_stat("refused_not_allowed", 500).await;
    done.store(true, Ordering::Relaxed);
    let last = receiver.await.unwrap();
    let replies = replies.load(Ordering::Relaxed);
    // Every refusal was sent between the first query and the last reply
    // read, however long a busy machine took over them: the limit holds
    // over that span.
    let span = last.map_or(0.0, |last| (last - started).as_secs_f64());
    eprintln!("500 queries from outside: {replies} refusals sent over {span:.2} s");
    assert!(replies >= 1, "a stranger is told it is refused");
    assert!(
        (replies as f64) <= 50.0 + 50.0 * (span + 1.0),
        "refusals to strangers are held to 50 a second ({replies} in {span:.2} s)"
    );
    assert_eq!(status["stats"]["refused_not_allowed"], 500, "all counted");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flooding_client_is_held_to_its_limit_and_reflects_less_than_it_sends() {
    use std::sync::Arc;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let upstream = TestUpstream::start().await;
    let hedge = start_with_zones(&upstream, "rate_limit_qps = 20").await;
    // A big answer (40 addresses), cached, so most of the flood takes the
    // fast path: what a reflection attack would pick.
    let big = query_edns("big.upstream.example.", RecordType::A, 4096);
    let full_size = udp(hedge.addr, &big).await.to_vec().unwrap().len();
    let received = hedge.stat("queries");

    let socket = Arc::new(roomy_udp_socket(local(3)));
    let sent = 400;
    let query_bytes = big.to_vec().unwrap();
    let (full, slips, other) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    // When the last full answer came.
    let last_full = Arc::new(Mutex::new(None));
    let done = Arc::new(AtomicBool::new(false));
    let receiver = read_replies(socket.clone(), done.clone(), {
        let (full, slips, other, last_full) = (
            full.clone(),
            slips.clone(),
            other.clone(),
            last_full.clone(),
        );
        let query_len = query_bytes.len();
        move |bytes| {
            let len = bytes.len();
            let reply = Message::from_vec(bytes).unwrap();
            if reply.metadata.truncation {
                assert!(reply.answers.is_empty() && reply.edns.is_none());
                assert!(
                    len <= query_len,
                    "a slip ({len} bytes) is never larger than the query ({query_len})"
                );
                slips.fetch_add(1, Ordering::Relaxed);
            } else if reply.metadata.response_code == ResponseCode::NoError
                && reply.answers.len() == 40
            {
                full.fetch_add(1, Ordering::Relaxed);
                *last_full.lock().unwrap() = Some(std::time::Instant::now());
            } else {
                other.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let started = std::time::Instant::now();
    for _ in 0..sent {
        socket.send_to(&query_bytes, hedge.addr).await.unwrap();
    }

    // Another client is served throughout.
    let reply = udp_exchange_from(
        local(4),
        hedge.addr,
        &query("printer.school.lan.", RecordType::A),
        PATIENCE,
    )
    .await
    .expect("another client is answered");
    assert_eq!(addresses(&reply), ["192.168.1.20"]);
    // Over TCP (no forged addresses) the flooding client is told why.
    let mut stream = tcp_connect_from(local(3), hedge.addr).await.unwrap();
    let printer = query_edns("printer.school.lan.", RecordType::A, 1232);
    let reply = tcp_exchange(&mut stream, &printer).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
    assert_eq!(extended_error(&reply).map(|e| e.0), Some(18));

    // Every query of the flood handled (and the two above), then every
    // slip hedge counted has been read.
    let status = hedge
        .wait_for_stat("queries", received + sent as u64 + 2)
        .await;
    let counted = status["stats"]["rate_limit_slips"].as_u64().unwrap() as usize;
    wait_until("every slip hedge sent to arrive", || {
        (slips.load(Ordering::Relaxed) >= counted).then_some(())
    })
    .await;
    done.store(true, Ordering::Relaxed);
    receiver.await.unwrap();
    let (full, slips, other) = (
        full.load(Ordering::Relaxed),
        slips.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed),
    );
    // A burst of a second's worth, then 20 a second (with a second's
    // slack) over the span in which full answers were sent: from the first
    // query to the last full answer read, however long a busy machine took.
    let span = last_full
        .lock()
        .unwrap()
        .map_or(0.0, |last| (last - started).as_secs_f64());
    let allowed = 20.0 + 20.0 * (span + 1.0);
    assert!(full >= 20, "the first second's worth is answered ({full})");
    assert!(
        (full as f64) <= allowed,
        "{full} full answers in {span:.2} s at 20 a second"
    );
    assert_eq!(other, 0);
    let over = sent - full;
    assert!(slips >= 1, "over the limit, some get a truncated reply");
    assert!(
        slips <= over.div_ceil(2),
        "at most every second query over the limit is answered ({slips} of {over})"
    );
    // Under the limit a big answer is a big answer; over it, what comes
    // back is at most half the queries, each no larger than the query.
    eprintln!(
        "sent {sent} x {} bytes: {full} full answers of {full_size} bytes over {span:.2} s, {slips} truncated replies",
        query_bytes.len()
    );
    let status = hedge.status();
    assert_eq!(
        status["stats"]["rate_limit_slips"].as_u64(),
        Some(slips as u64),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_answers_are_served_stale_when_the_upstream_is_down() {
    let mut upstream = TestUpstream::start().await;
    let hedge = start_with_zones(&upstream, "").await;

    let reply = udp(
        hedge.addr,
        &query_edns("short.upstream.example.", RecordType::A, 1232),
    )
    .await;
    assert_eq!(addresses(&reply), ["192.0.2.11"]);
    assert_eq!(reply.answers[0].ttl, 1);

    upstream.stop().await;
    // Until the one-second TTL runs out the cached answer is served as it
    // is; wait for the first answer that is not that.
    let mut reply = None;
    for () in patiently() {
        let answer = udp(
            hedge.addr,
            &query_edns("short.upstream.example.", RecordType::A, 1232),
        )
        .await;
        let cached = answer.metadata.response_code == ResponseCode::NoError
            && answer.answers.first().is_some_and(|a| a.ttl <= 1)
            && extended_error(&answer).is_none();
        reply = Some(answer);
        if !cached {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reply = reply.unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        addresses(&reply),
        ["192.0.2.11"],
        "the stale answer is served"
    );
    assert_eq!(reply.answers[0].ttl, 30, "with the stale answer TTL");
    assert_eq!(
        extended_error(&reply).map(|e| e.0),
        Some(3),
        "EDE Stale Answer"
    );

    // A name never seen before has nothing stale to serve.
    let reply = udp(
        hedge.addr,
        &query_edns("www.upstream.example.", RecordType::A, 1232),
    )
    .await;
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(
        extended_error(&reply).map(|e| e.0),
        Some(22),
        "EDE No Reachable Authority"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_packets_get_formerr_or_nothing_and_serving_goes_on() {
    let upstream = TestUpstream::start().await;
    let hedge = start_with_zones(&upstream, "").await;
    // How long to listen for a reply that must not come; one that must
    // come is waited for patiently.
    let silence = Duration::from_millis(500);
    let wait = PATIENCE;

    // Shorter than a header: nothing to answer.
    assert!(
        udp_raw_from(local(1), hedge.addr, &[1, 2, 3, 4, 5], silence)
            .await
            .is_none()
    );

    // A header promising a question that is not there: FORMERR.
    let reply = udp_raw_from(
        local(1),
        hedge.addr,
        &[0xab, 0xcd, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'e'],
        wait,
    )
    .await
    .expect("FORMERR");
    let reply = Message::from_vec(&reply).unwrap();
    assert_eq!(reply.metadata.id, 0xabcd);
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);

    // A compression pointer pointing at itself: FORMERR, no loop.
    let mut looped = vec![0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    let reply = udp_raw_from(local(1), hedge.addr, &looped, wait)
        .await
        .expect("FORMERR");
    assert_eq!(
        Message::from_vec(&reply).unwrap().metadata.response_code,
        ResponseCode::FormErr
    );

    // A response (QR set) is never answered.
    let mut response = query("www.upstream.example.", RecordType::A);
    response.metadata.message_type = hickory_proto::op::MessageType::Response;
    assert!(
        udp_raw_from(local(1), hedge.addr, &response.to_vec().unwrap(), silence)
            .await
            .is_none()
    );

    // Two questions: FORMERR.
    let mut two = query("www.upstream.example.", RecordType::A);
    two.add_query(hickory_proto::op::Query::query(
        "printer.school.lan.".parse().unwrap(),
        RecordType::A,
    ));
    assert_eq!(
        udp(hedge.addr, &two).await.metadata.response_code,
        ResponseCode::FormErr
    );

    // No question: FORMERR.
    let mut none = query("www.upstream.example.", RecordType::A);
    none.queries.clear();
    assert_eq!(
        udp(hedge.addr, &none).await.metadata.response_code,
        ResponseCode::FormErr
    );

    // An opcode hedge does not serve: NOTIMP.
    let mut notify = query("www.upstream.example.", RecordType::SOA);
    notify.metadata.op_code = OpCode::Notify;
    assert_eq!(
        udp(hedge.addr, &notify).await.metadata.response_code,
        ResponseCode::NotImp
    );
    // An unassigned opcode (15) with RD, AD and CD set: NOTIMP with the id
    // and opcode echoed and no flag but QR (those flags mean something for
    // QUERY only).
    let mut unassigned = vec![0x12, 0x34, (15 << 3) | 0x01, 0x30, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["www", "upstream", "example"] {
        unassigned.push(label.len() as u8);
        unassigned.extend_from_slice(label.as_bytes());
    }
    unassigned.extend_from_slice(&[0, 0, 1, 0, 1]);
    let reply = udp_raw_from(local(1), hedge.addr, &unassigned, PATIENCE)
        .await
        .expect("an answer to an unassigned opcode");
    assert_eq!(&reply[..2], &[0x12, 0x34], "id");
    assert_eq!(
        reply[2],
        0x80 | (15 << 3),
        "QR and the opcode, nothing else"
    );
    assert_eq!(reply[3], 4, "no RA, AD or CD; RCODE NOTIMP");

    // EDNS version 1: BADVERS.
    let mut v1 = query_edns("www.upstream.example.", RecordType::A, 1232);
    v1.edns.as_mut().unwrap().set_version(1);
    // (16 on the wire; hickory reads 16 back under its TSIG name BADSIG.)
    let code = udp(hedge.addr, &v1).await.metadata.response_code;
    assert_eq!(u16::from(code), u16::from(ResponseCode::BADVERS));

    // ANY gets the RFC 8482 minimal answer.
    let reply = udp(hedge.addr, &query("www.upstream.example.", RecordType::ANY)).await;
    assert_eq!(reply.answers.len(), 1);
    assert_eq!(reply.answers[0].record_type(), RecordType::HINFO);

    // Zone transfers are refused.
    let reply = tcp(hedge.addr, &query("school.lan.", RecordType::AXFR)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);

    // And the server is still answering.
    let reply = udp(hedge.addr, &query("www.upstream.example.", RecordType::A)).await;
    assert_eq!(addresses(&reply), ["192.0.2.10"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_connections_are_capped_per_client() {
    let upstream = TestUpstream::start().await;
    let hedge = start_with_zones(&upstream, "tcp_connections_per_client = 2").await;

    let _a = tcp_connect_from(local(5), hedge.addr).await.unwrap();
    let _b = tcp_connect_from(local(5), hedge.addr).await.unwrap();
    // The third is accepted by the kernel and closed by hedge at once.
    let mut c = tcp_connect_from(local(5), hedge.addr).await.unwrap();
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 2];
    let read = tokio::time::timeout(PATIENCE, c.read(&mut buf))
        .await
        .expect("closed promptly");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "third connection closed: {read:?}"
    );

    // Another client still gets TCP answers.
    let reply = tcp(hedge.addr, &query("printer.school.lan.", RecordType::A)).await;
    assert_eq!(addresses(&reply), ["192.168.1.20"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_tcp_writers_are_cut_off_and_cannot_hold_more_than_their_share() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = TestUpstream::start().await;
    // Three seconds for a query to arrive: time enough for the steps below
    // to happen while the slow writers are still connected, however busy
    // the machine.
    let hedge = start_with_zones(
        &upstream,
        "tcp_idle_timeout_secs = 3\ntcp_connections_per_client = 3",
    )
    .await;
    let bytes = query("printer.school.lan.", RecordType::A)
        .to_vec()
        .unwrap();
    let framed = {
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&bytes);
        framed
    };

    // Three connections trickling a query a byte every 400 ms: the whole
    // query would take over ten seconds; hedge gives it three.
    let mut trickles = Vec::new();
    for _ in 0..3 {
        let stream = tcp_connect_from(local(6), hedge.addr).await.unwrap();
        let framed = framed.clone();
        let written = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let written = written.clone();
            async move {
                let (mut read, mut write) = stream.into_split();
                let writer = tokio::spawn(async move {
                    for byte in framed {
                        if write.write_all(&[byte]).await.is_err() {
                            break;
                        }
                        written.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(400)).await;
                    }
                });
                let mut buf = [0u8; 512];
                let read = tokio::time::timeout(PATIENCE, read.read(&mut buf)).await;
                writer.abort();
                read
            }
        });
        trickles.push((task, written));
    }
    // A fourth from the same client is closed at once. (hedge takes
    // connections in the order they were made, so the three are counted.)
    let mut fourth = tcp_connect_from(local(6), hedge.addr).await.unwrap();
    let mut buf = [0u8; 2];
    let read = tokio::time::timeout(PATIENCE, fourth.read(&mut buf))
        .await
        .expect("the fourth is closed");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(
        trickles.iter().all(|(task, _)| !task.is_finished()),
        "the fourth is closed before the others time out"
    );
    // Another client is answered meanwhile.
    let reply = tcp(hedge.addr, &query("printer.school.lan.", RecordType::A)).await;
    assert_eq!(addresses(&reply), ["192.168.1.20"]);

    for (trickle, written) in trickles {
        let read = trickle
            .await
            .unwrap()
            .expect("closed by hedge, not by the test");
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "a slow writer gets no answer, only a closed connection: {read:?}"
        );
        let written = written.load(Ordering::Relaxed);
        assert!(
            written < framed.len(),
            "cut off after the idle timeout, not when the query was done ({written} of {} bytes sent)",
            framed.len()
        );
    }
    // The slots are free again (once hedge has let go of the last of the
    // three, just after closing it: until then a new one may be refused).
    let deadline = std::time::Instant::now() + PATIENCE;
    let reply = loop {
        let mut stream = tcp_connect_from(local(6), hedge.addr).await.unwrap();
        let length = (framed.len() as u16 - 2).to_be_bytes();
        stream.write_all(&length).await.unwrap();
        let _ = stream.write_all(&framed[2..]).await;
        let mut length = [0u8; 2];
        match tokio::time::timeout(PATIENCE, stream.read_exact(&mut length)).await {
            Ok(Ok(_)) => {
                let mut answer = vec![0u8; usize::from(u16::from_be_bytes(length))];
                stream.read_exact(&mut answer).await.unwrap();
                break Message::from_vec(&answer).unwrap();
            }
            Ok(Err(_)) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("no answer once the slow ones are gone: {other:?}"),
        }
    };
    assert_eq!(
        addresses(&reply),
        ["192.168.1.20"],
        "answered once the slow ones are gone"
    );
    let status = hedge.status();
    assert!(
        status["stats"]["tcp_refused"].as_u64() >= Some(1),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn listens_on_ipv6_too() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let upstream = TestUpstream::start().await;
    let v6 = free_addr("[::1]:0".parse().unwrap());
    let config = config_text(&[], upstream.addr, "", "")
        .replace("listen = []", &format!("listen = [\"LISTEN\", \"{v6}\"]"));
    let hedge = Hedge::start(&config).await;
    let message = query("www.upstream.example.", RecordType::A);
    let reply = udp_exchange_from("::1".parse().unwrap(), v6, &message, PATIENCE)
        .await
        .expect("an answer over IPv6");
    assert_eq!(addresses(&reply), ["192.0.2.10"]);
    let reply = tcp(v6, &message).await;
    assert_eq!(addresses(&reply), ["192.0.2.10"]);
    drop(hedge);
}

#[tokio::test(flavor = "multi_thread")]
async fn dig_gets_the_same_answers() {
    if !have_dig() {
        eprintln!("skipped: dig is not installed (apt-get install dnsutils)");
        return;
    }
    let upstream = TestUpstream::start().await;
    let hedge = start_with_zones(&upstream, "").await;
    let port = hedge.addr.port().to_string();
    let dig = |args: &[&str]| {
        let out = std::process::Command::new("dig")
            .args(["@127.0.0.1", "-p", &port, "+tries=1", "+time=3"])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = dig(&["www.upstream.example", "A", "+short"]);
    assert_eq!(out.trim(), "192.0.2.10");
    // The question is echoed in the case it was asked (dig checks this too).
    let out = dig(&["WwW.UpStream.Example", "A"]);
    assert!(out.contains(";WwW.UpStream.Example.\t"), "{out}");
    assert!(out.contains("192.0.2.10"), "{out}");
    let out = dig(&["printer.school.lan", "A"]);
    assert!(out.contains("flags: qr aa rd ra"), "{out}");
    assert!(out.contains("192.168.1.20"), "{out}");
    let out = dig(&["-x", "192.168.1.20", "+short"]);
    assert_eq!(out.trim(), "printer.school.lan.");
    // dig retries over TCP by itself when it sees TC.
    let out = dig(&["big.upstream.example", "A", "+noedns", "+ignore"]);
    assert!(out.contains(" tc "), "{out}");
    let out = dig(&["big.upstream.example", "A", "+noedns"]);
    assert_eq!(out.matches("198.51.100.").count(), 40, "{out}");
    let out = dig(&["big.upstream.example", "A", "+tcp", "+short"]);
    assert_eq!(out.lines().count(), 40, "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_packets_and_a_response_flood_do_not_stop_serving() {
    let upstream = TestUpstream::start().await;
    let hedge = start_with_zones(&upstream, "").await;
    let wait = PATIENCE;
    let header = |id: u16, arcount: u8| {
        vec![
            (id >> 8) as u8,
            id as u8,
            0x01,
            0,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            arcount,
        ]
    };

    // A name longer than 255 bytes (five labels of 63): FORMERR.
    let mut long = header(0x1111, 0);
    for _ in 0..5 {
        long.push(63);
        long.extend_from_slice(&[b'a'; 63]);
    }
    long.extend_from_slice(&[0, 0, 1, 0, 1]);
    let reply = udp_raw_from(local(1), hedge.addr, &long, wait)
        .await
        .expect("an answer to an overlong name");
    let reply = Message::from_vec(&reply).unwrap();
    assert_eq!(reply.metadata.id, 0x1111);
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);

    // Class CHAOS: REFUSED, nothing forwarded.
    let mut chaos = header(0x2222, 0);
    chaos.extend_from_slice(b"\x07version\x04bind\x00\x00\x10\x00\x03");
    let reply = udp_raw_from(local(1), hedge.addr, &chaos, wait)
        .await
        .expect("an answer to class CH");
    assert_eq!(
        Message::from_vec(&reply).unwrap().metadata.response_code,
        ResponseCode::Refused
    );

    // An unknown type is forwarded like any other and answered.
    let mut private = header(0x3333, 0);
    private.extend_from_slice(b"\x03www\x08upstream\x07example\x00\xff\x00\x00\x01");
    let reply = udp_raw_from(local(1), hedge.addr, &private, PATIENCE)
        .await
        .expect("an answer to a private-use type");
    assert_eq!(Message::from_vec(&reply).unwrap().metadata.id, 0x3333);

    // EDNS advertising 100 bytes: treated as 512, the large answer is cut
    // to fit and flagged TC.
    let small = query_edns("big.upstream.example.", RecordType::A, 100);
    let bytes = udp_raw_from(local(1), hedge.addr, &small.to_vec().unwrap(), wait)
        .await
        .expect("an answer with a tiny EDNS size");
    assert!(bytes.len() <= 512, "{} bytes", bytes.len());
    assert!(Message::from_vec(&bytes).unwrap().metadata.truncation);

    // An EDNS option whose length runs past the record: FORMERR.
    let mut bad_option = header(0x4444, 1);
    bad_option.extend_from_slice(b"\x03www\x08upstream\x07example\x00\x00\x01\x00\x01");
    bad_option.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 6, 0, 10, 0, 40, 1, 2]);
    let reply = udp_raw_from(local(1), hedge.addr, &bad_option, wait)
        .await
        .expect("an answer to a broken EDNS option");
    assert_eq!(
        Message::from_vec(&reply).unwrap().metadata.response_code,
        ResponseCode::FormErr
    );

    // A flood of responses (QR set) at the listening port, from one
    // address, while another client asks: the flood gets nothing back,
    // the client its answers.
    let flood = tokio::net::UdpSocket::bind((local(7), 0)).await.unwrap();
    let mut response = query("www.upstream.example.", RecordType::A);
    response.metadata.message_type = hickory_proto::op::MessageType::Response;
    let response = response.to_vec().unwrap();
    let target = hedge.addr;
    let flooding = tokio::spawn(async move {
        for _ in 0..20_000 {
            let _ = flood.send_to(&response, target).await;
        }
        let mut buf = [0u8; 512];
        tokio::time::timeout(Duration::from_millis(300), flood.recv_from(&mut buf))
            .await
            .is_err()
    });
    for _ in 0..20 {
        let reply =
            udp_asking_again(hedge.addr, &query("www.upstream.example.", RecordType::A)).await;
        assert_eq!(addresses(&reply), ["192.0.2.10"]);
    }
    assert!(flooding.await.unwrap(), "a response was answered");
    let reply = udp(hedge.addr, &query("printer.school.lan.", RecordType::A)).await;
    assert_eq!(addresses(&reply), ["192.168.1.20"]);
}

/// An exchange as a stub resolver makes it: asked again every 2 s (up to
/// [`PATIENCE`]), since a flood may fill the socket's buffer and the
/// kernel then drops the question before hedge sees it.
async fn udp_asking_again(to: std::net::SocketAddr, message: &Message) -> Message {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if let Some(reply) = udp_exchange_from(local(1), to, message, Duration::from_secs(2)).await
        {
            return reply;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no answer over UDP in {PATIENCE:?}, asking every 2 s"
        );
    }
}
