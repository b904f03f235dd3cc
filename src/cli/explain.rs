//! `hedge explain NAME --client IP`: which group the client is in, every
//! list entry that matches the name (category, file and line), and the
//! decision with the rule that made it. Read from the configuration and the
//! lists on disk, through the same `decide` the server uses.

use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, Result};

use crate::config::Config;
use crate::filter::sources::for_each_entry;
use crate::filter::{Action, RpzAction, normalize};
use crate::policy::{AllowReason, BlockAnswer, BlockRule, Decision, Snapshot, decide_str};

struct Hit {
    name: String,
    what: String,
    category: Option<String>,
    place: String,
}

pub fn run(config_path: &Path, name: &str, client: IpAddr) -> Result<()> {
    let config = Config::load(config_path)?;
    let name = normalize(name).map_err(|p| anyhow::anyhow!("{name:?} is not a name: {p}"))?;
    let snapshot = Snapshot::build(&config).context("cannot load the lists")?;
    let who = snapshot.identify(client);
    let group = &snapshot.groups[who.group];
    let catalogue = &snapshot.catalogue;

    println!("name:    {name}");
    match who.name {
        Some(label) => println!("client:  {client} ({label}), group {}", group.name),
        None => println!("client:  {client}, group {}", group.name),
    }
    let blocked = group.block.union(catalogue.mandatory());
    println!("blocks:  {}", catalogue.names(blocked));

    let covers = |entry: &str| name == entry || name.ends_with(&format!(".{entry}"));
    let mut hits: Vec<Hit> = Vec::new();
    for_each_entry(&config.lists, |source, file, entry| {
        if covers(&entry.name) {
            let category = catalogue.get(source.category);
            let what = match &entry.action {
                Action::Block => "block",
                Action::Allow => "exception",
                Action::Rpz(RpzAction::NxDomain) => "block (RPZ NXDOMAIN)",
                Action::Rpz(RpzAction::NoData) => "block (RPZ NODATA)",
                Action::Rpz(RpzAction::LocalData(_)) => "block (RPZ local data)",
            };
            let applies = if blocked.contains(source.category) {
                ""
            } else {
                ", not blocked by this group"
            };
            hits.push(Hit {
                name: entry.name.clone(),
                what: format!("{what}{applies}"),
                category: Some(category.id.clone()),
                place: format!("{}:{}", file.display(), entry.line),
            });
        }
    })?;
    for (list, what) in [
        (&group.own.allow, "group allow"),
        (&group.own.deny, "group deny"),
    ] {
        for entry in list.iter().filter(|e| covers(e)) {
            hits.push(Hit {
                name: entry.clone(),
                what: what.to_string(),
                category: None,
                place: format!("{}: group {}", config.path.display(), group.name),
            });
        }
    }
    // Most specific first, as the decision reads them.
    hits.sort_by_key(|h| std::cmp::Reverse(h.name.matches('.').count()));
    if hits.is_empty() {
        println!("matches: none");
    } else {
        println!("matches:");
        for hit in &hits {
            let category = hit.category.as_deref().unwrap_or("-");
            println!(
                "  {:<40} {:<20} {:<36} {}",
                hit.name, category, hit.what, hit.place
            );
        }
    }

    let now = jiff::Timestamp::now();
    let schedule = &group.schedule;
    if !schedule.rules.is_empty() {
        let active = schedule.active(now);
        let local = now.to_zoned(schedule.time_zone.clone());
        println!(
            "schedule: {} rule(s), read in {} (now {})",
            schedule.rules.len(),
            schedule.zone_name,
            local.strftime("%a %H:%M %Z")
        );
        for (i, rule) in schedule.rules.iter().enumerate() {
            let state = if active.rules & (1 << i) != 0 {
                "IN FORCE"
            } else {
                "not in force"
            };
            let what = if rule.block_all {
                "everything but the group's allow entries".to_string()
            } else {
                catalogue.names(rule.block)
            };
            println!(
                "  {:<16} {} {:02}:{:02}-{:02}:{:02}  blocks {what}  [{state}]",
                rule.name,
                days_text(&rule.days),
                rule.from / 60,
                rule.from % 60,
                rule.to / 60,
                rule.to % 60
            );
        }
        match schedule.next_change(now) {
            Some(at) => println!(
                "  next change: {}",
                at.to_zoned(schedule.time_zone.clone())
                    .strftime("%a %Y-%m-%d %H:%M %Z")
            ),
            None => println!("  next change: none within a week"),
        }
    }
    let mut decision = decide_str(&snapshot, who.group, &name, now);
    // Exemptions live in the running server's database: ask it, if it runs.
    if let Decision::Block(block) = &decision {
        match running_exemptions(&config) {
            Some(exemptions) => {
                if let Some((id, until_ms)) =
                    exemptions.lifts(block, &group.name, client, &name, now.as_millisecond())
                {
                    decision = Decision::Allow(AllowReason::Exemption { id, until_ms });
                }
            }
            None => println!(
                "(the server is not reachable: exemptions in force are not taken into account)"
            ),
        }
    }
    let entry_at = |depth: u8| {
        name.rsplitn(usize::from(depth) + 1, '.')
            .take(usize::from(depth))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(".")
    };
    let place = |entry: &str, category: Option<&str>| {
        hits.iter()
            .find(|h| h.name == entry && (category.is_none() || h.category.as_deref() == category))
            .map(|h| h.place.clone())
            .unwrap_or_default()
    };
    match decision {
        Decision::Allow(AllowReason::NotBlocked) => {
            println!("decision: ALLOWED: no list this group blocks has the name")
        }
        Decision::Rewrite { engine, target } => {
            println!(
                "decision: SAFE SEARCH ({engine}): answered with a CNAME to {target} (lists/safesearch.toml)"
            )
        }
        Decision::Allow(AllowReason::Exemption { id, until_ms }) => println!(
            "decision: ALLOWED by exemption {id} until {} (hedge exempt show {id}); without it the lists would block it",
            super::time::format_local(until_ms)
        ),
        Decision::Allow(AllowReason::GroupAllow { depth }) => {
            let entry = entry_at(depth);
            println!(
                "decision: ALLOWED by the group's allow entry {entry} ({})",
                place(&entry, None)
            );
        }
        Decision::Block(block) => {
            let answer = match &block.answer {
                BlockAnswer::Sinkhole { ipv4, ipv6 } => {
                    format!("A {ipv4}, AAAA {ipv6}, other types NODATA")
                }
                BlockAnswer::NxDomain => "NXDOMAIN".to_string(),
                BlockAnswer::NoData => "NODATA".to_string(),
                BlockAnswer::LocalData(ips) => format!("local data {ips:?}"),
            };
            match block.rule {
                BlockRule::Category {
                    category,
                    depth,
                    mandatory,
                } => {
                    let entry = entry_at(depth);
                    let id = &catalogue.get(category).id;
                    let mandatory = if mandatory {
                        " (mandatory: no allow or exemption applies)"
                    } else {
                        ""
                    };
                    println!(
                        "decision: BLOCKED by category {id}{mandatory}: entry {entry} ({}); answer {answer}, TTL {}",
                        place(&entry, Some(id)),
                        block.ttl
                    );
                }
                BlockRule::Schedule { rule } => {
                    let rule = schedule.rules.get(rule).map_or("?", |r| r.name.as_str());
                    println!(
                        "decision: BLOCKED by the schedule rule {rule} (everything but the group's allow entries); answer {answer}, TTL {}",
                        block.ttl
                    );
                }
                BlockRule::GroupDeny { depth } => {
                    let entry = entry_at(depth);
                    println!(
                        "decision: BLOCKED by the group's deny entry {entry} ({}); answer {answer}, TTL {}",
                        place(&entry, None),
                        block.ttl
                    );
                }
            }
        }
    }
    Ok(())
}

/// The exemptions in force, from the running server; `None` if it cannot
/// be asked.
fn running_exemptions(config: &Config) -> Option<crate::policy::ExemptionSet> {
    let value = crate::admin::call(
        &config.admin.socket,
        &crate::admin::AdminRequest::ExemptList {
            selection: crate::store::ExemptionSelection::Active,
        },
        std::time::Duration::from_secs(10),
    )
    .ok()?;
    let list: Vec<crate::policy::Exemption> = serde_json::from_value(value).ok()?;
    Some(crate::policy::ExemptionSet::new(
        &list,
        jiff::Timestamp::now().as_millisecond(),
    ))
}

fn days_text(days: &[bool; 7]) -> String {
    const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    if days.iter().all(|d| *d) {
        return "every day".to_string();
    }
    NAMES
        .iter()
        .zip(days)
        .filter(|(_, on)| **on)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(",")
}
