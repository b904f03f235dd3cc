//! Every operation a person or an operator performs, and what its answer
//! is rendered with, shared by every transport (the admin socket, the web
//! console) and by the command line.

pub mod inert;
pub mod report;
pub mod table;
pub mod time;
