//! Upstream faults through the real binary: an upstream that never answers
//! (SERVFAIL within the timeout, identical questions sent once, no pile-up
//! past `max_pending`) and one that answers garbage (SERVFAIL, nothing
//! cached, serving goes on).

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::*;
use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use serde_json::Value;
use tokio::io::AsyncReadExt;

fn config(upstream: SocketAddr, extra_upstream: &str) -> String {
    format!(
        r#"[server]
listen = ["LISTEN"]
rate_limit_qps = 0

[upstream]
servers = ["{upstream}"]
timeout_ms = 1500
attempts = 1
{extra_upstream}

[categories.gambling]
sources = ["gambling.txt"]

[[groups]]
name = "pupils"
networks = ["127.0.0.0/24"]
block = ["gambling"]
"#
    )
}

const FILES: &[(&str, &str)] = &[("gambling.txt", "bet.slow.example\nbet.junk.example\n")];

/// An upstream that reads every query (UDP and TCP) and never answers,
/// noting each question's name.
struct SilentUpstream {
    addr: SocketAddr,
    asked: Arc<Mutex<Vec<String>>>,
}

impl SilentUpstream {
    async fn start() -> SilentUpstream {
        let (udp, tcp, addr) = bind_pair("127.0.0.1:0".parse().unwrap()).await;
        let asked = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn({
            let asked = asked.clone();
            async move {
                let mut buf = vec![0u8; 4096];
                while let Ok((len, _)) = udp.recv_from(&mut buf).await {
                    if let Ok(message) = Message::from_vec(&buf[..len])
                        && let Some(query) = message.queries.first()
                    {
                        asked
                            .lock()
                            .unwrap()
                            .push(query.name().to_ascii().to_lowercase());
                    }
                }
            }
        });
        tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((mut stream, _)) = tcp.accept().await {
                let mut length = [0u8; 2];
                let _ = stream.read_exact(&mut length).await;
                open.push(stream);
            }
        });
        SilentUpstream { addr, asked }
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_upstream_gets_servfail_in_time_without_piling_up() {
    let upstream = SilentUpstream::start().await;
    // The upstream timeout is long enough that every question below is
    // still waiting when the next group arrives, however slow the machine;
    // the test waits for each step on hedge's counters, not on a clock.
    let hedge = Hedge::start_with(
        &config(upstream.addr, "max_pending = 8")
            .replace("timeout_ms = 1500", "timeout_ms = 10000"),
        FILES,
    )
    .await;
    let received = hedge.stat("queries");

    // Thirty clients asking the same name at once: one question upstream.
    let same: Vec<_> = (0..30)
        .map(|i| {
            let addr = hedge.addr;
            tokio::spawn(async move {
                udp_exchange_from(
                    local(10 + i),
                    addr,
                    &query_edns("same.slow.example.", RecordType::A, 1232),
                    PATIENCE,
                )
                .await
                .expect("an answer")
            })
        })
        .collect();
    // All thirty received, and the question sent.
    hedge.wait_for_stat("queries", received + 30).await;
    wait_until("the upstream to be asked same.slow.example.", || {
        upstream
            .asked()
            .contains(&"same.slow.example.".to_string())
            .then_some(())
    })
    .await;

    // Forty new names from one client: it may hold two of the eight places
    // (a quarter); the rest are answered at once.
    let ask = |from: std::net::IpAddr, name: String| {
        let addr = hedge.addr;
        tokio::spawn(async move {
            udp_exchange_from(
                from,
                addr,
                &query_edns(&name, RecordType::A, 1232),
                PATIENCE,
            )
            .await
            .expect("an answer")
        })
    };
    let greedy: Vec<_> = (0..40)
        .map(|i| ask(local(50), format!("n{i}.slow.example.")))
        .collect();
    // A place is refused to this client only once it holds two.
    hedge.wait_for_stat("upstream_shed", 38).await;
    // Twenty new names from twenty clients: five places are left.
    let many: Vec<_> = (0..20)
        .map(|i| ask(local(100 + i), format!("m{i}.slow.example.")))
        .collect();
    hedge.wait_for_stat("upstream_shed", 38 + 15).await;
    // Meanwhile, a blocked name is answered without the upstream.
    let reply = udp(hedge.addr, &query("bet.slow.example.", RecordType::A)).await;
    assert_eq!(addresses(&reply), ["0.0.0.0"]);

    // The shed queries are answered at once, not after the timeout: they
    // are all in while every admitted question is still waiting.
    let shed_done = |tasks: &[tokio::task::JoinHandle<Message>]| {
        tasks.iter().filter(|t| t.is_finished()).count()
    };
    wait_until("the shed queries to be answered", || {
        (shed_done(&greedy) >= 38 && shed_done(&many) >= 15).then_some(())
    })
    .await;
    assert_eq!(
        (shed_done(&greedy), shed_done(&many), shed_done(&same)),
        (38, 15, 0),
        "shed at once; the admitted ones still wait for the upstream"
    );

    let shed = |tasks: Vec<tokio::task::JoinHandle<Message>>, why: &str| {
        let why = why.to_string();
        async move {
            let mut count = 0;
            for task in tasks {
                let reply = task.await.unwrap();
                assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
                let (code, text) = extended_error(&reply).expect("an extended error");
                assert_eq!(code, 22, "No Reachable Authority");
                if text.contains(&why) {
                    count += 1;
                }
            }
            count
        }
    };
    let greedy_shed = shed(greedy, "this client already has 2 questions waiting").await;
    let many_shed = shed(many, "8 questions already waiting").await;
    assert_eq!(greedy_shed, 38, "one client holds two places");
    assert_eq!(many_shed, 15, "the other five places are taken");
    // Each waiting query is answered SERVFAIL once the upstream times out
    // (within the client's patience, so not left hanging).
    for task in same {
        let reply = task.await.unwrap();
        assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    }

    let asked = upstream.asked();
    // The resolver resends a question over UDP while it waits; the thirty
    // identical questions are sent no more often than any single one.
    let sends = |name: &str| asked.iter().filter(|n| *n == name).count();
    let most = (0..40)
        .map(|i| sends(&format!("n{i}.slow.example.")))
        .chain((0..20).map(|i| sends(&format!("m{i}.slow.example."))))
        .max()
        .unwrap();
    let same = sends("same.slow.example.");
    assert!(
        (1..=most).contains(&same),
        "thirty identical questions sent as one ({same} sends; one question: up to {most}): {asked:?}"
    );
    let distinct: std::collections::BTreeSet<&String> = asked.iter().collect();
    assert!(
        distinct.len() <= 8,
        "at most max_pending questions out at once: {distinct:?}"
    );

    let status: Value = serde_json::from_str(&hedge.ok(&["status", "--json"])).unwrap();
    assert_eq!(status["stats"]["upstream_shared"], 29, "{status}");
    assert_eq!(
        status["stats"]["upstream_shed"],
        greedy_shed + many_shed,
        "{status}"
    );
}

/// An upstream that answers each question with a different kind of
/// garbage, chosen by its first label; `good` gets a proper answer.
async fn garbage_upstream() -> SocketAddr {
    let (udp, tcp, addr) = bind_pair("127.0.0.1:0".parse().unwrap()).await;
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((len, from)) = udp.recv_from(&mut buf).await {
            let Ok(query) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            let question = query.queries[0].clone();
            let name = question.name().to_ascii().to_lowercase();
            let id = query.metadata.id;
            let answer = |id: u16, owner: Name| {
                let mut reply = Message::response(id, OpCode::Query);
                reply.metadata.recursion_available = true;
                reply.add_query(question.clone());
                reply.add_answer(Record::from_rdata(
                    owner,
                    60,
                    RData::A(A::new(192, 0, 2, 5)),
                ));
                reply.to_vec().unwrap()
            };
            let label = name.split('.').next().unwrap_or_default().to_string();
            let bytes: Vec<u8> = match label.as_str() {
                "good" => answer(id, question.name().clone()),
                // Noise with the right id, so it is read and must be rejected.
                "noise" => {
                    let mut bytes = id.to_be_bytes().to_vec();
                    bytes.extend((0..60u8).map(|i| i.wrapping_mul(37) ^ 0x5a));
                    bytes
                }
                "wrongid" => answer(id.wrapping_add(1), question.name().clone()),
                "cut" => answer(id, question.name().clone())[..20].to_vec(),
                // An answer for a name nobody asked about.
                "otherq" => {
                    let mut reply = Message::response(id, OpCode::Query);
                    let other = Name::from_ascii("elsewhere.junk.example.").unwrap();
                    reply.add_query(hickory_proto::op::Query::query(
                        other.clone(),
                        RecordType::A,
                    ));
                    reply.add_answer(Record::from_rdata(
                        other,
                        60,
                        RData::A(A::new(192, 0, 2, 6)),
                    ));
                    reply.to_vec().unwrap()
                }
                "formerr" => {
                    let mut reply = Message::response(id, OpCode::Query);
                    reply.metadata.response_code = ResponseCode::FormErr;
                    reply.add_query(question.clone());
                    reply.to_vec().unwrap()
                }
                // One answer whose owner name points at itself.
                "loop" => {
                    let mut bytes = answer(id, question.name().clone());
                    let question_end =
                        12 + question.name().iter().map(|l| l.len() + 1).sum::<usize>() + 1 + 4;
                    bytes.truncate(question_end);
                    bytes[6..8].copy_from_slice(&1u16.to_be_bytes());
                    let at = question_end as u16;
                    bytes.extend_from_slice(&(0xC000 | at).to_be_bytes());
                    bytes.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
                    bytes
                }
                // Truncated: the resolver retries over TCP, which closes.
                _ => {
                    let mut reply = Message::response(id, OpCode::Query);
                    reply.metadata.truncation = true;
                    reply.add_query(question.clone());
                    reply.to_vec().unwrap()
                }
            };
            let _ = udp.send_to(&bytes, from).await;
        }
    });
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = tcp.accept().await {
            // Half a length prefix, then gone.
            use tokio::io::AsyncWriteExt;
            let _ = stream.write_all(&[0x01]).await;
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_answering_garbage_gets_servfail_and_nothing_is_cached() {
    let upstream = garbage_upstream().await;
    let hedge = Hedge::start_with(&config(upstream, ""), FILES).await;

    let reply = udp(hedge.addr, &query("good.junk.example.", RecordType::A)).await;
    assert_eq!(
        addresses(&reply),
        ["192.0.2.5"],
        "the upstream itself works"
    );

    for label in ["noise", "wrongid", "cut", "otherq", "formerr", "loop", "tc"] {
        let name = format!("{label}.junk.example.");
        for attempt in 0..2 {
            // Answered (udp() waits for it), so nothing hangs on garbage.
            let reply = udp(hedge.addr, &query_edns(&name, RecordType::A, 1232)).await;
            assert_eq!(
                reply.metadata.response_code,
                ResponseCode::ServFail,
                "{name} (attempt {attempt}): {reply:?}"
            );
            assert!(reply.answers.is_empty(), "{name}: {reply:?}");
        }
        // Serving goes on.
        let reply = udp(hedge.addr, &query("bet.junk.example.", RecordType::A)).await;
        assert_eq!(addresses(&reply), ["0.0.0.0"]);
        let reply = udp(hedge.addr, &query("good.junk.example.", RecordType::A)).await;
        assert_eq!(addresses(&reply), ["192.0.2.5"]);
    }
    assert!(
        hedge.log().lines().all(|l| !l.contains("panicked")),
        "{}",
        hedge.log()
    );
}
