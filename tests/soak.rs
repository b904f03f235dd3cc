//! A bounded soak: queries at a fixed rate from several clients (cached
//! names, new names, blocked names) while the block list grows and is
//! reloaded and exemptions are added and revoked every few seconds. Every
//! query must be answered, no log entry dropped, and memory must level off.
//!
//! It runs for a set time at a set rate, so it is a measurement, not part
//! of the default `cargo test` (whose tests wait for events, never for the
//! clock): it is `#[ignore]`d and run by name. A short run (8 s at 400
//! queries a second, the defaults):
//!
//! ```text
//! cargo test --release --locked --test soak -- --ignored --nocapture
//! ```
//!
//! The long run, whose figures are in benches/README.md:
//!
//! ```text
//! HEDGE_SOAK_SECONDS=600 HEDGE_SOAK_RATE=2000 \
//!     cargo test --release --locked --test soak -- --ignored --nocapture
//! ```

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use serde_json::Value;
use tokio::net::UdpSocket;
use tokio::sync::Mutex;

const CLIENTS: u8 = 8;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(upstream: std::net::SocketAddr) -> String {
    format!(
        r#"[server]
listen = ["LISTEN"]
rate_limit_qps = 0

[upstream]
servers = ["{upstream}"]
timeout_ms = 2000
attempts = 2

[categories.gambling]
sources = ["gambling.txt"]

[[groups]]
name = "pupils"
networks = ["127.0.0.0/24"]
block = ["gambling"]

[[approvers]]
name = "D. Deputy"
role = "deputy head"
max_days = 1
may_file_and_approve = true

[logging]
database = "hedge.db"
"#
    )
}

/// The block list after `grown` reloads: 500 names, 50 more each time.
fn block_list(grown: usize) -> String {
    (0..500 + 50 * grown)
        .map(|i| format!("b{i}.soak.example\n"))
        .collect()
}

/// `hedge <args>` off the runtime's threads (it waits for the server),
/// which must succeed: its stdout.
async fn cli(config: &std::path::Path, args: &[&str]) -> String {
    let config = config.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = run_hedge(&args, &config);
        assert!(
            output.status.success(),
            "hedge {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    })
    .await
    .unwrap()
}

/// Resident memory of `pid` in kB.
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a timed soak: cargo test --release --locked --test soak -- --ignored --nocapture"]
async fn steady_load_with_reloads_and_exemption_changes_loses_nothing() {
    let seconds = setting("HEDGE_SOAK_SECONDS", 8);
    let rate = setting("HEDGE_SOAK_RATE", 400);
    let zone = "$ORIGIN soak.example.\n$TTL 30\n\
        @ IN SOA ns.soak.example. admin.soak.example. 1 3600 600 86400 30\n\
        @ IN NS ns.soak.example.\nns IN A 192.0.2.1\n* IN A 192.0.2.50\n";
    let upstream =
        TestUpstream::start_on("127.0.0.1:0".parse().unwrap(), "soak.example.", zone).await;
    let hedge =
        Hedge::start_with(&config(upstream.addr), &[("gambling.txt", &block_list(0))]).await;
    hedge.person_unmapped("T. Teacher", &["staff"]);
    hedge.person("D. Deputy", &["approver"]);
    let pid = hedge.pid();
    let status: Value = serde_json::from_str(&hedge.ok(&["status", "--json"])).unwrap();
    let names_at_start = status["index_names"].as_u64().unwrap();

    let sent = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let wrong = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let per_client = rate as f64 / f64::from(CLIENTS);
    let started = Instant::now();
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let socket = Arc::new(UdpSocket::bind((local(20 + c), 0)).await.unwrap());
        let outstanding: Arc<Mutex<HashSet<u16>>> = Arc::default();
        let (sent, answered, wrong, stop) =
            (sent.clone(), answered.clone(), wrong.clone(), stop.clone());
        let addr = hedge.addr;
        let receiver = tokio::spawn({
            let (socket, outstanding, answered, wrong, stop) = (
                socket.clone(),
                outstanding.clone(),
                answered.clone(),
                wrong.clone(),
                stop.clone(),
            );
            async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    let received =
                        tokio::time::timeout(Duration::from_secs(3), socket.recv(&mut buf)).await;
                    let Ok(Ok(len)) = received else {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        continue;
                    };
                    let reply = Message::from_vec(&buf[..len]).unwrap();
                    if !outstanding.lock().await.remove(&reply.metadata.id) {
                        continue;
                    }
                    answered.fetch_add(1, Ordering::Relaxed);
                    let name = reply.queries[0].name().to_ascii();
                    let expected = if name.starts_with('b') {
                        "0.0.0.0"
                    } else {
                        "192.0.2.50"
                    };
                    let ok = reply.metadata.response_code == ResponseCode::NoError
                        && addresses(&reply).first().map(String::as_str) == Some(expected);
                    if !ok {
                        wrong.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        clients.push(tokio::spawn(async move {
            let mut i: u64 = 0;
            let mut id: u16 = u16::from(c) << 12;
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_client));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                // 7 in 10 from a set of 2,000 names (cached), 2 new, 1 blocked.
                let name = match i % 10 {
                    0..=6 => format!("w{}.soak.example.", (i * 7919) % 2000),
                    7 | 8 => format!("c{c}n{i}.soak.example."),
                    _ => format!("b{}.soak.example.", (i * 31) % 500),
                };
                let mut message = query(&name, RecordType::A);
                id = id.wrapping_add(1);
                message.metadata.id = id;
                // Ids come round after 65,536 queries: long answered by then.
                outstanding.lock().await.insert(id);
                socket
                    .send_to(&message.to_vec().unwrap(), addr)
                    .await
                    .unwrap();
                sent.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            receiver.await.unwrap();
        }));
    }

    // Reloads with a growing list, exemptions added and revoked, memory.
    let mut samples: Vec<(u64, u64)> = Vec::new();
    let mut reloads = 0;
    let mut exemptions: Vec<String> = Vec::new();
    let mut revoked = 0;
    let mut second = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        second += 1;
        samples.push((second, rss_kb(pid)));
        if second % 2 == 0 {
            reloads += 1;
            std::fs::write(hedge.path("gambling.txt"), block_list(reloads)).unwrap();
            cli(&hedge.config_path, &["reload"]).await;
        }
        if second % 3 == 0 {
            let added = cli(
                &hedge.config_path,
                &[
                    "exempt",
                    "add",
                    "b1.soak.example",
                    "--client",
                    "127.0.0.250",
                    "--reason",
                    "Soak test: an exemption for a machine that sends nothing",
                    "--requested-by",
                    "T. Teacher",
                    "--by",
                    "D. Deputy",
                    "--until",
                    "+1h",
                ],
            )
            .await;
            exemptions.push(added.split_whitespace().nth(1).unwrap().to_string());
        }
        if second % 5 == 0
            && let Some(id) = exemptions.pop()
        {
            cli(
                &hedge.config_path,
                &[
                    "exempt",
                    "revoke",
                    &id,
                    "--by",
                    "D. Deputy",
                    "--reason",
                    "Soak test: the machine is back with its class",
                ],
            )
            .await;
            revoked += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for client in clients {
        client.await.unwrap();
    }
    let (sent, answered, wrong) = (
        sent.load(Ordering::Relaxed),
        answered.load(Ordering::Relaxed),
        wrong.load(Ordering::Relaxed),
    );
    let status: Value = serde_json::from_str(&hedge.ok(&["status", "--json"])).unwrap();
    let rss: Vec<u64> = samples.iter().map(|s| s.1).collect();
    eprintln!(
        "soak: {sent} queries in {elapsed:.0} s ({:.0}/s), {answered} answered, {wrong} wrong; {reloads} reloads, {} exemptions added and {revoked} revoked; RSS kB every second: {rss:?}; log: {}",
        sent as f64 / elapsed,
        exemptions.len() + revoked,
        status["log"]
    );
    assert!(sent >= rate * seconds * 8 / 10, "the load ran: {sent} sent");
    assert_eq!(answered, sent, "every query answered");
    assert_eq!(wrong, 0, "every answer right");
    assert_eq!(status["log"]["dropped"], 0, "no log entry dropped");
    assert_eq!(
        status["index_names"].as_u64(),
        Some(names_at_start + 50 * reloads as u64),
        "every reload took"
    );
    // Memory levels off: the second half grows by at most a tenth (and
    // 4 MB for a short run's noise) over the middle.
    let middle = rss[rss.len() / 2];
    let peak = *rss[rss.len() / 2..].iter().max().unwrap();
    assert!(
        peak <= middle + middle / 10 + 4096,
        "RSS still growing: {middle} kB at the middle, {peak} kB after"
    );
}
