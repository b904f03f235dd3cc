//! Zones signed with DNSSEC and served by a real authoritative server, for
//! the DNSSEC validation tests: NSD serves them on a loopback port, signed
//! by ldns-signzone with one key per zone, some of them broken on purpose
//! (a tampered record, a stripped signature, expired signatures, signatures
//! not valid yet, a zone that serves a key other than the one it is signed
//! with). Each signed zone's key is written to a trust anchor file, so a
//! validator that trusts that file validates the zones without any parent
//! DS.
//!
//! Needs the Debian packages `nsd` and `ldnsutils` (CI installs them); when
//! they are missing, [`SignedZones::start`] gives `None` and the test skips
//! with [`SKIPPED_WITHOUT_NSD`]. Runs as any user; nothing needs root.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use tempfile::TempDir;

use super::{PATIENCE, free_addr, local, patiently, query_edns, udp_exchange_from};

/// What a test prints when it returns early because the tools are missing.
pub const SKIPPED_WITHOUT_NSD: &str =
    "skipped: nsd and ldnsutils are not installed (Debian packages nsd, ldnsutils)";

/// A signed zone whose signatures are all valid (NSEC, one ECDSA P-256 key
/// with flags 257 that signs everything).
pub const SECURE_ZONE: &str = "secure.test.";
/// Signed, valid: A [`SECURE_WWW_ADDR`].
pub const SECURE_WWW: &str = "www.secure.test.";
pub const SECURE_WWW_ADDR: &str = "192.0.2.10";
/// Signed, valid: CNAME to [`SECURE_WWW`].
pub const SECURE_ALIAS: &str = "alias.secure.test.";
/// Signed as A 192.0.2.11, then changed in the served zone to
/// [`TAMPERED_ADDR`]: its RRSIG no longer matches (bogus).
pub const TAMPERED: &str = "tampered.secure.test.";
/// The address NSD serves for [`TAMPERED`].
pub const TAMPERED_ADDR: &str = "192.0.2.66";
/// The address [`TAMPERED`]'s RRSIG was made for.
pub const TAMPERED_SIGNED_ADDR: &str = "192.0.2.11";
/// A [`BARE_ADDR`] in the secure zone, its RRSIG removed from the served
/// zone (bogus: RRSIGs missing, EDE 10).
pub const BARE: &str = "bare.secure.test.";
pub const BARE_ADDR: &str = "192.0.2.12";
/// A name the secure zone does not have (NXDOMAIN, with NSEC proof).
pub const SECURE_MISSING: &str = "missing.secure.test.";

/// A zone signed with signatures that expired in 2021 (inception 2020):
/// bogus, EDE 7 (Signature Expired).
pub const EXPIRED_ZONE: &str = "expired.test.";
pub const EXPIRED_WWW: &str = "www.expired.test.";
pub const EXPIRED_WWW_ADDR: &str = "192.0.2.20";

/// A zone signed with signatures valid only from 2040 to 2041: bogus,
/// EDE 8 (Signature Not Yet Valid).
pub const FUTURE_ZONE: &str = "future.test.";
pub const FUTURE_WWW: &str = "www.future.test.";
pub const FUTURE_WWW_ADDR: &str = "192.0.2.50";

/// A zone signed with a key that is in the trust anchors but whose DNSKEY
/// record is not served: the zone's DNSKEY RRset holds only another key
/// (a decoy, which signs nothing): bogus, EDE 9 (DNSKEY Missing). (With no
/// DNSKEY at all NSD would treat the zone as unsigned and send no RRSIGs.)
pub const NOKEY_ZONE: &str = "nokey.test.";
pub const NOKEY_WWW: &str = "www.nokey.test.";
pub const NOKEY_WWW_ADDR: &str = "192.0.2.40";

/// A zone signed with a KSK (the one in the anchor files) and a separate
/// ZSK that signs its records: secure.
pub const SPLIT_ZONE: &str = "split.test.";
pub const SPLIT_WWW: &str = "www.split.test.";
pub const SPLIT_WWW_ADDR: &str = "192.0.2.60";

/// Signed, valid: CNAME out of the signed zone to [`PLAIN_WWW`], which no
/// anchor covers (insecure, not bogus).
pub const SECURE_TO_PLAIN: &str = "toplain.secure.test.";

/// An unsigned zone with no trust anchor: insecure, answered as is.
pub const PLAIN_ZONE: &str = "plain.test.";
pub const PLAIN_WWW: &str = "www.plain.test.";
pub const PLAIN_WWW_ADDR: &str = "192.0.2.30";

/// The zones that have a key, hence a line in each anchor file.
pub const ANCHORED_ZONES: [&str; 5] = [
    SECURE_ZONE,
    SPLIT_ZONE,
    EXPIRED_ZONE,
    FUTURE_ZONE,
    NOKEY_ZONE,
];

/// The TTL of every record in the zones.
pub const ZONE_TTL: u32 = 300;

/// How a zone is signed before NSD serves it.
#[derive(Clone, Copy, PartialEq)]
enum Signing {
    /// Not signed, no key.
    Unsigned,
    /// Signatures valid from a day ago for 30 days.
    Valid,
    /// Signatures valid from 2020 to 2021.
    Expired,
    /// Signatures valid from 2040 to 2041.
    NotYetValid,
    /// Valid signatures, but the signing key's DNSKEY is left out of the
    /// zone and a decoy key's put in.
    DecoyDnskey,
    /// Valid signatures from two keys: a KSK (the anchor) signing the key
    /// set, a ZSK signing the rest, as most signed zones are.
    SplitKeys,
}

/// The zones: origin, how it is signed, records besides SOA and NS.
const ZONES: [(&str, Signing, &str); 6] = [
    (
        SECURE_ZONE,
        Signing::Valid,
        "www IN A 192.0.2.10\n\
         tampered IN A 192.0.2.11\n\
         bare IN A 192.0.2.12\n\
         alias IN CNAME www.secure.test.\n\
         toplain IN CNAME www.plain.test.\n",
    ),
    (SPLIT_ZONE, Signing::SplitKeys, "www IN A 192.0.2.60\n"),
    (EXPIRED_ZONE, Signing::Expired, "www IN A 192.0.2.20\n"),
    (FUTURE_ZONE, Signing::NotYetValid, "www IN A 192.0.2.50\n"),
    (NOKEY_ZONE, Signing::DecoyDnskey, "www IN A 192.0.2.40\n"),
    (PLAIN_ZONE, Signing::Unsigned, "www IN A 192.0.2.30\n"),
];

/// NSD serving the test zones on 127.0.0.1, with the trust anchors for the
/// signed ones. NSD is stopped when this is dropped.
pub struct SignedZones {
    /// Where NSD answers, over UDP and TCP.
    pub addr: SocketAddr,
    /// The trust anchors as DNSKEY records, one a line in zone-file
    /// presentation format (`secure.test. 3600 IN DNSKEY 257 3 13 <base64>`),
    /// one for each of [`ANCHORED_ZONES`], no comments.
    pub dnskey_anchors: PathBuf,
    /// The same anchors as DS records (SHA-256 digests, from ldns-key2ds):
    /// `secure.test. 3600 IN DS <key tag> 13 2 <hex>`, one a line.
    pub ds_anchors: PathBuf,
    dir: TempDir,
    nsd: Option<Child>,
}

impl SignedZones {
    /// Signs the zones in a temporary directory and starts NSD on them;
    /// returns once NSD answers. `None` when nsd or ldnsutils is not
    /// installed (the caller prints [`SKIPPED_WITHOUT_NSD`] and returns);
    /// panics when they are installed but something fails.
    pub async fn start() -> Option<SignedZones> {
        let tools = Tools::find()?;
        let dir = TempDir::new().unwrap();
        let (dnskeys, ds) = sign_zones(&tools, dir.path());
        let dnskey_anchors = dir.path().join("anchors.dnskey");
        let ds_anchors = dir.path().join("anchors.ds");
        std::fs::write(&dnskey_anchors, dnskeys).unwrap();
        std::fs::write(&ds_anchors, ds).unwrap();
        let mut zones = SignedZones {
            addr: "127.0.0.1:0".parse().unwrap(),
            dnskey_anchors,
            ds_anchors,
            dir,
            nsd: None,
        };
        zones.start_nsd(&tools.nsd).await;
        Some(zones)
    }

    /// Starts NSD on a free port and waits until it answers; tries another
    /// port when NSD exits early (another process took the port).
    async fn start_nsd(&mut self, nsd: &Path) {
        let mut last_log = String::new();
        for _ in 0..5 {
            let addr = free_addr("127.0.0.1:0".parse().unwrap());
            let config = self.dir.path().join("nsd.conf");
            std::fs::write(&config, nsd_config(self.dir.path(), addr)).unwrap();
            let stderr = std::fs::File::create(self.path("nsd.stderr")).unwrap();
            let child = Command::new(nsd)
                .arg("-d")
                .arg("-c")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("start nsd");
            self.addr = addr;
            self.nsd = Some(child);
            if self.wait_ready().await {
                return;
            }
            last_log = self.log();
            self.stop();
        }
        panic!("nsd did not start; its log:\n{last_log}");
    }

    /// Polls with an SOA query until NSD answers (true) or exits (false);
    /// panics after [`PATIENCE`].
    async fn wait_ready(&mut self) -> bool {
        let probe = query_edns(SECURE_ZONE, RecordType::SOA, 1232);
        for () in patiently() {
            if let Some(child) = self.nsd.as_mut()
                && let Ok(Some(_)) = child.try_wait()
            {
                return false;
            }
            if let Some(reply) =
                udp_exchange_from(local(1), self.addr, &probe, Duration::from_millis(200)).await
                && reply.metadata.response_code == ResponseCode::NoError
                && !reply.answers.is_empty()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "nsd did not answer on {} within {PATIENCE:?}; its log:\n{}",
            self.addr,
            self.log()
        );
    }

    /// Stops NSD: SIGTERM (it stops its worker processes too), SIGKILL if
    /// it has not gone after a few seconds.
    fn stop(&mut self) {
        let Some(mut child) = self.nsd.take() else {
            return;
        };
        if let Ok(pid) = i32::try_from(child.id()) {
            // SAFETY: kill(2) on the pid of our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The contents of [`Self::dnskey_anchors`].
    pub fn dnskey_anchor_text(&self) -> String {
        std::fs::read_to_string(&self.dnskey_anchors).unwrap()
    }

    /// The contents of [`Self::ds_anchors`].
    pub fn ds_anchor_text(&self) -> String {
        std::fs::read_to_string(&self.ds_anchors).unwrap()
    }

    /// The anchor line (DNSKEY) for `zone`.
    pub fn dnskey_anchor(&self, zone: &str) -> String {
        anchor_line(&self.dnskey_anchor_text(), zone)
    }

    /// The anchor line (DS) for `zone`.
    pub fn ds_anchor(&self, zone: &str) -> String {
        anchor_line(&self.ds_anchor_text(), zone)
    }

    /// The zone file NSD serves for `zone` (after any tampering), for
    /// failure messages.
    pub fn served_zone(&self, zone: &str) -> String {
        std::fs::read_to_string(self.path(&served_file(zone))).unwrap()
    }

    /// What NSD has logged (its log file, then its stderr), for failure
    /// messages.
    pub fn log(&self) -> String {
        let read = |name| std::fs::read_to_string(self.path(name)).unwrap_or_default();
        format!("{}{}", read("nsd.log"), read("nsd.stderr"))
    }

    /// A file in the harness's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for SignedZones {
    fn drop(&mut self) {
        self.stop();
    }
}

fn anchor_line(text: &str, zone: &str) -> String {
    text.lines()
        .find(|line| line.split_whitespace().next() == Some(zone))
        .unwrap_or_else(|| panic!("no anchor for {zone} in:\n{text}"))
        .to_string()
}

/// A query for `name` with EDNS and the DO bit set, so that an
/// authoritative server sends RRSIGs (and NSEC records).
pub fn query_dnssec(name: &str, rtype: RecordType) -> Message {
    let mut message = query_edns(name, rtype, 1232);
    message
        .edns
        .as_mut()
        .expect("query_edns sets EDNS")
        .set_dnssec_ok(true);
    message
}

/// The fixed fields of an RRSIG (RFC 4034 3.1), read from its wire form so
/// that it works whether or not hickory-proto is built with DNSSEC support.
#[derive(Clone, Debug, PartialEq)]
pub struct Rrsig {
    /// The owner name of the RRSIG record.
    pub name: Name,
    pub type_covered: RecordType,
    pub algorithm: u8,
    pub labels: u8,
    pub original_ttl: u32,
    /// Seconds since 1970 (as a 32-bit serial number).
    pub expiration: u32,
    pub inception: u32,
    pub key_tag: u16,
}

/// The RRSIGs in a message's answer section.
pub fn rrsigs(message: &Message) -> Vec<Rrsig> {
    message
        .answers
        .iter()
        .filter(|record| record.record_type() == RecordType::RRSIG)
        .map(|record| {
            let wire = record.data.to_bytes().expect("RRSIG encodes");
            assert!(wire.len() > 18, "RRSIG rdata too short: {wire:?}");
            let u32_at = |i: usize| u32::from_be_bytes(wire[i..i + 4].try_into().unwrap());
            Rrsig {
                name: record.name.clone(),
                type_covered: RecordType::from(u16::from_be_bytes([wire[0], wire[1]])),
                algorithm: wire[2],
                labels: wire[3],
                original_ttl: u32_at(4),
                expiration: u32_at(8),
                inception: u32_at(12),
                key_tag: u16::from_be_bytes([wire[16], wire[17]]),
            }
        })
        .collect()
}

/// The programs the harness runs, found on PATH or in the sbin directories
/// (NSD is in /usr/sbin, which a user's PATH may lack).
struct Tools {
    nsd: PathBuf,
    keygen: PathBuf,
    signzone: PathBuf,
    key2ds: PathBuf,
}

impl Tools {
    fn find() -> Option<Tools> {
        Some(Tools {
            nsd: find_program("nsd")?,
            keygen: find_program("ldns-keygen")?,
            signzone: find_program("ldns-signzone")?,
            key2ds: find_program("ldns-key2ds")?,
        })
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The zone file (before signing) for `origin` with `records`.
fn zone_text(origin: &str, records: &str) -> String {
    format!(
        "$ORIGIN {origin}\n$TTL {ZONE_TTL}\n\
         @ IN SOA ns.{origin} admin.{origin} 1 3600 600 86400 60\n\
         @ IN NS ns.{origin}\n\
         ns IN A 192.0.2.1\n\
         {records}"
    )
}

/// The name of the file NSD serves for `origin`.
fn served_file(origin: &str) -> String {
    format!("{origin}zone")
}

/// Runs `command` (in `dir`), which must succeed: its stdout.
fn run(command: &mut Command, dir: &Path) -> String {
    let output = command.current_dir(dir).output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Writes and signs the zones in `dir`, leaving each as
/// [`served_file`]; gives the DNSKEY and DS anchor files' text.
fn sign_zones(tools: &Tools, dir: &Path) -> (String, String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut dnskeys = String::new();
    let mut ds = String::new();
    for (origin, signing, records) in ZONES {
        let unsigned = format!("{origin}unsigned");
        let mut text = zone_text(origin, records);
        if signing == Signing::DecoyDnskey {
            let decoy = run(
                Command::new(&tools.keygen).args(["-a", "ECDSAP256SHA256", "-k", origin]),
                dir,
            );
            let decoy = std::fs::read_to_string(dir.join(format!("{}.key", decoy.trim())));
            text.push_str(&presentation_line(&decoy.unwrap()));
        }
        std::fs::write(dir.join(&unsigned), text).unwrap();
        if signing == Signing::Unsigned {
            std::fs::rename(dir.join(&unsigned), dir.join(served_file(origin))).unwrap();
            continue;
        }
        // A single key with flags 257 that signs everything.
        let key = run(
            Command::new(&tools.keygen).args(["-a", "ECDSAP256SHA256", "-k", origin]),
            dir,
        );
        let key = key.trim().to_string();
        let key_file = format!("{key}.key");
        dnskeys.push_str(&presentation_line(
            &std::fs::read_to_string(dir.join(&key_file)).unwrap(),
        ));
        ds.push_str(&presentation_line(&run(
            Command::new(&tools.key2ds).args(["-n", "-2", &key_file]),
            dir,
        )));

        let (inception, expiration) = match signing {
            Signing::Expired => ("20200101000000".to_string(), "20210101000000".to_string()),
            // Within 68 years of now, as RRSIG times are serial numbers.
            Signing::NotYetValid => ("20400101000000".to_string(), "20410101000000".to_string()),
            _ => ((now - 86_400).to_string(), (now + 30 * 86_400).to_string()),
        };
        let signed = format!("{origin}signed");
        let mut sign = Command::new(&tools.signzone);
        sign.args(["-i", &inception, "-e", &expiration, "-f", &signed]);
        if signing == Signing::DecoyDnskey {
            // Signs the decoy DNSKEY RRset but does not add its own key.
            sign.arg("-d");
        }
        sign.args([unsigned.as_str(), key.as_str()]);
        if signing == Signing::SplitKeys {
            // A ZSK (flags 256, not in the anchors) for the zone's data.
            let zsk = run(
                Command::new(&tools.keygen).args(["-a", "ECDSAP256SHA256", origin]),
                dir,
            );
            sign.arg(zsk.trim());
        }
        run(&mut sign, dir);

        let mut text = std::fs::read_to_string(dir.join(&signed)).unwrap();
        if origin == SECURE_ZONE {
            text = tamper(&text);
        }
        std::fs::write(dir.join(served_file(origin)), text).unwrap();
    }
    (dnskeys, ds)
}

/// One record from ldns output (tabs, an optional `;{id = ...}` comment, no
/// TTL in a .key file) as `name 3600 IN TYPE rdata`, with a newline.
fn presentation_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|line| !line.trim().is_empty() && !line.starts_with(';'))
        .unwrap_or_else(|| panic!("no record in {text:?}"));
    let line = line.split(';').next().unwrap();
    let mut fields: Vec<&str> = line.split_whitespace().collect();
    if fields.get(1).is_some_and(|f| f.parse::<u32>().is_ok()) {
        fields.remove(1);
    }
    assert_eq!(fields.get(1), Some(&"IN"), "unexpected record: {line:?}");
    format!("{} 3600 {}\n", fields[0], fields[1..].join(" "))
}

/// Breaks the signed secure zone on purpose: changes [`TAMPERED`]'s address
/// after signing and drops [`BARE`]'s RRSIG.
fn tamper(signed: &str) -> String {
    let (mut changed, mut dropped) = (0, 0);
    let mut out = String::new();
    for line in signed.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() == 5 && fields[0] == TAMPERED && fields[3] == "A" {
            assert_eq!(fields[4], TAMPERED_SIGNED_ADDR);
            out.push_str(&format!(
                "{} {} IN A {TAMPERED_ADDR}\n",
                fields[0], fields[1]
            ));
            changed += 1;
        } else if fields.len() > 4 && fields[0] == BARE && fields[3] == "RRSIG" && fields[4] == "A"
        {
            dropped += 1;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert_eq!(
        (changed, dropped),
        (1, 1),
        "cannot find the records to tamper with in:\n{signed}"
    );
    out
}

/// An NSD config that runs unprivileged with everything in `dir`, serving
/// the zones on `addr` only.
fn nsd_config(dir: &Path, addr: SocketAddr) -> String {
    let dir = dir.display();
    let mut config = format!(
        "server:\n\
         \x20   ip-address: {ip}\n\
         \x20   port: {port}\n\
         \x20   do-ip6: no\n\
         \x20   username: \"\"\n\
         \x20   chroot: \"\"\n\
         \x20   zonesdir: \"{dir}\"\n\
         \x20   database: \"\"\n\
         \x20   pidfile: \"{dir}/nsd.pid\"\n\
         \x20   xfrdfile: \"{dir}/xfrd.state\"\n\
         \x20   xfrdir: \"{dir}\"\n\
         \x20   zonelistfile: \"{dir}/zone.list\"\n\
         \x20   logfile: \"{dir}/nsd.log\"\n\
         \x20   verbosity: 1\n\
         \x20   server-count: 1\n\
         \x20   reuseport: no\n\
         \x20   hide-version: yes\n\
         \x20   hide-identity: yes\n\
         remote-control:\n\
         \x20   control-enable: no\n",
        ip = addr.ip(),
        port = addr.port(),
    );
    for (origin, _, _) in ZONES {
        config.push_str(&format!(
            "zone:\n    name: \"{origin}\"\n    zonefile: \"{}\"\n",
            served_file(origin)
        ));
    }
    config
}
