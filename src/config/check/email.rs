//! `[email]`, `[alerts] email` and `[[reports.scheduled]]`: the relay is a
//! host and port, sent to in clear only on this machine; the password is in
//! a file, never in the configuration; every address is one a relay
//! accepts; each schedule's `at` suits its `every`.

use std::net::IpAddr;
use std::time::Duration;

use toml::Spanned;

use crate::config::schema::{RawEmail, RawScheduledReport};
use crate::config::{
    AttachedFormat, EmailConfig, MailSecurity, ReportEvery, ScheduledReport, WEEKDAYS, parse_clock,
};

use super::Checker;

impl Checker<'_> {
    pub(super) fn email(&mut self, raw: RawEmail) -> Option<EmailConfig> {
        let before = self.problems.len();
        let security = match raw.security.get_ref().trim() {
            "starttls" => MailSecurity::Starttls,
            "tls" => MailSecurity::Tls,
            "none" => MailSecurity::None,
            other => {
                self.problem(
                    "email.security",
                    &raw.security,
                    format!("{other:?} is not a kind of security: \"starttls\" (port 587), \"tls\" (port 465) or \"none\" (only to a relay on this machine)"),
                );
                MailSecurity::Starttls
            }
        };
        let (host, port) = match parse_server(raw.server.get_ref()) {
            Ok(server) => server,
            Err(message) => {
                self.problem("email.server", &raw.server, message);
                (String::new(), 0)
            }
        };
        if security == MailSecurity::None && !host.is_empty() && !is_loopback(&host) {
            self.problem(
                "email.security",
                &raw.security,
                format!(
                    "\"none\" sends mail unencrypted, which hedge does only to a relay on this machine (localhost, 127.0.0.1 or ::1), not to {host}: use \"starttls\" or \"tls\""
                ),
            );
        }
        if let Some(password) = &raw.password {
            self.problem(
                "email.password",
                password,
                "the password is never written in the configuration: put it in a file only hedge can read and name that file with password_file",
            );
        }
        let username = raw
            .username
            .as_ref()
            .map(|u| u.get_ref().trim().to_string());
        let password_file = match (&raw.username, &raw.password_file) {
            (Some(user), None) => {
                self.problem(
                    "email.username",
                    user,
                    format!(
                        "{:?} is given without password_file: name the file holding the password",
                        user.get_ref()
                    ),
                );
                None
            }
            (None, Some(file)) => {
                self.problem(
                    "email.password_file",
                    file,
                    format!(
                        "{:?} is given without username: name the account to sign in as",
                        file.get_ref()
                    ),
                );
                None
            }
            (_, Some(file)) => self.existing_file("email.password_file", file, "the password file"),
            (None, None) => None,
        };
        let from = raw.from.get_ref().trim().to_string();
        if from.parse::<lettre::message::Mailbox>().is_err() {
            self.problem(
                "email.from",
                &raw.from,
                format!("{from:?} is not a sender address (such as \"hedge@school.example\" or \"hedge <hedge@school.example>\")"),
            );
        }
        let tls_ca_file = raw
            .tls_ca_file
            .as_ref()
            .and_then(|file| self.existing_file("email.tls_ca_file", file, "the CA file"));
        let timeout = *raw.timeout_secs.get_ref();
        if !(1..=300).contains(&timeout) {
            self.problem(
                "email.timeout_secs",
                &raw.timeout_secs,
                format!("{timeout} is out of range: from 1 to 300 seconds"),
            );
        }
        let attempts = *raw.attempts.get_ref();
        if !(1..=20).contains(&attempts) {
            self.problem(
                "email.attempts",
                &raw.attempts,
                format!("{attempts} is out of range: from 1 to 20 attempts"),
            );
        }
        (self.problems.len() == before).then(|| EmailConfig {
            host,
            port,
            security,
            username,
            password_file,
            from,
            tls_ca_file,
            timeout: Duration::from_secs(timeout),
            attempts,
        })
    }

    /// Recipients under `key`, each an address a relay accepts.
    pub(super) fn mail_recipients(&mut self, key: &str, values: &[Spanned<String>]) -> Vec<String> {
        let mut out = Vec::new();
        for value in values {
            let address = value.get_ref().trim();
            if address.parse::<lettre::Address>().is_ok() {
                out.push(address.to_string());
            } else {
                self.problem(
                    key,
                    value,
                    format!("{address:?} is not an email address (such as \"dsl@school.example\")"),
                );
            }
        }
        out
    }

    pub(super) fn scheduled_reports(
        &mut self,
        raw: Vec<RawScheduledReport>,
    ) -> Vec<ScheduledReport> {
        let mut out = Vec::new();
        for schedule in raw {
            let at = schedule.at.get_ref().trim().to_ascii_lowercase();
            let when = match schedule.every.get_ref().trim() {
                "day" => parse_daily(&at),
                "week" => parse_weekly(&at),
                "month" => parse_monthly(&at),
                other => {
                    self.problem(
                        "reports.scheduled.every",
                        &schedule.every,
                        format!("{other:?} is not a period: \"day\", \"week\" or \"month\""),
                    );
                    continue;
                }
            };
            let when = match when {
                Ok(when) => Some(when),
                Err(message) => {
                    self.problem("reports.scheduled.at", &schedule.at, message);
                    None
                }
            };
            let format = match schedule.format.get_ref().trim() {
                "html" => Some(AttachedFormat::Html),
                "csv" => Some(AttachedFormat::Csv),
                "text" => Some(AttachedFormat::Text),
                other => {
                    self.problem(
                        "reports.scheduled.format",
                        &schedule.format,
                        format!("{other:?} is not a report format: \"html\", \"csv\" or \"text\""),
                    );
                    None
                }
            };
            let to = self.mail_recipients("reports.scheduled.to", schedule.to.get_ref());
            if schedule.to.get_ref().is_empty() {
                self.problem(
                    "reports.scheduled.to",
                    &schedule.to,
                    "no one to send the report to: give at least one address",
                );
            }
            if let (Some((every, minute)), Some(format)) = (when, format) {
                out.push(ScheduledReport {
                    every,
                    minute,
                    to,
                    format,
                });
            }
        }
        out
    }
}

/// `"host:port"`, `"192.0.2.1:587"` or `"[2001:db8::1]:587"`.
fn parse_server(value: &str) -> Result<(String, u16), String> {
    let value = value.trim();
    let wrong = || {
        format!(
            "{value:?} is not a host and port (such as \"smtp.school.example:587\" or \"127.0.0.1:25\")"
        )
    };
    if let Ok(address) = value.parse::<std::net::SocketAddr>() {
        return Ok((address.ip().to_string(), address.port()));
    }
    let (host, port) = value.rsplit_once(':').ok_or_else(wrong)?;
    let port: u16 = port.parse().ok().filter(|p| *p > 0).ok_or_else(wrong)?;
    let name_like = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !name_like {
        return Err(wrong());
    }
    Ok((host.to_ascii_lowercase(), port))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.to_canonical().is_loopback())
}

fn clock(text: &str, example: &str) -> Result<u16, String> {
    parse_clock(text)
        .filter(|m| *m < 24 * 60)
        .ok_or_else(|| format!("{text:?} is not a time of day: write {example}"))
}

/// `at` of a daily report: `"07:00"`.
fn parse_daily(at: &str) -> Result<(ReportEvery, u16), String> {
    Ok((ReportEvery::Day, clock(at, "\"07:00\" for a daily report")?))
}

/// `at` of a weekly report: `"mon 07:00"`.
fn parse_weekly(at: &str) -> Result<(ReportEvery, u16), String> {
    let example = "a day and a time, such as \"mon 07:00\", for a weekly report";
    let (day, time) = at
        .split_once(' ')
        .ok_or_else(|| format!("{at:?} is not {example}"))?;
    let weekday = WEEKDAYS
        .iter()
        .position(|d| *d == day.trim())
        .ok_or_else(|| {
            format!(
                "{day:?} is not a day: one of {} (in {example})",
                WEEKDAYS.join(", ")
            )
        })?;
    let weekday = u8::try_from(weekday).unwrap_or_default();
    Ok((
        ReportEvery::Week { weekday },
        clock(time.trim(), "\"mon 07:00\"")?,
    ))
}

/// `at` of a monthly report: `"1 07:00"`, the day of the month (1 to 28,
/// so that every month has it) and a time.
fn parse_monthly(at: &str) -> Result<(ReportEvery, u16), String> {
    let example = "a day of the month and a time, such as \"1 07:00\", for a monthly report";
    let (day, time) = at
        .split_once(' ')
        .ok_or_else(|| format!("{at:?} is not {example}"))?;
    let day: u8 = day
        .trim()
        .parse()
        .ok()
        .filter(|d| (1..=28).contains(d))
        .ok_or_else(|| {
            format!("{day:?} is not a day of the month from 1 to 28 (every month has those)")
        })?;
    Ok((
        ReportEvery::Month { day },
        clock(time.trim(), "\"1 07:00\"")?,
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{Config, ConfigError, MailSecurity, ReportEvery};

    fn problems(text: &str) -> Vec<String> {
        let base = "[upstream]\nservers = [\"192.0.2.53\"]\n";
        match Config::from_str(&format!("{base}{text}"), Path::new("/tmp/hedge.toml")) {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid { problems, .. }) => {
                problems.iter().map(ToString::to_string).collect()
            }
            Err(other) => vec![other.to_string()],
        }
    }

    #[test]
    fn a_good_relay_and_schedules_are_read() {
        let config = Config::from_str(
            "[upstream]\nservers = [\"192.0.2.53\"]\n\
             [email]\nserver = \"smtp.school.example:587\"\nfrom = \"hedge <hedge@school.example>\"\n\
             [alerts]\nemail = [\"dsl@school.example\"]\n\
             [[reports.scheduled]]\nevery = \"week\"\nat = \"Mon 07:30\"\nto = [\"dsl@school.example\"]\n\
             [[reports.scheduled]]\nevery = \"month\"\nat = \"1 06:00\"\nto = [\"head@school.example\"]\nformat = \"csv\"\n",
            Path::new("/tmp/hedge.toml"),
        )
        .unwrap();
        let email = config.email.unwrap();
        assert_eq!(
            (email.host.as_str(), email.port),
            ("smtp.school.example", 587)
        );
        assert_eq!(email.security, MailSecurity::Starttls);
        assert_eq!(config.alerts.email, ["dsl@school.example"]);
        let week = &config.reports.scheduled[0];
        assert_eq!(week.every, ReportEvery::Week { weekday: 0 });
        assert_eq!(week.minute, 7 * 60 + 30);
        assert_eq!(week.key(), "week mon 07:30 html to dsl@school.example");
        assert_eq!(
            config.reports.scheduled[1].every,
            ReportEvery::Month { day: 1 }
        );
    }

    #[test]
    fn each_mistake_names_its_line_and_key() {
        let found = problems(
            "[email]\nserver = \"smtp.school.example\"\nsecurity = \"ssl\"\nfrom = \"not an address\"\npassword = \"hunter2\"\nattempts = 0\n\
             [alerts]\nemail = [\"dsl\"]\n\
             [[reports.scheduled]]\nevery = \"week\"\nat = \"07:00\"\nto = []\n\
             [[reports.scheduled]]\nevery = \"fortnight\"\nat = \"mon 07:00\"\nto = [\"a@b.example\"]\n\
             [[reports.scheduled]]\nevery = \"month\"\nat = \"31 07:00\"\nto = [\"a@b.example\"]\nformat = \"pdf\"\n",
        );
        let expect = [
            "/tmp/hedge.toml:4: email.server: \"smtp.school.example\" is not a host and port",
            "/tmp/hedge.toml:5: email.security: \"ssl\" is not a kind of security",
            "/tmp/hedge.toml:6: email.from: \"not an address\" is not a sender address",
            "/tmp/hedge.toml:7: email.password: the password is never written in the configuration",
            "/tmp/hedge.toml:8: email.attempts: 0 is out of range",
            "/tmp/hedge.toml:10: alerts.email: \"dsl\" is not an email address",
            "/tmp/hedge.toml:13: reports.scheduled.at: \"07:00\" is not a day and a time",
            "/tmp/hedge.toml:14: reports.scheduled.to: no one to send the report to",
            "/tmp/hedge.toml:16: reports.scheduled.every: \"fortnight\" is not a period",
            "/tmp/hedge.toml:21: reports.scheduled.at: \"31\" is not a day of the month from 1 to 28",
            "/tmp/hedge.toml:23: reports.scheduled.format: \"pdf\" is not a report format",
        ];
        for line in expect {
            assert!(
                found.iter().any(|f| f.starts_with(line)),
                "{line}\nnot in:\n{}",
                found.join("\n")
            );
        }
        assert_eq!(found.len(), expect.len(), "{}", found.join("\n"));
    }

    #[test]
    fn unencrypted_mail_goes_only_to_this_machine() {
        let found = problems(
            "[email]\nserver = \"smtp.school.example:25\"\nsecurity = \"none\"\nfrom = \"hedge@school.example\"\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .starts_with("/tmp/hedge.toml:5: email.security: \"none\" sends mail unencrypted"),
            "{found:?}"
        );
        for local in ["127.0.0.1:25", "[::1]:25", "localhost:2525"] {
            let found = problems(&format!(
                "[email]\nserver = \"{local}\"\nsecurity = \"none\"\nfrom = \"hedge@school.example\"\n"
            ));
            assert!(found.is_empty(), "{local}: {found:?}");
        }
    }

    #[test]
    fn mail_without_a_relay_is_refused() {
        let found = problems(
            "[alerts]\nemail = [\"dsl@school.example\"]\n[[reports.scheduled]]\nevery = \"day\"\nat = \"07:00\"\nto = [\"dsl@school.example\"]\n",
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with("/tmp/hedge.toml:4: alerts.email: "),
            "{found:?}"
        );
        assert!(found[0].contains("[email]"), "{found:?}");
        assert!(
            found[1].starts_with("/tmp/hedge.toml:8: reports.scheduled.to: "),
            "{found:?}"
        );
    }

    #[test]
    fn a_user_needs_a_password_file_that_exists() {
        let found = problems(
            "[email]\nserver = \"smtp.school.example:587\"\nfrom = \"hedge@school.example\"\nusername = \"hedge\"\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("/tmp/hedge.toml:6: email.username: "),
            "{found:?}"
        );
        let found = problems(
            "[email]\nserver = \"smtp.school.example:587\"\nfrom = \"hedge@school.example\"\nusername = \"hedge\"\npassword_file = \"/nonexistent/smtp-password\"\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("/tmp/hedge.toml:7: email.password_file: the password file /nonexistent/smtp-password does not exist"),
            "{found:?}"
        );
    }
}
