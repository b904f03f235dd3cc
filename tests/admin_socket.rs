//! The admin socket's framing: each request line may be up to 64 KiB, and
//! that limit is per line, not per connection; a longer line is refused
//! with a reason the peer can read, and the connection closed. And a
//! request the service refuses is refused before anything is recorded.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::*;
use serde_json::Value;

fn exchange(reader: &mut BufReader<UnixStream>, line: &str) -> Value {
    let stream = reader.get_mut();
    stream.write_all(line.as_bytes()).unwrap();
    stream.write_all(b"\n").unwrap();
    let mut answer = String::new();
    reader.read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer:?}"))
}

#[tokio::test]
async fn the_request_limit_is_per_line() {
    let upstream = TestUpstream::start().await;
    let hedge = Hedge::start(
        &config_text(&[], upstream.addr, "", "[admin]\nsocket = \"admin.sock\"\n")
            .replace("listen = []", "listen = [\"LISTEN\"]"),
    )
    .await;
    let stream = UnixStream::connect(hedge.path("admin.sock")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut reader = BufReader::new(stream);

    // 200 requests of about 1 KiB each: 200 KiB on one connection, every
    // one answered.
    let padded = format!(
        "{{\"command\":\"reload\",\"cause\":\"{}\"}}",
        "x".repeat(1000)
    );
    for _ in 0..200 {
        let answer = exchange(&mut reader, &padded);
        assert_eq!(answer["ok"], true, "{answer}");
    }

    // One line of 63 KiB, just under the limit: answered.
    let near = format!(
        "{{\"command\":\"reload\",\"cause\":\"{}\"}}",
        "x".repeat(63 * 1024)
    );
    assert_eq!(exchange(&mut reader, &near)["ok"], true);

    // One line over 64 KiB: refused, saying why (the peer reads the reason
    // even while still writing), then the connection ends.
    let long = format!(
        "{{\"command\":\"reload\",\"cause\":\"{}\"}}",
        "x".repeat(70 * 1024)
    );
    let answer = exchange(&mut reader, &long);
    assert_eq!(answer["ok"], false);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("longer than 64 KiB"),
        "{answer}"
    );
    let mut rest = String::new();
    assert_eq!(reader.read_line(&mut rest).unwrap(), 0, "{rest}");

    // Another connection is served as before.
    let mut fresh = BufReader::new(UnixStream::connect(hedge.path("admin.sock")).unwrap());
    assert_eq!(exchange(&mut fresh, "{\"command\":\"status\"}")["ok"], true);
}

#[tokio::test]
async fn a_report_that_cannot_be_answered_is_refused_before_it_is_recorded() {
    let upstream = TestUpstream::start().await;
    let hedge = Hedge::start(
        &config_text(&[], upstream.addr, "", "[admin]\nsocket = \"admin.sock\"\n")
            .replace("listen = []", "listen = [\"LISTEN\"]"),
    )
    .await;
    hedge.wait_for_database().await;
    // Reports are for the safeguarding lead.
    hedge.person("A. Lead", &["safeguarding"]);
    let mut reader = BufReader::new(UnixStream::connect(hedge.path("admin.sock")).unwrap());
    let backwards = exchange(
        &mut reader,
        r#"{"command":"report","request":{"from_ms":2000000,"to_ms":1000000,"group":null,"time_zone":null}}"#,
    );
    assert_eq!(backwards["ok"], false);
    assert!(
        backwards["error"]
            .as_str()
            .unwrap()
            .contains("end must be after its start"),
        "{backwards}"
    );
    let zone = exchange(
        &mut reader,
        r#"{"command":"report","request":{"from_ms":1000000,"to_ms":2000000,"group":null,"time_zone":"Mars/Olympus"}}"#,
    );
    assert_eq!(zone["ok"], false);
    assert!(
        zone["error"].as_str().unwrap().contains("Mars/Olympus"),
        "{zone}"
    );
    // Neither was recorded as a reading of the query log.
    let access: Vec<Value> =
        serde_json::from_str(&hedge.ok(&["logs", "access", "--json"])).unwrap();
    assert!(access.is_empty(), "{access:?}");
}
