//! `[email]`, `[alerts] email` and `[[reports.scheduled]]` as checked: the
//! relay hedge sends mail through, who gets alerts by mail, and which
//! reports go out when. When a scheduled report falls due and which period
//! it covers is `policy`'s business.

use std::path::PathBuf;
use std::time::Duration;

/// `[email]`: the SMTP relay alerts and reports are sent through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailConfig {
    /// The relay's host name or address, as written (without brackets).
    pub host: String,
    pub port: u16,
    pub security: MailSecurity,
    /// Sign in to the relay as this user (with the password from
    /// `password_file`); `None`: send without signing in.
    pub username: Option<String>,
    /// The file holding the password, read at each send (so a changed
    /// password needs no reload). Never the password itself.
    pub password_file: Option<PathBuf>,
    /// The sender, `hedge@school.example` or `hedge <hedge@school.example>`.
    pub from: String,
    /// Certificate authorities trusted for the relay instead of the public
    /// web roots (a relay with a private authority).
    pub tls_ca_file: Option<PathBuf>,
    /// For one attempt, connection included.
    pub timeout: Duration,
    /// Tries before a mail is recorded as failed.
    pub attempts: u32,
}

/// `[email] security`: how the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailSecurity {
    /// Plain SMTP upgraded with STARTTLS, which must succeed (port 587).
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
    /// No encryption: only to a relay on this machine (loopback).
    None,
}

impl MailSecurity {
    /// The word the configuration uses.
    pub fn as_str(self) -> &'static str {
        match self {
            MailSecurity::Starttls => "starttls",
            MailSecurity::Tls => "tls",
            MailSecurity::None => "none",
        }
    }
}

/// `[[reports.scheduled]]`: a report mailed at a fixed local time for the
/// period that has just ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledReport {
    pub every: ReportEvery,
    /// Minutes after local midnight.
    pub minute: u16,
    /// Each recipient gets a mail of their own.
    pub to: Vec<String>,
    pub format: AttachedFormat,
}

impl ScheduledReport {
    /// What names this schedule in the database and in messages:
    /// `week mon 07:00 html to dsl@school.example`. A schedule changed in
    /// any of these is a new one.
    pub fn key(&self) -> String {
        let when = match self.every {
            ReportEvery::Day => "day".to_string(),
            ReportEvery::Week { weekday } => format!("week {}", WEEKDAYS[usize::from(weekday)]),
            ReportEvery::Month { day } => format!("month {day}"),
        };
        format!(
            "{when} {:02}:{:02} {} to {}",
            self.minute / 60,
            self.minute % 60,
            self.format.as_str(),
            self.to.join(", ")
        )
    }
}

/// The short day names `at` takes for a weekly report, Monday first.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `every` and the day of `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportEvery {
    /// Each day, for the day before.
    Day,
    /// Each week on `weekday` (Monday = 0), for the seven days before.
    Week { weekday: u8 },
    /// Each month on `day` (1 to 28), from that day of the month before.
    Month { day: u8 },
}

/// `[[reports.scheduled]] format`: the shape of the attached report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachedFormat {
    Html,
    Csv,
    Text,
}

impl AttachedFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            AttachedFormat::Html => "html",
            AttachedFormat::Csv => "csv",
            AttachedFormat::Text => "text",
        }
    }
}
