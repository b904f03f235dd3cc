//! The server side of the admin socket.

use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::peer::{Peer, group_entry, is_allowed};
use super::protocol::{AdminRequest, AdminResponse, StatusReport};
use crate::config::AdminConfig;
use crate::dns::Handler;

/// How long a connection may sit without sending a request.
const IDLE: std::time::Duration = std::time::Duration::from_secs(60);

/// The longest request line accepted.
const MAX_REQUEST: u64 = 64 * 1024;

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

/// What the admin server needs to answer.
pub struct AdminContext {
    pub handler: Arc<Handler>,
    pub started: Instant,
    pub listening: Vec<SocketAddr>,
}

/// Serves connections until `shutdown`, then removes the socket file.
pub async fn serve(
    listener: UnixListener,
    path: PathBuf,
    context: Arc<AdminContext>,
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
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let context = context.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            if let Err(error) = connection(stream, &context, &shutdown).await {
                debug!(%error, "admin connection ended");
            }
        });
    }
    let _ = std::fs::remove_file(&path);
}

async fn connection(
    stream: UnixStream,
    context: &AdminContext,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    let credentials = stream.peer_cred()?;
    let peer = Peer::new(credentials.uid(), credentials.gid());
    let admin_group = context.handler.config().admin.group.clone();
    let (reader, mut writer) = stream.into_split();
    if !is_allowed(&peer, &admin_group) {
        warn!(user = %peer.user, "admin socket: refused a user outside group {admin_group}");
        let response = AdminResponse::failure(format!(
            "permission denied: {} is not root and not in the group {admin_group}",
            peer.user
        ));
        return write_line(&mut writer, &response).await;
    }
    let mut lines = BufReader::new(reader.take(MAX_REQUEST)).lines();
    loop {
        // An idle connection neither holds up a shutdown nor lives forever.
        let line = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            line = tokio::time::timeout(IDLE, lines.next_line()) => line,
        };
        let Ok(line) = line else { return Ok(()) };
        let Some(line) = line? else { return Ok(()) };
        if line.trim().is_empty() {
            continue;
        }
        let response = match serde_json::from_str::<AdminRequest>(&line) {
            Ok(request) => answer(request, &peer, context).await,
            Err(error) => AdminResponse::failure(format!("bad request: {error}")),
        };
        write_line(&mut writer, &response).await?;
    }
}

async fn write_line(
    writer: &mut tokio::net::unix::OwnedWriteHalf,
    response: &AdminResponse,
) -> io::Result<()> {
    let mut bytes = serde_json::to_vec(response).map_err(io::Error::other)?;
    bytes.push(b'\n');
    writer.write_all(&bytes).await
}

async fn answer(request: AdminRequest, peer: &Peer, context: &AdminContext) -> AdminResponse {
    match request {
        AdminRequest::Status => {
            let handler = &context.handler;
            let policy = handler.policy();
            let config = handler.config();
            let report = StatusReport {
                version: env!("CARGO_PKG_VERSION").to_string(),
                config: config.path.display().to_string(),
                uptime_secs: context.started.elapsed().as_secs(),
                listening: context.listening.iter().map(ToString::to_string).collect(),
                stats: handler.stats.snapshot(),
                index_names: policy.index.len(),
                list_files: policy.reports.iter().filter(|r| !r.not_downloaded).count(),
                lists_not_downloaded: policy.reports.iter().filter(|r| r.not_downloaded).count(),
                lists_loaded_at: crate::cli::format_time(policy.built_at),
                groups: policy.groups.iter().map(|g| g.name.to_string()).collect(),
            };
            match serde_json::to_value(report) {
                Ok(value) => AdminResponse::success(value),
                Err(error) => AdminResponse::failure(error.to_string()),
            }
        }
        AdminRequest::Reload => {
            info!(user = %peer.user, "reload requested on the admin socket");
            match context.handler.reload_config_file().await {
                Ok(()) => {
                    let policy = context.handler.policy();
                    AdminResponse::success(serde_json::json!({
                        "index_names": policy.index.len(),
                        "list_files": policy.reports.iter().filter(|r| !r.not_downloaded).count(),
                    }))
                }
                Err(error) => {
                    AdminResponse::failure(format!("{error}\nthe running configuration is kept"))
                }
            }
        }
    }
}
