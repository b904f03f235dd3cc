//! `hedge central`: the central store many sites ship to, worked from any
//! machine that reaches it. Every command takes `--url URL` (and
//! `--password-file FILE`), or reads `[central] url` and `password_file`
//! from `-c`. Each search, export, alert or exemption listing, report,
//! audit verification, hold and purge is recorded at the centre under the
//! PostgreSQL role that signed in and the OS account that ran the command.

mod audit;
mod holds;
mod init;
mod records;
mod report;
mod search;

use std::future::Future;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use sqlx::PgPool;

use crate::config::Config;
use crate::store::central::CentralAddress;

/// Where the centre is: `--url` (with `--password-file`), or the
/// configuration's `[central]`.
#[derive(Debug, Clone, Default, Args)]
pub struct CentralTarget {
    /// The central PostgreSQL, `postgres://ROLE@HOST/DATABASE?sslmode=verify-full`
    /// (the password from --password-file, PGPASSWORD or ~/.pgpass).
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// A file holding the password for --url.
    #[arg(long, global = true, value_name = "FILE", requires = "url")]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CentralCommand {
    /// Create the central schema (or bring it up to date): the tables, the
    /// query log's day partitions, the hedge_site and hedge_officer roles.
    Init(init::InitArgs),
    /// Apply the central retention: drop the query log's day partitions
    /// past it, sparing rows under a central hold or a site's hold in
    /// force.
    Purge(init::PurgeArgs),
    /// Legal holds placed at the centre: rows they cover outlive the
    /// central retention.
    Hold {
        #[command(subcommand)]
        command: holds::HoldCommand,
    },
    /// Search the query log of every site (or one) with the filters of
    /// `hedge logs search`, newest first. Recorded as a search (a table)
    /// or an export (--json, --csv).
    Search(search::CentralSearchArgs),
    /// Alerts of every site (or one), newest first, with who acknowledged
    /// them and where they were delivered.
    Alerts(records::AlertsArgs),
    /// Every exemption of every site (or one): what, for whom, who asked
    /// and who decided, when, and any revocation.
    Exemptions(records::ExemptionsArgs),
    /// A site's audit trail as shipped to the centre.
    Audit {
        #[command(subcommand)]
        command: audit::CentralAuditCommand,
    },
    /// The report `hedge report` gives, across every site that ships here
    /// (or one, --site), with a table of the sites and their shipping
    /// state; recorded at the centre.
    Report(report::ReportArgs),
}

pub fn run(target: CentralTarget, command: CentralCommand, config: &Path) -> Result<()> {
    match command {
        CentralCommand::Init(args) => init::init(&target, args, config),
        CentralCommand::Purge(args) => init::purge(&target, args, config),
        CentralCommand::Hold { command } => holds::run(&target, command, config),
        CentralCommand::Search(args) => search::run(&target, args, config),
        CentralCommand::Alerts(args) => records::alerts(&target, args, config),
        CentralCommand::Exemptions(args) => records::exemptions(&target, args, config),
        CentralCommand::Audit { command } => audit::run(&target, command, config),
        CentralCommand::Report(args) => report::report(&target, args, config),
    }
}

impl CentralTarget {
    /// The centre's address: from the flags, else the configuration's
    /// `[central]`.
    pub fn address(&self, config: &Path) -> Result<CentralAddress> {
        if let Some(url) = &self.url {
            if let Err(problem) = crate::config::check_url(url) {
                bail!("--url: {problem}");
            }
            return Ok(CentralAddress {
                url: url.clone(),
                password_file: self.password_file.clone(),
            });
        }
        let loaded = Config::load(config).with_context(|| {
            format!(
                "no --url given, and the configuration {} cannot be read for [central]",
                config.display()
            )
        })?;
        match loaded.central {
            Some(central) => Ok(CentralAddress {
                url: central.url,
                password_file: central.password_file,
            }),
            None => bail!(
                "no --url given, and {} has no [central] section",
                config.display()
            ),
        }
    }

    /// The `[central]` settings of `-c`, if it has them (for defaults such
    /// as the central retention).
    pub fn settings(&self, config: &Path) -> Option<crate::config::CentralConfig> {
        Config::load(config).ok().and_then(|c| c.central)
    }

    /// Connects, saying clearly why it could not.
    pub async fn connect(&self, config: &Path) -> Result<PgPool> {
        let address = self.address(config)?;
        Ok(address.connect().await?)
    }
}

/// Runs `future` on a runtime of its own (the command line is otherwise
/// synchronous).
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime starts")
        .block_on(future)
}

/// The OS account running this command, as the system names it (never a
/// name typed on the command line).
pub fn os_user() -> String {
    crate::admin::peer::own_user_name().unwrap_or_else(|| "unknown".to_string())
}
