//! `hedge init`: writes a first configuration for a kind of setting from a
//! few answers (flags, or questions at a terminal), then checks it as
//! `hedge config check` does. It never replaces a configuration without
//! `--force`, and then keeps the old one beside it.

use std::io::{BufRead, IsTerminal, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
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
    fn describe(self) -> &'static str {
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
    fn group(self) -> &'static str {
        match self {
            AgeBand::Under11 => "children-under-11",
            AgeBand::From11To15 => "children-11-to-15",
            AgeBand::From16To17 => "young-people-16-17",
        }
    }

    fn parse(text: &str) -> Option<AgeBand> {
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

/// The answers, checked.
#[derive(Debug)]
struct Answers {
    setting: Setting,
    children: Vec<IpNet>,
    age_band: AgeBand,
    devices: Vec<(String, IpAddr, AgeBand)>,
    staff: Vec<IpNet>,
    guests: Vec<IpNet>,
    approvers: Vec<(String, String)>,
    retention_days: u32,
    site: String,
    listen: Vec<String>,
}

/// Writes the configuration to `path` (the global `-c`).
pub fn run(args: InitArgs, path: &Path) -> Result<()> {
    if path.exists() && !args.force {
        bail!(
            "{} already exists; hedge init does not replace a configuration unless given --force (the old one is then kept as {}.bak)",
            path.display(),
            path.display()
        );
    }
    let interactive = !args.no_questions && std::io::stdin().is_terminal();
    let answers = gather(&args, interactive)?;
    let text = render(&answers, &args.data_dir, &args.run_dir);
    write(path, &text, args.force)?;
    println!(
        "wrote {} for {}",
        path.display(),
        answers.setting.describe()
    );
    super::config_check::run(path).with_context(|| {
        format!(
            "the configuration hedge init wrote does not check; please report this ({})",
            path.display()
        )
    })?;
    println!(
        "next: read it through, then `sudo systemctl enable --now hedge hedge-lists-update.timer` and point your DHCP server's DNS at this machine"
    );
    Ok(())
}

fn gather(args: &InitArgs, interactive: bool) -> Result<Answers> {
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

fn networks(flag: &str, values: &[String]) -> Result<Vec<IpNet>> {
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

fn approver(text: &str) -> Result<(String, String)> {
    match text.split_once(',') {
        Some((name, role)) if !name.trim().is_empty() && !role.trim().is_empty() => {
            Ok((name.trim().to_string(), role.trim().to_string()))
        }
        _ => bail!(
            "approver {text:?}: give a name and a role separated by a comma, e.g. \"J. Smith, designated safeguarding lead\""
        ),
    }
}

fn device(text: &str) -> Result<(String, IpAddr, AgeBand)> {
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
    Ok((name.trim().to_string(), ip, band))
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "hedge".to_string())
}

/// A TOML string.
fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| quote(i)).collect();
    format!("[{}]", quoted.join(", "))
}

fn nets(items: &[IpNet]) -> String {
    list(&items.iter().map(ToString::to_string).collect::<Vec<_>>())
}

/// A schedule rule: name, days, from, to, and the categories it blocks
/// (`None`: everything, a bedtime).
type Rule<'a> = (&'a str, &'a str, &'a str, &'a str, Option<&'a [&'a str]>);

/// One `[[groups]]` table.
struct Group<'a> {
    name: &'a str,
    comment: &'a str,
    networks: &'a [IpNet],
    block: &'a [&'a str],
    safe_search: Option<&'a str>,
    blocking: &'a str,
    log: &'a str,
    schedules: &'a [Rule<'a>],
}

fn group(out: &mut String, g: &Group<'_>) {
    let block: Vec<String> = g.block.iter().map(|c| c.to_string()).collect();
    out.push_str(&format!(
        "\n# {}\n[[groups]]\nname = {}\n",
        g.comment,
        quote(g.name)
    ));
    out.push_str(&format!("networks = {}\n", nets(g.networks)));
    out.push_str(&format!("block = {}\n", list(&block)));
    out.push_str("allow = []\ndeny = []\n");
    out.push_str(&format!("blocking = {}\n", quote(g.blocking)));
    match g.safe_search {
        Some(youtube) => out.push_str(&format!(
            "safe_search = true\nyoutube = {}\n",
            quote(youtube)
        )),
        None => out.push_str("safe_search = false\n"),
    }
    out.push_str("timezone = \"Europe/London\"\n");
    out.push_str(&format!("log = {}\n", quote(g.log)));
    for (name, days, from, to, block) in g.schedules {
        out.push_str(&format!(
            "\n[[groups.schedule]]\nname = {}\ndays = {}\nfrom = {}\nto = {}\n",
            quote(name),
            quote(days),
            quote(from),
            quote(to)
        ));
        match block {
            Some(categories) => {
                let categories: Vec<String> = categories.iter().map(|c| c.to_string()).collect();
                out.push_str(&format!("block = {}\n", list(&categories)));
            }
            None => out.push_str("block_all = true\n"),
        }
    }
}

/// Categories every child group blocks, whatever the setting.
const CHILD_SAFEGUARDING: &[&str] = &[
    "pornography",
    "self-harm",
    "violence",
    "extremism",
    "discrimination",
    "drugs",
    "gambling",
    "dating",
    "malware",
    "circumvention",
    "search-no-safesearch",
];

fn with(base: &[&'static str], more: &[&'static str]) -> Vec<&'static str> {
    let mut all = base.to_vec();
    all.extend_from_slice(more);
    all
}

fn render(a: &Answers, data_dir: &Path, run_dir: &Path) -> String {
    let today = jiff::Zoned::now().strftime("%Y-%m-%d").to_string();
    let mut out = format!(
        "# hedge configuration for {site}, {setting}.\n\
         # Written by `hedge init` on {today}. Every setting is explained in\n\
         # /etc/hedge/hedge.example.toml and the README\n\
         # (/usr/share/doc/hedge/README.md). After a change:\n\
         #   hedge config check -c THIS_FILE && sudo systemctl reload hedge\n",
        site = a.site,
        setting = a.setting.describe(),
    );
    out.push_str(&format!(
        "\n[server]\n# Port 53 on every address of this machine. Only the private networks\n# (and loopback) are answered, so hedge is never an open resolver.\nlisten = {}\nrate_limit_qps = 200\n",
        list(&a.listen)
    ));
    out.push_str(
        "\n[upstream]\n# Where hedge sends the questions it does not answer itself, encrypted.\n\
         mode = \"forward\"\n\
         servers = [\n  \"tls://dns.quad9.net@9.9.9.9:853\",\n  \"tls://one.one.one.one@1.1.1.1:853\",\n  \"9.9.9.9:53\",\n]\n\
         cache_size = 10000\nserve_stale = true\n",
    );
    out.push_str(&format!(
        "\n[lists]\n# Public lists are downloaded by `hedge lists update` (daily, by\n# hedge-lists-update.timer) into this directory.\ncache_dir = {}\n",
        quote(&data_dir.join("lists").display().to_string())
    ));
    let categories = [
        "pornography",
        "gambling",
        "drugs",
        "malware",
        "piracy",
        "circumvention",
        "search-no-safesearch",
        "social-networking",
        "video-streaming",
    ];
    out.push_str("\n# The public lists of each category (lists/categories.toml names them).\n# Add [categories.iwf] sources = [\"/etc/hedge/lists/iwf.txt\"] if you\n# receive the IWF list.\n");
    for category in categories {
        out.push_str(&format!(
            "[categories.{category}]\ndefault_sources = true\n"
        ));
    }

    let children = &a.children;
    match a.setting {
        Setting::Primary => {
            group(
                &mut out,
                &Group {
                    name: "pupils",
                    comment: "Pupils' devices: everything unsuitable for primary-age children.",
                    networks: children,
                    block: &with(
                        CHILD_SAFEGUARDING,
                        &["social-networking", "piracy", "games"],
                    ),
                    safe_search: Some("strict"),
                    blocking: "sinkhole",
                    log: "full",
                    schedules: &[],
                },
            );
        }
        Setting::Secondary => {
            group(
                &mut out,
                &Group {
                    name: "pupils",
                    comment: "Pupils' devices. Social networks, games and video are blocked in lessons.",
                    networks: children,
                    block: &with(CHILD_SAFEGUARDING, &["piracy"]),
                    safe_search: Some("moderate"),
                    blocking: "sinkhole",
                    log: "full",
                    schedules: &[(
                        "lessons",
                        "mon-fri",
                        "08:30",
                        "15:30",
                        Some(&["social-networking", "games", "video-streaming"]),
                    )],
                },
            );
        }
        Setting::Pru => {
            group(
                &mut out,
                &Group {
                    name: "pupils",
                    comment: "Pupils' devices: the strictest school set; video only outside lessons.",
                    networks: children,
                    block: &with(
                        CHILD_SAFEGUARDING,
                        &["social-networking", "piracy", "games"],
                    ),
                    safe_search: Some("strict"),
                    blocking: "sinkhole",
                    log: "full",
                    schedules: &[(
                        "lessons",
                        "mon-fri",
                        "09:00",
                        "15:00",
                        Some(&["video-streaming"]),
                    )],
                },
            );
        }
        Setting::Foster => {
            let band_nets = |band: AgeBand| -> Vec<IpNet> {
                if band == a.age_band {
                    children.clone()
                } else {
                    Vec::new()
                }
            };
            group(
                &mut out,
                &Group {
                    name: AgeBand::Under11.group(),
                    comment: "Children under 11: nothing unsuitable; nothing at all at bedtime.",
                    networks: &band_nets(AgeBand::Under11),
                    block: &with(
                        CHILD_SAFEGUARDING,
                        &["social-networking", "piracy", "games"],
                    ),
                    safe_search: Some("strict"),
                    blocking: "sinkhole",
                    log: "full",
                    schedules: &[("bedtime", "all", "19:30", "07:00", None)],
                },
            );
            group(
                &mut out,
                &Group {
                    name: AgeBand::From11To15.group(),
                    comment: "Children 11 to 15: bedtime on school nights.",
                    networks: &band_nets(AgeBand::From11To15),
                    block: &with(CHILD_SAFEGUARDING, &["piracy"]),
                    safe_search: Some("strict"),
                    blocking: "sinkhole",
                    log: "full",
                    schedules: &[("bedtime", "sun-thu", "21:30", "07:00", None)],
                },
            );
            group(
                &mut out,
                &Group {
                    name: AgeBand::From16To17.group(),
                    comment: "Young people 16 and 17: the safeguarding categories; no bedtime rule.",
                    networks: &band_nets(AgeBand::From16To17),
                    block: &[
                        "pornography",
                        "self-harm",
                        "extremism",
                        "gambling",
                        "malware",
                        "search-no-safesearch",
                    ],
                    safe_search: Some("moderate"),
                    blocking: "sinkhole",
                    log: "full",
                    schedules: &[],
                },
            );
        }
    }
    let (adults, adults_comment) = if a.setting == Setting::Foster {
        (
            "carers",
            "Carers' devices: malware and illegal content only; only blocked queries are logged.",
        )
    } else {
        (
            "staff",
            "Staff devices: adult content, gambling and malware; only blocked queries are logged.",
        )
    };
    group(
        &mut out,
        &Group {
            name: adults,
            comment: adults_comment,
            networks: &a.staff,
            block: if a.setting == Setting::Foster {
                &["malware"]
            } else {
                &["pornography", "gambling", "malware"]
            },
            safe_search: None,
            blocking: "sinkhole",
            log: "blocked",
            schedules: &[],
        },
    );
    if !a.guests.is_empty() {
        group(
            &mut out,
            &Group {
                name: "guests",
                comment: "Guests and visitors.",
                networks: &a.guests,
                block: &[
                    "pornography",
                    "gambling",
                    "circumvention",
                    "malware",
                    "piracy",
                ],
                safe_search: Some("moderate"),
                blocking: "nxdomain",
                log: "blocked",
                schedules: &[],
            },
        );
    }
    out.push_str(
        "\n# Devices not in any network above are in the \"default\" group, which\n# blocks every safeguarding category.\n",
    );
    for (name, ip, band) in &a.devices {
        out.push_str(&format!(
            "\n[[clients]]\nname = {}\naddress = {}\ngroup = {}\n",
            quote(name),
            quote(&ip.to_string()),
            quote(band.group())
        ));
    }
    out.push_str(
        "\n# Who may approve exemptions (`hedge exempt approve ID --by NAME`). An\n# approver never approves their own request; max_days caps an exemption.\n",
    );
    for (name, role) in &a.approvers {
        out.push_str(&format!(
            "[[approvers]]\nname = {}\nrole = {}\nmax_days = 7\nmay_bypass = false\nmay_file_and_approve = false\n\n",
            quote(name),
            quote(role)
        ));
    }
    out.push_str(&format!(
        "[admin]\nsocket = {}\ngroup = \"hedge-admin\"\n\n[logging]\ndatabase = {}\nretention_days = {}\n\n[reports]\nsite = {}\n",
        quote(&run_dir.join("admin.sock").display().to_string()),
        quote(&data_dir.join("hedge.db").display().to_string()),
        a.retention_days,
        quote(&a.site),
    ));
    out
}

/// Writes `text` to `path` readable by its owner and group only, through a
/// temporary file; an existing file (with `force`) is kept as `.bak`.
fn write(path: &Path, text: &str, force: bool) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let temp = path.with_extension("toml.new");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .open(&temp)
        .with_context(|| format!("cannot write {}", temp.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    // The server (user hedge, in hedge-admin) and the people who run the
    // hedge commands may read it; nobody else.
    chgrp_admin(&temp);
    if path.exists() {
        if !force {
            let _ = std::fs::remove_file(&temp);
            bail!("{} appeared meanwhile; not replaced", path.display());
        }
        let backup = PathBuf::from(format!("{}.bak", path.display()));
        std::fs::rename(path, &backup)
            .with_context(|| format!("cannot keep the old file as {}", backup.display()))?;
        println!("kept the old configuration as {}", backup.display());
    }
    std::fs::rename(&temp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn chgrp_admin(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(name) = std::ffi::CString::new("hedge-admin") else {
        return;
    };
    let Ok(cpath) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return;
    };
    // SAFETY: getgrnam returns a pointer into static storage or null; chown
    // with uid -1 changes only the group (allowed to root, or to an owner
    // who is in the group).
    unsafe {
        let group = libc::getgrnam(name.as_ptr());
        if !group.is_null() {
            libc::chown(cpath.as_ptr(), u32::MAX, (*group).gr_gid);
        }
    }
}
