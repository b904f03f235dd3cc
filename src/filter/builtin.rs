//! Lists the project maintains itself, compiled into hedge and loaded for
//! their category in every configuration (beside any configured sources).

use crate::config::ListFormat;

/// A list shipped inside hedge.
pub struct BuiltinList {
    pub category: &'static str,
    /// Where the list lives in the source tree, for reports and `explain`.
    pub name: &'static str,
    pub format: ListFormat,
    pub text: &'static str,
}

pub const BUILTIN_LISTS: &[BuiltinList] = &[BuiltinList {
    category: "circumvention",
    name: "(built-in) lists/circumvention-builtin.rpz",
    format: ListFormat::Rpz,
    text: include_str!("../../lists/circumvention-builtin.rpz"),
}];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::parse::{Action, RpzAction, parse};

    #[test]
    fn builtin_lists_parse_cleanly_with_the_canaries() {
        for list in BUILTIN_LISTS {
            let mut entries = Vec::new();
            let report = parse(list.text, list.format, |e| entries.push(e));
            assert_eq!(
                report.skipped_total(),
                0,
                "{}: {:?}",
                list.name,
                report.examples
            );
            assert!(report.entries > 30, "{}", list.name);
            let action = |name: &str| {
                entries
                    .iter()
                    .find(|e| e.name == name)
                    .map(|e| e.action.clone())
            };
            assert_eq!(
                action("use-application-dns.net"),
                Some(Action::Rpz(RpzAction::NxDomain))
            );
            assert_eq!(
                action("mask.icloud.com"),
                Some(Action::Rpz(RpzAction::NxDomain))
            );
            assert_eq!(
                action("mask-h2.icloud.com"),
                Some(Action::Rpz(RpzAction::NxDomain))
            );
            assert_eq!(
                action("_dns.resolver.arpa"),
                Some(Action::Rpz(RpzAction::NoData))
            );
            assert!(action("dns.google").is_some());
        }
    }
}
