//! The formats of block lists (`format = "hosts"` in a list source).

use std::fmt;

use serde::Deserialize;

/// The formats hedge reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListFormat {
    /// One name per line.
    Plain,
    /// `0.0.0.0 name [name...]`, as in /etc/hosts.
    Hosts,
    /// `||name^` blocks, `@@||name^` allows; other rules are skipped.
    Adblock,
    /// `*.name`, one per line.
    Wildcard,
    /// A DNS Response Policy Zone file.
    Rpz,
}

impl fmt::Display for ListFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ListFormat::Plain => "plain",
            ListFormat::Hosts => "hosts",
            ListFormat::Adblock => "adblock",
            ListFormat::Wildcard => "wildcard",
            ListFormat::Rpz => "rpz",
        })
    }
}
