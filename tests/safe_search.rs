//! Safe search and circumvention through the real binary: the CNAME to the
//! safe endpoint with its addresses, per group; the canary names.

mod common;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

const GOOGLE: &str = "$ORIGIN google.com.\n$TTL 300\n@ IN SOA ns.google.com. a.google.com. 1 3600 600 86400 60\n\
@ IN NS ns.google.com.\nns IN A 192.0.2.1\nforcesafesearch IN A 216.239.38.120\nwww IN A 142.250.0.1\n";
const GOOGLE_UK: &str = "$ORIGIN google.co.uk.\n$TTL 300\n@ IN SOA ns.google.co.uk. a.google.co.uk. 1 3600 600 86400 60\n\
@ IN NS ns.google.co.uk.\nns IN A 192.0.2.1\nwww IN A 142.250.0.2\n";
const YOUTUBE: &str = "$ORIGIN youtube.com.\n$TTL 300\n@ IN SOA ns.youtube.com. a.youtube.com. 1 3600 600 86400 60\n\
@ IN NS ns.youtube.com.\nns IN A 192.0.2.1\nrestrict IN A 216.239.38.120\nrestrictmoderate IN A 216.239.38.119\nwww IN A 142.250.0.3\n";
const ICLOUD: &str = "$ORIGIN icloud.com.\n$TTL 300\n@ IN SOA ns.icloud.com. a.icloud.com. 1 3600 600 86400 60\n\
@ IN NS ns.icloud.com.\nns IN A 192.0.2.1\nmask IN A 17.0.0.1\n";

const SAFE: u8 = 2;
const MODERATE: u8 = 3;
const STAFF: u8 = 4;

async fn start() -> (TestUpstream, Hedge) {
    let upstream = TestUpstream::start_zones(
        "127.0.0.1:0".parse().unwrap(),
        &[
            ("google.com.", GOOGLE),
            ("google.co.uk.", GOOGLE_UK),
            ("youtube.com.", YOUTUBE),
            ("icloud.com.", ICLOUD),
            (UPSTREAM_ZONE, &upstream_zone_text()),
        ],
    )
    .await;
    let config = format!(
        r#"[server]
listen = ["LISTEN"]
rate_limit_qps = 0

[upstream]
servers = ["{}"]
timeout_ms = 1000
attempts = 1

[[groups]]
name = "pupils"
networks = ["127.0.0.2/32"]
block = ["circumvention"]
safe_search = true

[[groups]]
name = "older"
networks = ["127.0.0.3/32"]
safe_search = true
youtube = "moderate"

[[groups]]
name = "staff"
networks = ["127.0.0.4/32"]
"#,
        upstream.addr
    );
    let hedge = Hedge::start(&config).await;
    (upstream, hedge)
}

async fn ask(hedge: &Hedge, from: u8, name: &str, rtype: RecordType) -> Message {
    udp_exchange_from(local(from), hedge.addr, &query(name, rtype), PATIENCE)
        .await
        .unwrap_or_else(|| panic!("an answer for {name}"))
}

fn cname(message: &Message) -> Option<String> {
    message.answers.iter().find_map(|r| match &r.data {
        RData::CNAME(target) => Some(target.0.to_string()),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn safe_search_groups_get_the_safe_endpoints() {
    let (_upstream, hedge) = start().await;

    let reply = ask(&hedge, SAFE, "www.google.co.uk.", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        cname(&reply).as_deref(),
        Some("forcesafesearch.google.com.")
    );
    assert_eq!(addresses(&reply), ["216.239.38.120"]);
    assert_eq!(reply.answers[0].name.to_string(), "www.google.co.uk.");

    let reply = ask(&hedge, SAFE, "www.youtube.com.", RecordType::A).await;
    assert_eq!(cname(&reply).as_deref(), Some("restrict.youtube.com."));
    assert_eq!(addresses(&reply), ["216.239.38.120"]);

    let reply = ask(&hedge, MODERATE, "www.youtube.com.", RecordType::A).await;
    assert_eq!(
        cname(&reply).as_deref(),
        Some("restrictmoderate.youtube.com.")
    );
    assert_eq!(addresses(&reply), ["216.239.38.119"]);

    // Staff get the real thing.
    let reply = ask(&hedge, STAFF, "www.google.co.uk.", RecordType::A).await;
    assert_eq!(cname(&reply), None);
    assert_eq!(addresses(&reply), ["142.250.0.2"]);
    let reply = ask(&hedge, STAFF, "www.youtube.com.", RecordType::A).await;
    assert_eq!(addresses(&reply), ["142.250.0.3"]);

    // Other Google names are not search and are not rewritten.
    let reply = ask(&hedge, SAFE, "forcesafesearch.google.com.", RecordType::A).await;
    assert_eq!(cname(&reply), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn circumvention_canaries_and_doh_resolvers() {
    let (_upstream, hedge) = start().await;

    for name in [
        "use-application-dns.net.",
        "mask.icloud.com.",
        "mask-h2.icloud.com.",
    ] {
        let reply = ask(&hedge, SAFE, name, RecordType::A).await;
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::NXDomain,
            "{name}"
        );
    }
    let reply = ask(&hedge, SAFE, "_dns.resolver.arpa.", RecordType::SVCB).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.answers.is_empty(), "NODATA for DDR discovery");

    let reply = ask(&hedge, SAFE, "dns.google.", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    let reply = ask(
        &hedge,
        SAFE,
        "mozilla.cloudflare-dns.com.",
        RecordType::HTTPS,
    )
    .await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);

    // A group that does not block circumvention reaches them.
    let reply = ask(&hedge, STAFF, "mask.icloud.com.", RecordType::A).await;
    assert_eq!(addresses(&reply), ["17.0.0.1"]);
}
