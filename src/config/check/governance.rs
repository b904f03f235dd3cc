//! `[[approvers]]`, `[alerts]`, `[logging]` and `[metrics]`: who may
//! approve, who is told, what is kept and what is shown.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::Checker;
use crate::config::*;

impl Checker<'_> {
    pub(super) fn approvers(&mut self, raw: Vec<schema::RawApprover>) -> Vec<Approver> {
        let mut approvers: Vec<Approver> = Vec::new();
        for approver in raw {
            let name = approver.name.get_ref().trim().to_string();
            if name.is_empty() {
                self.problem("approvers.name", &approver.name, "an approver needs a name");
                continue;
            }
            if approvers.iter().any(|a| a.name.eq_ignore_ascii_case(&name)) {
                self.problem(
                    "approvers.name",
                    &approver.name,
                    format!("approver {name:?} is listed twice"),
                );
                continue;
            }
            let role = approver.role.get_ref().trim().to_string();
            if role.is_empty() {
                self.problem(
                    "approvers.role",
                    &approver.role,
                    "say what the approver is (head teacher, DSL, ...)",
                );
            }
            let max_days = *approver.max_days.get_ref();
            if !(1..=MAX_EXEMPTION_DAYS).contains(&max_days) {
                self.problem(
                    "approvers.max_days",
                    &approver.max_days,
                    format!("{max_days} is out of range: from 1 to {MAX_EXEMPTION_DAYS} days"),
                );
            }
            approvers.push(Approver {
                name,
                role,
                max_days,
                may_bypass: approver.may_bypass,
                may_file_and_approve: approver.may_file_and_approve,
            });
        }
        approvers
    }

    pub(super) fn alerts(&mut self, raw: schema::RawAlerts) -> AlertsConfig {
        let minutes = *raw.window_minutes.get_ref();
        if !(1..=1440).contains(&minutes) {
            self.problem(
                "alerts.window_minutes",
                &raw.window_minutes,
                format!("{minutes} is out of range: from 1 to 1440 minutes (a day)"),
            );
        }
        let mut webhooks = Vec::new();
        for webhook in raw.webhooks {
            let url = webhook.url.get_ref().trim().to_string();
            if let Err(message) = check_webhook_url(&url) {
                self.problem("alerts.webhooks.url", &webhook.url, message);
            }
            let timeout = *webhook.timeout_secs.get_ref();
            if !(1..=60).contains(&timeout) {
                self.problem(
                    "alerts.webhooks.timeout_secs",
                    &webhook.timeout_secs,
                    format!("{timeout} is out of range: from 1 to 60 seconds"),
                );
            }
            let attempts = *webhook.attempts.get_ref();
            if !(1..=20).contains(&attempts) {
                self.problem(
                    "alerts.webhooks.attempts",
                    &webhook.attempts,
                    format!("{attempts} is out of range: from 1 to 20 attempts"),
                );
            }
            webhooks.push(WebhookConfig {
                url,
                timeout: Duration::from_secs(timeout),
                attempts,
            });
        }
        let socket = raw.syslog_socket.get_ref().trim();
        if raw.syslog && socket.is_empty() {
            self.problem(
                "alerts.syslog_socket",
                &raw.syslog_socket,
                "the system log socket path is empty",
            );
        }
        AlertsConfig {
            window: Duration::from_secs(u64::from(minutes) * 60),
            syslog: raw.syslog.then(|| self.resolve_path(socket)),
            webhooks,
            email: self.mail_recipients("alerts.email", &raw.email),
        }
    }

    pub(super) fn metrics(&mut self, raw: schema::RawMetrics) -> MetricsConfig {
        let Some(listen) = &raw.listen else {
            return MetricsConfig::default();
        };
        match parse_metrics_listen(listen.get_ref()) {
            Ok(address) => MetricsConfig {
                listen: Some(address),
            },
            Err(message) => {
                self.problem("metrics.listen", listen, message);
                MetricsConfig::default()
            }
        }
    }

    pub(super) fn logging(&mut self, raw: schema::RawLogging) -> LoggingConfig {
        let retention_days = *raw.retention_days.get_ref();
        if !(1..=MAX_RETENTION_DAYS).contains(&retention_days) {
            self.problem(
                "logging.retention_days",
                &raw.retention_days,
                format!("{retention_days} is out of range: from 1 to {MAX_RETENTION_DAYS} days"),
            );
        }
        let queue = *raw.queue.get_ref();
        if !(1..=10_000_000).contains(&queue) {
            self.problem(
                "logging.queue",
                &raw.queue,
                format!("{queue} is out of range: from 1 to 10000000 entries"),
            );
        }
        let window = *raw.repeat_window_secs.get_ref();
        let max_window = MAX_REPEAT_WINDOW.as_secs();
        if window > max_window {
            self.problem(
                "logging.repeat_window_secs",
                &raw.repeat_window_secs,
                format!("{window} is out of range: from 0 to {max_window} seconds"),
            );
        }
        if raw.database.get_ref().trim().is_empty() {
            self.problem(
                "logging.database",
                &raw.database,
                "the database path is empty",
            );
        }
        LoggingConfig {
            database: self.resolve_path(raw.database.get_ref()),
            retention_days,
            queue,
            repeat_window: Duration::from_secs(window.min(max_window)),
        }
    }
}

/// A webhook address hedge can POST to: http or https, with a host.
fn check_webhook_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{url:?} is not an http:// or https:// address"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || url.chars().any(char::is_whitespace) {
        return Err(format!("{url:?} has no host name, or contains spaces"));
    }
    Ok(())
}

/// `[metrics] listen`: an address and port, or a bare port (`9153` or
/// `:9153`), which means loopback only.
fn parse_metrics_listen(value: &str) -> Result<SocketAddr, String> {
    let value = value.trim();
    let port = value.strip_prefix(':').unwrap_or(value);
    if let Ok(port) = port.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    value.parse::<SocketAddr>().map_err(|_| {
        format!(
            "{value:?} is not an address and port (\"127.0.0.1:9153\", \"[::1]:9153\") or a port"
        )
    })
}
