//! Telling systemd how the server is (`sd_notify`): ready once it answers,
//! reloading, stopping, and a watchdog ping sent only while the server's
//! tasks still run and its serving state can be read, so that a wedged
//! server is restarted.
//!
//! The `sd-notify` crate does the talking: the states, the monotonic clock
//! that `RELOADING=1` carries, the watchdog period, and the datagram to
//! `NOTIFY_SOCKET` (a path, as systemd gives; the crate does not speak to
//! Linux's abstract `@` sockets). Outside systemd (`NOTIFY_SOCKET` unset)
//! every call does nothing.

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::dns::Handler;

/// Sends hedge's state to systemd, if systemd started it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Notifier;

impl Notifier {
    /// Answering: `READY=1` with what it answers on as the status.
    pub fn ready(&self, status: &str) {
        self.notify(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// Ready again after a reload.
    pub fn reloaded(&self) {
        self.notify(&[NotifyState::Ready]);
    }

    /// Re-reading the configuration: `RELOADING=1` with the monotonic
    /// time systemd needs to tell this reload from an earlier one.
    pub fn reloading(&self) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => self.notify(&[NotifyState::Reloading, now]),
            Err(error) => warn!(%error, "cannot read the monotonic clock for systemd"),
        }
    }

    pub fn stopping(&self) {
        self.notify(&[NotifyState::Stopping]);
    }

    fn notify(&self, states: &[NotifyState<'_>]) {
        if let Err(error) = sd_notify::notify(states) {
            warn!(%error, "cannot notify systemd");
        }
    }
}

/// How often systemd wants a watchdog ping (half its `WatchdogSec=`), if
/// it watches this process.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .filter(|period| !period.is_zero())
        .map(|period| period / 2)
}

/// Pings the watchdog every `every` while the runtime runs this task and
/// the serving state answers (a lock-free read, then a decision for a
/// name); nothing is counted or logged.
pub async fn watchdog(
    notifier: Notifier,
    handler: Arc<Handler>,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        handler.check_serving();
        notifier.notify(&[NotifyState::Watchdog]);
    }
}
