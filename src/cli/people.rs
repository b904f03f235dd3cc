//! `hedge people`: the people who act through hedge (members of staff,
//! approvers, safeguarding leads, administrators), their roles and the OS
//! accounts that act as them; enrolling with a one-time code, and setting
//! up TOTP. Passwords and codes are read from stdin, never from the
//! command line (where other users could see them in the process list).

use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use clap::Subcommand;
use serde::Serialize;

use super::output::{Listing, OutputFlags, print_listing};
use super::running_server::RunningServer;
use crate::admin::AdminRequest;
use crate::policy::Role;
use crate::policy::people::roles_text;
use crate::service::time::{format_local, format_rfc3339};
use crate::service::{Enrolment, TotpSetup};
use crate::store::Person;

const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Subcommand)]
pub enum PeopleCommand {
    /// Add a person; prints their one-time enrolment code (valid 72 hours),
    /// with which they set their own password.
    Add {
        name: String,
        /// staff, approver, safeguarding or admin; repeat for several.
        #[arg(long = "role", value_name = "ROLE", required = true, value_parser = parse_role)]
        roles: Vec<Role>,
        /// The OS account that acts as this person on this machine.
        #[arg(long, value_name = "USER")]
        os_user: Option<String>,
        /// Print {"name": ..., "enrolment_code": ...}.
        #[arg(long)]
        json: bool,
    },
    /// Everyone on record, with their roles (never passwords or codes).
    List {
        #[command(flatten)]
        output: OutputFlags,
    },
    /// Stop a person signing in or acting (their records stay).
    Disable { name: String },
    /// Let a disabled person sign in and act again.
    Enable { name: String },
    /// Clear a person's password and TOTP and print a new enrolment code.
    Reset {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Give a person exactly these roles.
    Roles {
        name: String,
        #[arg(long = "role", value_name = "ROLE", required = true, value_parser = parse_role)]
        roles: Vec<Role>,
    },
    /// Map an OS account to a person (it then acts as them); without
    /// --os-user, no account acts as them any more.
    Map {
        name: String,
        #[arg(long, value_name = "USER")]
        os_user: Option<String>,
    },
    /// Set your password: reads the enrolment code, then the password, one
    /// line each, from stdin.
    Enrol,
    /// Set up TOTP for yourself (the person your OS account acts as):
    /// prints the otpauth:// address for an authenticator app, once.
    Totp { name: String },
    /// Check a person's password as signing in does (stdin: the password,
    /// then the authenticator code if they use TOTP). Failures count
    /// towards the lockout.
    Check { name: String },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text)
}

pub fn run(command: PeopleCommand, config: &Path) -> Result<()> {
    let server = RunningServer::of_file(config, ANSWER_TIMEOUT)?;
    match command {
        PeopleCommand::Add {
            name,
            roles,
            os_user,
            json,
        } => {
            let enrolment: Enrolment = server.call(AdminRequest::PeopleAdd {
                name,
                roles,
                os_user,
            })?;
            print_enrolment(&enrolment, json, "added")?;
        }
        PeopleCommand::List { output } => {
            let people: Vec<Person> = server.call(AdminRequest::PeopleList)?;
            print_listing(people.iter().map(PersonRow::of), output)?;
        }
        PeopleCommand::Disable { name } => {
            let person: Person = server.call(AdminRequest::PeopleDisable { name })?;
            println!(
                "{} is disabled: they can no longer sign in or act",
                person.name
            );
        }
        PeopleCommand::Enable { name } => {
            let person: Person = server.call(AdminRequest::PeopleEnable { name })?;
            println!(
                "{} is enabled again: they can sign in and act with their roles",
                person.name
            );
        }
        PeopleCommand::Reset { name, json } => {
            let enrolment: Enrolment = server.call(AdminRequest::PeopleReset { name })?;
            print_enrolment(
                &enrolment,
                json,
                "reset: their password and TOTP are cleared",
            )?;
        }
        PeopleCommand::Roles { name, roles } => {
            let person: Person = server.call(AdminRequest::PeopleRoles { name, roles })?;
            println!(
                "{} now has the roles {}",
                person.name,
                roles_text(&person.roles)
            );
        }
        PeopleCommand::Map { name, os_user } => {
            let person: Person = server.call(AdminRequest::PeopleMap { name, os_user })?;
            match &person.os_user {
                Some(user) => println!("the OS account {user} now acts as {}", person.name),
                None => println!("no OS account acts as {} now", person.name),
            }
        }
        PeopleCommand::Enrol => {
            let mut lines = std::io::stdin().lock().lines();
            let mut next = |what: &str| -> Result<String> {
                match lines.next() {
                    Some(line) => Ok(line?.trim_end_matches('\r').to_string()),
                    None => bail!(
                        "stdin ended before the {what}: give the enrolment code, then the password, one line each"
                    ),
                }
            };
            let code = next("enrolment code")?;
            let password = next("password")?;
            let person: Person = server.call(AdminRequest::PeopleEnrol { code, password })?;
            println!("{} is enrolled: the password is set", person.name);
        }
        PeopleCommand::Totp { name } => {
            let setup: TotpSetup = server.call(AdminRequest::PeopleTotp { name })?;
            println!(
                "TOTP set up for {}. Add it to an authenticator app now; it is shown only once:",
                setup.name
            );
            println!("{}", setup.url);
            println!("(or type the key by hand: {})", setup.secret);
        }
        PeopleCommand::Check { name } => {
            let mut lines = std::io::stdin().lock().lines();
            let password = lines
                .next()
                .ok_or_else(|| anyhow!("stdin ended before the password"))??;
            let totp = lines
                .next()
                .transpose()?
                .filter(|code| !code.trim().is_empty());
            let person: Person = server.call(AdminRequest::PeopleCheck {
                name,
                password,
                totp,
            })?;
            println!(
                "{}: the password{} is right",
                person.name,
                if person.totp { " and code" } else { "" }
            );
        }
    }
    Ok(())
}

fn print_enrolment(enrolment: &Enrolment, json: bool, done: &str) -> Result<()> {
    if json {
        let shown = serde_json::json!({
            "name": enrolment.name,
            "enrolment_code": enrolment.enrolment_code,
        });
        println!("{}", serde_json::to_string(&shown)?);
        return Ok(());
    }
    println!("{} {done}", enrolment.name);
    println!("enrolment code: {}", enrolment.enrolment_code);
    println!(
        "valid until {} (72 hours), once: give it to {} in person; they set their password with `hedge people enrol`",
        format_local(enrolment.expires_ms),
        enrolment.name
    );
    Ok(())
}

/// One person as listed.
#[derive(Debug, Serialize)]
struct PersonRow<'a> {
    name: &'a str,
    roles: Vec<Role>,
    os_user: Option<&'a str>,
    enrolled: bool,
    totp: bool,
    disabled: bool,
    locked_until: Option<String>,
    enrolment_expires: Option<String>,
    created: String,
}

impl<'a> PersonRow<'a> {
    fn of(person: &'a Person) -> PersonRow<'a> {
        let now = jiff::Timestamp::now().as_millisecond();
        PersonRow {
            name: &person.name,
            roles: person.roles.clone(),
            os_user: person.os_user.as_deref(),
            enrolled: person.enrolled,
            totp: person.totp,
            disabled: person.disabled,
            locked_until: person
                .locked_until_ms
                .filter(|until| *until > now)
                .map(format_rfc3339),
            enrolment_expires: person.enrolment_expires_ms.map(format_rfc3339),
            created: format_rfc3339(person.created_ms),
        }
    }

    fn state(&self) -> &'static str {
        if self.disabled {
            "disabled"
        } else if self.locked_until.is_some() {
            "locked"
        } else if self.enrolled {
            "enrolled"
        } else {
            "waiting to enrol"
        }
    }
}

impl Listing for PersonRow<'_> {
    const TABLE_HEADERS: &'static [&'static str] = &["NAME", "ROLES", "OS USER", "STATE", "TOTP"];
    const CSV_HEADERS: &'static [&'static str] = &[
        "name",
        "roles",
        "os_user",
        "state",
        "totp",
        "locked_until",
        "enrolment_expires",
        "created",
    ];
    const EMPTY: &'static str = "no people yet: add them with `hedge people add NAME --role ROLE`";

    fn table_cells(&self) -> Vec<String> {
        vec![
            self.name.to_string(),
            roles_text(&self.roles).replace(',', ", "),
            self.os_user.unwrap_or("-").to_string(),
            self.state().to_string(),
            if self.totp { "yes" } else { "no" }.to_string(),
        ]
    }

    fn csv_cells(&self) -> Vec<String> {
        vec![
            self.name.to_string(),
            roles_text(&self.roles).replace(',', " "),
            self.os_user.unwrap_or_default().to_string(),
            self.state().to_string(),
            self.totp.to_string(),
            self.locked_until.clone().unwrap_or_default(),
            self.enrolment_expires.clone().unwrap_or_default(),
            self.created.clone(),
        ]
    }
}
