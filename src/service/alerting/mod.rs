//! Safeguarding alerts reach a person: the alert task takes hits from the
//! DNS path, groups repeats (`policy::alerts`), stores each alert and sends
//! it to the system log, every configured webhook and every address in
//! `[alerts] email`, recording whether each delivery arrived.

pub mod email;
pub mod syslog;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::Config;
use crate::dns::Handler;
use crate::policy::alerts::{AlertGrouping, Placement};
use crate::service::inert::{inert, inert_text};
use crate::store::{Alert, AlertEvent, AlertHit, AlertSelection, Storage, now_ms};

/// How often counts of grouped hits are written.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// What a webhook receives. `text` is a sentence for people (chat tools
/// that take a `text` field show it as it is), with the name made inert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// The alert's number, for `hedge alerts ack`; 0 if it could not be
    /// stored.
    pub alert: i64,
    pub site: String,
    /// RFC 3339, UTC.
    pub time: String,
    pub client: String,
    pub client_name: Option<String>,
    /// The device's MAC address, when hedge knew it.
    pub mac: Option<String>,
    pub group: String,
    pub category: String,
    /// The name asked, exactly.
    pub name: String,
    pub text: String,
}

impl Notice {
    pub fn new(alert: &Alert, config: &Config) -> Notice {
        let site = site_name(config);
        let minutes = config.alerts.window.as_secs() / 60;
        let local = jiff::Timestamp::from_millisecond(alert.first_ms)
            .map(|t| {
                t.to_zoned(jiff::tz::TimeZone::system())
                    .strftime("%H:%M on %-d %B %Y")
                    .to_string()
            })
            .unwrap_or_default();
        let number = if alert.id > 0 {
            format!("alert {}", alert.id)
        } else {
            "alert (not stored: the database is unavailable)".to_string()
        };
        let text = format!(
            "hedge {number} at {site}: {} in group {} tried to reach {} \
             (category {}) at {local}. The attempt was blocked. Further attempts \
             in the next {minutes} minutes are counted in this alert.",
            inert_text(&alert.who()),
            alert.group,
            inert(&alert.name),
            alert.category,
        );
        Notice {
            alert: alert.id,
            site,
            time: jiff::Timestamp::from_millisecond(alert.first_ms)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            client: alert.client.to_string(),
            client_name: alert.client_name.clone(),
            mac: alert.mac.map(|mac| mac.to_string()),
            group: alert.group.clone(),
            category: alert.category.clone(),
            name: alert.name.clone(),
            text,
        }
    }
}

impl Notice {
    /// The subject of the alert's mail: the site, the alert and its
    /// category; the name asked is only in the text, made inert.
    pub fn subject(&self) -> String {
        if self.alert > 0 {
            format!(
                "hedge safeguarding alert {} at {}: {}",
                self.alert, self.site, self.category
            )
        } else {
            format!(
                "hedge safeguarding alert at {}: {}",
                self.site, self.category
            )
        }
    }
}

/// What reports and alerts call this site: `[reports] site`, else the
/// host name.
pub fn site_name(config: &Config) -> String {
    config.reports.site.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "this site".into())
    })
}

/// Runs the alert task until shutdown; stored counts are flushed before
/// it returns. Deliveries run as tasks of `tracker`.
pub async fn run(
    handler: Arc<Handler>,
    storage: Arc<Storage>,
    mut events: mpsc::Receiver<AlertEvent>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let mut grouping = AlertGrouping::new(handler.config().alerts.window);
    let mut restored = false;
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                store_counts(&storage, grouping.take_pending()).await;
                return;
            }
            event = events.recv() => match event {
                None => return,
                Some(AlertEvent::Hit(hit)) => {
                    if !restored {
                        restored = restore(&storage, &mut grouping, &handler.config()).await;
                    }
                    place(&handler, &storage, &mut grouping, hit, &shutdown, &tracker).await;
                }
                Some(AlertEvent::Acknowledged(id)) => {
                    store_counts(&storage, grouping.close(id).into_iter().collect()).await;
                }
            },
            _ = flush.tick() => {
                if !restored {
                    restored = restore(&storage, &mut grouping, &handler.config()).await;
                }
                store_counts(&storage, grouping.take_pending()).await;
                grouping.expire(now_ms());
            }
        }
    }
}

/// Takes up the open alerts still within their window after a restart,
/// so that a pupil still trying is counted, not announced again. `false`
/// while the database is not open.
async fn restore(storage: &Storage, grouping: &mut AlertGrouping, config: &Config) -> bool {
    let Ok(database) = storage.get() else {
        return false;
    };
    let window = i64::try_from(config.alerts.window.as_millis()).unwrap_or(i64::MAX / 2);
    let selection = AlertSelection {
        open_only: true,
        since_ms: now_ms().saturating_sub(window),
        limit: 10_000,
    };
    match database.alerts(&selection).await {
        Ok(alerts) => {
            for alert in alerts.iter().rev() {
                grouping.opened(
                    alert.client,
                    &alert.category,
                    Some(alert.id),
                    alert.first_ms,
                );
            }
            true
        }
        Err(error) => {
            warn!("cannot read open alerts: {error}");
            false
        }
    }
}

async fn place(
    handler: &Arc<Handler>,
    storage: &Arc<Storage>,
    grouping: &mut AlertGrouping,
    hit: AlertHit,
    shutdown: &CancellationToken,
    tracker: &TaskTracker,
) {
    let config = handler.config();
    grouping.set_window(config.alerts.window);
    if grouping.place(hit.client, &hit.category, hit.at_ms) != Placement::New {
        return;
    }
    let stored = match storage.get() {
        Ok(database) => database.raise_alert(&hit).await,
        Err(error) => Err(error),
    };
    let alert = match stored {
        Ok(alert) => alert,
        Err(error) => {
            // The lead is told even when the record cannot be kept.
            warn!("cannot store a safeguarding alert: {error}");
            unstored(&hit)
        }
    };
    grouping.opened(
        hit.client,
        &hit.category,
        (alert.id > 0).then_some(alert.id),
        hit.at_ms,
    );
    tracker.spawn(deliver(alert, config, storage.clone(), shutdown.clone()));
}

fn unstored(hit: &AlertHit) -> Alert {
    Alert {
        id: 0,
        first_ms: hit.at_ms,
        last_ms: hit.at_ms,
        hits: 1,
        client: hit.client,
        client_name: hit.client_name.clone(),
        mac: hit.mac,
        group: hit.group.to_string(),
        category: hit.category.clone(),
        name: hit.name.clone(),
        acked_ms: None,
        acked_by: None,
        acked_user: None,
        ack_note: None,
        deliveries: Vec::new(),
    }
}

async fn store_counts(storage: &Storage, pending: Vec<(i64, u64, i64)>) {
    if pending.is_empty() {
        return;
    }
    let Ok(database) = storage.get() else {
        return;
    };
    for (id, hits, last_ms) in pending {
        if let Err(error) = database.add_alert_hits(id, hits, last_ms).await {
            warn!("cannot count {hits} more hit(s) in alert {id}: {error}");
        }
    }
}

/// Sends `alert` to the system log, to every webhook and to every mail
/// address (in parallel), recording each outcome.
async fn deliver(
    alert: Alert,
    config: Arc<Config>,
    storage: Arc<Storage>,
    shutdown: CancellationToken,
) {
    let notice = Notice::new(&alert, &config);
    warn!("safeguarding alert: {}", notice.text);
    let record = |sink: String, attempts: u32, error: Option<String>| {
        let storage = storage.clone();
        async move {
            if alert.id <= 0 {
                return;
            }
            let state = if error.is_none() {
                "delivered"
            } else {
                "failed"
            };
            if let Ok(database) = storage.get()
                && let Err(e) = database
                    .record_delivery(alert.id, &sink, state, attempts, error.as_deref())
                    .await
            {
                warn!(
                    "cannot record the delivery of alert {} to {sink}: {e}",
                    alert.id
                );
            }
        }
    };
    if let Some(socket) = &config.alerts.syslog {
        let error = syslog::send(socket, &notice.text, alert.first_ms)
            .err()
            .map(|e| format!("{}: {e}", socket.display()));
        if let Some(error) = &error {
            warn!("cannot write alert {} to the system log: {error}", alert.id);
        }
        record("syslog".into(), 1, error).await;
    }
    let body = serde_json::to_string(&notice).unwrap_or_default();
    let mut sending = Vec::new();
    for webhook in &config.alerts.webhooks {
        if alert.id > 0
            && let Ok(database) = storage.get()
        {
            let _ = database
                .record_delivery(alert.id, &webhook.url, "sending", 0, None)
                .await;
        }
        let (webhook, body, shutdown) = (webhook.clone(), body.clone(), shutdown.clone());
        sending.push(async move {
            let outcome = webhook::deliver(&webhook, body, &shutdown).await;
            match &outcome.error {
                None => info!(
                    "alert {} delivered to {} (attempt {})",
                    alert.id, webhook.url, outcome.attempts
                ),
                Some(error) => warn!(
                    "alert {} was not delivered to {} after {} attempt(s): {error}",
                    alert.id, webhook.url, outcome.attempts
                ),
            }
            record(webhook.url.clone(), outcome.attempts, outcome.error).await;
        });
    }
    let mut mailing = Vec::new();
    if let Some(relay) = &config.email {
        for address in &config.alerts.email {
            let sink = format!("mailto:{address}");
            if alert.id > 0
                && let Ok(database) = storage.get()
            {
                let _ = database
                    .record_delivery(alert.id, &sink, "sending", 0, None)
                    .await;
            }
            let mail = email::Mail {
                kind: crate::store::MailKind::Alert,
                to: address.clone(),
                subject: notice.subject(),
                body: format!("{}\n", notice.text),
                attachment: None,
            };
            let (storage, shutdown, record) = (storage.clone(), shutdown.clone(), &record);
            mailing.push(async move {
                let outcome = email::send_recorded(relay, &storage, &mail, &shutdown).await;
                record(sink, outcome.attempts, outcome.error).await;
            });
        }
    }
    futures_util::future::join(
        futures_util::future::join_all(sending),
        futures_util::future::join_all(mailing),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_text_names_the_client_and_makes_the_name_inert() {
        let config = crate::config::Config::from_str(
            "[upstream]\nservers = [\"192.0.2.53\"]\n[reports]\nsite = \"St Anne's\"\n",
            std::path::Path::new("/tmp/hedge.toml"),
        )
        .unwrap();
        let mut alert = unstored(&AlertHit {
            at_ms: 0,
            client: "10.0.0.5".parse().unwrap(),
            client_name: Some("ipad-3".into()),
            mac: None,
            group: "pupils".into(),
            name: "www.example.com".into(),
            category: "adult".into(),
        });
        alert.id = 12;
        let notice = Notice::new(&alert, &config);
        assert!(notice.text.starts_with("hedge alert 12 at St Anne's: ipad-3 (10.0.0.5) in group pupils tried to reach www[.]example[.]com (category adult)"), "{}", notice.text);
        assert!(notice.text.contains("next 60 minutes"));
        assert_eq!(notice.name, "www.example.com");
        assert_eq!(notice.time, "1970-01-01T00:00:00Z");
    }
}
