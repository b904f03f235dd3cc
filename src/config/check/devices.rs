//! `[[clients]]` (by address or MAC address) and `[devices]`.

use std::net::IpAddr;

use toml::Spanned;

use super::Checker;
use crate::config::*;

impl Checker<'_> {
    pub(super) fn clients(
        &mut self,
        raw: Vec<schema::RawClient>,
        groups: &[GroupConfig],
    ) -> Vec<ClientConfig> {
        let mut clients: Vec<ClientConfig> = Vec::new();
        for client in raw {
            let mut bad = false;
            let address = match &client.address {
                None => None,
                Some(value) => match value.get_ref().parse::<IpAddr>() {
                    Ok(address) if clients.iter().any(|c| c.address == Some(address)) => {
                        self.problem(
                            "clients.address",
                            value,
                            format!("{address} is listed twice"),
                        );
                        bad = true;
                        None
                    }
                    Ok(address) => Some(address),
                    Err(_) => {
                        self.problem(
                            "clients.address",
                            value,
                            format!(
                                "{:?} is not an IP address (a client is one machine)",
                                value.get_ref()
                            ),
                        );
                        bad = true;
                        None
                    }
                },
            };
            let mut macs: Vec<Mac> = Vec::new();
            if let Some(value) = &client.mac {
                let texts = match value.get_ref() {
                    schema::RawMacs::One(text) => std::slice::from_ref(text),
                    schema::RawMacs::Many(texts) => texts.as_slice(),
                };
                for text in texts {
                    match text.parse::<Mac>() {
                        Ok(mac)
                            if macs.contains(&mac)
                                || clients.iter().any(|c| c.macs.contains(&mac)) =>
                        {
                            self.problem("clients.mac", value, format!("{mac} is listed twice"));
                            bad = true;
                        }
                        Ok(mac) => macs.push(mac),
                        Err(error) => {
                            self.problem("clients.mac", value, error.to_string());
                            bad = true;
                        }
                    }
                }
                if texts.is_empty() {
                    self.problem(
                        "clients.mac",
                        value,
                        "an empty list: give at least one MAC address, or leave `mac` out",
                    );
                    bad = true;
                }
            }
            if !bad && address.is_none() && macs.is_empty() {
                self.problem(
                    "clients.address",
                    &client.name,
                    format!(
                        "client {:?} has neither `address` nor `mac`: give one or both",
                        client.name.get_ref()
                    ),
                );
                continue;
            }
            let Some(group) = self.known_group("clients.group", &client.group, groups) else {
                continue;
            };
            if bad {
                continue;
            }
            clients.push(ClientConfig {
                name: client.name.get_ref().clone(),
                address,
                macs,
                group,
            });
        }
        clients
    }

    pub(super) fn devices(
        &mut self,
        raw: schema::RawDevices,
        groups: &[GroupConfig],
    ) -> DevicesConfig {
        let unknown_group = raw
            .unknown_group
            .and_then(|value| self.known_group("devices.unknown_group", &value, groups));
        let dhcp_leases = raw
            .dhcp_leases
            .iter()
            .map(|value| self.resolve_path(value.get_ref()))
            .collect();
        DevicesConfig {
            unknown_group,
            dhcp_leases,
        }
    }

    /// The group `value` names, or a problem listing the groups there are.
    fn known_group(
        &mut self,
        key: &str,
        value: &Spanned<String>,
        groups: &[GroupConfig],
    ) -> Option<String> {
        let group = value.get_ref().clone();
        if groups.iter().any(|g| g.name == group) {
            return Some(group);
        }
        let known: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        self.problem(
            key,
            value,
            format!(
                "unknown group {group:?}; the groups are: {}",
                known.join(", ")
            ),
        );
        None
    }
}
