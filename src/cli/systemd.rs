//! Telling systemd how the server is (`sd_notify`): ready once it answers,
//! reloading, stopping, and a watchdog ping sent only while the server's
//! tasks still run and its serving state can be read, so that a wedged
//! server is restarted.
//!
//! The states, the monotonic clock that `RELOADING=1` carries and the
//! watchdog period come from the `sd-notify` crate. `NOTIFY_SOCKET` is read
//! once and cleared before any thread starts (the crate's own `notify`
//! reads it at every call), so the datagram is sent here, to the socket
//! read then. Outside systemd (`NOTIFY_SOCKET` unset) every call does
//! nothing.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::dns::Handler;

/// Where systemd listens for notifications, if it started us.
#[derive(Debug, Clone)]
pub struct Notifier {
    socket: Option<Target>,
}

#[derive(Debug, Clone)]
enum Target {
    Path(PathBuf),
    /// `@name`: Linux's abstract socket namespace.
    Abstract(Vec<u8>),
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` and clears it, so that child processes cannot
    /// speak for the server. Call it before any other thread starts.
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET").map(|value| {
            let bytes = value.as_encoded_bytes();
            match bytes.strip_prefix(b"@") {
                Some(name) => Target::Abstract(name.to_vec()),
                None => Target::Path(PathBuf::from(value)),
            }
        });
        // SAFETY: called once at start-up, before any other thread exists.
        unsafe { std::env::remove_var("NOTIFY_SOCKET") };
        Notifier { socket }
    }

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

    /// Sends `states` as one message, one `KEY=value` a line.
    fn notify(&self, states: &[NotifyState<'_>]) {
        let Some(target) = &self.socket else { return };
        let message: Vec<String> = states.iter().map(ToString::to_string).collect();
        if let Err(error) = send(target, &message.join("\n")) {
            warn!(%error, "cannot notify systemd");
        }
    }
}

fn send(target: &Target, message: &str) -> io::Result<()> {
    let socket = UnixDatagram::unbound()?;
    match target {
        Target::Path(path) => socket.send_to(message.as_bytes(), path)?,
        Target::Abstract(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(message.as_bytes(), &addr)?
        }
    };
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_reach_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier {
            socket: Some(Target::Path(path)),
        };
        let mut buf = [0u8; 64];
        notifier.ready("answering");
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=answering");
        notifier.reloading();
        let n = listener.recv(&mut buf).unwrap();
        let reloading = std::str::from_utf8(&buf[..n]).unwrap();
        let usec = reloading
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .unwrap();
        assert!(usec.parse::<u64>().unwrap() > 0, "{reloading}");
        notifier.stopping();
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
        // No socket: nothing happens.
        Notifier { socket: None }.ready("answering");
    }
}
