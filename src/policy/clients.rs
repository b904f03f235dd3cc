//! Which group a client is in: a named client's own entry first, then the
//! group network with the longest prefix that contains the address, then
//! the `default` group.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::config::{ClientConfig, DEFAULT_GROUP, GroupConfig};

/// A client as policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client<'a> {
    /// Index into the snapshot's groups.
    pub group: usize,
    /// The configured name of the machine, if it has one.
    pub name: Option<&'a str>,
}

#[derive(Debug, Default)]
pub struct ClientTable {
    named: HashMap<IpAddr, (String, usize)>,
    /// Longest prefix first.
    networks: Vec<(IpNet, usize)>,
    default: usize,
}

impl ClientTable {
    pub fn new(groups: &[GroupConfig], clients: &[ClientConfig]) -> ClientTable {
        let position = |name: &str| groups.iter().position(|g| g.name == name);
        let default = position(DEFAULT_GROUP).expect("the config always has a default group");
        let mut networks: Vec<(IpNet, usize)> = groups
            .iter()
            .enumerate()
            .flat_map(|(i, g)| g.networks.iter().map(move |net| (*net, i)))
            .collect();
        // Stable: at equal prefix length the group listed first wins.
        networks.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
        let named = clients
            .iter()
            .filter_map(|c| {
                Some((
                    c.address.to_canonical(),
                    (c.name.clone(), position(&c.group)?),
                ))
            })
            .collect();
        ClientTable {
            named,
            networks,
            default,
        }
    }

    pub fn identify(&self, ip: IpAddr) -> Client<'_> {
        let ip = ip.to_canonical();
        if let Some((name, group)) = self.named.get(&ip) {
            return Client {
                group: *group,
                name: Some(name),
            };
        }
        let group = self
            .networks
            .iter()
            .find(|(net, _)| net.contains(&ip))
            .map_or(self.default, |(_, group)| *group);
        Client { group, name: None }
    }
}
