//! Telling systemd how the server is (`sd_notify`): ready once it answers,
//! reloading, stopping, and a watchdog ping sent only while the server's
//! tasks still run and its serving state can be read, so that a wedged
//! server is restarted.
//!
//! Outside systemd (`NOTIFY_SOCKET` unset) every call does nothing.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
    /// Reads `NOTIFY_SOCKET` (and forgets it, so that child processes
    /// cannot speak for the server).
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

    /// Sends `state` lines (`READY=1`, `STATUS=...`).
    pub fn notify(&self, state: &str) {
        let Some(target) = &self.socket else { return };
        if let Err(error) = send(target, state) {
            warn!(%error, "cannot notify systemd");
        }
    }
}

fn send(target: &Target, state: &str) -> io::Result<()> {
    let socket = UnixDatagram::unbound()?;
    match target {
        Target::Path(path) => socket.send_to(state.as_bytes(), path)?,
        Target::Abstract(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(state.as_bytes(), &addr)?
        }
    };
    Ok(())
}

/// How often systemd wants a watchdog ping (half its `WatchdogSec=`), if
/// it watches this process.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
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
        notifier.notify("WATCHDOG=1");
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
        notifier.notify("READY=1\nSTATUS=answering");
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=answering");
        // No socket: nothing happens.
        Notifier { socket: None }.notify("READY=1");
    }
}
