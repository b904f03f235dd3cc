//! The CLI side of the admin socket: one request, one typed response.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::protocol::{AdminRequest, AdminResponse};

#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    #[error("hedge is not running (nothing is serving the admin socket {})", path.display())]
    NotRunning { path: PathBuf },
    #[error("not allowed to use the admin socket {}: run as root or as a member of the admin group", path.display())]
    PermissionDenied { path: PathBuf },
    #[error("admin socket {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("admin socket {}: the server's answer is not understood: {message}", path.display())]
    BadResponse { path: PathBuf, message: String },
    #[error("{0}")]
    Refused(String),
}

/// Sends `request` and returns the result of a successful response as a
/// `T`; a refusal comes back as [`AdminClientError::Refused`] with the
/// reason, a result that is not a `T` as [`AdminClientError::BadResponse`].
pub fn call<T: DeserializeOwned>(
    socket: &Path,
    request: &AdminRequest,
    timeout: Duration,
) -> Result<T, AdminClientError> {
    call_streaming(socket, request, timeout, |_: serde::de::IgnoredAny| Ok(()))
}

/// Like [`call`], for requests answered over several lines (a search):
/// each partial result goes to `part` as a `P` as it arrives; the last
/// line's result is returned as a `T`. `timeout` bounds the wait for each
/// line.
pub fn call_streaming<P: DeserializeOwned, T: DeserializeOwned>(
    socket: &Path,
    request: &AdminRequest,
    timeout: Duration,
    mut part: impl FnMut(P) -> std::io::Result<()>,
) -> Result<T, AdminClientError> {
    let bad = |error: serde_json::Error| AdminClientError::BadResponse {
        path: socket.to_path_buf(),
        message: error.to_string(),
    };
    let io = |source: std::io::Error| AdminClientError::Io {
        path: socket.to_path_buf(),
        source,
    };
    let stream = UnixStream::connect(socket).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            AdminClientError::NotRunning {
                path: socket.to_path_buf(),
            }
        }
        std::io::ErrorKind::PermissionDenied => AdminClientError::PermissionDenied {
            path: socket.to_path_buf(),
        },
        _ => io(source),
    })?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    let mut line = serde_json::to_vec(request).expect("requests serialize");
    line.push(b'\n');
    (&stream).write_all(&line).map_err(io)?;
    let mut reader = BufReader::new(&stream);
    loop {
        let mut answer = String::new();
        if reader.read_line(&mut answer).map_err(io)? == 0 {
            return Err(AdminClientError::BadResponse {
                path: socket.to_path_buf(),
                message: "the server closed the connection without an answer".into(),
            });
        }
        let response: AdminResponse =
            serde_json::from_str(&answer).map_err(|e| AdminClientError::BadResponse {
                path: socket.to_path_buf(),
                message: e.to_string(),
            })?;
        if !response.ok {
            return Err(AdminClientError::Refused(
                response.error.unwrap_or_else(|| "refused".into()),
            ));
        }
        if !response.more {
            return serde_json::from_value(response.result).map_err(bad);
        }
        part(serde_json::from_value(response.result).map_err(bad)?).map_err(io)?;
    }
}
