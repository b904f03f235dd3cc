//! The fast path (answers written straight from the received bytes) sends
//! byte for byte what the general path sends for the same query, and
//! leaves to the general path everything it cannot answer exactly.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RecordType};
use std::str::FromStr;

use common::{TestUpstream, patiently};
use hedge::config::Config;
use hedge::dns::{Handler, Transport};
use hedge::store::QueryLog;

fn config(dir: &std::path::Path, upstream: SocketAddr) -> Config {
    std::fs::write(dir.join("gambling.txt"), "bet.upstream.example\n").unwrap();
    std::fs::write(
        dir.join("walled.rpz"),
        "$TTL 300\n@ IN SOA localhost. root.localhost. 1 3600 600 86400 60\n  IN NS localhost.\n\
         walled.upstream.example A 192.0.2.200\n\
         walled.upstream.example A 192.0.2.201\n\
         walled.upstream.example AAAA 2001:db8::200\n\
         v4only.upstream.example A 192.0.2.202\n",
    )
    .unwrap();
    let text = format!(
        r#"
[server]
listen = ["127.0.0.1:0"]
rate_limit_qps = 0
max_udp_payload = 1232

[upstream]
servers = ["{upstream}"]
timeout_ms = 2000
attempts = 1

[categories.gambling]
sources = ["gambling.txt"]

[categories.malware]
sources = ["walled.rpz"]

[[groups]]
name = "pupils"
networks = ["127.0.0.0/26"]
block = ["gambling", "malware"]
block_ttl = 10

[[groups]]
name = "strict"
networks = ["127.0.0.64/26"]
block = ["gambling"]
blocking = "nxdomain"

[[groups]]
name = "staff"
networks = ["127.0.0.128/26"]
block = ["gambling"]
allow = ["bet.upstream.example"]
"#
    );
    let path = dir.join("hedge.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(&path).unwrap()
}

/// A query as a stub resolver sends it.
fn query(id: u16, name: &str, rtype: RecordType, rd: bool, edns: Option<(u16, bool)>) -> Vec<u8> {
    let mut message = Message::query();
    message.metadata.id = id;
    message.metadata.recursion_desired = rd;
    message.add_query(Query::query(Name::from_str(name).unwrap(), rtype));
    if let Some((payload, dnssec_ok)) = edns {
        let mut e = Edns::new();
        e.set_max_payload(payload);
        e.set_dnssec_ok(dnssec_ok);
        message.set_edns(e);
    }
    message.to_vec().unwrap()
}

/// What happened to one query.
#[derive(Debug, PartialEq, Eq)]
enum Path {
    Fast,
    General,
}

/// Asks the general path (which also fills the cache), then the fast path,
/// then the general path again; a fast answer must equal one of the two
/// general answers (they differ only if a TTL ticked down in between).
async fn compare(handler: &Handler, raw: &[u8], from: &str) -> Path {
    let src: SocketAddr = format!("{from}:5300").parse().unwrap();
    let before = handler
        .handle(raw, src, Transport::Udp)
        .await
        .expect("an answer");
    let mut fast = Vec::new();
    let answered = handler.answer_fast(raw, src, &mut fast);
    let after = handler
        .handle(raw, src, Transport::Udp)
        .await
        .expect("an answer");
    if !answered {
        return Path::General;
    }
    assert!(
        fast == before || fast == after,
        "fast path differs for {:?} from {from}:\n fast    {fast:02x?}\n general {before:02x?}\n parsed fast: {:?}\n parsed general: {:?}",
        Message::from_vec(raw).unwrap().queries,
        Message::from_vec(&fast),
        Message::from_vec(&before),
    );
    Path::Fast
}

#[tokio::test]
async fn fast_answers_are_byte_identical_to_general_ones() {
    let upstream = TestUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), upstream.addr);
    let handler = Handler::new(&config, QueryLog::disabled()).unwrap();

    use RecordType::*;
    let plain = [
        None,
        Some((1232, false)),
        Some((4096, true)),
        Some((512, false)),
    ];
    let mut fast = 0;
    let mut expected = 0;
    let mut id = 1;
    // (name, type, client, answered fast with every EDNS variant)
    let cases: &[(&str, RecordType, &str, bool)] = &[
        ("www.upstream.example.", A, "127.0.0.1", true),
        ("www.upstream.example.", AAAA, "127.0.0.1", true),
        ("WWW.Upstream.EXAMPLE.", A, "127.0.0.2", false),
        ("alias.upstream.example.", A, "127.0.0.1", true),
        ("mail.upstream.example.", MX, "127.0.0.1", true),
        ("missing.upstream.example.", A, "127.0.0.1", true),
        ("upstream.example.", SOA, "127.0.0.1", true),
        // Sinkholes and an RPZ list's own addresses.
        ("bet.upstream.example.", A, "127.0.0.1", true),
        ("bet.upstream.example.", AAAA, "127.0.0.1", true),
        ("www.bet.upstream.example.", A, "127.0.0.1", true),
        ("Bet.Upstream.Example.", A, "127.0.0.1", true),
        ("walled.upstream.example.", A, "127.0.0.1", true),
        ("walled.upstream.example.", AAAA, "127.0.0.1", true),
        // Left to the general path: a block answered with NODATA or
        // NXDOMAIN, an allow entry (its rule is logged), a CNAME into a
        // blocked name, ANY, a special-use name.
        ("v4only.upstream.example.", AAAA, "127.0.0.1", false),
        ("bet.upstream.example.", MX, "127.0.0.1", false),
        ("bet.upstream.example.", A, "127.0.0.70", false),
        ("bet.upstream.example.", A, "127.0.0.130", false),
        ("tobet.upstream.example.", A, "127.0.0.1", false),
        ("www.upstream.example.", ANY, "127.0.0.1", false),
        ("localhost.", A, "127.0.0.1", false),
    ];
    for &(name, rtype, from, expect_fast) in cases {
        for edns in plain {
            for rd in [true, false] {
                id += 1;
                let raw = query(id, name, rtype, rd, edns);
                let path = compare(&handler, &raw, from).await;
                if path == Path::Fast {
                    fast += 1;
                }
                if name.starts_with("WWW") {
                    // The first ask in capitals encoded its records behind
                    // a lowercase question: exact only for that spelling.
                    continue;
                }
                // With DO set a cached answer may carry DNSSEC records and
                // AD (`dnssec = "process"`, the default when forwarding):
                // the general path's to give. Sinkholes stay fast.
                let dnssec_ok = edns.is_some_and(|(_, dnssec_ok)| dnssec_ok);
                let sinkhole = ["bet.upstream", "walled.upstream"]
                    .iter()
                    .any(|blocked| name.to_ascii_lowercase().contains(blocked));
                let fast_expected = expect_fast && (sinkhole || !dnssec_ok);
                assert_eq!(
                    path == Path::Fast,
                    fast_expected,
                    "{name} {rtype} from {from}, EDNS {edns:?}"
                );
                expected += usize::from(fast_expected);
            }
        }
    }
    assert!(
        fast >= expected && expected >= 80,
        "{fast} fast answers of {expected}"
    );

    // 40 addresses do not fit 512 bytes: the general path truncates.
    let big = query(9000, "big.upstream.example.", A, true, None);
    assert_eq!(compare(&handler, &big, "127.0.0.1").await, Path::General);
    let big = query(9001, "big.upstream.example.", A, true, Some((1232, false)));
    assert_eq!(compare(&handler, &big, "127.0.0.1").await, Path::Fast);

    // A cached answer counts down its TTL the same way on both paths: once
    // it has counted down (a second on), both paths agree.
    let raw = query(9002, "www.upstream.example.", A, true, None);
    let fast_answer = || {
        let mut out = Vec::new();
        assert!(handler.answer_fast(&raw, "127.0.0.1:5300".parse().unwrap(), &mut out));
        Message::from_vec(&out).unwrap()
    };
    for () in patiently() {
        if fast_answer().answers[0].ttl < 300 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(compare(&handler, &raw, "127.0.0.1").await, Path::Fast);
    let answer = fast_answer();
    assert!(answer.answers[0].ttl < 300, "{answer:?}");
}

#[tokio::test]
async fn the_fast_path_counts_like_the_general_one() {
    let upstream = TestUpstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), upstream.addr);
    let handler = Handler::new(&config, QueryLog::disabled()).unwrap();
    let src: SocketAddr = "127.0.0.1:5300".parse().unwrap();
    let www = query(1, "www.upstream.example.", RecordType::A, true, None);
    let bet = query(2, "bet.upstream.example.", RecordType::A, true, None);
    handler.handle(&www, src, Transport::Udp).await.unwrap();
    let mut out = Vec::new();
    for _ in 0..3 {
        assert!(handler.answer_fast(&www, src, &mut out));
        assert!(handler.answer_fast(&bet, src, &mut out));
    }
    let stats = handler.stats.snapshot();
    assert_eq!(stats.queries, 7);
    assert_eq!(stats.cache_hits, 3);
    assert_eq!(stats.blocked, 3);
    let by_group = handler.breakdown.by_group();
    assert!(
        by_group.contains(&("pupils".into(), hedge::store::Action::Allowed, 4)),
        "{by_group:?}"
    );
    assert!(
        by_group.contains(&("pupils".into(), hedge::store::Action::Blocked, 3)),
        "{by_group:?}"
    );

    // A response, a truncated packet and garbage are not the fast path's.
    let mut response = www.clone();
    response[2] |= 0x80;
    assert!(!handler.answer_fast(&response, src, &mut out));
    assert!(!handler.answer_fast(&www[..www.len() - 1], src, &mut out));
    assert!(!handler.answer_fast(&[0u8; 40], src, &mut out));
    // A client outside allow_networks goes the general way (REFUSED).
    let stranger: SocketAddr = "192.0.2.50:5300".parse().unwrap();
    assert!(!handler.answer_fast(&www, stranger, &mut out));
    assert_eq!(handler.stats.snapshot().queries, 7);
}
