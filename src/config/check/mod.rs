//! The checks that turn the raw TOML schema into a [`Config`]: every
//! problem is collected with its file, line and key, so an operator fixes a
//! file in one round.

mod central;
mod dnssec;
mod email;
#[cfg(test)]
pub use dnssec::read_anchors;
mod devices;
mod governance;
mod groups;
mod lists;
mod serving;
mod web;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use toml::Spanned;

use crate::config::*;

/// Collects every problem while turning the raw schema into a [`Config`].
pub(super) struct Checker<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
    pub(super) base: PathBuf,
    pub(super) problems: Vec<ConfigProblem>,
}

impl Checker<'_> {
    pub(super) fn problem<T>(&mut self, key: &str, value: &Spanned<T>, message: impl Into<String>) {
        self.problems.push(ConfigProblem::at(
            self.path,
            self.text,
            value.span().start,
            key,
            message.into(),
        ));
    }

    pub(super) fn resolve_path(&self, value: &str) -> PathBuf {
        let path = Path::new(value);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }

    /// The path `value` names, if that file exists; a problem otherwise.
    pub(super) fn existing_file(
        &mut self,
        key: &str,
        value: &Spanned<String>,
        what: &str,
    ) -> Option<PathBuf> {
        let path = self.resolve_path(value.get_ref());
        if path.is_file() {
            Some(path)
        } else {
            self.problem(
                key,
                value,
                format!("{what} {} does not exist", path.display()),
            );
            None
        }
    }

    pub(super) fn networks(&mut self, key: &str, values: &[Spanned<String>]) -> Vec<IpNet> {
        let mut out = Vec::new();
        for value in values {
            match parse_network(value.get_ref()) {
                Ok(net) => out.push(net),
                Err(message) => self.problem(key, value, message),
            }
        }
        out
    }

    pub(super) fn config(&mut self, raw: schema::RawConfig) -> Config {
        let server = self.server(raw.server);
        let upstream = self.upstream(raw.upstream);
        let zones = self.zones(raw.zones);
        let lists = self.lists(raw.lists, raw.categories);
        let groups = self.groups(raw.groups, &lists.catalogue);
        let clients = self.clients(raw.clients, &groups);
        let devices = self.devices(raw.devices, &groups);
        let admin = AdminConfig {
            socket: self.resolve_path(raw.admin.socket.get_ref()),
            group: raw.admin.group,
        };
        let logging = self.logging(raw.logging);
        let approvers = self.approvers(raw.approvers);
        let hours = *raw.exemptions.max_bypass_hours.get_ref();
        if !(1..=72).contains(&hours) {
            self.problem(
                "exemptions.max_bypass_hours",
                &raw.exemptions.max_bypass_hours,
                format!("{hours} is out of range: a bypass lasts from 1 to 72 hours"),
            );
        }
        let had_email = raw.email.is_some();
        let email = raw.email.and_then(|email| self.email(email));
        if !had_email {
            let needs = "mail is sent through the relay in [email], and there is none: add an [email] section (server, security, from)";
            if let Some(first) = raw.alerts.email.first() {
                self.problem("alerts.email", first, needs);
            }
            if let Some(first) = raw.reports.scheduled.first() {
                self.problem("reports.scheduled.to", &first.to, needs);
            }
        }
        let alerts = self.alerts(raw.alerts);
        let metrics = self.metrics(raw.metrics);
        let web = self.web(raw.web);
        let central = raw.central.and_then(|central| self.central(central));
        let reports = ReportsConfig {
            scheduled: self.scheduled_reports(raw.reports.scheduled),
            site: raw
                .reports
                .site
                .map(|site| site.into_inner().trim().to_string())
                .filter(|site| !site.is_empty()),
        };
        Config {
            logging,
            approvers,
            alerts,
            metrics,
            reports,
            web,
            email,
            exemptions: ExemptionLimits {
                max_bypass_hours: hours,
            },
            path: self.path.to_path_buf(),
            server,
            upstream,
            zones,
            lists,
            groups,
            clients,
            devices,
            admin,
            central,
        }
    }
}

pub(super) fn parse_network(value: &str) -> Result<IpNet, String> {
    if let Ok(net) = value.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    Err(format!(
        "{value:?} is not a network (expected an address or CIDR such as \"10.1.0.0/16\")"
    ))
}
