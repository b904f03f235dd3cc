//! Prefetch through the real binary: an answer asked for in the last tenth
//! of its TTL is refreshed in the background, once, while clients go on
//! being answered from the cache; when the old answer's time is up, the
//! refreshed one is there and nobody waits for the upstream.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::{Message, OpCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};

/// The TTL the upstream gives: its last tenth is 2 s.
const TTL: u32 = 20;

/// An upstream that answers every A question with 192.0.2.7 and `TTL`,
/// counting the questions it gets.
async fn counting_upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    let (udp, _tcp, addr) = bind_pair("127.0.0.1:0".parse().unwrap()).await;
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((len, from)) = udp.recv_from(&mut buf).await {
            let Ok(query) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let question = query.queries[0].clone();
            let mut reply = Message::response(query.metadata.id, OpCode::Query);
            reply.metadata.recursion_available = true;
            reply.add_query(question.clone());
            reply.add_answer(Record::from_rdata(
                question.name().clone(),
                TTL,
                RData::A(A::new(192, 0, 2, 7)),
            ));
            let _ = udp.send_to(&reply.to_vec().unwrap(), from).await;
        }
    });
    (addr, asked)
}

/// The A answer's TTL for `name`.
async fn ttl_of(hedge: &Hedge, name: &str) -> u32 {
    let reply = udp(hedge.addr, &query(name, RecordType::A)).await;
    assert_eq!(addresses(&reply), ["192.0.2.7"], "{reply:?}");
    reply.answers[0].ttl
}

#[tokio::test(flavor = "multi_thread")]
async fn a_popular_answer_is_refreshed_before_it_expires() {
    let (upstream, asked) = counting_upstream().await;
    let hedge = Hedge::start(&format!(
        "[server]\nlisten = [\"LISTEN\"]\nrate_limit_qps = 0\n\n[upstream]\nservers = [\"{upstream}\"]\ntimeout_ms = 2000\nattempts = 1\n"
    ))
    .await;
    let name = "popular.example.";

    // The first question goes upstream; the next ones are answered from the
    // cache, the TTL counting down, until the last tenth of it.
    assert_eq!(ttl_of(&hedge, name).await, TTL);
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    let first = Instant::now();
    let mut left = TTL;
    for () in patiently() {
        left = ttl_of(&hedge, name).await;
        if left <= TTL / 10 {
            break;
        }
        assert_eq!(asked.load(Ordering::SeqCst), 1, "answered from the cache");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(left <= TTL / 10, "never reached the last tenth: {left}");

    // That question was answered from the cache at once, and started one
    // refresh in the background.
    hedge
        .wait_for_status("one prefetch", |status| status["stats"]["prefetches"] == 1)
        .await;
    for () in patiently() {
        if asked.load(Ordering::SeqCst) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(asked.load(Ordering::SeqCst), 2, "refreshed once");

    // Asked again while the refresh is in the cache: the fresh TTL, and no
    // more questions upstream, however often it is asked.
    for _ in 0..5 {
        let ttl = ttl_of(&hedge, name).await;
        assert!(ttl > TTL / 10, "the refreshed answer: {ttl}");
    }
    // Past the old answer's expiry, still no client waits for the upstream:
    // the refreshed answer is served.
    let expired = first + Duration::from_secs(u64::from(TTL) + 1);
    while Instant::now() < expired {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ttl = ttl_of(&hedge, name).await;
    assert!(
        ttl < TTL && ttl > 0,
        "from the refreshed cache entry: {ttl}"
    );
    assert_eq!(asked.load(Ordering::SeqCst), 2, "no question at expiry");
    let status = hedge.status();
    assert_eq!(status["stats"]["prefetches"], 1);
    assert_eq!(status["stats"]["cache_misses"], 1, "{status}");
}
