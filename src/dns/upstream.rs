//! The way out: forwarding to configured upstream servers, or recursion from
//! the root, both through hickory-resolver. This file turns either one's
//! result into an [`UpstreamAnswer`] or an [`UpstreamError`]; caching and
//! serve-stale sit in front of it, in the handler.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::dnssec::{Proof, TrustAnchors};
use hickory_proto::op::{DnsRequest, DnsRequestOptions, DnsResponse, Message, Query, ResponseCode};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::Parser;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
    ServerOrderingStrategy,
};
use hickory_resolver::net::dnssec::DnssecDnsHandle;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::tls::default_provider;
use hickory_resolver::net::xfer::{DnsHandle, FirstAnswer, RetryDnsHandle};
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::recursor::{
    DnssecConfig as RecursorDnssec, DnssecPolicy, Recursor, RecursorError, RecursorOptions,
};
use hickory_resolver::{NameServerPool, PoolContext, Resolver, TlsConfig, TokioResolver};
use tracing::warn;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::config::{
    DnssecConfig, DnssecMode, UpstreamConfig, UpstreamMode, UpstreamSpec, UpstreamTransport,
};

use super::cache::{CachedAnswer, Proofs};
use super::dnssec::{self, Asking, Bogus};

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

/// A validator made from the trust anchors' keys as fetched, made again
/// when those keys are due to be fetched again (a zone's ZSK rolls over).
/// Made at first use, so hedge starts while its upstreams are unreachable.
struct Renewing<T> {
    slot: tokio::sync::Mutex<Option<(Arc<T>, Instant)>>,
}

impl<T> Renewing<T> {
    fn new() -> Renewing<T> {
        Renewing {
            slot: tokio::sync::Mutex::new(None),
        }
    }

    /// The validator, made by `make` (with how long it holds) when there is
    /// none or it is due. When making it again fails, the one there is kept
    /// and tried again a minute later.
    async fn get<F, Fut>(&self, make: F) -> Result<Arc<T>, UpstreamError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(T, Duration), UpstreamError>>,
    {
        let mut slot = self.slot.lock().await;
        let now = Instant::now();
        if let Some((made, renew_at)) = slot.as_ref()
            && now < *renew_at
        {
            return Ok(made.clone());
        }
        match make().await {
            Ok((made, lifetime)) => {
                let made = Arc::new(made);
                *slot = Some((made.clone(), now + lifetime));
                Ok(made)
            }
            Err(error) => match slot.as_mut() {
                Some((made, renew_at)) => {
                    warn!(%error, "DNSSEC: cannot fetch the trust anchors' keys again; keeping the ones fetched before");
                    *renew_at = now + Duration::from_secs(60);
                    Ok(made.clone())
                }
                None => Err(error),
            },
        }
    }
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

/// One question sent to the upstreams through `handle`, with DO (and CD
/// when unchecked, AD when passed through). With it, the validator's
/// verdict on a negative answer that it could not prove secure.
async fn exchange<H: DnsHandle>(
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
fn negative_message(
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

fn answer_from(
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
struct Judged<'a> {
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
fn from_message(
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

/// The public web roots hickory trusts by default, plus the certificates in
/// `ca_file`: for a local authority's own DoT/DoH resolver.
fn tls_client_config(ca_file: &Path) -> Result<rustls::ClientConfig, UpstreamSetupError> {
    let fail = |message: String| UpstreamSetupError::TlsCa {
        path: ca_file.display().to_string(),
        message,
    };
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut added = 0;
    for cert in CertificateDer::pem_file_iter(ca_file).map_err(|e| fail(e.to_string()))? {
        let cert = cert.map_err(|e| fail(e.to_string()))?;
        roots.add(cert).map_err(|e| fail(e.to_string()))?;
        added += 1;
    }
    if added == 0 {
        return Err(fail("it holds no PEM certificates".into()));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

fn name_server(spec: &UpstreamSpec) -> NameServerConfig {
    let port = spec.addr.port();
    let connections = match &spec.transport {
        UpstreamTransport::Plain => vec![ConnectionConfig::udp(), ConnectionConfig::tcp()],
        UpstreamTransport::Tls { server_name } => {
            vec![ConnectionConfig::tls(Arc::from(server_name.as_str()))]
        }
        UpstreamTransport::Https { server_name, path } => vec![ConnectionConfig::https(
            Arc::from(server_name.as_str()),
            Some(Arc::from(path.as_str())),
        )],
    };
    let connections = connections
        .into_iter()
        .map(|mut c| {
            c.port = port;
            c
        })
        .collect();
    NameServerConfig::new(spec.addr.ip(), true, connections)
}

async fn forward(
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

async fn recurse(
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

/// Reads the root server addresses from a root hints file (the IANA
/// `named.root` format, a zone file of NS and A/AAAA records).
pub fn read_root_hints(path: &str) -> Result<Vec<IpAddr>, UpstreamSetupError> {
    let fail = |message: String| UpstreamSetupError::RootHints {
        path: path.to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let (_, records) = Parser::new(text, Some(path.into()), Some(Name::root()))
        .parse()
        .map_err(|e| fail(e.to_string()))?;
    let roots: Vec<IpAddr> = records
        .values()
        .flat_map(|set| set.records_without_rrsigs())
        .filter_map(|record| match &record.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
            _ => None,
        })
        .collect();
    if roots.is_empty() {
        return Err(fail("it lists no root server addresses".into()));
    }
    Ok(roots)
}
