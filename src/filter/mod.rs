//! Filtering data: list parsers, the category catalogue, and the compiled
//! index of names to categories. Everything here is built off the DNS path
//! and immutable once built.

pub mod builtin;
pub mod download;
pub mod index;
pub mod parse;
pub mod sources;

// The catalogue and name normalisation are configuration (config/).
pub use crate::config::{Catalogue, Category, CategoryId, CategorySet, ListFormat, normalize};
pub use index::{Index, IndexBuilder, Match, Matches, Verdict};
pub use parse::{Action, ListEntry, ParseReport, RpzAction, SkipReason};
