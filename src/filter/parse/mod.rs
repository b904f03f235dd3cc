//! List parsers: plain domains, hosts files, adblock, wildcard and RPZ zone
//! files. Each turns text into [`ListEntry`]s and a [`ParseReport`] that
//! says what was skipped and why; nothing is skipped silently.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

use crate::config::{ListFormat, NameProblem, normalize};

/// What an RPZ entry asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RpzAction {
    /// `CNAME .`
    NxDomain,
    /// `CNAME *.`
    NoData,
    /// A/AAAA records: answer with these addresses.
    LocalData(Vec<IpAddr>),
}

/// What a list says about a name (and every name below it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    Block,
    Allow,
    Rpz(RpzAction),
}

/// One usable line of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    pub name: String,
    pub action: Action,
    /// 1-based line in the source.
    pub line: u32,
}

/// Why a line was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    BadName(NameProblem),
    /// The entry names a path below a host (a URL list entry): DNS can only
    /// block whole hosts, so it cannot enforce this.
    UrlPath,
    /// An adblock rule that is not a plain `||name^` (cosmetic rules, paths,
    /// modifiers), or an RPZ record hedge does not act on.
    Unsupported,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::BadName(problem) => write!(f, "invalid name: {problem}"),
            SkipReason::UrlPath => f.write_str("URL with a path (DNS cannot block a path)"),
            SkipReason::Unsupported => f.write_str("rule DNS cannot apply"),
        }
    }
}

/// What parsing one list found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseReport {
    pub lines: u64,
    pub entries: u64,
    pub skipped: BTreeMap<SkipReason, u64>,
    /// The first few skipped lines, for the operator to look at.
    pub examples: Vec<(u32, SkipReason)>,
}

impl ParseReport {
    fn skip(&mut self, line: u32, reason: SkipReason) {
        *self.skipped.entry(reason).or_default() += 1;
        if self.examples.len() < 5 {
            self.examples.push((line, reason));
        }
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    pub fn url_paths(&self) -> u64 {
        self.skipped.get(&SkipReason::UrlPath).copied().unwrap_or(0)
    }
}

/// The most text one list may expand to (a gzip bomb stops here).
pub const MAX_LIST_TEXT: u64 = 1 << 30;

/// Reads a list file, transparently un-gzipping it.
pub fn read_list(path: &Path) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut text = String::new();
        // A small gzip can expand without end: cap what it may become.
        let read = flate2::read::MultiGzDecoder::new(&bytes[..])
            .take(MAX_LIST_TEXT + 1)
            .read_to_string(&mut text)?;
        if read as u64 > MAX_LIST_TEXT {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the list expands to more than {MAX_LIST_TEXT} bytes"),
            ));
        }
        Ok(text)
    } else {
        String::from_utf8(bytes).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the file is not UTF-8 text",
            )
        })
    }
}

/// Guesses a list's format from its first meaningful lines.
pub fn detect(text: &str) -> ListFormat {
    let mut votes: BTreeMap<u8, usize> = BTreeMap::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(200)
    {
        let upper = line.to_ascii_uppercase();
        if line.starts_with("$ORIGIN") || upper.contains(" SOA ") || upper.contains(" CNAME ") {
            return ListFormat::Rpz;
        }
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let vote = if line.starts_with("||")
            || line.starts_with("@@")
            || line.starts_with('!')
            || line.starts_with('[')
        {
            0
        } else if line.starts_with("*.") {
            1
        } else if line.split_whitespace().next().is_some_and(|first| {
            first.parse::<IpAddr>().is_ok() && line.split_whitespace().count() > 1
        }) {
            2
        } else {
            3
        };
        *votes.entry(vote).or_default() += 1;
    }
    match votes.into_iter().max_by_key(|(_, n)| *n).map(|(v, _)| v) {
        Some(0) => ListFormat::Adblock,
        Some(1) => ListFormat::Wildcard,
        Some(2) => ListFormat::Hosts,
        _ => ListFormat::Plain,
    }
}

/// Parses `text` in `format`, handing each entry to `each`.
pub fn parse(text: &str, format: ListFormat, mut each: impl FnMut(ListEntry)) -> ParseReport {
    let mut report = ParseReport::default();
    if format == ListFormat::Rpz {
        parse_rpz(text, &mut report, &mut each);
        return report;
    }
    for (index, raw) in text.lines().enumerate() {
        report.lines += 1;
        let line = index as u32 + 1;
        let outcome = match format {
            ListFormat::Plain => plain_line(raw, line, &mut each),
            ListFormat::Hosts => hosts_line(raw, line, &mut each),
            ListFormat::Adblock => adblock_line(raw, line, &mut each),
            ListFormat::Wildcard => wildcard_line(raw, line, &mut each),
            ListFormat::Rpz => unreachable!("handled above"),
        };
        match outcome {
            Outcome::Nothing => {}
            Outcome::Entries(n) => report.entries += n,
            Outcome::Skip(reason) => report.skip(line, reason),
        }
    }
    report
}

enum Outcome {
    Nothing,
    Entries(u64),
    Skip(SkipReason),
}

fn strip_comment(raw: &str) -> &str {
    let line = match raw.find('#') {
        Some(i) => &raw[..i],
        None => raw,
    };
    line.trim()
}

fn emit(name: &str, action: Action, line: u32, each: &mut impl FnMut(ListEntry)) -> Outcome {
    match normalize(name) {
        Ok(name) => {
            each(ListEntry { name, action, line });
            Outcome::Entries(1)
        }
        Err(problem) => Outcome::Skip(SkipReason::BadName(problem)),
    }
}

/// A URL or `host/path` keeps its host; a real path makes it unenforceable.
fn host_of(entry: &str) -> Result<&str, SkipReason> {
    let rest = entry
        .strip_prefix("https://")
        .or_else(|| entry.strip_prefix("http://"))
        .unwrap_or(entry);
    match rest.find('/') {
        None => Ok(rest),
        Some(i) if rest[i..].trim_end_matches('/').is_empty() => Ok(&rest[..i]),
        Some(_) => Err(SkipReason::UrlPath),
    }
}

fn plain_line(raw: &str, line: u32, each: &mut impl FnMut(ListEntry)) -> Outcome {
    let text = strip_comment(raw);
    if text.is_empty() || text.starts_with('!') {
        return Outcome::Nothing;
    }
    match host_of(text) {
        Ok(host) => {
            let host = host.split(':').next().unwrap_or(host);
            emit(host, Action::Block, line, each)
        }
        Err(reason) => Outcome::Skip(reason),
    }
}

fn hosts_line(raw: &str, line: u32, each: &mut impl FnMut(ListEntry)) -> Outcome {
    let text = strip_comment(raw);
    if text.is_empty() {
        return Outcome::Nothing;
    }
    let mut fields = text.split_whitespace();
    let first = fields.next().unwrap_or_default();
    if first.parse::<IpAddr>().is_err() {
        // Some hosts-style lists mix in bare names.
        return emit(first, Action::Block, line, each);
    }
    let mut entries = 0;
    let mut problem = None;
    for name in fields {
        match emit(name, Action::Block, line, each) {
            Outcome::Entries(n) => entries += n,
            Outcome::Skip(reason) => problem = Some(reason),
            Outcome::Nothing => {}
        }
    }
    match (entries, problem) {
        (0, Some(reason)) => Outcome::Skip(reason),
        (0, None) => Outcome::Skip(SkipReason::BadName(NameProblem::Empty)),
        (n, _) => Outcome::Entries(n),
    }
}

fn adblock_line(raw: &str, line: u32, each: &mut impl FnMut(ListEntry)) -> Outcome {
    let text = raw.trim();
    // `!` comments and the `[Adblock Plus]` header; a lone `#` comment is
    // tolerated, but `##` and `#@#` are cosmetic rules.
    let cosmetic = text.starts_with("##") || text.starts_with("#@#") || text.starts_with("#?#");
    if text.is_empty()
        || text.starts_with('!')
        || text.starts_with('[')
        || (text.starts_with('#') && !cosmetic)
    {
        return Outcome::Nothing;
    }
    let (action, rule) = match text.strip_prefix("@@") {
        Some(rule) => (Action::Allow, rule),
        None => (Action::Block, text),
    };
    let Some(body) = rule.strip_prefix("||") else {
        return Outcome::Skip(SkipReason::Unsupported);
    };
    let Some(host) = body.strip_suffix('^').or_else(|| body.strip_suffix("^|")) else {
        if body.contains('/') {
            return Outcome::Skip(SkipReason::UrlPath);
        }
        return Outcome::Skip(SkipReason::Unsupported);
    };
    if host.contains('/') {
        return Outcome::Skip(SkipReason::UrlPath);
    }
    if host.contains(['*', '$', '^', '|']) {
        return Outcome::Skip(SkipReason::Unsupported);
    }
    emit(host, action, line, each)
}

fn wildcard_line(raw: &str, line: u32, each: &mut impl FnMut(ListEntry)) -> Outcome {
    let text = strip_comment(raw);
    if text.is_empty() {
        return Outcome::Nothing;
    }
    // `*.name` covers the name and everything below it, like every entry.
    let name = text.strip_prefix("*.").unwrap_or(text);
    if name.contains('*') {
        return Outcome::Skip(SkipReason::Unsupported);
    }
    emit(name, Action::Block, line, each)
}

/// A line-oriented reader for the RPZ subset lists use: `$ORIGIN`, `$TTL`,
/// the SOA and NS records (skipped, parentheses and all), and trigger
/// records `name [ttl] [class] TYPE data` with CNAME `.`, `*.` or
/// `rpz-passthru.`, A and AAAA. Owner names are made relative to the zone.
fn parse_rpz(text: &str, report: &mut ParseReport, each: &mut impl FnMut(ListEntry)) {
    let mut origin = String::new();
    let mut in_parens = false;
    let mut last_owner = String::new();
    for (index, raw) in text.lines().enumerate() {
        report.lines += 1;
        let line = index as u32 + 1;
        let text = match raw.find(';') {
            Some(i) => &raw[..i],
            None => raw,
        };
        if in_parens {
            if text.contains(')') {
                in_parens = false;
            }
            continue;
        }
        if text.trim().is_empty() {
            continue;
        }
        let starts_blank = text.starts_with([' ', '\t']);
        let mut fields: Vec<&str> = text.split_whitespace().collect();
        if fields[0].eq_ignore_ascii_case("$ORIGIN") {
            origin = fields
                .get(1)
                .map(|o| o.trim_end_matches('.').to_ascii_lowercase())
                .unwrap_or_default();
            continue;
        }
        if fields[0].starts_with('$') {
            continue;
        }
        let owner = if starts_blank {
            last_owner.clone()
        } else {
            let owner = fields.remove(0).to_string();
            last_owner = owner.clone();
            owner
        };
        // Drop TTL and class to find the type.
        while let Some(first) = fields.first() {
            if first.parse::<u32>().is_ok()
                || ["IN", "CH", "HS"]
                    .iter()
                    .any(|c| first.eq_ignore_ascii_case(c))
            {
                fields.remove(0);
            } else {
                break;
            }
        }
        let Some(rtype) = fields.first().map(|t| t.to_ascii_uppercase()) else {
            report.skip(line, SkipReason::Unsupported);
            continue;
        };
        let data = fields.get(1).copied().unwrap_or_default();
        if rtype == "SOA" {
            if origin.is_empty() && owner != "@" {
                origin = owner.trim_end_matches('.').to_ascii_lowercase();
            }
            in_parens = text.contains('(') && !text.contains(')');
            continue;
        }
        if rtype == "NS" || owner == "@" {
            continue;
        }
        let name = relative_owner(&owner, &origin);
        let name = name.strip_prefix("*.").unwrap_or(&name).to_string();
        let action = match (rtype.as_str(), data) {
            ("CNAME", ".") => Action::Rpz(RpzAction::NxDomain),
            ("CNAME", "*.") => Action::Rpz(RpzAction::NoData),
            ("CNAME", d) if d.eq_ignore_ascii_case("rpz-passthru.") => Action::Allow,
            ("A" | "AAAA", d) => match d.parse::<IpAddr>() {
                Ok(ip) => Action::Rpz(RpzAction::LocalData(vec![ip])),
                Err(_) => {
                    report.skip(line, SkipReason::Unsupported);
                    continue;
                }
            },
            _ => {
                report.skip(line, SkipReason::Unsupported);
                continue;
            }
        };
        match emit(&name, action, line, each) {
            Outcome::Entries(n) => report.entries += n,
            Outcome::Skip(reason) => report.skip(line, reason),
            Outcome::Nothing => {}
        }
    }
}

/// An RPZ owner name without the zone's own name: `bad.example.rpz.local.`
/// in zone `rpz.local` is the trigger `bad.example`.
fn relative_owner(owner: &str, origin: &str) -> String {
    match owner.strip_suffix('.') {
        Some(absolute) => {
            let absolute = absolute.to_ascii_lowercase();
            match absolute
                .strip_suffix(origin)
                .and_then(|s| s.strip_suffix('.'))
            {
                Some(relative) if !origin.is_empty() => relative.to_string(),
                _ => absolute,
            }
        }
        None => owner.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests;
