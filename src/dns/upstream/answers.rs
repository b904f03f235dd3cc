//! Turning what the upstreams sent into an answer hedge caches and
//! serves: the DNSSEC records kept apart, and secure, insecure or bogus
//! decided.

use std::time::Instant;

use hickory_proto::dnssec::Proof;
use hickory_proto::op::{DnsRequest, DnsRequestOptions, DnsResponse, Message, Query, ResponseCode};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_resolver::TokioResolver;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::xfer::{DnsHandle, FirstAnswer};
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::recursor::{Recursor, RecursorError};

use crate::config::{DnssecConfig, DnssecMode};

use super::{UpstreamAnswer, UpstreamError};
use crate::dns::cache::{CachedAnswer, Proofs};
use crate::dns::dnssec::{self, Asking, Bogus};

/// One question sent to the upstreams through `handle`, with DO (and CD
/// when unchecked, AD when passed through). With it, the validator's
/// verdict on a negative answer that it could not prove secure.
pub(super) async fn exchange<H: DnsHandle>(
    handle: &H,
    query: &Query,
    asking: Asking,
) -> Result<(DnsResponse, Option<Proof>), UpstreamError> {
    let mut options = DnsRequestOptions::default();
    options.use_edns = true;
    options.edns_set_dnssec_ok = asking.dnssec_ok();
    options.edns_payload_len = 1232;
    options.recursion_desired = true;
    let mut request = DnsRequest::from_query(query.clone(), options);
    request.metadata.checking_disabled = asking == Asking::Unchecked;
    request.metadata.authentic_data = asking == Asking::PassedThrough;
    match handle.send(request).first_answer().await {
        Ok(response) => Ok((response, None)),
        Err(error) => match error {
            // A negative answer: make it a message again, as it came.
            NetError::Dns(DnsError::NoRecordsFound(no_records)) => {
                let message = negative_message(
                    *no_records.query,
                    no_records.response_code,
                    no_records.soa,
                    no_records.authorities.as_deref(),
                    true,
                );
                let response = DnsResponse::from_message(message.into_response())
                    .map_err(|e| UpstreamError::Failed(e.to_string()))?;
                Ok((response, None))
            }
            NetError::Dns(DnsError::Nsec {
                response, proof, ..
            }) => Ok((*response, Some(proof))),
            NetError::Dns(DnsError::ResponseCode(code)) => Err(UpstreamError::Refused(code)),
            NetError::Timeout => Err(UpstreamError::Failed("upstream timed out".into())),
            other => Err(UpstreamError::Failed(other.to_string())),
        },
    }
}

/// A negative answer as a message: the question, the code, the SOA and,
/// `with_proofs`, the other authority records (NSEC, NSEC3, RRSIG).
pub(super) fn negative_message(
    query: Query,
    code: ResponseCode,
    soa: Option<Box<Record<SOA>>>,
    authorities: Option<&[Record]>,
    with_proofs: bool,
) -> Message {
    let mut message = Message::query();
    message.add_query(query);
    message.metadata.response_code = code;
    if let Some(soa) = soa {
        message.add_authority(soa.into_record_of_rdata());
    }
    if with_proofs {
        for record in authorities.unwrap_or_default() {
            if record.record_type() != RecordType::SOA {
                message.add_authority(record.clone());
            }
        }
    }
    message
}

pub(super) fn answer_from(
    result: Result<(DnsResponse, Option<Proof>), UpstreamError>,
    asking: Asking,
    config: &DnssecConfig,
    now: Instant,
) -> Result<UpstreamAnswer, UpstreamError> {
    let (response, denial) = result?;
    let authentic = response.metadata.authentic_data;
    let negative_ttl = response.negative_ttl();
    let message = response.into_message();
    let judged = Judged {
        asking,
        config,
        upstream_ad: authentic,
        denial,
    };
    from_message(message, judged, negative_ttl, now)
}

/// What decides whether an answer is secure, insecure or bogus.
pub(super) struct Judged<'a> {
    asking: Asking,
    config: &'a DnssecConfig,
    /// The upstream's AD bit (believed in `process` mode only).
    upstream_ad: bool,
    /// The validator's verdict on a denial it could not prove secure.
    denial: Option<Proof>,
}

/// An answer from a message: its records, the DNSSEC ones kept apart, and
/// whether it is secure. Validated, a record that failed validation makes
/// the answer bogus only if hedge validates its owner's name (a CNAME out
/// into an insecure domain or a name under no anchor is insecure, not
/// bogus); only `process` mode believes the upstream's AD.
pub(super) fn from_message(
    message: Message,
    judged: Judged<'_>,
    negative_ttl: Option<u32>,
    now: Instant,
) -> Result<UpstreamAnswer, UpstreamError> {
    let code = message.metadata.response_code;
    if !matches!(code, ResponseCode::NoError | ResponseCode::NXDomain) {
        return Err(UpstreamError::Refused(code));
    }
    let (answer_proofs, answers): (Vec<Record>, Vec<Record>) =
        message.answers.into_iter().partition(dnssec::is_proof);
    let (authority_proofs, authorities): (Vec<Record>, Vec<Record>) =
        message.authorities.into_iter().partition(dnssec::is_proof);
    let authorities: Vec<Record> = if answers.is_empty() {
        authorities
            .into_iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .collect()
    } else {
        Vec::new()
    };
    let validates = |record: &Record| judged.config.validates(&LowerName::from(&record.name));
    let secure = match judged.asking {
        Asking::Plain => false,
        Asking::Unchecked | Asking::PassedThrough => {
            judged.upstream_ad && judged.config.mode == DnssecMode::Process
        }
        Asking::Validated => {
            // The answer's own records, or for a denial its proof.
            let records: Vec<&Record> = if answers.is_empty() {
                authorities
                    .iter()
                    .chain(&authority_proofs)
                    .filter(|r| !r.record_type().is_rrsig())
                    .collect()
            } else {
                answers.iter().collect()
            };
            if records
                .iter()
                .any(|r| r.proof == Proof::Bogus && validates(r))
            {
                return Err(UpstreamError::Bogus(Bogus::Bogus));
            }
            // A denial the validator could not prove: bogus if hedge
            // validates the name denied (the end of any CNAME chain).
            let denied = answers
                .iter()
                .rev()
                .find_map(|r| match &r.data {
                    RData::CNAME(target) => Some(LowerName::from(&target.0)),
                    _ => None,
                })
                .or_else(|| message.queries.first().map(|q| LowerName::from(q.name())));
            if judged.denial == Some(Proof::Bogus)
                && denied.is_some_and(|name| judged.config.validates(&name))
            {
                return Err(UpstreamError::Bogus(Bogus::Bogus));
            }
            judged.denial.is_none()
                && !records.is_empty()
                && records.iter().all(|r| r.proof == Proof::Secure)
        }
    };
    let proofs = if judged.asking == Asking::Plain {
        Proofs::default()
    } else {
        // For a positive answer the authority's NSEC/NSEC3 records prove a
        // wildcard expansion; a downstream validator needs them too.
        Proofs {
            answers: answer_proofs,
            authorities: authority_proofs,
        }
    };
    Ok(
        CachedAnswer::new(code, answers, authorities, negative_ttl, now)
            .with_dnssec(secure, proofs),
    )
}

pub(super) async fn forward(
    resolver: &TokioResolver,
    name: &Name,
    rtype: RecordType,
) -> Result<UpstreamAnswer, UpstreamError> {
    let now = Instant::now();
    match resolver.lookup(name.clone(), rtype).await {
        Ok(lookup) => Ok(CachedAnswer::new(
            ResponseCode::NoError,
            lookup.answers().to_vec(),
            Vec::new(),
            None,
            now,
        )),
        Err(NetError::Dns(DnsError::NoRecordsFound(no_records))) => {
            let soa = no_records
                .soa
                .map(|soa| vec![soa.into_record_of_rdata()])
                .unwrap_or_default();
            match no_records.response_code {
                code @ (ResponseCode::NXDomain | ResponseCode::NoError) => Ok(CachedAnswer::new(
                    code,
                    Vec::new(),
                    soa,
                    no_records.negative_ttl,
                    now,
                )),
                code => Err(UpstreamError::Refused(code)),
            }
        }
        Err(NetError::Dns(DnsError::ResponseCode(code))) => Err(UpstreamError::Refused(code)),
        Err(NetError::Timeout) => Err(UpstreamError::Failed("upstream timed out".into())),
        Err(other) => Err(UpstreamError::Failed(other.to_string())),
    }
}

pub(super) async fn recurse(
    recursor: &Recursor<TokioRuntimeProvider>,
    query: &Query,
    asking: Asking,
    config: &DnssecConfig,
    now: Instant,
) -> Result<UpstreamAnswer, UpstreamError> {
    let with_proofs = asking.dnssec_ok();
    let judged = |denial| Judged {
        asking,
        config,
        upstream_ad: false,
        denial,
    };
    match recursor.resolve(query.clone(), now, with_proofs).await {
        Ok(message) => from_message(message, judged(None), None, now),
        Err(RecursorError::Net(NetError::Dns(DnsError::NoRecordsFound(no_records)))) => {
            let negative_ttl = no_records.negative_ttl;
            let message = negative_message(
                *no_records.query,
                no_records.response_code,
                no_records.soa,
                no_records.authorities.as_deref(),
                with_proofs,
            );
            from_message(message, judged(None), negative_ttl, now)
        }
        Err(RecursorError::Net(NetError::Dns(DnsError::Nsec {
            response, proof, ..
        }))) => from_message(response.into_message(), judged(Some(proof)), None, now),
        Err(error) if error.is_no_records_found() || error.is_nx_domain() => {
            let code = if error.is_nx_domain() {
                ResponseCode::NXDomain
            } else {
                ResponseCode::NoError
            };
            let soa = error
                .into_soa()
                .map(|soa| vec![soa.into_record_of_rdata()])
                .unwrap_or_default();
            Ok(CachedAnswer::new(code, Vec::new(), soa, None, now))
        }
        Err(RecursorError::Net(NetError::Timeout)) => {
            Err(UpstreamError::Failed("recursion timed out".into()))
        }
        Err(error) => Err(UpstreamError::Failed(error.to_string())),
    }
}
