//! DHCP lease files, read for the host name each device gave its DHCP
//! server: dnsmasq's `dnsmasq.leases`, ISC dhcpd's `dhcpd.leases` and
//! Kea's memfile CSV (`kea-leases4.csv`, `kea-leases6.csv`). The format is
//! told from the text itself. Pure: the caller reads the file.

use std::net::IpAddr;

use crate::config::Mac;

/// What a lease says of a device: its MAC address, the address it was
/// given, and the host name it sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub mac: Mac,
    pub address: Option<IpAddr>,
    pub name: String,
}

/// A line of a lease file that could not be read (the rest still is).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LeaseProblem {
    pub line: usize,
    pub message: String,
}

/// Which program wrote a lease file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseFormat {
    Dnsmasq,
    IscDhcpd,
    Kea,
}

impl LeaseFormat {
    /// Tells the format from the text: Kea's files start with a CSV header
    /// naming `address`; dhcpd's hold `lease ADDRESS {` blocks; anything
    /// else is read as dnsmasq's one lease a line.
    pub fn detect(text: &str) -> LeaseFormat {
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'));
        match first {
            Some(line) if line.starts_with("address,") => LeaseFormat::Kea,
            _ if text.lines().any(|l| {
                let l = l.trim_start();
                (l.starts_with("lease ") || l.starts_with("lease6 ")) && l.trim_end().ends_with('{')
            }) =>
            {
                LeaseFormat::IscDhcpd
            }
            _ => LeaseFormat::Dnsmasq,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LeaseFormat::Dnsmasq => "dnsmasq",
            LeaseFormat::IscDhcpd => "ISC dhcpd",
            LeaseFormat::Kea => "Kea CSV",
        }
    }
}

/// The named leases in `text`, in file order (a later lease of a device
/// is newer), with the lines that could not be read.
pub fn parse_leases(text: &str) -> (LeaseFormat, Vec<Lease>, Vec<LeaseProblem>) {
    let format = LeaseFormat::detect(text);
    let (leases, problems) = match format {
        LeaseFormat::Dnsmasq => dnsmasq(text),
        LeaseFormat::IscDhcpd => dhcpd(text),
        LeaseFormat::Kea => kea(text),
    };
    (format, leases, problems)
}

/// A host name as hedge keeps it: no trailing dot, nothing for `*` or
/// empty.
fn host_name(text: &str) -> Option<String> {
    let name = text.trim().trim_end_matches('.');
    (!name.is_empty() && name != "*").then(|| name.to_string())
}

/// `EXPIRY MAC ADDRESS HOSTNAME CLIENT-ID`; IPv6 leases (after a `duid`
/// line) carry an IAID where the MAC address would be, and are skipped.
fn dnsmasq(text: &str) -> (Vec<Lease>, Vec<LeaseProblem>) {
    let mut leases = Vec::new();
    let mut problems = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() || fields[0] == "duid" || line.trim_start().starts_with('#') {
            continue;
        }
        if fields.len() < 4 {
            problems.push(LeaseProblem {
                line: number + 1,
                message: format!("{line:?} is not a dnsmasq lease (expiry, MAC, address, name)"),
            });
            continue;
        }
        let Ok(mac) = fields[1].parse::<Mac>() else {
            // An IPv6 lease: an IAID, not a MAC address.
            continue;
        };
        let Ok(address) = fields[2].parse::<IpAddr>() else {
            problems.push(LeaseProblem {
                line: number + 1,
                message: format!("{:?} is not an IP address", fields[2]),
            });
            continue;
        };
        if let Some(name) = host_name(fields[3]) {
            leases.push(Lease {
                mac,
                address: Some(address),
                name,
            });
        }
    }
    (leases, problems)
}

/// A dhcpd lease block being read: its address, the line it starts on,
/// its MAC address and host name.
type Block = (Option<IpAddr>, usize, Option<Mac>, Option<String>);

/// `lease ADDRESS { ... hardware ethernet MAC; client-hostname "NAME"; }`.
fn dhcpd(text: &str) -> (Vec<Lease>, Vec<LeaseProblem>) {
    let mut leases = Vec::new();
    let mut problems = Vec::new();
    let mut block: Option<Block> = None;
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(rest) = line
            .strip_prefix("lease ")
            .or_else(|| line.strip_prefix("lease6 "))
            && let Some(head) = rest.strip_suffix('{')
        {
            let address = head.trim().trim_matches('"').parse::<IpAddr>().ok();
            block = Some((address, number + 1, None, None));
            continue;
        }
        let Some((_, _, mac, name)) = block.as_mut() else {
            continue;
        };
        if line == "}" {
            let (address, at, mac, name) = block.take().expect("inside a block");
            match (mac, name) {
                (Some(mac), Some(name)) => leases.push(Lease { mac, address, name }),
                (None, Some(_)) if address.is_some_and(|a| a.is_ipv4()) => {
                    problems.push(LeaseProblem {
                        line: at,
                        message: "a lease with a host name but no `hardware ethernet`".into(),
                    })
                }
                _ => {}
            }
            continue;
        }
        let statement = line.trim_end_matches(';');
        if let Some(value) = statement.strip_prefix("hardware ethernet ") {
            match value.trim().parse::<Mac>() {
                Ok(value) => *mac = Some(value),
                Err(error) => problems.push(LeaseProblem {
                    line: number + 1,
                    message: error.to_string(),
                }),
            }
        } else if let Some(value) = statement.strip_prefix("client-hostname ") {
            *name = host_name(value.trim().trim_matches('"'));
        }
    }
    if let Some((_, at, ..)) = block {
        problems.push(LeaseProblem {
            line: at,
            message: "a lease block with no closing `}`".into(),
        });
    }
    (leases, problems)
}

/// A CSV file whose header names its columns; `hwaddr` and `hostname` are
/// the ones hedge reads (Kea writes a comma in a value as `&#x2c`).
fn kea(text: &str) -> (Vec<Lease>, Vec<LeaseProblem>) {
    let mut leases = Vec::new();
    let mut problems = Vec::new();
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines
        .by_ref()
        .find(|(_, l)| !l.trim().is_empty())
        .map(|(_, l)| l.trim().split(',').collect())
        .unwrap_or_default();
    let column = |name: &str| header.iter().position(|h| *h == name);
    let (Some(address_at), Some(mac_at), Some(name_at)) =
        (column("address"), column("hwaddr"), column("hostname"))
    else {
        problems.push(LeaseProblem {
            line: 1,
            message: "a Kea lease file's header names no `hwaddr` or `hostname` column".into(),
        });
        return (leases, problems);
    };
    for (number, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() < header.len().min(name_at.max(mac_at).max(address_at) + 1) {
            problems.push(LeaseProblem {
                line: number + 1,
                message: format!(
                    "{} fields where the header names {}",
                    fields.len(),
                    header.len()
                ),
            });
            continue;
        }
        let Some(name) = host_name(&fields[name_at].replace("&#x2c", ",")) else {
            continue;
        };
        // IPv6 leases may lack the hardware address.
        if fields[mac_at].trim().is_empty() {
            continue;
        }
        let mac = match fields[mac_at].parse::<Mac>() {
            Ok(mac) => mac,
            Err(error) => {
                problems.push(LeaseProblem {
                    line: number + 1,
                    message: error.to_string(),
                });
                continue;
            }
        };
        leases.push(Lease {
            mac,
            address: fields[address_at].parse().ok(),
            name,
        });
    }
    (leases, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(text: &str) -> Mac {
        text.parse().unwrap()
    }

    #[test]
    fn dnsmasq_leases_ipv4_and_ipv6() {
        let text = "\
1764547200 02:00:00:00:00:01 192.168.1.23 sam-tablet 01:02:00:00:00:00:01
1764547300 02:00:00:00:00:02 192.168.1.24 * *
duid 00:01:00:01:2c:aa:bb:cc:02:00:00:00:00:01
1764547400 3456789 fd00::23 sam-tablet 00:01:00:01:2c:aa:bb:cc:02:00:00:00:00:01
1764547500 02:00:00:00:00:03 192.168.1.300 bad *
";
        let (format, leases, problems) = parse_leases(text);
        assert_eq!(format, LeaseFormat::Dnsmasq);
        assert_eq!(
            leases,
            [Lease {
                mac: mac("02:00:00:00:00:01"),
                address: Some("192.168.1.23".parse().unwrap()),
                name: "sam-tablet".into(),
            }]
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 5);
        assert!(problems[0].to_string().contains("\"192.168.1.300\""));
    }

    #[test]
    fn isc_dhcpd_leases_later_blocks_newer() {
        let text = r#"# The format of this file is documented in the dhcpd.leases(5) manual page.
# This lease file was written by isc-dhcp-4.4.3-P1

authoring-byte-order little-endian;

lease 192.168.1.30 {
  starts 1 2026/11/30 09:00:00;
  ends 1 2026/11/30 21:00:00;
  cltt 1 2026/11/30 09:00:00;
  binding state active;
  next binding state free;
  rewind binding state free;
  hardware ethernet 02:00:00:00:00:0a;
  uid "\001\002\000\000\000\000\012";
  client-hostname "library-pc";
}
lease 192.168.1.31 {
  starts 1 2026/11/30 09:05:00;
  ends 1 2026/11/30 21:05:00;
  binding state active;
  hardware ethernet 02:00:00:00:00:0b;
}
lease 192.168.1.32 {
  starts 1 2026/11/30 10:00:00;
  binding state active;
  hardware ethernet 02:00:00:00:00:0a;
  client-hostname "library-pc-2";
}
"#;
        let (format, leases, problems) = parse_leases(text);
        assert_eq!(format, LeaseFormat::IscDhcpd);
        assert!(problems.is_empty(), "{problems:?}");
        let names: Vec<(&str, String)> = leases
            .iter()
            .map(|l| (l.name.as_str(), l.address.unwrap().to_string()))
            .collect();
        assert_eq!(
            names,
            [
                ("library-pc", "192.168.1.30".to_string()),
                ("library-pc-2", "192.168.1.32".to_string())
            ]
        );
        let (_, _, problems) = parse_leases("lease 10.0.0.1 {\n  hardware ethernet 02:zz;\n");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!((problems[0].line, problems[1].line), (2, 1));
    }

    #[test]
    fn kea_csv_leases_by_header() {
        let text = "\
address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context,pool_id
192.168.1.40,02:00:00:00:00:0c,01:02:00:00:00:00:0c,4000,1764550000,1,0,0,hall-laptop.school.example.,0,,0
192.168.1.41,02:00:00:00:00:0d,,4000,1764550000,1,0,0,,0,,0
192.168.1.42,02:00:00:00:00:0e,,4000,1764550000,1,0,0,smith&#x2c j,0,,0
192.168.1.43,zz,,4000,1764550000,1,0,0,broken,0,,0
";
        let (format, leases, problems) = parse_leases(text);
        assert_eq!(format, LeaseFormat::Kea);
        let names: Vec<(Mac, &str)> = leases.iter().map(|l| (l.mac, l.name.as_str())).collect();
        assert_eq!(
            names,
            [
                (mac("02:00:00:00:00:0c"), "hall-laptop.school.example"),
                (mac("02:00:00:00:00:0e"), "smith, j"),
            ]
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 5);
        let (_, leases, problems) = parse_leases("address,duid,valid_lifetime\nfd00::1,00:01,40\n");
        assert!(leases.is_empty());
        assert!(problems[0].message.contains("no `hwaddr`"));
    }

    #[test]
    fn an_empty_file_is_no_lease() {
        let (format, leases, problems) = parse_leases("");
        assert_eq!(format, LeaseFormat::Dnsmasq);
        assert!(leases.is_empty() && problems.is_empty());
    }
}
