//! `[server]`, `[upstream]` and `[[zones]]`.

use std::time::Duration;

use hickory_proto::rr::Name;

use super::Checker;
use crate::config::upstream_spec::parse_socket_addr;
use crate::config::*;

impl Checker<'_> {
    pub(super) fn server(&mut self, raw: schema::RawServer) -> ServerConfig {
        let mut listen = Vec::new();
        if raw.listen.is_empty() {
            self.problems.push(ConfigProblem::at(
                self.path,
                self.text,
                0,
                "server.listen",
                "at least one address to listen on is needed".into(),
            ));
        }
        for value in &raw.listen {
            match parse_socket_addr(value.get_ref(), 53) {
                Ok(addr) if listen.contains(&addr) => {
                    self.problem("server.listen", value, format!("{addr} is listed twice"))
                }
                Ok(addr) => listen.push(addr),
                Err(message) => self.problem("server.listen", value, message),
            }
        }
        let allow_networks = self.networks("server.allow_networks", &raw.allow_networks);
        let max_udp_payload = *raw.max_udp_payload.get_ref();
        if max_udp_payload < 512 {
            self.problem(
                "server.max_udp_payload",
                &raw.max_udp_payload,
                format!("{max_udp_payload} is below the DNS minimum of 512 bytes"),
            );
        }
        if *raw.tcp_idle_timeout_secs.get_ref() == 0 {
            self.problem(
                "server.tcp_idle_timeout_secs",
                &raw.tcp_idle_timeout_secs,
                "must be at least 1 second",
            );
        }
        if *raw.tcp_connections_per_client.get_ref() == 0 {
            self.problem(
                "server.tcp_connections_per_client",
                &raw.tcp_connections_per_client,
                "must be at least 1",
            );
        }
        ServerConfig {
            listen,
            allow_networks,
            rate_limit_qps: raw.rate_limit_qps,
            max_udp_payload: max_udp_payload.max(512),
            tcp_idle_timeout: Duration::from_secs(*raw.tcp_idle_timeout_secs.get_ref()),
            tcp_connections_per_client: *raw.tcp_connections_per_client.get_ref(),
        }
    }

    pub(super) fn upstream(&mut self, raw: schema::RawUpstream) -> UpstreamConfig {
        let mode = match raw.mode {
            schema::RawMode::Forward => UpstreamMode::Forward,
            schema::RawMode::Recursive => UpstreamMode::Recursive,
        };
        let mut servers = Vec::new();
        for value in &raw.servers {
            match UpstreamSpec::parse(value.get_ref()) {
                Ok(spec) => servers.push(spec),
                Err(message) => self.problem("upstream.servers", value, message),
            }
        }
        if mode == UpstreamMode::Forward && raw.servers.is_empty() {
            self.problems.push(ConfigProblem::at(
                self.path,
                self.text,
                0,
                "upstream.servers",
                "mode is \"forward\" but no upstream servers are listed".into(),
            ));
        }
        if *raw.timeout_ms.get_ref() == 0 {
            self.problem("upstream.timeout_ms", &raw.timeout_ms, "must be above 0");
        }
        if *raw.attempts.get_ref() == 0 {
            self.problem("upstream.attempts", &raw.attempts, "must be at least 1");
        }
        let max_pending = *raw.max_pending.get_ref();
        if !(1..=65_536).contains(&max_pending) {
            self.problem(
                "upstream.max_pending",
                &raw.max_pending,
                format!("{max_pending} is out of range: from 1 to 65536 questions"),
            );
        }
        let root_hints = self.resolve_path(raw.root_hints.get_ref());
        if mode == UpstreamMode::Recursive && !root_hints.is_file() {
            self.problem(
                "upstream.root_hints",
                &raw.root_hints,
                format!(
                    "mode is \"recursive\" but the root hints file {} does not exist (Debian: apt-get install dns-root-data)",
                    root_hints.display()
                ),
            );
        }
        let recursor_allow_servers = self.networks(
            "upstream.recursor_allow_servers",
            &raw.recursor_allow_servers,
        );
        let tls_ca_file = raw.tls_ca_file.as_ref().and_then(|value| {
            self.existing_file("upstream.tls_ca_file", value, "certificate file")
        });
        let dnssec = self.dnssec(&raw, &mode);
        UpstreamConfig {
            dnssec,
            mode,
            servers,
            timeout: Duration::from_millis(*raw.timeout_ms.get_ref()),
            attempts: *raw.attempts.get_ref(),
            cache_size: raw.cache_size,
            max_pending: *raw.max_pending.get_ref(),
            serve_stale: raw.serve_stale,
            stale_answer_ttl: raw.stale_answer_ttl,
            stale_max_age: Duration::from_secs(raw.stale_max_age_secs),
            root_hints,
            recursor_allow_servers,
            tls_ca_file,
        }
    }

    pub(super) fn zones(&mut self, raw: Vec<schema::RawZone>) -> Vec<ZoneConfig> {
        let mut zones: Vec<ZoneConfig> = Vec::new();
        for zone in raw {
            let name = match parse_zone_name(zone.name.get_ref()) {
                Ok(name) => name,
                Err(message) => {
                    self.problem("zones.name", &zone.name, message);
                    continue;
                }
            };
            if zones.iter().any(|z| z.name == name) {
                self.problem(
                    "zones.name",
                    &zone.name,
                    format!("zone {name} is listed twice"),
                );
                continue;
            }
            let file = self.resolve_path(zone.file.get_ref());
            if !file.is_file() {
                self.problem(
                    "zones.file",
                    &zone.file,
                    format!("zone file {} does not exist", file.display()),
                );
                continue;
            }
            zones.push(ZoneConfig { name, file });
        }
        zones
    }
}

fn parse_zone_name(value: &str) -> Result<Name, String> {
    let trimmed = value.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return Err("a zone needs a name such as \"school.lan\"".into());
    }
    let mut name =
        Name::from_utf8(trimmed).map_err(|e| format!("{value:?} is not a domain name: {e}"))?;
    name.set_fqdn(true);
    Ok(name.to_lowercase())
}
