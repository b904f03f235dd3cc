//! `[central]`: a PostgreSQL URL with no password in it, a password file
//! that exists, a site name the centre can key rows by.

use crate::config::schema::RawCentral;
use crate::config::{CentralConfig, check_site, check_url};

use super::Checker;

impl Checker<'_> {
    pub(super) fn central(&mut self, raw: RawCentral) -> Option<CentralConfig> {
        let before = self.problems.len();
        let url = raw.url.get_ref().trim().to_string();
        if let Err(message) = check_url(&url) {
            self.problem("central.url", &raw.url, message);
        }
        let site = match &raw.site {
            Some(site) => {
                let name = site.get_ref().trim().to_string();
                if let Err(message) = check_site(&name) {
                    self.problem("central.site", site, message);
                }
                name
            }
            None => {
                self.problem(
                    "central.url",
                    &raw.url,
                    "[central] needs site = \"...\": the name this site's records go under at the centre, unique among its sites (such as \"hill-top-primary\")",
                );
                String::new()
            }
        };
        if let Some(password) = &raw.password {
            self.problem(
                "central.password",
                password,
                "the password is never written in the configuration: put it in a file only hedge can read and name that file with password_file",
            );
        }
        let password_file = raw
            .password_file
            .as_ref()
            .and_then(|file| self.existing_file("central.password_file", file, "password file"));
        let max_backlog_days = *raw.max_backlog_days.get_ref();
        if !(1..=3650).contains(&max_backlog_days) {
            self.problem(
                "central.max_backlog_days",
                &raw.max_backlog_days,
                format!("{max_backlog_days} is out of range: from 1 to 3650 days"),
            );
        }
        let retention_days = *raw.retention_days.get_ref();
        if !(1..=3650).contains(&retention_days) {
            self.problem(
                "central.retention_days",
                &raw.retention_days,
                format!("{retention_days} is out of range: from 1 to 3650 days"),
            );
        }
        (self.problems.len() == before).then_some(CentralConfig {
            url,
            password_file,
            site,
            max_backlog_days,
            retention_days,
        })
    }
}
