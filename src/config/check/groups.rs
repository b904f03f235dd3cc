//! `[[groups]]` (with their schedules).

use std::net::{Ipv4Addr, Ipv6Addr};

use toml::Spanned;

use super::Checker;
use crate::config::*;

impl Checker<'_> {
    pub(super) fn groups(
        &mut self,
        raw: Vec<schema::RawGroup>,
        catalogue: &Catalogue,
    ) -> Vec<GroupConfig> {
        let mut groups: Vec<GroupConfig> = Vec::new();
        for group in raw {
            let name = group.name.get_ref().trim().to_string();
            if name.is_empty() {
                self.problem("groups.name", &group.name, "a group needs a name");
                continue;
            }
            if groups.iter().any(|g| g.name == name) {
                self.problem(
                    "groups.name",
                    &group.name,
                    format!("group {name:?} is defined twice"),
                );
                continue;
            }
            let networks = self.networks("groups.networks", &group.networks);
            let mut block = CategorySet::EMPTY;
            for id in &group.block {
                match catalogue.id(id.get_ref()) {
                    Some(category) => block.insert(category),
                    None if catalogue.ids().is_empty() => {}
                    None => self.problem(
                        "groups.block",
                        id,
                        format!(
                            "unknown category {:?}; the catalogue has: {}",
                            id.get_ref(),
                            catalogue.ids().join(", ")
                        ),
                    ),
                }
            }
            let schedule = self.schedule(&group, catalogue);
            let allow = self.entries("groups.allow", &group.allow);
            let deny = self.entries("groups.deny", &group.deny);
            let sinkhole_ipv4 = match &group.sinkhole_ipv4 {
                None => Ipv4Addr::UNSPECIFIED,
                Some(value) => value.get_ref().parse().unwrap_or_else(|_| {
                    self.problem(
                        "groups.sinkhole_ipv4",
                        value,
                        format!("{:?} is not an IPv4 address", value.get_ref()),
                    );
                    Ipv4Addr::UNSPECIFIED
                }),
            };
            let sinkhole_ipv6 = match &group.sinkhole_ipv6 {
                None => Ipv6Addr::UNSPECIFIED,
                Some(value) => value.get_ref().parse().unwrap_or_else(|_| {
                    self.problem(
                        "groups.sinkhole_ipv6",
                        value,
                        format!("{:?} is not an IPv6 address", value.get_ref()),
                    );
                    Ipv6Addr::UNSPECIFIED
                }),
            };
            groups.push(GroupConfig {
                name,
                networks,
                block,
                allow,
                deny,
                blocking: group.blocking,
                sinkhole_ipv4,
                sinkhole_ipv6,
                block_ttl: group.block_ttl,
                safe_search: group.safe_search,
                youtube: group.youtube,
                schedule,
                log: group.log,
            });
        }
        if !groups.iter().any(|g| g.name == DEFAULT_GROUP) {
            groups.push(GroupConfig::default_group(catalogue));
        }
        groups
    }

    pub(super) fn schedule(&mut self, group: &schema::RawGroup, catalogue: &Catalogue) -> Schedule {
        let zone_name = group.timezone.get_ref().trim().to_string();
        let time_zone = match jiff::tz::TimeZone::get(&zone_name) {
            Ok(zone) => zone,
            Err(_) => {
                self.problem(
                    "groups.timezone",
                    &group.timezone,
                    format!(
                        "{zone_name:?} is not a time zone (use a name such as \"Europe/London\")"
                    ),
                );
                jiff::tz::TimeZone::UTC
            }
        };
        let mut rules = Vec::new();
        for raw in &group.schedule {
            let days_text = match raw.days.get_ref() {
                schema::RawDays::One(text) => text.clone(),
                schema::RawDays::Many(list) => list.join(","),
            };
            let days = parse_days(&days_text);
            if days.is_none() {
                self.problem(
                    "groups.schedule.days",
                    &raw.days,
                    format!("{days_text:?} is not a set of days (e.g. \"mon-fri\", \"sat-sun\", \"all\", [\"mon\", \"wed\"])"),
                );
            }
            let clock = |this: &mut Self, key: &str, value: &Spanned<String>| {
                let parsed = parse_clock(value.get_ref());
                if parsed.is_none() {
                    this.problem(
                        key,
                        value,
                        format!(
                            "{:?} is not a time of day (HH:MM, 24-hour)",
                            value.get_ref()
                        ),
                    );
                }
                parsed
            };
            let from = clock(self, "groups.schedule.from", &raw.from);
            let to = clock(self, "groups.schedule.to", &raw.to);
            let mut block = CategorySet::EMPTY;
            for id in &raw.block {
                match catalogue.id(id.get_ref()) {
                    Some(category) => block.insert(category),
                    None => self.problem(
                        "groups.schedule.block",
                        id,
                        format!(
                            "unknown category {:?}; the catalogue has: {}",
                            id.get_ref(),
                            catalogue.ids().join(", ")
                        ),
                    ),
                }
            }
            if raw.block.is_empty() && !raw.block_all {
                self.problem(
                    "groups.schedule",
                    &raw.name,
                    "a rule needs `block` categories or `block_all = true`",
                );
            }
            if let (Some(days), Some(from), Some(to)) = (days, from, to) {
                rules.push(ScheduleRule {
                    name: raw.name.get_ref().clone(),
                    days,
                    from: from.min(1439),
                    to: if to == 1440 { 0 } else { to },
                    block,
                    block_all: raw.block_all,
                });
            }
        }
        if rules.len() > 64 {
            self.problem(
                "groups.schedule",
                &group.name,
                "a group can have at most 64 schedule rules",
            );
            rules.truncate(64);
        }
        Schedule {
            time_zone,
            zone_name,
            rules,
        }
    }

    /// Allow and deny entries: names, optionally written `*.name`.
    pub(super) fn entries(&mut self, key: &str, values: &[Spanned<String>]) -> Vec<String> {
        let mut out = Vec::new();
        for value in values {
            let text = value.get_ref().trim();
            let text = text.strip_prefix("*.").unwrap_or(text);
            match normalize(text) {
                Ok(name) => out.push(name),
                Err(problem) => {
                    self.problem(key, value, format!("{:?}: {problem}", value.get_ref()))
                }
            }
        }
        out
    }
}
