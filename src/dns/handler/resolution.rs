//! Asking the upstreams: from the cache when fresh, one question in flight
//! per name and type shared by every client waiting on it, a stale answer
//! when every upstream fails.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::LowerName;
use tracing::debug;

use crate::store::Action;

use crate::dns::answer::{self, ExtendedError};
use crate::dns::cache::{CacheKey, CacheLookup, CachedAnswer};
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
        let key = CacheKey::new(&name, query.query_type());
        let now = Instant::now();
        let stale = match serving.cache.get(&key, now) {
            CacheLookup::Fresh(cached, left) => {
                bump(&self.stats.cache_hits);
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
        let mut fqdn = query.name().clone();
        fqdn.set_fqdn(true);
        let asked = Instant::now();
        let lookup = || async {
            let result = serving.upstream.resolve(&fqdn, query.query_type()).await;
            self.upstream_latency.observe(asked.elapsed());
            match result {
                Ok(fresh) => {
                    let fresh = Arc::new(fresh);
                    serving.cache.insert(key.clone(), fresh.clone());
                    Ok(fresh)
                }
                Err(error) => {
                    bump(&self.stats.upstream_errors);
                    debug!(name = %query.name(), %error, "upstream failed");
                    Err(Arc::new(error))
                }
            }
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

fn cached_response(request: &Message, cached: &CachedAnswer, ttl: u32, stale: bool) -> Message {
    let mut response = answer::response_to(request, cached.rcode);
    response.add_answers(CachedAnswer::records_with_ttl(&cached.answers, ttl, stale));
    response.add_authorities(CachedAnswer::records_with_ttl(
        &cached.authorities,
        ttl,
        stale,
    ));
    response
}
