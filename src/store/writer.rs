//! The query log's writer: the DNS path hands entries to a bounded channel
//! without ever waiting; one task folds repeats of the same query into one
//! row ([`Repeats`]) and commits rows in batches, one transaction per batch. When the database fails the writer keeps its batch and
//! retries with backoff; meanwhile the channel fills and further entries
//! are dropped and counted, never queued without bound.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, QueryBuilder};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::counts::Tally;
use super::record::{QueryRecord, ip_key, name_key};
use super::repeats::{Repeats, Row};
use super::{Database, Storage};
use crate::config::Mac;

/// Entries taken from the queue for one transaction at most.
const BATCH: usize = 20_000;
/// Entries received from the queue at a time; the rest of a batch is
/// taken one by one straight into [`Repeats`], so that no buffer the size
/// of a batch is kept (it was 6.5 MB, resident after the first burst).
const RECEIVE: usize = 256;
/// Entries waiting in the queue past which the DNS path lets the writer
/// run first ([`QueryLog::is_backing_up`]): enough for a burst, little
/// memory (about 0.4 MB).
const BACKLOG: usize = 2048;
/// Rows per INSERT statement (SQLite allows 32766 bound values). Only
/// this full-size statement is kept prepared: a statement for each size
/// of remainder would be cached too (up to 100 per connection, a few
/// hundred KB each).
const ROWS_PER_STATEMENT: usize = 500;
/// Rows are written at most this often (unless a batch is full), so that
/// a transaction carries many.
const FLUSH_PAUSE: Duration = Duration::from_millis(100);
/// Between writes the queue is still emptied this often, so that it holds
/// a hundredth of a second's queries rather than a tenth: tokio keeps the
/// blocks of the longest backlog its queue held (2.6 MB after a run at
/// 80,000 queries a second when the writer slept for 100 ms).
const RECEIVE_PAUSE: Duration = Duration::from_millis(10);
/// Rows waiting for their repeats at most (a few MB); past it the oldest
/// is written early, so a flood of distinct names cannot grow memory.
const REPEATS_CAPACITY: usize = 50_000;
/// Backoff between retries of a failed batch, doubling up to the maximum.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// At shutdown, how long a failing database is retried before the entries
/// still waiting are counted as dropped.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// At most one warning a minute about drops or a failing database.
const WARN_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    /// Of `dropped`, those written to the `log_drops` table.
    drops_recorded: AtomicU64,
    /// The database cannot be opened or written now: the writer waits to
    /// retry, so letting it run first would gain nothing.
    failing: AtomicBool,
}

/// The DNS path's side of the query log. `record` never waits.
#[derive(Debug, Clone)]
pub struct QueryLog {
    sender: Option<mpsc::Sender<QueryRecord>>,
    /// Asks the writer to write everything it holds now, rows still
    /// waiting for repeats included.
    flusher: Option<mpsc::Sender<oneshot::Sender<()>>>,
    counters: Arc<Counters>,
}

/// The query log's state, for `hedge status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogStatus {
    pub database: String,
    pub open: bool,
    /// Entries committed since start.
    pub written: u64,
    /// Entries never written: the queue was full, or the database still
    /// failed when hedge stopped.
    pub dropped: u64,
    /// Entries waiting for the writer now, and how many may wait.
    pub pending: usize,
    pub queue: usize,
    /// What is wrong with the database, while something is.
    pub problem: Option<String>,
    pub retention_days: u32,
}

impl QueryLog {
    /// A log that records nothing (benchmarks, tools without a database).
    pub fn disabled() -> QueryLog {
        QueryLog {
            sender: None,
            flusher: None,
            counters: Arc::default(),
        }
    }

    /// Waits (up to `limit`) until everything recorded before the call is
    /// in the database, so that a search or report sees the latest
    /// queries. False if the writer did not finish in time (a failing
    /// database) or is not running.
    pub async fn flush(&self, limit: Duration) -> bool {
        let Some(flusher) = &self.flusher else {
            return false;
        };
        let (reply, done) = oneshot::channel();
        tokio::time::timeout(limit, async {
            flusher.send(reply).await.is_ok() && done.await.is_ok()
        })
        .await
        .unwrap_or(false)
    }

    /// Hands `record` to the writer, or counts it as dropped when the
    /// queue is full.
    pub fn record(&self, record: QueryRecord) {
        let Some(sender) = &self.sender else { return };
        match sender.try_send(record) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Whether entries are gathering in the writer's queue (more than
    /// [`BACKLOG`], or half the queue if that is less) while the database
    /// works. The DNS path then lets the writer's task run before it takes
    /// more queries: on a saturated core the task would otherwise rarely
    /// be polled, and most queries would be answered but not logged. Only
    /// the order of tasks changes: answering still never waits for the
    /// database, and entries may still be dropped while it is slow.
    pub fn is_backing_up(&self) -> bool {
        if self.counters.failing.load(Ordering::Relaxed) {
            return false;
        }
        self.sender.as_ref().is_some_and(|sender| {
            let waiting = sender.max_capacity() - sender.capacity();
            waiting > BACKLOG.min(sender.max_capacity() / 2)
        })
    }

    /// Drops not yet written to the database's record of gaps.
    pub fn unrecorded_drops(&self) -> u64 {
        self.counters
            .dropped
            .load(Ordering::Relaxed)
            .saturating_sub(self.counters.drops_recorded.load(Ordering::Relaxed))
    }

    pub fn is_enabled(&self) -> bool {
        self.sender.is_some()
    }

    pub fn written(&self) -> u64 {
        self.counters.written.load(Ordering::Relaxed)
    }

    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    pub fn status(&self, storage: &Storage, retention_days: u32) -> LogStatus {
        let (pending, queue) = self.sender.as_ref().map_or((0, 0), |s| {
            (s.max_capacity() - s.capacity(), s.max_capacity())
        });
        LogStatus {
            database: storage.path().display().to_string(),
            open: storage.get().is_ok(),
            written: self.written(),
            dropped: self.dropped(),
            pending,
            queue,
            problem: storage.problem(),
            retention_days,
        }
    }
}

/// Stops the writer: what is queued is written (or counted as dropped if
/// the database still fails after a short grace).
pub struct WriterHandle {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl WriterHandle {
    pub async fn finish(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            error!(%error, "the query log writer failed");
        }
    }
}

/// Starts the writer task on the current runtime. It opens the database
/// itself, retrying while it cannot, so that a database problem never
/// stops hedge from answering.
///
/// Repeats of a query within `repeat_window` of its first are one row
/// (`Duration::ZERO`: a row per query).
pub fn spawn_writer(
    storage: Arc<Storage>,
    queue: usize,
    repeat_window: Duration,
) -> (QueryLog, WriterHandle) {
    let (sender, receiver) = mpsc::channel(queue.max(1));
    let (flusher, flushes) = mpsc::channel(64);
    let counters = Arc::new(Counters::default());
    let stop = CancellationToken::new();
    let writer = Writer {
        storage,
        receiver,
        flushes,
        repeats: Repeats::new(
            i64::try_from(repeat_window.as_millis()).unwrap_or(i64::MAX),
            REPEATS_CAPACITY,
        ),
        counters: counters.clone(),
        stop: stop.clone(),
        stopping_since: None,
        warned_failure: None,
        warned_drops: None,
        dropped_at_warning: 0,
        connection: None,
    };
    let task = tokio::spawn(writer.run());
    (
        QueryLog {
            sender: Some(sender),
            flusher: Some(flusher),
            counters,
        },
        WriterHandle { stop, task },
    )
}

struct Writer {
    storage: Arc<Storage>,
    receiver: mpsc::Receiver<QueryRecord>,
    flushes: mpsc::Receiver<oneshot::Sender<()>>,
    /// Rows waiting for repeats of their query.
    repeats: Repeats,
    counters: Arc<Counters>,
    stop: CancellationToken,
    stopping_since: Option<Instant>,
    warned_failure: Option<Instant>,
    warned_drops: Option<Instant>,
    dropped_at_warning: u64,
    /// The writer's own connection; dropped after a failure so that the
    /// next try starts afresh (a file made writable again, a disk freed).
    connection: Option<SqliteConnection>,
}

/// True at most once a minute per `last`.
fn once_a_minute(last: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    if last.is_some_and(|at| now - at < WARN_EVERY) {
        return false;
    }
    *last = Some(now);
    true
}

impl Writer {
    async fn run(mut self) {
        let Some(database) = self.open().await else {
            return;
        };
        let mut incoming = Vec::with_capacity(RECEIVE);
        // Rows ready to write; between writes they gather here.
        let mut batch: Vec<Row> = Vec::new();
        let mut last_write = Instant::now();
        loop {
            // Wake for new entries, to write rows whose window closed, or
            // to write everything for a search.
            let mut flushing = Vec::new();
            let waiting = !self.repeats.is_empty() || !batch.is_empty();
            let received = tokio::select! {
                biased;
                Some(reply) = self.flushes.recv() => {
                    flushing.push(reply);
                    while let Ok(reply) = self.flushes.try_recv() {
                        flushing.push(reply);
                    }
                    self.take_queued(usize::MAX, &mut batch);
                    None
                }
                received = self.receiver.recv_many(&mut incoming, RECEIVE) => Some(received),
                _ = self.stop.cancelled(), if self.stopping_since.is_none() => {
                    self.begin_stopping();
                    continue;
                }
                _ = tokio::time::sleep(FLUSH_PAUSE), if waiting => None,
            };
            let closed = received == Some(0);
            let taken = incoming.len();
            for record in incoming.drain(..) {
                self.repeats.add(record, &mut batch);
            }
            if !closed && received.is_some() {
                // Under load: what else is queued, up to a batch.
                self.take_queued(BATCH - taken, &mut batch);
            }
            if closed || !flushing.is_empty() {
                self.repeats.drain(&mut batch);
            } else {
                self.repeats.expire(super::now_ms(), &mut batch);
            }
            let small = batch.len() < BATCH;
            // Rows are written at most every FLUSH_PAUSE unless a batch is
            // full, a search waits, or hedge is stopping.
            let due = !small
                || closed
                || !flushing.is_empty()
                || self.stopping_since.is_some()
                || last_write.elapsed() >= FLUSH_PAUSE;
            let mut written = true;
            if due && !batch.is_empty() {
                for chunk in batch.chunks(BATCH) {
                    if !self.write(&database, chunk).await {
                        written = false;
                        break;
                    }
                }
                last_write = Instant::now();
                batch.clear();
                // A burst's rows need not stay reserved for the next one.
                batch.shrink_to(ROWS_PER_STATEMENT);
            }
            for reply in flushing {
                let _ = reply.send(());
            }
            if !written {
                // Stopping, and the database still fails: what is left
                // would fail too. Count it rather than hold up the exit.
                let mut left = 0;
                while self.receiver.try_recv().is_ok() {
                    left += 1;
                }
                let mut waiting = Vec::new();
                self.repeats.drain(&mut waiting);
                left += waiting.iter().map(|row| row.times as usize).sum::<usize>();
                self.drop_entries(left);
                break;
            }
            if closed {
                break;
            }
            self.warn_about_drops();
            self.record_drops(&database).await;
            if small && self.stopping_since.is_none() && received.is_some() {
                // Let entries gather, but not for long: tokio keeps the
                // blocks of the longest backlog the queue ever held.
                tokio::select! {
                    _ = tokio::time::sleep(RECEIVE_PAUSE) => {}
                    _ = self.stop.cancelled() => {}
                }
            }
        }
        self.warn_about_drops();
        if let Some(connection) = self.connection.take() {
            let _ = connection.close().await;
        }
        database.close().await;
    }

    /// Writes drops counted since the last record to `log_drops`, so that
    /// reports show where the log has gaps.
    async fn record_drops(&mut self, database: &Database) {
        let dropped = self.counters.dropped.load(Ordering::Relaxed);
        let recorded = self.counters.drops_recorded.load(Ordering::Relaxed);
        if dropped > recorded && database.record_log_drops(dropped - recorded).await.is_ok() {
            self.counters
                .drops_recorded
                .store(dropped, Ordering::Relaxed);
        }
    }

    /// Folds up to `limit` entries already queued into the waiting rows
    /// (those pushed out, or not folded at all, go to `ready`), without
    /// waiting.
    fn take_queued(&mut self, limit: usize, ready: &mut Vec<Row>) {
        for _ in 0..limit {
            let Ok(record) = self.receiver.try_recv() else {
                break;
            };
            self.repeats.add(record, ready);
        }
    }

    fn begin_stopping(&mut self) {
        self.stopping_since = Some(Instant::now());
        // Accept nothing new; what is queued is still received.
        self.receiver.close();
    }

    fn past_grace(&self) -> bool {
        self.stopping_since
            .is_some_and(|since| since.elapsed() >= STOP_GRACE)
    }

    /// Opens the database, retrying with backoff. `None` when hedge stops
    /// before it could: what was queued is counted as dropped.
    async fn open(&mut self) -> Option<Database> {
        let mut delay = RETRY_FIRST;
        loop {
            match self.storage.try_open().await {
                Ok(database) => {
                    info!("query log: {}", database.path().display());
                    self.counters.failing.store(false, Ordering::Relaxed);
                    return Some(database.clone());
                }
                Err(error) => {
                    self.counters.failing.store(true, Ordering::Relaxed);
                    if once_a_minute(&mut self.warned_failure) {
                        warn!("{error}; DNS goes on, queries are not logged until it opens");
                    }
                }
            }
            if self.stopping_since.is_some() {
                let mut left = 0;
                while self.receiver.try_recv().is_ok() {
                    left += 1;
                }
                self.drop_entries(left);
                self.warn_about_drops();
                return None;
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.stop.cancelled() => self.begin_stopping(),
            }
            self.warn_about_drops();
            delay = (delay * 2).min(RETRY_MAX);
        }
    }

    /// Commits `batch`, retrying with backoff while the database fails.
    /// `false`: hedge is stopping and the database still failed after the
    /// grace period, so the batch was counted as dropped.
    async fn write(&mut self, database: &Database, batch: &[Row]) -> bool {
        let mut delay = RETRY_FIRST;
        let mut failed = false;
        loop {
            let result = match self.connection.as_mut() {
                Some(connection) => insert(connection, batch).await,
                None => match database.connect().await {
                    Ok(connection) => insert(self.connection.insert(connection), batch).await,
                    Err(error) => Err(error),
                },
            };
            match result {
                Ok(()) => {
                    let entries: u64 = batch.iter().map(|row| u64::from(row.times)).sum();
                    self.counters.written.fetch_add(entries, Ordering::Relaxed);
                    self.counters.failing.store(false, Ordering::Relaxed);
                    if failed {
                        info!("query log: writing again");
                        self.storage.note_error(None);
                    }
                    return true;
                }
                Err(error) => {
                    failed = true;
                    self.counters.failing.store(true, Ordering::Relaxed);
                    self.connection = None;
                    let problem = format!("writing failed: {error}");
                    if once_a_minute(&mut self.warned_failure) {
                        warn!(
                            "query log {}: {problem}; retrying, DNS goes on",
                            database.path().display()
                        );
                    }
                    self.storage.note_error(Some(problem));
                }
            }
            if self.past_grace() {
                let entries: usize = batch.iter().map(|row| row.times as usize).sum();
                error!("query log: {entries} entries could not be written before stopping");
                self.drop_entries(entries);
                return false;
            }
            self.warn_about_drops();
            let wait = if self.stopping_since.is_some() {
                delay.min(Duration::from_millis(500))
            } else {
                delay
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.stop.cancelled(), if self.stopping_since.is_none() => self.begin_stopping(),
            }
            delay = (delay * 2).min(RETRY_MAX);
        }
    }

    fn drop_entries(&self, count: usize) {
        self.counters
            .dropped
            .fetch_add(count as u64, Ordering::Relaxed);
    }

    /// Says how many entries were dropped since the last warning, at most
    /// once a minute.
    fn warn_about_drops(&mut self) {
        let dropped = self.counters.dropped.load(Ordering::Relaxed);
        if dropped > self.dropped_at_warning
            && (self.stopping_since.is_some() || once_a_minute(&mut self.warned_drops))
        {
            warn!(
                "query log: {} entries dropped ({} in all): the writer could not keep up or the database is failing",
                dropped - self.dropped_at_warning,
                dropped
            );
            self.dropped_at_warning = dropped;
        }
    }
}

/// The highest query id ever given.
const LAST_QUERY_ID: &str = "SELECT max(coalesce((SELECT max(id) FROM queries), 0), \
     coalesce((SELECT value FROM central_state WHERE key = 'queries_last_id'), 0))";

/// Inserts `batch` in one transaction.
///
/// Ids are given here, each above every id the log ever held (retention
/// records the highest before it deletes it): the central store knows a
/// row by its id, so an id is never given twice, even after retention
/// emptied the log. The write lock is taken first so that the highest id
/// read is still the highest when the rows go in.
async fn insert(connection: &mut SqliteConnection, batch: &[Row]) -> Result<(), sqlx::Error> {
    let mut transaction = connection.begin_with("BEGIN IMMEDIATE").await?;
    let mut next_id: i64 = sqlx::query_scalar(LAST_QUERY_ID)
        .fetch_one(&mut *transaction)
        .await?;
    for chunk in batch.chunks(ROWS_PER_STATEMENT) {
        let mut insert = QueryBuilder::new(
            "INSERT INTO queries (id, at_ms, client_ip, client_name, group_name, name_key, qtype, \
             action, category, rule, rcode, upstream_us, times, last_ms, mac) ",
        );
        insert.push_values(chunk, |mut row, entry| {
            let record = &entry.record;
            next_id += 1;
            row.push_bind(next_id)
                .push_bind(record.at_ms)
                .push_bind(ip_key(record.client).to_vec())
                .push_bind(record.client_name.as_deref())
                .push_bind(record.group.as_deref())
                .push_bind(name_key(&record.name))
                .push_bind(i64::from(record.qtype))
                .push_bind(record.action.as_str())
                .push_bind(record.category.as_deref())
                .push_bind(record.rule.as_deref())
                .push_bind(i64::from(record.rcode))
                .push_bind(record.upstream_us.map(i64::from))
                .push_bind(i64::from(entry.times))
                .push_bind(entry.last_ms)
                .push_bind(record.mac.map(|mac| mac.to_u64() as i64));
        });
        insert
            .build()
            .persistent(chunk.len() == ROWS_PER_STATEMENT)
            .execute(&mut *transaction)
            .await?;
    }
    let mut tally = Tally::default();
    for Row { record, times, .. } in batch {
        tally.add(
            record.at_ms,
            record.group.as_deref(),
            record.action.as_str(),
            record.category.as_deref(),
            i64::from(*times),
        );
    }
    tally.apply(&mut transaction, 1).await?;
    seen_devices(&mut transaction, batch).await?;
    transaction.commit().await
}

/// Records each device in `batch` as seen: at its latest address in the
/// batch, moved there from the address it had before.
async fn seen_devices(
    transaction: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    batch: &[Row],
) -> Result<(), sqlx::Error> {
    let mut seen: Vec<(Mac, IpAddr, i64, i64)> = Vec::new();
    for Row {
        record, last_ms, ..
    } in batch
    {
        let Some(mac) = record.mac else { continue };
        let last = last_ms.unwrap_or(record.at_ms);
        match seen.iter_mut().find(|(m, ..)| *m == mac) {
            Some(device) => {
                device.2 = device.2.min(record.at_ms);
                if record.at_ms >= device.3 {
                    device.1 = record.client;
                }
                device.3 = device.3.max(last);
            }
            None => seen.push((mac, record.client, record.at_ms, last)),
        }
    }
    for (mac, address, first_ms, last_ms) in seen {
        sqlx::query(
            "INSERT INTO devices (mac, address, last_address, first_ms, last_ms) \
             VALUES (?, ?, NULL, ?, ?) \
             ON CONFLICT (mac) DO UPDATE SET \
               last_address = CASE WHEN devices.address = excluded.address \
                 THEN devices.last_address ELSE devices.address END, \
               address = excluded.address, \
               first_ms = min(devices.first_ms, excluded.first_ms), \
               last_ms = max(devices.last_ms, excluded.last_ms)",
        )
        .bind(mac.to_u64() as i64)
        .bind(ip_key(address).to_vec())
        .bind(first_ms)
        .bind(last_ms)
        .execute(&mut **transaction)
        .await?;
    }
    Ok(())
}

impl Database {
    /// Writes entries directly, outside the writer (imports, tests, and
    /// benchmarks that prepare a large log).
    pub async fn insert_queries(&self, batch: &[QueryRecord]) -> Result<(), super::StoreError> {
        let rows: Vec<Row> = batch.iter().cloned().map(Row::once).collect();
        self.insert_rows(&rows).await
    }

    /// The same for rows that already count their repeats.
    pub async fn insert_rows(&self, rows: &[Row]) -> Result<(), super::StoreError> {
        let mut connection = self.pool().acquire().await?;
        Ok(insert(&mut connection, rows).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Action;

    fn record() -> QueryRecord {
        QueryRecord {
            at_ms: 0,
            client: "10.0.0.1".parse().unwrap(),
            client_name: None,
            mac: None,
            group: None,
            name: "example.org".into(),
            qtype: 1,
            action: Action::Allowed,
            category: None,
            rule: None,
            rcode: 0,
            upstream_us: None,
        }
    }

    #[test]
    fn the_queue_says_when_it_backs_up() {
        let (sender, _receiver) = mpsc::channel(16);
        let log = QueryLog {
            sender: Some(sender),
            flusher: None,
            counters: Arc::default(),
        };
        let backing_up: Vec<bool> = (0..16)
            .map(|_| {
                log.record(record());
                log.is_backing_up()
            })
            .collect();
        // A small queue: past half of it.
        assert_eq!(backing_up.iter().position(|&b| b), Some(8));
        log.record(record());
        assert_eq!(log.counters.dropped.load(Ordering::Relaxed), 1);
        assert!(!QueryLog::disabled().is_backing_up());

        // A large one: past BACKLOG entries.
        let (sender, _receiver) = mpsc::channel(65_536);
        let log = QueryLog {
            sender: Some(sender),
            flusher: None,
            counters: Arc::default(),
        };
        for _ in 0..BACKLOG {
            log.record(record());
        }
        assert!(!log.is_backing_up());
        log.record(record());
        assert!(log.is_backing_up());
        // While the database fails the writer only waits to retry.
        log.counters.failing.store(true, Ordering::Relaxed);
        assert!(!log.is_backing_up());
    }
}
