//! The three ways an upstream server is written in `[upstream] servers`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// How hedge talks to one upstream server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamTransport {
    /// Plain DNS over UDP, falling back to TCP for truncated answers.
    Plain,
    /// DNS over TLS (RFC 7858); the name is checked against the certificate.
    Tls { server_name: String },
    /// DNS over HTTPS (RFC 8484).
    Https { server_name: String, path: String },
}

/// One upstream server from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSpec {
    pub addr: SocketAddr,
    pub transport: UpstreamTransport,
}

impl UpstreamSpec {
    /// Parses `IP[:port]`, `tls://NAME@IP[:port]` or
    /// `https://NAME/PATH@IP[:port]`.
    pub fn parse(value: &str) -> Result<UpstreamSpec, String> {
        let value = value.trim();
        if let Some(rest) = value.strip_prefix("tls://") {
            let (name, addr) = split_at_address(value, rest)?;
            if name.contains('/') {
                return Err(format!("{value:?}: a tls:// upstream has no path"));
            }
            let server_name = checked_server_name(value, name)?;
            let addr = parse_socket_addr(addr, 853).map_err(|e| format!("{value:?}: {e}"))?;
            return Ok(UpstreamSpec {
                addr,
                transport: UpstreamTransport::Tls { server_name },
            });
        }
        if let Some(rest) = value.strip_prefix("https://") {
            let (name_and_path, addr) = split_at_address(value, rest)?;
            let (name, path) = match name_and_path.find('/') {
                Some(i) => (&name_and_path[..i], &name_and_path[i..]),
                None => (name_and_path, "/dns-query"),
            };
            let server_name = checked_server_name(value, name)?;
            let addr = parse_socket_addr(addr, 443).map_err(|e| format!("{value:?}: {e}"))?;
            return Ok(UpstreamSpec {
                addr,
                transport: UpstreamTransport::Https {
                    server_name,
                    path: path.to_string(),
                },
            });
        }
        if value.contains("://") {
            return Err(format!(
                "{value:?}: unknown scheme; use \"IP:port\", \"tls://NAME@IP:port\" or \"https://NAME/dns-query@IP\""
            ));
        }
        let addr = parse_socket_addr(value, 53)?;
        Ok(UpstreamSpec {
            addr,
            transport: UpstreamTransport::Plain,
        })
    }
}

fn split_at_address<'a>(whole: &str, rest: &'a str) -> Result<(&'a str, &'a str), String> {
    rest.rsplit_once('@').ok_or_else(|| {
        format!(
            "{whole:?}: encrypted upstreams need the server's address after '@', such as \"tls://dns.quad9.net@9.9.9.9:853\" (hedge never looks up its own upstream)"
        )
    })
}

fn checked_server_name(whole: &str, name: &str) -> Result<String, String> {
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63)
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if valid {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(format!(
            "{whole:?}: {name:?} is not a server name for the certificate check"
        ))
    }
}

impl fmt::Display for UpstreamSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.transport {
            UpstreamTransport::Plain => write!(f, "{}", self.addr),
            UpstreamTransport::Tls { server_name } => {
                write!(f, "tls://{server_name}@{}", self.addr)
            }
            UpstreamTransport::Https { server_name, path } => {
                write!(f, "https://{server_name}{path}@{}", self.addr)
            }
        }
    }
}

/// Parses `IP`, `IP:port` or `[IPv6]:port`.
pub(super) fn parse_socket_addr(value: &str, default_port: u16) -> Result<SocketAddr, String> {
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, default_port));
    }
    if let Some(inner) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']'))
        && let Ok(ip) = inner.parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, default_port));
    }
    Err(format!(
        "{value:?} is not an address (expected \"IP:port\", such as \"127.0.0.1:53\" or \"[::1]:53\")"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_forms() {
        let spec = UpstreamSpec::parse("192.0.2.1").unwrap();
        assert_eq!(spec.addr, "192.0.2.1:53".parse().unwrap());
        assert_eq!(spec.transport, UpstreamTransport::Plain);
        let spec = UpstreamSpec::parse("[2001:db8::1]:5300").unwrap();
        assert_eq!(spec.addr, "[2001:db8::1]:5300".parse().unwrap());
        let spec = UpstreamSpec::parse("2001:db8::1").unwrap();
        assert_eq!(spec.addr.port(), 53);
    }

    #[test]
    fn tls_form() {
        let spec = UpstreamSpec::parse("tls://dns.quad9.net@9.9.9.9").unwrap();
        assert_eq!(spec.addr, "9.9.9.9:853".parse().unwrap());
        assert_eq!(
            spec.transport,
            UpstreamTransport::Tls {
                server_name: "dns.quad9.net".into()
            }
        );
        assert_eq!(spec.to_string(), "tls://dns.quad9.net@9.9.9.9:853");
    }

    #[test]
    fn https_form() {
        let spec = UpstreamSpec::parse("https://cloudflare-dns.com/dns-query@1.1.1.1").unwrap();
        assert_eq!(spec.addr, "1.1.1.1:443".parse().unwrap());
        assert_eq!(
            spec.transport,
            UpstreamTransport::Https {
                server_name: "cloudflare-dns.com".into(),
                path: "/dns-query".into()
            }
        );
        let spec = UpstreamSpec::parse("https://dns.example@[2001:db8::2]:8443").unwrap();
        assert_eq!(spec.addr, "[2001:db8::2]:8443".parse().unwrap());
    }

    #[test]
    fn bad_forms_say_why() {
        let err = UpstreamSpec::parse("tls://dns.quad9.net").unwrap_err();
        assert!(err.contains("after '@'"), "{err}");
        let err = UpstreamSpec::parse("quic://x@1.1.1.1").unwrap_err();
        assert!(err.contains("unknown scheme"), "{err}");
        let err = UpstreamSpec::parse("dns.google").unwrap_err();
        assert!(err.contains("not an address"), "{err}");
        let err = UpstreamSpec::parse("tls://bad name@1.1.1.1").unwrap_err();
        assert!(err.contains("not a server name"), "{err}");
    }
}
