//! The server side of the admin socket: framing (a line each way, a
//! request at most 64 KiB), the peer's credentials, and a search's rows streamed
//! back as they are read. What each request does is in `service`.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use super::dispatch::answer;
use super::peer::{Peer, group_entry, is_allowed};
use super::protocol::{AdminRequest, AdminResponse};
use crate::config::AdminConfig;
use crate::service::{Actor, Search, Service, ServiceError};
use crate::store::{AccessKind, LogFilter};

/// How long a connection may sit without sending a request.
const IDLE: Duration = Duration::from_secs(60);

/// The longest request line accepted; a longer one is refused (and not
/// kept in memory) and the connection closed.
const MAX_REQUEST: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum AdminSocketError {
    #[error("another hedge is already serving the admin socket {}", path.display())]
    AlreadyRunning { path: PathBuf },
    #[error("cannot create the admin socket {}: {source}", path.display())]
    Bind { path: PathBuf, source: io::Error },
}

/// Binds the admin socket: mode 0660, group `config.group` when it exists.
/// A socket file left by a server that is gone is replaced; one that a live
/// server answers on is not.
pub fn bind(config: &AdminConfig) -> Result<UnixListener, AdminSocketError> {
    let path = &config.socket;
    let fail = |source| AdminSocketError::Bind {
        path: path.clone(),
        source,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            // Never delete a file that is not a socket (a mistyped path).
            return Err(fail(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way; check [admin] socket",
            )));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(AdminSocketError::AlreadyRunning { path: path.clone() });
        }
        std::fs::remove_file(path).map_err(fail)?;
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let listener = UnixListener::bind(path).map_err(fail)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(fail)?;
    match group_entry(Path::new("/etc/group"), &config.group) {
        Some((gid, _)) => {
            if let Err(error) = std::os::unix::fs::chown(path, None, Some(gid)) {
                warn!(%error, "cannot give the admin socket to group {}", config.group);
            }
        }
        None => warn!(
            "admin group {:?} does not exist: only root and hedge's own user can use {}",
            config.group,
            path.display()
        ),
    }
    Ok(listener)
}

/// Serves connections until `shutdown`, then removes the socket file.
pub async fn serve(
    listener: UnixListener,
    path: PathBuf,
    service: Arc<Service>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                warn!(%error, "admin socket accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = service.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            if let Err(error) = connection(stream, &service, &shutdown).await {
                debug!(%error, "admin connection ended");
            }
        });
    }
    let _ = std::fs::remove_file(&path);
}

/// One connection: the peer is checked once, then each line is one request
/// answered by one line (a search by several).
async fn connection(
    stream: UnixStream,
    service: &Service,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    let credentials = stream.peer_cred()?;
    let peer = Peer::new(credentials.uid(), credentials.gid());
    let admin_group = service.handler.config().admin.group.clone();
    let (reader, mut writer) = stream.into_split();
    if !is_allowed(&peer, &admin_group) {
        warn!(user = %peer.user, "admin socket: refused a user outside group {admin_group}");
        let response = AdminResponse::failure(format!(
            "permission denied: {} is not root and not in the group {admin_group}",
            peer.user
        ));
        return write_line(&mut writer, &response).await;
    }
    // The person this OS account acts as, read once per connection
    // (their roles are read again by each operation).
    let person = match service.person_for_os_user(&peer.user).await {
        Ok(person) => person.map(|p| p.name),
        Err(error) => {
            warn!(%error, user = %peer.user, "admin socket: cannot read who this account acts as");
            None
        }
    };
    let actor = Actor {
        user: peer.user.clone(),
        uid: peer.uid,
        person,
    };
    let mut lines = FramedRead::new(reader, LinesCodec::new_with_max_length(MAX_REQUEST));
    loop {
        // An idle connection neither holds up a shutdown nor lives forever.
        let line = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            line = tokio::time::timeout(IDLE, lines.next()) => line,
        };
        let line = match line {
            Err(_) | Ok(None) => return Ok(()),
            Ok(Some(Ok(line))) => line,
            Ok(Some(Err(LinesCodecError::MaxLineLengthExceeded))) => {
                let response = AdminResponse::failure(format!(
                    "bad request: longer than {} KiB",
                    MAX_REQUEST / 1024
                ));
                write_line(&mut writer, &response).await?;
                // The rest of the line is read and dropped before closing,
                // so a peer still writing it reads the reason instead of
                // a reset connection.
                if !lines.read_buffer().contains(&b'\n') {
                    drain_line(lines.into_inner()).await;
                }
                return Ok(());
            }
            Ok(Some(Err(LinesCodecError::Io(error)))) => return Err(error),
        };
        if line.trim().is_empty() {
            continue;
        }
        let response = match serde_json::from_str::<AdminRequest>(&line) {
            Ok(AdminRequest::LogSearch { filter, kind }) => {
                match search(&mut writer, filter, kind, &actor, service, shutdown).await {
                    Ok(count) => AdminResponse::success(serde_json::json!({ "rows": count })),
                    Err(SearchError::Client(error)) => return Err(error),
                    Err(SearchError::Service(error)) => AdminResponse::failure(error.to_string()),
                }
            }
            Ok(request) => answer(request, &actor, service).await,
            Err(error) => AdminResponse::failure(format!("bad request: {error}")),
        };
        write_line(&mut writer, &response).await?;
    }
}

/// Reads and drops bytes up to the end of the current line (or the end of
/// the stream, or [`IDLE`] without a byte).
async fn drain_line(mut reader: tokio::net::unix::OwnedReadHalf) {
    use tokio::io::AsyncReadExt;
    let mut buffer = vec![0u8; 8192];
    while let Ok(Ok(read)) = tokio::time::timeout(IDLE, reader.read(&mut buffer)).await {
        if read == 0 || buffer[..read].contains(&b'\n') {
            return;
        }
    }
}

async fn write_line(writer: &mut OwnedWriteHalf, response: &AdminResponse) -> io::Result<()> {
    let mut bytes = serde_json::to_vec(response).map_err(io::Error::other)?;
    bytes.push(b'\n');
    writer.write_all(&bytes).await
}

enum SearchError {
    /// The peer went away; nothing more to say to it.
    Client(io::Error),
    Service(ServiceError),
}

/// How long one line of a search's answer may wait for the client.
const SEARCH_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Streams the rows of a search to the peer, a line per batch with
/// `more: true`. The service records the access before the first row is
/// read, and its row count at the end.
async fn search(
    writer: &mut OwnedWriteHalf,
    filter: LogFilter,
    kind: AccessKind,
    actor: &Actor,
    service: &Service,
    shutdown: &CancellationToken,
) -> Result<u64, SearchError> {
    let mut search: Search = service
        .search_log(actor, filter, kind)
        .await
        .map_err(SearchError::Service)?;
    while let Some(rows) = search.next().await {
        let line = AdminResponse {
            more: true,
            ..AdminResponse::success(serde_json::to_value(rows).unwrap_or_default())
        };
        // A reader that stops reading (a pager left open) must not hold a
        // database snapshot, a pooled connection or a shutdown forever.
        let written = tokio::select! {
            _ = shutdown.cancelled() => Err(io::Error::other("hedge is stopping")),
            written = tokio::time::timeout(SEARCH_WRITE_TIMEOUT, write_line(writer, &line)) => {
                written.unwrap_or_else(|_| Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client stopped reading the search's rows",
                )))
            }
        };
        if let Err(error) = written {
            let _ = search.finish().await;
            return Err(SearchError::Client(error));
        }
    }
    search.finish().await.map_err(SearchError::Service)
}
