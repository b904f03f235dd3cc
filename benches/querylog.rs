//! Query-log benchmarks: the rate of logged queries the writer keeps up
//! with, and the time of a time-slot + address-range search over a large
//! log. Each figure comes with a reference measured in the same run.
//!
//! `cargo bench --bench querylog` (HEDGE_BENCH_ROWS sets the size of the
//! large log, default 10,000,000; HEDGE_BENCH_DIR where it is built,
//! default target/bench-querylog).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hedge::store::{Action, Database, LogFilter, QueryRecord, Storage, spawn_writer};
use sqlx::Connection;

const DAY_MS: i64 = 86_400_000;
/// 2026-09-01T00:00:00Z: the start of the generated term.
const START_MS: i64 = 1_788_220_800_000;

/// Names clients ask for: the OpenDNS sets in ../shared/data, or generated
/// names when they are not there.
fn names() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/queries");
    let mut names = Vec::new();
    for file in ["opendns-top-domains.txt", "opendns-random-domains.txt"] {
        if let Ok(text) = std::fs::read_to_string(dir.join(file)) {
            names.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_ascii_lowercase),
            );
        }
    }
    if names.is_empty() {
        names = (0..20_000).map(|i| format!("site{i}.example")).collect();
    }
    names
}

/// A small deterministic generator (xorshift), so every run logs the same.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One generated entry: 1,000 pupils' devices in 10.1.0.0/22 and 250 staff
/// devices in 10.2.0.0/24; one in ten queries blocked.
fn entry(dice: &mut Dice, names: &[String], at_ms: i64) -> QueryRecord {
    let pupil = dice.below(5) < 4;
    let (client, group) = if pupil {
        let n = dice.below(1000) as u32;
        (Ipv4Addr::from(0x0A01_0000 + n + 1), "pupils")
    } else {
        (
            Ipv4Addr::from(0x0A02_0000 + dice.below(250) as u32 + 1),
            "staff",
        )
    };
    let blocked = dice.below(10) == 0;
    let name = names[dice.below(names.len() as u64) as usize].clone();
    QueryRecord {
        at_ms,
        client: IpAddr::V4(client),
        client_name: None,
        mac: None,
        group: Some(group.into()),
        rule: blocked.then(|| format!("list entry {name}")),
        name,
        qtype: if dice.below(3) == 0 { 28 } else { 1 },
        action: if blocked {
            Action::Blocked
        } else {
            Action::Allowed
        },
        category: blocked.then(|| "advertising".to_string()),
        rcode: 0,
        upstream_us: (!blocked).then(|| 1000 + dice.below(30_000) as u32),
    }
}

fn fresh_dir(base: &Path, name: &str) -> PathBuf {
    let dir = base.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn wait_written(log: &hedge::store::QueryLog, count: u64, limit: Duration) -> bool {
    let start = Instant::now();
    while log.written() + log.dropped() < count {
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

/// The writer at full speed, then at steady rates with the default queue.
async fn writer(base: &Path, names: &[String]) {
    const BURST: u64 = 1_000_000;
    let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
    let entries: Vec<QueryRecord> = (0..BURST)
        .map(|i| entry(&mut dice, names, START_MS + i as i64))
        .collect();

    // Reference: the same rows, one INSERT statement each, in one
    // transaction (what a writer without multi-row batches does at best).
    let dir = fresh_dir(base, "reference");
    let database = Database::open(&dir.join("log.db")).await.unwrap();
    let mut connection = database.connect().await.unwrap();
    let reference_rows = 200_000;
    let start = Instant::now();
    let mut transaction = connection.begin().await.unwrap();
    for e in &entries[..reference_rows] {
        sqlx::query(
            "INSERT INTO queries (at_ms, client_ip, client_name, group_name, name_key, qtype, \
             action, category, rule, rcode, upstream_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(e.at_ms)
        .bind(hedge::store::ip_key(e.client).to_vec())
        .bind(e.client_name.as_deref())
        .bind(e.group.as_deref())
        .bind(hedge::store::name_key(&e.name))
        .bind(i64::from(e.qtype))
        .bind(e.action.as_str())
        .bind(e.category.as_deref())
        .bind(e.rule.as_deref())
        .bind(i64::from(e.rcode))
        .bind(e.upstream_us.map(i64::from))
        .execute(&mut *transaction)
        .await
        .unwrap();
    }
    transaction.commit().await.unwrap();
    let reference = reference_rows as f64 / start.elapsed().as_secs_f64();
    drop(connection);
    database.close().await;

    // The writer, fed a million entries at once through a queue that
    // holds them all.
    let dir = fresh_dir(base, "burst");
    let storage = Arc::new(Storage::new(dir.join("log.db")));
    storage.try_open().await.unwrap();
    let (log, handle) = spawn_writer(storage.clone(), BURST as usize, Duration::ZERO);
    let start = Instant::now();
    for e in &entries {
        log.record(e.clone());
    }
    assert!(wait_written(&log, BURST, Duration::from_secs(300)).await);
    let burst = BURST as f64 / start.elapsed().as_secs_f64();
    assert_eq!(log.dropped(), 0);
    handle.finish().await;
    println!(
        "writer, 1,000,000 entries at once: {burst:.0} rows/s; reference (one INSERT per row, one transaction): {reference:.0} rows/s; ratio {:.2}",
        burst / reference
    );

    // Steady rates for 10 s each through the default queue (65,536), on a
    // log that already holds the million rows above.
    for fraction in [0.5, 0.8, 1.0] {
        let rate = (burst * fraction) as u64;
        let (log, handle) = spawn_writer(storage.clone(), 65_536, Duration::ZERO);
        let seconds = 10;
        let per_tick = rate / 1000;
        let mut sent = 0u64;
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut i = 0usize;
        while start.elapsed() < Duration::from_secs(seconds) {
            tick.tick().await;
            for _ in 0..per_tick {
                let mut e = entries[i % entries.len()].clone();
                e.at_ms = START_MS + 10 * DAY_MS + sent as i64;
                log.record(e);
                i += 1;
                sent += 1;
            }
        }
        let caught_up = wait_written(&log, sent, Duration::from_secs(60)).await;
        println!(
            "writer, steady {rate} entries/s ({:.0}% of the burst rate) for {seconds} s: {} sent, {} dropped{}",
            fraction * 100.0,
            sent,
            log.dropped(),
            if caught_up {
                ""
            } else {
                ", not caught up after 60 s"
            }
        );
        handle.finish().await;
    }
}

/// Builds a log of `rows` rows over a 90-day term and times searches on it.
async fn search(base: &Path, names: &[String], rows: u64) {
    let dir = base.join("large");
    let path = dir.join("log.db");
    let marker = dir.join(format!("complete-{rows}"));
    if !marker.exists() {
        let dir = fresh_dir(base, "large");
        let database = Database::open(&dir.join("log.db")).await.unwrap();
        let mut dice = Dice(0x2545_f491_4f6c_dd1d);
        let step = 90 * DAY_MS / rows as i64;
        let start = Instant::now();
        let chunk = 50_000u64;
        let mut batch = Vec::with_capacity(chunk as usize);
        for i in 0..rows {
            batch.push(entry(&mut dice, names, START_MS + i as i64 * step));
            if batch.len() as u64 == chunk {
                database.insert_queries(&batch).await.unwrap();
                batch.clear();
            }
        }
        database.insert_queries(&batch).await.unwrap();
        sqlx::query("PRAGMA optimize")
            .execute(database.pool())
            .await
            .unwrap();
        println!(
            "built a log of {rows} rows in {:.1} s ({:.0} rows/s, 50,000 per transaction); file {} MB",
            start.elapsed().as_secs_f64(),
            rows as f64 / start.elapsed().as_secs_f64(),
            std::fs::metadata(dir.join("log.db")).unwrap().len() / 1_000_000
        );
        database.close().await;
        std::fs::write(&marker, b"").unwrap();
    }
    let database = Database::open(&path).await.unwrap();
    let slot_from = START_MS + 45 * DAY_MS + 10 * 3_600_000;
    let slot = LogFilter {
        from_ms: Some(slot_from),
        to_ms: Some(slot_from + 3_600_000),
        client: Some("10.1.1.0/24".parse().unwrap()),
        ..Default::default()
    };
    let time = |filter: LogFilter| {
        let database = database.clone();
        async move {
            let mut times = Vec::new();
            let mut count = 0;
            for _ in 0..5 {
                let start = Instant::now();
                count = database.search_all(&filter).await.unwrap().len();
                times.push(start.elapsed());
            }
            times.sort();
            (times[2], count)
        }
    };
    let (all, all_rows) = time(slot.clone()).await;
    let (first, first_rows) = time(LogFilter {
        limit: Some(100),
        ..slot.clone()
    })
    .await;
    let (suffix, suffix_rows) = time(LogFilter {
        name: Some(hedge::store::NamePattern::Suffix("google.com".into())),
        limit: Some(100),
        ..Default::default()
    })
    .await;
    let (one, one_rows) = time(LogFilter {
        client: Some("10.1.0.77/32".parse().unwrap()),
        limit: Some(100),
        ..Default::default()
    })
    .await;
    // Reference: the slot's rows found by reading the whole table.
    let start = Instant::now();
    let (lo, hi) = (
        hedge::store::ip_key("10.1.1.0".parse().unwrap()).to_vec(),
        hedge::store::ip_key("10.1.1.255".parse().unwrap()).to_vec(),
    );
    let scanned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM queries NOT INDEXED WHERE at_ms >= ? AND at_ms < ? \
         AND client_ip BETWEEN ? AND ?",
    )
    .bind(slot_from)
    .bind(slot_from + 3_600_000)
    .bind(lo)
    .bind(hi)
    .fetch_one(database.pool())
    .await
    .unwrap();
    let scan = start.elapsed();
    assert_eq!(scanned as usize, all_rows);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("search over {rows} rows (median of 5):");
    println!(
        "  one hour, 10.1.1.0/24, every row: {:.1} ms ({all_rows} rows)",
        ms(all)
    );
    println!(
        "  one hour, 10.1.1.0/24, newest 100: {:.1} ms ({first_rows} rows)",
        ms(first)
    );
    println!(
        "  *.google.com, newest 100: {:.1} ms ({suffix_rows} rows)",
        ms(suffix)
    );
    println!(
        "  one client, newest 100: {:.1} ms ({one_rows} rows)",
        ms(one)
    );
    println!(
        "  reference, the hour's rows by reading the whole table: {:.1} ms; ratio {:.4}",
        ms(scan),
        ms(all) / ms(scan)
    );
    database.close().await;
}

/// A 90-day report over the large log, against one plain read of the
/// whole table (the least any report over every row must do).
async fn report(base: &Path, rows: u64) {
    let path = base.join("large").join("log.db");
    if !base.join("large").join(format!("complete-{rows}")).exists() {
        println!("report: build the large log first (HEDGE_BENCH_ONLY=search)");
        return;
    }
    let database = Database::open(&path).await.unwrap();
    let request = hedge::store::ReportRequest {
        from_ms: START_MS,
        to_ms: START_MS + 90 * DAY_MS,
        group: None,
        time_zone: Some("Europe/London".into()),
    };
    let context = hedge::store::ReportContext {
        site: "bench".into(),
        // Every blocked row of the generated log is in this category:
        // the clients pass reads all of them.
        safeguarding: vec!["advertising".into()],
        retention_days: 90,
        ..Default::default()
    };
    let mut times = Vec::new();
    let mut counted = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let report = database.report(&request, &context).await.unwrap();
        times.push(start.elapsed());
        counted = report.totals.queries;
    }
    times.sort();
    let start = Instant::now();
    let (all, blocked): (i64, i64) =
        sqlx::query_as("SELECT count(*), sum(action = 'blocked') FROM queries NOT INDEXED")
            .fetch_one(database.pool())
            .await
            .unwrap();
    let scan = start.elapsed();
    assert_eq!(all as u64, counted);
    println!("report over 90 days, {counted} rows ({blocked} blocked), median of 3:");
    println!(
        "  report: {:.2} s; reference, one read of the whole table: {:.2} s; ratio {:.2}",
        times[1].as_secs_f64(),
        scan.as_secs_f64(),
        times[1].as_secs_f64() / scan.as_secs_f64()
    );
    database.close().await;
}

fn main() {
    // `cargo bench` passes --bench; anything else (cargo test's listing) runs
    // nothing.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rows: u64 = std::env::var("HEDGE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let base = std::env::var_os("HEDGE_BENCH_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-querylog"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&base).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let names = names();
    // HEDGE_BENCH_ONLY=writer, =search or =report runs one part.
    let only = std::env::var("HEDGE_BENCH_ONLY").unwrap_or_default();
    runtime.block_on(async {
        if only.is_empty() || only == "writer" {
            writer(&base, &names).await;
        }
        if only != "writer" && only != "report" {
            search(&base, &names, rows).await;
        }
        if only != "writer" && only != "search" {
            report(&base, rows).await;
        }
    });
}
