use std::path::Path;

use std::net::IpAddr;

use super::*;
use crate::config::Config;
use crate::filter::{Action, IndexBuilder};
use crate::policy::{Exemption, ExemptionKind, ExemptionScope, ExemptionStatus};

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

/// Decides for an unnamed client of `group` with no exemptions in force.
fn decide_group(s: &Snapshot, group: usize, name: &str, now: Timestamp) -> Decision {
    let client = Client {
        group,
        name: None,
        mac: None,
        matched: crate::policy::ClientRule::Default,
    };
    let ip = "192.0.2.1".parse().unwrap();
    decide_str(s, &ExemptionSet::default(), client, ip, name, now)
}

/// Tests decide at a fixed moment: Monday 23 November 2026, 10:00 UTC.
fn decide_str_now(s: &Snapshot, group: usize, name: &str) -> Decision {
    decide_group(s, group, name, "2026-11-23T10:00:00Z".parse().unwrap())
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
        s.groups[s.identify(ip("10.1.2.3"), None).group]
            .name
            .as_ref(),
        "pupils"
    );
    // Longest prefix wins.
    assert_eq!(
        s.groups[s.identify(ip("10.1.9.3"), None).group]
            .name
            .as_ref(),
        "strict"
    );
    // A named client's own entry beats its network.
    let named = s.identify(ip("10.2.3.12"), None);
    assert_eq!(s.groups[named.group].name.as_ref(), "pupils");
    assert_eq!(named.name, Some("Room 3 PC 12"));
    assert_eq!(
        s.groups[s.identify(ip("10.2.3.13"), None).group]
            .name
            .as_ref(),
        "staff"
    );
    // Everyone else: default.
    assert_eq!(
        s.groups[s.identify(ip("192.168.1.5"), None).group]
            .name
            .as_ref(),
        "default"
    );
    assert_eq!(
        s.groups[s.identify(ip("::ffff:10.1.2.3"), None).group]
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
            &decide_group(&s, home, "play.example", at("2026-11-23T10:00:00Z"))
        )
        .as_deref(),
        Some("games")
    );
    assert!(!decide_group(&s, home, "news.example", at("2026-11-23T10:00:00Z")).is_blocked());
    // Monday 17:00: neither rule.
    assert!(!decide_group(&s, home, "play.example", at("2026-11-23T17:00:00Z")).is_blocked());
    // Monday 22:00: bedtime, everything but the allow list.
    assert_eq!(
        blocked_by(
            &s,
            &decide_group(&s, home, "news.example", at("2026-11-23T22:00:00Z"))
        )
        .as_deref(),
        Some("schedule")
    );
    assert_eq!(
        decide_group(&s, home, "www.homework.example", at("2026-11-23T22:00:00Z")),
        Decision::Allow(AllowReason::GroupAllow { depth: 2 })
    );
    // Mandatory categories stay mandatory at bedtime.
    match decide_group(&s, home, "bet.example", at("2026-11-23T22:00:00Z")) {
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
            &decide_group(&s2, home2, "x.homework.example", at("2026-11-23T10:00:00Z"))
        )
        .as_deref(),
        Some("dating")
    );
    assert_eq!(
        blocked_by(
            &s2,
            &decide_group(&s2, home2, "x.homework.example", at("2026-11-23T22:00:00Z"))
        )
        .as_deref(),
        Some("dating")
    );
    // Friday night is not a school night.
    assert!(!decide_group(&s, home, "news.example", at("2026-11-27T22:00:00Z")).is_blocked());
}

/// An approved exemption of `name` (`None`: a bypass) for `scope`, running
/// from `from` to `until` (Unix ms).
fn exemption(
    id: i64,
    name: Option<&str>,
    scope: ExemptionScope,
    from: i64,
    until: i64,
) -> Exemption {
    Exemption {
        id,
        kind: if name.is_some() {
            ExemptionKind::Site
        } else {
            ExemptionKind::Bypass
        },
        name: name.map(str::to_string),
        scope,
        reason: "lesson on online gambling harms".into(),
        requested_by: "T. Teacher".into(),
        filed_by: None,
        requested_user: "teacher".into(),
        requested_ms: 0,
        from_ms: from,
        until_ms: until,
        status: ExemptionStatus::Approved,
        decided_by: Some("H. Head".into()),
        decided_user: Some("head".into()),
        decided_ms: Some(0),
        decision_reason: None,
        revoked_by: None,
        revoked_user: None,
        revoked_ms: None,
        revoke_reason: None,
        expiry_recorded_ms: None,
    }
}

/// Decides `name` for the client at `ip` with `exemptions` in force, by
/// text and as a DNS name, and checks both agree.
fn decide_for(s: &Snapshot, exemptions: &ExemptionSet, ip: &str, name: &str) -> Decision {
    let ip: IpAddr = ip.parse().unwrap();
    let now: Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
    let client = s.identify(ip, None);
    let by_text = decide_str(s, exemptions, client, ip, name, now);
    let lower = LowerName::from(Name::from_ascii(format!("{name}.")).unwrap());
    assert_eq!(decide(s, exemptions, client, ip, &lower, now), by_text);
    by_text
}

const NOW_MS: i64 = 1_795_428_000_000; // 2026-11-23T10:00:00Z

#[test]
fn an_exemption_lifts_blocks_for_its_group_only() {
    let s = snapshot(&[
        ("bet.example", "gambling", Action::Block),
        ("abuse.bet.example", "iwf", Action::Block),
    ]);
    let until = NOW_MS + 3_600_000;
    let set = ExemptionSet::new(
        &[exemption(
            7,
            Some("bet.example"),
            ExemptionScope::Group("pupils".into()),
            NOW_MS - 1000,
            until,
        )],
        NOW_MS,
    );
    let lifted = Decision::Allow(AllowReason::Exemption {
        id: 7,
        until_ms: until,
    });
    // A pupil, for the name and the names below it.
    assert_eq!(decide_for(&s, &set, "10.1.2.3", "bet.example"), lifted);
    assert_eq!(decide_for(&s, &set, "10.1.2.3", "www.bet.example"), lifted);
    // Not a name beside it, nor another group.
    assert!(decide_for(&s, &set, "10.1.2.3", "notbet.example") != lifted);
    let strict = decide_for(&s, &set, "10.1.9.3", "bet.example");
    assert_eq!(blocked_by(&s, &strict).as_deref(), Some("gambling"));
    // Never a mandatory category.
    let mandatory = decide_for(&s, &set, "10.1.2.3", "abuse.bet.example");
    assert_eq!(blocked_by(&s, &mandatory).as_deref(), Some("iwf"));
    // Nothing to lift: the decision is as without exemptions.
    assert_eq!(
        decide_for(&s, &set, "10.1.2.3", "bbc.co.uk"),
        Decision::Allow(AllowReason::GroupAllow { depth: 3 })
    );
}

#[test]
fn a_bypass_lifts_every_block_for_its_client_but_mandatory_ones() {
    let s = snapshot(&[
        ("bet.example", "gambling", Action::Block),
        ("bad.example", "terrorism", Action::Block),
    ]);
    let until = NOW_MS + 3_600_000;
    let set = ExemptionSet::new(
        &[exemption(
            9,
            None,
            ExemptionScope::Client("10.1.2.3".parse().unwrap()),
            NOW_MS - 1000,
            until,
        )],
        NOW_MS,
    );
    let lifted = Decision::Allow(AllowReason::Exemption {
        id: 9,
        until_ms: until,
    });
    assert_eq!(decide_for(&s, &set, "10.1.2.3", "bet.example"), lifted);
    // The group's own deny entry too: it is not mandatory.
    assert_eq!(decide_for(&s, &set, "10.1.2.3", "example.org"), lifted);
    // Another client of the same group is still blocked.
    let other = decide_for(&s, &set, "10.1.2.4", "bet.example");
    assert_eq!(blocked_by(&s, &other).as_deref(), Some("gambling"));
    let mandatory = decide_for(&s, &set, "10.1.2.3", "bad.example");
    assert_eq!(blocked_by(&s, &mandatory).as_deref(), Some("terrorism"));
    // Not yet begun, or ended: no lift.
    for (from, until) in [(NOW_MS + 1, NOW_MS + 10), (NOW_MS - 10, NOW_MS)] {
        let set = ExemptionSet::new(
            &[exemption(
                10,
                None,
                ExemptionScope::Client("10.1.2.3".parse().unwrap()),
                from,
                until,
            )],
            NOW_MS - 100,
        );
        assert!(decide_for(&s, &set, "10.1.2.3", "bet.example").is_blocked());
    }
}

#[test]
fn an_exemption_bounds_how_long_its_answer_is_kept() {
    let now: Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
    let reason = AllowReason::Exemption {
        id: 1,
        until_ms: NOW_MS + 90_500,
    };
    assert_eq!(reason.ttl_limit(now), Some(90));
    let ending = AllowReason::Exemption {
        id: 1,
        until_ms: NOW_MS + 10,
    };
    assert_eq!(ending.ttl_limit(now), Some(1), "at least a second");
    assert_eq!(AllowReason::NotBlocked.ttl_limit(now), None);
    assert_eq!(AllowReason::GroupAllow { depth: 2 }.ttl_limit(now), None);
}

#[test]
fn blocks_are_worded_as_clients_and_the_log_see_them() {
    use crate::policy::wording::block_wording;
    let s = snapshot(&[
        ("bet.example", "gambling", Action::Block),
        ("abuse.example", "iwf", Action::Block),
    ]);
    let name = |text: &str| Name::from_ascii(text).unwrap();
    let pupils = group(&s, "pupils");
    let words = |group: usize, question: &str, listed: &str, decision: Decision| {
        let Decision::Block(block) = decision else {
            panic!("{decision:?}")
        };
        block_wording(&s, group, &name(question), &name(listed), &block)
    };

    let w = words(
        pupils,
        "www.bet.example.",
        "www.bet.example.",
        decide_str_now(&s, pupils, "www.bet.example"),
    );
    assert_eq!(w.why, "blocked: category gambling");
    assert_eq!(w.rule, "list entry bet.example");
    assert_eq!(w.entry, name("bet.example."));
    assert_eq!(w.category.as_deref(), Some("gambling"));
    assert!(!w.mandatory);

    let w = words(
        pupils,
        "abuse.example.",
        "abuse.example.",
        decide_str_now(&s, pupils, "abuse.example"),
    );
    assert_eq!(w.why, "blocked: category iwf");
    assert!(w.mandatory);
    assert_eq!(
        w.alert.as_deref(),
        Some("iwf"),
        "mandatory categories alert"
    );

    let w = words(
        pupils,
        "a.example.org.",
        "a.example.org.",
        decide_str_now(&s, pupils, "a.example.org"),
    );
    assert_eq!(w.why, "blocked: deny list of group pupils");
    assert_eq!(w.rule, "deny entry example.org of group pupils");
    assert_eq!((w.category, w.alert), (None, None));

    // A CNAME target blocked: the rule says so.
    let w = words(
        pupils,
        "cdn.example.",
        "www.bet.example.",
        decide_str_now(&s, pupils, "www.bet.example"),
    );
    assert_eq!(
        w.rule,
        "CNAME target www.bet.example: list entry bet.example"
    );

    let home = group(&s, "home");
    let bedtime = decide_group(
        &s,
        home,
        "news.example",
        "2026-11-23T22:00:00Z".parse().unwrap(),
    );
    let w = words(home, "news.example.", "news.example.", bedtime);
    assert_eq!(w.why, "blocked: schedule bedtime of group home");
    assert_eq!(w.rule, "schedule bedtime of group home");
    assert_eq!(w.entry, name("news.example."));
}
