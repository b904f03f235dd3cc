//! The flags of `hedge init`, and reading the values they are given.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Result, bail};
use ipnet::IpNet;

/// The kinds of setting hedge has defaults for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Setting {
    /// A primary school (pupils 4 to 11).
    Primary,
    /// A secondary school (pupils 11 to 18).
    Secondary,
    /// A pupil referral unit or alternative provision.
    Pru,
    /// A foster home (children by age band, and carers).
    Foster,
}

impl Setting {
    pub fn describe(self) -> &'static str {
        match self {
            Setting::Primary => "a primary school",
            Setting::Secondary => "a secondary school",
            Setting::Pru => "a pupil referral unit",
            Setting::Foster => "a foster home",
        }
    }
}

/// A foster child's age band: which group their devices are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AgeBand {
    #[value(name = "under-11")]
    Under11,
    #[value(name = "11-15")]
    From11To15,
    #[value(name = "16-17")]
    From16To17,
}

impl AgeBand {
    pub fn group(self) -> &'static str {
        match self {
            AgeBand::Under11 => "children-under-11",
            AgeBand::From11To15 => "children-11-to-15",
            AgeBand::From16To17 => "young-people-16-17",
        }
    }

    pub fn parse(text: &str) -> Option<AgeBand> {
        <AgeBand as clap::ValueEnum>::from_str(text.trim(), true).ok()
    }
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The kind of setting.
    #[arg(long, value_enum)]
    pub setting: Option<Setting>,
    /// A network of pupils' or children's devices, e.g. 192.168.1.0/24
    /// (repeat for several).
    #[arg(long = "children-network", value_name = "CIDR")]
    pub children_networks: Vec<String>,
    /// Foster homes: the age band of the children's networks.
    #[arg(long = "age-band", value_enum, default_value = "11-15")]
    pub age_band: AgeBand,
    /// Foster homes: one child's device, as NAME=IP:BAND, e.g.
    /// "Sam's tablet=192.168.1.50:under-11" (repeat for several).
    #[arg(long = "device", value_name = "NAME=IP:BAND")]
    pub devices: Vec<String>,
    /// A network of staff (or carers') devices (repeat for several).
    #[arg(long = "staff-network", value_name = "CIDR")]
    pub staff_networks: Vec<String>,
    /// A network for guests and visitors (repeat for several).
    #[arg(long = "guest-network", value_name = "CIDR")]
    pub guest_networks: Vec<String>,
    /// Who may approve exemptions, as "NAME, ROLE" (repeat for several).
    #[arg(long = "approver", value_name = "NAME, ROLE")]
    pub approvers: Vec<String>,
    /// Days the query log keeps a query.
    #[arg(long = "retention-days", value_name = "DAYS")]
    pub retention_days: Option<u32>,
    /// What reports call the site (default: this machine's name).
    #[arg(long)]
    pub site: Option<String>,
    /// Addresses to answer DNS on (default: port 53 on every address).
    #[arg(long = "listen", value_name = "ADDR:PORT")]
    pub listen: Vec<String>,
    /// Where the database and downloaded lists go.
    #[arg(
        long = "data-dir",
        default_value = "/var/lib/hedge",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,
    /// Where the admin socket goes.
    #[arg(long = "run-dir", default_value = "/run/hedge", value_name = "DIR")]
    pub run_dir: PathBuf,
    /// Replace an existing configuration (kept as FILE.bak).
    #[arg(long)]
    pub force: bool,
    /// Ask nothing: every answer must come from the flags.
    #[arg(long = "no-questions")]
    pub no_questions: bool,
}

/// Someone who may approve exemptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approver {
    pub name: String,
    pub role: String,
}

/// A foster child's device: its name, address and age band.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub name: String,
    pub address: IpAddr,
    pub band: AgeBand,
}

pub fn networks(flag: &str, values: &[String]) -> Result<Vec<IpNet>> {
    values
        .iter()
        .map(|value| {
            value
                .parse::<IpNet>()
                .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| {
                    anyhow::anyhow!("{flag} {value:?} is not a network such as 192.168.1.0/24")
                })
        })
        .collect()
}

pub fn approver(text: &str) -> Result<Approver> {
    match text.split_once(',') {
        Some((name, role)) if !name.trim().is_empty() && !role.trim().is_empty() => Ok(Approver {
            name: name.trim().to_string(),
            role: role.trim().to_string(),
        }),
        _ => bail!(
            "approver {text:?}: give a name and a role separated by a comma, e.g. \"J. Smith, designated safeguarding lead\""
        ),
    }
}

pub fn device(text: &str) -> Result<Device> {
    let fail = || {
        anyhow::anyhow!(
            "--device {text:?}: give NAME=IP:BAND, e.g. \"Sam's tablet=192.168.1.50:under-11\" (bands: under-11, 11-15, 16-17)"
        )
    };
    let (name, rest) = text.rsplit_once('=').ok_or_else(fail)?;
    let (ip, band) = rest.rsplit_once(':').ok_or_else(fail)?;
    let ip: IpAddr = ip
        .trim()
        .trim_matches(['[', ']'])
        .parse()
        .map_err(|_| fail())?;
    let band = AgeBand::parse(band).ok_or_else(fail)?;
    if name.trim().is_empty() {
        return Err(fail());
    }
    Ok(Device {
        name: name.trim().to_string(),
        address: ip,
        band,
    })
}
