//! Forwarding over DNS-over-TLS and DNS-over-HTTPS to a test upstream whose
//! certificate comes from a test authority named in `tls_ca_file`, and
//! failover from a dead upstream to a live one.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{LowerName, Name, RecordType};
use hickory_server::Server;
use hickory_server::store::file::{FileConfig, FileZoneHandler};
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

const SERVER_NAME: &str = "dns.upstream.example";

/// A test certificate authority, and a server certificate it signed.
struct TestPki {
    ca_pem: String,
    server: Arc<SingleCertAndKey>,
}

fn test_pki() -> TestPki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let server_params = CertificateParams::new(vec![SERVER_NAME.to_string()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let signing_key = rustls::crypto::ring::sign::any_supported_type(&key_der).unwrap();
    let certified = CertifiedKey::new(vec![server_cert.der().clone()], signing_key);
    TestPki {
        ca_pem: ca_cert.pem(),
        server: Arc::new(SingleCertAndKey::from(certified)),
    }
}

async fn encrypted_upstream(
    pki: &TestPki,
) -> (Server<Catalog>, SocketAddr, SocketAddr, tempfile::TempDir) {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("zone");
    std::fs::write(&path, upstream_zone_text()).unwrap();
    let origin = Name::from_ascii(UPSTREAM_ZONE).unwrap();
    let handler = FileZoneHandler::try_from_config(
        origin.clone(),
        ZoneType::Primary,
        AxfrPolicy::Deny,
        None,
        &FileConfig { zone_path: path },
    )
    .unwrap();
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::from(&origin), vec![Arc::new(handler)]);
    let mut server = Server::new(catalog);
    let dot = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dot_addr = dot.local_addr().unwrap();
    server
        .register_tls_listener(dot, Duration::from_secs(5), pki.server.clone())
        .unwrap();
    let doh = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let doh_addr = doh.local_addr().unwrap();
    server
        .register_https_listener(
            doh,
            Duration::from_secs(5),
            pki.server.clone(),
            Some(SERVER_NAME.to_string()),
            "/dns-query".to_string(),
        )
        .unwrap();
    (server, dot_addr, doh_addr, dir)
}

fn config_for(upstream: &str) -> String {
    format!(
        "[server]\nlisten = [\"LISTEN\"]\n\n[upstream]\nservers = [\"{upstream}\"]\ntimeout_ms = 2000\nattempts = 1\ntls_ca_file = \"ca.pem\"\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn forwards_over_dns_over_tls() {
    let pki = test_pki();
    let (_server, dot, _doh, _dir) = encrypted_upstream(&pki).await;
    let config = config_for(&format!("tls://{SERVER_NAME}@{dot}"));
    let hedge = Hedge::start_with(&config, &[("ca.pem", &pki.ca_pem)]).await;
    let reply = udp(hedge.addr, &query("www.upstream.example.", RecordType::A)).await;
    assert_eq!(
        reply.metadata.response_code,
        ResponseCode::NoError,
        "{}",
        hedge.log()
    );
    assert_eq!(addresses(&reply), ["192.0.2.10"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn forwards_over_dns_over_https() {
    let pki = test_pki();
    let (_server, _dot, doh, _dir) = encrypted_upstream(&pki).await;
    let config = config_for(&format!("https://{SERVER_NAME}/dns-query@{doh}"));
    let hedge = Hedge::start_with(&config, &[("ca.pem", &pki.ca_pem)]).await;
    let reply = udp(
        hedge.addr,
        &query("www.upstream.example.", RecordType::AAAA),
    )
    .await;
    assert_eq!(
        reply.metadata.response_code,
        ResponseCode::NoError,
        "{}",
        hedge.log()
    );
    assert_eq!(addresses(&reply), ["2001:db8::10"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_for_another_name_is_refused() {
    let pki = test_pki();
    let (_server, dot, _doh, _dir) = encrypted_upstream(&pki).await;
    let config = config_for(&format!("tls://impostor.example@{dot}"));
    let hedge = Hedge::start_with(&config, &[("ca.pem", &pki.ca_pem)]).await;
    let reply = udp(hedge.addr, &query("www.upstream.example.", RecordType::A)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_authority_is_refused() {
    let pki = test_pki();
    let (_server, dot, _doh, _dir) = encrypted_upstream(&pki).await;
    // Without tls_ca_file only the public web roots are trusted.
    let config = format!(
        "[server]\nlisten = [\"LISTEN\"]\n\n[upstream]\nservers = [\"tls://{SERVER_NAME}@{dot}\"]\ntimeout_ms = 1000\nattempts = 1\n"
    );
    let hedge = Hedge::start(&config).await;
    let reply = udp(hedge.addr, &query("www.upstream.example.", RecordType::A)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
}

#[tokio::test(flavor = "multi_thread")]
async fn fails_over_from_a_dead_upstream_to_a_live_one() {
    let upstream = TestUpstream::start().await;
    // Nothing listens on the first: its queries fail, the second answers.
    let dead = free_addr("127.0.0.1:0".parse().unwrap());
    let config = format!(
        "[server]\nlisten = [\"LISTEN\"]\n\n[upstream]\nservers = [\"{dead}\", \"{}\"]\ntimeout_ms = 500\nattempts = 2\n",
        upstream.addr
    );
    let hedge = Hedge::start(&config).await;
    for name in [
        "www.upstream.example.",
        "alias.upstream.example.",
        "mail.upstream.example.",
    ] {
        let reply = udp(hedge.addr, &query(name, RecordType::A)).await;
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::NoError,
            "{name}: {}",
            hedge.log()
        );
    }
}
