use super::*;
use crate::policy::{
    Exemption, ExemptionKind, ExemptionScope, ExemptionStatus, Identified, IncidentKind,
};
use crate::store::{
    Alert, AlertSummary, CategoryCount, ChainCheck, ClientCount, DayCount, ExemptionSummary,
    GroupCount, Incident, IncidentSummary, LegalHold, NameCount, Totals,
};

const DAY: i64 = 86_400_000;
/// 2026-11-02T12:00:00Z.
const NOON: i64 = 1_793_620_800_000;

fn exemption(id: i64, kind: ExemptionKind, status: ExemptionStatus) -> Exemption {
    Exemption {
        id,
        kind,
        name: (kind == ExemptionKind::Site).then(|| "www.history.example".into()),
        scope: ExemptionScope::Group("pupils".into()),
        reason: "Year 9 <history> & \"war\" project\u{1}".into(),
        requested_by: "Mr Jones".into(),
        filed_by: None,
        requested_user: "jones".into(),
        requested_ms: NOON,
        from_ms: NOON,
        until_ms: NOON + DAY,
        status,
        decided_by: (status != ExemptionStatus::Pending).then(|| "H. Head".into()),
        decided_user: Some("head".into()),
        decided_ms: Some(NOON + 1000),
        decision_reason: None,
        revoked_by: None,
        revoked_user: None,
        revoked_ms: None,
        revoke_reason: None,
        expiry_recorded_ms: None,
    }
}

fn sample() -> Report {
    Report {
        site: "Hill Top Primary".into(),
        from_ms: NOON - 12 * 3_600_000,
        to_ms: NOON - 12 * 3_600_000 + 3 * DAY,
        generated_ms: NOON + 3 * DAY,
        group: None,
        time_zone: "UTC".into(),
        totals: Totals {
            queries: 1_234_567,
            blocked: 23_456,
            safeguarding_blocked: 7,
            clients: 312,
            safeguarding_clients: 2,
        },
        days: vec![
            DayCount {
                date: "2026-11-02".into(),
                queries: 600_000,
                blocked: 7,
            },
            DayCount {
                date: "2026-11-03".into(),
                queries: 634_567,
                blocked: 23_449,
            },
            DayCount {
                date: "2026-11-04".into(),
                queries: 0,
                blocked: 0,
            },
        ],
        categories: vec![
            CategoryCount {
                category: "advertising".into(),
                safeguarding: false,
                blocked: 23_449,
            },
            CategoryCount {
                category: "pornography".into(),
                safeguarding: true,
                blocked: 7,
            },
        ],
        groups: vec![GroupCount {
            group: "pupils".into(),
            queries: 1_234_567,
            blocked: 23_456,
        }],
        top_clients: vec![ClientCount {
            client: "10.1.0.5".into(),
            client_name: Some("Room 3, PC 12".into()),
            mac: Some("02:00:00:00:00:05".into()),
            group: Some("pupils".into()),
            blocked: 5,
            categories: vec!["pornography".into()],
        }],
        top_names: vec![NameCount {
            name: "adult.example.com".into(),
            category: Some("pornography".into()),
            blocked: 7,
        }],
        alerts: AlertSummary {
            raised: 1,
            hits: 5,
            open: 1,
            list: vec![Alert {
                id: 4,
                first_ms: NOON,
                last_ms: NOON + 60_000,
                hits: 5,
                client: "10.1.0.5".parse().unwrap(),
                client_name: Some("Room 3, PC 12".into()),
                mac: None,
                group: "pupils".into(),
                category: "pornography".into(),
                name: "adult.example.com".into(),
                acked_ms: None,
                acked_by: None,
                acked_user: None,
                ack_note: None,
                deliveries: Vec::new(),
            }],
        },
        exemptions: ExemptionSummary {
            filed: 2,
            approved: 1,
            rejected: 1,
            revoked: 0,
            expired: 0,
            active_at_end: 1,
            bypasses: 1,
            list: vec![
                exemption(1, ExemptionKind::Site, ExemptionStatus::Approved),
                exemption(2, ExemptionKind::Bypass, ExemptionStatus::Rejected),
            ],
        },
        holds: vec![LegalHold {
            id: 3,
            client: "10.1.0.5/32".into(),
            from_ms: NOON - DAY,
            to_ms: NOON + DAY,
            reason: "investigation of alert 4".into(),
            placed_by: "Ms Khan".into(),
            placed_user: "khan".into(),
            placed_ms: NOON,
            released_ms: None,
            released_by: None,
            released_user: None,
            release_reason: None,
        }],
        audit: ChainCheck {
            rows: 57,
            last: Some((57, "ab".repeat(32))),
            first_broken: None,
        },
        retention_days: 90,
        oldest_kept_ms: Some(NOON - 80 * DAY),
        log_drops: 0,
        incidents: IncidentSummary {
            opened: 2,
            closed: 1,
            by_kind: vec![
                ("accidental-inappropriate".into(), 1),
                ("bullying".into(), 1),
                ("misuse".into(), 0),
            ],
            referrals: vec![("ceop".into(), 1)],
            open: vec![Incident {
                id: 9,
                kind: IncidentKind::Bullying,
                summary: "messages sent through chat.example.com".into(),
                identified: Identified::Staff,
                involved: "10.1.0.5, group pupils".into(),
                client: None,
                from_ms: None,
                to_ms: None,
                alert_id: None,
                hold_id: None,
                opened_ms: NOON,
                opened_by: "Ms Khan".into(),
                opened_user: "khan".into(),
                closed_ms: None,
                closed_by: None,
                closed_user: None,
                conclusion: None,
                entries: Vec::new(),
            }],
        },
    }
}

#[test]
fn numbers_read_well() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1_234_567), "1,234,567");
    assert_eq!(percent(1, 3), "33.3%");
    assert_eq!(percent(1, 0), "0.0%");
}

#[test]
fn the_summary_is_sentences_with_the_counts() {
    let text = summary_sentences(&sample()).join(" ");
    assert!(
        text.contains("hedge answered 1,234,567 queries from 312 devices."),
        "{text}"
    );
    assert!(text.contains("23,456 (1.9%) were blocked."), "{text}");
    assert!(
        text.contains(
            "7 blocked attempts were in safeguarding categories (pornography), from 2 devices."
        ),
        "{text}"
    );
    assert!(
        text.contains("1 alert was raised; 1 is still open."),
        "{text}"
    );
    assert!(
        text.contains("1 bypass of all filtering was in force"),
        "{text}"
    );
    assert!(
        text.contains("The audit trail is intact (57 entries checked)."),
        "{text}"
    );
    assert!(text.contains("Logs are kept for 90 days"), "{text}");
    assert!(text.contains("No log entries were lost."), "{text}");
    assert!(
        text.contains("2 e-safety incidents were recorded (1 accidental-inappropriate, 1 bullying); 1 still open; referrals: ceop 1."),
        "{text}"
    );

    let mut quiet = sample();
    quiet.totals = Totals::default();
    quiet.alerts = AlertSummary::default();
    quiet.exemptions = ExemptionSummary::default();
    quiet.log_drops = 1;
    quiet.audit.first_broken = Some((12, "its contents do not match its hash".into()));
    let text = summary_sentences(&quiet).join(" ");
    assert!(text.contains("hedge answered no queries."), "{text}");
    assert!(
        text.contains("No safeguarding alerts were raised."),
        "{text}"
    );
    assert!(
        text.contains("No exemptions were requested or in force."),
        "{text}"
    );
    assert!(
        text.contains("The audit trail is BROKEN at entry 12"),
        "{text}"
    );
    assert!(text.contains("1 log entry was lost"), "{text}");
}

#[test]
fn csv_is_one_long_table() {
    let csv = render(&sample(), ReportFormat::Csv);
    for line in [
        "section,item,field,value",
        "summary,totals,queries,1234567",
        "day,2026-11-03,blocked,23449",
        "day,2026-11-04,queries,0",
        "category,pornography,safeguarding,yes",
        "client,10.1.0.5,name,\"Room 3, PC 12\"",
        "client,10.1.0.5,mac,02:00:00:00:00:05",
        "name,adult[.]example[.]com,blocked,7",
        "alert,4,name,adult[.]example[.]com",
        "exemptions,totals,bypasses,1",
        "exemption,1,approver,H. Head",
        "hold,3,placed_by,Ms Khan",
        "audit,chain,intact,yes",
        "log,drops,count,0",
        "incidents,type,bullying,1",
        "incidents,referred,ceop,1",
        "open_incident,9,summary,messages sent through chat[.]example[.]com",
    ] {
        assert!(csv.lines().any(|l| l == line), "no {line:?} in\n{csv}");
    }
    assert!(!csv.contains("adult.example.com"));
}

#[test]
fn text_has_the_summary_and_every_section() {
    let text = render(&sample(), ReportFormat::Text);
    assert!(text.starts_with("hedge report: Hill Top Primary\n"));
    for needle in [
        "SUMMARY",
        "QUERIES PER DAY",
        "BLOCKED BY CATEGORY",
        "Room 3, PC 12 (10.1.0.5, 02:00:00:00:00:05)",
        "adult[.]example[.]com",
        "www[.]history[.]example",
        "BYPASS of all filtering",
        "investigation of alert 4",
        "audit trail intact: 57 entries",
    ] {
        assert!(text.contains(needle), "no {needle:?} in\n{text}");
    }
    assert!(!text.contains("adult.example.com"));
}

#[test]
fn html_is_well_formed_self_contained_and_escaped() {
    let html = render(&sample(), ReportFormat::Html);
    assert!(html.starts_with("<!DOCTYPE html>\n"));
    // roxmltree reads XML; the HTML5 doctype is not an XML one.
    let document = roxmltree::Document::parse(html.trim_start_matches("<!DOCTYPE html>"))
        .expect("well-formed");
    let summary = document
        .descendants()
        .find(|n| n.attribute("id") == Some("summary"))
        .expect("a summary");
    assert!(
        summary
            .descendants()
            .filter(|n| n.has_tag_name("li"))
            .count()
            >= 6
    );
    assert_eq!(
        document
            .descendants()
            .filter(|n| n.has_tag_name("svg"))
            .count(),
        2
    );
    for forbidden in [
        "<script", "http://", "https://", "<link", "<img", "@import", "url(",
    ] {
        assert!(!html.contains(forbidden), "{forbidden} in the HTML");
    }
    assert!(html.contains("Year 9 &lt;history&gt; &amp; &quot;war&quot; project\u{fffd}"));
    assert!(!html.contains("adult.example.com"));
    assert!(html.contains("size: A4"));
}

#[test]
fn a_broken_chain_and_lost_entries_are_marked() {
    let mut report = sample();
    report.audit.first_broken = Some((12, "its contents do not match its hash".into()));
    report.log_drops = 40;
    let html = render(&report, ReportFormat::Html);
    assert!(html.contains("<li class=\"alarm\">The audit trail is BROKEN at entry 12"));
    assert!(html.contains("<li class=\"alarm\">40 log entries were lost"));
    let csv = render(&report, ReportFormat::Csv);
    assert!(csv.contains("audit,chain,intact,no\n"));
}
