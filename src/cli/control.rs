//! `hedge status` and `hedge reload`: asking the running server over the
//! admin socket.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use super::running_server::RunningServer;
use crate::admin::AdminRequest;
use crate::service::{Reloaded, StatusReport};

/// Long enough for a reload of large lists on a Raspberry Pi.
pub(super) const RELOAD_TIMEOUT: Duration = Duration::from_secs(120);

pub fn status(config_path: &Path, json: bool) -> Result<()> {
    let server = RunningServer::of_file(config_path, Duration::from_secs(10))?;
    let report: StatusReport = server.call(AdminRequest::Status)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let s = report.stats;
    println!(
        "hedge {} running for {}s on {}",
        report.version,
        report.uptime_secs,
        report.listening.join(", ")
    );
    println!("config:      {}", report.config);
    println!(
        "lists:       {} names from {} file(s), loaded {}{}",
        report.index_names,
        report.list_files,
        report.lists_loaded_at,
        if report.lists_not_downloaded > 0 {
            format!(
                " ({} URL source(s) not downloaded yet)",
                report.lists_not_downloaded
            )
        } else {
            String::new()
        }
    );
    println!(
        "categories:  {} in the catalogue, {} blocked by some group",
        report.categories, report.categories_blocked
    );
    println!("groups:      {}", report.groups.join(", "));
    println!("upstream:    {}", report.upstream);
    match report.neighbours {
        Some(known) => println!(
            "devices:     MAC addresses known at {known} address(es) on the link (the kernel's neighbour table)"
        ),
        None => println!(
            "devices:     the neighbour table is not followed: devices are known by address only (see the log)"
        ),
    }
    println!(
        "exemptions:  {} in force, {} waiting for an approver",
        report.exemptions_active, report.exemptions_pending
    );
    if let Some(open) = report.alerts_open {
        println!(
            "alerts:      {open} not yet acknowledged{}",
            if open > 0 {
                " (hedge alerts list --open)"
            } else {
                ""
            }
        );
    }
    if let Some(mail) = &report.mail
        && mail.delivered + mail.failed + mail.sending > 0
    {
        println!(
            "mail:        {} delivered, {} failed, {} being tried in the last {} days",
            mail.delivered,
            mail.failed,
            mail.sending,
            crate::service::status::MAIL_DAYS
        );
        if let Some(failure) = &mail.last_failure {
            println!(
                "             last failure {}: {:?} to {} after {} attempt(s): {}",
                crate::service::time::format_local(failure.at_ms),
                failure.subject,
                failure.recipient,
                failure.attempts,
                failure.error
            );
        }
    }
    if let Some(central) = &report.central {
        print_central(central);
    }
    if let Some(console) = &report.console {
        println!(
            "console:     https://{}/ ({} certificate, SHA-256 {})",
            console.listen,
            if console.self_signed {
                "self-signed"
            } else {
                "configured"
            },
            console.fingerprint
        );
    }
    println!(
        "queries:     {} answered, {} blocked, {} from cache, {} local",
        s.queries, s.blocked, s.cache_hits, s.local_answers
    );
    println!(
        "problems:    {} upstream failures, {} stale answers, {} failed DNSSEC validation, {} malformed, {} truncated",
        s.upstream_failures, s.stale_answers, s.dnssec_bogus, s.malformed, s.truncated
    );
    println!(
        "upstream:    {} shared an identical question already out, {} not sent (max_pending reached), {} refreshed before expiry (prefetch)",
        s.upstream_shared, s.upstream_shed, s.prefetches
    );
    println!(
        "refused:     {} outside allow_networks, {} over the rate limit ({} given a truncated reply), {} TCP connections",
        s.refused_not_allowed, s.rate_limited, s.rate_limit_slips, s.tcp_refused
    );
    let log = &report.log;
    println!(
        "query log:   {} written, {} dropped, {} waiting (queue {}); retention {} days; {}",
        log.written, log.dropped, log.pending, log.queue, log.retention_days, log.database
    );
    if let Some(problem) = &log.problem {
        println!("             PROBLEM: {problem}");
    }
    Ok(())
}

pub fn reload(config_path: &Path) -> Result<()> {
    let server = RunningServer::of_file(config_path, RELOAD_TIMEOUT)?;
    let reloaded: Reloaded = server.call(AdminRequest::Reload { cause: None })?;
    println!(
        "reloaded: {} names from {} list file(s)",
        reloaded.summary.index_names, reloaded.summary.list_files
    );
    for warning in &reloaded.summary.warnings {
        eprintln!("hedge: {warning}");
    }
    Ok(())
}

/// The `central:` lines of `hedge status`.
fn print_central(central: &crate::service::central::CentralStatus) {
    use crate::service::time::format_local;
    let last = central
        .last_success_ms
        .map_or_else(|| "never yet".to_string(), format_local);
    let backlog = &central.backlog;
    let waiting = match backlog.oldest_ms {
        Some(oldest) if backlog.rows > 0 => format!(
            "{} rows waiting, the oldest from {}",
            backlog.rows,
            format_local(oldest)
        ),
        _ => "nothing waiting".to_string(),
    };
    println!(
        "central:     site {} at {}: last shipped {last}; {waiting}",
        central.site, central.url
    );
    if backlog.never_shipped > 0 {
        println!(
            "             {} query-log rows were deleted by retention before they could be shipped (older than max_backlog_days)",
            backlog.never_shipped
        );
    }
    if let Some(error) = &central.error {
        println!("             failing: {error}");
    }
}
