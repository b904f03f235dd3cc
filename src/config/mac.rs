//! A device's hardware (MAC) address: how a device is known whatever
//! address DHCP gives it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An Ethernet (EUI-48) address. Written and read as six pairs of hex
/// digits separated by colons (`aa:bb:cc:dd:ee:ff`); dashes are accepted
/// as separators too, and upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// The address as a 48-bit number, how the database keeps it.
    pub fn to_u64(self) -> u64 {
        self.0.iter().fold(0, |n, b| (n << 8) | u64::from(*b))
    }

    /// The address a 48-bit number stands for (`None` past 48 bits).
    pub fn from_u64(n: u64) -> Option<Mac> {
        if n >> 48 != 0 {
            return None;
        }
        let bytes = n.to_be_bytes();
        Some(Mac([
            bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
        ]))
    }

    /// The address from a link-layer address as the kernel gives it:
    /// six bytes, not all zero.
    pub fn from_bytes(bytes: &[u8]) -> Option<Mac> {
        let octets: [u8; 6] = bytes.try_into().ok()?;
        (octets != [0; 6]).then_some(Mac(octets))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// Why a text is not a MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a MAC address (expected six pairs of hex digits, such as \"aa:bb:cc:dd:ee:ff\")"
)]
pub struct MacError(pub String);

impl FromStr for Mac {
    type Err = MacError;

    fn from_str(text: &str) -> Result<Mac, MacError> {
        let error = || MacError(text.to_string());
        let trimmed = text.trim();
        let separator = if trimmed.contains('-') { '-' } else { ':' };
        let mut octets = [0u8; 6];
        let mut parts = trimmed.split(separator);
        for octet in &mut octets {
            let part = parts.next().ok_or_else(error)?;
            if part.len() != 2 {
                return Err(error());
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| error())?;
        }
        if parts.next().is_some() || octets == [0; 6] {
            return Err(error());
        }
        Ok(Mac(octets))
    }
}

impl Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Mac, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_colons_dashes_and_case() {
        let mac: Mac = "AA-bb-0C-dd-ee-0f".parse().unwrap();
        assert_eq!(mac.to_string(), "aa:bb:0c:dd:ee:0f");
        assert_eq!("aa:bb:0c:dd:ee:0f".parse::<Mac>().unwrap(), mac);
        assert_eq!(Mac::from_u64(mac.to_u64()), Some(mac));
        assert_eq!(mac.to_u64(), 0xaabb_0cdd_ee0f);
    }

    #[test]
    fn refuses_what_is_not_one() {
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aa:bb:cc:dd:ee:gg",
            "aabb.ccdd.eeff",
            "a:bb:cc:dd:ee:fff",
            "00:00:00:00:00:00",
        ] {
            let error = bad.parse::<Mac>().unwrap_err();
            assert!(error.to_string().contains("is not a MAC address"), "{bad}");
        }
        assert_eq!(Mac::from_u64(1 << 48), None);
        assert_eq!(Mac::from_bytes(&[0; 6]), None);
        assert_eq!(Mac::from_bytes(&[1, 2, 3]), None);
    }
}
