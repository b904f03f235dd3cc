//! The configuration file `hedge init` writes: the groups each kind of
//! setting starts with, rendered through `templates/init.toml` (checked
//! when hedge is compiled).

use std::path::Path;

use anyhow::Result;
use askama::Template;
use ipnet::IpNet;

use super::args::{AgeBand, Approver, Device, Setting};
use super::questions::Answers;

/// The whole file: `templates/init.toml` with these values.
#[derive(Template)]
#[template(path = "init.toml", escape = "none")]
struct ConfigFile<'a> {
    site: &'a str,
    /// The kind of setting, in words.
    setting: &'static str,
    /// The date it was written, for its first comment.
    today: String,
    listen: &'a [String],
    /// `[web] listen`: port 8443 on the first address DNS is served on.
    web_listen: String,
    lists_dir: String,
    /// Categories whose public lists are switched on.
    categories: &'static [&'static str],
    groups: Vec<Group>,
    devices: &'a [Device],
    approvers: &'a [Approver],
    admin_socket: String,
    database: String,
    retention_days: u32,
}

/// One `[[groups]]` table.
struct Group {
    name: &'static str,
    /// One line above the table saying who it is for.
    comment: &'static str,
    networks: Vec<IpNet>,
    block: Vec<&'static str>,
    /// `Some(YouTube mode)` turns safe search on.
    safe_search: Option<&'static str>,
    blocking: &'static str,
    log: &'static str,
    schedules: Vec<Rule>,
}

/// A `[[groups.schedule]]` rule.
struct Rule {
    name: &'static str,
    days: &'static str,
    from: &'static str,
    to: &'static str,
    /// The categories it blocks; `None`: everything (a bedtime).
    block: Option<&'static [&'static str]>,
}

/// The values the template can write.
mod filters {
    /// `value` as a TOML value: text quoted (and escaped) as a TOML string,
    /// a list as an inline array, a number as it is.
    #[askama::filter_fn]
    pub fn toml<T: serde::Serialize>(value: T, _: &dyn askama::Values) -> askama::Result<String> {
        ::toml::Value::try_from(value)
            .map(|value| value.to_string())
            .map_err(askama::Error::custom)
    }
}

/// Categories whose public lists a new configuration downloads.
const CATEGORIES: &[&str] = &[
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

/// The groups of the children (or pupils) for `a.setting`.
fn children_groups(a: &Answers) -> Vec<Group> {
    let children = &a.children;
    match a.setting {
        Setting::Primary => vec![Group {
            name: "pupils",
            comment: "Pupils' devices: everything unsuitable for primary-age children.",
            networks: children.clone(),
            block: with(
                CHILD_SAFEGUARDING,
                &["social-networking", "piracy", "games"],
            ),
            safe_search: Some("strict"),
            blocking: "sinkhole",
            log: "full",
            schedules: Vec::new(),
        }],
        Setting::Secondary => vec![Group {
            name: "pupils",
            comment: "Pupils' devices. Social networks, games and video are blocked in lessons.",
            networks: children.clone(),
            block: with(CHILD_SAFEGUARDING, &["piracy"]),
            safe_search: Some("moderate"),
            blocking: "sinkhole",
            log: "full",
            schedules: vec![Rule {
                name: "lessons",
                days: "mon-fri",
                from: "08:30",
                to: "15:30",
                block: Some(&["social-networking", "games", "video-streaming"]),
            }],
        }],
        Setting::Pru => vec![Group {
            name: "pupils",
            comment: "Pupils' devices: the strictest school set; video only outside lessons.",
            networks: children.clone(),
            block: with(
                CHILD_SAFEGUARDING,
                &["social-networking", "piracy", "games"],
            ),
            safe_search: Some("strict"),
            blocking: "sinkhole",
            log: "full",
            schedules: vec![Rule {
                name: "lessons",
                days: "mon-fri",
                from: "09:00",
                to: "15:00",
                block: Some(&["video-streaming"]),
            }],
        }],
        Setting::Foster => {
            let band_nets = |band: AgeBand| -> Vec<IpNet> {
                if band == a.age_band {
                    children.clone()
                } else {
                    Vec::new()
                }
            };
            vec![
                Group {
                    name: AgeBand::Under11.group(),
                    comment: "Children under 11: nothing unsuitable; nothing at all at bedtime.",
                    networks: band_nets(AgeBand::Under11),
                    block: with(
                        CHILD_SAFEGUARDING,
                        &["social-networking", "piracy", "games"],
                    ),
                    safe_search: Some("strict"),
                    blocking: "sinkhole",
                    log: "full",
                    schedules: vec![Rule {
                        name: "bedtime",
                        days: "all",
                        from: "19:30",
                        to: "07:00",
                        block: None,
                    }],
                },
                Group {
                    name: AgeBand::From11To15.group(),
                    comment: "Children 11 to 15: bedtime on school nights.",
                    networks: band_nets(AgeBand::From11To15),
                    block: with(CHILD_SAFEGUARDING, &["piracy"]),
                    safe_search: Some("strict"),
                    blocking: "sinkhole",
                    log: "full",
                    schedules: vec![Rule {
                        name: "bedtime",
                        days: "sun-thu",
                        from: "21:30",
                        to: "07:00",
                        block: None,
                    }],
                },
                Group {
                    name: AgeBand::From16To17.group(),
                    comment: "Young people 16 and 17: the safeguarding categories; no bedtime rule.",
                    networks: band_nets(AgeBand::From16To17),
                    block: vec![
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
                    schedules: Vec::new(),
                },
            ]
        }
    }
}

/// Staff (or carers), then guests if they have a network.
fn adult_groups(a: &Answers) -> Vec<Group> {
    let foster = a.setting == Setting::Foster;
    let mut groups = vec![Group {
        name: if foster { "carers" } else { "staff" },
        comment: if foster {
            "Carers' devices: malware and illegal content only; only blocked queries are logged."
        } else {
            "Staff devices: adult content, gambling and malware; only blocked queries are logged."
        },
        networks: a.staff.clone(),
        block: if foster {
            vec!["malware"]
        } else {
            vec!["pornography", "gambling", "malware"]
        },
        safe_search: None,
        blocking: "sinkhole",
        log: "blocked",
        schedules: Vec::new(),
    }];
    if !a.guests.is_empty() {
        groups.push(Group {
            name: "guests",
            comment: "Guests and visitors.",
            networks: a.guests.clone(),
            block: vec![
                "pornography",
                "gambling",
                "circumvention",
                "malware",
                "piracy",
            ],
            safe_search: Some("moderate"),
            blocking: "nxdomain",
            log: "blocked",
            schedules: Vec::new(),
        });
    }
    groups
}

/// The console's address: port 8443 on the first address DNS is served
/// on (every address, when that is `0.0.0.0` or `[::]`).
fn web_listen(listen: &[String]) -> String {
    let ip = listen
        .iter()
        .find_map(|addr| addr.parse::<std::net::SocketAddr>().ok())
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |addr| addr.ip());
    std::net::SocketAddr::new(ip, 8443).to_string()
}

/// The configuration file for `answers`, keeping its data under
/// `data_dir` and its admin socket in `run_dir`.
pub fn render(answers: &Answers, data_dir: &Path, run_dir: &Path) -> Result<String> {
    let mut groups = children_groups(answers);
    groups.extend(adult_groups(answers));
    let file = ConfigFile {
        site: &answers.site,
        setting: answers.setting.describe(),
        today: jiff::Zoned::now().strftime("%Y-%m-%d").to_string(),
        listen: &answers.listen,
        web_listen: web_listen(&answers.listen),
        lists_dir: data_dir.join("lists").display().to_string(),
        categories: CATEGORIES,
        groups,
        devices: &answers.devices,
        approvers: &answers.approvers,
        admin_socket: run_dir.join("admin.sock").display().to_string(),
        database: data_dir.join("hedge.db").display().to_string(),
        retention_days: answers.retention_days,
    };
    Ok(file.render()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(setting: Setting) -> Answers {
        Answers {
            setting,
            children: vec!["192.168.1.0/25".parse().unwrap()],
            age_band: AgeBand::Under11,
            devices: vec![Device {
                name: "Sam's \"tablet\"".into(),
                address: "192.168.1.50".parse().unwrap(),
                band: AgeBand::From16To17,
            }],
            staff: vec!["192.168.1.200/32".parse().unwrap()],
            guests: Vec::new(),
            approvers: vec![Approver {
                name: "J. Smith".into(),
                role: "head teacher\nand DSL".into(),
            }],
            retention_days: 30,
            site: "St 'Quoted' \"School\"".into(),
            listen: vec!["[::]:53".into()],
        }
    }

    #[test]
    fn every_setting_renders_toml_with_its_values_quoted() {
        for setting in [
            Setting::Primary,
            Setting::Secondary,
            Setting::Pru,
            Setting::Foster,
        ] {
            let text = render(&answers(setting), Path::new("/d"), Path::new("/r")).unwrap();
            assert!(text.ends_with("\n") && !text.ends_with("\n\n"), "{text}");
            let config: toml::Table = text.parse().unwrap();
            assert_eq!(
                config["reports"]["site"].as_str(),
                Some("St 'Quoted' \"School\"")
            );
            assert_eq!(config["web"]["listen"].as_str(), Some("[::]:8443"));
            assert_eq!(
                config["approvers"][0]["role"].as_str(),
                Some("head teacher\nand DSL")
            );
            assert_eq!(
                config["clients"][0]["name"].as_str(),
                Some("Sam's \"tablet\"")
            );
            assert_eq!(config["logging"]["retention_days"].as_integer(), Some(30));
            assert_eq!(config["logging"]["database"].as_str(), Some("/d/hedge.db"));
            assert_eq!(config["admin"]["socket"].as_str(), Some("/r/admin.sock"));
            let groups = config["groups"].as_array().unwrap();
            assert!(groups.iter().all(|g| g["block"].as_array().is_some()));
        }
    }
}
