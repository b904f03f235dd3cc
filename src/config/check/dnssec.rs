//! `[upstream] dnssec`, `trust_anchors` and `insecure_domains`.

use std::path::Path;

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::{Parser, trust_anchor};

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
/// `/usr/share/dns/root.key` and `root.ds`), one record per line or
/// continued in parentheses; `;` starts a comment.
pub fn read_anchors(path: &Path) -> Result<Vec<Record>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut keys = String::new();
    // An anchor's TTL means nothing; Debian's files give none.
    let mut digests = String::from("$TTL 3600\n");
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let mut record = uncommented(line).to_string();
        // A record continued in parentheses over several lines.
        while record.contains('(') && !record.contains(')') {
            match lines.next() {
                Some((_, more)) => {
                    record.push(' ');
                    record.push_str(uncommented(more));
                }
                None => break,
            }
        }
        let record = record.replace(['(', ')'], " ");
        let tokens: Vec<&str> = record.split_whitespace().collect();
        if tokens.is_empty() {
            continue;
        }
        let place = format!("{}:{}", path.display(), index + 1);
        let kind = tokens.iter().skip(1).take(3).find_map(|t| {
            let upper = t.to_ascii_uppercase();
            (upper == "DNSKEY" || upper == "DS").then_some(upper)
        });
        match kind.as_deref() {
            Some("DNSKEY") => keys.push_str(&format!("{}\n", tokens.join(" "))),
            Some(_) => digests.push_str(&format!("{}\n", tokens.join(" "))),
            None => {
                return Err(format!(
                    "{place}: {:?} is not a DS or DNSKEY record; a trust anchor is a DS or DNSKEY record",
                    line.trim()
                ));
            }
        }
    }
    let mut anchors = Vec::new();
    if !keys.is_empty() {
        let entries = trust_anchor::Parser::new(keys.as_str())
            .parse()
            .map_err(|e| format!("{}: a DNSKEY record cannot be read: {e}", path.display()))?;
        for entry in entries {
            // The only kind of entry hickory's parser knows (non_exhaustive).
            let trust_anchor::Entry::DNSKEY(record) = entry else {
                continue;
            };
            anchors.push(Record::from_rdata(
                record.name().clone(),
                record.ttl().unwrap_or(0),
                RData::DNSSEC(DNSSECRData::DNSKEY(record.data().clone())),
            ));
        }
    }
    if digests.lines().count() > 1 {
        let (_, sets) = Parser::new(digests, Some(path.to_path_buf()), Some(Name::root()))
            .parse()
            .map_err(|e| format!("{}: a DS record cannot be read: {e}", path.display()))?;
        for set in sets.values() {
            anchors.extend(set.records_without_rrsigs().cloned());
        }
    }
    if anchors.is_empty() {
        return Err(format!("{} holds no DS or DNSKEY records", path.display()));
    }
    anchors.retain(|r| matches!(r.record_type(), RecordType::DS | RecordType::DNSKEY));
    Ok(anchors)
}

/// A line without its comment.
fn uncommented(line: &str) -> &str {
    line.split(';').next().unwrap_or_default()
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
