//! `hedge logs search`: the query log, filtered, as a table or an export
//! (JSON or CSV, every matching row unless limited), streamed as the
//! server sends it.

use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;

use super::{ANSWER_TIMEOUT, client_net, time_ms};
use crate::admin::AdminRequest;
use crate::cli::output::{Listing, ListingWriter, OutputFlags, OutputFormat};
use crate::cli::running_server::RunningServer;
use crate::cli::time::parse_age;
use crate::config::Config;
use crate::service::logs::{CSV_HEADERS, csv_cells, rcode_name, type_name, upstream_ms};
use crate::service::time::{format_local, format_local_time, format_rfc3339};
use crate::store::{AccessKind, Action, LogFilter, NamePattern, StoredQuery};

/// Rows a table shows unless `--limit` or `--all` says otherwise.
const TABLE_ROWS: u64 = 100;

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// A name (exact), or `*.example.com` for the name and everything
    /// below it.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// From this time: 2026-03-01T09:00:00Z, 2026-03-01 (local midnight),
    /// "2026-03-01 09:00" (local), or an age such as 2h.
    #[arg(long, value_name = "TIME", conflicts_with = "since")]
    from: Option<String>,
    /// Before this time (same forms).
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// The last period: 30m, 2h, 3d, 1w.
    #[arg(long, value_name = "AGE")]
    since: Option<String>,
    /// A client address or network (10.1.2.34, 10.1.2.0/24, fd00::/64).
    #[arg(long, value_name = "IP|CIDR")]
    client: Option<String>,
    /// One device by its MAC address (aa:bb:cc:dd:ee:ff), whatever
    /// address it had.
    #[arg(long, value_name = "MAC")]
    mac: Option<crate::config::Mac>,
    /// Only clients in this group.
    #[arg(long)]
    group: Option<String>,
    /// allowed, blocked, rewritten, local or refused.
    #[arg(long)]
    action: Option<String>,
    /// Only queries blocked in this category.
    #[arg(long)]
    category: Option<String>,
    /// At most this many rows, newest first (tables default to 100; JSON
    /// and CSV exports to every row).
    #[arg(long, conflicts_with = "all")]
    limit: Option<u64>,
    /// Every matching row.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    output: OutputFlags,
}

impl SearchArgs {
    /// How the rows are to be printed.
    pub(crate) fn output(&self) -> OutputFlags {
        self.output
    }
}

/// Turns the options into a filter, checking group and category names
/// against the configuration so a typo is an error, not an empty result.
fn filter(args: &SearchArgs, config: &Config) -> Result<LogFilter> {
    if let Some(group) = &args.group
        && !config.groups.iter().any(|g| &g.name == group)
    {
        let known: Vec<_> = config.groups.iter().map(|g| g.name.as_str()).collect();
        bail!(
            "--group {group:?} is not a group; the configuration has: {}",
            known.join(", ")
        );
    }
    if let Some(category) = &args.category
        && config.lists.catalogue.id(category).is_none()
    {
        bail!(
            "--category {category:?} is not a category; the catalogue has: {}",
            config.lists.catalogue.ids().join(", ")
        );
    }
    unchecked_filter(args)
}

/// Turns the options into a filter without a configuration to check group
/// and category names against (the centre's sites each have their own).
pub(crate) fn unchecked_filter(args: &SearchArgs) -> Result<LogFilter> {
    let from_ms = match (&args.from, &args.since) {
        (Some(from), _) => Some(time_ms(from, "--from")?),
        (None, Some(since)) => {
            let age = parse_age(since).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
            Some(
                jiff::Timestamp::now()
                    .checked_sub(age)
                    .context("--since reaches too far back")?
                    .as_millisecond(),
            )
        }
        (None, None) => None,
    };
    let to_ms = args.to.as_deref().map(|t| time_ms(t, "--to")).transpose()?;
    if let (Some(from), Some(to)) = (from_ms, to_ms)
        && to <= from
    {
        bail!("--to is not after --from: the period is empty");
    }
    let action = args
        .action
        .as_deref()
        .map(|a| {
            Action::parse(a).ok_or_else(|| {
                anyhow::anyhow!(
                    "--action {a:?} is not an action: use allowed, blocked, rewritten, local or refused"
                )
            })
        })
        .transpose()?;
    let exporting = args.output.json || args.output.csv;
    let limit = match (args.limit, args.all) {
        (Some(limit), _) => Some(limit),
        (None, true) => None,
        (None, false) if exporting => None,
        (None, false) => Some(TABLE_ROWS),
    };
    Ok(LogFilter {
        name: args
            .name
            .as_deref()
            .map(NamePattern::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        from_ms,
        to_ms,
        client: args.client.as_deref().map(client_net).transpose()?,
        group: args.group.clone(),
        action,
        category: args.category.clone(),
        mac: args.mac,
        limit,
    })
}

/// A query-log row as searched or exported: times in RFC 3339 (and the
/// row's milliseconds), the type and response code by name, the upstream
/// time in milliseconds.
#[derive(Serialize)]
pub(crate) struct QueryRow {
    time: String,
    time_ms: i64,
    client: String,
    /// The configured name of the client (never the name a device gave
    /// DHCP, which is `dhcp_name`).
    client_name: Option<String>,
    /// The device's MAC address, when hedge knew it.
    mac: Option<String>,
    /// The host name the device gave its DHCP server.
    dhcp_name: Option<String>,
    group: Option<String>,
    name: String,
    #[serde(rename = "type")]
    qtype: String,
    action: Action,
    category: Option<String>,
    rule: Option<String>,
    rcode: String,
    upstream_ms: Option<f64>,
    times: u32,
    last_time: Option<String>,
    #[serde(skip)]
    last_ms: Option<i64>,
    /// The row as its CSV export writes it.
    #[serde(skip)]
    csv: Vec<String>,
}

impl QueryRow {
    /// "1", or "12 to 14:02:21" for a row of repeats.
    fn times_asked(&self) -> String {
        match self.last_ms {
            Some(last) if self.times > 1 => {
                format!("{} to {}", self.times, format_local_time(last))
            }
            _ => self.times.to_string(),
        }
    }
}

impl From<StoredQuery> for QueryRow {
    fn from(query: StoredQuery) -> QueryRow {
        QueryRow {
            csv: csv_cells(&query),
            time: format_rfc3339(query.at_ms),
            time_ms: query.at_ms,
            client: query.client.to_string(),
            qtype: type_name(query.qtype),
            rcode: rcode_name(query.rcode),
            upstream_ms: upstream_ms(&query),
            last_time: query.last_ms.map(format_rfc3339),
            last_ms: query.last_ms,
            times: query.times,
            action: query.action,
            client_name: query.client_name,
            mac: query.mac.map(|mac| mac.to_string()),
            dhcp_name: query.dhcp_name,
            group: query.group,
            name: query.name,
            category: query.category,
            rule: query.rule,
        }
    }
}

impl Listing for QueryRow {
    const TABLE_HEADERS: &'static [&'static str] = &[
        "TIME", "CLIENT", "GROUP", "ACTION", "TYPE", "NAME", "CATEGORY", "RULE", "TIMES",
    ];
    const CSV_HEADERS: &'static [&'static str] = CSV_HEADERS;
    const EMPTY: &'static str = "no query-log rows match";

    fn table_cells(&self) -> Vec<String> {
        // The device's name and MAC address beside its address.
        let dhcp = self
            .dhcp_name
            .as_ref()
            .map(|name| format!("{name} [DHCP name]"));
        let client = match (self.client_name.as_ref().or(dhcp.as_ref()), &self.mac) {
            (Some(name), Some(mac)) => format!("{} ({name}, {mac})", self.client),
            (Some(name), None) => format!("{} ({name})", self.client),
            (None, Some(mac)) => format!("{} ({mac})", self.client),
            (None, None) => self.client.clone(),
        };
        vec![
            format_local(self.time_ms),
            client,
            self.group.clone().unwrap_or_default(),
            self.action.to_string(),
            self.qtype.clone(),
            self.name.clone(),
            self.category.clone().unwrap_or_default(),
            self.rule.clone().unwrap_or_default(),
            self.times_asked(),
        ]
    }

    fn csv_cells(&self) -> Vec<String> {
        self.csv.clone()
    }
}

pub(super) fn run(args: SearchArgs, config_path: &Path) -> Result<()> {
    let config = Config::load(config_path)?;
    let filter = filter(&args, &config)?;
    let format = args.output.format();
    let kind = match format {
        OutputFormat::Csv => AccessKind::ExportCsv,
        OutputFormat::Json => AccessKind::ExportJson,
        OutputFormat::Table => AccessKind::Search,
    };
    let server = RunningServer::of(&config, ANSWER_TIMEOUT);
    let stdout = std::io::stdout();
    let mut listing = ListingWriter::start(std::io::BufWriter::new(stdout.lock()), format)?;
    let _: serde::de::IgnoredAny = server.call_streaming(
        AdminRequest::LogSearch { filter, kind },
        |part: Vec<StoredQuery>| {
            for query in part {
                listing.push(&QueryRow::from(query))?;
            }
            Ok(())
        },
    )?;
    listing.finish()?;
    Ok(())
}
