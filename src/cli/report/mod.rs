//! `hedge report`: the command (its arguments, asking the server, writing
//! the file). The report's shapes are rendered by [`crate::service::report`],
//! which the web console shares.

mod command;

pub use command::{ReportArgs, run};
pub(crate) use command::{end_time, write_private};
