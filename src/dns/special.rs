//! Names that must never go upstream, answered here as Unbound does by
//! default: `localhost` (RFC 6761), `invalid` (RFC 6761) and `onion`
//! (RFC 7686), and the reverse zones of private, loopback, link-local and
//! documentation addresses (RFC 6303), so a school's internal addresses do
//! not leak to the internet in PTR queries. A configured local zone always
//! comes first: a school can still serve its own reverse zone.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, SOA};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};

/// How a special-use name is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialAnswer {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    /// The SOA of the locally served zone, for negative answers.
    pub authorities: Vec<Record>,
}

const NEGATIVE_TTL: u32 = 3600;

static LOCALLY_SERVED: LazyLock<Vec<LowerName>> = LazyLock::new(|| {
    let mut zones: Vec<String> = [
        // RFC 6303 section 4.1 and the IPv4 special ranges.
        "10.in-addr.arpa.",
        "168.192.in-addr.arpa.",
        "0.in-addr.arpa.",
        "127.in-addr.arpa.",
        "254.169.in-addr.arpa.",
        "2.0.192.in-addr.arpa.",
        "100.51.198.in-addr.arpa.",
        "113.0.203.in-addr.arpa.",
        "255.255.255.255.in-addr.arpa.",
        // RFC 6303 section 4.2-4.5: ::, ::1, ULA, link-local, documentation.
        "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
        "d.f.ip6.arpa.",
        "8.e.f.ip6.arpa.",
        "9.e.f.ip6.arpa.",
        "a.e.f.ip6.arpa.",
        "b.e.f.ip6.arpa.",
        "8.b.d.0.1.0.0.2.ip6.arpa.",
        // RFC 6761 / RFC 7686 special-use names.
        "invalid.",
        "onion.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // 172.16.0.0/12 and the shared address space 100.64.0.0/10 (RFC 7793).
    zones.extend((16..=31).map(|n| format!("{n}.172.in-addr.arpa.")));
    zones.extend((64..=127).map(|n| format!("{n}.100.in-addr.arpa.")));
    zones
        .iter()
        .map(|z| LowerName::from(Name::from_ascii(z).expect("valid zone name")))
        .collect()
});

static LOCALHOST: LazyLock<LowerName> =
    LazyLock::new(|| LowerName::from(Name::from_ascii("localhost.").expect("valid")));

/// The answer for `name` if it is a special-use name, or `None` if it may go
/// upstream.
pub fn special_answer(name: &LowerName, qtype: RecordType) -> Option<SpecialAnswer> {
    // Nearly every query is for a public name: decide on the last label
    // before walking the zone list.
    let tld = name.iter().next_back()?;
    if !matches!(tld, b"arpa" | b"localhost" | b"invalid" | b"onion") {
        return None;
    }
    if LOCALHOST.zone_of(name) {
        return Some(localhost(name, qtype));
    }
    let zone = LOCALLY_SERVED.iter().find(|zone| zone.zone_of(name))?;
    let soa = soa(zone);
    let answer = if zone != name {
        SpecialAnswer {
            rcode: ResponseCode::NXDomain,
            answers: Vec::new(),
            authorities: vec![soa],
        }
    } else if qtype == RecordType::SOA {
        SpecialAnswer {
            rcode: ResponseCode::NoError,
            answers: vec![soa],
            authorities: Vec::new(),
        }
    } else {
        SpecialAnswer {
            rcode: ResponseCode::NoError,
            answers: Vec::new(),
            authorities: vec![soa],
        }
    };
    Some(answer)
}

/// `localhost` and every name below it is the loopback address (RFC 6761 6.3).
fn localhost(name: &LowerName, qtype: RecordType) -> SpecialAnswer {
    let owner = Name::from(name.clone());
    let data = match qtype {
        RecordType::A => Some(RData::A(A(Ipv4Addr::LOCALHOST))),
        RecordType::AAAA => Some(RData::AAAA(AAAA(Ipv6Addr::LOCALHOST))),
        _ => None,
    };
    match data {
        Some(data) => SpecialAnswer {
            rcode: ResponseCode::NoError,
            answers: vec![Record::from_rdata(owner, NEGATIVE_TTL, data)],
            authorities: Vec::new(),
        },
        None => SpecialAnswer {
            rcode: ResponseCode::NoError,
            answers: Vec::new(),
            authorities: vec![soa(&LOCALHOST)],
        },
    }
}

fn soa(zone: &LowerName) -> Record {
    let zone = Name::from(zone.clone());
    let soa = SOA::new(
        zone.clone(),
        Name::from_ascii("nobody.invalid.").expect("valid"),
        1,
        604_800,
        86_400,
        2_419_200,
        NEGATIVE_TTL,
    );
    Record::from_rdata(zone, NEGATIVE_TTL, RData::SOA(soa))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> LowerName {
        LowerName::from(Name::from_ascii(s).unwrap())
    }

    #[test]
    fn private_reverse_names_stay_local() {
        for ptr in [
            "5.1.168.192.in-addr.arpa.",
            "1.0.0.10.in-addr.arpa.",
            "9.9.20.172.in-addr.arpa.",
            "1.1.64.100.in-addr.arpa.",
            "1.0.0.127.in-addr.arpa.",
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.",
        ] {
            let answer = special_answer(&name(ptr), RecordType::PTR).expect(ptr);
            assert_eq!(answer.rcode, ResponseCode::NXDomain, "{ptr}");
            assert_eq!(answer.authorities[0].record_type(), RecordType::SOA);
        }
    }

    #[test]
    fn public_names_go_upstream() {
        for public in [
            "8.8.8.8.in-addr.arpa.",
            "1.0.32.172.in-addr.arpa.",
            "1.0.128.100.in-addr.arpa.",
            "www.example.com.",
            "invalid.example.com.",
        ] {
            assert_eq!(
                special_answer(&name(public), RecordType::PTR),
                None,
                "{public}"
            );
        }
    }

    #[test]
    fn localhost_is_loopback() {
        let a = special_answer(&name("localhost."), RecordType::A).unwrap();
        assert_eq!(a.answers[0].data, RData::A(A(Ipv4Addr::LOCALHOST)));
        let aaaa = special_answer(&name("app.localhost."), RecordType::AAAA).unwrap();
        assert_eq!(aaaa.answers[0].data, RData::AAAA(AAAA(Ipv6Addr::LOCALHOST)));
        let mx = special_answer(&name("localhost."), RecordType::MX).unwrap();
        assert!(mx.answers.is_empty());
        assert_eq!(mx.rcode, ResponseCode::NoError);
    }

    #[test]
    fn invalid_and_onion_do_not_exist() {
        let answer = special_answer(&name("x.invalid."), RecordType::A).unwrap();
        assert_eq!(answer.rcode, ResponseCode::NXDomain);
        let answer = special_answer(&name("abc.onion."), RecordType::A).unwrap();
        assert_eq!(answer.rcode, ResponseCode::NXDomain);
        let apex = special_answer(&name("10.in-addr.arpa."), RecordType::SOA).unwrap();
        assert_eq!(apex.answers[0].record_type(), RecordType::SOA);
    }
}
