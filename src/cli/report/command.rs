//! `hedge report`: asks the running server to gather a report over a
//! period (recorded as an access to the query log) and renders it with
//! [`crate::service::report::render`], or (`--email`) to mail it now.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::admin::AdminRequest;
use crate::cli::running_server::RunningServer;
use crate::cli::time::parse_time;
use crate::service::report::mailing::ReportMailed;
use crate::service::report::{ReportFormat, render};
use crate::store::{Report, ReportRequest};

/// Gathering reads the whole period: give it time on a small machine.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The start (RFC 3339, a date meaning local midnight, or an age such
    /// as 7d); default: 7 days ago.
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// The end, not included; a date alone means the end of that day.
    /// Default: now.
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// Only this group's queries, alerts and exemptions.
    #[arg(long)]
    group: Option<String>,
    /// The shape: text (the default when printed), csv, or html (the
    /// default when mailed).
    #[arg(long, value_enum)]
    format: Option<ReportFormat>,
    /// Write the report to this file (mode 0640) instead of printing it.
    #[arg(long, value_name = "FILE", conflicts_with = "email")]
    out: Option<PathBuf>,
    /// Mail the report to this address now, through the relay in [email]
    /// (may be given more than once).
    #[arg(long, value_name = "ADDRESS")]
    email: Vec<String>,
}

/// A date alone (`2026-11-30`) as an end means the end of that day.
pub(crate) fn end_time(text: &str) -> Result<i64, String> {
    let start = parse_time(text)?;
    let date_only = text.len() == 10 && text.chars().filter(|c| *c == '-').count() == 2;
    if !date_only {
        return Ok(start.as_millisecond());
    }
    let zoned = start.to_zoned(jiff::tz::TimeZone::system());
    let next = zoned
        .date()
        .tomorrow()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::system()))
        .map_err(|e| e.to_string())?;
    Ok(next.timestamp().as_millisecond())
}

pub fn run(args: ReportArgs, config: &Path) -> Result<()> {
    let now = jiff::Timestamp::now().as_millisecond();
    let from_ms = match &args.from {
        Some(text) => parse_time(text)
            .map_err(|e| anyhow!("--from: {e}"))?
            .as_millisecond(),
        None => now - 7 * 86_400_000,
    };
    let to_ms = match &args.to {
        Some(text) => end_time(text).map_err(|e| anyhow!("--to: {e}"))?,
        None => now,
    };
    if to_ms <= from_ms {
        bail!("--to must be after --from");
    }
    let server = RunningServer::of_file(config, ANSWER_TIMEOUT)?;
    let request = ReportRequest {
        from_ms,
        to_ms,
        group: args.group.clone(),
        time_zone: jiff::tz::TimeZone::system().iana_name().map(str::to_string),
    };
    if !args.email.is_empty() {
        let mailed: ReportMailed = server.call(AdminRequest::ReportEmail {
            request,
            to: args.email.clone(),
            format: args.format.unwrap_or(ReportFormat::Html),
        })?;
        let mut failed = 0;
        for mail in &mailed.mails {
            match &mail.error {
                None => eprintln!("{:?} sent to {}", mailed.subject, mail.to),
                Some(error) => {
                    failed += 1;
                    eprintln!(
                        "{:?} was NOT delivered to {} after {} attempt(s): {error}",
                        mailed.subject, mail.to, mail.attempts
                    );
                }
            }
        }
        if failed > 0 {
            bail!(
                "{failed} of {} mail(s) not delivered (recorded; see hedge status)",
                mailed.mails.len()
            );
        }
        return Ok(());
    }
    let report: Report = server.call(AdminRequest::Report { request })?;
    let text = render(&report, args.format.unwrap_or(ReportFormat::Text));
    match &args.out {
        Some(path) => {
            write_private(path, text.as_bytes())?;
            eprintln!("report written to {}", path.display());
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file beside it, readable
/// by owner and group only: a report names children's devices.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("--out {}: not a file name", path.display()))?;
    let temporary = dir
        .unwrap_or(Path::new("."))
        .join(format!(".{}.partial", name.to_string_lossy()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .open(&temporary)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
