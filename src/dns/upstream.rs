//! The way out: forwarding to configured upstream servers, or recursion from
//! the root, both through hickory-resolver. This file turns either one's
//! result into an [`UpstreamAnswer`] or an [`UpstreamError`]; caching and
//! serve-stale sit in front of it, in the handler.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::Parser;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
    ServerOrderingStrategy,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::tls::default_provider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::recursor::{Recursor, RecursorError, RecursorOptions};
use hickory_resolver::{Resolver, TokioResolver};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::config::{UpstreamConfig, UpstreamMode, UpstreamSpec, UpstreamTransport};

use super::cache::CachedAnswer;

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
    Forward(Box<TokioResolver>),
    Recursive(Box<Recursor<TokioRuntimeProvider>>),
}

/// Resolves queries that no local zone answers.
pub struct Upstream {
    engine: Engine,
    /// The whole time one query may take before it counts as failed.
    deadline: Duration,
    description: String,
}

impl Upstream {
    pub fn from_config(config: &UpstreamConfig) -> Result<Upstream, UpstreamSetupError> {
        match config.mode {
            UpstreamMode::Forward => Self::forwarder(config),
            UpstreamMode::Recursive => Self::recursor(config),
        }
    }

    fn forwarder(config: &UpstreamConfig) -> Result<Upstream, UpstreamSetupError> {
        let name_servers = config.servers.iter().map(name_server).collect();
        let resolver_config = ResolverConfig::from_parts(None, Vec::new(), name_servers);
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
        let mut builder =
            Resolver::builder_with_config(resolver_config, TokioRuntimeProvider::new())
                .with_options(options);
        if let Some(path) = &config.tls_ca_file {
            builder = builder.with_tls_config(tls_client_config(path)?);
        }
        let resolver = builder
            .build()
            .map_err(|e| UpstreamSetupError::Resolver(e.to_string()))?;
        let description = config
            .servers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Upstream {
            engine: Engine::Forward(Box::new(resolver)),
            deadline: config.timeout * config.attempts as u32 + Duration::from_millis(250),
            description: format!("forwarding to {description}"),
        })
    }

    fn recursor(config: &UpstreamConfig) -> Result<Upstream, UpstreamSetupError> {
        let roots = read_root_hints(&config.root_hints.display().to_string())?;
        let mut options = RecursorOptions {
            allow_server: config.recursor_allow_servers.clone(),
            ..RecursorOptions::default()
        };
        options.case_randomization = true;
        let recursor = Recursor::with_options(&roots, options, TokioRuntimeProvider::new())
            .map_err(|e| UpstreamSetupError::Resolver(e.to_string()))?;
        Ok(Upstream {
            engine: Engine::Recursive(Box::new(recursor)),
            // Recursion takes several round trips; give it a few timeouts.
            deadline: config.timeout * (config.attempts as u32).max(1) * 4,
            description: format!(
                "recursing from {} root servers in {}",
                roots.len(),
                config.root_hints.display()
            ),
        })
    }

    /// One line for the log saying what this upstream is.
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// Resolves one question. `name` must be fully qualified.
    pub async fn resolve(
        &self,
        name: &Name,
        rtype: RecordType,
    ) -> Result<UpstreamAnswer, UpstreamError> {
        let work = async {
            match &self.engine {
                Engine::Forward(resolver) => forward(resolver, name, rtype).await,
                Engine::Recursive(recursor) => recurse(recursor, name, rtype).await,
            }
        };
        match tokio::time::timeout(self.deadline, work).await {
            Ok(result) => result,
            Err(_) => Err(UpstreamError::Timeout(self.deadline)),
        }
    }
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
    name: &Name,
    rtype: RecordType,
) -> Result<UpstreamAnswer, UpstreamError> {
    let now = Instant::now();
    let query = Query::query(name.clone(), rtype);
    match recursor.resolve(query, now, false).await {
        Ok(message) => {
            let code = message.metadata.response_code;
            match code {
                ResponseCode::NoError | ResponseCode::NXDomain => {
                    let authorities = if message.answers.is_empty() {
                        soa_only(&message.authorities)
                    } else {
                        Vec::new()
                    };
                    Ok(CachedAnswer::new(
                        code,
                        message.answers,
                        authorities,
                        None,
                        now,
                    ))
                }
                code => Err(UpstreamError::Refused(code)),
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

fn soa_only(records: &[Record]) -> Vec<Record> {
    records
        .iter()
        .filter(|r| r.record_type() == RecordType::SOA)
        .cloned()
        .collect()
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
