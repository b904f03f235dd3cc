//! One query, from the bytes a client sent to the bytes hedge sends back.
//!
//! The order is fixed: drop what is not a query; refuse clients outside the
//! allowed networks and over their rate; answer protocol errors; answer ANY
//! minimally; answer local zones authoritatively; everything else from the
//! cache or the upstream, with a stale answer when every upstream fails.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use hickory_proto::op::{Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};
use tracing::{debug, info};

use crate::config::Config;
use crate::filter::sources::LoadError;
use crate::policy::logging::{Answered, keeps};
use crate::policy::{
    AllowReason, Block, BlockAnswer, Client, Decision, ExemptionSet, Snapshot, allow_rule,
    block_wording, decide, rewrite_rule,
};
use crate::store::{Action, AlertEvent, AlertHit, AlertQueue, QueryLog, QueryRecord};

use super::admission::{Admission, AllowList, RateLimiter};
use super::answer::{self, ExtendedError};
use super::cache::{AnswerCache, CacheKey, CacheLookup, CachedAnswer, WireKey};
use super::pending::{Pending, Waited};
use super::special::special_answer;
use super::stats::{Breakdown, LatencyHistogram, Stats, bump};
use super::upstream::{Upstream, UpstreamAnswer, UpstreamError, UpstreamSetupError};
use super::wire;
use super::zones::{LocalZones, ZoneLoadError};

/// How a query arrived, which decides whether its answer may be truncated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Why the serving state could not be built from a configuration.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Zone(#[from] ZoneLoadError),
    #[error(transparent)]
    Upstream(#[from] UpstreamSetupError),
    #[error(transparent)]
    Lists(#[from] LoadError),
}

/// Why a reload of the configuration file failed.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Setup(#[from] SetupError),
}

/// Everything a query reads that a reload may replace, swapped as one.
pub struct Serving {
    pub config: Arc<Config>,
    allow: AllowList,
    zones: LocalZones,
    upstream: Upstream,
    cache: Arc<AnswerCache>,
    pending: Arc<Pending<Resolved>>,
    pub policy: Arc<Snapshot>,
}

/// What one upstream lookup came to, shared by every query that waited on it.
type Resolved = Result<Arc<UpstreamAnswer>, Arc<UpstreamError>>;

impl Serving {
    fn build(config: &Config, previous: Option<&Serving>) -> Result<Serving, SetupError> {
        let policy = Arc::new(Snapshot::build(config)?);
        let zones = LocalZones::load(&config.zones)?;
        let upstream = Upstream::from_config(&config.upstream)?;
        let stale_window = if config.upstream.serve_stale {
            config.upstream.stale_max_age
        } else {
            Duration::ZERO
        };
        let cache = match previous {
            Some(previous)
                if previous
                    .cache
                    .has_settings(config.upstream.cache_size, stale_window) =>
            {
                previous.cache.clone()
            }
            _ => Arc::new(AnswerCache::new(config.upstream.cache_size, stale_window)),
        };
        // Kept across reloads, so a reload in the middle of a pile-up does
        // not make room for a second one.
        let pending = match previous {
            Some(previous) if previous.pending.limit() == config.upstream.max_pending => {
                previous.pending.clone()
            }
            _ => Arc::new(Pending::new(config.upstream.max_pending)),
        };
        Ok(Serving {
            config: Arc::new(config.clone()),
            allow: AllowList::new(config.server.allow_networks.clone()),
            zones,
            upstream,
            cache,
            pending,
            policy,
        })
    }

    fn describe(&self) -> String {
        let waiting = self
            .policy
            .reports
            .iter()
            .filter(|r| r.not_downloaded)
            .count();
        let waiting = if waiting > 0 {
            format!(" ({waiting} URL source(s) not downloaded yet: run `hedge lists update`)")
        } else {
            String::new()
        };
        format!(
            "{}; {} local zone(s); cache of {} answers; {} names from {} list file(s){waiting}; {} group(s)",
            self.upstream.describe(),
            self.zones.len(),
            self.config.upstream.cache_size,
            self.policy.index.len(),
            self.policy
                .reports
                .iter()
                .filter(|r| !r.not_downloaded)
                .count(),
            self.policy.groups.len(),
        )
    }
}

/// Answers queries. Shared by every listener; a reload swaps what it reads
/// without stopping it.
pub struct Handler {
    serving: ArcSwap<Serving>,
    limiter: RateLimiter,
    /// One bucket for every UDP refusal to a client outside
    /// `allow_networks`: those addresses may be forged, and hedge must not
    /// reflect a flood at whoever owns them.
    refusals: RateLimiter,
    pub stats: Stats,
    /// Answered queries by group and action, blocks by category.
    pub breakdown: Breakdown,
    pub upstream_latency: LatencyHistogram,
    /// When the serving state was last built (start or reload), Unix ms.
    last_reload_ms: AtomicI64,
    pub reload_failures: AtomicU64,
    /// Where answered queries are recorded (never waited on).
    pub log: QueryLog,
    /// Where blocked attempts in safeguarding categories go (never waited
    /// on).
    pub alerts: AlertQueue,
    /// Approved exemptions not yet ended. Kept apart from the serving
    /// state: an approval swaps this small set in at once, without
    /// rebuilding the lists.
    exemptions: ArcSwap<ExemptionSet>,
    /// Held while a new exemption set is read and stored, so that an older
    /// read never replaces a newer one.
    pub exemption_refresh: tokio::sync::Mutex<()>,
}

impl Handler {
    pub fn new(config: &Config, log: QueryLog) -> Result<Handler, SetupError> {
        let serving = Serving::build(config, None)?;
        info!("{}", serving.describe());
        Ok(Handler {
            serving: ArcSwap::from_pointee(serving),
            limiter: RateLimiter::default(),
            refusals: RateLimiter::default(),
            stats: Stats::default(),
            breakdown: Breakdown::default(),
            upstream_latency: LatencyHistogram::default(),
            last_reload_ms: AtomicI64::new(crate::store::now_ms()),
            reload_failures: AtomicU64::new(0),
            log,
            alerts: AlertQueue::disabled(),
            exemptions: ArcSwap::from_pointee(ExemptionSet::default()),
            exemption_refresh: tokio::sync::Mutex::new(()),
        })
    }

    /// Sends safeguarding hits to `alerts` (set before serving).
    pub fn with_alerts(mut self, alerts: AlertQueue) -> Handler {
        self.alerts = alerts;
        self
    }

    /// When the serving state was last built, Unix milliseconds.
    pub fn last_reload_ms(&self) -> i64 {
        self.last_reload_ms.load(Ordering::Relaxed)
    }

    /// Distinct questions waiting for the upstreams now.
    pub fn upstream_pending(&self) -> usize {
        self.serving.load().pending.len()
    }

    /// Answers in the cache now.
    pub fn cache_entries(&self) -> u64 {
        self.serving.load().cache.len()
    }

    /// Exemptions lifting blocks at `now_ms`.
    pub fn exemptions_in_force(&self, now_ms: i64) -> usize {
        self.exemptions.load().in_force(now_ms)
    }

    /// Puts a new set of exemptions in force for the next query.
    pub fn set_exemptions(&self, exemptions: ExemptionSet) {
        self.exemptions.store(Arc::new(exemptions));
    }

    /// Builds new serving state from `config` (lists, zones, upstream) on a
    /// blocking thread and swaps it in; queries go on being answered from
    /// the old state meanwhile. On error the running state is untouched.
    pub async fn reload(self: &Arc<Self>, config: Config) -> Result<(), SetupError> {
        let handler = self.clone();
        let next = tokio::task::spawn_blocking(move || {
            let current = handler.serving.load();
            Serving::build(&config, Some(&current))
        })
        .await
        .expect("the reload task does not panic")?;
        let description = next.describe();
        self.serving.store(Arc::new(next));
        self.last_reload_ms
            .store(crate::store::now_ms(), Ordering::Relaxed);
        info!("reloaded: {description}");
        Ok(())
    }

    /// Re-reads the configuration file in force (and everything it names)
    /// and swaps it in: what SIGHUP and `hedge reload` do. On error the
    /// running configuration is kept.
    pub async fn reload_config_file(self: &Arc<Self>) -> Result<(), ReloadError> {
        let running = self.config();
        let result = self.reload_from(&running).await;
        if result.is_err() {
            bump(&self.reload_failures);
        }
        result
    }

    async fn reload_from(self: &Arc<Self>, running: &Config) -> Result<(), ReloadError> {
        let config = Config::load(&running.path)?;
        if config.server.listen != running.server.listen {
            tracing::warn!("server.listen changed: restart hedge to listen on the new addresses");
        }
        if config.metrics.listen != running.metrics.listen {
            tracing::warn!("metrics.listen changed: restart hedge to move the metrics endpoint");
        }
        if config.admin.socket != running.admin.socket {
            tracing::warn!("admin.socket changed: restart hedge to move the admin socket");
        }
        self.reload(config).await?;
        Ok(())
    }

    /// Reads the serving state and decides a name, without counting or
    /// logging anything: the systemd watchdog pings only after this
    /// returns, so a server wedged on its state is restarted.
    pub fn check_serving(&self) {
        let serving = self.serving.load();
        let policy = &serving.policy;
        let name = LowerName::from(Name::from_ascii("hedge.invalid.").expect("a valid name"));
        let ip = std::net::Ipv4Addr::LOCALHOST.into();
        let client = policy.identify(ip);
        let exemptions = self.exemptions.load();
        decide(
            policy,
            &exemptions,
            client,
            ip,
            &name,
            jiff::Timestamp::now(),
        );
    }

    /// The policy snapshot in force.
    pub fn policy(&self) -> Arc<Snapshot> {
        self.serving.load().policy.clone()
    }

    /// How queries go upstream, in words (servers or recursion).
    pub fn upstream_description(&self) -> String {
        self.serving.load().upstream.describe().to_string()
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.serving.load().config.clone()
    }

    /// Forgets rate-limit state of clients idle for a minute.
    pub fn prune(&self) {
        self.limiter.prune(Instant::now(), Duration::from_secs(60));
    }

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
        let client = policy.identify(ip);
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
                let mut key = [0u8; 257];
                let key = query.cache_key(&mut key);
                let CacheLookup::Fresh(cached, left) =
                    serving.cache.lookup(WireKey(key), Instant::now())
                else {
                    return false;
                };
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
        let client = serving.policy.identify(src.ip());
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

    /// Counts what was done, and raises an alert for a blocked attempt in
    /// a safeguarding category.
    fn count(
        &self,
        policy: &Snapshot,
        client: Client<'_>,
        name: &Name,
        outcome: &Outcome,
        src: SocketAddr,
        now: jiff::Timestamp,
    ) {
        let group = &policy.groups[client.group].name;
        self.breakdown
            .count(group, outcome.action, outcome.category.as_deref());
        if let Some(category) = &outcome.alert {
            let name = name.to_lowercase().to_ascii();
            self.alerts.send(AlertEvent::Hit(AlertHit {
                at_ms: now.as_millisecond(),
                client: src.ip(),
                client_name: client.name.map(str::to_string),
                group: group.clone(),
                name: name.trim_end_matches('.').to_string(),
                category: category.clone(),
            }));
        }
    }

    /// Counts an answered query and hands it to the query log if its
    /// group's level keeps it. `name` and `qtype` are the question's.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        policy: &Snapshot,
        client: Client<'_>,
        name: &Name,
        qtype: RecordType,
        outcome: &Outcome,
        rcode: ResponseCode,
        src: SocketAddr,
        now: jiff::Timestamp,
    ) {
        self.count(policy, client, name, outcome, src, now);
        let group = &policy.groups[client.group];
        let answered = if outcome.action == Action::Blocked {
            Answered::Blocked {
                mandatory: outcome.mandatory,
            }
        } else {
            Answered::Otherwise
        };
        if !self.log.is_enabled() || !keeps(group.log, answered) {
            return;
        }
        let name = name.to_lowercase().to_ascii();
        self.log.record(QueryRecord {
            at_ms: now.as_millisecond(),
            client: src.ip(),
            client_name: client.name.map(str::to_string),
            group: Some(group.name.clone()),
            name: name.trim_end_matches('.').to_string(),
            qtype: u16::from(qtype),
            action: outcome.action,
            category: outcome.category.clone(),
            rule: outcome.rule.clone(),
            rcode: u16::from(rcode),
            upstream_us: outcome.upstream_us,
        });
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
            return Response::plain(answer::response_to(request, ResponseCode::NotImp));
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
        let exemptions = self.exemptions.load();
        let response = match decide(policy, &exemptions, client, ip, &name, now) {
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
                if let AllowReason::Exemption { until_ms, .. } = reason {
                    // Clients must not keep the answer past the exemption.
                    let left = (until_ms - now.as_millisecond()).max(1000) / 1000;
                    let left = u32::try_from(left).unwrap_or(u32::MAX);
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
                if let Decision::Block(block) =
                    decide(policy, &exemptions, client, ip, &target, now)
                {
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

    async fn resolve_upstream(
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

/// UDP refusals a second, all together, to clients outside
/// `allow_networks`; past it they get no reply.
const STRANGER_REFUSALS: u32 = 50;

/// TTL of the CNAME a safe-search rewrite answers with.
const REWRITE_TTL: u32 = 300;

/// What a block means for the log and the client, whichever path answers.
struct Blocked {
    /// The Extended DNS Error text ("blocked: category malware").
    why: String,
    /// The listed name, for the SOA of a negative answer.
    zone: Name,
    outcome: Outcome,
}

/// Describes `block` of `question` (for a client of `group`) in policy's
/// words; `listed` is the name the decision was about (the question, or a
/// CNAME target).
fn blocked_outcome(
    policy: &Snapshot,
    group: usize,
    question: &Name,
    listed: &Name,
    block: &Block,
) -> Blocked {
    let wording = block_wording(policy, group, question, listed, block);
    debug!(name = %question, why = %wording.why, group = %policy.groups[group].name, "blocked");
    Blocked {
        why: wording.why,
        zone: wording.entry,
        outcome: Outcome {
            action: Action::Blocked,
            mandatory: wording.mandatory,
            category: wording.category,
            alert: wording.alert,
            rule: Some(wording.rule),
            upstream_us: None,
        },
    }
}

/// A response before EDNS and encoding.
struct Response {
    message: Message,
    extended_error: Option<(ExtendedError, String)>,
    /// What the query log records; `None`: the query is not logged (bad
    /// requests, rate-limited clients).
    outcome: Option<Outcome>,
}

/// What hedge did with a query, for the query log.
struct Outcome {
    action: Action,
    /// A block of a mandatory category.
    mandatory: bool,
    category: Option<String>,
    /// The safeguarding category of a block that raises an alert.
    alert: Option<String>,
    rule: Option<String>,
    upstream_us: Option<u32>,
}

impl Response {
    fn plain(message: Message) -> Response {
        Response {
            message,
            extended_error: None,
            outcome: None,
        }
    }

    fn with_error(message: Message, code: ExtendedError, text: &str) -> Response {
        Response {
            message,
            extended_error: Some((code, text.to_string())),
            outcome: None,
        }
    }

    fn logged(mut self, action: Action, rule: Option<String>) -> Response {
        self.outcome = Some(Outcome {
            action,
            mandatory: false,
            category: None,
            alert: None,
            rule,
            upstream_us: None,
        });
        self
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
