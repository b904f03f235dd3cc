//! The general path: any query, decoded in full, answered in the fixed
//! order of the module's documentation.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use hickory_proto::op::{Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};
use tracing::debug;

use crate::policy::{Block, Client, Decision, Snapshot, allow_rule, decide, rewrite_rule};
use crate::store::Action;

use crate::dns::admission::Admission;
use crate::dns::answer::{self, ExtendedError, Transport};
use crate::dns::dnssec;
use crate::dns::special::special_answer;
use crate::dns::stats::bump;

use super::Handler;
use super::outcome::{Response, blocked_outcome};
use super::serving::Serving;

impl Handler {
    /// Answers one DNS message. `None` means send nothing (not a query, or
    /// too broken to answer).
    pub async fn handle(
        &self,
        raw: &[u8],
        src: SocketAddr,
        transport: Transport,
    ) -> Option<Vec<u8>> {
        let serving = self.serving.load_full();
        let max_udp = serving.config.server.max_udp_payload;

        // A message shorter than a header, or with QR set, is not a query:
        // answering responses would let two servers bounce packets forever.
        if raw.len() < 12 || raw[2] & 0x80 != 0 {
            bump(&self.stats.malformed);
            return None;
        }
        let request = match Message::from_vec(raw) {
            Ok(request) => request,
            Err(error) => {
                bump(&self.stats.malformed);
                debug!(%src, %error, "malformed query");
                // Strangers get nothing back, not even FORMERR.
                if !serving.allow.allows(src.ip())
                    || !self.limiter.admit(
                        src.ip(),
                        serving.config.server.rate_limit_qps,
                        Instant::now(),
                    )
                {
                    return None;
                }
                let id = u16::from_be_bytes([raw[0], raw[1]]);
                let op_code = OpCode::from_u8((raw[2] >> 3) & 0x0f);
                let response = answer::header_only(id, op_code, ResponseCode::FormErr);
                return answer::encode(&response, transport, answer::CLASSIC_UDP_LIMIT)
                    .map(|(bytes, _)| bytes);
            }
        };
        bump(&self.stats.queries);
        // One clock reading for every name this query involves, and its
        // time in the log.
        let now = jiff::Timestamp::now();
        let client = serving.policy.identify(src.ip(), self.mac_of(src.ip()));
        let limit = answer::udp_limit(request.edns.as_ref(), max_udp);
        let qps = serving.config.server.rate_limit_qps;
        let mut response = if !serving.allow.allows(src.ip()) {
            bump(&self.stats.refused_not_allowed);
            // By UDP these may be forged: a few refusals a second in all,
            // then silence, so hedge reflects no flood at their owner.
            if transport == Transport::Udp
                && !self.refusals.admit(
                    IpAddr::from([0, 0, 0, 0]),
                    STRANGER_REFUSALS,
                    Instant::now(),
                )
            {
                return None;
            }
            debug!(%src, "refused: not in allow_networks");
            // Counted, not logged: anyone can send these (forged, in a
            // flood), and they must not push pupils' entries out.
            Response::with_error(
                answer::response_to(&request, ResponseCode::Refused),
                ExtendedError::Prohibited,
                "client not allowed",
            )
        } else {
            let admission = if transport == Transport::Udp {
                self.limiter.judge(src.ip(), qps, Instant::now())
            } else if self.limiter.admit(src.ip(), qps, Instant::now()) {
                Admission::Admitted
            } else {
                // Refused below; the UDP replies' alternation is left as
                // it was.
                Admission::Drop
            };
            match (admission, transport) {
                (Admission::Admitted, _) => {
                    self.respond(&serving, &request, raw, src, client, now)
                        .await
                }
                // TCP cannot come from a forged address: say why.
                (_, Transport::Tcp) => {
                    bump(&self.stats.rate_limited);
                    Response::with_error(
                        answer::response_to(&request, ResponseCode::Refused),
                        ExtendedError::Prohibited,
                        "rate limit",
                    )
                }
                (Admission::Slip, Transport::Udp) => {
                    bump(&self.stats.rate_limited);
                    bump(&self.stats.rate_limit_slips);
                    return answer::encode(&answer::slip(&request), transport, limit)
                        .map(|(bytes, _)| bytes);
                }
                (Admission::Drop, Transport::Udp) => {
                    bump(&self.stats.rate_limited);
                    return None;
                }
            }
        };
        answer::attach_edns(&mut response.message, request.edns.as_ref(), max_udp);
        if let Some((code, text)) = response.extended_error.take() {
            answer::add_extended_error(&mut response.message, code, &text);
        }
        let (bytes, truncated) = answer::encode(&response.message, transport, limit)?;
        if truncated {
            bump(&self.stats.truncated);
        }
        if let (Some(outcome), Some(query)) = (&response.outcome, request.queries.first()) {
            self.record(
                &serving.policy,
                client,
                query.name(),
                query.query_type(),
                outcome,
                response.message.metadata.response_code,
                src,
                now,
            );
        }
        Some(bytes)
    }

    async fn respond(
        &self,
        serving: &Serving,
        request: &Message,
        raw: &[u8],
        src: SocketAddr,
        client: Client<'_>,
        now: jiff::Timestamp,
    ) -> Response {
        let ip = src.ip();
        if request.metadata.op_code != OpCode::Query {
            return Response::plain(answer::not_implemented(request));
        }
        if let Some(edns) = &request.edns
            && edns.version() != 0
        {
            return Response::plain(answer::response_to(request, ResponseCode::BADVERS));
        }
        let [query] = request.queries.as_slice() else {
            return Response::plain(answer::response_to(request, ResponseCode::FormErr));
        };
        debug!(%src, name = %query.name(), qtype = %query.query_type(), "query");
        if query.query_class() != DNSClass::IN {
            return Response::with_error(
                answer::response_to(request, ResponseCode::Refused),
                ExtendedError::NotSupported,
                "only class IN is served",
            )
            .logged(Action::Refused, Some("class not served".into()));
        }
        match query.query_type() {
            RecordType::ANY => {
                return Response::plain(answer::minimal_any(request, query)).logged(
                    Action::Local,
                    Some("ANY answered minimally (RFC 8482)".into()),
                );
            }
            RecordType::AXFR | RecordType::IXFR => {
                return Response::plain(answer::response_to(request, ResponseCode::Refused))
                    .logged(Action::Refused, Some("zone transfer".into()));
            }
            RecordType::OPT => {
                return Response::plain(answer::response_to(request, ResponseCode::FormErr));
            }
            _ => {}
        }

        let name = LowerName::from(query.name());
        if serving.zones.covers(&name) {
            if let Some(mut message) = serving.zones.answer(raw, src).await {
                bump(&self.stats.local_answers);
                message.metadata.recursion_available = true;
                message.edns = None;
                return Response::plain(message).logged(Action::Local, Some("local zone".into()));
            }
            return Response::plain(answer::response_to(request, ResponseCode::ServFail))
                .logged(Action::Local, Some("local zone".into()));
        }
        if let Some(special) = special_answer(&name, query.query_type()) {
            bump(&self.stats.local_answers);
            let mut message = answer::response_to(request, special.rcode);
            message.metadata.authoritative = true;
            message.add_answers(special.answers);
            message.add_authorities(special.authorities);
            return Response::plain(message).logged(Action::Local, Some("special-use name".into()));
        }
        let policy = &serving.policy;
        // The exemptions' guard is dropped at once, not held over the
        // upstream's answer.
        let decision = decide(policy, &self.exemptions.load(), client, ip, &name, now);
        let response = match decision {
            Decision::Block(block) => {
                return self.blocked(policy, client.group, request, query, query.name(), &block);
            }
            Decision::Rewrite { target, engine } => {
                bump(&self.stats.rewritten);
                // The CNAME to the safe endpoint, then the endpoint's records.
                let target_query = Query::query(target.clone(), query.query_type());
                let mut response = self
                    .resolve_upstream(
                        serving,
                        request,
                        &target_query,
                        LowerName::from(&target),
                        ip,
                    )
                    .await;
                let cname = Record::from_rdata(
                    query.name().clone(),
                    REWRITE_TTL,
                    RData::CNAME(CNAME(target)),
                );
                // The CNAME is hedge's own, unsigned: nothing about the
                // answer is authenticated, and the target's proofs would
                // not prove it.
                response.message.metadata.authentic_data = false;
                response.message.answers.retain(|r| !dnssec::is_proof(r));
                response
                    .message
                    .authorities
                    .retain(|r| !dnssec::is_proof(r));
                response.message.answers.insert(0, cname);
                if let Some(outcome) = &mut response.outcome {
                    outcome.action = Action::Rewritten;
                    outcome.rule = Some(rewrite_rule(&engine));
                }
                response
            }
            Decision::Allow(reason) => {
                let mut response = self
                    .resolve_upstream(serving, request, query, name, ip)
                    .await;
                if let Some(outcome) = &mut response.outcome {
                    outcome.rule = allow_rule(policy, client.group, query.name(), reason);
                }
                if let Some(left) = reason.ttl_limit(now) {
                    for record in response
                        .message
                        .answers
                        .iter_mut()
                        .chain(response.message.authorities.iter_mut())
                    {
                        record.ttl = record.ttl.min(left);
                    }
                }
                response
            }
        };
        // A CNAME chain from an allowed name into a blocked one is blocked.
        for record in &response.message.answers {
            if let RData::CNAME(target) = &record.data {
                let target = LowerName::from(&target.0);
                let decision = decide(policy, &self.exemptions.load(), client, ip, &target, now);
                if let Decision::Block(block) = decision {
                    return self.blocked(
                        policy,
                        client.group,
                        request,
                        query,
                        &target.into(),
                        &block,
                    );
                }
            }
        }
        response
    }

    /// The answer for a blocked name. `listed` is the name the decision was
    /// about (the query name, or a CNAME target in its chain).
    fn blocked(
        &self,
        policy: &Snapshot,
        group: usize,
        request: &Message,
        query: &Query,
        listed: &Name,
        block: &Block,
    ) -> Response {
        bump(&self.stats.blocked);
        let blocked = blocked_outcome(policy, group, query.name(), listed, block);
        Response {
            message: answer::blocked(request, query, &block.answer, block.ttl, &blocked.zone),
            extended_error: Some((ExtendedError::Blocked, blocked.why)),
            outcome: Some(blocked.outcome),
        }
    }
}

/// UDP refusals a second, all together, to clients outside
/// `allow_networks`; past it they get no reply.
const STRANGER_REFUSALS: u32 = 50;

/// TTL of the CNAME a safe-search rewrite answers with.
const REWRITE_TTL: u32 = 300;
