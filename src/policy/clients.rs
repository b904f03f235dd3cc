//! Which group a client is in. The order, first match wins: a
//! `[[clients]]` entry naming the device's MAC address; one naming its IP
//! address; `[devices] unknown_group` for a device whose MAC address is
//! known but named by no entry; the group network with the longest prefix
//! that contains the address; the `default` group. With no MAC address
//! known (not on hedge's link, or not yet in the neighbour table) only the
//! address rules apply.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::config::{ClientConfig, DEFAULT_GROUP, DevicesConfig, GroupConfig, Mac};

/// A client as policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client<'a> {
    /// Index into the snapshot's groups.
    pub group: usize,
    /// The configured name of the machine, if it has one.
    pub name: Option<&'a str>,
    /// The device's MAC address, when hedge knows it.
    pub mac: Option<Mac>,
    /// The rule that put it in its group.
    pub matched: ClientRule,
}

/// Which of the client rules decided a client's group, for `hedge explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRule {
    /// A `[[clients]]` entry naming its MAC address.
    Mac,
    /// A `[[clients]]` entry naming its IP address.
    Address,
    /// `[devices] unknown_group`: its MAC address matched no entry.
    UnknownDevice,
    /// A network of its group.
    Network(IpNet),
    /// No rule matched.
    Default,
}

impl fmt::Display for ClientRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientRule::Mac => f.write_str("a [[clients]] entry by MAC address"),
            ClientRule::Address => f.write_str("a [[clients]] entry by address"),
            ClientRule::UnknownDevice => {
                f.write_str("[devices] unknown_group (a MAC address no client names)")
            }
            ClientRule::Network(net) => write!(f, "the group's network {net}"),
            ClientRule::Default => f.write_str("no rule matched: the default group"),
        }
    }
}

/// The client rules of a configuration, compiled for lookups.
#[derive(Debug, Default)]
pub struct ClientTable {
    by_mac: HashMap<Mac, (String, usize)>,
    by_address: HashMap<IpAddr, (String, usize)>,
    unknown_group: Option<usize>,
    /// Longest prefix first.
    networks: Vec<(IpNet, usize)>,
    default: usize,
}

impl ClientTable {
    pub fn new(
        groups: &[GroupConfig],
        clients: &[ClientConfig],
        devices: &DevicesConfig,
    ) -> ClientTable {
        let position = |name: &str| groups.iter().position(|g| g.name == name);
        let default = position(DEFAULT_GROUP).expect("the config always has a default group");
        let mut networks: Vec<(IpNet, usize)> = groups
            .iter()
            .enumerate()
            .flat_map(|(i, g)| g.networks.iter().map(move |net| (*net, i)))
            .collect();
        // Stable: at equal prefix length the group listed first wins.
        networks.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
        let mut by_mac = HashMap::new();
        let mut by_address = HashMap::new();
        for client in clients {
            let Some(group) = position(&client.group) else {
                continue;
            };
            if let Some(address) = client.address {
                by_address.insert(address.to_canonical(), (client.name.clone(), group));
            }
            for mac in &client.macs {
                by_mac.insert(*mac, (client.name.clone(), group));
            }
        }
        ClientTable {
            by_mac,
            by_address,
            unknown_group: devices.unknown_group.as_deref().and_then(position),
            networks,
            default,
        }
    }

    /// The client at `ip`, whose MAC address is `mac` when hedge knows it.
    pub fn identify(&self, ip: IpAddr, mac: Option<Mac>) -> Client<'_> {
        fn named(
            (name, group): &(String, usize),
            mac: Option<Mac>,
            matched: ClientRule,
        ) -> Client<'_> {
            Client {
                group: *group,
                name: Some(name.as_str()),
                mac,
                matched,
            }
        }
        if let Some(known) = mac
            && let Some(entry) = self.by_mac.get(&known)
        {
            return named(entry, mac, ClientRule::Mac);
        }
        let ip = ip.to_canonical();
        if let Some(entry) = self.by_address.get(&ip) {
            return named(entry, mac, ClientRule::Address);
        }
        if mac.is_some()
            && let Some(group) = self.unknown_group
        {
            return Client {
                group,
                name: None,
                mac,
                matched: ClientRule::UnknownDevice,
            };
        }
        let (group, matched) = self
            .networks
            .iter()
            .find(|(net, _)| net.contains(&ip))
            .map_or((self.default, ClientRule::Default), |(net, group)| {
                (*group, ClientRule::Network(*net))
            });
        Client {
            group,
            name: None,
            mac,
            matched,
        }
    }

    /// The configured name of the device with `mac`, if an entry names it.
    pub fn name_of_mac(&self, mac: Mac) -> Option<&str> {
        self.by_mac.get(&mac).map(|(name, _)| name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{Config, ConfigError};

    const CONFIG: &str = r#"
[upstream]
servers = ["192.0.2.1"]

[[groups]]
name = "pupils"
networks = ["10.1.0.0/16"]

[[groups]]
name = "staff"

[[groups]]
name = "guests"

[[clients]]
name = "sam-tablet"
mac = "02:00:00:00:00:01"
group = "staff"

[[clients]]
name = "office-pc"
address = "10.1.0.9"
group = "staff"

[[clients]]
name = "kiosk"
mac = ["02:00:00:00:00:0a", "02-00-00-00-00-0B"]
address = "10.1.0.10"
group = "pupils"

[devices]
unknown_group = "guests"
"#;

    fn table(text: &str) -> (Config, ClientTable) {
        let config = Config::from_str(text, Path::new("/etc/hedge/hedge.toml")).unwrap();
        let table = ClientTable::new(&config.groups, &config.clients, &config.devices);
        (config, table)
    }

    fn mac(text: &str) -> Option<Mac> {
        Some(text.parse().unwrap())
    }

    fn group_of(config: &Config, client: Client<'_>) -> String {
        config.groups[client.group].name.clone()
    }

    #[test]
    fn a_device_by_mac_keeps_its_group_at_any_address() {
        let (config, table) = table(CONFIG);
        for address in ["10.1.0.50", "10.1.0.9", "192.168.7.7", "fd00::5"] {
            let who = table.identify(address.parse().unwrap(), mac("02:00:00:00:00:01"));
            assert_eq!(group_of(&config, who), "staff", "{address}");
            assert_eq!(who.name, Some("sam-tablet"));
            assert_eq!(who.matched, ClientRule::Mac);
        }
        // Either of a client's MAC addresses, however it was written.
        let who = table.identify("10.1.0.77".parse().unwrap(), mac("02:00:00:00:00:0b"));
        assert_eq!((who.name, who.matched), (Some("kiosk"), ClientRule::Mac));
    }

    #[test]
    fn the_rules_in_order_mac_address_unknown_device_network_default() {
        let (config, table) = table(CONFIG);
        // By address, whatever MAC address is there.
        let who = table.identify("10.1.0.9".parse().unwrap(), mac("02:00:00:00:00:99"));
        assert_eq!(group_of(&config, who), "staff");
        assert_eq!(who.matched, ClientRule::Address);
        // A MAC address no client names: unknown_group, before networks.
        let who = table.identify("10.1.0.50".parse().unwrap(), mac("02:00:00:00:00:99"));
        assert_eq!(group_of(&config, who), "guests");
        assert_eq!((who.name, who.matched), (None, ClientRule::UnknownDevice));
        assert_eq!(who.mac, mac("02:00:00:00:00:99"));
        // No MAC address known: the address rules only.
        let who = table.identify("10.1.0.50".parse().unwrap(), None);
        assert_eq!(group_of(&config, who), "pupils");
        assert_eq!(
            who.matched,
            ClientRule::Network("10.1.0.0/16".parse().unwrap())
        );
        let who = table.identify("192.168.7.7".parse().unwrap(), None);
        assert_eq!(group_of(&config, who), "default");
        assert_eq!(who.matched, ClientRule::Default);
        // IPv4 written as IPv6-mapped is the same address.
        let who = table.identify("::ffff:10.1.0.9".parse().unwrap(), None);
        assert_eq!(who.matched, ClientRule::Address);
    }

    #[test]
    fn without_unknown_group_an_unnamed_device_goes_by_its_address() {
        let (config, table) = table(&CONFIG.replace("unknown_group = \"guests\"", ""));
        let who = table.identify("10.1.0.50".parse().unwrap(), mac("02:00:00:00:00:99"));
        assert_eq!(group_of(&config, who), "pupils");
        assert_eq!(who.mac, mac("02:00:00:00:00:99"));
    }

    fn problems(text: &str) -> Vec<String> {
        match Config::from_str(text, Path::new("/etc/hedge/hedge.toml")) {
            Err(ConfigError::Invalid { problems, .. }) => {
                problems.iter().map(ToString::to_string).collect()
            }
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn bad_macs_and_groups_name_file_line_key_and_value() {
        let found = problems(
            "[upstream]\nservers = [\"192.0.2.1\"]\n\
             [[clients]]\nname = \"a\"\nmac = \"02:00:00:00:00:zz\"\ngroup = \"default\"\n\
             [[clients]]\nname = \"b\"\nmac = [\"02:00:00:00:00:01\", \"02:00:00:00:00:01\"]\ngroup = \"default\"\n\
             [[clients]]\nname = \"c\"\ngroup = \"default\"\n\
             [devices]\nunknown_group = \"visitors\"\n",
        );
        let expect = [
            "/etc/hedge/hedge.toml:5: clients.mac: \"02:00:00:00:00:zz\" is not a MAC address",
            "/etc/hedge/hedge.toml:9: clients.mac: 02:00:00:00:00:01 is listed twice",
            "/etc/hedge/hedge.toml:12: clients.address: client \"c\" has neither `address` nor `mac`",
            "/etc/hedge/hedge.toml:15: devices.unknown_group: unknown group \"visitors\"",
        ];
        assert_eq!(found.len(), expect.len(), "{found:#?}");
        for (found, expect) in found.iter().zip(expect) {
            assert!(found.starts_with(expect), "{found} / {expect}");
        }
    }
}
