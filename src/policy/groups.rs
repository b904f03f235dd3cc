//! A group's policy, compiled: the categories it blocks and its own allow
//! and deny entries in a small index of their own.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::config::Schedule;
use crate::config::YoutubeMode;
use crate::config::{BlockingMode, GroupConfig, LogLevel};
use crate::config::{CategoryId, CategorySet};
use crate::filter::{Action, Index, IndexBuilder};

/// In a group's own index, bit 0 of `block` means deny, of `allow` allow.
pub(crate) const OWN: CategoryId = CategoryId(0);

#[derive(Debug)]
pub struct Group {
    /// Shared, so that each query-log entry can name its group cheaply.
    pub name: Arc<str>,
    pub block: CategorySet,
    pub own: OwnEntries,
    pub blocking: BlockingMode,
    pub sinkhole_ipv4: Ipv4Addr,
    pub sinkhole_ipv6: Ipv6Addr,
    pub block_ttl: u32,
    pub safe_search: bool,
    pub youtube: YoutubeMode,
    pub schedule: Schedule,
    pub log: LogLevel,
}

/// A group's allow and deny entries.
pub struct OwnEntries {
    pub index: Index,
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

impl std::fmt::Debug for OwnEntries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnEntries")
            .field("allow", &self.allow)
            .field("deny", &self.deny)
            .finish()
    }
}

impl Group {
    pub fn from_config(config: &GroupConfig) -> Group {
        let mut builder = IndexBuilder::new();
        for name in &config.allow {
            builder.add(name, OWN, &Action::Allow);
        }
        for name in &config.deny {
            builder.add(name, OWN, &Action::Block);
        }
        Group {
            name: config.name.as_str().into(),
            block: config.block,
            own: OwnEntries {
                index: builder.build(),
                allow: config.allow.clone(),
                deny: config.deny.clone(),
            },
            blocking: config.blocking,
            sinkhole_ipv4: config.sinkhole_ipv4,
            sinkhole_ipv6: config.sinkhole_ipv6,
            block_ttl: config.block_ttl,
            safe_search: config.safe_search,
            youtube: config.youtube,
            schedule: config.schedule.clone(),
            log: config.log,
        }
    }
}
