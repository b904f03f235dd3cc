//! hedge: a DNS filtering resolver for schools, pupil referral units and
//! foster homes.
//!
//! A query travels one way: `dns` receives it, decides nothing itself, and
//! answers it from a local zone or through the upstream path. `config` is the
//! only part that reads the configuration file; `cli` is the command line.

pub mod admin;
pub mod cli;
pub mod config;
pub mod dns;
pub mod filter;
pub mod policy;
pub mod service;
pub mod store;
pub mod web;
