use super::*;

fn entries(text: &str, format: ListFormat) -> (Vec<ListEntry>, ParseReport) {
    let mut out = Vec::new();
    let report = parse(text, format, |e| out.push(e));
    (out, report)
}

fn names(entries: &[ListEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.name.as_str()).collect()
}

#[test]
fn plain_lists() {
    let text = "# comment\n\nExample.COM\nbad..name\nads.example.net # trailing\nhttp://host.example/\nevil.example/path/page.html\nbücher.example\n";
    let (found, report) = entries(text, ListFormat::Plain);
    assert_eq!(
        names(&found),
        [
            "example.com",
            "ads.example.net",
            "host.example",
            "xn--bcher-kva.example"
        ]
    );
    assert_eq!(found[1].line, 5);
    assert_eq!(report.entries, 4);
    assert_eq!(
        report.skipped[&SkipReason::BadName(NameProblem::EmptyLabel)],
        1
    );
    assert_eq!(report.url_paths(), 1);
    assert_eq!(
        report.examples[0],
        (4, SkipReason::BadName(NameProblem::EmptyLabel))
    );
}

#[test]
fn hosts_files() {
    let text = "127.0.0.1 localhost\n::1 ip6-localhost\n0.0.0.0 ads.example a.tracker.example  # two names\n0.0.0.0 0.0.0.0\n127.0.0.1\tTAB.example\n";
    let (found, report) = entries(text, ListFormat::Hosts);
    assert_eq!(
        names(&found),
        ["ads.example", "a.tracker.example", "tab.example"]
    );
    assert_eq!(
        report.skipped[&SkipReason::BadName(NameProblem::Reserved)],
        2
    );
    assert_eq!(
        report.skipped[&SkipReason::BadName(NameProblem::IpAddress)],
        1
    );
}

#[test]
fn adblock_rules() {
    let text = "[Adblock Plus 2.0]\n! Title: x\n||ads.example^\n@@||good.ads.example^\n||tracker.example^$third-party\n##.banner\n||cdn.example/ads/*\n/banner/*\n||x.example^|\n";
    let (found, report) = entries(text, ListFormat::Adblock);
    assert_eq!(
        names(&found),
        ["ads.example", "good.ads.example", "x.example"]
    );
    assert_eq!(found[0].action, Action::Block);
    assert_eq!(found[1].action, Action::Allow);
    assert_eq!(report.skipped[&SkipReason::Unsupported], 3);
    assert_eq!(report.url_paths(), 1);
}

#[test]
fn wildcards() {
    let (found, report) = entries(
        "*.ads.example\nplain.example\n*.x.*.example\n",
        ListFormat::Wildcard,
    );
    assert_eq!(names(&found), ["ads.example", "plain.example"]);
    assert_eq!(report.skipped[&SkipReason::Unsupported], 1);
}

#[test]
fn rpz_zone_files() {
    let text = "\
$TTL 300
@ IN SOA localhost. need.to.know.only. (
      2026112201 3600 600 86400 60 )
  IN NS localhost.
bad.example          CNAME .
*.bad.example        CNAME .
nodata.example 60 IN CNAME *.
ok.bad.example       CNAME rpz-passthru.
redirect.example     A     192.0.2.7
redirect.example     AAAA  2001:db8::7
mx.example           MX 10 mail.example.
";
    let (found, report) = entries(text, ListFormat::Rpz);
    let got: Vec<(&str, &Action)> = found.iter().map(|e| (e.name.as_str(), &e.action)).collect();
    assert_eq!(
        got,
        [
            ("bad.example", &Action::Rpz(RpzAction::NxDomain)),
            ("bad.example", &Action::Rpz(RpzAction::NxDomain)),
            ("nodata.example", &Action::Rpz(RpzAction::NoData)),
            ("ok.bad.example", &Action::Allow),
            (
                "redirect.example",
                &Action::Rpz(RpzAction::LocalData(vec!["192.0.2.7".parse().unwrap()]))
            ),
            (
                "redirect.example",
                &Action::Rpz(RpzAction::LocalData(vec!["2001:db8::7".parse().unwrap()]))
            ),
        ]
    );
    assert_eq!(found[0].line, 5);
    assert_eq!(report.skipped[&SkipReason::Unsupported], 1);
}

#[test]
fn rpz_names_are_relative_to_the_zone() {
    let text = "$ORIGIN rpz.school.\n@ SOA a. b. 1 2 3 4 5\nbad.example.rpz.school. CNAME .\nother.example. CNAME .\n";
    let (found, _) = entries(text, ListFormat::Rpz);
    assert_eq!(names(&found), ["bad.example", "other.example"]);
}

#[test]
fn formats_are_detected() {
    assert_eq!(detect("# c\nexample.com\nads.example\n"), ListFormat::Plain);
    assert_eq!(
        detect("# c\n0.0.0.0 example.com\n127.0.0.1 a.b\n"),
        ListFormat::Hosts
    );
    assert_eq!(detect("! c\n||example.com^\n"), ListFormat::Adblock);
    assert_eq!(detect("*.example.com\n*.b.c\n"), ListFormat::Wildcard);
    assert_eq!(
        detect("$TTL 60\n@ SOA a. b. 1 2 3 4 5\nx CNAME .\n"),
        ListFormat::Rpz
    );
}

/// The real lists in ../shared/data/lists, with the entry counts its
/// README gives (entries without comments). Every line parses.
#[test]
fn real_lists_parse_with_their_published_counts() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/lists");
    if !dir.is_dir() {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    let expected: &[(&str, ListFormat, u64)] = &[
        (
            "hagezi-2022-3p-stevenblack.domains.txt.gz",
            ListFormat::Plain,
            140_626,
        ),
        (
            "hagezi-2022-3p-adguarddns.hosts.txt.gz",
            ListFormat::Hosts,
            123_962,
        ),
        (
            "hagezi-2022-3p-someonewhocares.hosts.txt.gz",
            ListFormat::Hosts,
            12_974,
        ),
        (
            "hagezi-2022-3p-easylist.adblock.txt.gz",
            ListFormat::Adblock,
            50_231,
        ),
        (
            "hagezi-2022-wildcard-personal.txt.gz",
            ListFormat::Wildcard,
            9_671,
        ),
        (
            "hagezi-2022-domains-doh-vpn-proxy-bypass.txt.gz",
            ListFormat::Plain,
            1_205,
        ),
        (
            "hagezi-2022-domains-nosafesearch.txt.gz",
            ListFormat::Plain,
            175,
        ),
        (
            "blocklistproject-drugs.adguard.txt.gz",
            ListFormat::Adblock,
            26_029,
        ),
        ("blocklistproject-drugs.txt.gz", ListFormat::Plain, 26_029),
        ("blocklistproject-vaping.txt.gz", ListFormat::Plain, 108),
    ];
    for (file, format, count) in expected {
        let text = read_list(&dir.join(file)).unwrap();
        assert_eq!(detect(&text), *format, "{file}: detected format");
        let mut names = 0u64;
        let report = parse(&text, *format, |_| names += 1);
        assert_eq!(report.entries, *count, "{file}: {report:?}");
        assert_eq!(report.skipped_total(), 0, "{file}: {:?}", report.examples);
        assert_eq!(names, *count);
    }
}
