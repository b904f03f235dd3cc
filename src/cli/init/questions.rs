//! The answers `hedge init` needs: from the flags, and at a terminal by
//! asking for what the flags left out.

use std::io::{BufRead, Write};

use anyhow::{Result, bail};
use ipnet::IpNet;

use super::args::{AgeBand, Approver, Device, InitArgs, Setting, approver, device, networks};

/// The answers, checked.
#[derive(Debug)]
pub struct Answers {
    pub setting: Setting,
    pub children: Vec<IpNet>,
    pub age_band: AgeBand,
    pub devices: Vec<Device>,
    pub staff: Vec<IpNet>,
    pub guests: Vec<IpNet>,
    pub approvers: Vec<Approver>,
    pub retention_days: u32,
    pub site: String,
    pub listen: Vec<String>,
}

/// Writes the configuration to `path` (the global `-c`).
/// The answers: from `args`, and (when `interactive`) by asking on the
/// terminal for those the flags left out.
pub fn gather(args: &InitArgs, interactive: bool) -> Result<Answers> {
    let mut input = std::io::stdin().lock();
    let mut ask = |question: &str| -> Result<String> {
        print!("{question} ");
        std::io::stdout().flush()?;
        let mut line = String::new();
        input.read_line(&mut line)?;
        Ok(line.trim().to_string())
    };
    let setting = match args.setting {
        Some(setting) => setting,
        None if interactive => loop {
            let answer = ask("What kind of setting is this? (primary, secondary, pru, foster)")?;
            match <Setting as clap::ValueEnum>::from_str(&answer, true) {
                Ok(setting) => break setting,
                Err(_) => println!("  please answer primary, secondary, pru or foster"),
            }
        },
        None => bail!("--setting is needed (primary, secondary, pru or foster)"),
    };
    let who = if setting == Setting::Foster {
        "children's"
    } else {
        "pupils'"
    };
    let mut children = networks("--children-network", &args.children_networks)?;
    if children.is_empty() && args.devices.is_empty() {
        if !interactive {
            bail!(
                "--children-network is needed: the network of the {who} devices, e.g. 192.168.1.0/24"
            );
        }
        loop {
            let answer = ask(&format!(
                "The network of the {who} devices (e.g. 192.168.1.0/24; several separated by spaces):"
            ))?;
            let list: Vec<String> = answer.split_whitespace().map(str::to_string).collect();
            match networks("network", &list) {
                Ok(nets) if !nets.is_empty() => {
                    children = nets;
                    break;
                }
                Ok(_) => println!("  at least one network is needed"),
                Err(error) => println!("  {error}"),
            }
        }
    }
    let mut age_band = args.age_band;
    if setting == Setting::Foster && interactive && !children.is_empty() {
        loop {
            let answer = ask(
                "The age band of the children on that network (under-11, 11-15, 16-17; Enter for 11-15):",
            )?;
            if answer.is_empty() {
                break;
            }
            match AgeBand::parse(&answer) {
                Some(band) => {
                    age_band = band;
                    break;
                }
                None => println!("  please answer under-11, 11-15 or 16-17"),
            }
        }
    }
    let devices = args
        .devices
        .iter()
        .map(|d| device(d))
        .collect::<Result<Vec<_>>>()?;
    if !devices.is_empty() && setting != Setting::Foster {
        bail!(
            "--device is for foster homes (a child's device and age band); schools name devices in [[clients]]"
        );
    }
    let mut staff = networks("--staff-network", &args.staff_networks)?;
    if staff.is_empty() && interactive {
        let who = if setting == Setting::Foster {
            "carers'"
        } else {
            "staff"
        };
        let answer = ask(&format!(
            "The network of {who} devices, if they have their own (Enter to skip):"
        ))?;
        let list: Vec<String> = answer.split_whitespace().map(str::to_string).collect();
        staff = networks("network", &list)?;
    }
    let guests = networks("--guest-network", &args.guest_networks)?;
    let mut approvers = args
        .approvers
        .iter()
        .map(|a| approver(a))
        .collect::<Result<Vec<_>>>()?;
    if approvers.is_empty() {
        if !interactive {
            bail!(
                "--approver is needed at least once, as \"NAME, ROLE\" (e.g. \"J. Smith, designated safeguarding lead\"): who may approve exemptions"
            );
        }
        loop {
            let answer = ask(
                "Who may approve exemptions? \"NAME, ROLE\", e.g. \"J. Smith, head teacher\" (Enter when done):",
            )?;
            if answer.is_empty() {
                if approvers.is_empty() {
                    println!("  at least one approver is needed");
                    continue;
                }
                break;
            }
            match approver(&answer) {
                Ok(a) => approvers.push(a),
                Err(error) => println!("  {error}"),
            }
        }
    }
    let retention_days = match args.retention_days {
        Some(days) => days,
        None if interactive => loop {
            let answer = ask("Days to keep the query log (Enter for 90):")?;
            if answer.is_empty() {
                break 90;
            }
            match answer.parse::<u32>() {
                Ok(days) if (1..=crate::config::MAX_RETENTION_DAYS).contains(&days) => break days,
                _ => println!(
                    "  a number of days from 1 to {}",
                    crate::config::MAX_RETENTION_DAYS
                ),
            }
        },
        None => 90,
    };
    if !(1..=crate::config::MAX_RETENTION_DAYS).contains(&retention_days) {
        bail!(
            "--retention-days {retention_days} is out of range: from 1 to {} days",
            crate::config::MAX_RETENTION_DAYS
        );
    }
    let site = match &args.site {
        Some(site) => site.clone(),
        None => {
            let host = hostname();
            if interactive {
                let answer = ask(&format!(
                    "What should reports call this site? (Enter for {host:?})"
                ))?;
                if answer.is_empty() { host } else { answer }
            } else {
                host
            }
        }
    };
    let listen = if args.listen.is_empty() {
        vec!["0.0.0.0:53".to_string(), "[::]:53".to_string()]
    } else {
        for addr in &args.listen {
            addr.parse::<std::net::SocketAddr>().map_err(|_| {
                anyhow::anyhow!(
                    "--listen {addr:?} is not an address and port such as 192.168.1.2:53"
                )
            })?;
        }
        args.listen.clone()
    };
    Ok(Answers {
        setting,
        children,
        age_band,
        devices,
        staff,
        guests,
        approvers,
        retention_days,
        site,
        listen,
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "hedge".to_string())
}
