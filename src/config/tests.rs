use super::*;

fn check(text: &str) -> Result<Config, ConfigError> {
    Config::from_str(text, Path::new("/etc/hedge/test.toml"))
}

fn problems(text: &str) -> Vec<ConfigProblem> {
    match check(text) {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn defaults_are_safe() {
    let config = check("[upstream]\nservers = [\"192.0.2.53\"]\n").unwrap();
    assert_eq!(config.server.rate_limit_qps, 200);
    assert!(
        config
            .server
            .allow_networks
            .iter()
            .any(|n| n.contains(&"192.168.1.10".parse::<IpAddr>().unwrap()))
    );
    assert!(
        !config
            .server
            .allow_networks
            .iter()
            .any(|n| n.contains(&"8.8.8.8".parse::<IpAddr>().unwrap())),
        "public addresses must not be served by default"
    );
    assert_eq!(config.upstream.mode, UpstreamMode::Forward);
    assert!(config.upstream.serve_stale);
    assert_eq!(config.upstream.stale_answer_ttl, 30);
}

#[test]
fn unknown_key_names_key_and_line() {
    let found = problems("[server]\nlisten = [\"127.0.0.1:53\"]\nlisen = 1\n");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].line, 3);
    assert_eq!(found[0].key, "server.lisen");
    assert!(found[0].message.contains("unknown field"), "{}", found[0]);
}

#[test]
fn every_semantic_problem_is_reported() {
    let text = "\
[server]
listen = [\"127.0.0.1:5353\", \"not-an-address\"]
allow_networks = [\"10.0.0.0/33\"]

[upstream]
servers = [\"tls://dns.example\"]
";
    let found = problems(text);
    let rendered: Vec<String> = found.iter().map(|p| p.to_string()).collect();
    assert_eq!(found.len(), 3, "{rendered:#?}");
    assert_eq!((found[0].line, found[0].key.as_str()), (2, "server.listen"));
    assert!(found[0].message.contains("not-an-address"));
    assert_eq!(
        (found[1].line, found[1].key.as_str()),
        (3, "server.allow_networks")
    );
    assert!(found[1].message.contains("10.0.0.0/33"));
    assert_eq!(
        (found[2].line, found[2].key.as_str()),
        (6, "upstream.servers")
    );
    assert!(rendered[2].starts_with("/etc/hedge/test.toml:6: upstream.servers:"));
}

#[test]
fn wrong_type_names_key_and_line() {
    let found = problems("[server]\nrate_limit_qps = \"fast\"\n");
    assert_eq!(found[0].line, 2);
    assert_eq!(found[0].key, "server.rate_limit_qps");
}

#[test]
fn forward_mode_needs_servers() {
    let found = problems("[upstream]\nmode = \"forward\"\n");
    assert_eq!(found[0].key, "upstream.servers");
}

#[test]
fn missing_zone_file_is_named() {
    let found = problems(
        "[upstream]\nservers=[\"192.0.2.1\"]\n[[zones]]\nname = \"school.lan\"\nfile = \"nowhere.zone\"\n",
    );
    assert_eq!(found[0].line, 5);
    assert_eq!(found[0].key, "zones.file");
    assert!(found[0].message.contains("/etc/hedge/nowhere.zone"));
}

#[test]
fn recursive_mode_needs_root_hints() {
    let found =
        problems("[upstream]\nmode = \"recursive\"\nroot_hints = \"/nonexistent/root.hints\"\n");
    assert_eq!(found[0].key, "upstream.root_hints");
    assert_eq!(found[0].line, 3);
}

#[test]
fn bad_mode_is_an_error() {
    let found = problems("[upstream]\nmode = \"sideways\"\n");
    assert_eq!(found[0].line, 2);
    assert_eq!(found[0].key, "upstream.mode");
}

#[test]
fn example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.server.listen,
        vec!["127.0.0.1:5353".parse::<SocketAddr>().unwrap()]
    );
    assert!(!config.upstream.servers.is_empty());
    assert!(!config.zones.is_empty());
}

#[test]
fn duplicate_table_names_the_line() {
    let found = problems("[server]\nrate_limit_qps = 1\n\n[server]\nlisten = []\n");
    assert_eq!(found[0].line, 4);
    assert_eq!(found[0].key, "[server]");
    assert!(found[0].message.contains("duplicate"), "{}", found[0]);
}

#[test]
fn syntax_error_names_the_line() {
    let found = problems("[server]\nrate_limit_qps = = 3\n");
    assert_eq!(found[0].line, 2);
}

#[test]
fn missing_ca_file_is_named() {
    let found = problems(
        "[upstream]\nservers = [\"tls://dns.example@192.0.2.1\"]\ntls_ca_file = \"ca.pem\"\n",
    );
    assert_eq!(found[0].key, "upstream.tls_ca_file");
    assert_eq!(found[0].line, 3);
    assert!(found[0].message.contains("/etc/hedge/ca.pem"));
}

#[test]
fn schedule_problems_name_key_and_line() {
    let text = "\
[upstream]
servers = [\"192.0.2.1\"]

[[groups]]
name = \"home\"
timezone = \"Mars/Olympus\"
[[groups.schedule]]
name = \"bedtime\"
days = \"someday\"
from = \"25:00\"
to = \"07:00\"
block = [\"sleeping\"]
";
    let found = problems(text);
    let keys: Vec<(usize, &str)> = found.iter().map(|p| (p.line, p.key.as_str())).collect();
    assert_eq!(
        keys,
        [
            (6, "groups.timezone"),
            (9, "groups.schedule.days"),
            (10, "groups.schedule.from"),
            (12, "groups.schedule.block"),
        ],
        "{found:#?}"
    );
}

#[test]
fn safe_search_and_youtube_modes_are_read() {
    let config = check("[upstream]\nservers = [\"192.0.2.1\"]\n[[groups]]\nname = \"p\"\nsafe_search = true\nyoutube = \"moderate\"\n").unwrap();
    let group = config.groups.iter().find(|g| g.name == "p").unwrap();
    assert!(group.safe_search);
    assert_eq!(group.youtube, super::YoutubeMode::Moderate);
    let found = problems(
        "[upstream]\nservers = [\"192.0.2.1\"]\n[[groups]]\nname = \"p\"\nyoutube = \"loose\"\n",
    );
    assert_eq!(
        (found[0].line, found[0].key.as_str()),
        (5, "groups.youtube")
    );
}

#[test]
fn logging_and_approvers_are_checked() {
    let text = "\
[upstream]
servers = [\"192.0.2.53\"]

[logging]
retention_days = 0
queue = 0

[[approvers]]
name = \"J. Head\"
role = \"head teacher\"
max_days = 30
may_bypass = true

[[approvers]]
name = \"j. head\"
role = \"deputy\"
max_days = 7

[[approvers]]
name = \"DSL\"
role = \"\"
max_days = 400

[[groups]]
name = \"adults\"
log = \"sometimes\"
";
    let found = problems(text);
    let rendered: Vec<String> = found.iter().map(|p| p.to_string()).collect();
    let keys: Vec<(usize, &str)> = found.iter().map(|p| (p.line, p.key.as_str())).collect();
    // The unknown log level is a parse error and stops the rest.
    assert_eq!(keys, [(26, "groups.log")], "{rendered:#?}");

    let text = text.replace("log = \"sometimes\"", "log = \"blocked\"");
    let found = problems(&text);
    let rendered: Vec<String> = found.iter().map(|p| p.to_string()).collect();
    let keys: Vec<(usize, &str)> = found.iter().map(|p| (p.line, p.key.as_str())).collect();
    assert_eq!(
        keys,
        [
            (5, "logging.retention_days"),
            (6, "logging.queue"),
            (15, "approvers.name"),
            (21, "approvers.role"),
            (22, "approvers.max_days"),
        ],
        "{rendered:#?}"
    );
    assert!(found[2].message.contains("listed twice"));

    let good = check(
        "[upstream]\nservers = [\"192.0.2.53\"]\n[[approvers]]\nname = \"J. Head\"\nrole = \"head teacher\"\nmax_days = 30\n[[groups]]\nname = \"staff\"\nlog = \"blocked\"\n",
    )
    .unwrap();
    assert_eq!(good.logging.retention_days, 90);
    assert_eq!(good.approver("j. head").unwrap().max_days, 30);
    assert!(!good.approvers[0].may_bypass);
    assert_eq!(good.exemptions.max_bypass_hours, 8);
    assert_eq!(good.groups[0].log, LogLevel::Blocked);
    assert_eq!(good.logging.database, Path::new("/var/lib/hedge/hedge.db"));
}

#[test]
fn alerts_metrics_and_reports_are_checked() {
    let text = "\
[upstream]
servers = [\"192.0.2.53\"]

[alerts]
window_minutes = 0
syslog_socket = \"\"

[[alerts.webhooks]]
url = \"ftp://example.org/hook\"
timeout_secs = 0
attempts = 50

[[alerts.webhooks]]
url = \"https:///nohost\"

[metrics]
listen = \"localhost\"
";
    let found = problems(text);
    let rendered: Vec<String> = found.iter().map(|p| p.to_string()).collect();
    let keys: Vec<(usize, &str)> = found.iter().map(|p| (p.line, p.key.as_str())).collect();
    assert_eq!(
        keys,
        [
            (5, "alerts.window_minutes"),
            (9, "alerts.webhooks.url"),
            (10, "alerts.webhooks.timeout_secs"),
            (11, "alerts.webhooks.attempts"),
            (14, "alerts.webhooks.url"),
            (6, "alerts.syslog_socket"),
            (17, "metrics.listen"),
        ],
        "{rendered:#?}"
    );
    assert!(found[1].message.contains("\"ftp://example.org/hook\""));
    assert!(found[6].message.contains("\"localhost\""));

    let good = check(
        "[upstream]\nservers = [\"192.0.2.53\"]\n[alerts]\nsyslog = false\n[[alerts.webhooks]]\nurl = \"https://chat.example.org/hook\"\n[metrics]\nlisten = \"9153\"\n[reports]\nsite = \" Hill Top \"\n",
    )
    .unwrap();
    assert_eq!(good.alerts.window, Duration::from_secs(3600));
    assert_eq!(good.alerts.syslog, None);
    assert_eq!(good.alerts.webhooks[0].attempts, 5);
    assert_eq!(good.alerts.webhooks[0].timeout, Duration::from_secs(5));
    assert_eq!(good.metrics.listen, Some("127.0.0.1:9153".parse().unwrap()));
    assert_eq!(good.reports.site.as_deref(), Some("Hill Top"));

    let defaults = check("[upstream]\nservers = [\"192.0.2.53\"]\n").unwrap();
    assert_eq!(defaults.metrics.listen, None);
    assert_eq!(
        defaults.alerts.syslog.as_deref(),
        Some(Path::new("/dev/log"))
    );
    assert!(defaults.alerts.webhooks.is_empty());
}

#[test]
fn the_repeat_window_is_checked() {
    let text = "[upstream]\nservers = [\"192.0.2.53\"]\n[logging]\nrepeat_window_secs = 61\n";
    let found = problems(text);
    let keys: Vec<(usize, &str)> = found.iter().map(|p| (p.line, p.key.as_str())).collect();
    assert_eq!(keys, [(4, "logging.repeat_window_secs")]);
    assert!(
        found[0]
            .message
            .contains("61 is out of range: from 0 to 60"),
        "{}",
        found[0]
    );
    let off = check("[upstream]\nservers = [\"192.0.2.53\"]\n[logging]\nrepeat_window_secs = 0\n")
        .unwrap();
    assert_eq!(off.logging.repeat_window, std::time::Duration::ZERO);
    let default = check("[upstream]\nservers = [\"192.0.2.53\"]\n").unwrap();
    assert_eq!(
        default.logging.repeat_window,
        std::time::Duration::from_secs(10)
    );
}

#[test]
fn the_pending_bound_is_checked() {
    let text = "[upstream]\nservers = [\"192.0.2.53\"]\nmax_pending = 0\n";
    let found = problems(text);
    let keys: Vec<(usize, &str)> = found.iter().map(|p| (p.line, p.key.as_str())).collect();
    assert_eq!(keys, [(3, "upstream.max_pending")]);
    assert!(
        found[0]
            .message
            .contains("0 is out of range: from 1 to 65536"),
        "{}",
        found[0]
    );
    let default = check("[upstream]\nservers = [\"192.0.2.53\"]\n").unwrap();
    assert_eq!(default.upstream.max_pending, 1024);
}

#[test]
fn a_missing_key_is_named_within_its_entry() {
    let found = problems(
        "[upstream]\nservers = [\"192.0.2.1\"]\n[[groups]]\nname = \"p\"\n\n[[clients]]\nname = \"a\"\naddress = \"10.0.0.4\"\ngroup = \"p\"\n\n[[clients]]\nname = \"tablet\"\naddress = \"10.0.0.5\"\n",
    );
    assert_eq!(
        (found[0].line, found[0].key.as_str()),
        (11, "clients[2].group"),
        "{found:#?}"
    );
    assert!(found[0].message.contains("missing field `group`"));
    let found = problems(
        "[upstream]\nservers = [\"192.0.2.1\"]\n[[groups]]\nname = \"p\"\n[[groups]]\nname = \"q\"\n[[groups.schedule]]\nname = \"bed\"\ndays = \"all\"\nfrom = \"21:00\"\n",
    );
    assert_eq!(
        (found[0].line, found[0].key.as_str()),
        (7, "groups[2].schedule[1].to"),
        "{found:#?}"
    );
}

#[test]
fn debian_root_key_and_root_ds_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("root.key");
    // The form of Debian's dns-root-data files: no TTL, a comment after.
    std::fs::write(&key, ". IN DNSKEY 257 3 8 AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU= ; keytag 20326\n. IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n").unwrap();
    let anchors = check::read_anchors(&key).unwrap();
    let types: Vec<_> = anchors.iter().map(|r| r.record_type()).collect();
    assert!(
        types.contains(&hickory_proto::rr::RecordType::DNSKEY),
        "{types:?}"
    );
    assert!(
        types.contains(&hickory_proto::rr::RecordType::DS),
        "{types:?}"
    );
}

#[test]
fn dnssec_defaults_follow_the_mode() {
    let forward = check("[upstream]\nservers = [\"192.0.2.53\"]\n").unwrap();
    assert_eq!(forward.upstream.dnssec.mode, DnssecMode::Process);
    let off = check("[upstream]\nservers = [\"192.0.2.53\"]\ndnssec = \"off\"\n").unwrap();
    assert_eq!(off.upstream.dnssec.mode, DnssecMode::Off);
    let validate = check(
        "[upstream]\nservers = [\"192.0.2.53\"]\ndnssec = \"validate\"\ninsecure_domains = [\"Vendor.Example\"]\n",
    )
    .unwrap();
    let dnssec = &validate.upstream.dnssec;
    assert_eq!(dnssec.mode, DnssecMode::Validate);
    // The root: Debian's key file, or hickory's built-in copy of it.
    assert_eq!(
        dnssec.anchor_zones,
        vec![hickory_proto::rr::LowerName::from(Name::root())]
    );
    let under = |n: &str| {
        dnssec.validates(&hickory_proto::rr::LowerName::from(
            Name::from_ascii(n).unwrap(),
        ))
    };
    assert!(under("www.example.org."));
    assert!(!under("cdn.vendor.example."));
}

#[test]
fn dnssec_mistakes_are_named_with_their_line() {
    let found = problems(
        "[upstream]\nservers = [\"192.0.2.53\"]\ndnssec = \"strict\"\ntrust_anchors = \"nowhere.key\"\ninsecure_domains = [\"bad..name\"]\n",
    );
    let keys: Vec<(usize, &str)> = found.iter().map(|p| (p.line, p.key.as_str())).collect();
    assert!(keys.contains(&(3, "upstream.dnssec")), "{found:?}");
    assert!(keys.contains(&(4, "upstream.trust_anchors")), "{found:?}");
    assert!(
        keys.contains(&(5, "upstream.insecure_domains")),
        "{found:?}"
    );
    assert!(found.iter().any(|p| p.message.contains("\"strict\"")));
}

#[test]
fn a_trust_anchor_file_must_hold_ds_or_dnskey_records() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("anchors.key");
    std::fs::write(
        &good,
        "school.test. 3600 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n",
    )
    .unwrap();
    let config = Config::from_str(
        &format!(
            "[upstream]\nservers = [\"192.0.2.53\"]\ndnssec = \"validate\"\ntrust_anchors = \"{}\"\n",
            good.display()
        ),
        &dir.path().join("hedge.toml"),
    )
    .unwrap();
    assert_eq!(config.upstream.dnssec.anchors.len(), 1);
    assert_eq!(
        config.upstream.dnssec.anchor_zones,
        vec![hickory_proto::rr::LowerName::from(
            Name::from_ascii("school.test.").unwrap()
        )]
    );

    let wrong = dir.path().join("wrong.key");
    std::fs::write(&wrong, "school.test. 3600 IN A 192.0.2.1\n").unwrap();
    let error = Config::from_str(
        &format!(
            "[upstream]\nservers = [\"192.0.2.53\"]\ntrust_anchors = \"{}\"\n",
            wrong.display()
        ),
        &dir.path().join("hedge.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("hedge.toml:3: upstream.trust_anchors"),
        "{error}"
    );
    assert!(
        error.contains("a trust anchor is a DS or DNSKEY record"),
        "{error}"
    );
}

#[test]
fn web_is_checked_and_off_by_default() {
    let text = "\
[upstream]
servers = [\"192.0.2.53\"]

[web]
listen = \"console\"
allow_networks = [\"10.0.0.0/33\"]
cert_file = \"/nonexistent/console.pem\"
require_totp = true
";
    let found = problems(text);
    let rendered: Vec<String> = found.iter().map(|p| p.to_string()).collect();
    let keys: Vec<(usize, &str)> = found.iter().map(|p| (p.line, p.key.as_str())).collect();
    assert_eq!(
        keys,
        [
            (5, "web.listen"),
            (6, "web.allow_networks"),
            (7, "web.cert_file"),
        ],
        "{rendered:#?}"
    );
    assert!(found[0].message.contains("\"console\""));
    assert!(found[1].message.contains("\"10.0.0.0/33\""));
    assert!(found[2].message.contains("without web.key_file"));

    let missing = problems(
        "[upstream]\nservers = [\"192.0.2.53\"]\n[web]\nlisten = \"127.0.0.1:8443\"\ncert_file = \"/nonexistent/c.pem\"\nkey_file = \"/nonexistent/k.pem\"\n",
    );
    let keys: Vec<&str> = missing.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["web.cert_file", "web.key_file"]);

    let good = check(
        "[upstream]\nservers = [\"192.0.2.53\"]\n[web]\nlisten = \"192.168.1.10:8443\"\nrequire_totp = true\n",
    )
    .unwrap();
    assert_eq!(good.web.listen, Some("192.168.1.10:8443".parse().unwrap()));
    assert!(good.web.require_totp);
    assert_eq!(good.web.tls_files, None);
    assert!(
        good.web
            .allow_networks
            .iter()
            .any(|n| n.contains(&"192.168.1.20".parse::<IpAddr>().unwrap()))
    );

    let defaults = check("[upstream]\nservers = [\"192.0.2.53\"]\n").unwrap();
    assert_eq!(defaults.web.listen, None);
    assert!(!defaults.web.require_totp);
}
