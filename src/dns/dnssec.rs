//! DNSSEC as hedge applies it: how a question goes to the upstreams given
//! the mode and the client's DO, AD and CD bits; which answers carry AD;
//! and, when an answer fails validation, which Extended DNS Error says why.
//!
//! The signature checking itself is hickory's (`DnssecDnsHandle`, the
//! validating `Recursor`); the decisions here are pure so they can be
//! tested without a socket.

use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS};
use hickory_proto::dnssec::{PublicKey, TrustAnchors, Verifier};
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{LowerName, RData, Record, RecordType};
use serde::{Deserialize, Serialize};

use crate::config::{DnssecConfig, DnssecMode};

use super::answer::ExtendedError;

/// How one question goes to the upstreams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asking {
    /// Without DO: no DNSSEC records, never AD.
    Plain,
    /// With DO, every answer checked from the trust anchors; a bogus one is
    /// an error.
    Validated,
    /// With DO and CD, nothing checked: what the client asked for when it
    /// set CD, or a name hedge does not validate asked with DO.
    Unchecked,
    /// With DO (and AD), the upstream's AD passed back: `process` mode.
    PassedThrough,
}

impl Asking {
    /// Decides how to ask for `name` for `request` under `config`.
    pub fn for_request(config: &DnssecConfig, name: &LowerName, request: &Message) -> Asking {
        let dnssec_ok = request
            .edns
            .as_ref()
            .is_some_and(|edns| edns.flags().dnssec_ok);
        let checking_disabled = request.metadata.checking_disabled;
        let authentic_data = request.metadata.authentic_data;
        match config.mode {
            DnssecMode::Off => Asking::Plain,
            DnssecMode::Validate if !config.validates(name) => {
                if dnssec_ok || checking_disabled {
                    Asking::Unchecked
                } else {
                    Asking::Plain
                }
            }
            DnssecMode::Validate if checking_disabled => Asking::Unchecked,
            DnssecMode::Validate => Asking::Validated,
            DnssecMode::Process if checking_disabled => Asking::Unchecked,
            DnssecMode::Process if dnssec_ok || authentic_data => Asking::PassedThrough,
            DnssecMode::Process => Asking::Plain,
        }
    }

    /// The byte a cache key carries for answers asked this way: answers
    /// with DNSSEC records and unchecked answers are kept apart from plain
    /// ones (`None`: the plain key, which the fast path looks up).
    pub fn cache_variant(self) -> Option<u8> {
        match self {
            Asking::Plain | Asking::Validated => None,
            Asking::Unchecked => Some(1),
            Asking::PassedThrough => Some(2),
        }
    }

    /// Whether the upstream is asked with the DO bit.
    pub fn dnssec_ok(self) -> bool {
        self != Asking::Plain
    }
}

/// Whether a response to `request` carries AD: the answer is secure and the
/// client showed it understands AD (DO or AD set, RFC 6840 5.7).
pub fn authentic(request: &Message, secure: bool) -> bool {
    let dnssec_ok = request
        .edns
        .as_ref()
        .is_some_and(|edns| edns.flags().dnssec_ok);
    secure && (dnssec_ok || request.metadata.authentic_data)
}

/// Whether a record is DNSSEC proof material (RRSIG, NSEC, NSEC3, ...),
/// sent only to clients that set DO.
pub fn is_proof(record: &Record) -> bool {
    matches!(
        record.record_type(),
        RecordType::RRSIG | RecordType::NSEC | RecordType::NSEC3
    )
}

/// Why an answer failed validation, as far as hedge can tell from the
/// records themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bogus {
    /// The answer's records came without signatures.
    RrsigsMissing,
    /// Every signature over the answer has expired.
    SignatureExpired,
    /// Every signature over the answer is from the future.
    SignatureNotYetValid,
    /// No DNSKEY of the signer matches the signatures' key tags.
    DnskeyMissing,
    /// Signatures and keys are there, but they do not verify.
    Bogus,
}

impl Bogus {
    /// The Extended DNS Error (RFC 8914) a SERVFAIL for this carries.
    pub fn extended_error(self) -> ExtendedError {
        match self {
            Bogus::RrsigsMissing => ExtendedError::RrsigsMissing,
            Bogus::SignatureExpired => ExtendedError::SignatureExpired,
            Bogus::SignatureNotYetValid => ExtendedError::SignatureNotYetValid,
            Bogus::DnskeyMissing => ExtendedError::DnskeyMissing,
            Bogus::Bogus => ExtendedError::DnssecBogus,
        }
    }

    /// A few words for the EDE text, the log and `hedge explain`.
    pub fn describe(self) -> &'static str {
        match self {
            Bogus::RrsigsMissing => "DNSSEC: signatures missing",
            Bogus::SignatureExpired => "DNSSEC: signature expired",
            Bogus::SignatureNotYetValid => "DNSSEC: signature not yet valid",
            Bogus::DnskeyMissing => "DNSSEC: signing key missing",
            Bogus::Bogus => "DNSSEC: bogus answer",
        }
    }
}

/// The signatures in `records` over the records that answer `query` (the
/// query's own type or a CNAME at its name), or over the negative answer's
/// proof when there is no answer.
fn covering_signatures<'a>(
    query: &Query,
    answers: &'a [Record],
    authorities: &'a [Record],
) -> (bool, Vec<&'a hickory_proto::dnssec::rdata::RRSIG>) {
    let answering: Vec<&Record> = answers
        .iter()
        .filter(|r| {
            r.name == *query.name()
                && (r.record_type() == query.query_type() || r.record_type() == RecordType::CNAME)
        })
        .collect();
    let (covered, pool): (Vec<(&Record, RecordType)>, &[Record]) = if answering.is_empty() {
        (
            authorities
                .iter()
                .filter(|r| !r.record_type().is_rrsig())
                .map(|r| (r, r.record_type()))
                .collect(),
            authorities,
        )
    } else {
        (
            answering.iter().map(|r| (*r, r.record_type())).collect(),
            answers,
        )
    };
    let signatures = pool
        .iter()
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some((r, sig)),
            _ => None,
        })
        .filter(|(r, sig)| {
            covered
                .iter()
                .any(|(c, t)| c.name == r.name && sig.input().type_covered == *t)
        })
        .map(|(_, sig)| sig)
        .collect();
    (!covered.is_empty(), signatures)
}

/// Names the reason an answer (fetched again unchecked, with DO) failed
/// validation. `signer_keys` are the signer's DNSKEY records when they were
/// fetched; `now` is seconds since 1970.
pub fn classify(
    query: &Query,
    answers: &[Record],
    authorities: &[Record],
    signer_keys: Option<&[Record]>,
    now: u32,
) -> Bogus {
    let (anything, signatures) = covering_signatures(query, answers, authorities);
    if anything && signatures.is_empty() {
        return Bogus::RrsigsMissing;
    }
    if signatures.is_empty() {
        return Bogus::Bogus;
    }
    // Serial-number arithmetic (RFC 4034 3.1.5): compare as signed offsets.
    let before = |a: u32, b: u32| (a.wrapping_sub(b) as i32) < 0;
    if signatures
        .iter()
        .all(|s| before(s.input().sig_expiration.get(), now))
    {
        return Bogus::SignatureExpired;
    }
    if signatures
        .iter()
        .all(|s| before(now, s.input().sig_inception.get()))
    {
        return Bogus::SignatureNotYetValid;
    }
    if let Some(keys) = signer_keys {
        let tags: Vec<u16> = keys
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::DNSKEY(key)) => key.calculate_key_tag().ok(),
                _ => None,
            })
            .collect();
        if !signatures.iter().any(|s| tags.contains(&s.input().key_tag)) {
            return Bogus::DnskeyMissing;
        }
    }
    Bogus::Bogus
}

/// The signer of the first signature over the answer, whose DNSKEYs
/// [`classify`] may want.
pub fn signer(query: &Query, answers: &[Record], authorities: &[Record]) -> Option<LowerName> {
    let (_, signatures) = covering_signatures(query, answers, authorities);
    signatures
        .first()
        .map(|s| LowerName::from(&s.input().signer_name))
}

/// hickory's trust anchors: the configured root DNSKEYs as they are (hickory
/// checks the root's own key set from them), and for every other anchored
/// zone the keys `fetched` for it that the anchors vouch for, or, when one
/// of those signed the zone's whole key set (a KSK signing for its ZSKs),
/// every key in that set. With no configured anchors, hickory's built-in
/// root keys. `now` is seconds since 1970. Also the anchored zones left
/// with no trusted key (their answers will fail: DNSKEY missing).
pub fn trust_anchors(
    anchors: &[Record],
    fetched: &[Record],
    now: u32,
) -> (TrustAnchors, Vec<LowerName>) {
    if anchors.is_empty() {
        return (TrustAnchors::default(), Vec::new());
    }
    let mut trusted = TrustAnchors::empty();
    for record in anchors {
        if let RData::DNSSEC(DNSSECRData::DNSKEY(key)) = &record.data
            && record.name.is_root()
        {
            trusted.insert(key.public_key());
        }
    }
    let mut untrusted = Vec::new();
    for zone in zones_needing_keys(anchors) {
        let keys: Vec<(&Record, &DNSKEY)> = fetched
            .iter()
            .filter(|r| LowerName::from(&r.name) == zone)
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::DNSKEY(key)) => Some((r, key)),
                _ => None,
            })
            .collect();
        let vouched: Vec<&DNSKEY> = keys
            .iter()
            .filter(|(record, key)| vouched_for(anchors, record, key))
            .map(|(_, key)| *key)
            .collect();
        let whole_set_signed = fetched
            .iter()
            .filter(|r| LowerName::from(&r.name) == zone)
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some((r, sig)),
                _ => None,
            })
            .any(|(owner, sig)| {
                let input = sig.input();
                input.type_covered == RecordType::DNSKEY
                    && in_date(input.sig_inception.get(), input.sig_expiration.get(), now)
                    && vouched.iter().any(|key| {
                        key.calculate_key_tag().ok() == Some(input.key_tag)
                            && key
                                .verify_rrsig(
                                    &owner.name,
                                    owner.dns_class,
                                    sig,
                                    keys.iter().map(|(record, _)| *record),
                                )
                                .is_ok()
                    })
            });
        let chosen: Vec<&DNSKEY> = if whole_set_signed {
            keys.iter().map(|(_, key)| *key).collect()
        } else {
            vouched
        };
        if chosen.is_empty() {
            untrusted.push(zone.clone());
        }
        for key in chosen {
            trusted.insert_with_name(key.public_key(), zone.clone());
        }
    }
    (trusted, untrusted)
}

/// Whether `now` lies between a signature's inception and expiration
/// (serial-number arithmetic, RFC 4034 3.1.5).
fn in_date(inception: u32, expiration: u32, now: u32) -> bool {
    (now.wrapping_sub(inception) as i32) >= 0 && (expiration.wrapping_sub(now) as i32) >= 0
}

/// Whether a configured anchor names this DNSKEY: the same key, or a DS
/// that matches it.
fn vouched_for(anchors: &[Record], record: &Record, key: &DNSKEY) -> bool {
    anchors
        .iter()
        .filter(|anchor| anchor.name == record.name)
        .any(|anchor| match &anchor.data {
            RData::DNSSEC(DNSSECRData::DS(ds)) => {
                DS::covers(ds, &record.name, key).unwrap_or(false)
            }
            RData::DNSSEC(DNSSECRData::DNSKEY(anchored)) => {
                anchored.public_key().public_bytes() == key.public_key().public_bytes()
                    && anchored.algorithm() == key.algorithm()
            }
            _ => false,
        })
}

/// The zones whose key sets are fetched before validating: every anchored
/// zone but the root when the root's keys are given as DNSKEYs (hickory
/// checks the root's key set itself).
pub fn zones_needing_keys(anchors: &[Record]) -> Vec<LowerName> {
    let root_keyed = anchors
        .iter()
        .any(|r| r.record_type() == RecordType::DNSKEY && r.name.is_root());
    let mut zones: Vec<LowerName> = anchors
        .iter()
        .filter(|r| matches!(r.record_type(), RecordType::DS | RecordType::DNSKEY))
        .filter(|r| !(r.name.is_root() && root_keyed))
        .map(|r| LowerName::from(&r.name))
        .collect();
    zones.sort();
    zones.dedup();
    zones
}

/// What hedge makes of DNSSEC for one name, for `hedge explain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnssecVerdict {
    /// `validate`, `process` or `off`.
    pub mode: String,
    /// One sentence: secure, insecure (and why), bogus (and why), or what
    /// the upstream said.
    pub outcome: String,
}

/// Why `name` is not validated under `config` in validate mode, if it is
/// not.
pub fn why_not_validated(config: &DnssecConfig, name: &LowerName) -> Option<String> {
    if let Some(domain) = config.insecure_domains.iter().find(|d| d.zone_of(name)) {
        return Some(format!(
            "not validated: under the insecure domain {domain} (upstream.insecure_domains)"
        ));
    }
    if !config.anchor_zones.iter().any(|a| a.zone_of(name)) {
        return Some("not validated: no trust anchor covers it (answered without AD)".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use hickory_proto::dnssec::Algorithm;
    use hickory_proto::dnssec::rdata::RRSIG;
    use hickory_proto::dnssec::rdata::sig::SigInput;
    use hickory_proto::op::Edns;
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{Name, SerialNumber};

    use super::*;

    fn name(text: &str) -> Name {
        Name::from_str(text).unwrap()
    }

    fn config(mode: DnssecMode, anchors: &[&str], insecure: &[&str]) -> DnssecConfig {
        DnssecConfig {
            mode,
            anchors: Vec::new(),
            anchors_file: None,
            anchor_zones: anchors.iter().map(|a| LowerName::from(name(a))).collect(),
            insecure_domains: insecure.iter().map(|d| LowerName::from(name(d))).collect(),
        }
    }

    fn request(dnssec_ok: bool, ad: bool, cd: bool) -> Message {
        let mut message = Message::query();
        message.add_query(Query::query(name("www.secure.test."), RecordType::A));
        message.metadata.authentic_data = ad;
        message.metadata.checking_disabled = cd;
        if dnssec_ok {
            let mut edns = Edns::new();
            edns.enable_dnssec();
            message.set_edns(edns);
        }
        message
    }

    fn asked(config: &DnssecConfig, target: &str, dnssec_ok: bool, ad: bool, cd: bool) -> Asking {
        Asking::for_request(
            config,
            &LowerName::from(name(target)),
            &request(dnssec_ok, ad, cd),
        )
    }

    #[test]
    fn validate_mode_checks_names_under_an_anchor_unless_cd_or_insecure() {
        let c = config(
            DnssecMode::Validate,
            &["secure.test."],
            &["broken.secure.test."],
        );
        assert_eq!(
            asked(&c, "www.secure.test.", false, false, false),
            Asking::Validated
        );
        assert_eq!(
            asked(&c, "www.secure.test.", true, false, false),
            Asking::Validated
        );
        assert_eq!(
            asked(&c, "www.secure.test.", true, false, true),
            Asking::Unchecked
        );
        // Outside every anchor, or under an insecure domain: not checked.
        assert_eq!(
            asked(&c, "www.plain.test.", false, false, false),
            Asking::Plain
        );
        assert_eq!(
            asked(&c, "www.plain.test.", true, false, false),
            Asking::Unchecked
        );
        assert_eq!(
            asked(&c, "a.broken.secure.test.", false, false, false),
            Asking::Plain
        );
        assert!(c.validates(&LowerName::from(name("secure.test."))));
        assert!(why_not_validated(&c, &LowerName::from(name("x.broken.secure.test."))).is_some());
        assert!(why_not_validated(&c, &LowerName::from(name("www.secure.test."))).is_none());
    }

    #[test]
    fn process_mode_passes_the_bits_through_and_off_mode_ignores_them() {
        let c = config(DnssecMode::Process, &["."], &[]);
        assert_eq!(
            asked(&c, "example.org.", false, false, false),
            Asking::Plain
        );
        assert_eq!(
            asked(&c, "example.org.", true, false, false),
            Asking::PassedThrough
        );
        assert_eq!(
            asked(&c, "example.org.", false, true, false),
            Asking::PassedThrough
        );
        assert_eq!(
            asked(&c, "example.org.", true, false, true),
            Asking::Unchecked
        );
        let off = config(DnssecMode::Off, &["."], &[]);
        assert_eq!(asked(&off, "example.org.", true, true, true), Asking::Plain);
    }

    #[test]
    fn answers_with_dnssec_records_are_cached_apart() {
        assert_eq!(Asking::Plain.cache_variant(), None);
        assert_eq!(Asking::Validated.cache_variant(), None);
        assert_ne!(
            Asking::Unchecked.cache_variant(),
            Asking::PassedThrough.cache_variant()
        );
        assert!(Asking::Unchecked.cache_variant().is_some());
    }

    #[test]
    fn ad_only_for_secure_answers_to_clients_that_understand_it() {
        assert!(authentic(&request(true, false, false), true));
        assert!(authentic(&request(false, true, false), true));
        assert!(!authentic(&request(false, false, false), true));
        assert!(!authentic(&request(true, true, false), false));
    }

    fn a_record(owner: &str) -> Record {
        Record::from_rdata(name(owner), 300, RData::A(A::new(192, 0, 2, 10)))
    }

    fn rrsig(owner: &str, inception: u32, expiration: u32, key_tag: u16) -> Record {
        let input = SigInput {
            type_covered: RecordType::A,
            algorithm: Algorithm::ECDSAP256SHA256,
            num_labels: 3,
            original_ttl: 300,
            sig_expiration: SerialNumber::new(expiration),
            sig_inception: SerialNumber::new(inception),
            key_tag,
            signer_name: name("secure.test."),
        };
        Record::from_rdata(
            name(owner),
            300,
            RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, vec![1, 2, 3]))),
        )
    }

    #[test]
    fn a_bogus_answer_is_named_by_what_its_records_show() {
        let query = Query::query(name("www.secure.test."), RecordType::A);
        let now = 1_800_000_000;
        let unsigned = [a_record("www.secure.test.")];
        assert_eq!(
            classify(&query, &unsigned, &[], None, now),
            Bogus::RrsigsMissing
        );

        let expired = [
            a_record("www.secure.test."),
            rrsig("www.secure.test.", 1_500_000_000, 1_600_000_000, 7),
        ];
        assert_eq!(
            classify(&query, &expired, &[], None, now),
            Bogus::SignatureExpired
        );
        assert_eq!(Bogus::SignatureExpired.extended_error() as u16, 7);

        let future = [
            a_record("www.secure.test."),
            rrsig("www.secure.test.", 1_900_000_000, 2_000_000_000, 7),
        ];
        assert_eq!(
            classify(&query, &future, &[], None, now),
            Bogus::SignatureNotYetValid
        );

        let current = [
            a_record("www.secure.test."),
            rrsig("www.secure.test.", 1_700_000_000, 1_900_000_000, 7),
        ];
        assert_eq!(classify(&query, &current, &[], None, now), Bogus::Bogus);
        assert_eq!(
            classify(&query, &current, &[], Some(&[]), now),
            Bogus::DnskeyMissing
        );
        assert_eq!(Bogus::DnskeyMissing.extended_error() as u16, 9);
        assert_eq!(
            signer(&query, &current, &[]),
            Some(LowerName::from(name("secure.test.")))
        );
        // A signature over another name says nothing about this answer.
        let elsewhere = [
            a_record("www.secure.test."),
            rrsig("other.secure.test.", 1_700_000_000, 1_900_000_000, 7),
        ];
        assert_eq!(
            classify(&query, &elsewhere, &[], None, now),
            Bogus::RrsigsMissing
        );
    }

    #[test]
    fn ds_anchors_need_their_zone_keys_fetched() {
        let text = ". 3600 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n";
        let (_, sets) = hickory_proto::serialize::txt::Parser::new(text, None, Some(Name::root()))
            .parse()
            .unwrap();
        let anchors: Vec<Record> = sets
            .values()
            .flat_map(|s| s.records_without_rrsigs().cloned())
            .collect();
        assert_eq!(
            zones_needing_keys(&anchors),
            vec![LowerName::from(Name::root())]
        );
        let (trusted, untrusted) = trust_anchors(&anchors, &[], 0);
        assert!(
            trusted.is_empty(),
            "a DS alone trusts no key until the keys are fetched"
        );
        assert_eq!(untrusted, vec![LowerName::from(Name::root())]);
        assert!(
            !trust_anchors(&[], &[], 0).0.is_empty(),
            "built-in root keys"
        );
    }
}
