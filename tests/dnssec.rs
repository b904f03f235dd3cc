//! DNSSEC validation. The zones come from `common::signed_zones`: NSD
//! serving zones signed by ldns-signzone, some broken on purpose, with
//! trust anchor files for them. The first test checks that harness itself,
//! so that a validation test that fails points at hedge, not at the zones.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::signed_zones::*;
use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use hickory_proto::serialize::binary::BinEncodable;
use sha2::{Digest, Sha256};

/// Seconds since 1970, as RRSIG times count them.
fn now() -> u32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    u32::try_from(secs).unwrap()
}

/// The rdata (wire form) of the records of type `rtype` in the answer.
fn answer_rdata(reply: &Message, rtype: RecordType) -> Vec<Vec<u8>> {
    reply
        .answers
        .iter()
        .filter(|record| record.record_type() == rtype)
        .map(|record| record.data.to_bytes().unwrap())
        .collect()
}

/// The one RRSIG covering `covered` in the answer.
fn rrsig_for(reply: &Message, covered: RecordType) -> Rrsig {
    let sigs: Vec<Rrsig> = rrsigs(reply)
        .into_iter()
        .filter(|sig| sig.type_covered == covered)
        .collect();
    assert_eq!(sigs.len(), 1, "one RRSIG over {covered}: {reply:?}");
    sigs[0].clone()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The key tag of a DNSKEY's rdata (RFC 4034, appendix B).
fn key_tag(rdata: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for (i, &byte) in rdata.iter().enumerate() {
        sum += if i % 2 == 0 {
            u32::from(byte) << 8
        } else {
            u32::from(byte)
        };
    }
    sum += sum >> 16;
    (sum & 0xffff) as u16
}

/// A name's canonical wire form (lower case, uncompressed).
fn wire_name(name: &str) -> Vec<u8> {
    let mut wire = Vec::new();
    for label in name.trim_end_matches('.').split('.') {
        wire.push(u8::try_from(label.len()).unwrap());
        wire.extend(label.to_ascii_lowercase().bytes());
    }
    wire.push(0);
    wire
}

/// Asks NSD for `zone`'s DNSKEY and checks that it is the one in both
/// anchor files and that it made `sig`.
async fn check_key(zones: &SignedZones, zone: &str, sig: &Rrsig) {
    let reply = udp(zones.addr, &query_dnssec(zone, RecordType::DNSKEY)).await;
    let keys = answer_rdata(&reply, RecordType::DNSKEY);
    assert_eq!(keys.len(), 1, "one DNSKEY for {zone}: {reply:?}");
    let key = &keys[0];
    assert_eq!(
        &key[..4],
        [1, 1, 3, 13],
        "flags 257, protocol 3, ECDSA P-256"
    );
    assert_eq!(
        zones.dnskey_anchor(zone),
        format!("{zone} 3600 IN DNSKEY 257 3 13 {}", base64(&key[4..]))
    );
    let tag = key_tag(key);
    assert_eq!(sig.key_tag, tag, "{zone} is signed by its anchored key");
    let digest: String = Sha256::digest([wire_name(zone), key.clone()].concat())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        zones.ds_anchor(zone),
        format!("{zone} 3600 IN DS {tag} 13 2 {digest}")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_signed_zone_harness_serves_what_the_tests_expect() {
    let Some(zones) = SignedZones::start().await else {
        eprintln!("{SKIPPED_WITHOUT_NSD}");
        return;
    };
    let now = now();

    // Both anchor files: one line for each signed zone, in that order.
    for (text, rtype) in [
        (zones.dnskey_anchor_text(), "DNSKEY"),
        (zones.ds_anchor_text(), "DS"),
    ] {
        let owners: Vec<&str> = text
            .lines()
            .map(|line| line.split(' ').next().unwrap())
            .collect();
        assert_eq!(owners, ANCHORED_ZONES, "{text}");
        assert!(
            text.lines()
                .all(|line| line.contains(&format!(" 3600 IN {rtype} "))),
            "{text}"
        );
    }

    // secure.test: signed now, by the anchored key; no RRSIG without DO.
    let reply = udp(zones.addr, &query_dnssec(SECURE_WWW, RecordType::A)).await;
    assert_eq!(addresses(&reply), [SECURE_WWW_ADDR]);
    let sig = rrsig_for(&reply, RecordType::A);
    assert!(sig.inception < now && now < sig.expiration, "{sig:?}");
    assert_eq!((sig.algorithm, sig.labels), (13, 3));
    check_key(&zones, SECURE_ZONE, &sig).await;
    let reply = udp(zones.addr, &query(SECURE_WWW, RecordType::A)).await;
    assert_eq!(addresses(&reply), [SECURE_WWW_ADDR]);
    assert!(rrsigs(&reply).is_empty(), "{reply:?}");

    let reply = udp(zones.addr, &query_dnssec(SECURE_ALIAS, RecordType::A)).await;
    assert_eq!(addresses(&reply), [SECURE_WWW_ADDR]);
    rrsig_for(&reply, RecordType::CNAME);
    rrsig_for(&reply, RecordType::A);

    // The tampered name: served with the changed address and the old
    // signature; the bare name: no signature at all.
    let reply = udp(zones.addr, &query_dnssec(TAMPERED, RecordType::A)).await;
    assert_eq!(addresses(&reply), [TAMPERED_ADDR]);
    rrsig_for(&reply, RecordType::A);
    let reply = udp(zones.addr, &query_dnssec(BARE, RecordType::A)).await;
    assert_eq!(addresses(&reply), [BARE_ADDR]);
    assert!(rrsigs(&reply).is_empty(), "{reply:?}");

    // A missing name: NXDOMAIN with a signed NSEC.
    let reply = udp(zones.addr, &query_dnssec(SECURE_MISSING, RecordType::A)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert!(
        reply
            .authorities
            .iter()
            .any(|record| record.record_type() == RecordType::NSEC),
        "{reply:?}"
    );

    // expired.test and future.test: signed by their anchored keys, outside
    // the signatures' validity.
    let reply = udp(zones.addr, &query_dnssec(EXPIRED_WWW, RecordType::A)).await;
    assert_eq!(addresses(&reply), [EXPIRED_WWW_ADDR]);
    let sig = rrsig_for(&reply, RecordType::A);
    assert!(sig.expiration < now, "{sig:?}");
    check_key(&zones, EXPIRED_ZONE, &sig).await;
    let reply = udp(zones.addr, &query_dnssec(FUTURE_WWW, RecordType::A)).await;
    assert_eq!(addresses(&reply), [FUTURE_WWW_ADDR]);
    let sig = rrsig_for(&reply, RecordType::A);
    assert!(now < sig.inception, "{sig:?}");
    check_key(&zones, FUTURE_ZONE, &sig).await;

    // nokey.test: signed by its anchored key, which is not served; a decoy
    // key is.
    let reply = udp(zones.addr, &query_dnssec(NOKEY_WWW, RecordType::A)).await;
    assert_eq!(addresses(&reply), [NOKEY_WWW_ADDR]);
    let sig = rrsig_for(&reply, RecordType::A);
    assert!(sig.inception < now && now < sig.expiration, "{sig:?}");
    let anchor = zones.ds_anchor(NOKEY_ZONE);
    assert_eq!(
        anchor.split(' ').nth(4),
        Some(sig.key_tag.to_string().as_str()),
        "{anchor}"
    );
    let reply = udp(zones.addr, &query_dnssec(NOKEY_ZONE, RecordType::DNSKEY)).await;
    let keys = answer_rdata(&reply, RecordType::DNSKEY);
    assert_eq!(keys.len(), 1, "{reply:?}");
    assert_ne!(key_tag(&keys[0]), sig.key_tag);
    assert!(
        !zones
            .dnskey_anchor(NOKEY_ZONE)
            .contains(&base64(&keys[0][4..]))
    );

    // plain.test: no signatures even when asked for.
    let reply = udp(zones.addr, &query_dnssec(PLAIN_WWW, RecordType::A)).await;
    assert_eq!(addresses(&reply), [PLAIN_WWW_ADDR]);
    assert!(rrsigs(&reply).is_empty(), "{reply:?}");
    assert!(
        zones
            .dnskey_anchor_text()
            .lines()
            .all(|line| !line.starts_with(PLAIN_ZONE))
    );

    // Over TCP too (a validator may fall back to it).
    let reply = tcp(zones.addr, &query_dnssec(SECURE_ZONE, RecordType::DNSKEY)).await;
    assert_eq!(answer_rdata(&reply, RecordType::DNSKEY).len(), 1);
}

/// hedge forwarding to the signed zones' server with `dnssec` and the
/// trust anchors in `anchors` (a path).
async fn hedge_validating(zones: &SignedZones, dnssec: &str, anchors: &std::path::Path) -> Hedge {
    Hedge::start(&format!(
        "[server]\nlisten = [\"LISTEN\"]\nrate_limit_qps = 0\n\n[upstream]\nservers = [\"{}\"]\ntimeout_ms = 2000\nattempts = 1\ndnssec = \"{dnssec}\"\ntrust_anchors = \"{}\"\n",
        zones.addr,
        anchors.display()
    ))
    .await
}

/// `message` with AD set and/or CD set.
fn flagged(mut message: Message, ad: bool, cd: bool) -> Message {
    message.metadata.authentic_data = ad;
    message.metadata.checking_disabled = cd;
    message
}

/// Asserts a SERVFAIL carrying Extended DNS Error `code`.
fn assert_bogus(reply: &Message, code: u16, what: &str) {
    assert_eq!(
        reply.metadata.response_code,
        ResponseCode::ServFail,
        "{what}: {reply:?}"
    );
    assert!(reply.answers.is_empty(), "{what}: nothing forged given out");
    let (got, text) =
        extended_error(reply).unwrap_or_else(|| panic!("{what}: no EDE in {reply:?}"));
    assert_eq!(got, code, "{what}: {text}");
    assert!(text.starts_with("DNSSEC"), "{what}: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_mode_sets_ad_on_secure_answers_and_fails_bogus_ones_with_the_reason() {
    let Some(zones) = SignedZones::start().await else {
        eprintln!("{SKIPPED_WITHOUT_NSD}");
        return;
    };
    let hedge = hedge_validating(&zones, "validate", &zones.dnskey_anchors).await;

    // Secure: AD, and the RRSIG for a client that set DO.
    let reply = udp(hedge.addr, &query_dnssec(SECURE_WWW, RecordType::A)).await;
    assert_eq!(
        reply.metadata.response_code,
        ResponseCode::NoError,
        "{}",
        hedge.log()
    );
    assert_eq!(addresses(&reply), [SECURE_WWW_ADDR]);
    assert!(
        reply.metadata.authentic_data,
        "AD on a validated answer: {reply:?}"
    );
    assert_eq!(rrsigs(&reply).len(), 1, "the RRSIG for a DO client");
    // AD without DO: AD back, no DNSSEC records. Neither: a plain answer.
    let reply = udp(
        hedge.addr,
        &flagged(query(SECURE_WWW, RecordType::A), true, false),
    )
    .await;
    assert!(reply.metadata.authentic_data);
    assert!(rrsigs(&reply).is_empty(), "no RRSIG without DO");
    let reply = udp(hedge.addr, &query(SECURE_WWW, RecordType::A)).await;
    assert!(
        !reply.metadata.authentic_data,
        "no AD for a client that did not ask"
    );
    assert_eq!(addresses(&reply), [SECURE_WWW_ADDR]);
    // A CNAME into the signed zone, and a signed denial.
    let reply = udp(hedge.addr, &query_dnssec(SECURE_ALIAS, RecordType::A)).await;
    assert!(reply.metadata.authentic_data, "{reply:?}");
    assert_eq!(addresses(&reply), [SECURE_WWW_ADDR]);
    let reply = udp(hedge.addr, &query_dnssec(SECURE_MISSING, RecordType::A)).await;
    assert_eq!(
        reply.metadata.response_code,
        ResponseCode::NXDomain,
        "{reply:?}"
    );
    assert!(
        reply.metadata.authentic_data,
        "a proven denial is secure: {reply:?}"
    );

    // Bogus, each with its reason.
    let tampered = udp(hedge.addr, &query_dnssec(TAMPERED, RecordType::A)).await;
    assert_bogus(&tampered, 6, "a record changed after signing");
    let expired = udp(hedge.addr, &query_dnssec(EXPIRED_WWW, RecordType::A)).await;
    assert_bogus(&expired, 7, "signatures expired in 2021");
    let future = udp(hedge.addr, &query_dnssec(FUTURE_WWW, RecordType::A)).await;
    assert_bogus(&future, 8, "signatures valid from 2040");
    let nokey = udp(hedge.addr, &query_dnssec(NOKEY_WWW, RecordType::A)).await;
    assert_bogus(&nokey, 9, "the signing key not served");
    let bare = udp(hedge.addr, &query_dnssec(BARE, RecordType::A)).await;
    assert_bogus(&bare, 10, "a signature stripped");
    // Asked again without DO (EDNS still, to carry the EDE): still SERVFAIL.
    let again = udp(hedge.addr, &query_edns(TAMPERED, RecordType::A, 1232)).await;
    assert_bogus(&again, 6, "asked again without DO");

    // CD: the client checks for itself and gets the answer unchecked.
    let unchecked = udp(
        hedge.addr,
        &flagged(query_dnssec(TAMPERED, RecordType::A), false, true),
    )
    .await;
    assert_eq!(unchecked.metadata.response_code, ResponseCode::NoError);
    assert_eq!(addresses(&unchecked), [TAMPERED_ADDR]);
    assert!(!unchecked.metadata.authentic_data);
    assert!(unchecked.metadata.checking_disabled, "CD echoed");

    // A zone whose KSK (the anchor) signs a separate ZSK: secure.
    let split = udp(hedge.addr, &query_dnssec(SPLIT_WWW, RecordType::A)).await;
    assert_eq!(
        split.metadata.response_code,
        ResponseCode::NoError,
        "{split:?}\n{}",
        hedge.log()
    );
    assert_eq!(addresses(&split), [SPLIT_WWW_ADDR]);
    assert!(
        split.metadata.authentic_data,
        "KSK-signed ZSK trusted: {split:?}"
    );

    // A signed CNAME out to a name under no anchor: answered, not bogus.
    let out = udp(hedge.addr, &query_dnssec(SECURE_TO_PLAIN, RecordType::A)).await;
    assert_eq!(
        out.metadata.response_code,
        ResponseCode::NoError,
        "{out:?}\n{}",
        hedge.log()
    );

    // Under no trust anchor: answered, without AD.
    let plain = udp(hedge.addr, &query_dnssec(PLAIN_WWW, RecordType::A)).await;
    assert_eq!(
        plain.metadata.response_code,
        ResponseCode::NoError,
        "{}",
        hedge.log()
    );
    assert_eq!(addresses(&plain), [PLAIN_WWW_ADDR]);
    assert!(!plain.metadata.authentic_data);

    // Counted, and worded by `hedge explain`.
    assert!(hedge.stat("dnssec_bogus") >= 6, "{}", hedge.status());
    let explained = hedge.ok(&["explain", SECURE_WWW, "--client", "127.0.0.1"]);
    assert!(
        explained.contains("dnssec:  secure: validated"),
        "{explained}"
    );
    let explained = hedge.ok(&["explain", TAMPERED, "--client", "127.0.0.1"]);
    assert!(
        explained.contains(
            "dnssec:  bogus: DNSSEC: bogus answer (answered SERVFAIL, Extended DNS Error 6)"
        ),
        "{explained}"
    );
    let explained = hedge.ok(&["explain", PLAIN_WWW, "--client", "127.0.0.1"]);
    assert!(
        explained.contains("no trust anchor covers it"),
        "{explained}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ds_trust_anchors_and_insecure_domains() {
    let Some(zones) = SignedZones::start().await else {
        eprintln!("{SKIPPED_WITHOUT_NSD}");
        return;
    };
    // DS anchors: the zones' keys are fetched and matched against them.
    let hedge = hedge_validating(&zones, "validate", &zones.ds_anchors).await;
    let reply = udp(hedge.addr, &query_dnssec(SECURE_WWW, RecordType::A)).await;
    assert!(reply.metadata.authentic_data, "{reply:?}\n{}", hedge.log());
    let tampered = udp(hedge.addr, &query_dnssec(TAMPERED, RecordType::A)).await;
    assert_bogus(&tampered, 6, "bogus under a DS anchor");
    let split = udp(hedge.addr, &query_dnssec(SPLIT_WWW, RecordType::A)).await;
    assert!(split.metadata.authentic_data, "a DS for the KSK: {split:?}");
    drop(hedge);

    // A domain never validated: the expired zone answers, without AD.
    let hedge = Hedge::start(&format!(
        "[server]\nlisten = [\"LISTEN\"]\nrate_limit_qps = 0\n\n[upstream]\nservers = [\"{}\"]\ntimeout_ms = 2000\nattempts = 1\ndnssec = \"validate\"\ntrust_anchors = \"{}\"\ninsecure_domains = [\"expired.test\"]\n",
        zones.addr,
        zones.dnskey_anchors.display()
    ))
    .await;
    let reply = udp(hedge.addr, &query_dnssec(EXPIRED_WWW, RecordType::A)).await;
    assert_eq!(
        reply.metadata.response_code,
        ResponseCode::NoError,
        "{reply:?}"
    );
    assert_eq!(addresses(&reply), [EXPIRED_WWW_ADDR]);
    assert!(!reply.metadata.authentic_data);
    let reply = udp(hedge.addr, &query_dnssec(SECURE_WWW, RecordType::A)).await;
    assert!(reply.metadata.authentic_data, "the rest still validated");
}

#[tokio::test(flavor = "multi_thread")]
async fn process_mode_passes_do_ad_and_cd_through_to_a_validating_upstream() {
    let Some(zones) = SignedZones::start().await else {
        eprintln!("{SKIPPED_WITHOUT_NSD}");
        return;
    };
    // A validating hedge is the upstream of a hedge in process mode.
    let validator = hedge_validating(&zones, "validate", &zones.dnskey_anchors).await;
    let hedge = Hedge::start(&format!(
        "[server]\nlisten = [\"LISTEN\"]\nrate_limit_qps = 0\n\n[upstream]\nservers = [\"{}\"]\ntimeout_ms = 3000\nattempts = 1\ndnssec = \"process\"\n",
        validator.addr
    ))
    .await;

    let reply = udp(hedge.addr, &query_dnssec(SECURE_WWW, RecordType::A)).await;
    assert!(
        reply.metadata.authentic_data,
        "the upstream's AD passed on: {reply:?}"
    );
    assert_eq!(
        rrsigs(&reply).len(),
        1,
        "the upstream's RRSIG for a DO client"
    );
    // Cached apart: a client that did not ask gets no DNSSEC records.
    let reply = udp(hedge.addr, &query(SECURE_WWW, RecordType::A)).await;
    assert!(
        rrsigs(&reply).is_empty() && !reply.metadata.authentic_data,
        "{reply:?}"
    );
    let reply = udp(hedge.addr, &query_dnssec(SECURE_WWW, RecordType::A)).await;
    assert_eq!(rrsigs(&reply).len(), 1, "the DO answer still has its RRSIG");

    // The upstream's verdict stands; CD reaches it.
    let reply = udp(hedge.addr, &query_dnssec(TAMPERED, RecordType::A)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    let reply = udp(
        hedge.addr,
        &flagged(query_dnssec(TAMPERED, RecordType::A), false, true),
    )
    .await;
    assert_eq!(addresses(&reply), [TAMPERED_ADDR], "{reply:?}");
    assert!(!reply.metadata.authentic_data);
}

#[test]
fn dnssec_settings_are_checked_with_file_line_and_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("anchors.key"),
        "school.test. 3600 IN A 192.0.2.1\n",
    )
    .unwrap();
    let config = dir.path().join("hedge.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = [\"127.0.0.1:5399\"]\n[upstream]\nservers = [\"127.0.0.1:9\"]\ndnssec = \"strict\"\ntrust_anchors = \"anchors.key\"\ninsecure_domains = [\"bad..name\"]\n",
    )
    .unwrap();
    let output = run_hedge(&["config", "check"], &config);
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(
        text.contains("hedge.toml:5: upstream.dnssec: \"strict\" is not one of"),
        "{text}"
    );
    assert!(
        text.contains("hedge.toml:6: upstream.trust_anchors:"),
        "{text}"
    );
    assert!(
        text.contains("anchors.key:1:"),
        "the anchor file's own line: {text}"
    );
    assert!(
        text.contains("hedge.toml:7: upstream.insecure_domains:"),
        "{text}"
    );
}
