//! The fast path: a plain UDP query answered straight from its bytes when
//! the answer is a fresh cached one or a sinkhole address. Anything else it
//! passes on to the general path, having done, counted and written nothing.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{LowerName, RData};
use tracing::debug;

use crate::config::DnssecMode;
use crate::policy::{AllowReason, BlockAnswer, Decision, decide};
use crate::store::Action;

use crate::dns::answer::ExtendedError;
use crate::dns::cache::{CacheLookup, WireKey};
use crate::dns::special::special_answer;
use crate::dns::stats::bump;
use crate::dns::wire;

use super::Handler;
use super::outcome::{Outcome, blocked_outcome};

impl Handler {
    /// Answers a plain UDP query straight from its bytes when the answer is
    /// a fresh cached one or a sinkhole address, writing it to `out`: the
    /// same bytes, counts and log entry as the general path, without
    /// decoding a full message or spawning a task. False: nothing was
    /// done, counted or written, and [`Handler::handle`] must answer.
    pub fn answer_fast(&self, raw: &[u8], src: SocketAddr, out: &mut Vec<u8>) -> bool {
        let Some(query) = wire::read_plain_query(raw) else {
            return false;
        };
        let serving = self.serving.load();
        let ip = src.ip();
        if !serving.allow.allows(ip) {
            return false;
        }
        let Some(question) = query.decode_name() else {
            return false;
        };
        let name = LowerName::new(&question);
        let qtype = query.record_type();
        if serving.zones.covers(&name) || special_answer(&name, qtype).is_some() {
            return false;
        }
        let now = jiff::Timestamp::now();
        let max_udp = serving.config.server.max_udp_payload;
        let policy = &serving.policy;
        let client = policy.identify(ip, self.mac_of(ip));
        let exemptions = self.exemptions.load();
        let (outcome, rcode) = match decide(policy, &exemptions, client, ip, &name, now) {
            Decision::Block(block) => {
                let sinkhole;
                let addresses: &[IpAddr] = match &block.answer {
                    BlockAnswer::Sinkhole { ipv4, ipv6 } => {
                        sinkhole = [IpAddr::V4(*ipv4), IpAddr::V6(*ipv6)];
                        &sinkhole
                    }
                    BlockAnswer::LocalData(ips) => ips,
                    BlockAnswer::NxDomain | BlockAnswer::NoData => return false,
                };
                let blocked = blocked_outcome(policy, client.group, &question, &question, &block);
                let error = (ExtendedError::Blocked as u16, blocked.why.as_str());
                if !wire::write_addresses(out, &query, addresses, block.ttl, max_udp, error) {
                    return false;
                }
                (blocked.outcome, ResponseCode::NoError)
            }
            Decision::Allow(AllowReason::NotBlocked) => {
                // AD, the DNSSEC records or an unchecked answer: the
                // general path's to give.
                if query.asks_dnssec() && serving.config.upstream.dnssec.mode != DnssecMode::Off {
                    return false;
                }
                let mut key = [0u8; 257];
                let key = query.cache_key(&mut key);
                let CacheLookup::Fresh(cached, left) =
                    serving.cache.lookup(WireKey(key), Instant::now())
                else {
                    return false;
                };
                // Due for a refresh: the general path starts it.
                if cached.wants_prefetch(left) {
                    return false;
                }
                let encoded = cached.encoded.get_or_init(|| {
                    wire::EncodedRecords::encode(
                        &query,
                        cached.rcode,
                        &cached.answers,
                        &cached.authorities,
                    )
                });
                let Some(encoded) = encoded.as_ref().filter(|e| e.fits(&query)) else {
                    return false;
                };
                // An allowed name whose chain leads into a blocked one is
                // the general path's to answer.
                for record in &cached.answers {
                    if let RData::CNAME(target) = &record.data
                        && decide(
                            policy,
                            &exemptions,
                            client,
                            ip,
                            &LowerName::from(&target.0),
                            now,
                        )
                        .is_blocked()
                    {
                        return false;
                    }
                }
                encoded.write(out, &query, left, max_udp);
                let outcome = Outcome {
                    action: Action::Allowed,
                    mandatory: false,
                    category: None,
                    alert: None,
                    rule: None,
                    upstream_us: None,
                };
                (outcome, cached.rcode)
            }
            _ => return false,
        };
        // Too big for the client: the general path truncates it.
        if out.len() > query.udp_limit(max_udp) {
            return false;
        }
        if !self
            .limiter
            .admit(ip, serving.config.server.rate_limit_qps, Instant::now())
        {
            return false;
        }
        debug!(%src, name = %question, %qtype, "query (fast path)");
        bump(&self.stats.queries);
        if outcome.action == Action::Blocked {
            bump(&self.stats.blocked);
        } else {
            bump(&self.stats.cache_hits);
        }
        self.record(policy, client, &question, qtype, &outcome, rcode, src, now);
        true
    }
}
