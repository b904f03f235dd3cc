//! Reports by mail: `hedge report --email` sends one now, and the
//! schedules in `[[reports.scheduled]]` send the report for the period just
//! ended when it falls due (`policy::report_schedule`), as a short text
//! with the report attached. Each is gathered as any report is (an access
//! to the query log, in the audit trail); each mail is recorded from queued
//! to delivered or failed. The last period each schedule was sent for is
//! kept in the database, so a send missed while hedge was stopped goes at
//! the next start.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{ReportFormat, long_date, render, summary_sentences};
use crate::config::{AttachedFormat, ScheduledReport};
use crate::policy::report_schedule::{due_after, due_at_or_before, period};
use crate::service::alerting::email::{Mail, MailFile, send_recorded};
use crate::service::{Actor, Service, ServiceError};
use crate::store::{MailKind, Report, ReportRequest};

/// How often the schedules are looked at (a reload's new ones are seen
/// within this).
const CHECK_EVERY: Duration = Duration::from_secs(30);

/// How one mail of a report ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailResult {
    pub to: String,
    pub attempts: u32,
    /// `None`: delivered.
    pub error: Option<String>,
}

/// What `hedge report --email` did: the period reported, each mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportMailed {
    pub from_ms: i64,
    pub to_ms: i64,
    pub subject: String,
    pub mails: Vec<MailResult>,
}

impl Service {
    /// Gathers the report `request` asks for (the caller needs the
    /// safeguarding role, as for any report) and mails it to each of `to`
    /// as `format`, waiting for the relay's answer (retries included).
    pub async fn email_report(
        &self,
        actor: &Actor,
        request: &ReportRequest,
        to: &[String],
        format: ReportFormat,
        shutdown: &CancellationToken,
    ) -> Result<ReportMailed, ServiceError> {
        let config = self.handler.config();
        let Some(relay) = config.email.clone() else {
            return Err(ServiceError::Invalid(format!(
                "no mail can be sent: {} has no [email] section naming the relay",
                config.path.display()
            )));
        };
        if to.is_empty() {
            return Err(ServiceError::Invalid(
                "give an address to send the report to".into(),
            ));
        }
        for address in to {
            if address.parse::<lettre::Address>().is_err() {
                return Err(ServiceError::Invalid(format!(
                    "{address:?} is not an email address (such as dsl@school.example)"
                )));
            }
        }
        self.acting_person(
            actor,
            None,
            &[crate::policy::Role::Safeguarding],
            "gather reports",
        )
        .await?;
        let details = serde_json::json!({ "request": request, "emailed_to": to });
        let report = self.gather_report(actor, request, details).await?;
        let sender = format!("at the request of {}", actor.user);
        let mails = self
            .mail_report(&relay, &report, to, format, &sender, shutdown)
            .await;
        Ok(ReportMailed {
            from_ms: report.from_ms,
            to_ms: report.to_ms,
            subject: subject(&report),
            mails,
        })
    }

    /// Mails `report` as `format` to each of `to`; how each ended.
    async fn mail_report(
        &self,
        relay: &crate::config::EmailConfig,
        report: &Report,
        to: &[String],
        format: ReportFormat,
        sender: &str,
        shutdown: &CancellationToken,
    ) -> Vec<MailResult> {
        let attachment = MailFile {
            name: file_name(report, format),
            content_type: match format {
                ReportFormat::Html => "text/html; charset=utf-8",
                ReportFormat::Csv => "text/csv; charset=utf-8",
                ReportFormat::Text => "text/plain; charset=utf-8",
            }
            .to_string(),
            bytes: render(report, format).into_bytes(),
        };
        let body = format!(
            "The hedge report for {} is attached ({}).\n\n{}\n\nSent by hedge {sender}.\n",
            report.site,
            attachment.name,
            summary_sentences(report).join("\n"),
        );
        let mut results = Vec::new();
        for address in to {
            let mail = Mail {
                kind: MailKind::Report,
                to: address.clone(),
                subject: subject(report),
                body: body.clone(),
                attachment: Some(attachment.clone()),
            };
            let outcome = send_recorded(relay, &self.storage, &mail, shutdown).await;
            results.push(MailResult {
                to: address.clone(),
                attempts: outcome.attempts,
                error: outcome.error,
            });
        }
        results
    }

    /// Sends each scheduled report whose time has come and that has not
    /// been sent for that period (the latest one only, after a long stop).
    /// A schedule seen for the first time starts from its latest due time,
    /// so that a new schedule sends at its next time, not at once.
    pub async fn send_due_reports(&self, shutdown: &CancellationToken) -> Result<(), ServiceError> {
        let config = self.handler.config();
        let Some(relay) = &config.email else {
            return Ok(());
        };
        let database = self.storage.get()?;
        let zone = TimeZone::system();
        let now = Timestamp::now();
        for schedule in &config.reports.scheduled {
            let key = schedule.key();
            let Some(latest) = due_at_or_before(schedule, &zone, now) else {
                continue;
            };
            let last = database.schedule_last_due(&key).await?;
            let Some(last) = last else {
                database
                    .set_schedule_last_due(&key, latest.as_millisecond())
                    .await?;
                let next = due_after(schedule, &zone, latest)
                    .map(|t| crate::service::time::format_local(t.as_millisecond()))
                    .unwrap_or_default();
                info!("scheduled report \"{key}\": new; first sent at {next}");
                continue;
            };
            if last >= latest.as_millisecond() {
                continue;
            }
            if shutdown.is_cancelled() {
                return Ok(());
            }
            self.send_scheduled(relay, schedule, &key, &zone, latest, shutdown)
                .await?;
            if shutdown.is_cancelled() {
                // Cut short: sent again at the next start.
                return Ok(());
            }
            database
                .set_schedule_last_due(&key, latest.as_millisecond())
                .await?;
        }
        Ok(())
    }

    async fn send_scheduled(
        &self,
        relay: &crate::config::EmailConfig,
        schedule: &ScheduledReport,
        key: &str,
        zone: &TimeZone,
        due: Timestamp,
        shutdown: &CancellationToken,
    ) -> Result<(), ServiceError> {
        let Some((from, to)) = period(schedule, zone, due) else {
            return Ok(());
        };
        let request = ReportRequest {
            from_ms: from.as_millisecond(),
            to_ms: to.as_millisecond(),
            group: None,
            time_zone: zone.iana_name().map(str::to_string),
        };
        let actor = Actor::hedge();
        let details = serde_json::json!({
            "request": request,
            "emailed_to": schedule.to,
            "schedule": key,
        });
        let report = self.gather_report(&actor, &request, details).await?;
        info!(
            "scheduled report \"{key}\": sending the report from {} to {}",
            long_date(report.from_ms),
            long_date(report.to_ms - 1)
        );
        let format = match schedule.format {
            AttachedFormat::Html => ReportFormat::Html,
            AttachedFormat::Csv => ReportFormat::Csv,
            AttachedFormat::Text => ReportFormat::Text,
        };
        let sender = format!("on the schedule \"{key}\"");
        self.mail_report(relay, &report, &schedule.to, format, &sender, shutdown)
            .await;
        Ok(())
    }
}

/// Looks at the schedules once the database is open and then every
/// [`CHECK_EVERY`], until shutdown.
pub async fn run(service: Arc<Service>, shutdown: CancellationToken) {
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        if service.storage.get().is_err() {
            wait = Duration::from_millis(200);
            continue;
        }
        wait = CHECK_EVERY;
        if let Err(error) = service.send_due_reports(&shutdown).await {
            warn!("scheduled reports: {error}; trying again in {CHECK_EVERY:?}");
        }
    }
}

/// `hedge report for Hill Top Primary, 3 November 2026 to 9 November 2026`.
fn subject(report: &Report) -> String {
    let (first, last) = (long_date(report.from_ms), long_date(report.to_ms - 1));
    if first == last {
        format!("hedge report for {}, {first}", report.site)
    } else {
        format!("hedge report for {}, {first} to {last}", report.site)
    }
}

/// `hedge-report-2026-11-03-to-2026-11-09.html`.
fn file_name(report: &Report, format: ReportFormat) -> String {
    let day = |ms: i64| {
        Timestamp::from_millisecond(ms)
            .map(|t| {
                t.to_zoned(TimeZone::system())
                    .strftime("%Y-%m-%d")
                    .to_string()
            })
            .unwrap_or_default()
    };
    let extension = match format {
        ReportFormat::Html => "html",
        ReportFormat::Csv => "csv",
        ReportFormat::Text => "txt",
    };
    format!(
        "hedge-report-{}-to-{}.{extension}",
        day(report.from_ms),
        day(report.to_ms - 1)
    )
}
