//! The way out: forwarding to configured upstream servers, or recursion from
//! the root, both through hickory-resolver. This file turns either one's
//! result into an [`UpstreamAnswer`] or an [`UpstreamError`]; caching and
//! serve-stale sit in front of it, in the handler.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::dnssec::Proof;
use hickory_proto::op::{DnsRequest, DnsRequestOptions, DnsResponse, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
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
use tokio::sync::OnceCell;

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
    /// Made at first use: a DS trust anchor needs its zone's keys fetched.
    validator: OnceCell<DnssecDnsHandle<Pool>>,
}

/// Recursion: one recursor asking with DO and not validating (or without
/// DO when DNSSEC is off), and, when hedge validates, a validating one
/// made at first use.
struct Recursors {
    roots: Vec<IpAddr>,
    options: RecursorOptions,
    plain: Recursor<TokioRuntimeProvider>,
    validating: OnceCell<Recursor<TokioRuntimeProvider>>,
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
                validator: OnceCell::new(),
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
                validating: OnceCell::new(),
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
                Err(UpstreamError::Bogus(_)) => {
                    Err(UpstreamError::Bogus(self.diagnose(&query).await))
                }
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
                    .get_or_try_init(|| async {
                        let fetched = fetch_anchor_keys(&self.dnssec, |q| async move {
                            exchange(&forwarder.pool, &q, Asking::Unchecked)
                                .await
                                .map(DnsResponse::into_message)
                        })
                        .await?;
                        let anchors = dnssec::trust_anchors(&self.dnssec.anchors, &fetched);
                        Ok::<_, UpstreamError>(DnssecDnsHandle::with_trust_anchor(
                            forwarder.pool.clone(),
                            Arc::new(anchors),
                        ))
                    })
                    .await?;
                let result = exchange(validator, query, Asking::Validated).await;
                answer_from(result, asking, now)
            }
            (Engine::Forward(forwarder), _) => {
                answer_from(exchange(&forwarder.pool, query, asking).await, asking, now)
            }
            (Engine::Recursive(recursors), Asking::Validated) => {
                let validating = recursors
                    .validating
                    .get_or_try_init(|| async {
                        let fetched = fetch_anchor_keys(&self.dnssec, |q| async {
                            recursors
                                .plain
                                .resolve(q, Instant::now(), true)
                                .await
                                .map_err(|e| {
                                    UpstreamError::Failed(format!("trust anchor keys: {e}"))
                                })
                        })
                        .await?;
                        let mut validation = RecursorDnssec::default();
                        validation.trust_anchor = Some(Arc::new(dnssec::trust_anchors(
                            &self.dnssec.anchors,
                            &fetched,
                        )));
                        Recursor::new(
                            &recursors.roots,
                            DnssecPolicy::ValidateWithStaticKey(validation),
                            None,
                            recursors.options.clone(),
                            TokioRuntimeProvider::new(),
                        )
                        .map_err(|e| UpstreamError::Failed(e.to_string()))
                    })
                    .await?;
                recurse(validating, query, asking, now).await
            }
            (Engine::Recursive(recursors), _) => {
                recurse(&recursors.plain, query, asking, now).await
            }
        }
    }

    /// Why `query`'s answer failed validation: asked again unchecked, and
    /// the signer's keys asked for when the signatures look in date.
    async fn diagnose(&self, query: &Query) -> Bogus {
        let now = jiff::Timestamp::now().as_second() as u32;
        let Ok(unchecked) = self.ask(query, Asking::Unchecked).await else {
            return Bogus::Bogus;
        };
        let (answers, authorities) = unchecked.all_records();
        let first = dnssec::classify(query, &answers, &authorities, None, now);
        if first != Bogus::Bogus {
            return first;
        }
        let Some(signer) = dnssec::signer(query, &answers, &authorities) else {
            return first;
        };
        let keys_query = Query::query(signer.into(), RecordType::DNSKEY);
        match self.ask(&keys_query, Asking::Unchecked).await {
            Ok(keys) => dnssec::classify(query, &answers, &authorities, Some(&keys.answers), now),
            Err(_) => first,
        }
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

/// The DNSKEYs of the zones a DS trust anchor names, fetched unchecked (the
/// DS records then pick the ones to trust).
async fn fetch_anchor_keys<F, Fut>(
    config: &DnssecConfig,
    mut ask: F,
) -> Result<Vec<Record>, UpstreamError>
where
    F: FnMut(Query) -> Fut,
    Fut: std::future::Future<Output = Result<Message, UpstreamError>>,
{
    let mut keys = Vec::new();
    for zone in dnssec::zones_needing_keys(&config.anchors) {
        let message = ask(Query::query(zone.into(), RecordType::DNSKEY)).await?;
        keys.extend(
            message
                .answers
                .into_iter()
                .filter(|r| r.record_type() == RecordType::DNSKEY),
        );
    }
    Ok(keys)
}

/// One question sent to the upstreams through `handle`, with DO (and CD
/// when unchecked, AD when passed through).
async fn exchange<H: DnsHandle>(
    handle: &H,
    query: &Query,
    asking: Asking,
) -> Result<DnsResponse, UpstreamError> {
    let mut options = DnsRequestOptions::default();
    options.use_edns = true;
    options.edns_set_dnssec_ok = asking.dnssec_ok();
    options.edns_payload_len = 1232;
    options.recursion_desired = true;
    let mut request = DnsRequest::from_query(query.clone(), options);
    request.metadata.checking_disabled = asking == Asking::Unchecked;
    request.metadata.authentic_data = asking == Asking::PassedThrough;
    match handle.send(request).first_answer().await {
        Ok(response) => Ok(response),
        Err(error) => match error {
            // A negative answer: make it a message again, as it came.
            NetError::Dns(DnsError::NoRecordsFound(no_records)) => {
                let mut message = Message::query();
                message.add_query(*no_records.query);
                message.metadata.response_code = no_records.response_code;
                if let Some(soa) = no_records.soa {
                    message.add_authority(soa.into_record_of_rdata());
                }
                if let Some(authorities) = no_records.authorities {
                    for record in authorities.iter() {
                        if record.record_type() != RecordType::SOA {
                            message.add_authority(record.clone());
                        }
                    }
                }
                DnsResponse::from_message(message.into_response())
                    .map_err(|e| UpstreamError::Failed(e.to_string()))
            }
            // The validator's verdict on a negative answer that is not
            // secure: bogus, or insecure (then the answer stands).
            NetError::Dns(DnsError::Nsec {
                response, proof, ..
            }) => {
                if proof == Proof::Bogus {
                    Err(UpstreamError::Bogus(Bogus::Bogus))
                } else {
                    Ok(*response)
                }
            }
            NetError::Dns(DnsError::ResponseCode(code)) => Err(UpstreamError::Refused(code)),
            NetError::Timeout => Err(UpstreamError::Failed("upstream timed out".into())),
            other => Err(UpstreamError::Failed(other.to_string())),
        },
    }
}

/// An answer from a message: its records, the DNSSEC ones kept apart, and
/// whether it is secure (validated by hickory, or AD from a validating
/// upstream when passed through).
fn answer_from(
    result: Result<DnsResponse, UpstreamError>,
    asking: Asking,
    now: Instant,
) -> Result<UpstreamAnswer, UpstreamError> {
    let response = result?;
    let authentic = response.metadata.authentic_data;
    let negative_ttl = response.negative_ttl();
    let message = response.into_message();
    from_message(message, authentic, negative_ttl, asking, now)
}

fn from_message(
    message: Message,
    authentic: bool,
    negative_ttl: Option<u32>,
    asking: Asking,
    now: Instant,
) -> Result<UpstreamAnswer, UpstreamError> {
    let code = message.metadata.response_code;
    if !matches!(code, ResponseCode::NoError | ResponseCode::NXDomain) {
        return Err(UpstreamError::Refused(code));
    }
    let query = message.queries.first().cloned();
    let (answer_proofs, answers): (Vec<Record>, Vec<Record>) =
        message.answers.into_iter().partition(dnssec::is_proof);
    let (authority_proofs, authorities): (Vec<Record>, Vec<Record>) =
        message.authorities.into_iter().partition(dnssec::is_proof);
    let authorities = if answers.is_empty() {
        authorities
            .into_iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .collect()
    } else {
        Vec::new()
    };
    let secure = match asking {
        Asking::Plain => false,
        Asking::Unchecked | Asking::PassedThrough => authentic,
        Asking::Validated => {
            // What answers the question decides: its records, or for a
            // negative answer the proof of it.
            let judged: Vec<&Record> = if answers.is_empty() {
                authorities
                    .iter()
                    .chain(&authority_proofs)
                    .filter(|r| !r.record_type().is_rrsig())
                    .collect()
            } else {
                answers
                    .iter()
                    .filter(|r| {
                        query.as_ref().is_none_or(|q| {
                            r.name == *q.name()
                                || r.record_type() == q.query_type()
                                || r.record_type() == RecordType::CNAME
                        })
                    })
                    .collect()
            };
            if judged.iter().any(|r| r.proof == Proof::Bogus) {
                return Err(UpstreamError::Bogus(Bogus::Bogus));
            }
            !judged.is_empty() && judged.iter().all(|r| r.proof == Proof::Secure)
        }
    };
    let proofs = if asking == Asking::Plain {
        Proofs::default()
    } else {
        Proofs {
            answers: answer_proofs,
            authorities: if answers.is_empty() {
                authority_proofs
            } else {
                Vec::new()
            },
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
    now: Instant,
) -> Result<UpstreamAnswer, UpstreamError> {
    let with_proofs = asking.dnssec_ok();
    match recursor.resolve(query.clone(), now, with_proofs).await {
        Ok(message) => from_message(message, false, None, asking, now),
        Err(RecursorError::Net(NetError::Dns(DnsError::NoRecordsFound(no_records)))) => {
            let mut message = Message::query();
            message.add_query(*no_records.query);
            message.metadata.response_code = no_records.response_code;
            if let Some(soa) = no_records.soa {
                message.add_authority(soa.into_record_of_rdata());
            }
            if with_proofs && let Some(authorities) = no_records.authorities {
                for record in authorities.iter() {
                    if record.record_type() != RecordType::SOA {
                        message.add_authority(record.clone());
                    }
                }
            }
            let negative_ttl = no_records.negative_ttl;
            from_message(message, false, negative_ttl, asking, now)
        }
        Err(RecursorError::Net(NetError::Dns(DnsError::Nsec {
            response, proof, ..
        }))) => {
            if proof == Proof::Bogus {
                Err(UpstreamError::Bogus(Bogus::Bogus))
            } else {
                from_message(response.into_message(), false, None, asking, now)
            }
        }
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
