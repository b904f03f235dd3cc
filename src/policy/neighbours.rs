//! What hedge knows of its own link: the MAC address at each neighbour's
//! IP address, as the kernel's neighbour table (ARP for IPv4, neighbour
//! discovery for IPv6) last said. Read by every query, replaced whole
//! when the table changes.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::config::Mac;

/// The MAC address at each IP address on hedge's link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Neighbours {
    macs: HashMap<IpAddr, Mac>,
}

impl Neighbours {
    /// The MAC address at `ip`, if the neighbour table has it.
    pub fn mac_of(&self, ip: IpAddr) -> Option<Mac> {
        if self.macs.is_empty() {
            return None;
        }
        self.macs.get(&ip.to_canonical()).copied()
    }

    /// Records `mac` at `ip`; true if that is news (a new address, or a
    /// new device at it).
    pub fn learn(&mut self, ip: IpAddr, mac: Mac) -> bool {
        self.macs.insert(ip.to_canonical(), mac) != Some(mac)
    }

    /// Forgets the entry for `ip`; true if there was one.
    pub fn forget(&mut self, ip: IpAddr) -> bool {
        self.macs.remove(&ip.to_canonical()).is_some()
    }

    pub fn len(&self) -> usize {
        self.macs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.macs.is_empty()
    }

    /// Every (address, MAC) pair, in no order.
    pub fn iter(&self) -> impl Iterator<Item = (IpAddr, Mac)> + '_ {
        self.macs.iter().map(|(ip, mac)| (*ip, *mac))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv4_mapped_address_is_the_ipv4_one() {
        let mac: Mac = "02:00:00:00:00:01".parse().unwrap();
        let mut table = Neighbours::default();
        assert!(table.learn("10.9.0.2".parse().unwrap(), mac));
        assert!(!table.learn("::ffff:10.9.0.2".parse().unwrap(), mac));
        assert_eq!(table.mac_of("::ffff:10.9.0.2".parse().unwrap()), Some(mac));
        assert_eq!(table.mac_of("10.9.0.3".parse().unwrap()), None);
        assert!(table.forget("10.9.0.2".parse().unwrap()));
        assert!(table.is_empty());
    }
}
