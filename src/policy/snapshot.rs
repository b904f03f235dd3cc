//! The one immutable snapshot a query reads: the index, the groups, the
//! clients and the catalogue, built together off the DNS path and swapped
//! in whole.

use std::net::IpAddr;
use std::time::SystemTime;

use crate::config::{Catalogue, Mac};
use crate::config::{Config, built_in_safe_search};
use crate::filter::Index;
use crate::filter::sources::{LoadError, SourceReport, load};

use super::clients::{Client, ClientTable};
use super::groups::Group;
use crate::config::SafeSearch;

pub struct Snapshot {
    pub catalogue: Catalogue,
    pub index: Index,
    pub groups: Vec<Group>,
    pub clients: ClientTable,
    pub safe_search: SafeSearch,
    /// What each list source contributed.
    pub reports: Vec<SourceReport>,
    pub built_at: SystemTime,
}

impl Snapshot {
    /// Reads every list and compiles the policy of `config`.
    pub fn build(config: &Config) -> Result<Snapshot, LoadError> {
        let loaded = load(&config.lists)?;
        Ok(Snapshot::assemble(config, loaded.index, loaded.reports))
    }

    /// A snapshot from an index built elsewhere (tests, benchmarks).
    pub fn assemble(config: &Config, index: Index, reports: Vec<SourceReport>) -> Snapshot {
        Snapshot {
            catalogue: config.lists.catalogue.clone(),
            index,
            groups: config.groups.iter().map(Group::from_config).collect(),
            clients: ClientTable::new(&config.groups, &config.clients, &config.devices),
            safe_search: built_in_safe_search(),
            reports,
            built_at: SystemTime::now(),
        }
    }

    /// The client at `ip`, whose MAC address is `mac` when hedge knows it
    /// (see [`ClientTable::identify`] for the order of the rules).
    pub fn identify(&self, ip: IpAddr, mac: Option<Mac>) -> Client<'_> {
        self.clients.identify(ip, mac)
    }

    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.groups.iter().position(|g| &*g.name == name)
    }
}
