//! `hedge config check`: everything `serve` would check before answering,
//! without binding a socket.

use std::path::Path;

use anyhow::Result;

use crate::config::{Config, UpstreamMode};
use crate::dns::upstream::read_root_hints;
use crate::dns::zones::LocalZones;
use crate::policy::Snapshot;

pub fn run(path: &Path) -> Result<()> {
    let config = Config::load(path)?;
    let zones = LocalZones::load(&config.zones)?;
    let policy = Snapshot::build(&config)?;
    if config.upstream.mode == UpstreamMode::Recursive {
        read_root_hints(&config.upstream.root_hints.display().to_string())?;
    }
    let upstream = match config.upstream.mode {
        UpstreamMode::Forward => {
            format!("forwarding to {} server(s)", config.upstream.servers.len())
        }
        UpstreamMode::Recursive => "recursive from the root".to_string(),
    };
    let waiting = policy.reports.iter().filter(|r| r.not_downloaded).count();
    println!(
        "{}: valid ({} listen address(es), {upstream}, {} local zone(s), {} group(s), {} names from {} list file(s){})",
        path.display(),
        config.server.listen.len(),
        zones.len(),
        policy.groups.len(),
        policy.index.len(),
        policy.reports.len() - waiting,
        if waiting > 0 {
            format!("; {waiting} URL source(s) not downloaded yet")
        } else {
            String::new()
        }
    );
    Ok(())
}
