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
    let reply = udp_exchange_from(local(2), hedge.addr, &message, Duration::from_secs(5))
        .await
        .expect("an answer");
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
    assert!(reply.answers.is_empty());
    assert_eq!(
        extended_error(&reply).map(|e| e.0),
        Some(18),
        "EDE Prohibited"
    );

    let reply = udp_exchange_from(local(1), hedge.addr, &message, Duration::from_secs(5))
        .await
        .expect("an answer");
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);

    // TCP is held to the same rule.
    let mut stream = tcp_connect_from(local(2), hedge.addr).await.unwrap();
    let reply = tcp_exchange(&mut stream, &message).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_from_outside_allow_networks_is_not_reflected() {
    let upstream = TestUpstream::start().await;
    let hedge = start_with_zones(&upstream, "allow_networks = [\"127.0.0.1/32\"]").await;
    // Forged in the name of 127.0.0.2 (outside the allowed networks), from
    // many ports as a reflection attack would be.
    let message = query_edns("www.upstream.example.", RecordType::A, 1232)
        .to_vec()
        .unwrap();
    let socket = std::sync::Arc::new(tokio::net::UdpSocket::bind((local(2), 0)).await.unwrap());
    let receiver = tokio::spawn({
        let socket = socket.clone();
        async move {
            let mut replies = 0;
            let mut buf = vec![0u8; 4096];
            while let Ok(Ok(len)) =
                tokio::time::timeout(Duration::from_millis(1500), socket.recv(&mut buf)).await
            {
                let reply = Message::from_vec(&buf[..len]).unwrap();
                assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
                assert!(reply.answers.is_empty());
                replies += 1;
            }
            replies
        }
    });
    let started = std::time::Instant::now();
    for _ in 0..500 {
        socket.send_to(&message, hedge.addr).await.unwrap();
    }
    let sending = started.elapsed().as_secs_f64();
    // The allowed client is answered throughout.
    let reply = udp(hedge.addr, &query("printer.school.lan.", RecordType::A)).await;
    assert_eq!(addresses(&reply), ["192.168.1.20"]);
    let replies = receiver.await.unwrap();
    eprintln!("500 queries from outside in {sending:.2} s: {replies} refusals sent");
    assert!(replies >= 1, "a stranger is told it is refused");
    assert!(
        (replies as f64) <= 50.0 + 50.0 * (sending + 1.0),
        "refusals to strangers are held to 50 a second ({replies} in {sending:.2} s)"
    );
    let status: serde_json::Value = serde_json::from_str(&hedge.ok(&["status", "--json"])).unwrap();
    assert_eq!(status["stats"]["refused_not_allowed"], 500, "all counted");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flooding_client_is_held_to_its_limit_and_reflects_less_than_it_sends() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let upstream = TestUpstream::start().await;
    let hedge = start_with_zones(&upstream, "rate_limit_qps = 20").await;
    // A big answer (40 addresses), cached, so most of the flood takes the
    // fast path: what a reflection attack would pick.
    let big = query_edns("big.upstream.example.", RecordType::A, 4096);
    let full_size = udp(hedge.addr, &big).await.to_vec().unwrap().len();

    let socket = Arc::new(tokio::net::UdpSocket::bind((local(3), 0)).await.unwrap());
    let sent = 400;
    let query_bytes = big.to_vec().unwrap();
    let (full, slips, other) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let receiver = tokio::spawn({
        let (socket, full, slips, other) =
            (socket.clone(), full.clone(), slips.clone(), other.clone());
        let query_len = query_bytes.len();
        async move {
            let mut buf = vec![0u8; 65535];
            while let Ok(Ok(len)) =
                tokio::time::timeout(Duration::from_millis(1500), socket.recv(&mut buf)).await
            {
                let reply = Message::from_vec(&buf[..len]).unwrap();
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
                } else {
                    other.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    let started = std::time::Instant::now();
    for _ in 0..sent {
        socket.send_to(&query_bytes, hedge.addr).await.unwrap();
    }
    let sending = started.elapsed().as_secs_f64();

    // Another client is served throughout.
    let reply = udp_exchange_from(
        local(4),
        hedge.addr,
        &query("printer.school.lan.", RecordType::A),
        Duration::from_secs(5),
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

    receiver.await.unwrap();
    let (full, slips, other) = (
        full.load(Ordering::Relaxed),
        slips.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed),
    );
    // A burst of a second's worth, then 20 a second while the flood lasted
    // (with a second's slack for a slow machine).
    let allowed = 20.0 + 20.0 * (sending + 1.0);
    assert!(full >= 20, "the first second's worth is answered ({full})");
    assert!(
        (full as f64) <= allowed,
        "{full} full answers in {sending:.2} s at 20 a second"
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
        "sent {sent} x {} bytes in {sending:.2} s: {full} full answers of {full_size} bytes, {slips} truncated replies",
        query_bytes.len()
    );
    let metrics = hedge.ok(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&metrics).unwrap();
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
    // Let the one-second TTL run out.
    tokio::time::sleep(Duration::from_millis(2200)).await;

    let reply = udp(
        hedge.addr,
        &query_edns("short.upstream.example.", RecordType::A, 1232),
    )
    .await;
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
    let wait = Duration::from_millis(500);

    // Shorter than a header: nothing to answer.
    assert!(
        udp_raw_from(local(1), hedge.addr, &[1, 2, 3, 4, 5], wait)
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
        udp_raw_from(local(1), hedge.addr, &response.to_vec().unwrap(), wait)
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
    let read = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = TestUpstream::start().await;
    let hedge = start_with_zones(
        &upstream,
        "tcp_idle_timeout_secs = 1\ntcp_connections_per_client = 3",
    )
    .await;
    let bytes = query("printer.school.lan.", RecordType::A)
        .to_vec()
        .unwrap();

    // Three connections trickling a query a byte every 200 ms: the whole
    // query would take seconds; hedge gives it one.
    let started = std::time::Instant::now();
    let mut trickles = Vec::new();
    for _ in 0..3 {
        let stream = tcp_connect_from(local(6), hedge.addr).await.unwrap();
        let bytes = bytes.clone();
        trickles.push(tokio::spawn(async move {
            let (mut read, mut write) = stream.into_split();
            let writer = tokio::spawn(async move {
                let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&bytes);
                for byte in framed {
                    if write.write_all(&[byte]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
            let mut buf = [0u8; 512];
            let read = tokio::time::timeout(Duration::from_secs(6), read.read(&mut buf)).await;
            writer.abort();
            read
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A fourth from the same client is closed at once.
    let mut fourth = tcp_connect_from(local(6), hedge.addr).await.unwrap();
    let mut buf = [0u8; 2];
    let read = tokio::time::timeout(Duration::from_millis(900), fourth.read(&mut buf))
        .await
        .expect("the fourth is closed before the others time out");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // Another client is answered meanwhile.
    let reply = tcp(hedge.addr, &query("printer.school.lan.", RecordType::A)).await;
    assert_eq!(addresses(&reply), ["192.168.1.20"]);

    for trickle in trickles {
        let read = trickle
            .await
            .unwrap()
            .expect("closed by hedge, not by the test");
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "a slow writer gets no answer, only a closed connection: {read:?}"
        );
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "cut off after the 1 s idle timeout, not when the query was done ({took:?})"
    );
    // The slots are free again.
    let mut stream = tcp_connect_from(local(6), hedge.addr).await.unwrap();
    let reply = tcp_exchange(&mut stream, &query("printer.school.lan.", RecordType::A)).await;
    assert_eq!(
        addresses(&reply),
        ["192.168.1.20"],
        "answered once the slow ones are gone"
    );
    let status: serde_json::Value = serde_json::from_str(&hedge.ok(&["status", "--json"])).unwrap();
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
    let reply = udp_exchange_from("::1".parse().unwrap(), v6, &message, Duration::from_secs(5))
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
    let wait = Duration::from_millis(500);
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
    let reply = udp_raw_from(local(1), hedge.addr, &private, Duration::from_secs(3))
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
        let reply = udp(hedge.addr, &query("www.upstream.example.", RecordType::A)).await;
        assert_eq!(addresses(&reply), ["192.0.2.10"]);
    }
    assert!(flooding.await.unwrap(), "a response was answered");
    let reply = udp(hedge.addr, &query("printer.school.lan.", RecordType::A)).await;
    assert_eq!(addresses(&reply), ["192.168.1.20"]);
}
