//! The configuration file: its schema, its defaults, and the checks that turn
//! a TOML file into a [`Config`] the rest of hedge can trust.
//!
//! Nothing else in hedge parses TOML. Every problem found is reported with the
//! file, the line and the key, and all problems that can be found in one pass
//! are reported together, so an operator fixes a file in one round.

pub mod catalogue;
mod central;
mod check;
pub mod dnssec;
mod email;
mod error;
mod list_format;
mod mac;
pub mod name;
mod safesearch;
mod schedule;
mod schema;
mod upstream_spec;

pub use catalogue::{
    Catalogue, Category, CategoryId, CategorySet, DefaultSource, MAX_CATEGORIES, load_catalogue,
};
pub use central::{CentralConfig, MAX_SITE_LEN, check_site, check_url};
pub use dnssec::{DnssecConfig, DnssecMode};
pub use email::{
    AttachedFormat, EmailConfig, MailSecurity, ReportEvery, ScheduledReport, WEEKDAYS,
};
pub use error::{ConfigError, ConfigProblem};
pub use list_format::ListFormat;
pub use mac::{Mac, MacError};
pub use name::{NameProblem, normalize};
pub use safesearch::{Engine, SafeSearch, YoutubeMode, built_in_safe_search};
pub use schedule::{Schedule, ScheduleRule, parse_clock, parse_days};
pub use schema::{BlockingMode, LogLevel};
pub use upstream_spec::{UpstreamSpec, UpstreamTransport};

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::rr::Name;
use ipnet::IpNet;

/// Where `hedge` looks for its configuration when `-c` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/hedge/hedge.toml";

/// A checked configuration. Paths in it are absolute or relative to the
/// directory of the configuration file, already joined.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this was read from.
    pub path: PathBuf,
    pub server: ServerConfig,
    pub upstream: UpstreamConfig,
    pub zones: Vec<ZoneConfig>,
    pub lists: ListsConfig,
    /// Every group, the `default` group included (last unless configured).
    pub groups: Vec<GroupConfig>,
    pub clients: Vec<ClientConfig>,
    pub admin: AdminConfig,
    pub logging: LoggingConfig,
    /// Who may approve exemptions (`[[approvers]]`).
    pub approvers: Vec<Approver>,
    pub exemptions: ExemptionLimits,
    pub alerts: AlertsConfig,
    pub metrics: MetricsConfig,
    pub reports: ReportsConfig,
    pub web: WebConfig,
    /// `None`: no mail is sent.
    pub email: Option<EmailConfig>,
    pub devices: DevicesConfig,
    /// `None`: this site ships nothing; it is an island.
    pub central: Option<CentralConfig>,
}

/// `[devices]`: devices known by their MAC address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevicesConfig {
    /// The group of a device whose MAC address hedge knows but no
    /// `[[clients]]` entry names; `None`: such a device goes by its address.
    pub unknown_group: Option<String>,
    /// DHCP lease files (dnsmasq, ISC dhcpd, Kea CSV) that name devices.
    pub dhcp_leases: Vec<PathBuf>,
}

/// `[alerts]`: hits in safeguarding categories reach a person at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertsConfig {
    /// Hits from one client in one category within this time of the first
    /// are one alert with a count.
    pub window: Duration,
    /// The system log socket alerts are written to; `None`: not written.
    pub syslog: Option<PathBuf>,
    pub webhooks: Vec<WebhookConfig>,
    /// Addresses each alert is also mailed to (through `[email]`).
    pub email: Vec<String>,
}

/// `[[alerts.webhooks]]`: each alert is POSTed there as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: String,
    /// For one attempt, connection included.
    pub timeout: Duration,
    /// Tries before the delivery is recorded as failed.
    pub attempts: u32,
}

/// `[metrics]`: the Prometheus text endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsConfig {
    /// `None`: no endpoint.
    pub listen: Option<SocketAddr>,
}

/// `[web]`: the HTTPS console and its JSON API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfig {
    /// `None`: no console.
    pub listen: Option<SocketAddr>,
    /// Clients outside these networks are refused before TLS.
    pub allow_networks: Vec<IpNet>,
    /// The certificate and key (PEM) from files; `None`: a self-signed
    /// one made at first start and kept in the data directory.
    pub tls_files: Option<TlsFiles>,
    /// People with the approver or safeguarding role must have TOTP set up
    /// to sign in on the console.
    pub require_totp: bool,
}

/// `[web] cert_file` and `key_file`, both checked to exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// `[reports]`: how reports name the site.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReportsConfig {
    /// Printed at the top of every report; `None`: the host name.
    pub site: Option<String>,
    /// Reports mailed on a schedule (through `[email]`).
    pub scheduled: Vec<ScheduledReport>,
}

/// `[[approvers]]`: a senior person who may approve exemptions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Approver {
    pub name: String,
    /// What they are (head teacher, DSL, registered manager...).
    pub role: String,
    /// The longest exemption they may grant.
    pub max_days: u32,
    /// May they lift filtering entirely for a client or group (a bypass)?
    pub may_bypass: bool,
    /// May they file and approve in one step (`hedge exempt add`), still
    /// naming a different person as the requester?
    pub may_file_and_approve: bool,
}

/// `[exemptions]`: limits every exemption obeys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExemptionLimits {
    /// The longest a bypass (all filtering lifted) may last.
    pub max_bypass_hours: u32,
}

/// The longest exemption any approver may grant.
pub const MAX_EXEMPTION_DAYS: u32 = 366;

/// `[logging]`: the query log database and how long it keeps rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingConfig {
    pub database: PathBuf,
    /// Rows older than this are deleted, unless a legal hold covers them.
    pub retention_days: u32,
    /// Entries that may wait for the writer; beyond that they are dropped
    /// and counted, so the DNS path never waits.
    pub queue: usize,
    /// A device asking the same thing again within this long of the first
    /// time adds to that row instead of making a new one (zero: a row per
    /// query).
    pub repeat_window: Duration,
}

/// The longest `[logging] repeat_window_secs`: rows of repeats are kept in
/// memory that long, and searches look back that far for them.
pub const MAX_REPEAT_WINDOW: Duration = Duration::from_secs(60);

/// The longest retention hedge accepts (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// `[admin]`: the local control socket the `hedge` commands talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    pub socket: PathBuf,
    /// Members of this OS group (and root) may use the socket.
    pub group: String,
}

/// `[lists]` and `[categories.*]`: the catalogue and where lists come from.
#[derive(Debug, Clone)]
pub struct ListsConfig {
    /// `None`: the catalogue built into hedge (`lists/categories.toml`).
    pub catalogue_path: Option<PathBuf>,
    pub catalogue: Catalogue,
    /// Where downloaded lists are kept.
    pub cache_dir: PathBuf,
    pub max_download_bytes: u64,
    /// Certificate authorities trusted for list downloads instead of the
    /// public web roots (a local mirror with a private authority).
    pub tls_ca_file: Option<PathBuf>,
    pub sources: Vec<SourceConfig>,
}

/// One list for one category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceConfig {
    pub category: CategoryId,
    pub location: SourceLocation,
    /// `None`: detected from the content.
    pub format: Option<ListFormat>,
}

/// Where a list is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceLocation {
    File(PathBuf),
    /// Every file in the directory.
    Dir(PathBuf),
    /// Downloaded by `hedge lists update` to `cache`; served from there.
    Url {
        url: String,
        cache: PathBuf,
    },
}

impl std::fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceLocation::File(path) | SourceLocation::Dir(path) => {
                write!(f, "{}", path.display())
            }
            SourceLocation::Url { url, .. } => f.write_str(url),
        }
    }
}

/// `[[groups]]`: who a policy applies to and what it blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    pub name: String,
    pub networks: Vec<IpNet>,
    pub block: CategorySet,
    /// Names (normalised) this group may reach whatever the categories say
    /// (never against a mandatory category).
    pub allow: Vec<String>,
    /// Names this group may not reach.
    pub deny: Vec<String>,
    pub blocking: BlockingMode,
    pub sinkhole_ipv4: Ipv4Addr,
    pub sinkhole_ipv6: Ipv6Addr,
    pub block_ttl: u32,
    /// Search engines answered with their safe endpoints.
    pub safe_search: bool,
    pub youtube: YoutubeMode,
    /// Time rules, read in the group's time zone.
    pub schedule: Schedule,
    /// Which queries of this group the query log keeps.
    pub log: LogLevel,
}

/// The name of the group for clients no other group covers.
pub const DEFAULT_GROUP: &str = "default";

impl GroupConfig {
    /// The `default` group when none is configured: every mandatory and
    /// safeguarding category blocked.
    pub fn default_group(catalogue: &Catalogue) -> GroupConfig {
        GroupConfig {
            name: DEFAULT_GROUP.to_string(),
            networks: Vec::new(),
            block: catalogue.safeguarding().union(catalogue.mandatory()),
            allow: Vec::new(),
            deny: Vec::new(),
            blocking: BlockingMode::Sinkhole,
            sinkhole_ipv4: Ipv4Addr::UNSPECIFIED,
            sinkhole_ipv6: Ipv6Addr::UNSPECIFIED,
            block_ttl: 10,
            safe_search: false,
            youtube: YoutubeMode::Strict,
            schedule: Schedule::none(),
            log: LogLevel::Full,
        }
    }
}

/// `[[clients]]`: one named machine, known by its address, its MAC
/// addresses, or both (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    pub name: String,
    pub address: Option<IpAddr>,
    pub macs: Vec<Mac>,
    pub group: String,
}

/// `[server]`: where hedge listens and whom it answers.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: Vec<SocketAddr>,
    pub allow_networks: Vec<IpNet>,
    /// Queries per second per client address; 0 turns the limit off.
    pub rate_limit_qps: u32,
    /// The largest UDP response hedge sends, whatever a client advertises.
    pub max_udp_payload: u16,
    pub tcp_idle_timeout: Duration,
    pub tcp_connections_per_client: usize,
}

/// How hedge resolves names that are not in a local zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamMode {
    /// Forward to the configured upstream servers.
    Forward,
    /// Resolve iteratively from the root servers in `root_hints`.
    Recursive,
}

/// `[upstream]`: forwarding or recursion, and the answer cache.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    pub mode: UpstreamMode,
    pub servers: Vec<UpstreamSpec>,
    pub timeout: Duration,
    pub attempts: usize,
    /// Number of answers kept in the cache; 0 disables caching.
    pub cache_size: u64,
    /// Distinct questions that may wait for the upstreams at once; more are
    /// answered at once (stale or SERVFAIL) instead of piling up.
    pub max_pending: usize,
    pub serve_stale: bool,
    /// TTL given to an answer served from an expired cache entry (RFC 8767).
    pub stale_answer_ttl: u32,
    /// How long past its expiry an answer may still be served stale.
    pub stale_max_age: Duration,
    pub root_hints: PathBuf,
    /// Private or loopback networks the recursor may nevertheless query.
    pub recursor_allow_servers: Vec<IpNet>,
    /// Extra certificate authorities (PEM) trusted for encrypted upstreams.
    pub tls_ca_file: Option<PathBuf>,
    pub dnssec: DnssecConfig,
}

/// `[[zones]]`: a zone hedge answers authoritatively from a zone file.
#[derive(Debug, Clone)]
pub struct ZoneConfig {
    pub name: Name,
    pub file: PathBuf,
}

impl Config {
    /// The approver of that name (case does not matter), if on the roster.
    pub fn approver(&self, name: &str) -> Option<&Approver> {
        self.approvers
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name.trim()))
    }

    /// Reads and checks the configuration file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_str(&text, path)
    }

    /// Checks configuration text as if it had been read from `path`.
    pub fn from_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: schema::RawConfig = toml::from_str(text).map_err(|error| {
            let mut problem = ConfigProblem::from_toml(path, text, &error);
            if problem.key.is_empty() {
                problem.key = "(start of file)".into();
            }
            ConfigError::Invalid {
                path: path.to_path_buf(),
                problems: vec![problem],
            }
        })?;
        let mut check = check::Checker {
            path,
            text,
            base: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            problems: Vec::new(),
        };
        let config = check.config(raw);
        if check.problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                problems: check.problems,
            })
        }
    }
}

#[cfg(test)]
mod tests;
