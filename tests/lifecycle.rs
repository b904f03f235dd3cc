//! The server's life: checking a config, refusing a bad one, reloading on
//! SIGHUP without dropping queries, stopping gracefully on SIGTERM, and
//! recursion from the root.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

const ZONE: &str = "$ORIGIN school.lan.\n$TTL 60\n\
@ IN SOA hedge.school.lan. admin.school.lan. 1 3600 600 604800 300\n\
@ IN NS hedge.school.lan.\n\
printer IN A 192.168.1.20\n";

fn zone_config(upstream: std::net::SocketAddr) -> String {
    config_text(
        &[],
        upstream,
        "rate_limit_qps = 0",
        "[[zones]]\nname = \"school.lan\"\nfile = \"school.zone\"\n",
    )
    .replace("listen = []", "listen = [\"LISTEN\"]")
}

#[test]
fn config_check_reports_every_problem_with_line_and_key() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("hedge.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = [\"127.0.0.1:5353\", \"nowhere\"]\nallow_networks = [\"10.0.0.0/40\"]\n\n[upstream]\nservers = [\"192.0.2.1\"]\n",
    )
    .unwrap();
    let out = run_hedge(&["config", "check"], &path);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 problems"), "{err}");
    assert!(
        err.contains("hedge.toml:2: server.listen: \"nowhere\""),
        "{err}"
    );
    assert!(
        err.contains("hedge.toml:3: server.allow_networks: \"10.0.0.0/40\""),
        "{err}"
    );

    // serve refuses the same file with the same words, before binding anything.
    let out = run_hedge(&["serve"], &path);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hedge.toml:2: server.listen"));

    // An unknown key is an error, not ignored.
    std::fs::write(
        &path,
        "[upstream]\nservers = [\"192.0.2.1\"]\ncache_sise = 5\n",
    )
    .unwrap();
    let out = run_hedge(&["config", "check"], &path);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("hedge.toml:3: upstream.cache_sise: unknown field `cache_sise`"),
        "{err}"
    );

    // A bound that would stop every upstream lookup.
    std::fs::write(
        &path,
        "[upstream]\nservers = [\"192.0.2.1\"]\nmax_pending = 0\n",
    )
    .unwrap();
    let out = run_hedge(&["config", "check"], &path);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("hedge.toml:3: upstream.max_pending: 0 is out of range: from 1 to 65536"),
        "{err}"
    );
}

#[test]
fn config_check_reads_zone_files_and_accepts_good_config() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("hedge.toml");
    std::fs::write(dir.path().join("school.zone"), ZONE).unwrap();
    std::fs::write(
        &path,
        "[upstream]\nservers = [\"192.0.2.1\"]\n[[zones]]\nname = \"school.lan\"\nfile = \"school.zone\"\n",
    )
    .unwrap();
    let out = run_hedge(&["config", "check"], &path);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));

    std::fs::write(
        dir.path().join("school.zone"),
        "$ORIGIN school.lan.\nprinter IN A not-an-address\n",
    )
    .unwrap();
    let out = run_hedge(&["config", "check"], &path);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("zone school.lan."), "{err}");
    assert!(err.contains("school.zone"), "{err}");

    let out = run_hedge(&["config", "check"], &dir.path().join("missing.toml"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read configuration"));

    let out = std::process::Command::new(hedge_bin())
        .args(["config", "chek"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "bad usage exits 2");
}

#[test]
fn the_example_config_checks_clean() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let out = run_hedge(&["config", "check"], &path);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_zones_without_dropping_queries_and_keeps_a_good_config() {
    let upstream = TestUpstream::start().await;
    let hedge = Hedge::start_with(&zone_config(upstream.addr), &[("school.zone", ZONE)]).await;

    // Keep querying from another task for the whole test; count failures.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let load = {
        let (stop, failures, answered, addr) =
            (stop.clone(), failures.clone(), answered.clone(), hedge.addr);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let reply = udp_exchange_from(
                    local(7),
                    addr,
                    &query("printer.school.lan.", RecordType::A),
                    PATIENCE,
                )
                .await;
                match reply {
                    Some(r) if r.metadata.response_code == ResponseCode::NoError => {
                        answered.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => failures.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };

    let reply = udp(hedge.addr, &query("newhost.school.lan.", RecordType::A)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);

    std::fs::write(
        hedge.path("school.zone"),
        format!("{ZONE}newhost IN A 192.168.1.99\n"),
    )
    .unwrap();
    let mark = hedge.log_mark();
    hedge.signal("HUP");
    hedge.wait_for_log_after(mark, "reloaded:").await;
    let reply = udp(hedge.addr, &query("newhost.school.lan.", RecordType::A)).await;
    assert_eq!(addresses(&reply), ["192.168.1.99"]);

    // A broken config is reported and the running one kept.
    let good = std::fs::read_to_string(&hedge.config_path).unwrap();
    std::fs::write(&hedge.config_path, format!("{good}\n[server]\nbogus = 1\n")).unwrap();
    let mark = hedge.log_mark();
    hedge.signal("HUP");
    hedge
        .wait_for_log_after(mark, "keeping the running configuration")
        .await;
    let reply = udp(hedge.addr, &query("newhost.school.lan.", RecordType::A)).await;
    assert_eq!(
        addresses(&reply),
        ["192.168.1.99"],
        "{reply:?}\n{}",
        hedge.log()
    );

    // A broken zone file too.
    std::fs::write(&hedge.config_path, &good).unwrap();
    std::fs::write(hedge.path("school.zone"), "garbage line\n").unwrap();
    let mark = hedge.log_mark();
    hedge.signal("HUP");
    hedge.wait_for_log_after(mark, "zone school.lan.").await;
    let reply = udp(hedge.addr, &query("newhost.school.lan.", RecordType::A)).await;
    assert_eq!(
        addresses(&reply),
        ["192.168.1.99"],
        "{reply:?}\n{}",
        hedge.log()
    );

    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "no query failed across reloads"
    );
    assert!(answered.load(Ordering::Relaxed) > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn once_answering_it_gives_back_its_start_up_code_and_goes_on_answering() {
    let upstream = TestUpstream::start().await;
    let hedge = Hedge::start_with(&zone_config(upstream.addr), &[("school.zone", ZONE)]).await;
    hedge.wait_for_log("start-up code ").await;
    let log = hedge.log();
    if let Some(line) = log.lines().find(|l| l.contains("start-up code stays")) {
        eprintln!("skipped: this kernel keeps it: {line}");
        return;
    }
    let line = log
        .lines()
        .find(|l| l.contains("start-up code given back"))
        .unwrap();
    let kib: Vec<u64> = line
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    // Pages other hedge processes of this test run map too stay, so the
    // drop itself is measured where the program is its own (a unit test).
    assert!(
        matches!(kib[..], [before, after] if before > 0 && after <= before),
        "{line}"
    );
    // The code serving runs comes back at its first use, a reload's too.
    for _ in 0..2 {
        let reply = udp(hedge.addr, &query("printer.school.lan.", RecordType::A)).await;
        assert_eq!(addresses(&reply), ["192.168.1.20"]);
        let reply = udp(hedge.addr, &query("www.upstream.example.", RecordType::A)).await;
        assert_eq!(addresses(&reply), ["192.0.2.10"]);
        let mark = hedge.log_mark();
        hedge.signal("HUP");
        hedge.wait_for_log_after(mark, "reloaded:").await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_answers_queries_in_flight_then_exits_cleanly() {
    // An upstream that never answers holds a query in flight: for five
    // seconds (its timeout), well within the 10 s hedge gives queries in
    // flight when it stops.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let config = config_text(&[], silent_addr, "", "")
        .replace("listen = []", "listen = [\"LISTEN\"]")
        .replace("timeout_ms = 400", "timeout_ms = 5000");
    let hedge = Hedge::start(&config).await;

    let addr = hedge.addr;
    let in_flight = tokio::spawn(async move {
        udp_exchange_from(
            local(1),
            addr,
            &query("slow.example.", RecordType::A),
            PATIENCE,
        )
        .await
    });
    // The query is in flight once the upstream has it.
    let mut buf = [0u8; 512];
    tokio::time::timeout(PATIENCE, silent.recv_from(&mut buf))
        .await
        .expect("the query reaches the upstream")
        .unwrap();
    let status = hedge.terminate();
    assert!(status.success(), "exit status {status}");
    let reply = in_flight
        .await
        .unwrap()
        .expect("the query in flight was answered");
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    drop(silent);
}

/// The recursor always asks port 53, so this test serves a root zone on
/// 127.0.0.153:53, which needs root (as in CI). It skips otherwise.
#[tokio::test(flavor = "multi_thread")]
async fn recursive_mode_resolves_from_the_root_hints() {
    let root_addr: std::net::SocketAddr = "127.0.0.153:53".parse().unwrap();
    if std::net::UdpSocket::bind(root_addr).is_err()
        || std::net::TcpListener::bind(root_addr).is_err()
    {
        eprintln!("skipped: cannot bind {root_addr} (needs root)");
        return;
    }
    let root_zone = "$ORIGIN .\n$TTL 300\n\
. IN SOA a.root-servers.test. admin.root-servers.test. 1 3600 600 86400 60\n\
. IN NS a.root-servers.test.\n\
a.root-servers.test. IN A 127.0.0.153\n\
www.upstream.example. IN A 192.0.2.10\n";
    let _root = TestUpstream::start_on(root_addr, ".", root_zone).await;
    let hints =
        ".  3600000  NS  a.root-servers.test.\na.root-servers.test.  3600000  A  127.0.0.153\n";
    // This root is not the real one: the real root key (validate, the
    // default when recursing) would rightly call every answer bogus.
    let config = "[server]\nlisten = [\"LISTEN\"]\n\n[upstream]\nmode = \"recursive\"\nroot_hints = \"root.hints\"\n\
recursor_allow_servers = [\"127.0.0.0/8\"]\ntimeout_ms = 1000\ndnssec = \"off\"\n";
    let hedge = Hedge::start_with(config, &[("root.hints", hints)]).await;

    let reply = udp(hedge.addr, &query("www.upstream.example.", RecordType::A)).await;
    assert_eq!(
        reply.metadata.response_code,
        ResponseCode::NoError,
        "{}",
        hedge.log()
    );
    assert_eq!(addresses(&reply), ["192.0.2.10"]);
    let reply = udp(
        hedge.addr,
        &query("nothing.upstream.example.", RecordType::A),
    )
    .await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_socket_never_replaces_a_file_or_a_live_server() {
    let upstream = TestUpstream::start().await;
    let config =
        config_text(&[], upstream.addr, "", "").replace("listen = []", "listen = [\"LISTEN\"]");
    let hedge = Hedge::start(&config).await;

    // A second server on the same admin socket refuses to start.
    let out = run_hedge(&["serve"], &hedge.config_path);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another hedge is already serving"));

    // A regular file where the socket should be is left alone.
    let dir = tempfile::TempDir::new().unwrap();
    let precious = dir.path().join("precious.txt");
    std::fs::write(&precious, "keep me").unwrap();
    let path = dir.path().join("hedge.toml");
    std::fs::write(
        &path,
        format!("[server]\nlisten = [\"127.0.0.1:0\"]\n[upstream]\nservers = [\"{}\"]\n[admin]\nsocket = \"precious.txt\"\n", upstream.addr),
    )
    .unwrap();
    let out = run_hedge(&["serve"], &path);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a socket"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    drop(hedge);
}
