//! `[upstream] dnssec`, `trust_anchors` and `insecure_domains`.

use std::path::Path;

use hickory_proto::rr::{LowerName, Name, Record, RecordType};
use hickory_proto::serialize::txt::Parser;

use super::Checker;
use crate::config::dnssec::{DEBIAN_ROOT_KEY, DnssecConfig, DnssecMode};
use crate::config::*;

impl Checker<'_> {
    pub(super) fn dnssec(
        &mut self,
        raw: &schema::RawUpstream,
        mode: &UpstreamMode,
    ) -> DnssecConfig {
        let dnssec = match &raw.dnssec {
            None if *mode == UpstreamMode::Recursive => DnssecMode::Validate,
            None => DnssecMode::Process,
            Some(value) => match value.get_ref().as_str() {
                "validate" => DnssecMode::Validate,
                "process" => DnssecMode::Process,
                "off" => DnssecMode::Off,
                other => {
                    self.problem(
                        "upstream.dnssec",
                        value,
                        format!("{other:?} is not one of \"validate\", \"process\", \"off\""),
                    );
                    DnssecMode::Off
                }
            },
        };
        let mut insecure_domains = Vec::new();
        for value in &raw.insecure_domains {
            match domain(value.get_ref()) {
                Ok(name) => insecure_domains.push(LowerName::from(name)),
                Err(message) => self.problem("upstream.insecure_domains", value, message),
            }
        }
        let (anchors, anchors_file) = match &raw.trust_anchors {
            Some(value) => {
                match self.existing_file("upstream.trust_anchors", value, "trust anchor file") {
                    Some(path) => match read_anchors(&path) {
                        Ok(anchors) => (anchors, Some(path)),
                        Err(message) => {
                            self.problem("upstream.trust_anchors", value, message);
                            (Vec::new(), None)
                        }
                    },
                    None => (Vec::new(), None),
                }
            }
            // Debian's copy of the root key when it is there, else the
            // same keys built into hickory.
            None if Path::new(DEBIAN_ROOT_KEY).is_file() => {
                match read_anchors(Path::new(DEBIAN_ROOT_KEY)) {
                    Ok(anchors) => (anchors, Some(DEBIAN_ROOT_KEY.into())),
                    Err(_) => (Vec::new(), None),
                }
            }
            None => (Vec::new(), None),
        };
        DnssecConfig {
            mode: dnssec,
            anchor_zones: DnssecConfig::zones_of(&anchors),
            anchors,
            anchors_file,
            insecure_domains,
        }
    }
}

/// Reads a file of DS and DNSKEY records in zone-file form (as Debian's
/// `/usr/share/dns/root.key` and `root.ds`).
pub fn read_anchors(path: &Path) -> Result<Vec<Record>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let (_, sets) = Parser::new(text, Some(path.to_path_buf()), Some(Name::root()))
        .parse()
        .map_err(|e| {
            format!(
                "{} is not a zone file of DS or DNSKEY records: {e}",
                path.display()
            )
        })?;
    let mut anchors = Vec::new();
    for set in sets.values() {
        for record in set.records_without_rrsigs() {
            match record.record_type() {
                RecordType::DS | RecordType::DNSKEY => anchors.push(record.clone()),
                other => {
                    return Err(format!(
                        "{} holds a {other} record for {}; a trust anchor is a DS or DNSKEY record",
                        path.display(),
                        record.name
                    ));
                }
            }
        }
    }
    if anchors.is_empty() {
        return Err(format!("{} holds no DS or DNSKEY records", path.display()));
    }
    Ok(anchors)
}

fn domain(value: &str) -> Result<Name, String> {
    let trimmed = value.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return Err("a domain such as \"vendor.example\" is needed".into());
    }
    let mut name =
        Name::from_utf8(trimmed).map_err(|e| format!("{value:?} is not a domain name: {e}"))?;
    name.set_fqdn(true);
    Ok(name.to_lowercase())
}
