//! What an upstream is made from: its servers, its TLS roots, the root
//! hints.

use super::UpstreamSetupError;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use hickory_proto::rr::{Name, RData};
use hickory_proto::serialize::txt::Parser;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig};
use hickory_resolver::net::tls::default_provider;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::config::{UpstreamSpec, UpstreamTransport};

/// The public web roots hickory trusts by default, plus the certificates in
/// `ca_file`: for a local authority's own DoT/DoH resolver.
pub(super) fn tls_client_config(
    ca_file: &Path,
) -> Result<rustls::ClientConfig, UpstreamSetupError> {
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

pub(super) fn name_server(spec: &UpstreamSpec) -> NameServerConfig {
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
