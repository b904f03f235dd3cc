//! The system log: one datagram per alert to the local syslog socket
//! (`/dev/log`, which journald and rsyslog both read), in the BSD format
//! those daemons accept.

use std::os::unix::net::UnixDatagram;
use std::path::Path;

/// Facility daemon (3), severity warning (4).
const PRIORITY: u8 = 3 * 8 + 4;

/// The datagram for `message`, stamped with local time `at_ms`.
pub fn datagram(message: &str, at_ms: i64) -> String {
    let stamp = jiff::Timestamp::from_millisecond(at_ms)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%b %e %H:%M:%S")
                .to_string()
        })
        .unwrap_or_default();
    // One line: a newline would split the entry in some daemons.
    let message = message.replace(['\n', '\r'], " ");
    format!(
        "<{PRIORITY}>{stamp} hedge[{}]: {message}",
        std::process::id()
    )
}

/// Sends `message` to the syslog socket at `socket`, without waiting on a
/// full socket buffer.
pub fn send(socket: &Path, message: &str, at_ms: i64) -> std::io::Result<()> {
    let sender = UnixDatagram::unbound()?;
    sender.set_nonblocking(true)?;
    sender.send_to(datagram(message, at_ms).as_bytes(), socket)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_reaches_the_socket_as_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let receiver = UnixDatagram::bind(&path).unwrap();
        send(&path, "alert 1:\nsecond line", 0).unwrap();
        let mut buffer = [0u8; 512];
        let n = receiver.recv(&mut buffer).unwrap();
        let text = std::str::from_utf8(&buffer[..n]).unwrap();
        assert!(text.starts_with("<28>"), "{text}");
        assert!(text.contains(" hedge["), "{text}");
        assert!(text.ends_with("]: alert 1: second line"), "{text}");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn a_missing_socket_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(send(&dir.path().join("absent"), "x", 0).is_err());
    }
}
