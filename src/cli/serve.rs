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
use tracing::{info, warn};

use crate::admin;
use crate::config::Config;
use crate::dns::{Handler, Listeners};
use crate::service::{Actor, Service, ServiceError};
use crate::store::{AlertQueue, Storage, StoreError, spawn_writer};

use super::systemd::Notifier;

/// Safeguarding hits that may wait for the alert task.
const ALERT_QUEUE: usize = 4096;

/// How long a shutdown waits for queries in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Retention runs this long after start, then at this interval.
const RETENTION_FIRST: Duration = Duration::from_secs(10);
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

pub fn run(path: &Path) -> Result<()> {
    let notifier = Notifier;
    super::memory::set_allocator();
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
    let admin_socket = admin::server::bind(&config.admin)?;
    let storage = Arc::new(Storage::new(config.logging.database.clone()));
    let (query_log, writer) = spawn_writer(
        storage.clone(),
        config.logging.queue,
        config.logging.repeat_window,
    );
    let (alert_queue, alert_events) = AlertQueue::new(ALERT_QUEUE);
    let handler = Arc::new(Handler::new(&config, query_log)?.with_alerts(alert_queue));
    // Before the first query: a device by MAC address is known from the
    // start.
    if let Err(error) = crate::dns::neighbours::follow(handler.clone()) {
        warn!("{error}; devices are known by their address only");
    }
    let listeners = Listeners::bind(&config.server.listen)?;
    let bound = listeners.local_addrs();
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    listeners.spawn(handler.clone(), shutdown.clone(), &tracker);
    for addr in &bound {
        info!("listening on {addr} (UDP and TCP)");
    }
    let service = Arc::new(Service::new(
        handler.clone(),
        storage.clone(),
        bound.clone(),
    ));
    tracker.spawn(admin::server::serve(
        admin_socket,
        config.admin.socket.clone(),
        service.clone(),
        shutdown.clone(),
        tracker.clone(),
    ));
    info!("admin socket {}", config.admin.socket.display());

    tracker.spawn(crate::service::alerting::run(
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
            service.clone(),
            shutdown.clone(),
        ));
    }
    let data_dir = config
        .logging
        .database
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    crate::web::start(
        &config.web,
        &data_dir,
        service.clone(),
        shutdown.clone(),
        &tracker,
    )
    .await?;
    if let Some(every) = super::systemd::watchdog_interval() {
        tracker.spawn(super::systemd::watchdog(
            notifier,
            handler.clone(),
            every,
            shutdown.clone(),
        ));
    }
    notifier.ready(&format!(
        "answering on {}",
        bound
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    ));
    // Start-up is over: its code need not stay in memory. Reading smaps
    // and reclaiming take a while; DNS is already answering.
    tracker.spawn_blocking(|| match super::memory::release_startup_code() {
        Ok(released) => info!(
            "start-up code given back: the program's pages in memory {} KiB -> {} KiB",
            released.before_kib, released.after_kib
        ),
        Err(error) => info!("start-up code stays in memory: {error}"),
    });
    tracker.spawn(housekeeping(handler.clone(), shutdown.clone()));
    tracker.spawn(service.clone().follow_leases(shutdown.clone()));
    tracker.spawn(retention(service.clone(), shutdown.clone()));
    tracker.spawn(exemptions(service.clone(), shutdown.clone()));
    tracker.spawn(crate::service::report::mailing::run(
        service.clone(),
        shutdown.clone(),
    ));
    tracker.spawn(crate::service::central::run(
        service.clone(),
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
                notifier.reloading();
                // Failures are logged and recorded; the running one stays.
                let _ = service.reload(&Actor::hedge(), "SIGHUP").await;
                notifier.reloaded();
            }
        }
    }

    notifier.stopping();
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
async fn retention(service: Arc<Service>, shutdown: CancellationToken) {
    let mut wait = RETENTION_FIRST;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = RETENTION_EVERY;
        // Not cut short at shutdown: what it deleted is then recorded.
        match service.apply_retention().await {
            Ok(_) => {}
            Err(ServiceError::Store(StoreError::NotOpen { .. })) => {
                // Not open yet: try again soon rather than in an hour.
                wait = Duration::from_secs(60);
            }
            Err(error) => warn!("retention: {error}; trying again in an hour"),
        }
    }
}

/// How often the ends of exemptions are looked for and recorded.
const EXPIRY_CHECK: Duration = Duration::from_secs(2);

/// Puts the approved exemptions in force once the database opens and
/// again every tick (so a change whose own refresh failed still takes
/// effect), and records each one's end in the audit trail as it passes.
async fn exemptions(service: Arc<Service>, shutdown: CancellationToken) {
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
        if service.storage.get().is_err() {
            continue;
        }
        match service.refresh_exemptions().await {
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
        if let Err(error) = service.record_expiries().await {
            warn!("cannot record ended exemptions: {error}");
        }
    }
}
