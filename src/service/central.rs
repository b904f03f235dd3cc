//! Shipping to the central store while hedge serves: a task that sends
//! every new and changed row in batches, waits a little when there is
//! nothing, and goes on trying when the centre is down, unreachable or
//! slow. DNS, exemptions and alerts never wait on it; `hedge status` and
//! the metrics show how far behind it is and why.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::Service;
use crate::config::CentralConfig;
use crate::store::central::{Backlog, CentralAddress, CentralError, Shipper, backlog};
use crate::store::{ShippingGuard, now_ms};

/// Rows of one table per round.
const BATCH: usize = 5000;
/// The pause between rounds when nothing more waits.
const IDLE: Duration = Duration::from_secs(2);
/// The longest pause after failures (doubling from [`IDLE`]).
const RETRY_MAX: Duration = Duration::from_secs(10);
/// Failures are logged at most this often.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// How shipping stands, for `hedge status` and the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentralStatus {
    pub site: String,
    /// The URL (never with a password).
    pub url: String,
    /// When a round last succeeded.
    pub last_success_ms: Option<i64>,
    /// Why the last round failed, while it is failing.
    pub error: Option<String>,
    /// Rounds failed since the server started.
    pub failures: u64,
    /// Rows sent since the server started.
    pub shipped: u64,
    pub backlog: Backlog,
}

/// What the shipping task shares with status.
#[derive(Debug, Default)]
pub struct CentralState {
    status: Mutex<Option<CentralStatus>>,
}

impl CentralState {
    fn update(&self, change: impl FnOnce(&mut CentralStatus)) {
        let mut status = self.status.lock().expect("not poisoned");
        if let Some(status) = status.as_mut() {
            change(status);
        }
    }
}

impl Service {
    /// Shipping's state, `None` when no `[central]` is configured. The
    /// backlog is read now from the site's database, so that rows written
    /// a moment ago are counted.
    pub async fn central_status(&self) -> Option<CentralStatus> {
        let mut status = self.central.status.lock().expect("not poisoned").clone()?;
        if let Ok(database) = self.storage.get()
            && let Ok(waiting) = backlog(database).await
        {
            status.backlog = waiting;
        }
        Some(status)
    }

    /// What retention must keep for the centre, when there is one.
    pub(super) fn shipping_guard(&self) -> Option<ShippingGuard> {
        self.handler
            .config()
            .central
            .as_ref()
            .map(|central| ShippingGuard {
                max_backlog_days: central.max_backlog_days,
            })
    }
}

/// Ships until `shutdown`. Follows reloads: a `[central]` added, changed
/// or removed takes effect at the next round.
pub async fn run(service: std::sync::Arc<Service>, shutdown: CancellationToken) {
    let mut connection: Option<(CentralConfig, sqlx::PgPool, Shipper)> = None;
    let mut delay = IDLE;
    let mut warned: Option<Instant> = None;
    loop {
        let config = service.handler.config().central.clone();
        let pause = match config {
            None => {
                if let Some((_, pool, _)) = connection.take() {
                    pool.close().await;
                }
                *service.central.status.lock().expect("not poisoned") = None;
                IDLE
            }
            Some(config) => {
                {
                    let mut status = service.central.status.lock().expect("not poisoned");
                    if status
                        .as_ref()
                        .is_none_or(|s| s.site != config.site || s.url != config.url)
                    {
                        *status = Some(CentralStatus {
                            site: config.site.clone(),
                            url: config.url.clone(),
                            ..CentralStatus::default()
                        });
                    }
                }
                // Stopping cancels a round: what the centre has not
                // committed is shipped again next time.
                let result = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    result = round(&service, &config, &mut connection) => result,
                };
                match result {
                    Ok(more) => {
                        if warned.is_some() && delay > IDLE {
                            info!("central store: shipping again to {}", config.url);
                        }
                        delay = IDLE;
                        if more { Duration::ZERO } else { IDLE }
                    }
                    Err(error) => {
                        let mut message = error.to_string();
                        if !message.contains(&config.url) {
                            message = format!("{message} (at {})", config.url);
                        }
                        service.central.update(|s| {
                            s.error = Some(message.clone());
                            s.failures += 1;
                        });
                        if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                            warned = Some(Instant::now());
                            warn!(
                                "{message}; the site serves and records as before, and ships the backlog when it can"
                            );
                        }
                        if let Some((_, pool, _)) = connection.take() {
                            pool.close().await;
                        }
                        delay = (delay * 2).min(RETRY_MAX);
                        delay
                    }
                }
            }
        };
        // The backlog is read from the site's own database, centre or not.
        if let Ok(database) = service.storage.get()
            && let Ok(waiting) = backlog(database).await
        {
            service.central.update(|s| s.backlog = waiting);
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(pause) => {}
        }
    }
    if let Some((_, pool, _)) = connection {
        pool.close().await;
    }
}

/// One round: connect if needed, ship a batch of each table. `true` when
/// more is waiting.
async fn round(
    service: &Service,
    config: &CentralConfig,
    connection: &mut Option<(CentralConfig, sqlx::PgPool, Shipper)>,
) -> Result<bool, CentralError> {
    if connection.as_ref().is_some_and(|(c, _, _)| c != config)
        && let Some((_, pool, _)) = connection.take()
    {
        pool.close().await;
    }
    let database = service.storage.get()?;
    if connection.is_none() {
        let address = CentralAddress {
            url: config.url.clone(),
            password_file: config.password_file.clone(),
        };
        let pool = address.connect().await?;
        *connection = Some((config.clone(), pool, Shipper::new(&config.site, BATCH)));
    }
    let (_, pool, shipper) = connection.as_mut().expect("connected above");
    let shipped = shipper.round(database, pool, now_ms()).await?;
    service.central.update(|s| {
        s.last_success_ms = Some(now_ms());
        s.error = None;
        s.shipped += shipped.rows;
    });
    Ok(shipped.more)
}
