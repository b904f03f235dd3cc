//! `hedge lists stats` (what each category's lists hold) and
//! `hedge lists update` (download URL sources, then reload the server).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde::Serialize;

use super::running_server::RunningServer;
use crate::admin::AdminRequest;
use crate::config::Config;
use crate::filter::sources::load;
use crate::service::Reloaded;
use crate::service::time::format_time;

#[derive(Debug, Serialize)]
struct CategoryStats {
    category: String,
    mandatory: bool,
    sources: usize,
    not_downloaded: usize,
    names: u64,
    skipped: BTreeMap<String, u64>,
    /// Entries naming a path below a host, which DNS cannot enforce.
    url_paths: u64,
    last_update: Option<String>,
}

pub fn stats(config_path: &Path, json: bool) -> Result<()> {
    let config = Config::load(config_path)?;
    let loaded = load(&config.lists).context("cannot load the lists")?;
    let catalogue = &config.lists.catalogue;
    let mut rows: Vec<CategoryStats> = Vec::new();
    for (id, category) in catalogue.all() {
        let reports: Vec<_> = loaded.reports.iter().filter(|r| r.category == id).collect();
        let mut skipped = BTreeMap::new();
        for report in &reports {
            for (reason, count) in &report.parse.skipped {
                *skipped.entry(reason.to_string()).or_insert(0) += count;
            }
        }
        let newest: Option<SystemTime> = reports.iter().filter_map(|r| r.modified).max();
        rows.push(CategoryStats {
            category: category.id.clone(),
            mandatory: category.mandatory,
            sources: config
                .lists
                .sources
                .iter()
                .filter(|s| s.category == id)
                .count(),
            not_downloaded: reports.iter().filter(|r| r.not_downloaded).count(),
            names: reports.iter().map(|r| r.parse.entries).sum(),
            url_paths: reports.iter().map(|r| r.parse.url_paths()).sum(),
            skipped,
            last_update: newest.map(format_time),
        });
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:<22} {:>7} {:>10} {:>9} {:>9}  LAST UPDATE",
        "CATEGORY", "SOURCES", "NAMES", "SKIPPED", "URL-PATHS"
    );
    for row in &rows {
        let skipped: u64 = row.skipped.values().sum();
        let flag = if row.mandatory { " (mandatory)" } else { "" };
        println!(
            "{:<22} {:>7} {:>10} {:>9} {:>9}  {}{}",
            row.category,
            row.sources,
            row.names,
            skipped,
            row.url_paths,
            row.last_update.as_deref().unwrap_or("-"),
            flag
        );
    }
    println!(
        "\n{} distinct names in the index ({} bytes)",
        loaded.index.len(),
        loaded.index.memory_bytes()
    );
    for row in &rows {
        for (reason, count) in &row.skipped {
            println!("{}: {count} line(s) skipped: {reason}", row.category);
        }
        if row.mandatory && row.url_paths > 0 {
            println!(
                "{}: {} entries name a path below a host; DNS can only block whole hosts, so these are NOT enforced",
                row.category, row.url_paths
            );
        }
        if row.not_downloaded > 0 {
            println!(
                "{}: {} URL source(s) not downloaded yet: run `hedge lists update`",
                row.category, row.not_downloaded
            );
        }
    }
    for report in &loaded.reports {
        for (line, reason) in &report.parse.examples {
            println!("  e.g. {}:{line}: {reason}", report.file.display());
        }
    }
    Ok(())
}

/// Downloads the URL sources, then asks the running server (if any) to
/// reload them.
pub fn update(config_path: &Path) -> Result<()> {
    use crate::filter::download::{Fetched, update_all};
    let config = Config::load(config_path)?;
    let outcomes = update_all(&config.lists).map_err(anyhow::Error::msg)?;
    if outcomes.is_empty() {
        println!("no https:// list sources are configured");
    }
    let mut failed = 0;
    for (url, outcome) in &outcomes {
        match outcome {
            Fetched::Updated { entries, bytes } => {
                println!("updated    {url} ({entries} entries, {bytes} bytes)")
            }
            Fetched::Unchanged => println!("unchanged  {url}"),
            Fetched::Failed(why) => {
                failed += 1;
                println!("FAILED     {url}: {why} (the previous copy is kept)");
            }
        }
    }
    let server = RunningServer::of(&config, super::control::RELOAD_TIMEOUT);
    let reload = AdminRequest::Reload {
        cause: Some("lists update".into()),
    };
    match server.call::<Reloaded>(reload) {
        Ok(reloaded) => println!(
            "server reloaded: {} names in force",
            reloaded.summary.index_names
        ),
        Err(crate::admin::AdminClientError::NotRunning { .. }) => {
            println!("hedge is not running; it will use these lists when it starts")
        }
        Err(error) => {
            return Err(anyhow::anyhow!(
                "the lists were stored but the reload failed: {error}"
            ));
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} downloads failed", outcomes.len());
    }
    Ok(())
}
