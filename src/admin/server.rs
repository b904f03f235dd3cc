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
use crate::policy::{
    Exemption, ExemptionSet, NewExemption, check_approval, check_person, check_reason,
    check_request,
};
use crate::store::{
    AccessKind, AlertEvent, AuditEntry, Database, ExemptionSelection, LogFilter, ReportContext,
    ReportRequest, Storage, StoreError, now_ms,
};

/// How long a connection may sit without sending a request.
/// How long a search or report waits for the query log to write what it
/// holds (it goes ahead without it after that).
pub(super) const FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);
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
    pub storage: Arc<Storage>,
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
            Ok(AdminRequest::LogSearch { filter, kind }) => {
                match search(&mut writer, filter, kind, &peer, context, shutdown).await {
                    Ok(count) => AdminResponse::success(serde_json::json!({ "rows": count })),
                    Err(SearchError::Client(error)) => return Err(error),
                    Err(SearchError::Store(error)) => AdminResponse::failure(error.to_string()),
                }
            }
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

enum SearchError {
    /// The peer went away; nothing more to say to it.
    Client(io::Error),
    Store(StoreError),
}

/// How long one line of a search's answer may wait for the client.
const SEARCH_WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Rows per line of a search's answer.
const SEARCH_CHUNK: usize = 500;

/// Streams the rows of a search to the peer. The access is recorded before
/// the first row goes out (no record, no rows), and its row count is filled
/// in at the end.
async fn search(
    writer: &mut tokio::net::unix::OwnedWriteHalf,
    filter: LogFilter,
    kind: AccessKind,
    peer: &Peer,
    context: &AdminContext,
    shutdown: &CancellationToken,
) -> Result<u64, SearchError> {
    if matches!(kind, AccessKind::Report | AccessKind::Incident) {
        return Err(SearchError::Store(StoreError::Invalid(
            "a report is asked for with the report request".into(),
        )));
    }
    // Queries answered a moment ago are searched too.
    context.handler.log.flush(FLUSH_LIMIT).await;
    let database = context.storage.get().map_err(SearchError::Store)?.clone();
    let access = database
        .begin_access(&peer.user, peer.uid, kind, &filter)
        .await
        .map_err(SearchError::Store)?;
    context
        .storage
        .audit(&AuditEntry {
            actor: peer.user.clone(),
            person: None,
            action: "log.searched".into(),
            details: serde_json::json!({ "kind": kind.as_str(), "filter": &filter }),
        })
        .await
        .map_err(SearchError::Store)?;
    info!(user = %peer.user, kind = kind.as_str(), "query log searched");
    let (sender, mut receiver) = tokio::sync::mpsc::channel(2);
    let reader = {
        let database = database.clone();
        tokio::spawn(async move { database.search(&filter, SEARCH_CHUNK, sender).await })
    };
    let mut sent = 0u64;
    while let Some(rows) = receiver.recv().await {
        sent += rows.len() as u64;
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
            drop(receiver);
            let _ = reader.await;
            let _ = database.finish_access(access, sent).await;
            return Err(SearchError::Client(error));
        }
    }
    let result = match reader.await {
        Ok(result) => result,
        Err(error) => Err(StoreError::Invalid(format!("the search failed: {error}"))),
    };
    database
        .finish_access(access, sent)
        .await
        .map_err(SearchError::Store)?;
    result.map_err(SearchError::Store)
}

fn to_response<T: serde::Serialize>(result: Result<T, StoreError>) -> AdminResponse {
    match result.map(serde_json::to_value) {
        Ok(Ok(value)) => AdminResponse::success(value),
        Ok(Err(error)) => AdminResponse::failure(error.to_string()),
        Err(error) => AdminResponse::failure(error.to_string()),
    }
}

async fn answer(request: AdminRequest, peer: &Peer, context: &AdminContext) -> AdminResponse {
    let storage = &context.storage;
    match request {
        AdminRequest::LogSearch { .. } => {
            AdminResponse::failure("a search is answered over several lines")
        }
        AdminRequest::LogPurge { dry_run } => {
            let days = context.handler.config().logging.retention_days;
            let result = match storage.get() {
                Ok(database) if dry_run => {
                    crate::store::purge_preview(database, days, now_ms()).await
                }
                Ok(database) => {
                    info!(user = %peer.user, "purge requested on the admin socket");
                    let report = crate::store::purge(database, days, now_ms()).await;
                    if let Ok(report) = &report {
                        audit(context, peer, None, "log.purged", serde_json::json!(report)).await;
                    }
                    report
                }
                Err(error) => Err(error),
            };
            to_response(result)
        }
        AdminRequest::HoldAdd { hold } => {
            let result = match storage.get() {
                Ok(database) => {
                    database
                        .add_hold(storage.audit_lock(), &hold, &peer.user)
                        .await
                }
                Err(error) => Err(error),
            };
            if let Ok(placed) = &result {
                info!(
                    user = %peer.user,
                    "legal hold {} placed by {} on {}: {}",
                    placed.id, placed.placed_by, placed.client, placed.reason
                );
            }
            to_response(result)
        }
        AdminRequest::HoldList { all } => to_response(match storage.get() {
            Ok(database) => database.holds(all).await,
            Err(error) => Err(error),
        }),
        AdminRequest::HoldRelease { id, by, reason } => {
            let result = match storage.get() {
                Ok(database) => {
                    database
                        .release_hold(storage.audit_lock(), id, &by, &reason, &peer.user)
                        .await
                }
                Err(error) => Err(error),
            };
            if result.is_ok() {
                info!(user = %peer.user, "legal hold {id} released by {by}: {reason}");
            }
            to_response(result)
        }
        AdminRequest::LogAccess { since_ms, limit } => to_response(match storage.get() {
            Ok(database) => database.access_log(since_ms, limit).await,
            Err(error) => Err(error),
        }),
        AdminRequest::AuditList { since_ms, limit } => to_response(match storage.get() {
            Ok(database) => database.audit_rows(since_ms, limit).await,
            Err(error) => Err(error),
        }),
        AdminRequest::AuditVerify => to_response(match storage.get() {
            Ok(database) => database.verify_audit().await,
            Err(error) => Err(error),
        }),
        AdminRequest::ExemptRequest { .. }
        | AdminRequest::ExemptAdd { .. }
        | AdminRequest::ExemptApprove { .. }
        | AdminRequest::ExemptReject { .. }
        | AdminRequest::ExemptRevoke { .. } => {
            let result = match storage.get() {
                Ok(database) => exemption_change(request, peer, context, database).await,
                Err(error) => Err(error),
            };
            if let Ok(exemption) = &result {
                info!(
                    user = %peer.user,
                    "exemption {} ({} for {}): {}",
                    exemption.id,
                    exemption.what(),
                    exemption.scope,
                    exemption.state(now_ms())
                );
            }
            to_response(result)
        }
        AdminRequest::ExemptList { selection } => to_response(match storage.get() {
            Ok(database) => database.exemptions(selection, now_ms()).await,
            Err(error) => Err(error),
        }),
        AdminRequest::ExemptShow { id } => to_response(match storage.get() {
            Ok(database) => match database.exemption(id).await {
                Ok(Some(exemption)) => Ok(exemption),
                Ok(None) => Err(StoreError::Invalid(format!("there is no exemption {id}"))),
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        }),
        AdminRequest::AlertList { selection } => to_response(match storage.get() {
            Ok(database) => database.alerts(&selection).await,
            Err(error) => Err(error),
        }),
        AdminRequest::AlertShow { id } => to_response(match storage.get() {
            Ok(database) => match database.alert(id).await {
                Ok(Some(alert)) => Ok(alert),
                Ok(None) => Err(StoreError::Invalid(format!(
                    "there is no alert {id}: see `hedge alerts list`"
                ))),
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        }),
        AdminRequest::AlertAck { id, by, note } => {
            let result = match storage.get() {
                Ok(database) => {
                    database
                        .acknowledge_alert(storage.audit_lock(), id, &by, &note, &peer.user)
                        .await
                }
                Err(error) => Err(error),
            };
            if result.is_ok() {
                // Later hits from the same client start a new alert.
                context
                    .handler
                    .alerts
                    .send_control(AlertEvent::Acknowledged(id))
                    .await;
                info!(user = %peer.user, "alert {id} acknowledged by {by}");
            }
            to_response(result)
        }
        AdminRequest::Report { request } => to_response(report(request, peer, context).await),
        AdminRequest::IncidentOpen { .. }
        | AdminRequest::IncidentNote { .. }
        | AdminRequest::IncidentRefer { .. }
        | AdminRequest::IncidentClose { .. }
        | AdminRequest::IncidentList { .. }
        | AdminRequest::IncidentShow { .. } => {
            to_response(super::incidents::answer(request, peer, context).await)
        }
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
                upstream: handler.upstream_description(),
                categories: policy.catalogue.ids().len(),
                categories_blocked: policy
                    .groups
                    .iter()
                    .fold(crate::filter::CategorySet::EMPTY, |all, g| {
                        all.union(g.block).union(policy.catalogue.mandatory())
                    })
                    .iter()
                    .count(),
                log: handler.log.status(storage, config.logging.retention_days),
                exemptions_active: count(storage, ExemptionSelection::Active, true).await,
                exemptions_pending: count(storage, ExemptionSelection::Pending, false).await,
                alerts_open: match storage.get() {
                    Ok(database) => database.open_alert_count().await.ok(),
                    Err(_) => None,
                },
            };
            match serde_json::to_value(report) {
                Ok(value) => AdminResponse::success(value),
                Err(error) => AdminResponse::failure(error.to_string()),
            }
        }
        AdminRequest::Reload { cause } => {
            info!(user = %peer.user, "reload requested on the admin socket");
            let cause = cause.unwrap_or_else(|| "hedge reload".into());
            match context.handler.reload_config_file().await {
                Ok(summary) => {
                    let details = serde_json::json!({
                        "cause": cause,
                        "index_names": summary.index_names,
                        "list_files": summary.list_files,
                    });
                    audit(context, peer, None, "config.reloaded", details.clone()).await;
                    AdminResponse::success(details)
                }
                Err(error) => {
                    let details = serde_json::json!({ "cause": cause, "error": error.to_string() });
                    audit(context, peer, None, "config.reload-failed", details).await;
                    AdminResponse::failure(format!("{error}\nthe running configuration is kept"))
                }
            }
        }
    }
}

/// Gathers a report, recorded as an access to the query log (who, what,
/// how many rows it counted) and in the audit trail.
async fn report(
    request: ReportRequest,
    peer: &Peer,
    context: &AdminContext,
) -> Result<crate::store::Report, StoreError> {
    context.handler.log.flush(FLUSH_LIMIT).await;
    let database = context.storage.get()?;
    let handler = &context.handler;
    let config = handler.config();
    let policy = handler.policy();
    if let Some(group) = &request.group
        && !policy.groups.iter().any(|g| &*g.name == group)
    {
        let known: Vec<&str> = policy.groups.iter().map(|g| &*g.name).collect();
        return Err(StoreError::Invalid(format!(
            "there is no group {group:?}; the groups are: {}",
            known.join(", ")
        )));
    }
    let catalogue = &policy.catalogue;
    let safeguarding = catalogue
        .safeguarding()
        .iter()
        .map(|id| catalogue.get(id).id.clone())
        .collect();
    let mut group_of_client = std::collections::BTreeMap::new();
    for exemption in database.exemptions(ExemptionSelection::All, 0).await? {
        if let crate::policy::ExemptionScope::Client(ip) = exemption.scope {
            let group = &policy.groups[policy.identify(ip).group].name;
            group_of_client.insert(ip.to_string(), group.to_string());
        }
    }
    let report_context = ReportContext {
        site: super::alerts::site_name(&config),
        safeguarding,
        retention_days: config.logging.retention_days,
        group_of_client,
        dropped_unrecorded: handler.log.unrecorded_drops(),
    };
    let access = database
        .begin_access(&peer.user, peer.uid, AccessKind::Report, &request)
        .await?;
    context
        .storage
        .audit(&AuditEntry {
            actor: peer.user.clone(),
            person: None,
            action: "log.reported".into(),
            details: serde_json::json!({ "request": &request }),
        })
        .await?;
    let report = database.report(&request, &report_context).await?;
    database
        .finish_access(access, report.totals.queries)
        .await?;
    info!(user = %peer.user, "report gathered over {} queries", report.totals.queries);
    Ok(report)
}

/// Records a change that has already happened (a reload, a purge). If the
/// database cannot take it, the server log says so: the change stands.
async fn audit(
    context: &AdminContext,
    peer: &Peer,
    person: Option<String>,
    action: &str,
    details: serde_json::Value,
) {
    let entry = AuditEntry {
        actor: peer.user.clone(),
        person,
        action: action.to_string(),
        details,
    };
    if let Err(error) = context.storage.audit(&entry).await {
        warn!(%error, "could not record {action} by {} in the audit trail", peer.user);
    }
}

/// How many exemptions of a selection there are (in force now only, with
/// `in_force`); 0 when the database is not open.
async fn count(storage: &Storage, selection: ExemptionSelection, in_force: bool) -> usize {
    let Ok(database) = storage.get() else {
        return 0;
    };
    let now = now_ms();
    database
        .exemptions(selection, now)
        .await
        .map(|list| list.iter().filter(|e| !in_force || e.in_force(now)).count())
        .unwrap_or(0)
}

/// The request an exemption on record was filed as, for checking again.
fn as_request(exemption: &Exemption) -> NewExemption {
    NewExemption {
        kind: exemption.kind,
        name: exemption.name.clone(),
        scope: exemption.scope.clone(),
        reason: exemption.reason.clone(),
        requested_by: exemption.requested_by.clone(),
        from_ms: exemption.from_ms,
        until_ms: exemption.until_ms,
    }
}

/// Files, approves, rejects or revokes an exemption after checking the
/// rules against the configuration and lists in force, then puts the
/// exemptions in force into the DNS path.
async fn exemption_change(
    request: AdminRequest,
    peer: &Peer,
    context: &AdminContext,
    database: &Database,
) -> Result<Exemption, StoreError> {
    let config = context.handler.config();
    let policy = context.handler.policy();
    let lock = context.storage.audit_lock();
    let invalid = StoreError::Invalid;
    let now = now_ms();
    let on_record = |id: i64| async move {
        database
            .exemption(id)
            .await?
            .ok_or_else(|| StoreError::Invalid(format!("there is no exemption {id}")))
    };
    let exemption = match request {
        AdminRequest::ExemptRequest { request } => {
            check_request(&config, &policy, &request, now).map_err(invalid)?;
            database
                .file_exemption(lock, &request, &peer.user, None)
                .await?
        }
        AdminRequest::ExemptAdd { request, by } => {
            check_request(&config, &policy, &request, now).map_err(invalid)?;
            let approver = check_approval(&config, &request, &by, true).map_err(invalid)?;
            database
                .file_exemption(lock, &request, &peer.user, Some(&approver.name))
                .await?
        }
        AdminRequest::ExemptApprove { id, by } => {
            let filed = as_request(&on_record(id).await?);
            // The lists may have changed since it was filed.
            check_request(&config, &policy, &filed, now).map_err(invalid)?;
            let approver = check_approval(&config, &filed, &by, false).map_err(invalid)?;
            database
                .decide_exemption(lock, id, true, &approver.name, None, &peer.user)
                .await?
        }
        AdminRequest::ExemptReject { id, by, reason } => {
            check_reason(&reason, "the reason").map_err(invalid)?;
            let filed = as_request(&on_record(id).await?);
            let approver = check_approval(&config, &filed, &by, false).map_err(invalid)?;
            database
                .decide_exemption(lock, id, false, &approver.name, Some(&reason), &peer.user)
                .await?
        }
        AdminRequest::ExemptRevoke { id, by, reason } => {
            check_reason(&reason, "the reason").map_err(invalid)?;
            check_person(&by, "--by").map_err(invalid)?;
            database
                .revoke_exemption(lock, id, &by, &reason, &peer.user)
                .await?
        }
        _ => return Err(invalid("not an exemption change".into())),
    };
    // The change is committed: if reading the set back fails now, the
    // server's next tick (every 2 s) puts it in force.
    if let Err(error) = refresh_exemptions(&context.handler, database).await {
        warn!(%error, "exemption {} changed; putting it in force failed, retrying", exemption.id);
    }
    Ok(exemption)
}

/// Reads the approved exemptions that have not ended and puts them in
/// force for the next query.
pub async fn refresh_exemptions(
    handler: &Handler,
    database: &Database,
) -> Result<usize, StoreError> {
    let _one_at_a_time = handler.exemption_refresh.lock().await;
    let now = now_ms();
    let approved = database.exemptions(ExemptionSelection::Active, now).await?;
    let count = approved.len();
    handler.set_exemptions(ExemptionSet::new(&approved, now));
    Ok(count)
}
