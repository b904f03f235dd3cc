//! The configuration file as written, before any checks. Values that need
//! checking keep their position in the file (`Spanned`) so that a problem can
//! name its line.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{ListFormat, YoutubeMode};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub upstream: RawUpstream,
    #[serde(default)]
    pub zones: Vec<RawZone>,
    #[serde(default)]
    pub lists: RawLists,
    #[serde(default)]
    pub categories: BTreeMap<Spanned<String>, RawCategorySources>,
    #[serde(default)]
    pub groups: Vec<RawGroup>,
    #[serde(default)]
    pub clients: Vec<RawClient>,
    #[serde(default)]
    pub admin: RawAdmin,
    #[serde(default)]
    pub logging: RawLogging,
    #[serde(default)]
    pub approvers: Vec<RawApprover>,
    #[serde(default)]
    pub exemptions: RawExemptions,
    #[serde(default)]
    pub alerts: RawAlerts,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub reports: RawReports,
    #[serde(default)]
    pub web: RawWeb,
    pub email: Option<RawEmail>,
    #[serde(default)]
    pub devices: RawDevices,
    pub central: Option<RawCentral>,
}

/// `[central]`: the PostgreSQL this site ships its records to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCentral {
    pub url: Spanned<String>,
    pub site: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
    /// Refused whatever it holds, so that the refusal says what to do.
    pub password: Option<Spanned<toml::Value>>,
    #[serde(default = "default_max_backlog_days")]
    pub max_backlog_days: Spanned<u32>,
    #[serde(default = "default_central_retention_days")]
    pub retention_days: Spanned<u32>,
}

fn default_max_backlog_days() -> Spanned<u32> {
    unspanned(14)
}

fn default_central_retention_days() -> Spanned<u32> {
    unspanned(365)
}

/// `[devices]`: what hedge does with devices it knows by MAC address.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDevices {
    pub unknown_group: Option<Spanned<String>>,
    #[serde(default)]
    pub dhcp_leases: Vec<Spanned<String>>,
}

/// `[alerts]`: who hears about hits in safeguarding categories, and how.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlerts {
    #[serde(default = "default_alert_window")]
    pub window_minutes: Spanned<u32>,
    #[serde(default = "default_true")]
    pub syslog: bool,
    #[serde(default = "default_syslog_socket")]
    pub syslog_socket: Spanned<String>,
    #[serde(default)]
    pub webhooks: Vec<RawWebhook>,
    /// Addresses each alert is also mailed to.
    #[serde(default)]
    pub email: Vec<Spanned<String>>,
}

impl Default for RawAlerts {
    fn default() -> Self {
        RawAlerts {
            window_minutes: default_alert_window(),
            syslog: true,
            syslog_socket: default_syslog_socket(),
            webhooks: Vec::new(),
            email: Vec::new(),
        }
    }
}

fn default_alert_window() -> Spanned<u32> {
    unspanned(60)
}

fn default_syslog_socket() -> Spanned<String> {
    unspanned("/dev/log".to_string())
}

/// `[[alerts.webhooks]]`: an HTTP endpoint that receives each alert as JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    pub url: Spanned<String>,
    #[serde(default = "default_webhook_timeout")]
    pub timeout_secs: Spanned<u64>,
    #[serde(default = "default_webhook_attempts")]
    pub attempts: Spanned<u32>,
}

fn default_webhook_timeout() -> Spanned<u64> {
    unspanned(5)
}

fn default_webhook_attempts() -> Spanned<u32> {
    unspanned(5)
}

/// `[metrics]`: the Prometheus endpoint, off unless `listen` is set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub listen: Option<Spanned<String>>,
}

/// `[web]`: the HTTPS console and API, off unless `listen` is set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWeb {
    pub listen: Option<Spanned<String>>,
    #[serde(default = "default_allow_networks")]
    pub allow_networks: Vec<Spanned<String>>,
    pub cert_file: Option<Spanned<String>>,
    pub key_file: Option<Spanned<String>>,
    #[serde(default)]
    pub require_totp: bool,
}

impl Default for RawWeb {
    fn default() -> Self {
        RawWeb {
            listen: None,
            allow_networks: default_allow_networks(),
            cert_file: None,
            key_file: None,
            require_totp: false,
        }
    }
}

/// `[reports]`: what reports call the site, and which are mailed when.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReports {
    pub site: Option<Spanned<String>>,
    #[serde(default)]
    pub scheduled: Vec<RawScheduledReport>,
}

/// `[[reports.scheduled]]`: a report mailed for the period just ended.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScheduledReport {
    pub every: Spanned<String>,
    pub at: Spanned<String>,
    pub to: Spanned<Vec<Spanned<String>>>,
    #[serde(default = "default_report_format")]
    pub format: Spanned<String>,
}

fn default_report_format() -> Spanned<String> {
    unspanned("html".to_string())
}

/// `[email]`: the SMTP relay.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEmail {
    pub server: Spanned<String>,
    #[serde(default = "default_mail_security")]
    pub security: Spanned<String>,
    pub username: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
    /// Refused whatever it holds: named here so that the refusal says
    /// what to do instead.
    pub password: Option<Spanned<toml::Value>>,
    pub from: Spanned<String>,
    pub tls_ca_file: Option<Spanned<String>>,
    #[serde(default = "default_mail_timeout")]
    pub timeout_secs: Spanned<u64>,
    #[serde(default = "default_mail_attempts")]
    pub attempts: Spanned<u32>,
}

fn default_mail_security() -> Spanned<String> {
    unspanned("starttls".to_string())
}

fn default_mail_timeout() -> Spanned<u64> {
    unspanned(30)
}

fn default_mail_attempts() -> Spanned<u32> {
    unspanned(5)
}

/// `[[approvers]]`: a named senior person who may approve exemptions.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApprover {
    pub name: Spanned<String>,
    pub role: Spanned<String>,
    pub max_days: Spanned<u32>,
    #[serde(default)]
    pub may_bypass: bool,
    #[serde(default)]
    pub may_file_and_approve: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExemptions {
    #[serde(default = "default_max_bypass_hours")]
    pub max_bypass_hours: Spanned<u32>,
}

impl Default for RawExemptions {
    fn default() -> Self {
        RawExemptions {
            max_bypass_hours: default_max_bypass_hours(),
        }
    }
}

fn default_max_bypass_hours() -> Spanned<u32> {
    unspanned(8)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLogging {
    #[serde(default = "default_database")]
    pub database: Spanned<String>,
    #[serde(default = "default_retention_days")]
    pub retention_days: Spanned<u32>,
    #[serde(default = "default_queue")]
    pub queue: Spanned<usize>,
    #[serde(default = "default_repeat_window")]
    pub repeat_window_secs: Spanned<u64>,
}

impl Default for RawLogging {
    fn default() -> Self {
        RawLogging {
            database: default_database(),
            retention_days: default_retention_days(),
            queue: default_queue(),
            repeat_window_secs: default_repeat_window(),
        }
    }
}

fn default_database() -> Spanned<String> {
    unspanned("/var/lib/hedge/hedge.db".to_string())
}

fn default_retention_days() -> Spanned<u32> {
    unspanned(90)
}

fn default_queue() -> Spanned<usize> {
    unspanned(65_536)
}

fn default_repeat_window() -> Spanned<u64> {
    unspanned(10)
}

/// Which of a group's queries the query log keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Every query.
    #[default]
    Full,
    /// Only blocked queries (data minimisation for adults).
    Blocked,
    /// Nothing.
    None,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    #[serde(default = "default_admin_socket")]
    pub socket: Spanned<String>,
    #[serde(default = "default_admin_group")]
    pub group: String,
}

impl Default for RawAdmin {
    fn default() -> Self {
        RawAdmin {
            socket: default_admin_socket(),
            group: default_admin_group(),
        }
    }
}

fn default_admin_socket() -> Spanned<String> {
    unspanned("/run/hedge/admin.sock".to_string())
}

fn default_admin_group() -> String {
    "hedge-admin".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLists {
    pub catalogue: Option<Spanned<String>>,
    #[serde(default = "default_cache_dir")]
    pub cache_dir: Spanned<String>,
    #[serde(default = "default_max_download_mb")]
    pub max_download_mb: Spanned<u64>,
    pub tls_ca_file: Option<Spanned<String>>,
}

impl Default for RawLists {
    fn default() -> Self {
        RawLists {
            catalogue: None,
            cache_dir: default_cache_dir(),
            max_download_mb: default_max_download_mb(),
            tls_ca_file: None,
        }
    }
}

fn default_cache_dir() -> Spanned<String> {
    unspanned("/var/lib/hedge/lists".to_string())
}

fn default_max_download_mb() -> Spanned<u64> {
    unspanned(50)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCategorySources {
    #[serde(default)]
    pub sources: Vec<Spanned<RawSource>>,
    #[serde(default)]
    pub default_sources: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawSource {
    Location(String),
    Table(RawSourceTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSourceTable {
    pub path: Option<String>,
    pub url: Option<String>,
    pub format: Option<ListFormat>,
}

#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BlockingMode {
    /// A/AAAA answered with the sinkhole addresses, other types NODATA.
    #[default]
    Sinkhole,
    /// NXDOMAIN for every type.
    Nxdomain,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGroup {
    pub name: Spanned<String>,
    #[serde(default)]
    pub networks: Vec<Spanned<String>>,
    #[serde(default)]
    pub block: Vec<Spanned<String>>,
    #[serde(default)]
    pub allow: Vec<Spanned<String>>,
    #[serde(default)]
    pub deny: Vec<Spanned<String>>,
    #[serde(default)]
    pub blocking: BlockingMode,
    pub sinkhole_ipv4: Option<Spanned<String>>,
    pub sinkhole_ipv6: Option<Spanned<String>>,
    #[serde(default = "default_block_ttl")]
    pub block_ttl: u32,
    #[serde(default)]
    pub safe_search: bool,
    #[serde(default)]
    pub youtube: YoutubeMode,
    #[serde(default = "default_timezone")]
    pub timezone: Spanned<String>,
    #[serde(default)]
    pub schedule: Vec<RawScheduleRule>,
    #[serde(default)]
    pub log: LogLevel,
}

fn default_timezone() -> Spanned<String> {
    unspanned("Europe/London".to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScheduleRule {
    pub name: Spanned<String>,
    pub days: Spanned<RawDays>,
    pub from: Spanned<String>,
    pub to: Spanned<String>,
    #[serde(default)]
    pub block: Vec<Spanned<String>>,
    #[serde(default)]
    pub block_all: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawDays {
    One(String),
    Many(Vec<String>),
}

fn default_block_ttl() -> u32 {
    10
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClient {
    pub name: Spanned<String>,
    pub address: Option<Spanned<String>>,
    pub mac: Option<Spanned<RawMacs>>,
    pub group: Spanned<String>,
}

/// `mac = "..."` or `mac = ["...", "..."]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawMacs {
    One(String),
    Many(Vec<String>),
}

fn unspanned<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

fn strings(values: &[&str]) -> Vec<Spanned<String>> {
    values.iter().map(|v| unspanned(v.to_string())).collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    #[serde(default = "default_listen")]
    pub listen: Vec<Spanned<String>>,
    #[serde(default = "default_allow_networks")]
    pub allow_networks: Vec<Spanned<String>>,
    #[serde(default = "default_rate_limit_qps")]
    pub rate_limit_qps: u32,
    #[serde(default = "default_max_udp_payload")]
    pub max_udp_payload: Spanned<u16>,
    #[serde(default = "default_tcp_idle_timeout_secs")]
    pub tcp_idle_timeout_secs: Spanned<u64>,
    #[serde(default = "default_tcp_connections_per_client")]
    pub tcp_connections_per_client: Spanned<usize>,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: default_listen(),
            allow_networks: default_allow_networks(),
            rate_limit_qps: default_rate_limit_qps(),
            max_udp_payload: default_max_udp_payload(),
            tcp_idle_timeout_secs: default_tcp_idle_timeout_secs(),
            tcp_connections_per_client: default_tcp_connections_per_client(),
        }
    }
}

fn default_listen() -> Vec<Spanned<String>> {
    strings(&["127.0.0.1:53", "[::1]:53"])
}

/// Loopback and the private ranges: never an open resolver by default.
fn default_allow_networks() -> Vec<Spanned<String>> {
    strings(&[
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    ])
}

fn default_rate_limit_qps() -> u32 {
    200
}

/// The DNS Flag Day 2020 size: avoids IP fragmentation on every common path.
fn default_max_udp_payload() -> Spanned<u16> {
    unspanned(1232)
}

fn default_tcp_idle_timeout_secs() -> Spanned<u64> {
    unspanned(10)
}

fn default_tcp_connections_per_client() -> Spanned<usize> {
    unspanned(16)
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawMode {
    #[default]
    Forward,
    Recursive,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUpstream {
    #[serde(default)]
    pub mode: RawMode,
    #[serde(default)]
    pub servers: Vec<Spanned<String>>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: Spanned<u64>,
    #[serde(default = "default_attempts")]
    pub attempts: Spanned<usize>,
    #[serde(default = "default_cache_size")]
    pub cache_size: u64,
    #[serde(default = "default_max_pending")]
    pub max_pending: Spanned<usize>,
    #[serde(default = "default_true")]
    pub serve_stale: bool,
    #[serde(default = "default_stale_answer_ttl")]
    pub stale_answer_ttl: u32,
    #[serde(default = "default_stale_max_age_secs")]
    pub stale_max_age_secs: u64,
    #[serde(default = "default_root_hints")]
    pub root_hints: Spanned<String>,
    #[serde(default)]
    pub recursor_allow_servers: Vec<Spanned<String>>,
    #[serde(default)]
    pub tls_ca_file: Option<Spanned<String>>,
    #[serde(default)]
    pub dnssec: Option<Spanned<String>>,
    #[serde(default)]
    pub trust_anchors: Option<Spanned<String>>,
    #[serde(default)]
    pub insecure_domains: Vec<Spanned<String>>,
}

impl Default for RawUpstream {
    fn default() -> Self {
        RawUpstream {
            mode: RawMode::default(),
            servers: Vec::new(),
            timeout_ms: default_timeout_ms(),
            attempts: default_attempts(),
            cache_size: default_cache_size(),
            max_pending: default_max_pending(),
            serve_stale: true,
            stale_answer_ttl: default_stale_answer_ttl(),
            stale_max_age_secs: default_stale_max_age_secs(),
            root_hints: default_root_hints(),
            recursor_allow_servers: Vec::new(),
            tls_ca_file: None,
            dnssec: None,
            trust_anchors: None,
            insecure_domains: Vec::new(),
        }
    }
}

fn default_timeout_ms() -> Spanned<u64> {
    unspanned(2000)
}

fn default_attempts() -> Spanned<usize> {
    unspanned(2)
}

fn default_cache_size() -> u64 {
    10_000
}

/// Enough for a school's busiest minute with a slow upstream; each waiting
/// query holds a few kilobytes.
fn default_max_pending() -> Spanned<usize> {
    unspanned(1024)
}

fn default_true() -> bool {
    true
}

/// RFC 8767 section 5 recommends 30 seconds.
fn default_stale_answer_ttl() -> u32 {
    30
}

/// RFC 8767 suggests between one and three days.
fn default_stale_max_age_secs() -> u64 {
    86_400
}

/// Where Debian's `dns-root-data` package puts the IANA root hints.
fn default_root_hints() -> Spanned<String> {
    unspanned("/usr/share/dns/root.hints".to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawZone {
    pub name: Spanned<String>,
    pub file: Spanned<String>,
}
