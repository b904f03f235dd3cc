//! Filtering data: list parsers, downloads, and the compiled index of names
//! to categories (the catalogue's numbering, which `config` reads). Everything
//! here is built off the DNS path and immutable once built.

pub mod builtin;
pub mod download;
pub mod index;
pub mod parse;
pub mod sources;

pub use index::{Index, IndexBuilder, Match, Matches, Verdict};
pub use parse::{Action, ListEntry, ParseReport, RpzAction, SkipReason};
