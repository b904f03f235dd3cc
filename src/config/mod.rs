//! The configuration file: its schema, its defaults, and the checks that turn
//! a TOML file into a [`Config`] the rest of hedge can trust.
//!
//! Nothing else in hedge parses TOML. Every problem found is reported with the
//! file, the line and the key, and all problems that can be found in one pass
//! are reported together, so an operator fixes a file in one round.

pub mod catalogue;
mod error;
mod list_format;
pub mod name;
mod safesearch;
mod schedule;
mod schema;
mod upstream_spec;

pub use catalogue::{
    Catalogue, Category, CategoryId, CategorySet, DefaultSource, MAX_CATEGORIES, load_catalogue,
};
pub use error::{ConfigError, ConfigProblem};
pub use list_format::ListFormat;
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
use toml::Spanned;

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

/// `[reports]`: how reports name the site.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReportsConfig {
    /// Printed at the top of every report; `None`: the host name.
    pub site: Option<String>,
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

/// `[[clients]]`: one named machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    pub name: String,
    pub address: IpAddr,
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
        let mut check = Checker {
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

/// Collects every problem while turning the raw schema into a [`Config`].
struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
    base: PathBuf,
    problems: Vec<ConfigProblem>,
}

impl Checker<'_> {
    fn problem<T>(&mut self, key: &str, value: &Spanned<T>, message: impl Into<String>) {
        self.problems.push(ConfigProblem::at(
            self.path,
            self.text,
            value.span().start,
            key,
            message.into(),
        ));
    }

    fn resolve_path(&self, value: &str) -> PathBuf {
        let path = Path::new(value);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }

    /// The path `value` names, if that file exists; a problem otherwise.
    fn existing_file(&mut self, key: &str, value: &Spanned<String>, what: &str) -> Option<PathBuf> {
        let path = self.resolve_path(value.get_ref());
        if path.is_file() {
            Some(path)
        } else {
            self.problem(
                key,
                value,
                format!("{what} {} does not exist", path.display()),
            );
            None
        }
    }

    fn networks(&mut self, key: &str, values: &[Spanned<String>]) -> Vec<IpNet> {
        let mut out = Vec::new();
        for value in values {
            match parse_network(value.get_ref()) {
                Ok(net) => out.push(net),
                Err(message) => self.problem(key, value, message),
            }
        }
        out
    }

    fn config(&mut self, raw: schema::RawConfig) -> Config {
        let server = self.server(raw.server);
        let upstream = self.upstream(raw.upstream);
        let zones = self.zones(raw.zones);
        let lists = self.lists(raw.lists, raw.categories);
        let groups = self.groups(raw.groups, &lists.catalogue);
        let clients = self.clients(raw.clients, &groups);
        let admin = AdminConfig {
            socket: self.resolve_path(raw.admin.socket.get_ref()),
            group: raw.admin.group,
        };
        let logging = self.logging(raw.logging);
        let approvers = self.approvers(raw.approvers);
        let hours = *raw.exemptions.max_bypass_hours.get_ref();
        if !(1..=72).contains(&hours) {
            self.problem(
                "exemptions.max_bypass_hours",
                &raw.exemptions.max_bypass_hours,
                format!("{hours} is out of range: a bypass lasts from 1 to 72 hours"),
            );
        }
        let alerts = self.alerts(raw.alerts);
        let metrics = self.metrics(raw.metrics);
        let reports = ReportsConfig {
            site: raw
                .reports
                .site
                .map(|site| site.into_inner().trim().to_string())
                .filter(|site| !site.is_empty()),
        };
        Config {
            logging,
            approvers,
            alerts,
            metrics,
            reports,
            exemptions: ExemptionLimits {
                max_bypass_hours: hours,
            },
            path: self.path.to_path_buf(),
            server,
            upstream,
            zones,
            lists,
            groups,
            clients,
            admin,
        }
    }

    fn approvers(&mut self, raw: Vec<schema::RawApprover>) -> Vec<Approver> {
        let mut approvers: Vec<Approver> = Vec::new();
        for approver in raw {
            let name = approver.name.get_ref().trim().to_string();
            if name.is_empty() {
                self.problem("approvers.name", &approver.name, "an approver needs a name");
                continue;
            }
            if approvers.iter().any(|a| a.name.eq_ignore_ascii_case(&name)) {
                self.problem(
                    "approvers.name",
                    &approver.name,
                    format!("approver {name:?} is listed twice"),
                );
                continue;
            }
            let role = approver.role.get_ref().trim().to_string();
            if role.is_empty() {
                self.problem(
                    "approvers.role",
                    &approver.role,
                    "say what the approver is (head teacher, DSL, ...)",
                );
            }
            let max_days = *approver.max_days.get_ref();
            if !(1..=MAX_EXEMPTION_DAYS).contains(&max_days) {
                self.problem(
                    "approvers.max_days",
                    &approver.max_days,
                    format!("{max_days} is out of range: from 1 to {MAX_EXEMPTION_DAYS} days"),
                );
            }
            approvers.push(Approver {
                name,
                role,
                max_days,
                may_bypass: approver.may_bypass,
                may_file_and_approve: approver.may_file_and_approve,
            });
        }
        approvers
    }

    fn alerts(&mut self, raw: schema::RawAlerts) -> AlertsConfig {
        let minutes = *raw.window_minutes.get_ref();
        if !(1..=1440).contains(&minutes) {
            self.problem(
                "alerts.window_minutes",
                &raw.window_minutes,
                format!("{minutes} is out of range: from 1 to 1440 minutes (a day)"),
            );
        }
        let mut webhooks = Vec::new();
        for webhook in raw.webhooks {
            let url = webhook.url.get_ref().trim().to_string();
            if let Err(message) = check_webhook_url(&url) {
                self.problem("alerts.webhooks.url", &webhook.url, message);
            }
            let timeout = *webhook.timeout_secs.get_ref();
            if !(1..=60).contains(&timeout) {
                self.problem(
                    "alerts.webhooks.timeout_secs",
                    &webhook.timeout_secs,
                    format!("{timeout} is out of range: from 1 to 60 seconds"),
                );
            }
            let attempts = *webhook.attempts.get_ref();
            if !(1..=20).contains(&attempts) {
                self.problem(
                    "alerts.webhooks.attempts",
                    &webhook.attempts,
                    format!("{attempts} is out of range: from 1 to 20 attempts"),
                );
            }
            webhooks.push(WebhookConfig {
                url,
                timeout: Duration::from_secs(timeout),
                attempts,
            });
        }
        let socket = raw.syslog_socket.get_ref().trim();
        if raw.syslog && socket.is_empty() {
            self.problem(
                "alerts.syslog_socket",
                &raw.syslog_socket,
                "the system log socket path is empty",
            );
        }
        AlertsConfig {
            window: Duration::from_secs(u64::from(minutes) * 60),
            syslog: raw.syslog.then(|| self.resolve_path(socket)),
            webhooks,
        }
    }

    fn metrics(&mut self, raw: schema::RawMetrics) -> MetricsConfig {
        let Some(listen) = &raw.listen else {
            return MetricsConfig::default();
        };
        match parse_metrics_listen(listen.get_ref()) {
            Ok(address) => MetricsConfig {
                listen: Some(address),
            },
            Err(message) => {
                self.problem("metrics.listen", listen, message);
                MetricsConfig::default()
            }
        }
    }

    fn logging(&mut self, raw: schema::RawLogging) -> LoggingConfig {
        let retention_days = *raw.retention_days.get_ref();
        if !(1..=MAX_RETENTION_DAYS).contains(&retention_days) {
            self.problem(
                "logging.retention_days",
                &raw.retention_days,
                format!("{retention_days} is out of range: from 1 to {MAX_RETENTION_DAYS} days"),
            );
        }
        let queue = *raw.queue.get_ref();
        if !(1..=10_000_000).contains(&queue) {
            self.problem(
                "logging.queue",
                &raw.queue,
                format!("{queue} is out of range: from 1 to 10000000 entries"),
            );
        }
        let window = *raw.repeat_window_secs.get_ref();
        let max_window = MAX_REPEAT_WINDOW.as_secs();
        if window > max_window {
            self.problem(
                "logging.repeat_window_secs",
                &raw.repeat_window_secs,
                format!("{window} is out of range: from 0 to {max_window} seconds"),
            );
        }
        if raw.database.get_ref().trim().is_empty() {
            self.problem(
                "logging.database",
                &raw.database,
                "the database path is empty",
            );
        }
        LoggingConfig {
            database: self.resolve_path(raw.database.get_ref()),
            retention_days,
            queue,
            repeat_window: Duration::from_secs(window.min(max_window)),
        }
    }

    fn lists(
        &mut self,
        raw: schema::RawLists,
        categories: std::collections::BTreeMap<Spanned<String>, schema::RawCategorySources>,
    ) -> ListsConfig {
        let (catalogue_path, loaded) = match &raw.catalogue {
            Some(value) => {
                let path = self.resolve_path(value.get_ref());
                let loaded = load_catalogue(&path).map_err(|e| (value, e));
                (Some(path), loaded)
            }
            None => (None, Ok(catalogue::built_in())),
        };
        let catalogue = match loaded {
            Ok(catalogue) => catalogue,
            Err((value, error)) => {
                self.problem("lists.catalogue", value, error.to_string());
                Catalogue::new(Vec::new())
            }
        };
        let cache_dir = self.resolve_path(raw.cache_dir.get_ref());
        let mut sources = Vec::new();
        for (id, category) in categories {
            let Some(category_id) = catalogue.id(id.get_ref()) else {
                if !catalogue.ids().is_empty() {
                    let known = catalogue.ids().join(", ");
                    self.problem(
                        "categories",
                        &id,
                        format!(
                            "unknown category {:?}; the catalogue has: {known}",
                            id.get_ref()
                        ),
                    );
                }
                continue;
            };
            let key = format!("categories.{}.sources", id.get_ref());
            for source in &category.sources {
                let (location, format) = match source.get_ref() {
                    schema::RawSource::Location(text) => (text.clone(), None),
                    schema::RawSource::Table(table) => match (&table.path, &table.url) {
                        (Some(path), None) => (path.clone(), table.format),
                        (None, Some(url)) => (url.clone(), table.format),
                        _ => {
                            self.problem(
                                &key,
                                source,
                                "a source table needs exactly one of `path` or `url`",
                            );
                            continue;
                        }
                    },
                };
                match self.source_location(&location, &cache_dir, id.get_ref()) {
                    Ok(location) => sources.push(SourceConfig {
                        category: category_id,
                        location,
                        format,
                    }),
                    Err(message) => self.problem(&key, source, message),
                }
            }
            if category.default_sources {
                for default in &catalogue.get(category_id).default_sources {
                    sources.push(SourceConfig {
                        category: category_id,
                        location: SourceLocation::Url {
                            url: default.url.clone(),
                            cache: cache_file(&cache_dir, id.get_ref(), &default.url),
                        },
                        format: default.format,
                    });
                }
            }
        }
        let tls_ca_file = raw
            .tls_ca_file
            .as_ref()
            .and_then(|value| self.existing_file("lists.tls_ca_file", value, "certificate file"));
        ListsConfig {
            tls_ca_file,
            catalogue_path,
            catalogue,
            cache_dir,
            max_download_bytes: raw.max_download_mb.get_ref().saturating_mul(1024 * 1024),
            sources,
        }
    }

    fn source_location(
        &self,
        text: &str,
        cache_dir: &Path,
        category: &str,
    ) -> Result<SourceLocation, String> {
        if let Some(rest) = text.strip_prefix("https://") {
            if rest.is_empty() || rest.starts_with('/') {
                return Err(format!("{text:?} is not a URL"));
            }
            return Ok(SourceLocation::Url {
                url: text.to_string(),
                cache: cache_file(cache_dir, category, text),
            });
        }
        if text.contains("://") {
            return Err(format!("{text:?}: lists are fetched over https:// only"));
        }
        let path = self.resolve_path(text);
        if path.is_dir() {
            Ok(SourceLocation::Dir(path))
        } else if path.is_file() {
            Ok(SourceLocation::File(path))
        } else {
            Err(format!("list file {} does not exist", path.display()))
        }
    }

    fn groups(&mut self, raw: Vec<schema::RawGroup>, catalogue: &Catalogue) -> Vec<GroupConfig> {
        let mut groups: Vec<GroupConfig> = Vec::new();
        for group in raw {
            let name = group.name.get_ref().trim().to_string();
            if name.is_empty() {
                self.problem("groups.name", &group.name, "a group needs a name");
                continue;
            }
            if groups.iter().any(|g| g.name == name) {
                self.problem(
                    "groups.name",
                    &group.name,
                    format!("group {name:?} is defined twice"),
                );
                continue;
            }
            let networks = self.networks("groups.networks", &group.networks);
            let mut block = CategorySet::EMPTY;
            for id in &group.block {
                match catalogue.id(id.get_ref()) {
                    Some(category) => block.insert(category),
                    None if catalogue.ids().is_empty() => {}
                    None => self.problem(
                        "groups.block",
                        id,
                        format!(
                            "unknown category {:?}; the catalogue has: {}",
                            id.get_ref(),
                            catalogue.ids().join(", ")
                        ),
                    ),
                }
            }
            let schedule = self.schedule(&group, catalogue);
            let allow = self.entries("groups.allow", &group.allow);
            let deny = self.entries("groups.deny", &group.deny);
            let sinkhole_ipv4 = match &group.sinkhole_ipv4 {
                None => Ipv4Addr::UNSPECIFIED,
                Some(value) => value.get_ref().parse().unwrap_or_else(|_| {
                    self.problem(
                        "groups.sinkhole_ipv4",
                        value,
                        format!("{:?} is not an IPv4 address", value.get_ref()),
                    );
                    Ipv4Addr::UNSPECIFIED
                }),
            };
            let sinkhole_ipv6 = match &group.sinkhole_ipv6 {
                None => Ipv6Addr::UNSPECIFIED,
                Some(value) => value.get_ref().parse().unwrap_or_else(|_| {
                    self.problem(
                        "groups.sinkhole_ipv6",
                        value,
                        format!("{:?} is not an IPv6 address", value.get_ref()),
                    );
                    Ipv6Addr::UNSPECIFIED
                }),
            };
            groups.push(GroupConfig {
                name,
                networks,
                block,
                allow,
                deny,
                blocking: group.blocking,
                sinkhole_ipv4,
                sinkhole_ipv6,
                block_ttl: group.block_ttl,
                safe_search: group.safe_search,
                youtube: group.youtube,
                schedule,
                log: group.log,
            });
        }
        if !groups.iter().any(|g| g.name == DEFAULT_GROUP) {
            groups.push(GroupConfig::default_group(catalogue));
        }
        groups
    }

    fn schedule(&mut self, group: &schema::RawGroup, catalogue: &Catalogue) -> Schedule {
        let zone_name = group.timezone.get_ref().trim().to_string();
        let time_zone = match jiff::tz::TimeZone::get(&zone_name) {
            Ok(zone) => zone,
            Err(_) => {
                self.problem(
                    "groups.timezone",
                    &group.timezone,
                    format!(
                        "{zone_name:?} is not a time zone (use a name such as \"Europe/London\")"
                    ),
                );
                jiff::tz::TimeZone::UTC
            }
        };
        let mut rules = Vec::new();
        for raw in &group.schedule {
            let days_text = match raw.days.get_ref() {
                schema::RawDays::One(text) => text.clone(),
                schema::RawDays::Many(list) => list.join(","),
            };
            let days = parse_days(&days_text);
            if days.is_none() {
                self.problem(
                    "groups.schedule.days",
                    &raw.days,
                    format!("{days_text:?} is not a set of days (e.g. \"mon-fri\", \"sat-sun\", \"all\", [\"mon\", \"wed\"])"),
                );
            }
            let clock = |this: &mut Self, key: &str, value: &Spanned<String>| {
                let parsed = parse_clock(value.get_ref());
                if parsed.is_none() {
                    this.problem(
                        key,
                        value,
                        format!(
                            "{:?} is not a time of day (HH:MM, 24-hour)",
                            value.get_ref()
                        ),
                    );
                }
                parsed
            };
            let from = clock(self, "groups.schedule.from", &raw.from);
            let to = clock(self, "groups.schedule.to", &raw.to);
            let mut block = CategorySet::EMPTY;
            for id in &raw.block {
                match catalogue.id(id.get_ref()) {
                    Some(category) => block.insert(category),
                    None => self.problem(
                        "groups.schedule.block",
                        id,
                        format!(
                            "unknown category {:?}; the catalogue has: {}",
                            id.get_ref(),
                            catalogue.ids().join(", ")
                        ),
                    ),
                }
            }
            if raw.block.is_empty() && !raw.block_all {
                self.problem(
                    "groups.schedule",
                    &raw.name,
                    "a rule needs `block` categories or `block_all = true`",
                );
            }
            if let (Some(days), Some(from), Some(to)) = (days, from, to) {
                rules.push(ScheduleRule {
                    name: raw.name.get_ref().clone(),
                    days,
                    from: from.min(1439),
                    to: if to == 1440 { 0 } else { to },
                    block,
                    block_all: raw.block_all,
                });
            }
        }
        if rules.len() > 64 {
            self.problem(
                "groups.schedule",
                &group.name,
                "a group can have at most 64 schedule rules",
            );
            rules.truncate(64);
        }
        Schedule {
            time_zone,
            zone_name,
            rules,
        }
    }

    /// Allow and deny entries: names, optionally written `*.name`.
    fn entries(&mut self, key: &str, values: &[Spanned<String>]) -> Vec<String> {
        let mut out = Vec::new();
        for value in values {
            let text = value.get_ref().trim();
            let text = text.strip_prefix("*.").unwrap_or(text);
            match normalize(text) {
                Ok(name) => out.push(name),
                Err(problem) => {
                    self.problem(key, value, format!("{:?}: {problem}", value.get_ref()))
                }
            }
        }
        out
    }

    fn clients(
        &mut self,
        raw: Vec<schema::RawClient>,
        groups: &[GroupConfig],
    ) -> Vec<ClientConfig> {
        let mut clients: Vec<ClientConfig> = Vec::new();
        for client in raw {
            let address = match client.address.get_ref().parse::<IpAddr>() {
                Ok(address) => address,
                Err(_) => {
                    self.problem(
                        "clients.address",
                        &client.address,
                        format!(
                            "{:?} is not an IP address (a client is one machine)",
                            client.address.get_ref()
                        ),
                    );
                    continue;
                }
            };
            if clients.iter().any(|c| c.address == address) {
                self.problem(
                    "clients.address",
                    &client.address,
                    format!("{address} is listed twice"),
                );
                continue;
            }
            let group = client.group.get_ref().clone();
            if !groups.iter().any(|g| g.name == group) {
                let known: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
                self.problem(
                    "clients.group",
                    &client.group,
                    format!(
                        "unknown group {group:?}; the groups are: {}",
                        known.join(", ")
                    ),
                );
                continue;
            }
            clients.push(ClientConfig {
                name: client.name.get_ref().clone(),
                address,
                group,
            });
        }
        clients
    }

    fn server(&mut self, raw: schema::RawServer) -> ServerConfig {
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

    fn upstream(&mut self, raw: schema::RawUpstream) -> UpstreamConfig {
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
        UpstreamConfig {
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

    fn zones(&mut self, raw: Vec<schema::RawZone>) -> Vec<ZoneConfig> {
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

/// Where a downloaded list is kept: named after its category and URL, so
/// the same URL in two categories is two files.
fn cache_file(cache_dir: &Path, category: &str, url: &str) -> PathBuf {
    let readable: String = url
        .trim_start_matches("https://")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    // FNV-1a keeps two long URLs with the same start apart.
    let hash = url.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    cache_dir.join(format!("{category}--{readable}--{:08x}", hash as u32))
}

fn parse_network(value: &str) -> Result<IpNet, String> {
    if let Ok(net) = value.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    Err(format!(
        "{value:?} is not a network (expected an address or CIDR such as \"10.1.0.0/16\")"
    ))
}

/// Parses `IP`, `IP:port` or `[IPv6]:port`.
pub(crate) fn parse_socket_addr(value: &str, default_port: u16) -> Result<SocketAddr, String> {
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

#[cfg(test)]
mod tests;

/// A webhook address hedge can POST to: http or https, with a host.
fn check_webhook_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{url:?} is not an http:// or https:// address"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || url.chars().any(char::is_whitespace) {
        return Err(format!("{url:?} has no host name, or contains spaces"));
    }
    Ok(())
}

/// `[metrics] listen`: an address and port, or a bare port (`9153` or
/// `:9153`), which means loopback only.
fn parse_metrics_listen(value: &str) -> Result<SocketAddr, String> {
    let value = value.trim();
    let port = value.strip_prefix(':').unwrap_or(value);
    if let Ok(port) = port.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    value.parse::<SocketAddr>().map_err(|_| {
        format!(
            "{value:?} is not an address and port (\"127.0.0.1:9153\", \"[::1]:9153\") or a port"
        )
    })
}
