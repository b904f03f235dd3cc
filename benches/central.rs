//! Central-store benchmarks: many sites shipping into one PostgreSQL at
//! once (against a plain COPY of the same rows), catching up after an
//! outage while new rows keep arriving, and searches and reports over a
//! large central query log (against a count of the rows they choose from).
//!
//! Needs a PostgreSQL it may fill and empty: `bash benches/central.sh`
//! makes a throwaway cluster and runs this with
//! `HEDGE_CENTRAL_URL=postgres://USER@127.0.0.1:PORT/DB` and
//! `HEDGE_CENTRAL_PASSWORD_FILE=FILE`. Other settings, all optional:
//! `HEDGE_BENCH_ONLY` (`ship`, `catchup` or `search`), `HEDGE_BENCH_SITES`
//! (50), `HEDGE_BENCH_SITE_ROWS` (60,000 rows per site), `HEDGE_BENCH_RATES`
//! (logged rows a second during catch-up, `300,1500`),
//! `HEDGE_BENCH_OUTAGE_S` (600), `HEDGE_BENCH_CENTRAL_ROWS` (50,000,000),
//! `HEDGE_BENCH_KEEP_FREE_GB` (10: the large log is made smaller if the
//! disk would keep less), `HEDGE_BENCH_DIR` (the sites' SQLite files,
//! default target/bench-central), `HEDGE_BIN` (the hedge binary timed,
//! default the one cargo built with this).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hedge::config::Mac;
use hedge::store::central::{
    CentralAddress, CentralFilter, Shipper, backlog, init, make_partitions, search,
};
use hedge::store::{Action, Database, LogFilter, LogRow, NamePattern, QueryRecord, name_key};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Connection, Executor};

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
/// Rows of one table per shipping round, as the live loop
/// (`src/service/central.rs`).
const BATCH: usize = 5000;
/// The live loop's pause when nothing more waits.
const IDLE: Duration = Duration::from_secs(2);
const CATEGORIES: [&str; 5] = ["advertising", "social", "gaming", "adult", "proxy"];

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace(['_', ','], "").parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn day_of(at_ms: i64) -> i64 {
    at_ms - at_ms.rem_euclid(DAY_MS)
}

fn address() -> CentralAddress {
    CentralAddress {
        url: std::env::var("HEDGE_CENTRAL_URL")
            .expect("HEDGE_CENTRAL_URL: the PostgreSQL to benchmark (bash benches/central.sh)"),
        password_file: std::env::var_os("HEDGE_CENTRAL_PASSWORD_FILE").map(PathBuf::from),
    }
}

async fn admin_pool(connections: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(connections)
        .connect_with(
            address()
                .options()
                .unwrap()
                .options([("statement_timeout", "0")]),
        )
        .await
        .unwrap()
}

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
        eprintln!("../shared/data/queries is absent: generated names instead");
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

/// One logged row at a site: 1,000 pupils' devices in 10.1.0.0/22 and 250
/// staff devices in 10.2.0.0/24 (staff named, half of all devices with a
/// known MAC address); one row in ten blocked, in one of five categories;
/// one in four a row of 2 to 8 repeats.
fn row(dice: &mut Dice, names: &[String], site: u32, at_ms: i64) -> LogRow {
    let pupil = dice.below(5) < 4;
    let (client, group, device) = if pupil {
        let n = dice.below(1000) as u32;
        (Ipv4Addr::from(0x0A01_0000 + n + 1), "pupils", n)
    } else {
        let n = dice.below(250) as u32;
        (Ipv4Addr::from(0x0A02_0000 + n + 1), "staff", 1000 + n)
    };
    let blocked = dice.below(10) == 0;
    let name = names[dice.below(names.len() as u64) as usize].clone();
    let category = CATEGORIES[dice.below(CATEGORIES.len() as u64) as usize];
    let repeats = dice.below(4) == 0;
    let times = if repeats { 2 + dice.below(7) as u32 } else { 1 };
    LogRow {
        record: QueryRecord {
            at_ms,
            client: IpAddr::V4(client),
            client_name: (!pupil).then(|| format!("staff-{device}")),
            mac: (device % 2 == 0)
                .then(|| Mac::from_u64(0x0200_0000_0000 + (u64::from(site) << 16) + device as u64))
                .flatten(),
            group: Some(group.into()),
            rule: blocked.then(|| format!("list {category}")),
            name,
            qtype: if dice.below(3) == 0 { 28 } else { 1 },
            action: if blocked {
                Action::Blocked
            } else {
                Action::Allowed
            },
            category: blocked.then(|| category.to_string()),
            rcode: 0,
            upstream_us: (!blocked).then(|| 1000 + dice.below(30_000) as u32),
        },
        times,
        last_ms: repeats.then(|| at_ms + dice.below(10_000) as i64),
    }
}

/// A row as a line of `COPY ... FROM STDIN` (text format), in the columns
/// of [`COPY_COLUMNS`], as the shipper would send it.
fn copy_line(out: &mut String, site: &str, id: i64, row: &LogRow) {
    use std::fmt::Write;
    let r = &row.record;
    let text = |v: Option<&str>| v.map_or("\\N".to_string(), str::to_string);
    let number = |v: Option<i64>| v.map_or("\\N".to_string(), |n| n.to_string());
    writeln!(
        out,
        "{site}\t{id}\t{}\t{}\t{}\t{}\t\\N\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        r.at_ms,
        r.client,
        text(r.mac.map(|m| m.to_string()).as_deref()),
        text(r.client_name.as_deref()),
        text(r.group.as_deref()),
        name_key(&r.name),
        r.qtype,
        r.action.as_str(),
        text(r.category.as_deref()),
        text(r.rule.as_deref()),
        r.rcode,
        number(r.upstream_us.map(i64::from)),
        row.times,
        number(row.last_ms),
    )
    .unwrap();
}

const COPY_COLUMNS: &str = "site, id, at_ms, client_ip, mac, client_name, dhcp_name, group_name, \
                            name_key, qtype, action, category, rule, rcode, upstream_us, times, last_ms";

fn fresh_dir(base: &Path, name: &str) -> PathBuf {
    let dir = base.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn fill(database: &Database, rows: &[LogRow]) {
    for chunk in rows.chunks(5000) {
        database.insert_rows(chunk).await.unwrap();
    }
}

/// Empties the central query log and sites (the schema stays).
async fn empty_centre(pool: &PgPool) {
    pool.execute("TRUNCATE queries, sites").await.unwrap();
    pool.execute("CHECKPOINT").await.unwrap();
}

/// Many sites at once, each with its own shipper and pool of two
/// connections, against one COPY of the same rows into a plain table.
async fn ship(base: &Path, names: &[String], admin: &PgPool) {
    let sites = env_u64("HEDGE_BENCH_SITES", 50) as u32;
    let per_site = env_u64("HEDGE_BENCH_SITE_ROWS", 60_000) as usize;
    let total = sites as u64 * per_site as u64;
    // One school day, 08:00 to 16:00 UTC yesterday: one day partition.
    let start = day_of(now_ms()) - DAY_MS + 8 * HOUR_MS;
    let step = (8 * HOUR_MS) as f64 / per_site as f64;
    empty_centre(admin).await;

    println!("ship: filling {sites} site databases with {per_site} rows each");
    let dir = fresh_dir(base, "sites");
    let filled = Instant::now();
    let mut copy_text = String::with_capacity(total as usize * 150);
    let mut databases = Vec::new();
    let mut fills = tokio::task::JoinSet::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(2));
    for site in 0..sites {
        let name = format!("site-{site:02}");
        let mut dice = Dice(0x9e37_79b9_7f4a_7c15 ^ ((u64::from(site) + 1) * 0x1000_0001));
        let rows: Vec<LogRow> = (0..per_site)
            .map(|i| row(&mut dice, names, site, start + (i as f64 * step) as i64))
            .collect();
        for (i, r) in rows.iter().enumerate() {
            copy_line(&mut copy_text, &name, i as i64 + 1, r);
        }
        let database = Database::open(&dir.join(format!("{name}.db")))
            .await
            .unwrap();
        databases.push((name, database.clone()));
        let gate = gate.clone();
        fills.spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            fill(&database, &rows).await;
        });
    }
    fills.join_all().await;
    println!(
        "ship: {total} rows in {sites} SQLite logs in {:.1} s",
        filled.elapsed().as_secs_f64()
    );
    for (_, database) in &databases {
        let waiting = backlog(database).await.unwrap();
        assert_eq!(waiting.rows, per_site as u64);
    }

    // The reference: the same rows, one COPY (text format) on one
    // connection, into a plain (unpartitioned) table with the central
    // query log's columns, key and indexes.
    admin
        .execute(
            "DROP TABLE IF EXISTS queries_copy; \
             CREATE TABLE queries_copy (LIKE queries INCLUDING DEFAULTS); \
             ALTER TABLE queries_copy ADD PRIMARY KEY (site, at_ms, id); \
             CREATE INDEX ON queries_copy (at_ms); \
             CREATE INDEX ON queries_copy (client_ip, at_ms); \
             CREATE INDEX ON queries_copy (name_key, at_ms); \
             CREATE INDEX ON queries_copy (mac, at_ms) WHERE mac IS NOT NULL; \
             CREATE INDEX ON queries_copy (category, at_ms) WHERE category IS NOT NULL; \
             CHECKPOINT",
        )
        .await
        .unwrap();
    let mut connection = sqlx::PgConnection::connect_with(&address().options().unwrap())
        .await
        .unwrap();
    let began = Instant::now();
    let mut copy = connection
        .copy_in_raw(&format!(
            "COPY queries_copy ({COPY_COLUMNS}) FROM STDIN (FORMAT text)"
        ))
        .await
        .unwrap();
    let bytes = copy_text.as_bytes();
    let mut offset = 0;
    while offset < bytes.len() {
        // Whole lines, about 1 MiB at a time.
        let mut end = (offset + (1 << 20)).min(bytes.len());
        while end < bytes.len() && bytes[end - 1] != b'\n' {
            end += 1;
        }
        copy.send(&bytes[offset..end]).await.unwrap();
        offset = end;
    }
    let copied = copy.finish().await.unwrap();
    let copy_seconds = began.elapsed().as_secs_f64();
    assert_eq!(copied, total);
    drop(connection);
    let copy_rate = total as f64 / copy_seconds;
    println!(
        "ship: reference, one COPY of the {total} rows into a plain table: {copy_seconds:.1} s, {copy_rate:.0} rows/s"
    );
    drop(copy_text);
    admin
        .execute("DROP TABLE queries_copy; CHECKPOINT")
        .await
        .unwrap();

    // The sites: each its own task, shipper and pool of two connections
    // (what `CentralAddress::connect` makes), shipping rounds back to back
    // until its backlog is zero, all let go at once.
    let mut pools = Vec::new();
    for _ in 0..sites {
        let pool = address().connect().await.unwrap();
        pool.acquire().await.unwrap();
        pools.push(pool);
    }
    let go = Arc::new(tokio::sync::Barrier::new(sites as usize + 1));
    let mut tasks = tokio::task::JoinSet::new();
    for ((name, database), pool) in databases.into_iter().zip(pools) {
        let go = go.clone();
        tasks.spawn(async move {
            let mut shipper = Shipper::new(&name, BATCH);
            go.wait().await;
            let began = Instant::now();
            let mut rows = 0;
            let mut rounds = 0;
            loop {
                let round = shipper.round(&database, &pool, now_ms()).await.unwrap();
                rows += round.rows;
                rounds += 1;
                if !round.more {
                    break;
                }
            }
            let finished = began.elapsed();
            assert_eq!(backlog(&database).await.unwrap().rows, 0);
            pool.close().await;
            database.close().await;
            (rows, rounds, finished)
        });
    }
    go.wait().await;
    let began = Instant::now();
    let done = tasks.join_all().await;
    let seconds = began.elapsed().as_secs_f64();
    let shipped: u64 = done.iter().map(|(rows, _, _)| rows).sum();
    let rounds: u64 = done.iter().map(|(_, rounds, _)| rounds).sum();
    let first = done.iter().map(|(_, _, d)| *d).min().unwrap();
    let at_centre: i64 = sqlx::query_scalar("SELECT count(*) FROM queries")
        .fetch_one(admin)
        .await
        .unwrap();
    assert_eq!(shipped, total);
    assert_eq!(at_centre as u64, total);
    let rate = total as f64 / seconds;
    println!(
        "ship: {sites} sites at once, {total} rows in {rounds} rounds: {seconds:.1} s (first site done at {:.1} s), {rate:.0} rows/s; reference COPY {copy_rate:.0} rows/s; ratio {:.2}",
        first.as_secs_f64(),
        rate / copy_rate
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// One busy site after an outage: the outage's rows waiting, new rows
/// arriving at the same rate, shipped as the live loop does.
async fn catchup(base: &Path, names: &[String], admin: &PgPool) {
    let outage_s = env_u64("HEDGE_BENCH_OUTAGE_S", 600);
    let rates: Vec<u64> = std::env::var("HEDGE_BENCH_RATES")
        .unwrap_or_else(|_| "300,1500".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    for rate in rates {
        empty_centre(admin).await;
        let dir = fresh_dir(base, "catchup");
        let database = Database::open(&dir.join("site.db")).await.unwrap();
        let mut dice = Dice(0x2545_f491_4f6c_dd1d ^ rate);
        let waiting = rate * outage_s;
        let now = now_ms();
        let step = (outage_s * 1000) as f64 / waiting as f64;
        let rows: Vec<LogRow> = (0..waiting)
            .map(|i| {
                let at = now - (outage_s * 1000) as i64 + (i as f64 * step) as i64;
                row(&mut dice, names, 99, at)
            })
            .collect();
        fill(&database, &rows).await;
        let site = format!("busy-{rate}");

        // New rows keep arriving: a tenth of a second's worth every 100 ms.
        let stop = tokio_util::sync::CancellationToken::new();
        let arrivals = {
            let database = database.clone();
            let stop = stop.clone();
            let names = names.to_vec();
            tokio::spawn(async move {
                let mut dice = Dice(0x1234_5678_9abc_def1 ^ rate);
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                let mut sent = 0u64;
                let began = Instant::now();
                while !stop.is_cancelled() {
                    tick.tick().await;
                    let due = (began.elapsed().as_secs_f64() * rate as f64) as u64;
                    let now = now_ms();
                    let batch: Vec<LogRow> = (sent..due)
                        .map(|_| row(&mut dice, &names, 99, now))
                        .collect();
                    database.insert_rows(&batch).await.unwrap();
                    sent = due;
                }
                sent
            })
        };

        let pool = address().connect().await.unwrap();
        let mut shipper = Shipper::new(&site, BATCH);
        let began = Instant::now();
        let mut shipped = 0;
        let mut rounds = 0;
        let caught_up = loop {
            let round = shipper.round(&database, &pool, now_ms()).await.unwrap();
            shipped += round.rows;
            rounds += 1;
            if !round.more {
                break began.elapsed();
            }
        };
        let left = backlog(&database).await.unwrap();
        // Then as the live loop goes on: a pause, a round.
        tokio::time::sleep(IDLE).await;
        let after = shipper.round(&database, &pool, now_ms()).await.unwrap();
        stop.cancel();
        let arrived = arrivals.await.unwrap();
        let seconds = caught_up.as_secs_f64();
        println!(
            "catchup: {rate} rows/s, {outage_s} s outage: {waiting} rows waiting, {arrived} arrived up to the round after; caught up in {seconds:.1} s ({rounds} rounds, {shipped} rows, {:.0} rows/s), {:.4} of the outage; {} rows waiting then (arrived during the last round), the next round {} s later shipped {}",
            shipped as f64 / seconds,
            seconds / outage_s as f64,
            left.rows,
            IDLE.as_secs(),
            after.rows,
        );
        pool.close().await;
        database.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Free bytes on the file system holding `path`.
fn free_bytes(path: &str) -> u64 {
    let output = Command::new("df")
        .args(["--output=avail", "-B1", path])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap()
}

/// One day of generated rows, made in PostgreSQL: `count` rows spread over
/// the day and over `sites` sites, the same shape as [`row`] (devices,
/// groups, MACs, one in ten blocked in five categories, a quarter
/// repeats), names drawn from `bench_names`.
fn generate_day(day_ms: i64, count: u64, first_id: u64, sites: u64, names: usize) -> String {
    format!(
        "INSERT INTO queries ({COPY_COLUMNS}) \
         SELECT 'site-' || lpad((g % {sites})::text, 2, '0'), {first_id} + g / {sites}, \
                {day_ms} + g * 86400000 / {count}, \
                CASE WHEN pupil THEN '10.1.0.1'::inet + device ELSE '10.2.0.1'::inet + (device - 1000) END, \
                CASE WHEN device % 2 = 0 THEN lpad(to_hex(2199023255552 + (g % {sites}) * 65536 + device), 12, '0')::macaddr END, \
                CASE WHEN NOT pupil THEN 'staff-' || device END, NULL, \
                CASE WHEN pupil THEN 'pupils' ELSE 'staff' END, \
                n.key, CASE WHEN r3 % 3 = 0 THEN 28 ELSE 1 END, \
                CASE WHEN blocked THEN 'blocked' ELSE 'allowed' END, \
                CASE WHEN blocked THEN (ARRAY['advertising','social','gaming','adult','proxy'])[1 + r4 % 5] END, \
                CASE WHEN blocked THEN 'list ' || (ARRAY['advertising','social','gaming','adult','proxy'])[1 + r4 % 5] END, \
                0, CASE WHEN NOT blocked THEN 1000 + r4 % 30000 END, \
                CASE WHEN r5 % 4 = 0 THEN 2 + r5 % 7 ELSE 1 END, \
                CASE WHEN r5 % 4 = 0 THEN {day_ms} + g * 86400000 / {count} + r5 % 10000 END \
         FROM (SELECT g, r1 % 5 < 4 AS pupil, \
                      CASE WHEN r1 % 5 < 4 THEN r2 % 1000 ELSE 1000 + r2 % 250 END AS device, \
                      r3 % 10 = 1 AS blocked, r3, r4, r5, r6 \
               FROM (SELECT g, \
                            hashint8(g * 8 + 1 + {day_ms}) & 2147483647 AS r1, \
                            hashint8(g * 8 + 2 + {day_ms}) & 2147483647 AS r2, \
                            hashint8(g * 8 + 3 + {day_ms}) & 2147483647 AS r3, \
                            hashint8(g * 8 + 4 + {day_ms}) & 2147483647 AS r4, \
                            hashint8(g * 8 + 5 + {day_ms}) & 2147483647 AS r5, \
                            hashint8(g * 8 + 6 + {day_ms}) & 2147483647 AS r6 \
                     FROM generate_series(0::bigint, {count} - 1) AS g) AS h) AS r \
         JOIN bench_names AS n ON n.i = r6 % {names}",
    )
}

/// Runs `program` with `args` three times: the median of the wall time,
/// and what the last run printed.
fn time_command(program: &str, args: &[String], env: &[(&str, String)]) -> Option<(f64, String)> {
    let mut times = Vec::new();
    let mut out = String::new();
    for _ in 0..3 {
        let began = Instant::now();
        let output = Command::new(program)
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        times.push(began.elapsed().as_secs_f64());
        if !output.status.success() {
            eprintln!(
                "{program} {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
            return None;
        }
        out = String::from_utf8_lossy(&output.stdout).into_owned();
    }
    Some((median(times), out))
}

/// Whether this build of hedge has `hedge central COMMAND`.
fn has_command(command: &str) -> bool {
    Command::new(hedge_bin())
        .args(["central", command, "--help"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The hedge binary: `HEDGE_BIN`, or the one cargo built with this.
fn hedge_bin() -> String {
    std::env::var("HEDGE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_hedge").to_string())
}

fn date(at_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(at_ms)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The large central query log, then searches and reports over it.
async fn large(names: &[String], admin: &PgPool) {
    let wanted = env_u64("HEDGE_BENCH_CENTRAL_ROWS", 50_000_000);
    let keep_free = env_u64("HEDGE_BENCH_KEEP_FREE_GB", 10) << 30;
    let sites = 50u64;
    let days = 30i64;
    let last_day = day_of(now_ms()) - DAY_MS;
    let first_day = last_day - (days - 1) * DAY_MS;
    empty_centre(admin).await;
    admin
        .execute(
            "DROP TABLE IF EXISTS bench_names; \
             CREATE TABLE bench_names (i integer PRIMARY KEY, key text COLLATE \"C\" NOT NULL)",
        )
        .await
        .unwrap();
    let keys: Vec<String> = names.iter().map(|n| name_key(n)).collect();
    let ids: Vec<i32> = (0..keys.len() as i32).collect();
    sqlx::query("INSERT INTO bench_names SELECT * FROM unnest($1::integer[], $2::text[])")
        .bind(&ids)
        .bind(&keys)
        .execute(admin)
        .await
        .unwrap();
    make_partitions(admin, first_day - 100 * DAY_MS, first_day - 100 * DAY_MS)
        .await
        .unwrap();
    make_partitions(admin, first_day, last_day).await.unwrap();

    // How much room a row takes, from a sample of a million in a day of
    // its own (dropped after).
    let data_dir: String = sqlx::query_scalar("SHOW data_directory")
        .fetch_one(admin)
        .await
        .unwrap();
    let sample_day = first_day - 100 * DAY_MS;
    let sample = 1_000_000u64;
    admin
        .execute(generate_day(sample_day, sample, 1, sites, names.len()).as_str())
        .await
        .unwrap();
    let partition: String = sqlx::query_scalar("SELECT hedge_day_partition($1)")
        .bind(sample_day)
        .fetch_one(admin)
        .await
        .unwrap();
    let bytes: i64 = sqlx::query_scalar("SELECT pg_total_relation_size($1::regclass)")
        .bind(&partition)
        .fetch_one(admin)
        .await
        .unwrap();
    admin
        .execute(format!("DROP TABLE {partition}; CHECKPOINT").as_str())
        .await
        .unwrap();
    let per_row = bytes as f64 / sample as f64;
    let free = free_bytes(&data_dir);
    // Room for the rows and a gigabyte of write-ahead log beyond them.
    let room = free.saturating_sub(keep_free + (1 << 30));
    let fits = (room as f64 / per_row) as u64;
    let per_day_unit = sites * days as u64;
    // Whole days of every site: at least what was asked for, when it fits.
    let total = if fits >= wanted.next_multiple_of(per_day_unit) {
        wanted.next_multiple_of(per_day_unit)
    } else {
        fits / per_day_unit * per_day_unit
    };
    println!(
        "large: a sample of {sample} rows took {} MB with its indexes ({per_row:.0} bytes a row); {:.1} GB free at {data_dir}; {wanted} rows would take {:.1} GB; keeping {} GB free, {fits} fit: making {total}",
        bytes >> 20,
        free as f64 / 1e9,
        wanted as f64 * per_row / 1e9,
        keep_free >> 30,
    );
    if fits < wanted {
        println!(
            "large: NOTE {total} rows, not the {wanted} asked for: the disk would not keep {} GB free",
            keep_free >> 30
        );
    }

    // Day by day, two days at a time (two cores).
    let per_day = total / days as u64;
    let began = Instant::now();
    let mut makers = tokio::task::JoinSet::new();
    for half in 0..2i64 {
        let admin = admin.clone();
        let count = names.len();
        makers.spawn(async move {
            let mut day = half;
            while day < days {
                let day_ms = first_day + day * DAY_MS;
                let first_id = day as u64 * (per_day / sites + 1) + 1;
                admin
                    .execute(generate_day(day_ms, per_day, first_id, sites, count).as_str())
                    .await
                    .unwrap();
                day += 2;
            }
        });
    }
    let mut last_report = Instant::now();
    while !makers.is_empty() {
        tokio::select! {
            done = makers.join_next() => { done.unwrap().unwrap(); }
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        if last_report.elapsed() > Duration::from_secs(60) {
            last_report = Instant::now();
            println!(
                "large: {:.0} s, {:.1} GB free",
                began.elapsed().as_secs_f64(),
                free_bytes(&data_dir) as f64 / 1e9
            );
        }
    }
    let made_s = began.elapsed().as_secs_f64();
    // The sites, as if each had shipped (`--site` asks for a known one).
    sqlx::query(
        "INSERT INTO sites (site, instance, first_ms, last_shipped_ms) \
         SELECT 'site-' || lpad(s::text, 2, '0'), s + 1, $1, $2 FROM generate_series(0, $3 - 1) AS s",
    )
    .bind(first_day)
    .bind(last_day + DAY_MS)
    .bind(sites as i64)
    .execute(admin)
    .await
    .unwrap();
    admin.execute("ANALYZE queries").await.unwrap();
    let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(admin)
        .await
        .unwrap();
    println!(
        "large: {total} rows over {days} days and {sites} sites made in {made_s:.0} s ({:.0} rows/s) and analysed; the database is {:.1} GB; {:.1} GB free",
        total as f64 / made_s,
        size as f64 / 1e9,
        free_bytes(&data_dir) as f64 / 1e9
    );

    // The searches: through the library (what `hedge central search` runs)
    // and, when this build has it, the command; each against a count of
    // the rows of the period (and site) it chooses from.
    let week_from = last_day - 6 * DAY_MS;
    let day_to = last_day + DAY_MS;
    struct Case {
        what: &'static str,
        filter: CentralFilter,
        flags: Vec<String>,
        reference: String,
    }
    let cases = vec![
        Case {
            what: "one client (10.1.0.43 at site-07) over one day",
            filter: CentralFilter {
                site: Some("site-07".into()),
                filter: LogFilter {
                    client: Some("10.1.0.43/32".parse().unwrap()),
                    from_ms: Some(last_day),
                    to_ms: Some(day_to),
                    ..LogFilter::default()
                },
            },
            flags: vec![
                "--site".into(),
                "site-07".into(),
                "--client".into(),
                "10.1.0.43".into(),
                "--from".into(),
                date(last_day),
                "--to".into(),
                date(day_to),
                "--all".into(),
            ],
            reference: format!(
                "SELECT count(*) FROM queries WHERE site = 'site-07' AND at_ms >= {last_day} AND at_ms < {day_to}"
            ),
        },
        Case {
            what: "a name and everything below it (*.gov.br), all sites, over a week",
            filter: CentralFilter {
                site: None,
                filter: LogFilter {
                    name: Some(NamePattern::Suffix("gov.br".into())),
                    from_ms: Some(week_from),
                    to_ms: Some(day_to),
                    ..LogFilter::default()
                },
            },
            flags: vec![
                "--name".into(),
                "*.gov.br".into(),
                "--from".into(),
                date(week_from),
                "--to".into(),
                date(day_to),
                "--all".into(),
            ],
            reference: format!(
                "SELECT count(*) FROM queries WHERE at_ms >= {week_from} AND at_ms < {day_to}"
            ),
        },
        Case {
            what: "one site's blocked rows (site-23) over a day, newest 100",
            filter: CentralFilter {
                site: Some("site-23".into()),
                filter: LogFilter {
                    action: Some(Action::Blocked),
                    from_ms: Some(last_day),
                    to_ms: Some(day_to),
                    limit: Some(100),
                    ..LogFilter::default()
                },
            },
            flags: vec![
                "--site".into(),
                "site-23".into(),
                "--action".into(),
                "blocked".into(),
                "--from".into(),
                date(last_day),
                "--to".into(),
                date(day_to),
                "--limit".into(),
                "100".into(),
            ],
            reference: format!(
                "SELECT count(*) FROM queries WHERE site = 'site-23' AND at_ms >= {last_day} AND at_ms < {day_to}"
            ),
        },
    ];
    let url = address().url;
    let password = std::env::var("HEDGE_CENTRAL_PASSWORD_FILE")
        .ok()
        .map(|f| std::fs::read_to_string(f).unwrap().trim().to_string());
    let psql_env: Vec<(&str, String)> =
        password.iter().map(|p| ("PGPASSWORD", p.clone())).collect();
    let mut connection_flags = vec!["--url".to_string(), url.clone()];
    if let Ok(file) = std::env::var("HEDGE_CENTRAL_PASSWORD_FILE") {
        connection_flags.extend(["--password-file".to_string(), file]);
    }
    let cli_search = has_command("search");
    if !cli_search {
        println!(
            "search: this build has no `hedge central search`: timed through the library only"
        );
    }
    let hedge_bin = hedge_bin();
    let hedge_bin = hedge_bin.as_str();
    let psql = |sql: &str| {
        time_command(
            "psql",
            &[url.clone(), "-XAtc".into(), sql.to_string()],
            &psql_env,
        )
    };
    for case in &cases {
        let mut times = Vec::new();
        let mut found = 0;
        for _ in 0..3 {
            let began = Instant::now();
            found = search(admin, &case.filter).await.unwrap().len();
            times.push(began.elapsed().as_secs_f64());
        }
        let library = median(times);
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..3 {
            let began = Instant::now();
            count = sqlx::query_scalar::<_, i64>(&case.reference)
                .fetch_one(admin)
                .await
                .unwrap();
            times.push(began.elapsed().as_secs_f64());
        }
        let reference = median(times);
        println!(
            "search: {}: library {:.4} s, {found} rows; reference `{}` in the same process {:.4} s ({count} rows); ratio {:.4}",
            case.what,
            library,
            case.reference,
            reference,
            library / reference
        );
        if cli_search {
            let mut args = vec!["central".to_string(), "search".to_string()];
            args.extend(connection_flags.iter().cloned());
            args.extend(case.flags.iter().cloned());
            let command = time_command(hedge_bin, &args, &[]);
            let reference = psql(&case.reference);
            if let (Some((cli, out)), Some((psql_s, _))) = (command, reference) {
                println!(
                    "search: {}: `hedge {}` {cli:.3} s ({} lines); psql {psql_s:.3} s; ratio {:.2}",
                    case.what,
                    args.join(" "),
                    out.lines().count(),
                    cli / psql_s
                );
            }
        }
    }

    // Reports: one day across all sites, one site over the 30 days.
    if !has_command("report") {
        println!("report: this build has no `hedge central report`: not measured");
        return;
    }
    for (what, site, from, to) in [
        ("one day, all sites", None, last_day, day_to),
        (
            "one site (site-11), 30 days",
            Some("site-11"),
            first_day,
            day_to,
        ),
    ] {
        let mut args = vec!["central".to_string(), "report".to_string()];
        args.extend(connection_flags.iter().cloned());
        args.extend(["--from".into(), date(from), "--to".into(), date(to)]);
        let mut reference =
            format!("SELECT count(*) FROM queries WHERE at_ms >= {from} AND at_ms < {to}");
        if let Some(site) = site {
            args.extend(["--site".into(), site.into()]);
            reference.push_str(&format!(" AND site = '{site}'"));
        }
        let command = time_command(hedge_bin, &args, &[]);
        let counted = psql(&reference);
        match (command, counted) {
            (Some((report, _)), Some((count, rows))) => println!(
                "report: {what}: `hedge {}` {report:.2} s; psql `{reference}` {count:.2} s ({} rows); ratio {:.2}",
                args.join(" "),
                rows.trim(),
                report / count
            ),
            _ => println!("report: {what}: failed (above)"),
        }
    }
}

fn main() {
    let only = std::env::var("HEDGE_BENCH_ONLY").unwrap_or_default();
    let base = std::env::var_os("HEDGE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-central"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let names = names();
        let admin = admin_pool(4).await;
        init(&admin, now_ms(), 2).await.unwrap();
        if only.is_empty() || only == "ship" {
            ship(&base, &names, &admin).await;
        }
        if only.is_empty() || only == "catchup" {
            catchup(&base, &names, &admin).await;
        }
        if only.is_empty() || only == "search" {
            large(&names, &admin).await;
        }
        admin.close().await;
    });
    let _ = std::fs::remove_dir_all(&base);
}
