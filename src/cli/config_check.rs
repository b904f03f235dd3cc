//! `hedge config check`: everything `serve` would check before answering,
//! without binding a socket.

use std::path::Path;

use anyhow::Result;

use crate::config::{Config, UpstreamMode};
use crate::dns::upstream::read_root_hints;
use crate::dns::zones::LocalZones;

pub fn run(path: &Path) -> Result<()> {
    let config = Config::load(path)?;
    let zones = LocalZones::load(&config.zones)?;
    if config.upstream.mode == UpstreamMode::Recursive {
        read_root_hints(&config.upstream.root_hints.display().to_string())?;
    }
    let upstream = match config.upstream.mode {
        UpstreamMode::Forward => {
            format!("forwarding to {} server(s)", config.upstream.servers.len())
        }
        UpstreamMode::Recursive => "recursive from the root".to_string(),
    };
    println!(
        "{}: valid ({} listen address(es), {upstream}, {} local zone(s))",
        path.display(),
        config.server.listen.len(),
        zones.len()
    );
    Ok(())
}
