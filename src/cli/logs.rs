//! `hedge logs`: searching and exporting the query log, retention, legal
//! holds, and who has looked. Everything goes through the running server,
//! which records each search with the OS user who ran it.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use hickory_proto::rr::RecordType;
use ipnet::IpNet;
use serde_json::{Value, json};

use super::ConfigArg;
use super::output::{JsonArray, Table, csv_record};
use super::time::{format_local, format_local_time, format_rfc3339, parse_age, parse_time};
use crate::admin::{AdminRequest, call, call_streaming};
use crate::config::Config;
use crate::store::{
    AccessKind, AccessRecord, Action, HoldRequest, LegalHold, LogFilter, NamePattern, PurgeReport,
    StoredQuery,
};

/// How long to wait for each line of an answer: a purge of a large log on
/// a Raspberry Pi takes a while.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);

/// Rows a table shows unless `--limit` or `--all` says otherwise.
const TABLE_ROWS: u64 = 100;

#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Search the query log, newest first: who asked for what, when, from
    /// which machine, and what hedge did.
    Search(SearchArgs),
    /// Delete rows older than `[logging] retention_days` now (the server
    /// does this every hour by itself); rows under a legal hold are kept.
    Purge {
        #[command(flatten)]
        config: ConfigArg,
        /// Only say what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
    /// Legal holds: keep a client's rows for a period past retention.
    Hold {
        #[command(subcommand)]
        command: HoldCommand,
    },
    /// Who searched or exported the query log, when, for what.
    Access {
        #[command(flatten)]
        config: ConfigArg,
        /// From this time (see `logs search --from`); default: 30 days ago.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// At most this many records.
        #[arg(long, default_value_t = 100)]
        limit: u64,
        #[command(flatten)]
        format: FormatArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Keep every row of a client (an address or network) in a period
    /// until the hold is released, whatever retention says.
    Add {
        #[command(flatten)]
        config: ConfigArg,
        /// The client's address or network, e.g. 10.1.2.34 or 10.1.2.0/24.
        #[arg(long, value_name = "CIDR")]
        client: String,
        /// Start of the period (RFC 3339, a date, or an age such as 30d).
        #[arg(long, value_name = "TIME")]
        from: String,
        /// End of the period; a time in the future also keeps rows yet to
        /// come.
        #[arg(long, value_name = "TIME")]
        to: String,
        /// Why: an investigation reference, in a few words.
        #[arg(long)]
        reason: String,
        /// Who placed the hold (a person, e.g. the safeguarding lead).
        #[arg(long, value_name = "PERSON")]
        by: String,
    },
    /// Holds in force (and released ones with --all).
    List {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// Release a hold: its rows then age out under retention.
    Release {
        #[command(flatten)]
        config: ConfigArg,
        id: i64,
        #[arg(long, value_name = "PERSON")]
        by: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Args)]
pub struct FormatArgs {
    /// Print one JSON array.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV with a header row (for a spreadsheet).
    #[arg(long)]
    csv: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    config: ConfigArg,
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
    format: FormatArgs,
}

pub fn run(command: LogsCommand) -> Result<()> {
    match command {
        LogsCommand::Search(args) => search(args),
        LogsCommand::Purge { config, dry_run } => purge(&config.path, dry_run),
        LogsCommand::Hold { command } => hold(command),
        LogsCommand::Access {
            config,
            since,
            limit,
            format,
        } => access(&config.path, since.as_deref(), limit, &format),
    }
}

fn time_ms(text: &str, option: &str) -> Result<i64> {
    parse_time(text)
        .map(|t| t.as_millisecond())
        .map_err(|e| anyhow::anyhow!("{option}: {e}"))
}

pub(super) fn client_net(text: &str) -> Result<IpNet> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(IpNet::from(ip.to_canonical()));
    }
    text.parse::<IpNet>()
        .map(|net| net.trunc())
        .map_err(|_| anyhow::anyhow!("--client {text:?} is not an IP address or network"))
}

/// Turns the options into a filter, checking group and category names
/// against the configuration so a typo is an error, not an empty result.
fn filter(args: &SearchArgs, config: &Config) -> Result<LogFilter> {
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
    let exporting = args.format.json || args.format.csv;
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
        limit,
    })
}

fn type_name(qtype: u16) -> String {
    RecordType::from(qtype).to_string()
}

/// The response code as dig shows it.
fn rcode_name(rcode: u16) -> String {
    match rcode {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        16 => "BADVERS".into(),
        other => format!("RCODE{other}"),
    }
}

fn upstream_ms(row: &StoredQuery) -> Option<f64> {
    row.upstream_us.map(|us| f64::from(us) / 1000.0)
}

/// "1", or "12 to 14:02:21" for a row of repeats.
fn times_asked(row: &StoredQuery) -> String {
    match row.last_ms {
        Some(last) if row.times > 1 => format!("{} to {}", row.times, format_local_time(last)),
        _ => row.times.to_string(),
    }
}

fn row_json(row: &StoredQuery) -> Value {
    json!({
        "time": format_rfc3339(row.at_ms),
        "time_ms": row.at_ms,
        "client": row.client.to_string(),
        "client_name": row.client_name,
        "group": row.group,
        "name": row.name,
        "type": type_name(row.qtype),
        "action": row.action,
        "category": row.category,
        "rule": row.rule,
        "rcode": rcode_name(row.rcode),
        "upstream_ms": upstream_ms(row),
        "times": row.times,
        "last_time": row.last_ms.map(format_rfc3339),
    })
}

const CSV_HEADER: &[&str] = &[
    "time",
    "client",
    "client_name",
    "group",
    "name",
    "type",
    "action",
    "category",
    "rule",
    "rcode",
    "upstream_ms",
    "times",
    "last_time",
];

fn row_csv(row: &StoredQuery) -> String {
    let fields = [
        format_rfc3339(row.at_ms),
        row.client.to_string(),
        row.client_name.clone().unwrap_or_default(),
        row.group.clone().unwrap_or_default(),
        row.name.clone(),
        type_name(row.qtype),
        row.action.to_string(),
        row.category.clone().unwrap_or_default(),
        row.rule.clone().unwrap_or_default(),
        rcode_name(row.rcode),
        upstream_ms(row)
            .map(|ms| format!("{ms:.1}"))
            .unwrap_or_default(),
        row.times.to_string(),
        row.last_ms.map(format_rfc3339).unwrap_or_default(),
    ];
    csv_record(&fields.iter().map(String::as_str).collect::<Vec<_>>())
}

fn search(args: SearchArgs) -> Result<()> {
    let config = Config::load(&args.config.path)?;
    let filter = filter(&args, &config)?;
    let kind = if args.format.csv {
        AccessKind::ExportCsv
    } else if args.format.json {
        AccessKind::ExportJson
    } else {
        AccessKind::Search
    };
    let request = AdminRequest::LogSearch {
        filter: filter.clone(),
        kind,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let rows_of = |value: Value| -> std::io::Result<Vec<StoredQuery>> {
        serde_json::from_value(value).map_err(std::io::Error::other)
    };
    match kind {
        AccessKind::ExportCsv => {
            writeln!(out, "{}", csv_record(CSV_HEADER))?;
            call_streaming(&config.admin.socket, &request, ANSWER_TIMEOUT, |part| {
                for row in rows_of(part)? {
                    writeln!(out, "{}", row_csv(&row))?;
                }
                Ok(())
            })?;
            out.flush()?;
        }
        AccessKind::ExportJson => {
            let mut array = JsonArray::start(&mut out)?;
            call_streaming(&config.admin.socket, &request, ANSWER_TIMEOUT, |part| {
                for row in rows_of(part)? {
                    array.push(&row_json(&row))?;
                }
                Ok(())
            })?;
            array.finish()?;
        }
        AccessKind::Search | AccessKind::Report | AccessKind::Incident => {
            let mut table = Table::new(&[
                "TIME", "CLIENT", "GROUP", "ACTION", "TYPE", "NAME", "CATEGORY", "RULE", "TIMES",
            ]);
            call_streaming(&config.admin.socket, &request, ANSWER_TIMEOUT, |part| {
                for row in rows_of(part)? {
                    let client = match &row.client_name {
                        Some(name) => format!("{} ({name})", row.client),
                        None => row.client.to_string(),
                    };
                    table.push(vec![
                        format_local(row.at_ms),
                        client,
                        row.group.clone().unwrap_or_default(),
                        row.action.to_string(),
                        type_name(row.qtype),
                        row.name.clone(),
                        row.category.clone().unwrap_or_default(),
                        row.rule.clone().unwrap_or_default(),
                        times_asked(&row),
                    ]);
                }
                Ok(())
            })?;
            if table.is_empty() {
                eprintln!("no query-log rows match");
            } else {
                table.print(&mut out)?;
                out.flush()?;
            }
        }
    }
    Ok(())
}

fn purge(config_path: &Path, dry_run: bool) -> Result<()> {
    let config = Config::load(config_path)?;
    let value = call(
        &config.admin.socket,
        &AdminRequest::LogPurge { dry_run },
        ANSWER_TIMEOUT,
    )?;
    let report: PurgeReport = serde_json::from_value(value)?;
    println!(
        "retention: {} days; rows from before {} are expired",
        report.retention_days,
        format_local(report.cutoff_ms)
    );
    let spared = if report.held > 0 {
        format!(", {} of them kept under legal hold", report.held)
    } else {
        String::new()
    };
    if report.dry_run {
        println!(
            "{} expired rows{spared}; {} would be deleted (nothing was deleted: --dry-run)",
            report.expired,
            report.expired - report.held
        );
    } else {
        println!(
            "{} expired rows{spared}; {} deleted",
            report.expired, report.deleted
        );
    }
    if let Some(why) = &report.interrupted {
        println!("the purge stopped early: {why}; the next hourly run goes on");
    }
    match report.oldest_ms {
        Some(ms) => println!("oldest row kept: {}", format_local(ms)),
        None => println!("the query log is empty"),
    }
    Ok(())
}

fn hold(command: HoldCommand) -> Result<()> {
    match command {
        HoldCommand::Add {
            config,
            client,
            from,
            to,
            reason,
            by,
        } => {
            let config = Config::load(&config.path)?;
            let hold = HoldRequest {
                client: client_net(&client)?,
                from_ms: time_ms(&from, "--from")?,
                to_ms: time_ms(&to, "--to")?,
                reason,
                by,
            };
            hold.check().map_err(anyhow::Error::msg)?;
            let value = call(
                &config.admin.socket,
                &AdminRequest::HoldAdd { hold },
                ANSWER_TIMEOUT,
            )?;
            let placed: LegalHold = serde_json::from_value(value)?;
            println!(
                "legal hold {} placed: rows of {} from {} to {} are kept until it is released",
                placed.id,
                placed.client,
                format_local(placed.from_ms),
                format_local(placed.to_ms)
            );
        }
        HoldCommand::List {
            config,
            all,
            format,
        } => {
            let config = Config::load(&config.path)?;
            let value = call(
                &config.admin.socket,
                &AdminRequest::HoldList { all },
                ANSWER_TIMEOUT,
            )?;
            let holds: Vec<LegalHold> = serde_json::from_value(value)?;
            print_holds(&holds, &format)?;
        }
        HoldCommand::Release {
            config,
            id,
            by,
            reason,
        } => {
            let config = Config::load(&config.path)?;
            let value = call(
                &config.admin.socket,
                &AdminRequest::HoldRelease { id, by, reason },
                ANSWER_TIMEOUT,
            )?;
            let released: LegalHold = serde_json::from_value(value)?;
            println!(
                "legal hold {} on {} released: its rows now age out under retention",
                released.id, released.client
            );
        }
    }
    Ok(())
}

fn print_holds(holds: &[LegalHold], format: &FormatArgs) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let released = |h: &LegalHold| {
        h.released_ms.map(|ms| {
            format!(
                "released {} by {} ({})",
                format_local(ms),
                h.released_by.as_deref().unwrap_or("?"),
                h.release_reason.as_deref().unwrap_or("")
            )
        })
    };
    if format.json {
        let mut array = JsonArray::start(&mut out)?;
        for hold in holds {
            let mut value = serde_json::to_value(hold)?;
            value["from"] = json!(format_rfc3339(hold.from_ms));
            value["to"] = json!(format_rfc3339(hold.to_ms));
            value["placed"] = json!(format_rfc3339(hold.placed_ms));
            array.push(&value)?;
        }
        array.finish()?;
    } else if format.csv {
        writeln!(
            out,
            "{}",
            csv_record(&[
                "id",
                "client",
                "from",
                "to",
                "reason",
                "placed_by",
                "placed_user",
                "placed",
                "released",
                "released_by",
                "release_reason",
            ])
        )?;
        for h in holds {
            writeln!(
                out,
                "{}",
                csv_record(&[
                    &h.id.to_string(),
                    &h.client,
                    &format_rfc3339(h.from_ms),
                    &format_rfc3339(h.to_ms),
                    &h.reason,
                    &h.placed_by,
                    &h.placed_user,
                    &format_rfc3339(h.placed_ms),
                    &h.released_ms.map(format_rfc3339).unwrap_or_default(),
                    h.released_by.as_deref().unwrap_or(""),
                    h.release_reason.as_deref().unwrap_or(""),
                ])
            )?;
        }
    } else if holds.is_empty() {
        eprintln!("no legal holds");
    } else {
        let mut table = Table::new(&[
            "ID",
            "CLIENT",
            "FROM",
            "TO",
            "PLACED BY",
            "STATUS",
            "REASON",
        ]);
        for h in holds {
            table.push(vec![
                h.id.to_string(),
                h.client.clone(),
                format_local(h.from_ms),
                format_local(h.to_ms),
                format!("{} ({})", h.placed_by, h.placed_user),
                released(h).unwrap_or_else(|| "in force".into()),
                h.reason.clone(),
            ]);
        }
        table.print(&mut out)?;
    }
    Ok(())
}

fn access(config_path: &Path, since: Option<&str>, limit: u64, format: &FormatArgs) -> Result<()> {
    let config = Config::load(config_path)?;
    let since_ms = match since {
        Some(text) => time_ms(text, "--since")?,
        None => jiff::Timestamp::now().as_millisecond() - 30 * 86_400_000,
    };
    let value = call(
        &config.admin.socket,
        &AdminRequest::LogAccess { since_ms, limit },
        ANSWER_TIMEOUT,
    )?;
    let records: Vec<AccessRecord> = serde_json::from_value(value)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if format.json {
        let mut array = JsonArray::start(&mut out)?;
        for record in &records {
            let mut value = serde_json::to_value(record)?;
            value["time"] = json!(format_rfc3339(record.at_ms));
            value["filters"] = serde_json::from_str(&record.filters).unwrap_or(Value::Null);
            array.push(&value)?;
        }
        array.finish()?;
    } else if format.csv {
        writeln!(
            out,
            "{}",
            csv_record(&["time", "user", "uid", "kind", "rows", "filters"])
        )?;
        for r in &records {
            writeln!(
                out,
                "{}",
                csv_record(&[
                    &format_rfc3339(r.at_ms),
                    &r.os_user,
                    &r.uid.to_string(),
                    &r.kind,
                    &r.rows.to_string(),
                    &r.filters,
                ])
            )?;
        }
    } else if records.is_empty() {
        eprintln!("nobody searched the query log in that period");
    } else {
        let mut table = Table::new(&["TIME", "USER", "KIND", "ROWS", "FILTERS"]);
        for r in &records {
            table.push(vec![
                format_local(r.at_ms),
                r.os_user.clone(),
                r.kind.clone(),
                r.rows.to_string(),
                r.filters.clone(),
            ]);
        }
        table.print(&mut out)?;
    }
    Ok(())
}
