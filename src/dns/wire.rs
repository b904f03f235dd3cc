//! The fast path's view of DNS messages: a plain query read straight from
//! the bytes a client sent, and the common answers (a cached answer, a
//! sinkhole address) written straight into a buffer.
//!
//! Only the plainest queries are read here: one question, class IN, a name
//! in letters, digits, `-` and `_` without compression, an ordinary type,
//! and at most an EDNS version 0 record without options. Anything else is
//! `None`, and the general path (hickory's full decoder) answers it. What
//! is written here is byte for byte what the general path would send for
//! the same query (the tests in `tests/fast_path.rs` hold it to that).

use std::net::IpAddr;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

/// OPT (RFC 6891).
const TYPE_OPT: u16 = 41;
/// Extended DNS Error option code (RFC 8914).
const OPTION_EDE: u16 = 15;

/// A query simple enough for the fast path, borrowed from the received
/// bytes.
#[derive(Debug, Clone, Copy)]
pub struct PlainQuery<'a> {
    pub id: u16,
    pub recursion_desired: bool,
    pub checking_disabled: bool,
    /// The question name in wire form, as sent (case kept), with its final
    /// zero byte.
    pub name: &'a [u8],
    /// The whole question: name, type and class, to echo.
    pub question: &'a [u8],
    pub qtype: u16,
    /// The client's EDNS, if it sent one.
    pub edns: Option<PlainEdns>,
    /// The client set AD or CD in the header.
    pub dnssec_flags: bool,
}

/// What a client's OPT record said that matters to the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainEdns {
    pub payload: u16,
    pub dnssec_ok: bool,
}

impl PlainQuery<'_> {
    /// Whether the client said anything about DNSSEC (DO, AD or CD), so
    /// that the answer may differ from the plain one.
    pub fn asks_dnssec(&self) -> bool {
        self.dnssec_flags || self.edns.is_some_and(|e| e.dnssec_ok)
    }

    /// The question name, decoded the way the general path decodes it.
    pub fn decode_name(&self) -> Option<Name> {
        Name::read(&mut BinDecoder::new(self.name)).ok()
    }

    /// The answer cache's key for this question (the name lowercased,
    /// then the type), written into `buf`.
    pub fn cache_key<'b>(&self, buf: &'b mut [u8; 257]) -> &'b [u8] {
        let n = self.name.len();
        for (to, from) in buf.iter_mut().zip(self.name) {
            *to = from.to_ascii_lowercase();
        }
        buf[n..n + 2].copy_from_slice(&self.qtype.to_be_bytes());
        &buf[..n + 2]
    }

    pub fn record_type(&self) -> RecordType {
        RecordType::from(self.qtype)
    }

    /// The most a UDP answer may carry (as `answer::udp_limit`).
    pub fn udp_limit(&self, max_udp_payload: u16) -> usize {
        super::answer::udp_limit_for(self.edns.map(|e| e.payload), max_udp_payload)
    }
}

/// Reads `raw` as a plain query, or `None` if it is anything else.
pub fn read_plain_query(raw: &[u8]) -> Option<PlainQuery<'_>> {
    if raw.len() < 12 + 5 {
        return None;
    }
    let flags = u16::from_be_bytes([raw[2], raw[3]]);
    // QR, opcode, AA and TC clear; the rest of the header is copied or
    // ignored exactly as the general path does.
    if flags & 0xFE00 != 0 {
        return None;
    }
    let count = |at: usize| u16::from_be_bytes([raw[at], raw[at + 1]]);
    let (qdcount, ancount, nscount, arcount) = (count(4), count(6), count(8), count(10));
    if qdcount != 1 || ancount != 0 || nscount != 0 || arcount > 1 {
        return None;
    }
    // The name: plain labels only, no pointers.
    let mut at = 12;
    loop {
        let len = usize::from(*raw.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        if len > 63 {
            return None;
        }
        let label = raw.get(at + 1..at + 1 + len)?;
        if !label
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        at += 1 + len;
        if at - 12 > 254 {
            return None;
        }
    }
    let name_end = at;
    let qtype = u16::from_be_bytes([*raw.get(at)?, *raw.get(at + 1)?]);
    let qclass = u16::from_be_bytes([*raw.get(at + 2)?, *raw.get(at + 3)?]);
    at += 4;
    // Ordinary data types only: not OPT, not the meta types (ANY, AXFR,
    // IXFR, ...), which the general path answers specially.
    if qclass != u16::from(DNSClass::IN) || qtype == 0 || qtype == TYPE_OPT || qtype >= 128 {
        return None;
    }
    let question_end = at;
    let edns = if arcount == 1 {
        // Root owner, type OPT, payload, extended rcode 0, version 0, no
        // options: anything more goes the general way.
        let opt = raw.get(at..at + 11)?;
        if opt[0] != 0
            || u16::from_be_bytes([opt[1], opt[2]]) != TYPE_OPT
            || opt[5] != 0
            || opt[6] != 0
            || opt[9] != 0
            || opt[10] != 0
        {
            return None;
        }
        at += 11;
        Some(PlainEdns {
            payload: u16::from_be_bytes([opt[3], opt[4]]),
            dnssec_ok: opt[7] & 0x80 != 0,
        })
    } else {
        None
    };
    if at != raw.len() {
        return None;
    }
    Some(PlainQuery {
        id: u16::from_be_bytes([raw[0], raw[1]]),
        recursion_desired: flags & 0x0100 != 0,
        checking_disabled: flags & 0x0010 != 0,
        name: &raw[12..name_end],
        question: &raw[12..question_end],
        qtype,
        edns,
        dnssec_flags: flags & 0x0030 != 0,
    })
}

/// Starts an answer to `query`: header and echoed question.
fn begin(out: &mut Vec<u8>, query: &PlainQuery<'_>, rcode: u8, answers: u16, authorities: u16) {
    out.clear();
    out.extend_from_slice(&query.id.to_be_bytes());
    // QR, RD copied, RA; CD copied; the rcode.
    let mut flags: u16 = 0x8080 | u16::from(rcode & 0x0f);
    if query.recursion_desired {
        flags |= 0x0100;
    }
    if query.checking_disabled {
        flags |= 0x0010;
    }
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&answers.to_be_bytes());
    out.extend_from_slice(&authorities.to_be_bytes());
    out.extend_from_slice(&u16::from(query.edns.is_some()).to_be_bytes());
    out.extend_from_slice(query.question);
}

/// Ends an answer with our OPT record when the query had one: our payload
/// size, the client's DO bit, and an Extended DNS Error if given.
fn finish(
    out: &mut Vec<u8>,
    query: &PlainQuery<'_>,
    max_udp_payload: u16,
    error: Option<(u16, &str)>,
) {
    let Some(edns) = query.edns else {
        return;
    };
    out.push(0);
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&max_udp_payload.max(512).to_be_bytes());
    out.extend_from_slice(&[0, 0, if edns.dnssec_ok { 0x80 } else { 0 }, 0]);
    match error {
        Some((code, text)) => {
            let len = 2 + text.len();
            out.extend_from_slice(&((4 + len) as u16).to_be_bytes());
            out.extend_from_slice(&OPTION_EDE.to_be_bytes());
            out.extend_from_slice(&(len as u16).to_be_bytes());
            out.extend_from_slice(&code.to_be_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        None => out.extend_from_slice(&[0, 0]),
    }
}

/// Writes the sinkhole answer to `query` (an A or AAAA query): one record
/// per address, owned by the question name. `error` is the Extended DNS
/// Error (code, text) sent to clients that speak EDNS. Returns false, with
/// nothing written, for an empty address list or a query of another type.
pub fn write_addresses(
    out: &mut Vec<u8>,
    query: &PlainQuery<'_>,
    addresses: &[IpAddr],
    ttl: u32,
    max_udp_payload: u16,
    error: (u16, &str),
) -> bool {
    let wanted = |ip: &&IpAddr| match query.record_type() {
        RecordType::A => ip.is_ipv4(),
        RecordType::AAAA => ip.is_ipv6(),
        _ => false,
    };
    let count = addresses.iter().filter(wanted).count();
    if count == 0 || count > 64 {
        return false;
    }
    begin(out, query, 0, count as u16, 0);
    for ip in addresses.iter().filter(wanted) {
        // The owner is the question name: a pointer to it.
        out.extend_from_slice(&0xC00Cu16.to_be_bytes());
        out.extend_from_slice(&query.qtype.to_be_bytes());
        out.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        match ip {
            IpAddr::V4(v4) => {
                out.extend_from_slice(&4u16.to_be_bytes());
                out.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                out.extend_from_slice(&16u16.to_be_bytes());
                out.extend_from_slice(&v6.octets());
            }
        }
    }
    finish(out, query, max_udp_payload, Some(error));
    true
}

/// A cached answer's records encoded once, after a question, so that each
/// later answer is a copy with the TTLs rewritten.
#[derive(Debug, Clone)]
pub struct EncodedRecords {
    /// One allocation, not three (kept for every cached answer): the
    /// question name (case as first asked) the records were encoded after,
    /// since their compression pointers are only right behind the same
    /// bytes; then the records, from just after the question; then for
    /// each record where its TTL is within the records (2 bytes) and the
    /// TTL it has (4 bytes).
    bytes: Box<[u8]>,
    /// Where the name ends and the records begin.
    name_end: u16,
    /// Where the records end and the TTLs begin.
    records_end: u32,
    qtype: u16,
    rcode: u8,
    answers: u16,
    authorities: u16,
}

impl EncodedRecords {
    /// Encodes `answers` and `authorities` as hickory encodes them behind
    /// `query`'s question. `None` if the answer is not one the fast path
    /// sends (an extended rcode, a record that does not encode).
    pub fn encode(
        query: &PlainQuery<'_>,
        rcode: hickory_proto::op::ResponseCode,
        answers: &[Record],
        authorities: &[Record],
    ) -> Option<EncodedRecords> {
        let rcode = u16::from(rcode);
        if rcode > 15 || answers.len() > 200 || authorities.len() > 200 {
            return None;
        }
        let name = query.decode_name()?;
        let mut message = Message::new(0, MessageType::Response, OpCode::Query);
        message.add_query(Query::query(name, query.record_type()));
        message.add_answers(answers.iter().cloned());
        message.add_authorities(authorities.iter().cloned());
        let bytes = message.to_vec().ok()?;
        let start = 12 + query.question.len();
        if bytes.get(12..start)? != query.question {
            return None;
        }
        let records = &bytes[start..];
        let count = answers.len() + authorities.len();
        let mut packed = Vec::with_capacity(query.name.len() + records.len() + 6 * count);
        packed.extend_from_slice(query.name);
        packed.extend_from_slice(records);
        let mut at = 0;
        for _ in 0..answers.len() + authorities.len() {
            at = skip_name(records, at)?;
            let ttl_at = at + 4;
            let ttl = u32::from_be_bytes(records.get(ttl_at..ttl_at + 4)?.try_into().ok()?);
            let rdlen = usize::from(u16::from_be_bytes(
                records.get(ttl_at + 4..ttl_at + 6)?.try_into().ok()?,
            ));
            packed.extend_from_slice(&u16::try_from(ttl_at).ok()?.to_be_bytes());
            packed.extend_from_slice(&ttl.to_be_bytes());
            at = ttl_at + 6 + rdlen;
        }
        if at != records.len() {
            return None;
        }
        Some(EncodedRecords {
            bytes: packed.into(),
            name_end: u16::try_from(query.name.len()).ok()?,
            records_end: u32::try_from(query.name.len() + records.len()).ok()?,
            qtype: query.qtype,
            rcode: rcode as u8,
            answers: answers.len() as u16,
            authorities: authorities.len() as u16,
        })
    }

    /// Whether these records were encoded behind exactly this question.
    pub fn fits(&self, query: &PlainQuery<'_>) -> bool {
        self.qtype == query.qtype && self.bytes[..usize::from(self.name_end)] == *query.name
    }

    /// Writes the answer to `query` with every TTL at most `ttl`.
    pub fn write(&self, out: &mut Vec<u8>, query: &PlainQuery<'_>, ttl: u32, max_udp_payload: u16) {
        begin(out, query, self.rcode, self.answers, self.authorities);
        let start = out.len();
        let records_end = self.records_end as usize;
        out.extend_from_slice(&self.bytes[usize::from(self.name_end)..records_end]);
        for entry in self.bytes[records_end..].chunks_exact(6) {
            let at = start + usize::from(u16::from_be_bytes([entry[0], entry[1]]));
            let original = u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]);
            out[at..at + 4].copy_from_slice(&original.min(ttl).to_be_bytes());
        }
        finish(out, query, max_udp_payload, None);
    }
}

/// The offset just past the (possibly compressed) name at `at`.
fn skip_name(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *bytes.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xC0 == 0xC0 => return Some(at + 2),
            l if l <= 63 => at += 1 + usize::from(l),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16, edns: Option<(u16, bool)>) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0];
        q.push(u8::from(edns.is_some()));
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&1u16.to_be_bytes());
        if let Some((payload, dnssec_ok)) = edns {
            q.extend_from_slice(&[0, 0, 41]);
            q.extend_from_slice(&payload.to_be_bytes());
            q.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
        }
        q
    }

    #[test]
    fn reads_plain_queries() {
        let raw = query("www.Example.org", 1, None);
        let q = read_plain_query(&raw).unwrap();
        assert_eq!(q.id, 0x1234);
        assert!(q.recursion_desired);
        assert_eq!(q.qtype, 1);
        assert_eq!(q.edns, None);
        assert_eq!(q.decode_name().unwrap().to_ascii(), "www.Example.org.");
        let raw = query("example.org", 28, Some((1232, true)));
        let q = read_plain_query(&raw).unwrap();
        assert_eq!(
            q.edns,
            Some(PlainEdns {
                payload: 1232,
                dnssec_ok: true
            })
        );
    }

    #[test]
    fn leaves_everything_else_to_the_general_path() {
        // ANY, OPT and class CH.
        assert!(read_plain_query(&query("example.org", 255, None)).is_none());
        assert!(read_plain_query(&query("example.org", 41, None)).is_none());
        let mut chaos = query("example.org", 16, None);
        let n = chaos.len();
        chaos[n - 1] = 3;
        assert!(read_plain_query(&chaos).is_none());
        // A response, a second question, trailing bytes, a pointer.
        let mut response = query("example.org", 1, None);
        response[2] |= 0x80;
        assert!(read_plain_query(&response).is_none());
        let mut two = query("example.org", 1, None);
        two[5] = 2;
        assert!(read_plain_query(&two).is_none());
        let mut trailing = query("example.org", 1, None);
        trailing.push(0);
        assert!(read_plain_query(&trailing).is_none());
        let mut pointer = query("example.org", 1, None);
        pointer[12] = 0xC0;
        assert!(read_plain_query(&pointer).is_none());
        // EDNS version 1, and EDNS with an option.
        let mut v1 = query("example.org", 1, Some((1232, false)));
        let n = v1.len();
        v1[n - 5] = 1;
        assert!(read_plain_query(&v1).is_none());
        let mut option = query("example.org", 1, Some((1232, false)));
        let n = option.len();
        option[n - 1] = 4;
        option.extend_from_slice(&[0, 10, 0, 0]);
        assert!(read_plain_query(&option).is_none());
        // Odd bytes in a label, and truncation anywhere.
        assert!(read_plain_query(&query("exa mple.org", 1, None)).is_none());
        let raw = query("example.org", 1, Some((1232, false)));
        for len in 0..raw.len() {
            assert!(read_plain_query(&raw[..len]).is_none(), "{len}");
        }
    }
}
