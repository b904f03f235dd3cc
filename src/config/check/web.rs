//! `[web]`: where the HTTPS console listens, who may reach it, its
//! certificate, and whether approvers and safeguarding leads need TOTP.

use std::net::SocketAddr;

use crate::config::schema::RawWeb;
use crate::config::{TlsFiles, WebConfig};

use super::Checker;

impl Checker<'_> {
    pub(super) fn web(&mut self, raw: RawWeb) -> WebConfig {
        let listen =
            raw.listen
                .as_ref()
                .and_then(|listen| match parse_web_listen(listen.get_ref()) {
                    Ok(address) => Some(address),
                    Err(message) => {
                        self.problem("web.listen", listen, message);
                        None
                    }
                });
        let allow_networks = self.networks("web.allow_networks", &raw.allow_networks);
        let tls_files = match (&raw.cert_file, &raw.key_file) {
            (None, None) => None,
            (Some(cert), None) => {
                self.problem(
                    "web.cert_file",
                    cert,
                    format!(
                        "{:?} is given without web.key_file: give both, or neither for a self-signed certificate",
                        cert.get_ref()
                    ),
                );
                None
            }
            (None, Some(key)) => {
                self.problem(
                    "web.key_file",
                    key,
                    format!(
                        "{:?} is given without web.cert_file: give both, or neither for a self-signed certificate",
                        key.get_ref()
                    ),
                );
                None
            }
            (Some(cert), Some(key)) => {
                let cert_file = self.existing_file("web.cert_file", cert, "the certificate file");
                let key_file = self.existing_file("web.key_file", key, "the key file");
                cert_file
                    .zip(key_file)
                    .map(|(cert_file, key_file)| TlsFiles {
                        cert_file,
                        key_file,
                    })
            }
        };
        WebConfig {
            listen,
            allow_networks,
            tls_files,
            require_totp: raw.require_totp,
        }
    }
}

/// `[web] listen`: an address and port, such as `"192.168.1.10:8443"`.
fn parse_web_listen(value: &str) -> Result<SocketAddr, String> {
    value.trim().parse::<SocketAddr>().map_err(|_| {
        format!("{value:?} is not an address and port (such as \"192.168.1.10:8443\" or \"[fd00::1]:8443\")")
    })
}
