//! One query-log entry: what the DNS path hands over, and what a search
//! reads back.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::Mac;

/// What hedge did with a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Answered from the cache or an upstream.
    Allowed,
    /// Answered with the group's block answer.
    Blocked,
    /// Answered with a safe-search CNAME.
    Rewritten,
    /// Answered by hedge itself: a local zone or a special-use name.
    Local,
    /// Answered REFUSED (outside `allow_networks`, a zone transfer, a class
    /// hedge does not serve).
    Refused,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Allowed,
        Action::Blocked,
        Action::Rewritten,
        Action::Local,
        Action::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allowed => "allowed",
            Action::Blocked => "blocked",
            Action::Rewritten => "rewritten",
            Action::Local => "local",
            Action::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An entry as the DNS path hands it over. Cheap to build: the group name
/// is shared, the rest is small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRecord {
    pub at_ms: i64,
    pub client: IpAddr,
    pub client_name: Option<String>,
    /// The device's MAC address, when hedge knew it.
    pub mac: Option<Mac>,
    pub group: Option<Arc<str>>,
    /// Normalised: lowercase, no trailing dot.
    pub name: String,
    pub qtype: u16,
    pub action: Action,
    pub category: Option<String>,
    pub rule: Option<String>,
    pub rcode: u16,
    pub upstream_us: Option<u32>,
}

/// A row read back from the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredQuery {
    pub id: i64,
    pub at_ms: i64,
    pub client: IpAddr,
    pub client_name: Option<String>,
    pub group: Option<String>,
    pub name: String,
    pub qtype: u16,
    pub action: Action,
    pub category: Option<String>,
    pub rule: Option<String>,
    pub rcode: u16,
    pub upstream_us: Option<u32>,
    /// Times the device asked this within the repeat window (1: once).
    #[serde(default = "once")]
    pub times: u32,
    /// When it last asked, if more than once.
    #[serde(default)]
    pub last_ms: Option<i64>,
    /// The device's MAC address, when hedge knew it.
    #[serde(default)]
    pub mac: Option<Mac>,
    /// The host name the device gave its DHCP server, as the lease files
    /// last said.
    #[serde(default)]
    pub dhcp_name: Option<String>,
}

impl StoredQuery {
    /// The device as people know it: its configured name, else the name
    /// it gave DHCP (which any device may choose, so it is marked as
    /// such), with its address and MAC address.
    pub fn who(&self) -> String {
        let dhcp = self
            .dhcp_name
            .as_ref()
            .map(|name| format!("{name} [DHCP name]"));
        match (self.client_name.as_ref().or(dhcp.as_ref()), self.mac) {
            (Some(name), Some(mac)) => format!("{name} ({}, {mac})", self.client),
            (Some(name), None) => format!("{name} ({})", self.client),
            (None, Some(mac)) => format!("{} ({mac})", self.client),
            (None, None) => self.client.to_string(),
        }
    }
}

fn once() -> u32 {
    1
}

/// The longest window hedge folds repeats of a query into one row over;
/// searches from a time look this far back for rows that run into it.
pub const MAX_REPEAT_WINDOW_MS: i64 = crate::config::MAX_REPEAT_WINDOW.as_millis() as i64;

/// The 16-byte key an address is stored under: IPv4 as `::ffff:a.b.c.d`,
/// so that byte order is address order and a CIDR is one range.
pub fn ip_key(ip: IpAddr) -> [u8; 16] {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The address a stored key stands for.
pub fn ip_from_key(key: &[u8]) -> Option<IpAddr> {
    let octets: [u8; 16] = key.try_into().ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(octets)).to_canonical())
}

/// The lowest and highest keys of a network.
pub fn net_keys(net: &ipnet::IpNet) -> ([u8; 16], [u8; 16]) {
    (ip_key(net.network()), ip_key(net.broadcast()))
}

/// A name with its labels reversed: `www.example.com` is stored as
/// `com.example.www`, so that a name and every name below it sort together.
pub fn name_key(name: &str) -> String {
    let name = name.trim_end_matches('.');
    let mut key = String::with_capacity(name.len());
    for (i, label) in name.rsplit('.').enumerate() {
        if i > 0 {
            key.push('.');
        }
        key.push_str(label);
    }
    key
}

/// The name a key stands for (the reversal is its own inverse).
pub fn name_from_key(key: &str) -> String {
    name_key(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_keys_reverse_labels_and_back() {
        assert_eq!(name_key("www.example.com"), "com.example.www");
        assert_eq!(name_key("example.com."), "com.example");
        assert_eq!(name_key("com"), "com");
        assert_eq!(name_from_key("com.example.www"), "www.example.com");
    }

    #[test]
    fn ipv4_keys_sort_inside_their_network() {
        let net: ipnet::IpNet = "10.1.2.0/24".parse().unwrap();
        let (lo, hi) = net_keys(&net);
        let inside = ip_key("10.1.2.77".parse().unwrap());
        let outside = ip_key("10.1.3.0".parse().unwrap());
        assert!(lo <= inside && inside <= hi);
        assert!(outside > hi);
        // An IPv6 address whose first bytes look like 10.1.2.x is not inside.
        let v6 = ip_key("a01:200::1".parse().unwrap());
        assert!(!(lo <= v6 && v6 <= hi));
        assert_eq!(ip_from_key(&inside), Some("10.1.2.77".parse().unwrap()));
        assert_eq!(
            ip_key("::ffff:10.1.2.77".parse().unwrap()),
            inside,
            "a mapped address is its IPv4 address"
        );
    }

    #[test]
    fn actions_round_trip() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        assert_eq!(Action::parse("maybe"), None);
    }

    #[test]
    fn a_row_names_its_device_by_configured_then_dhcp_name_with_its_mac() {
        let mut row = StoredQuery {
            id: 1,
            at_ms: 0,
            client: "10.0.0.5".parse().unwrap(),
            client_name: None,
            group: None,
            name: "example.com".into(),
            qtype: 1,
            action: Action::Allowed,
            category: None,
            rule: None,
            rcode: 0,
            upstream_us: None,
            times: 1,
            last_ms: None,
            mac: None,
            dhcp_name: Some("sams-ipad".into()),
        };
        // A name a device gave itself never passes for a configured one.
        assert_eq!(row.who(), "sams-ipad [DHCP name] (10.0.0.5)");
        row.mac = Some("02:00:00:00:00:01".parse().unwrap());
        assert_eq!(
            row.who(),
            "sams-ipad [DHCP name] (10.0.0.5, 02:00:00:00:00:01)"
        );
        row.client_name = Some("Sam's tablet".into());
        assert_eq!(row.who(), "Sam's tablet (10.0.0.5, 02:00:00:00:00:01)");
        row.dhcp_name = None;
        row.client_name = None;
        assert_eq!(row.who(), "10.0.0.5 (02:00:00:00:00:01)");
    }
}
