//! Building responses: the header copied from the request, EDNS sized from
//! the request, Extended DNS Errors, and truncation for UDP. Every response
//! hedge sends goes through [`encode`].

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, Query, ResponseCode};
use std::net::IpAddr;

use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::rdata::{A, AAAA, HINFO, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::policy::BlockAnswer;

/// How a query arrived, which decides whether its answer may be truncated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// RFC 1035: the UDP limit for a client that sent no EDNS.
pub const CLASSIC_UDP_LIMIT: usize = 512;

/// Extended DNS Error codes hedge uses (RFC 8914).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtendedError {
    StaleAnswer = 3,
    DnssecBogus = 6,
    SignatureExpired = 7,
    SignatureNotYetValid = 8,
    DnskeyMissing = 9,
    RrsigsMissing = 10,
    Blocked = 15,
    Prohibited = 18,
    NotSupported = 21,
    NoReachableAuthority = 22,
}

/// A response to `request` with its id, opcode, RD and CD copied, RA set, and
/// its question echoed.
pub fn response_to(request: &Message, rcode: ResponseCode) -> Message {
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.checking_disabled = request.metadata.checking_disabled;
    response.metadata.recursion_available = true;
    response.metadata.response_code = rcode;
    response.add_queries(request.queries.iter().cloned());
    response
}

/// NOTIMP for an opcode hedge does not serve: id, opcode and question
/// echoed, and no flag but QR (RD, RA and CD mean something for QUERY
/// only, RFC 1035 4.1.1 and RFC 6895 2).
pub fn not_implemented(request: &Message) -> Message {
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.response_code = ResponseCode::NotImp;
    response.add_queries(request.queries.iter().cloned());
    response
}

/// The reply to a UDP query over its client's rate limit: the question
/// echoed with TC set, nothing else (no EDNS), so it is never larger than
/// the query and a real client retries over TCP.
pub fn slip(request: &Message) -> Message {
    let mut response = response_to(request, ResponseCode::NoError);
    response.metadata.truncation = true;
    response
}

/// A bare error response for a packet too broken to echo: only the header
/// fields read from its first bytes.
pub fn header_only(id: u16, op_code: OpCode, rcode: ResponseCode) -> Message {
    let mut metadata = Metadata::new(id, MessageType::Response, op_code);
    metadata.response_code = rcode;
    metadata.recursion_available = true;
    let mut message = Message::new(id, MessageType::Response, op_code);
    message.metadata = metadata;
    message
}

/// The RFC 8482 answer to a query of type ANY: one synthesized HINFO record,
/// so that ANY cannot be used to amplify traffic.
pub fn minimal_any(request: &Message, query: &Query) -> Message {
    let mut response = response_to(request, ResponseCode::NoError);
    response.add_answer(Record::from_rdata(
        query.name().clone(),
        3600,
        RData::HINFO(HINFO::new("RFC8482".to_string(), String::new())),
    ));
    response
}

/// The answer to a blocked query. A and AAAA get the sinkhole (or RPZ)
/// addresses; every other type gets NODATA, and NXDOMAIN mode NXDOMAIN; the
/// negative answers carry a SOA for `zone` (the listed name), so that
/// nothing about the real name leaks and caches keep it only `ttl` seconds.
pub fn blocked(
    request: &Message,
    query: &Query,
    how: &BlockAnswer,
    ttl: u32,
    zone: &Name,
) -> Message {
    let owner = query.name().clone();
    let addresses: Vec<IpAddr> = match (how, query.query_type()) {
        (BlockAnswer::Sinkhole { ipv4, .. }, RecordType::A) => vec![IpAddr::V4(*ipv4)],
        (BlockAnswer::Sinkhole { ipv6, .. }, RecordType::AAAA) => vec![IpAddr::V6(*ipv6)],
        (BlockAnswer::LocalData(ips), RecordType::A) => {
            ips.iter().filter(|ip| ip.is_ipv4()).copied().collect()
        }
        (BlockAnswer::LocalData(ips), RecordType::AAAA) => {
            ips.iter().filter(|ip| ip.is_ipv6()).copied().collect()
        }
        _ => Vec::new(),
    };
    let rcode = if *how == BlockAnswer::NxDomain {
        ResponseCode::NXDomain
    } else {
        ResponseCode::NoError
    };
    let mut response = response_to(request, rcode);
    if addresses.is_empty() {
        response.add_authority(blocked_soa(zone, ttl));
    }
    for ip in addresses {
        let data = match ip {
            IpAddr::V4(v4) => RData::A(A(v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
        };
        response.add_answer(Record::from_rdata(owner.clone(), ttl, data));
    }
    response
}

fn blocked_soa(zone: &Name, ttl: u32) -> Record {
    let mut zone = zone.clone();
    zone.set_fqdn(true);
    let soa = SOA::new(
        Name::from_ascii("blocked.hedge.invalid.").expect("valid name"),
        Name::from_ascii("nobody.invalid.").expect("valid name"),
        1,
        ttl as i32,
        ttl as i32,
        ttl as i32,
        ttl,
    );
    Record::from_rdata(zone, ttl, RData::SOA(soa))
}

/// Adds an Extended DNS Error (RFC 8914) to a response whose request had EDNS.
pub fn add_extended_error(response: &mut Message, code: ExtendedError, text: &str) {
    if let Some(edns) = response.edns.as_mut() {
        let mut data = Vec::with_capacity(2 + text.len());
        data.extend_from_slice(&(code as u16).to_be_bytes());
        data.extend_from_slice(text.as_bytes());
        edns.options_mut()
            .insert(EdnsOption::Unknown(u16::from(EdnsCode::Unknown(15)), data));
    }
}

/// Gives the response an OPT record when the request had one: our payload
/// size, version 0, and the request's DO bit copied (RFC 3225).
pub fn attach_edns(response: &mut Message, request_edns: Option<&Edns>, max_udp_payload: u16) {
    if let Some(request_edns) = request_edns {
        let mut edns = Edns::new();
        edns.set_max_payload(max_udp_payload.max(512));
        edns.set_version(0);
        edns.set_dnssec_ok(request_edns.flags().dnssec_ok);
        response.set_edns(edns);
    } else {
        response.edns = None;
    }
}

/// The most a UDP response to this request may carry: the client's
/// advertised size (at least 512), never more than our own limit.
pub fn udp_limit(request_edns: Option<&Edns>, max_udp_payload: u16) -> usize {
    udp_limit_for(request_edns.map(Edns::max_payload), max_udp_payload)
}

/// The same from the size the client advertised, if it sent EDNS.
pub fn udp_limit_for(advertised: Option<u16>, max_udp_payload: u16) -> usize {
    match advertised {
        Some(payload) => usize::from(payload.clamp(512, max_udp_payload.max(512))),
        None => CLASSIC_UDP_LIMIT,
    }
}

/// Encodes a response. Over UDP, one that does not fit `limit` is replaced by
/// the question alone with TC set, so the client retries over TCP. Returns
/// the bytes and whether the answer was truncated.
pub fn encode(response: &Message, transport: Transport, limit: usize) -> Option<(Vec<u8>, bool)> {
    let bytes = match response.to_vec() {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(%error, "cannot encode a response; answering SERVFAIL");
            let mut failed = response.truncate();
            failed.metadata.truncation = false;
            failed.metadata.response_code = ResponseCode::ServFail;
            return failed.to_vec().ok().map(|b| (b, false));
        }
    };
    // Over TCP the two-byte length prefix caps a message at 65,535 bytes.
    let limit = match transport {
        Transport::Udp => limit,
        Transport::Tcp => usize::from(u16::MAX),
    };
    if bytes.len() > limit {
        let truncated = response.truncate();
        return truncated.to_vec().ok().map(|b| (b, true));
    }
    Some((bytes, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::{Name, RecordType, rdata::A};
    use std::str::FromStr;

    fn request(edns: Option<u16>) -> Message {
        let mut m = Message::query();
        m.metadata.id = 4321;
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(
            Name::from_str("big.example.").unwrap(),
            RecordType::A,
        ));
        if let Some(size) = edns {
            let mut e = Edns::new();
            e.set_max_payload(size);
            m.set_edns(e);
        }
        m
    }

    fn big_response(request: &Message) -> Message {
        let mut response = response_to(request, ResponseCode::NoError);
        for i in 0..60u8 {
            response.add_answer(Record::from_rdata(
                Name::from_str("big.example.").unwrap(),
                60,
                RData::A(A::new(192, 0, 2, i)),
            ));
        }
        response
    }

    #[test]
    fn limits_follow_request() {
        assert_eq!(udp_limit(None, 1232), 512);
        let r = request(Some(4096));
        assert_eq!(udp_limit(r.edns.as_ref(), 1232), 1232);
        let r = request(Some(100));
        assert_eq!(udp_limit(r.edns.as_ref(), 1232), 512);
        let r = request(Some(800));
        assert_eq!(udp_limit(r.edns.as_ref(), 1232), 800);
    }

    #[test]
    fn udp_truncates_tcp_does_not() {
        let req = request(None);
        let response = big_response(&req);
        let (bytes, truncated) = encode(&response, Transport::Udp, 512).unwrap();
        assert!(truncated);
        assert!(bytes.len() <= 512);
        let parsed = Message::from_vec(&bytes).unwrap();
        assert!(parsed.metadata.truncation);
        assert_eq!(parsed.metadata.id, 4321);
        assert_eq!(parsed.queries.len(), 1);
        let (bytes, truncated) = encode(&response, Transport::Tcp, 512).unwrap();
        assert!(!truncated);
        assert_eq!(Message::from_vec(&bytes).unwrap().answers.len(), 60);
    }

    #[test]
    fn edns_is_echoed_with_do_bit() {
        let mut req = request(Some(4096));
        req.edns.as_mut().unwrap().set_dnssec_ok(true);
        let mut response = response_to(&req, ResponseCode::NoError);
        attach_edns(&mut response, req.edns.as_ref(), 1232);
        add_extended_error(&mut response, ExtendedError::StaleAnswer, "stale");
        let parsed = Message::from_vec(&response.to_vec().unwrap()).unwrap();
        let edns = parsed.edns.unwrap();
        assert_eq!(edns.max_payload(), 1232);
        assert!(edns.flags().dnssec_ok);
        let ede = edns.option(EdnsCode::Unknown(15)).expect("EDE present");
        match ede {
            EdnsOption::Unknown(15, data) => {
                assert_eq!(&data[..2], &[0, 3]);
                assert_eq!(&data[2..], b"stale");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_edns_without_request_edns() {
        let req = request(None);
        let mut response = response_to(&req, ResponseCode::NoError);
        attach_edns(&mut response, None, 1232);
        add_extended_error(&mut response, ExtendedError::Prohibited, "x");
        assert!(response.edns.is_none());
    }
}
