//! Safeguarding alerts and metrics through the real binary: a burst of
//! blocked attempts reaches a webhook (served by the test on loopback) and
//! the system log once, with a count; acknowledgement is audited and lets
//! the next attempt raise a new alert; a failing webhook is retried without
//! holding up answers; the metrics endpoint parses as Prometheus text and
//! its counters follow the queries sent.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use hickory_proto::rr::RecordType;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UnixDatagram};

/// A webhook endpoint on loopback: records each POST body and answers
/// with the next status of `script` (then 200).
struct Webhook {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Webhook {
    async fn start(script: &[u16]) -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.to_vec()));
        let recorded = bodies.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let (recorded, script) = (recorded.clone(), script.clone());
                tokio::spawn(async move {
                    let Some(body) = read_request(&mut stream).await else {
                        return;
                    };
                    recorded
                        .lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).expect("the body is JSON"));
                    let status = {
                        let mut script = script.lock().unwrap();
                        if script.is_empty() {
                            200
                        } else {
                            script.remove(0)
                        }
                    };
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        Webhook { url, bodies }
    }

    fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<Value> {
        for () in patiently() {
            if self.bodies().len() >= count {
                return self.bodies();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the webhook got {} posts, not {count}", self.bodies().len());
    }
}

/// Reads one HTTP request; its body.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_lowercase();
            assert!(head.starts_with("post /hook "), "{head}");
            assert!(head.contains("content-type: application/json"), "{head}");
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            while data.len() < end + 4 + length {
                let n = stream.read(&mut buffer).await.ok()?;
                if n == 0 {
                    return None;
                }
                data.extend_from_slice(&buffer[..n]);
            }
            return Some(data[end + 4..end + 4 + length].to_vec());
        }
        let n = stream.read(&mut buffer).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buffer[..n]);
    }
}

fn config(upstream: SocketAddr, alerts: &str, extra: &str) -> String {
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

[categories.gambling]
sources = ["gambling.txt"]

[[groups]]
name = "pupils"
networks = ["127.0.0.0/26"]
block = ["pornography", "gambling"]

[[clients]]
name = "Room 3, PC 12"
address = "127.0.0.5"
group = "pupils"

[reports]
site = "Hill Top Primary"

[alerts]
window_minutes = 60
{alerts}
{extra}
"#
    )
}

const FILES: &[(&str, &str)] = &[
    ("adult.txt", "adult.upstream.example\n"),
    ("gambling.txt", "bet.upstream.example\n"),
];

async fn ask(hedge: &Hedge, from: IpAddr, name: &str) {
    udp_exchange_from(from, hedge.addr, &query(name, RecordType::A), PATIENCE)
        .await
        .unwrap_or_else(|| panic!("an answer for {name}"));
}

fn alerts(hedge: &Hedge, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["alerts", "list", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&hedge.ok(&all)).unwrap()
}

/// Polls (bounded) until alert `id` has counted `hits`.
async fn wait_hits(hedge: &Hedge, hits: u64) -> Vec<Value> {
    for () in patiently() {
        let list = alerts(hedge, &[]);
        if list.first().is_some_and(|a| a["hits"] == hits) {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no alert with {hits} hits: {:?}", alerts(hedge, &[]));
}

#[tokio::test]
async fn a_burst_is_one_alert_delivered_once_then_acknowledged() {
    let upstream = TestUpstream::start().await;
    let webhook = Webhook::start(&[]).await;
    let syslog_dir = tempfile::tempdir().unwrap();
    let syslog_path = syslog_dir.path().join("log");
    let syslog = UnixDatagram::bind(&syslog_path).unwrap();
    let alerts_config = format!(
        "syslog_socket = \"{}\"\n[[alerts.webhooks]]\nurl = \"{}\"\ntimeout_secs = 2\n",
        syslog_path.display(),
        webhook.url
    );
    let hedge = Hedge::start_with(&config(upstream.addr, &alerts_config, ""), FILES).await;
    // An alert raised before the database opens is delivered but not
    // stored; this test reads the stored ones.
    hedge.wait_for_database().await;

    // Ten attempts at a safeguarding name, and gambling (not a safeguarding
    // category) and an allowed name, which raise nothing.
    for _ in 0..10 {
        ask(&hedge, local(5), "adult.upstream.example.").await;
    }
    ask(&hedge, local(5), "bet.upstream.example.").await;
    ask(&hedge, local(5), "www.upstream.example.").await;

    let posts = webhook.wait_for(1).await;
    let post = &posts[0];
    assert_eq!(post["client"], "127.0.0.5");
    assert_eq!(post["client_name"], "Room 3, PC 12");
    assert_eq!(post["group"], "pupils");
    assert_eq!(post["category"], "pornography");
    assert_eq!(post["name"], "adult.upstream.example");
    assert_eq!(post["site"], "Hill Top Primary");
    let text = post["text"].as_str().unwrap();
    assert!(text.contains("adult[.]upstream[.]example"), "{text}");
    assert!(!text.contains("adult.upstream.example"), "{text}");

    let mut buffer = vec![0u8; 4096];
    let n = tokio::time::timeout(PATIENCE, syslog.recv(&mut buffer))
        .await
        .expect("a syslog datagram")
        .unwrap();
    let line = String::from_utf8_lossy(&buffer[..n]);
    assert!(line.starts_with("<28>"), "{line}");
    assert!(line.contains("hedge["), "{line}");
    assert!(line.contains("Room 3, PC 12 (127.0.0.5)"), "{line}");

    let list = wait_hits(&hedge, 10).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let id = list[0]["id"].as_i64().unwrap();
    assert_eq!(list[0]["state"], "open");
    let deliveries = list[0]["deliveries"].as_array().unwrap();
    let state: HashMap<&str, &str> = deliveries
        .iter()
        .map(|d| (d["sink"].as_str().unwrap(), d["state"].as_str().unwrap()))
        .collect();
    assert_eq!(state.get("syslog"), Some(&"delivered"), "{deliveries:?}");
    assert_eq!(
        state.get(webhook.url.as_str()),
        Some(&"delivered"),
        "{deliveries:?}"
    );
    // Still one post: the burst was grouped, not announced ten times (one
    // alert with ten hits, its delivery recorded, above).
    assert_eq!(webhook.bodies().len(), 1);

    let csv = hedge.ok(&["alerts", "list", "--csv"]);
    assert!(csv.contains("adult[.]upstream[.]example"), "{csv}");
    assert!(!csv.contains("adult.upstream.example"), "{csv}");
    let status: Value = serde_json::from_str(&hedge.ok(&["status", "--json"])).unwrap();
    assert_eq!(status["alerts_open"], 1);

    // Acknowledging needs a person and a real note.
    let id_text = id.to_string();
    let refused = hedge.refused(&["alerts", "ack", &id_text, "--note", "spoke to the pupil"]);
    assert!(refused.contains("is not mapped to a person"), "{refused}");
    hedge.person("Ms Khan", &["staff"]);
    let refused = hedge.refused(&["alerts", "ack", &id_text, "--note", "spoke to the pupil"]);
    assert!(refused.contains("needs the safeguarding role"), "{refused}");
    hedge.ok(&["people", "roles", "Ms Khan", "--role", "safeguarding"]);
    let refused = hedge.refused(&[
        "alerts",
        "ack",
        &id_text,
        "--by",
        "Mr Smith",
        "--note",
        "spoke to the pupil",
    ]);
    assert!(refused.contains("acts as Ms Khan"), "{refused}");
    let refused = hedge.refused(&["alerts", "ack", &id_text, "--by", "Ms Khan", "--note", "ok"]);
    assert!(refused.contains("note"), "{refused}");
    let acked = hedge.ok(&[
        "alerts",
        "ack",
        &id_text,
        "--by",
        "Ms Khan",
        "--note",
        "spoke to the pupil and their parents",
    ]);
    assert!(acked.contains("acknowledged by Ms Khan"), "{acked}");
    assert!(alerts(&hedge, &["--open"]).is_empty());
    let audit: Vec<Value> = serde_json::from_str(&hedge.ok(&["audit", "list", "--json"])).unwrap();
    let row = audit
        .iter()
        .find(|r| r["action"] == "alert.acknowledged")
        .expect("the acknowledgement is in the audit trail");
    assert_eq!(row["person"], "Ms Khan");
    hedge.ok(&["audit", "verify"]);

    // After an acknowledgement the next attempt is a new alert.
    ask(&hedge, local(5), "adult.upstream.example.").await;
    let posts = webhook.wait_for(2).await;
    assert_eq!(
        posts.len(),
        2,
        "one post for the burst, one for the new alert"
    );
    let list = alerts(&hedge, &["--open"]);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_ne!(list[0]["id"].as_i64().unwrap(), id);
    let shown = hedge.ok(&["alerts", "show", &id_text]);
    assert!(shown.contains("acknowledged by Ms Khan"), "{shown}");
    assert!(shown.contains("attempts:   10"), "{shown}");
}

#[tokio::test]
async fn a_failing_webhook_is_retried_and_answers_go_on() {
    let upstream = TestUpstream::start().await;
    // Two failures, then success.
    let webhook = Webhook::start(&[500, 503]).await;
    let alerts_config = format!(
        "syslog = false\n[[alerts.webhooks]]\nurl = \"{}\"\ntimeout_secs = 2\nattempts = 4\n",
        webhook.url
    );
    let hedge = Hedge::start_with(&config(upstream.addr, &alerts_config, ""), FILES).await;
    // An alert raised before the database opens is delivered but not
    // stored; this test reads the stored ones.
    hedge.wait_for_database().await;
    ask(&hedge, local(6), "adult.upstream.example.").await;
    // While the retries wait, answering goes on.
    for _ in 0..20 {
        ask(&hedge, local(7), "www.upstream.example.").await;
    }
    let posts = webhook.wait_for(3).await;
    assert_eq!(posts.len(), 3);
    assert!(posts.iter().all(|p| p["client"] == "127.0.0.6"));
    for () in patiently() {
        let list = alerts(&hedge, &[]);
        let delivery = &list[0]["deliveries"][0];
        if delivery["state"] == "delivered" {
            assert_eq!(delivery["attempts"], 3);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the delivery was never recorded as delivered");
}

/// Prometheus text: every sample line is `name{labels} value`, each family
/// declared by `# TYPE` before its samples. The samples by name and labels.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            types.insert(name.to_string(), kind.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(
            !line.is_empty() && !line.starts_with('#'),
            "stray line {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').expect("name value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("a number in {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "no # TYPE before {line}");
        if let Some(labels) = series.strip_prefix(name)
            && !labels.is_empty()
        {
            assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
            for pair in labels[1..labels.len() - 1].split("\",") {
                let (label, value) = pair.split_once("=\"").expect("label=\"value\"");
                assert!(label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                assert!(!value.trim_end_matches('"').contains('\n'));
            }
        }
        samples.insert(series.to_string(), value);
    }
    samples
}

async fn scrape(address: SocketAddr) -> HashMap<String, f64> {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    parse_prometheus(body)
}

#[tokio::test]
async fn metrics_parse_and_follow_the_queries() {
    let upstream = TestUpstream::start().await;
    let metrics = free_addr("127.0.0.1:0".parse().unwrap());
    let extra = format!("[metrics]\nlisten = \"{metrics}\"\n");
    let hedge = Hedge::start_with(&config(upstream.addr, "syslog = false", &extra), FILES).await;
    // The alert below is counted open once stored: the database first.
    hedge.wait_for_database().await;

    let before = scrape(metrics).await;
    for _ in 0..3 {
        ask(&hedge, local(5), "bet.upstream.example.").await;
    }
    ask(&hedge, local(5), "adult.upstream.example.").await;
    ask(&hedge, local(5), "www.upstream.example.").await;
    ask(&hedge, local(5), "www.upstream.example.").await;
    // Counters are bumped after the answer is sent: poll briefly.
    let mut after = scrape(metrics).await;
    for () in patiently() {
        if after.get("hedge_alerts_open") == Some(&1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = scrape(metrics).await;
    }
    let moved = |series: &str| {
        after.get(series).copied().unwrap_or(0.0) - before.get(series).copied().unwrap_or(0.0)
    };
    assert_eq!(
        moved("hedge_queries_total{group=\"pupils\",action=\"blocked\"}"),
        4.0
    );
    assert_eq!(
        moved("hedge_queries_total{group=\"pupils\",action=\"allowed\"}"),
        2.0
    );
    assert_eq!(moved("hedge_blocked_total{category=\"gambling\"}"), 3.0);
    assert_eq!(moved("hedge_blocked_total{category=\"pornography\"}"), 1.0);
    assert_eq!(moved("hedge_cache_misses_total"), 1.0);
    assert_eq!(moved("hedge_cache_hits_total"), 1.0);
    assert_eq!(moved("hedge_upstream_latency_seconds_count"), 1.0);
    assert_eq!(
        after["hedge_upstream_latency_seconds_bucket{le=\"+Inf\"}"],
        after["hedge_upstream_latency_seconds_count"]
    );
    // The two list names, and the built-in circumvention names.
    assert!(after["hedge_index_names"] >= 2.0);
    assert_eq!(after["hedge_alerts_open"], 1.0);
    assert!(after.contains_key("hedge_log_dropped_total"));
    assert!(after.contains_key("hedge_exemptions_active"));
    assert!(after["hedge_last_reload_timestamp_seconds"] > 1.7e9);

    // Anything but /metrics is not found; the server keeps answering.
    let mut stream = tokio::net::TcpStream::connect(metrics).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    ask(&hedge, local(5), "www.upstream.example.").await;
}
