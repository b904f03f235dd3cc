//! `hedge explain NAME --client IP`: which group the client is in, every
//! list entry that matches the name (category, file and line), and the
//! decision with the rule that made it. Read from the configuration and the
//! lists on disk, decided by the same `policy::decide` the server uses (with
//! the running server's exemptions), and worded by `policy` as the server
//! words it.

use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context, Result};
use hickory_proto::rr::Name;

use super::running_server::RunningServer;
use crate::config::normalize;
use crate::config::{Config, DnssecMode, Mac};
use crate::dns::dnssec::{DnssecVerdict, why_not_validated};
use crate::dns::neighbours::read_table;
use crate::filter::sources::for_each_entry;
use crate::filter::{Action, RpzAction};
use crate::policy::{
    AllowReason, BlockAnswer, BlockRule, Decision, ExemptionSet, Snapshot, allow_rule,
    block_wording, decide_str, rewrite_rule,
};

struct Hit {
    name: String,
    what: String,
    category: Option<String>,
    place: String,
}

pub fn run(config_path: &Path, name: &str, client: IpAddr, mac: Option<Mac>) -> Result<()> {
    let config = Config::load(config_path)?;
    let name = normalize(name).map_err(|p| anyhow::anyhow!("{name:?} is not a name: {p}"))?;
    let snapshot = Snapshot::build(&config).context("cannot load the lists")?;
    // As the server would know it: the MAC address the kernel's neighbour
    // table has at the address, unless one is given.
    let (mac, mac_from) = match mac {
        Some(mac) => (Some(mac), "given"),
        None => match read_table() {
            Ok(table) => (table.mac_of(client), "from the neighbour table"),
            Err(_) => (None, ""),
        },
    };
    let who = snapshot.identify(client, mac);
    let group = &snapshot.groups[who.group];
    let catalogue = &snapshot.catalogue;

    println!("name:    {name}");
    match who.name {
        Some(label) => println!("client:  {client} ({label}), group {}", group.name),
        None => println!("client:  {client}, group {}", group.name),
    }
    match mac {
        Some(mac) => println!("device:  MAC {mac} ({mac_from})"),
        None => println!("device:  no MAC address known at {client}: address rules apply"),
    }
    println!("by:      {}", who.matched);
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
    // Only a block can be lifted, and exemptions live in the running
    // server's database: ask it for them when there is a block to lift.
    let mut decision = decide_str(&snapshot, &ExemptionSet::default(), who, client, &name, now);
    if decision.is_blocked() {
        match running_exemptions(&config) {
            Some(exemptions) => {
                decision = decide_str(&snapshot, &exemptions, who, client, &name, now);
            }
            None => println!(
                "(the server is not reachable: exemptions in force are not taken into account)"
            ),
        }
    }
    let place = |entry: &str, category: Option<&str>| {
        hits.iter()
            .find(|h| h.name == entry && (category.is_none() || h.category.as_deref() == category))
            .map(|h| h.place.clone())
            .unwrap_or_default()
    };
    let question = Name::from_ascii(&name).context("the name as a DNS name")?;
    match decision {
        Decision::Allow(AllowReason::NotBlocked) => {
            println!("decision: ALLOWED: no list this group blocks has the name");
            print_dnssec(&config, &name);
        }
        Decision::Rewrite { engine, target } => {
            println!(
                "decision: SAFE SEARCH ({engine}): answered with a CNAME to {target} (lists/safesearch.toml)"
            );
            println!("logged:  {}", rewrite_rule(&engine));
        }
        Decision::Allow(reason @ AllowReason::Exemption { id, until_ms }) => {
            println!(
                "decision: ALLOWED by exemption {id} until {} (hedge exempt show {id}); without it the lists would block it",
                crate::service::time::format_local(until_ms)
            );
            print_rule(allow_rule(&snapshot, who.group, &question, reason));
            print_dnssec(&config, &name);
        }
        Decision::Allow(reason @ AllowReason::GroupAllow { depth }) => {
            let entry = entry_text(&question.trim_to(usize::from(depth)));
            println!(
                "decision: ALLOWED by the group's allow entry {entry} ({})",
                place(&entry, None)
            );
            print_rule(allow_rule(&snapshot, who.group, &question, reason));
            print_dnssec(&config, &name);
        }
        Decision::Block(block) => {
            let wording = block_wording(&snapshot, who.group, &question, &question, &block);
            let entry = entry_text(&wording.entry);
            let answer = match &block.answer {
                BlockAnswer::Sinkhole { ipv4, ipv6 } => {
                    format!("A {ipv4}, AAAA {ipv6}, other types NODATA")
                }
                BlockAnswer::NxDomain => "NXDOMAIN".to_string(),
                BlockAnswer::NoData => "NODATA".to_string(),
                BlockAnswer::LocalData(ips) => format!("local data {ips:?}"),
            };
            match block.rule {
                BlockRule::Category { .. } => {
                    let id = wording.category.as_deref().unwrap_or("?");
                    let mandatory = if wording.mandatory {
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
                BlockRule::GroupDeny { .. } => {
                    println!(
                        "decision: BLOCKED by the group's deny entry {entry} ({}); answer {answer}, TTL {}",
                        place(&entry, None),
                        block.ttl
                    );
                }
            }
            println!("client sees: Extended DNS Error 15 \"{}\"", wording.why);
            print_rule(Some(wording.rule));
            if let Some(category) = wording.alert {
                println!("alert:   raised to the safeguarding lead (category {category})");
            }
        }
    }
    Ok(())
}

/// The exemptions in force, from the running server; `None` if it cannot
/// be asked.
fn running_exemptions(config: &Config) -> Option<ExemptionSet> {
    let server = RunningServer::of(config, std::time::Duration::from_secs(10));
    let list: Vec<crate::policy::Exemption> = server
        .call(crate::admin::AdminRequest::ExemptList {
            selection: crate::store::ExemptionSelection::Active,
        })
        .ok()?;
    Some(ExemptionSet::new(
        &list,
        jiff::Timestamp::now().as_millisecond(),
    ))
}

/// Says what DNSSEC makes of an allowed name: from the running server,
/// which asks its upstreams, or from the configuration alone.
fn print_dnssec(config: &Config, name: &str) {
    let server = RunningServer::of(config, std::time::Duration::from_secs(15));
    let verdict: Result<DnssecVerdict, _> = server.call(crate::admin::AdminRequest::DnssecCheck {
        name: name.to_string(),
    });
    match verdict {
        Ok(verdict) => println!("dnssec:  {} ({})", verdict.outcome, verdict.mode),
        Err(_) => {
            let dnssec = &config.upstream.dnssec;
            let lower = hickory_proto::rr::LowerName::from(
                Name::from_ascii(name).unwrap_or_else(|_| Name::root()),
            );
            let rule = match dnssec.mode {
                DnssecMode::Validate => why_not_validated(dnssec, &lower).unwrap_or_else(|| {
                    "validated from the trust anchors (server not reachable: not asked now)".into()
                }),
                DnssecMode::Process => "passed through to the upstream".into(),
                DnssecMode::Off => "off".into(),
            };
            println!("dnssec:  {rule} ({})", dnssec.mode.as_str());
        }
    }
}

/// Prints the rule the query log records for the decision, if any.
fn print_rule(rule: Option<String>) {
    if let Some(rule) = rule {
        println!("logged:  {rule}");
    }
}

/// An entry name as the lists spell it: lowercase ASCII, no trailing dot.
fn entry_text(entry: &Name) -> String {
    entry
        .to_lowercase()
        .to_ascii()
        .trim_end_matches('.')
        .to_string()
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
