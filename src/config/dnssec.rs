//! `[upstream] dnssec`, `trust_anchors` and `insecure_domains`: whether
//! hedge checks DNSSEC signatures itself, passes the DNSSEC bits between
//! clients and a validating upstream, or leaves DNSSEC alone; and which keys
//! it trusts when it checks.

use std::path::PathBuf;

use hickory_proto::rr::{LowerName, Name, Record, RecordType};

/// Where the default trust anchor lives on Debian (package dns-root-data).
pub const DEBIAN_ROOT_KEY: &str = "/usr/share/dns/root.key";

/// What hedge does about DNSSEC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnssecMode {
    /// Check signatures from the trust anchors: a bogus answer is SERVFAIL,
    /// a secure one carries AD for a client that asked (DO or AD).
    Validate,
    /// Leave checking to the upstream: DO, AD and CD are passed through and
    /// answers with DNSSEC records are cached apart from those without.
    Process,
    /// Ask without DO; never set AD.
    Off,
}

impl DnssecMode {
    /// The word the configuration uses.
    pub fn as_str(self) -> &'static str {
        match self {
            DnssecMode::Validate => "validate",
            DnssecMode::Process => "process",
            DnssecMode::Off => "off",
        }
    }
}

/// The checked DNSSEC settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DnssecConfig {
    pub mode: DnssecMode,
    /// DS and DNSKEY records read from `trust_anchors` (or the Debian root
    /// key); empty means hickory's built-in copy of the root keys.
    pub anchors: Vec<Record>,
    /// The file the anchors came from, for messages.
    pub anchors_file: Option<PathBuf>,
    /// The zones the anchors are for (the root for the built-in keys).
    pub anchor_zones: Vec<LowerName>,
    /// Domains never validated: names at or under them are insecure.
    pub insecure_domains: Vec<LowerName>,
}

impl DnssecConfig {
    /// The zones `anchors` are for: the root when there are none (the
    /// built-in keys).
    pub fn zones_of(anchors: &[Record]) -> Vec<LowerName> {
        if anchors.is_empty() {
            return vec![LowerName::from(Name::root())];
        }
        let mut zones: Vec<LowerName> = anchors
            .iter()
            .filter(|r| matches!(r.record_type(), RecordType::DS | RecordType::DNSKEY))
            .map(|r| LowerName::from(&r.name))
            .collect();
        zones.sort();
        zones.dedup();
        zones
    }

    /// Whether an answer for `name` is to be checked: it is at or under a
    /// trust anchor and not at or under an insecure domain. A name outside
    /// every anchor cannot be proven either way, so it is insecure.
    pub fn validates(&self, name: &LowerName) -> bool {
        self.mode == DnssecMode::Validate
            && self.anchor_zones.iter().any(|a| a.zone_of(name))
            && !self.insecure_domains.iter().any(|d| d.zone_of(name))
    }
}
