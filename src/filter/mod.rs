//! Filtering data: list parsers, the category catalogue, and the compiled
//! index of names to categories. Everything here is built off the DNS path
//! and immutable once built.

pub mod builtin;
pub mod catalogue;
pub mod download;
pub mod index;
pub mod name;
pub mod parse;
pub mod sources;

pub use catalogue::{Catalogue, Category, CategoryId, CategorySet};
pub use index::{Index, IndexBuilder, Match, Matches, Verdict};
pub use name::normalize;
pub use parse::{Action, ListEntry, ListFormat, ParseReport, RpzAction, SkipReason};
