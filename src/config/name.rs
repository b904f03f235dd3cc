//! Names are normalised once, at the edge: lowercase ASCII, no trailing dot,
//! internationalised names in their punycode (`xn--`) form. Everything that
//! stores or compares names downstream relies on this.

use std::fmt;

/// Why a string is not a name hedge can filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NameProblem {
    Empty,
    TooLong,
    EmptyLabel,
    LabelTooLong,
    BadCharacter,
    /// An IP address where a name was expected: DNS cannot block it.
    IpAddress,
    /// `localhost` and the like, found in every hosts file.
    Reserved,
    BadInternationalName,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameProblem::Empty => "empty name",
            NameProblem::TooLong => "name longer than 253 characters",
            NameProblem::EmptyLabel => "empty label (two dots in a row)",
            NameProblem::LabelTooLong => "label longer than 63 characters",
            NameProblem::BadCharacter => "character not allowed in a name",
            NameProblem::IpAddress => "an IP address, not a name",
            NameProblem::Reserved => "a reserved local name (localhost and the like)",
            NameProblem::BadInternationalName => "internationalised name that does not convert",
        })
    }
}

/// Host names every hosts file lists for the machine itself.
const RESERVED: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-allhosts",
];

/// Normalises `input` to the one form hedge stores and compares.
pub fn normalize(input: &str) -> Result<String, NameProblem> {
    let trimmed = input.trim();
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err(NameProblem::Empty);
    }
    let name = if trimmed.is_ascii() {
        trimmed.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(trimmed).map_err(|_| NameProblem::BadInternationalName)?
    };
    check(&name)?;
    if RESERVED.contains(&name.as_str()) {
        return Err(NameProblem::Reserved);
    }
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Err(NameProblem::IpAddress);
    }
    Ok(name)
}

fn check(name: &str) -> Result<(), NameProblem> {
    if name.len() > 253 {
        return Err(NameProblem::TooLong);
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(NameProblem::EmptyLabel);
        }
        if label.len() > 63 {
            return Err(NameProblem::LabelTooLong);
        }
        // Underscores appear in real service names (_dmarc, _domainkey).
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(NameProblem::BadCharacter);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercases_and_drops_the_root_dot() {
        assert_eq!(normalize("WWW.Example.COM.").unwrap(), "www.example.com");
        assert_eq!(normalize("  a.b  ").unwrap(), "a.b");
    }

    #[test]
    fn international_names_become_punycode() {
        assert_eq!(
            normalize("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(
            normalize("BÜCHER.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(
            normalize("xn--bcher-kva.example").unwrap(),
            "xn--bcher-kva.example"
        );
    }

    #[test]
    fn real_world_oddities_are_names() {
        for name in [
            "r1---sn--0opoxu-2cjy.googlevideo.com",
            "_dmarc.example.org",
            "0.0.0.0.beeglivesex.com",
            "zip",
        ] {
            assert!(normalize(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn problems_are_named() {
        assert_eq!(normalize(""), Err(NameProblem::Empty));
        assert_eq!(normalize("a..b"), Err(NameProblem::EmptyLabel));
        assert_eq!(normalize("exa mple.com"), Err(NameProblem::BadCharacter));
        assert_eq!(
            normalize("example.com/path"),
            Err(NameProblem::BadCharacter)
        );
        assert_eq!(
            normalize(&format!("{}.com", "a".repeat(64))),
            Err(NameProblem::LabelTooLong)
        );
        assert_eq!(normalize(&"a.".repeat(130)), Err(NameProblem::TooLong));
        assert_eq!(normalize("localhost"), Err(NameProblem::Reserved));
        assert_eq!(normalize("0.0.0.0"), Err(NameProblem::IpAddress));
        assert_eq!(normalize("::1"), Err(NameProblem::BadCharacter));
    }
}
