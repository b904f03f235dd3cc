//! The way out: forwarding to configured upstream servers, or recursion from
//! the root, both through hickory-resolver. This file turns either one's
//! result into an [`UpstreamAnswer`] or an [`UpstreamError`]; caching and
//! serve-stale sit in front of it, in the handler.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::dnssec::TrustAnchors;
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use hickory_resolver::config::{
    NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts, ServerOrderingStrategy,
};
use hickory_resolver::net::dnssec::DnssecDnsHandle;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::xfer::RetryDnsHandle;
use hickory_resolver::recursor::{
    DnssecConfig as RecursorDnssec, DnssecPolicy, Recursor, RecursorOptions,
};
use hickory_resolver::{NameServerPool, PoolContext, Resolver, TlsConfig, TokioResolver};
use tracing::warn;

use crate::config::{DnssecConfig, DnssecMode, UpstreamConfig, UpstreamMode};

use super::cache::CachedAnswer;
use super::dnssec::{self, Asking, Bogus};

mod answers;
mod renewing;
mod setup;

use answers::{answer_from, exchange, forward, recurse};
use renewing::Renewing;
pub use setup::read_root_hints;
use setup::{name_server, tls_client_config};

/// An answer from upstream that may be cached and served: records, or a
/// negative answer (NXDOMAIN, or NOERROR with no data) with its SOA.
pub type UpstreamAnswer = CachedAnswer;

/// Why no usable answer came back.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("no upstream answered within {0:?}")]
    Timeout(Duration),
    #[error("upstream answered {0}")]
    Refused(ResponseCode),
    #[error("{0}")]
    Failed(String),
    #[error("{0} questions already waiting for the upstreams")]
    Busy(usize),
    #[error("this client already has {0} questions waiting for the upstreams")]
    ClientBusy(usize),
    #[error("{}", .0.describe())]
    Bogus(Bogus),
}

/// Why an upstream could not be set up from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamSetupError {
    #[error("cannot read root hints {path}: {message}")]
    RootHints { path: String, message: String },
    #[error("cannot use the certificate authorities in {path}: {message}")]
    TlsCa { path: String, message: String },
    #[error("cannot set up the resolver: {0}")]
    Resolver(String),
}

enum Engine {
    Forward(Box<Forwarder>),
    Recursive(Box<Recursors>),
}

type Pool = RetryDnsHandle<NameServerPool<TokioRuntimeProvider>>;

/// Forwarding: hickory's resolver for plain questions; for questions with
/// DO, the same servers asked directly (so DO, AD and CD reach them), and
/// through hickory's validator when hedge validates.
struct Forwarder {
    resolver: TokioResolver,
    pool: Pool,
    validator: Renewing<DnssecDnsHandle<Pool>>,
}

/// Recursion: one recursor asking with DO and not validating (or without
/// DO when DNSSEC is off), and, when hedge validates, a validating one
/// made at first use.
struct Recursors {
    roots: Vec<IpAddr>,
    options: RecursorOptions,
    plain: Recursor<TokioRuntimeProvider>,
    validating: Renewing<Recursor<TokioRuntimeProvider>>,
}

/// Resolves queries that no local zone answers.
pub struct Upstream {
    engine: Engine,
    /// The whole time one query may take before it counts as failed.
    deadline: Duration,
    description: String,
    dnssec: DnssecConfig,
}

impl Upstream {
    pub fn from_config(config: &UpstreamConfig) -> Result<Upstream, UpstreamSetupError> {
        match config.mode {
            UpstreamMode::Forward => Self::forwarder(config),
            UpstreamMode::Recursive => Self::recursor(config),
        }
    }

    fn forwarder(config: &UpstreamConfig) -> Result<Upstream, UpstreamSetupError> {
        let name_servers: Vec<NameServerConfig> = config.servers.iter().map(name_server).collect();
        let resolver_config = ResolverConfig::from_parts(None, Vec::new(), name_servers.clone());
        let mut options = ResolverOpts::default();
        options.timeout = config.timeout;
        options.attempts = config.attempts;
        // hedge's own cache (with serve-stale) sits in front.
        options.cache_size = 0;
        options.use_hosts_file = ResolveHosts::Never;
        options.ndots = 0;
        options.preserve_intermediates = true;
        options.recursion_desired = true;
        options.server_ordering_strategy = ServerOrderingStrategy::QueryStatistics;
        options.edns_payload_len = 1232;
        let tls = match &config.tls_ca_file {
            Some(path) => Some(tls_client_config(path)?),
            None => None,
        };
        let mut builder =
            Resolver::builder_with_config(resolver_config, TokioRuntimeProvider::new())
                .with_options(options.clone());
        if let Some(tls) = &tls {
            builder = builder.with_tls_config(tls.clone());
        }
        let resolver = builder
            .build()
            .map_err(|e| UpstreamSetupError::Resolver(e.to_string()))?;
        let tls = match tls {
            Some(config) => TlsConfig { config },
            None => TlsConfig::new().map_err(|e| UpstreamSetupError::Resolver(e.to_string()))?,
        };
        let context = Arc::new(PoolContext::new(options, tls));
        let pool = RetryDnsHandle::new(
            NameServerPool::from_config(name_servers, context, TokioRuntimeProvider::new()),
            config.attempts,
        );
        let description = config
            .servers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Upstream {
            engine: Engine::Forward(Box::new(Forwarder {
                resolver,
                pool,
                validator: Renewing::new(),
            })),
            deadline: config.timeout * config.attempts as u32 + Duration::from_millis(250),
            description: format!(
                "forwarding to {description}, DNSSEC {}",
                describe_dnssec(&config.dnssec)
            ),
            dnssec: config.dnssec.clone(),
        })
    }

    fn recursor(config: &UpstreamConfig) -> Result<Upstream, UpstreamSetupError> {
        let roots = read_root_hints(&config.root_hints.display().to_string())?;
        let mut options = RecursorOptions {
            allow_server: config.recursor_allow_servers.clone(),
            ..RecursorOptions::default()
        };
        options.case_randomization = true;
        let policy = match config.dnssec.mode {
            DnssecMode::Off => DnssecPolicy::SecurityUnaware,
            DnssecMode::Process | DnssecMode::Validate => DnssecPolicy::ValidationDisabled,
        };
        let plain = Recursor::new(
            &roots,
            policy,
            None,
            options.clone(),
            TokioRuntimeProvider::new(),
        )
        .map_err(|e| UpstreamSetupError::Resolver(e.to_string()))?;
        Ok(Upstream {
            description: format!(
                "recursing from {} root servers in {}, DNSSEC {}",
                roots.len(),
                config.root_hints.display(),
                describe_dnssec(&config.dnssec)
            ),
            engine: Engine::Recursive(Box::new(Recursors {
                roots,
                options,
                plain,
                validating: Renewing::new(),
            })),
            // Recursion takes several round trips; give it a few timeouts.
            deadline: config.timeout * (config.attempts as u32).max(1) * 4,
            dnssec: config.dnssec.clone(),
        })
    }

    /// One line for the log saying what this upstream is.
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// Resolves one question, asked as `asking` says. `name` must be fully
    /// qualified. An answer that fails validation is
    /// [`UpstreamError::Bogus`], with the reason found by asking again
    /// unchecked.
    pub async fn resolve(
        &self,
        name: &Name,
        rtype: RecordType,
        asking: Asking,
    ) -> Result<UpstreamAnswer, UpstreamError> {
        let query = Query::query(name.clone(), rtype);
        let work = async {
            match self.ask(&query, asking).await {
                Err(UpstreamError::Bogus(_)) => Err(self.diagnose(&query).await),
                other => other,
            }
        };
        match tokio::time::timeout(self.deadline, work).await {
            Ok(result) => result,
            Err(_) => Err(UpstreamError::Timeout(self.deadline)),
        }
    }

    async fn ask(&self, query: &Query, asking: Asking) -> Result<UpstreamAnswer, UpstreamError> {
        let now = Instant::now();
        match (&self.engine, asking) {
            (Engine::Forward(forwarder), Asking::Plain) => {
                forward(&forwarder.resolver, query.name(), query.query_type()).await
            }
            (Engine::Forward(forwarder), Asking::Validated) => {
                let validator = forwarder
                    .validator
                    .get(|| async {
                        let (anchors, lifetime) = self
                            .anchor_keys(|q| async move {
                                exchange(&forwarder.pool, &q, Asking::Unchecked)
                                    .await
                                    .map(|(response, _)| response.into_message())
                            })
                            .await?;
                        let handle =
                            DnssecDnsHandle::with_trust_anchor(forwarder.pool.clone(), anchors);
                        Ok((handle, lifetime))
                    })
                    .await?;
                let result = exchange(validator.as_ref(), query, Asking::Validated).await;
                answer_from(result, asking, &self.dnssec, now)
            }
            (Engine::Forward(forwarder), _) => answer_from(
                exchange(&forwarder.pool, query, asking).await,
                asking,
                &self.dnssec,
                now,
            ),
            (Engine::Recursive(recursors), Asking::Validated) => {
                let validating = recursors
                    .validating
                    .get(|| async {
                        let (anchors, lifetime) = self
                            .anchor_keys(|q| async {
                                recursors
                                    .plain
                                    .resolve(q, Instant::now(), true)
                                    .await
                                    .map_err(|e| UpstreamError::Failed(e.to_string()))
                            })
                            .await?;
                        let mut validation = RecursorDnssec::default();
                        validation.trust_anchor = Some(anchors);
                        let recursor = Recursor::new(
                            &recursors.roots,
                            DnssecPolicy::ValidateWithStaticKey(validation),
                            None,
                            recursors.options.clone(),
                            TokioRuntimeProvider::new(),
                        )
                        .map_err(|e| UpstreamError::Failed(e.to_string()))?;
                        Ok((recursor, lifetime))
                    })
                    .await?;
                recurse(&validating, query, asking, &self.dnssec, now).await
            }
            (Engine::Recursive(recursors), _) => {
                recurse(&recursors.plain, query, asking, &self.dnssec, now).await
            }
        }
    }

    /// hickory's trust anchors from the configured ones and the key sets
    /// of the anchored zones, fetched unchecked through `ask`; and how long
    /// they hold (the key sets' TTL, from five minutes to a day).
    async fn anchor_keys<F, Fut>(
        &self,
        mut ask: F,
    ) -> Result<(Arc<TrustAnchors>, Duration), UpstreamError>
    where
        F: FnMut(Query) -> Fut,
        Fut: std::future::Future<Output = Result<Message, UpstreamError>>,
    {
        let mut fetched = Vec::new();
        let mut ttl = u32::MAX;
        for zone in dnssec::zones_needing_keys(&self.dnssec.anchors) {
            let message = ask(Query::query(zone.clone().into(), RecordType::DNSKEY))
                .await
                .map_err(|e| {
                    UpstreamError::Failed(format!("DNSSEC: cannot fetch the keys of {zone}: {e}"))
                })?;
            for record in message.answers {
                if matches!(record.record_type(), RecordType::DNSKEY | RecordType::RRSIG) {
                    ttl = ttl.min(record.ttl);
                    fetched.push(record);
                }
            }
        }
        let now = jiff::Timestamp::now().as_second() as u32;
        let zones = dnssec::zones_needing_keys(&self.dnssec.anchors);
        let (anchors, untrusted) = dnssec::trust_anchors(&self.dnssec.anchors, &fetched, now);
        let mut lifetime = Duration::from_secs(u64::from(ttl.clamp(300, 86_400)));
        if !untrusted.is_empty() {
            let names: Vec<String> = untrusted.iter().map(ToString::to_string).collect();
            // Nothing trusted at all: an upstream that hides the keys (a
            // captive portal at boot) must not leave hedge validating
            // against nothing until the next reload.
            if untrusted.len() == zones.len() && anchors.is_empty() {
                return Err(UpstreamError::Failed(format!(
                    "DNSSEC: no key served for {} matches its trust anchor",
                    names.join(", ")
                )));
            }
            warn!(
                zones = %names.join(", "),
                "DNSSEC: no key served matches the trust anchor; answers there will fail validation"
            );
            lifetime = Duration::from_secs(60);
        }
        Ok((Arc::new(anchors), lifetime))
    }

    /// Why `query`'s answer failed validation: asked again unchecked, and
    /// the signer's keys asked for when the signatures look in date. When
    /// the upstreams cannot be asked again, that is the error: a failing
    /// network is not a forgery, and a stale answer may be served for it.
    async fn diagnose(&self, query: &Query) -> UpstreamError {
        let now = jiff::Timestamp::now().as_second() as u32;
        let unchecked = match self.ask(query, Asking::Unchecked).await {
            Ok(unchecked) => unchecked,
            Err(error) => return error,
        };
        let (answers, authorities) = unchecked.all_records();
        let first = dnssec::classify(query, &answers, &authorities, None, now);
        let reason = match dnssec::signer(query, &answers, &authorities) {
            Some(signer) if first == Bogus::Bogus => {
                let keys_query = Query::query(signer.into(), RecordType::DNSKEY);
                match self.ask(&keys_query, Asking::Unchecked).await {
                    Ok(keys) => {
                        dnssec::classify(query, &answers, &authorities, Some(&keys.answers), now)
                    }
                    Err(_) => first,
                }
            }
            _ => first,
        };
        UpstreamError::Bogus(reason)
    }

    /// The DNSSEC settings this upstream was made with.
    pub fn dnssec(&self) -> &DnssecConfig {
        &self.dnssec
    }
}

fn describe_dnssec(config: &DnssecConfig) -> String {
    match (config.mode, &config.anchors_file) {
        (DnssecMode::Validate, Some(file)) => {
            format!("validating from the trust anchors in {}", file.display())
        }
        (DnssecMode::Validate, None) => "validating from the built-in root keys".into(),
        (DnssecMode::Process, _) => "passed through to the upstream (process)".into(),
        (DnssecMode::Off, _) => "off".into(),
    }
}
