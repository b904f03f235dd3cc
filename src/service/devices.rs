//! Devices known by their MAC address: the list of devices seen, with the
//! name and group policy gives each now, and following the DHCP lease
//! files for their host names.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{Service, ServiceError};
use crate::config::Mac;
use crate::policy::leases::parse_leases;

/// How often the lease files are looked at (a `stat` each); one is read
/// again only when its time or size has changed. DHCP servers rewrite
/// their files in place or by rename, and both show here.
const LEASE_CHECK: Duration = Duration::from_secs(2);

/// A device seen asking, as `hedge devices list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub mac: Mac,
    /// The address it last asked from.
    pub address: IpAddr,
    /// The address before that, if it has moved.
    pub last_address: Option<IpAddr>,
    /// The host name it gave its DHCP server.
    pub dhcp_name: Option<String>,
    /// The name a `[[clients]]` entry gives it, by MAC or by address.
    pub configured_name: Option<String>,
    /// Its group now, by the client rules.
    pub group: String,
    pub first_ms: i64,
    pub last_ms: i64,
}

impl Device {
    /// The name to show: the configured one, else the DHCP one.
    pub fn name(&self) -> Option<&str> {
        self.configured_name
            .as_deref()
            .or(self.dhcp_name.as_deref())
    }
}

impl Service {
    /// Every device seen, most recently seen first, with the name and
    /// group the configuration in force gives it.
    pub async fn devices(&self) -> Result<Vec<Device>, ServiceError> {
        let stored = self.storage.get()?.devices().await?;
        let policy = self.handler.policy();
        Ok(stored
            .into_iter()
            .map(|device| {
                let who = policy.identify(device.address, Some(device.mac));
                Device {
                    mac: device.mac,
                    address: device.address,
                    last_address: device.last_address,
                    dhcp_name: device.dhcp_name,
                    configured_name: who.name.map(str::to_string),
                    group: policy.groups[who.group].name.to_string(),
                    first_ms: device.first_ms,
                    last_ms: device.last_ms,
                }
            })
            .collect())
    }

    /// Reads the lease files of the configuration in force (a reload may
    /// change them) whenever one changes, until `shutdown`, recording the
    /// host names they give. A line that cannot be read is logged with its
    /// file and line; the rest of the file still counts.
    pub async fn follow_leases(self: Arc<Self>, shutdown: CancellationToken) {
        let mut seen: HashMap<PathBuf, (SystemTime, u64)> = HashMap::new();
        let mut missing: HashSet<PathBuf> = HashSet::new();
        let mut tick = tokio::time::interval(LEASE_CHECK);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let config = self.handler.config();
            for path in &config.devices.dhcp_leases {
                let stamp = match tokio::fs::metadata(path).await {
                    Ok(meta) => (
                        meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                        meta.len(),
                    ),
                    Err(error) => {
                        if missing.insert(path.clone()) {
                            warn!("DHCP lease file {}: {error}", path.display());
                        }
                        continue;
                    }
                };
                missing.remove(path);
                if seen.get(path) == Some(&stamp) {
                    continue;
                }
                let text = match tokio::fs::read_to_string(path).await {
                    Ok(text) => text,
                    Err(error) => {
                        warn!("DHCP lease file {}: {error}", path.display());
                        continue;
                    }
                };
                let (format, leases, problems) = parse_leases(&text);
                for problem in &problems {
                    warn!(
                        "DHCP lease file {}:{}: {}",
                        path.display(),
                        problem.line,
                        problem.message
                    );
                }
                let stored = match self.storage.get() {
                    Ok(db) => db.set_dhcp_names(&leases, crate::store::now_ms()).await,
                    Err(error) => Err(error),
                };
                match stored {
                    Ok(()) => {
                        seen.insert(path.clone(), stamp);
                        info!(
                            "DHCP lease file {} ({}): {} named device(s)",
                            path.display(),
                            format.as_str(),
                            leases.len()
                        );
                    }
                    // Tried again at the next look.
                    Err(error) => warn!("DHCP lease file {}: {error}", path.display()),
                }
            }
        }
    }
}
