//! `hedge serve`: start listening, then react to signals. SIGTERM and
//! SIGINT stop gracefully (queries in flight are answered); SIGHUP re-reads
//! the configuration and zones, keeping the running ones if the new ones are
//! wrong.

use std::path::Path;
use std::sync::Arc;

use std::time::Duration;

use anyhow::{Context, Result};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::admin;
use crate::config::Config;
use crate::dns::{Handler, Listeners};
use crate::store::{AlertQueue, AuditEntry, Storage, spawn_writer};

use super::systemd::Notifier;

/// Safeguarding hits that may wait for the alert task.
const ALERT_QUEUE: usize = 4096;

/// How long a shutdown waits for queries in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Retention runs this long after start, then at this interval.
const RETENTION_FIRST: Duration = Duration::from_secs(10);
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

pub fn run(path: &Path) -> Result<()> {
    // Before any thread starts: it edits the environment.
    let notifier = Notifier::from_env();
    init_logging();
    let config = Config::load(path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("hedge")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config, notifier))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn serve(config: Config, notifier: Notifier) -> Result<()> {
    let started = std::time::Instant::now();
    let admin_socket = admin::server::bind(&config.admin)?;
    let storage = Arc::new(Storage::new(config.logging.database.clone()));
    let (query_log, writer) = spawn_writer(
        storage.clone(),
        config.logging.queue,
        config.logging.repeat_window,
    );
    let (alert_queue, alert_events) = AlertQueue::new(ALERT_QUEUE);
    let handler = Arc::new(Handler::new(&config, query_log)?.with_alerts(alert_queue));
    let listeners = Listeners::bind(&config.server.listen)?;
    let bound = listeners.local_addrs();
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    listeners.spawn(handler.clone(), shutdown.clone(), &tracker);
    for addr in &bound {
        info!("listening on {addr} (UDP and TCP)");
    }
    let context = Arc::new(admin::server::AdminContext {
        handler: handler.clone(),
        storage: storage.clone(),
        started,
        listening: bound.clone(),
    });
    tracker.spawn(admin::server::serve(
        admin_socket,
        config.admin.socket.clone(),
        context,
        shutdown.clone(),
        tracker.clone(),
    ));
    info!("admin socket {}", config.admin.socket.display());

    tracker.spawn(admin::alerts::run(
        handler.clone(),
        storage.clone(),
        alert_events,
        shutdown.clone(),
        tracker.clone(),
    ));
    if let Some(address) = config.metrics.listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen for metrics on {address}"))?;
        info!("metrics on http://{address}/metrics");
        tracker.spawn(admin::metrics::serve(
            listener,
            handler.clone(),
            storage.clone(),
            shutdown.clone(),
        ));
    }
    if let Some(every) = super::systemd::watchdog_interval() {
        tracker.spawn(super::systemd::watchdog(
            notifier.clone(),
            handler.clone(),
            every,
            shutdown.clone(),
        ));
    }
    notifier.notify(&format!(
        "READY=1\nSTATUS=answering on {}",
        bound
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    ));
    tracker.spawn(housekeeping(handler.clone(), shutdown.clone()));
    tracker.spawn(retention(
        handler.clone(),
        storage.clone(),
        shutdown.clone(),
    ));
    tracker.spawn(exemptions(
        handler.clone(),
        storage.clone(),
        shutdown.clone(),
    ));

    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            _ = hangup.recv() => {
                notifier.notify(&format!(
                    "RELOADING=1\nMONOTONIC_USEC={}",
                    monotonic_usec()
                ));
                reload(&handler, &storage).await;
                notifier.notify("READY=1");
            }
        }
    }

    notifier.notify("STOPPING=1");
    info!("shutting down: answering queries in flight");
    shutdown.cancel();
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        warn!("some queries were still in flight after {SHUTDOWN_GRACE:?}");
    }
    // Everything answered is in the queue now: write it out.
    writer.finish().await;
    info!("stopped: {:?}", handler.stats.snapshot());
    Ok(())
}

async fn reload(handler: &Arc<Handler>, storage: &Storage) {
    info!("SIGHUP: re-reading {}", handler.config().path.display());
    let (action, details) = match handler.reload_config_file().await {
        Ok(summary) => (
            "config.reloaded",
            serde_json::json!({ "cause": "SIGHUP", "index_names": summary.index_names }),
        ),
        Err(e) => {
            error!("{e}\nkeeping the running configuration");
            (
                "config.reload-failed",
                serde_json::json!({ "cause": "SIGHUP", "error": e.to_string() }),
            )
        }
    };
    record(storage, action, details).await;
}

/// CLOCK_MONOTONIC in microseconds, as systemd wants it with RELOADING=1.
fn monotonic_usec() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (now.tv_sec as u64) * 1_000_000 + (now.tv_nsec as u64) / 1_000
}

/// Records a change the server made by itself in the audit trail.
async fn record(storage: &Storage, action: &str, details: serde_json::Value) {
    let entry = AuditEntry {
        actor: "hedge".into(),
        person: None,
        action: action.into(),
        details,
    };
    if let Err(error) = storage.audit(&entry).await {
        warn!(%error, "could not record {action} in the audit trail");
    }
}

/// Once a minute: forget idle rate-limit state, and say if clients were
/// refused for their rate (at most one warning a minute).
async fn housekeeping(handler: Arc<Handler>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    let mut last = handler.stats.snapshot();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        handler.prune();
        let now = handler.stats.snapshot();
        let limited = now.rate_limited - last.rate_limited;
        if limited > 0 {
            warn!(
                "{limited} queries over the per-client rate limit in the last minute: they got at most an empty truncated reply (UDP) or REFUSED (TCP)"
            );
        }
        last = now;
    }
}

/// Deletes query-log rows past `[logging] retention_days` (read afresh each
/// time, so a reload changes it), sparing rows under a legal hold.
async fn retention(handler: Arc<Handler>, storage: Arc<Storage>, shutdown: CancellationToken) {
    let mut wait = RETENTION_FIRST;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = RETENTION_EVERY;
        let Ok(database) = storage.get() else {
            // Not open yet: try again soon rather than in an hour.
            wait = Duration::from_secs(60);
            continue;
        };
        let days = handler.config().logging.retention_days;
        // Not cut short at shutdown: what it deleted is then recorded.
        let result = crate::store::purge(database, days, crate::store::now_ms()).await;
        match result {
            Ok(report) if report.deleted > 0 || report.held > 0 => {
                info!(
                    "retention ({days} days): deleted {} query-log rows, kept {} under legal hold",
                    report.deleted, report.held
                );
                if report.deleted > 0 {
                    record(&storage, "log.purged", serde_json::json!(report)).await;
                }
            }
            Ok(_) => {}
            Err(error) => warn!("retention: {error}; trying again in an hour"),
        }
    }
}

/// How often the ends of exemptions are looked for and recorded.
const EXPIRY_CHECK: Duration = Duration::from_secs(2);

/// Puts the approved exemptions in force once the database opens and
/// again every tick (so a change whose own refresh failed still takes
/// effect), and records each one's end in the audit trail as it passes.
/// (An ended exemption stops lifting blocks at its expiry whether or not
/// this has run: the DNS path checks the time itself.)
async fn exemptions(handler: Arc<Handler>, storage: Arc<Storage>, shutdown: CancellationToken) {
    let mut loaded = false;
    loop {
        let wait = if loaded {
            EXPIRY_CHECK
        } else {
            Duration::from_millis(200)
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let Ok(database) = storage.get() else {
            continue;
        };
        match admin::server::refresh_exemptions(&handler, database).await {
            Ok(count) if !loaded => {
                info!("{count} approved exemption(s) not yet ended");
                loaded = true;
            }
            Ok(_) => {}
            Err(error) => {
                warn!("cannot read the exemptions: {error}");
                continue;
            }
        }
        match database
            .record_expiries(storage.audit_lock(), crate::store::now_ms())
            .await
        {
            Ok(ended) if !ended.is_empty() => {
                for exemption in &ended {
                    info!(
                        "exemption {} ({} for {}) expired",
                        exemption.id,
                        exemption.what(),
                        exemption.scope
                    );
                }
                if let Err(error) = admin::server::refresh_exemptions(&handler, database).await {
                    warn!("cannot read the exemptions: {error}");
                }
            }
            Ok(_) => {}
            Err(error) => warn!("cannot record ended exemptions: {error}"),
        }
    }
}
