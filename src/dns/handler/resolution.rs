//! Asking the upstreams: from the cache when fresh, one question in flight
//! per name and type shared by every client waiting on it, a stale answer
//! when every upstream fails; and an answer asked for in the last tenth of
//! its TTL refreshed in the background (prefetch), so that a popular name
//! never makes a client wait when it expires.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{LowerName, Name, RecordType};
use tracing::debug;

use crate::store::Action;

use crate::config::DnssecMode;
use crate::dns::answer::{self, ExtendedError};
use crate::dns::cache::{CacheKey, CacheLookup, CachedAnswer};
use crate::dns::dnssec::{self, Asking, DnssecVerdict};
use crate::dns::pending::Waited;
use crate::dns::stats::bump;
use crate::dns::upstream::UpstreamError;

use super::Handler;
use super::outcome::Response;
use super::serving::Serving;

impl Handler {
    pub(super) async fn resolve_upstream(
        &self,
        serving: &Serving,
        request: &Message,
        query: &Query,
        name: LowerName,
        client: IpAddr,
    ) -> Response {
        let asking = Asking::for_request(serving.upstream.dnssec(), &name, request);
        let key = CacheKey::variant(&name, query.query_type(), asking.cache_variant());
        let now = Instant::now();
        let stale = match serving.cache.get(&key, now) {
            CacheLookup::Fresh(cached, left) => {
                bump(&self.stats.cache_hits);
                if cached.wants_prefetch(left) && cached.claim_prefetch() {
                    self.prefetch(key, query, asking);
                }
                return Response::plain(cached_response(request, &cached, left, false))
                    .logged(Action::Allowed, None);
            }
            CacheLookup::Stale(cached) => {
                bump(&self.stats.cache_misses);
                Some(cached)
            }
            CacheLookup::Miss => {
                bump(&self.stats.cache_misses);
                None
            }
        };
        let asked = Instant::now();
        let lookup = || async {
            let result = fetch(serving, &key, query, asking).await;
            self.upstream_latency.observe(asked.elapsed());
            if result.is_err() {
                bump(&self.stats.upstream_errors);
            }
            result
        };
        let result = match serving
            .pending
            .ask(&key, client.to_canonical(), lookup)
            .await
        {
            Waited::Asked(result) => result,
            Waited::Shared(result) => {
                bump(&self.stats.upstream_shared);
                result
            }
            Waited::Full => {
                bump(&self.stats.upstream_shed);
                Err(Arc::new(UpstreamError::Busy(serving.pending.limit())))
            }
            Waited::ClientFull => {
                bump(&self.stats.upstream_shed);
                Err(Arc::new(UpstreamError::ClientBusy(serving.pending.share())))
            }
        };
        let took = u32::try_from(asked.elapsed().as_micros()).unwrap_or(u32::MAX);
        let response = match result {
            Ok(fresh) => Response::plain(cached_response(request, &fresh, fresh.ttl, false)),
            // A forged or broken answer: never served, stale or not.
            Err(error) if let UpstreamError::Bogus(bogus) = *error => {
                bump(&self.stats.dnssec_bogus);
                Response::with_error(
                    answer::response_to(request, ResponseCode::ServFail),
                    bogus.extended_error(),
                    bogus.describe(),
                )
            }
            Err(error) => {
                if let Some(cached) = stale {
                    bump(&self.stats.stale_answers);
                    let ttl = serving.config.upstream.stale_answer_ttl;
                    Response::with_error(
                        cached_response(request, &cached, ttl, true),
                        ExtendedError::StaleAnswer,
                        "upstream unreachable",
                    )
                } else {
                    bump(&self.stats.upstream_failures);
                    Response::with_error(
                        answer::response_to(request, ResponseCode::ServFail),
                        ExtendedError::NoReachableAuthority,
                        &error.to_string(),
                    )
                }
            }
        };
        let mut response = response.logged(Action::Allowed, None);
        if let Some(outcome) = &mut response.outcome {
            outcome.upstream_us = Some(took);
        }
        response
    }
}

impl Handler {
    /// Refreshes the answer to `query` in the background, sharing a
    /// question already out and held to `max_pending` like any client (all
    /// prefetches count as one client, so they take at most a quarter of
    /// it). A refresh that fails leaves the old answer to expire.
    fn prefetch(&self, key: CacheKey, query: &Query, asking: Asking) {
        bump(&self.stats.prefetches);
        let serving = self.serving.load_full();
        let query = query.clone();
        tokio::spawn(async move {
            let lookup = || fetch(&serving, &key, &query, asking);
            let _ = serving.pending.ask(&key, PREFETCH_CLIENT, lookup).await;
        });
    }
}

impl Handler {
    /// Asks the upstreams for `name`'s A records as a client that set DO
    /// would have them asked, past the cache and the log, and says what
    /// DNSSEC made of the answer.
    pub async fn check_dnssec(&self, name: &Name) -> DnssecVerdict {
        let serving = self.serving.load_full();
        let config = serving.upstream.dnssec();
        let mut fqdn = name.clone();
        fqdn.set_fqdn(true);
        let lower = LowerName::from(&fqdn);
        let mode = config.mode.as_str().to_string();
        let asking = match config.mode {
            DnssecMode::Off => {
                return DnssecVerdict {
                    mode,
                    outcome: "off: DNSSEC is neither asked for nor checked; AD is never set".into(),
                };
            }
            DnssecMode::Validate => match dnssec::why_not_validated(config, &lower) {
                Some(why) => return DnssecVerdict { mode, outcome: why },
                None => Asking::Validated,
            },
            DnssecMode::Process => Asking::PassedThrough,
        };
        let outcome = match (
            serving.upstream.resolve(&fqdn, RecordType::A, asking).await,
            asking,
        ) {
            (Ok(answer), Asking::Validated) if answer.secure => {
                "secure: validated from the trust anchors (AD for clients that ask)".to_string()
            }
            (Ok(_), Asking::Validated) => {
                "insecure: proven unsigned from the trust anchors (answered, no AD)".to_string()
            }
            (Ok(answer), _) if answer.secure => {
                "the upstream says secure (its AD is passed on)".to_string()
            }
            (Ok(_), _) => "the upstream did not say secure (no AD)".to_string(),
            (Err(UpstreamError::Bogus(bogus)), _) => format!(
                "bogus: {} (answered SERVFAIL, Extended DNS Error {})",
                bogus.describe(),
                bogus.extended_error() as u16
            ),
            (Err(error), _) => format!("not known: {error}"),
        };
        DnssecVerdict { mode, outcome }
    }
}

/// The client prefetches are counted as in the pending questions' table.
const PREFETCH_CLIENT: IpAddr = IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);

/// Asks the upstreams for `query` and caches the answer under `key`.
async fn fetch(
    serving: &Serving,
    key: &CacheKey,
    query: &Query,
    asking: Asking,
) -> Result<Arc<CachedAnswer>, Arc<UpstreamError>> {
    let mut fqdn = query.name().clone();
    fqdn.set_fqdn(true);
    match serving
        .upstream
        .resolve(&fqdn, query.query_type(), asking)
        .await
    {
        Ok(fresh) => {
            let fresh = Arc::new(fresh);
            serving.cache.insert(key.clone(), fresh.clone());
            Ok(fresh)
        }
        Err(error) => {
            debug!(name = %query.name(), %error, "upstream failed");
            Err(Arc::new(error))
        }
    }
}

/// The answer for `request` from a cached one: AD when it is secure and
/// the client understands AD, the DNSSEC records when it set DO.
fn cached_response(request: &Message, cached: &CachedAnswer, ttl: u32, stale: bool) -> Message {
    let mut response = answer::response_to(request, cached.rcode);
    // Past its TTL an answer's signatures may have expired: no AD.
    response.metadata.authentic_data = !stale && dnssec::authentic(request, cached.secure);
    response.add_answers(CachedAnswer::records_with_ttl(&cached.answers, ttl, stale));
    response.add_authorities(CachedAnswer::records_with_ttl(
        &cached.authorities,
        ttl,
        stale,
    ));
    let dnssec_ok = request
        .edns
        .as_ref()
        .is_some_and(|edns| edns.flags().dnssec_ok);
    if dnssec_ok && let Some(proofs) = &cached.proofs {
        response.add_answers(CachedAnswer::records_with_ttl(&proofs.answers, ttl, stale));
        response.add_authorities(CachedAnswer::records_with_ttl(
            &proofs.authorities,
            ttl,
            stale,
        ));
    }
    response
}
