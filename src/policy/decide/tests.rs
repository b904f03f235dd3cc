use std::path::Path;

use super::*;
use crate::config::Config;
use crate::filter::{Action, IndexBuilder};

const CONFIG: &str = r#"
[upstream]
servers = ["192.0.2.53"]

[[groups]]
name = "pupils"
networks = ["10.1.0.0/16"]
block = ["pornography", "gambling", "social-networking"]
allow = ["bbc.co.uk", "ok.bet.example", "games.example"]
deny = ["example.org", "chat.allowed.example"]

[[groups]]
name = "staff"
networks = ["10.2.0.0/16"]
block = ["pornography"]

[[groups]]
name = "strict"
networks = ["10.1.9.0/24"]
block = ["gambling"]
blocking = "nxdomain"
block_ttl = 5

[[groups]]
name = "safe"
networks = ["10.3.0.0/16"]
block = ["video-streaming"]
safe_search = true

[[groups]]
name = "home"
networks = ["10.4.0.0/16"]
timezone = "Europe/London"
block = ["dating"]
allow = ["homework.example"]

[[groups.schedule]]
name = "school-hours"
days = "mon-fri"
from = "08:30"
to = "15:30"
block = ["games"]

[[groups.schedule]]
name = "bedtime"
days = ["sun", "mon", "tue", "wed", "thu"]
from = "21:00"
to = "07:00"
block_all = true

[[clients]]
name = "Room 3 PC 12"
address = "10.2.3.12"
group = "pupils"
"#;

fn snapshot(entries: &[(&str, &str, Action)]) -> Snapshot {
    let config = Config::from_str(CONFIG, Path::new("/etc/hedge/hedge.toml")).unwrap();
    let mut builder = IndexBuilder::new();
    for (name, category, action) in entries {
        let id = config.lists.catalogue.id(category).unwrap();
        builder.add(name, id, action);
    }
    Snapshot::assemble(&config, builder.build(), Vec::new())
}

/// Tests decide at a fixed moment: Monday 23 November 2026, 10:00 UTC.
fn decide_str_now(s: &Snapshot, group: usize, name: &str) -> Decision {
    decide_str(s, group, name, "2026-11-23T10:00:00Z".parse().unwrap())
}

fn group(s: &Snapshot, name: &str) -> usize {
    s.group_index(name).unwrap()
}

fn blocked_by(s: &Snapshot, decision: &Decision) -> Option<String> {
    match decision {
        Decision::Block(Block {
            rule: BlockRule::Category { category, .. },
            ..
        }) => Some(s.catalogue.get(*category).id.clone()),
        Decision::Block(Block {
            rule: BlockRule::GroupDeny { .. },
            ..
        }) => Some("deny".into()),
        Decision::Block(Block {
            rule: BlockRule::Schedule { .. },
            ..
        }) => Some("schedule".into()),
        Decision::Allow(_) | Decision::Rewrite { .. } => None,
    }
}

#[test]
fn groups_see_different_things() {
    let s = snapshot(&[("bet.example", "gambling", Action::Block)]);
    let pupils = decide_str_now(&s, group(&s, "pupils"), "www.bet.example");
    assert_eq!(blocked_by(&s, &pupils).as_deref(), Some("gambling"));
    let staff = decide_str_now(&s, group(&s, "staff"), "www.bet.example");
    assert_eq!(staff, Decision::Allow(AllowReason::NotBlocked));
}

#[test]
fn clients_find_their_group() {
    let s = snapshot(&[]);
    let ip = |t: &str| t.parse::<std::net::IpAddr>().unwrap();
    assert_eq!(
        s.groups[s.identify(ip("10.1.2.3")).group].name.as_ref(),
        "pupils"
    );
    // Longest prefix wins.
    assert_eq!(
        s.groups[s.identify(ip("10.1.9.3")).group].name.as_ref(),
        "strict"
    );
    // A named client's own entry beats its network.
    let named = s.identify(ip("10.2.3.12"));
    assert_eq!(s.groups[named.group].name.as_ref(), "pupils");
    assert_eq!(named.name, Some("Room 3 PC 12"));
    assert_eq!(
        s.groups[s.identify(ip("10.2.3.13")).group].name.as_ref(),
        "staff"
    );
    // Everyone else: default.
    assert_eq!(
        s.groups[s.identify(ip("192.168.1.5")).group].name.as_ref(),
        "default"
    );
    assert_eq!(
        s.groups[s.identify(ip("::ffff:10.1.2.3")).group]
            .name
            .as_ref(),
        "pupils"
    );
}

#[test]
fn the_default_group_blocks_safeguarding_categories() {
    let s = snapshot(&[
        ("porn.example", "pornography", Action::Block),
        ("bet.example", "gambling", Action::Block),
    ]);
    let default = group(&s, "default");
    assert_eq!(
        blocked_by(&s, &decide_str_now(&s, default, "porn.example")).as_deref(),
        Some("pornography")
    );
    assert!(!decide_str_now(&s, default, "bet.example").is_blocked());
}

#[test]
fn most_specific_entry_wins() {
    let s = snapshot(&[("bet.example", "gambling", Action::Block)]);
    let pupils = group(&s, "pupils");
    // The group's allow is more specific than the list's block.
    assert_eq!(
        decide_str_now(&s, pupils, "ok.bet.example"),
        Decision::Allow(AllowReason::GroupAllow { depth: 3 })
    );
    assert_eq!(
        decide_str_now(&s, pupils, "a.ok.bet.example"),
        Decision::Allow(AllowReason::GroupAllow { depth: 3 })
    );
    assert!(decide_str_now(&s, pupils, "other.bet.example").is_blocked());

    // A list entry more specific than the group's allow wins.
    let s = snapshot(&[("chat.games.example", "social-networking", Action::Block)]);
    let pupils = group(&s, "pupils");
    assert!(!decide_str_now(&s, pupils, "games.example").is_blocked());
    assert_eq!(
        blocked_by(&s, &decide_str_now(&s, pupils, "chat.games.example")).as_deref(),
        Some("social-networking")
    );
}

#[test]
fn allow_beats_block_at_equal_depth() {
    let s = snapshot(&[("games.example", "gambling", Action::Block)]);
    assert_eq!(
        decide_str_now(&s, group(&s, "pupils"), "games.example"),
        Decision::Allow(AllowReason::GroupAllow { depth: 2 })
    );
    // A list's own exception at the same depth as its block.
    let s = snapshot(&[
        ("ads.example", "gambling", Action::Block),
        ("ads.example", "gambling", Action::Allow),
    ]);
    assert!(!decide_str_now(&s, group(&s, "pupils"), "ads.example").is_blocked());
}

#[test]
fn a_list_exception_lifts_only_its_own_category() {
    let s = snapshot(&[
        ("site.example", "gambling", Action::Block),
        ("site.example", "social-networking", Action::Block),
        ("www.site.example", "gambling", Action::Allow),
    ]);
    let pupils = group(&s, "pupils");
    assert_eq!(
        blocked_by(&s, &decide_str_now(&s, pupils, "www.site.example")).as_deref(),
        Some("social-networking")
    );
    let staff_like = snapshot(&[
        ("site.example", "gambling", Action::Block),
        ("www.site.example", "gambling", Action::Allow),
    ]);
    assert!(
        !decide_str_now(
            &staff_like,
            group(&staff_like, "pupils"),
            "www.site.example"
        )
        .is_blocked()
    );
}

#[test]
fn group_deny_blocks_whatever_the_lists_say() {
    let s = snapshot(&[]);
    let pupils = group(&s, "pupils");
    assert_eq!(
        blocked_by(&s, &decide_str_now(&s, pupils, "www.example.org")).as_deref(),
        Some("deny")
    );
    assert!(!decide_str_now(&s, group(&s, "staff"), "www.example.org").is_blocked());
}

#[test]
fn mandatory_categories_beat_every_allow() {
    let s = snapshot(&[
        ("abuse.bbc.co.uk", "iwf", Action::Block),
        ("abuse.bbc.co.uk", "gambling", Action::Allow),
        ("deep.games.example", "terrorism", Action::Block),
    ]);
    for g in ["pupils", "staff", "default"] {
        let decision = decide_str_now(&s, group(&s, g), "abuse.bbc.co.uk");
        match decision {
            Decision::Block(Block {
                rule:
                    BlockRule::Category {
                        mandatory: true, ..
                    },
                ..
            }) => {}
            other => panic!("{g}: {other:?}"),
        }
    }
    // Blocked for staff, who do not list it, and below a group allow.
    let decision = decide_str_now(&s, group(&s, "pupils"), "x.deep.games.example");
    assert_eq!(blocked_by(&s, &decision).as_deref(), Some("terrorism"));
    // A mandatory entry less specific than another block still wins.
    let s = snapshot(&[
        ("bad.example", "iwf", Action::Block),
        ("www.bad.example", "gambling", Action::Block),
    ]);
    match decide_str_now(&s, group(&s, "pupils"), "www.bad.example") {
        Decision::Block(Block {
            rule:
                BlockRule::Category {
                    mandatory: true,
                    depth: 2,
                    ..
                },
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn answers_follow_the_group_and_rpz() {
    let s = snapshot(&[
        ("bet.example", "gambling", Action::Block),
        ("nx.example", "gambling", Action::Rpz(RpzAction::NxDomain)),
        (
            "here.example",
            "gambling",
            Action::Rpz(RpzAction::LocalData(vec!["192.0.2.9".parse().unwrap()])),
        ),
    ]);
    match decide_str_now(&s, group(&s, "pupils"), "bet.example") {
        Decision::Block(block) => {
            assert_eq!(
                block.answer,
                BlockAnswer::Sinkhole {
                    ipv4: Ipv4Addr::UNSPECIFIED,
                    ipv6: Ipv6Addr::UNSPECIFIED
                }
            );
            assert_eq!(block.ttl, 10);
        }
        other => panic!("{other:?}"),
    }
    match decide_str_now(&s, group(&s, "strict"), "bet.example") {
        Decision::Block(block) => {
            assert_eq!(block.answer, BlockAnswer::NxDomain);
            assert_eq!(block.ttl, 5);
        }
        other => panic!("{other:?}"),
    }
    match decide_str_now(&s, group(&s, "pupils"), "nx.example") {
        Decision::Block(block) => assert_eq!(block.answer, BlockAnswer::NxDomain),
        other => panic!("{other:?}"),
    }
    match decide_str_now(&s, group(&s, "pupils"), "here.example") {
        Decision::Block(block) => {
            assert_eq!(
                block.answer,
                BlockAnswer::LocalData(vec!["192.0.2.9".parse().unwrap()])
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn safe_search_rewrites_unless_blocked() {
    let s = snapshot(&[("youtube.com", "video-streaming", Action::Block)]);
    let safe = group(&s, "safe");
    match decide_str_now(&s, safe, "www.google.co.uk") {
        Decision::Rewrite { engine, target } => {
            assert_eq!(engine, "google");
            assert_eq!(target.to_string(), "forcesafesearch.google.com.");
        }
        other => panic!("{other:?}"),
    }
    // The group blocks video streaming: YouTube is blocked, not rewritten.
    assert_eq!(
        blocked_by(&s, &decide_str_now(&s, safe, "www.youtube.com")).as_deref(),
        Some("video-streaming")
    );
    // Groups without safe search are left alone.
    assert_eq!(
        decide_str_now(&s, group(&s, "staff"), "www.google.co.uk"),
        Decision::Allow(AllowReason::NotBlocked)
    );
}

#[test]
fn schedules_add_blocks_by_the_clock() {
    let s = snapshot(&[
        ("play.example", "games", Action::Block),
        ("bet.example", "iwf", Action::Block),
    ]);
    let home = group(&s, "home");
    let at = |t: &str| -> jiff::Timestamp { t.parse().unwrap() };
    // Monday 10:00 London: school hours, games blocked.
    assert_eq!(
        blocked_by(
            &s,
            &decide_str(&s, home, "play.example", at("2026-11-23T10:00:00Z"))
        )
        .as_deref(),
        Some("games")
    );
    assert!(!decide_str(&s, home, "news.example", at("2026-11-23T10:00:00Z")).is_blocked());
    // Monday 17:00: neither rule.
    assert!(!decide_str(&s, home, "play.example", at("2026-11-23T17:00:00Z")).is_blocked());
    // Monday 22:00: bedtime, everything but the allow list.
    assert_eq!(
        blocked_by(
            &s,
            &decide_str(&s, home, "news.example", at("2026-11-23T22:00:00Z"))
        )
        .as_deref(),
        Some("schedule")
    );
    assert_eq!(
        decide_str(&s, home, "www.homework.example", at("2026-11-23T22:00:00Z")),
        Decision::Allow(AllowReason::GroupAllow { depth: 2 })
    );
    // Mandatory categories stay mandatory at bedtime.
    match decide_str(&s, home, "bet.example", at("2026-11-23T22:00:00Z")) {
        Decision::Block(Block {
            rule: BlockRule::Category {
                mandatory: true, ..
            },
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // At bedtime an allow entry lifts no more than it does by day.
    let s2 = snapshot(&[("x.homework.example", "dating", Action::Block)]);
    let home2 = group(&s2, "home");
    assert_eq!(
        blocked_by(
            &s2,
            &decide_str(&s2, home2, "x.homework.example", at("2026-11-23T10:00:00Z"))
        )
        .as_deref(),
        Some("dating")
    );
    assert_eq!(
        blocked_by(
            &s2,
            &decide_str(&s2, home2, "x.homework.example", at("2026-11-23T22:00:00Z"))
        )
        .as_deref(),
        Some("dating")
    );
    // Friday night is not a school night.
    assert!(!decide_str(&s, home, "news.example", at("2026-11-27T22:00:00Z")).is_blocked());
}
