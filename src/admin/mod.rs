//! The admin socket: a Unix socket speaking one JSON object per line, through
//! which the `hedge` commands change and inspect the running server. It is a
//! transport onto [`crate::service`]: the server checks the peer's
//! credentials on every connection, serves only root, its own user and
//! members of the configured admin group, and passes the peer's account to
//! each operation as the one who acts. The metrics endpoint (Prometheus
//! text over HTTP) is here too: another way in for an operator's tools.

pub mod client;
mod dispatch;
pub mod metrics;
pub mod peer;
pub mod protocol;
pub mod server;

pub use client::{AdminClientError, call, call_streaming};
pub use protocol::{AdminRequest, AdminResponse};
