//! The admin socket: a Unix socket speaking one JSON object per line, through
//! which the `hedge` commands change and inspect the running server. The
//! server checks the peer's credentials on every connection and serves only
//! root, its own user and members of the configured admin group.

pub mod alerts;
pub mod client;
pub mod incidents;
pub mod metrics;
pub mod peer;
pub mod protocol;
pub mod server;

pub use client::{AdminClientError, call, call_streaming};
pub use protocol::{AdminRequest, AdminResponse, ReloadReport, StatusReport};
