//! The console's certificate: read from `[web] cert_file` and `key_file`,
//! or made once (self-signed, for the listen address, the machine's host
//! name and localhost) and kept in the data directory beside the
//! database, the key readable by hedge alone. Its SHA-256 fingerprint is
//! what a person checks on their first visit.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use sha2::{Digest, Sha256};
use tracing::info;

use super::WebError;
use crate::config::TlsFiles;

/// The self-signed certificate's file in the data directory.
pub const SELF_SIGNED_CERT: &str = "console-cert.pem";
/// Its key's file in the data directory (mode 0600).
pub const SELF_SIGNED_KEY: &str = "console-key.pem";

/// The certificate chain and key the console serves, and where from.
pub struct ConsoleCertificate {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// SHA-256 of the first certificate's DER, colon-separated hex.
    pub fingerprint: String,
    pub self_signed: bool,
}

impl ConsoleCertificate {
    /// From `files` if given, else the self-signed one in `data_dir`
    /// (made now if it is not there yet, for `listen_ip`).
    pub fn load_or_make(
        files: Option<&TlsFiles>,
        data_dir: &Path,
        listen_ip: IpAddr,
    ) -> Result<ConsoleCertificate, WebError> {
        match files {
            Some(files) => read(&files.cert_file, &files.key_file, false),
            None => {
                let cert_file = data_dir.join(SELF_SIGNED_CERT);
                let key_file = data_dir.join(SELF_SIGNED_KEY);
                if !cert_file.exists() || !key_file.exists() {
                    make_self_signed(&cert_file, &key_file, listen_ip)?;
                }
                read(&cert_file, &key_file, true)
            }
        }
    }

    /// The rustls server configuration: TLS 1.2 and 1.3 with ring, HTTP/1.1.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, WebError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| WebError::Tls(error.to_string()))?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|error| WebError::Tls(format!("the certificate and key: {error}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// SHA-256 of `der` as colon-separated upper-case hex, as browsers show it.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn read(
    cert_file: &Path,
    key_file: &Path,
    self_signed: bool,
) -> Result<ConsoleCertificate, WebError> {
    let file_error = |path: &Path, error: String| WebError::Certificate {
        path: path.to_path_buf(),
        reason: error,
    };
    let chain = CertificateDer::pem_file_iter(cert_file)
        .map_err(|error| file_error(cert_file, error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| file_error(cert_file, error.to_string()))?;
    let Some(first) = chain.first() else {
        return Err(file_error(cert_file, "no PEM certificate in it".into()));
    };
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|error| file_error(key_file, format!("no usable PEM private key: {error}")))?;
    Ok(ConsoleCertificate {
        fingerprint: fingerprint(first),
        chain,
        key,
        self_signed,
    })
}

/// The machine's host name, if it has one.
fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// Makes a self-signed certificate for `listen_ip`, the host name and
/// localhost, and writes it and its key (0600, created new).
fn make_self_signed(cert_file: &Path, key_file: &Path, listen_ip: IpAddr) -> Result<(), WebError> {
    let mut names = vec!["localhost".to_string()];
    if let Some(host) = host_name() {
        names.push(host);
    }
    if !listen_ip.is_unspecified() {
        names.push(listen_ip.to_string());
    }
    let mut params = rcgen::CertificateParams::new(names)
        .map_err(|error| WebError::Tls(format!("cannot make a certificate: {error}")))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hedge console");
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2045, 1, 1);
    let key = rcgen::KeyPair::generate()
        .map_err(|error| WebError::Tls(format!("cannot make a key: {error}")))?;
    let certificate = params
        .self_signed(&key)
        .map_err(|error| WebError::Tls(format!("cannot sign the certificate: {error}")))?;
    write_new(key_file, key.serialize_pem().as_bytes(), 0o600)?;
    write_new(cert_file, certificate.pem().as_bytes(), 0o644)?;
    info!(
        "made a self-signed certificate for the web console: {}",
        cert_file.display()
    );
    Ok(())
}

/// Writes `bytes` to `path` (replaced if there), created with `mode`.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), WebError> {
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |error: std::io::Error| WebError::Certificate {
        path: PathBuf::from(path),
        reason: format!("cannot write it: {error}"),
    };
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(failed)?;
    file.write_all(bytes).map_err(failed)?;
    file.sync_all().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_is_made_once_and_its_key_kept_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let first = ConsoleCertificate::load_or_make(None, dir.path(), ip).unwrap();
        assert!(first.self_signed);
        let mode = std::fs::metadata(dir.path().join(SELF_SIGNED_KEY))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = ConsoleCertificate::load_or_make(None, dir.path(), ip).unwrap();
        assert_eq!(first.fingerprint, again.fingerprint, "reused, not remade");
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        first.server_config().unwrap();
    }
}
