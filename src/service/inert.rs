//! Names and free text made inert for people to read: `example[.]com`,
//! `hxxps://`, so that no mail, chat or document program turns a blocked
//! site into a link someone can click. Alerts, listings, incidents and
//! reports print every name through these.

/// `example.com` as `example[.]com`: read by people, never opened as a
/// link by a mail or chat program.
pub fn inert(name: &str) -> String {
    name.replace('.', "[.]")
}

/// Free text with every web address or host name in it made inert
/// (`hxxps://example[.]com/x`), so that a note naming a site cannot be
/// opened by a click either. Numbers and abbreviations are left alone.
pub fn inert_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(&inert_word(word));
        word.clear();
    };
    for c in text.chars() {
        if c.is_whitespace() {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// One word of free text, made inert if it is a web address or looks like
/// a host name (labels with an alphabetic top-level one of two letters or
/// more).
fn inert_word(word: &str) -> String {
    let word = word
        .replace("https://", "hxxps://")
        .replace("http://", "hxxp://");
    let core = word.trim_matches(|c: char| !c.is_alphanumeric());
    let host = core
        .split(['/', '?', '#', ':'])
        .find(|part| !part.is_empty() && part.contains('.'));
    let looks_like_host = host.is_some_and(|host| {
        let tld = host.rsplit('.').next().unwrap_or_default();
        tld.len() >= 2
            && tld.chars().all(|c| c.is_ascii_alphabetic())
            && host.split('.').all(|label| !label.is_empty())
    });
    if looks_like_host || word.contains("://") {
        word.replace('.', "[.]")
    } else {
        word
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dot_of_a_name_is_made_inert() {
        assert_eq!(inert("www.example.co.uk"), "www[.]example[.]co[.]uk");
        assert_eq!(inert("localhost"), "localhost");
    }

    #[test]
    fn free_text_is_made_inert() {
        assert_eq!(
            inert_text("pupil went to pornhub.com, then https://x.example.org/a.html."),
            "pupil went to pornhub[.]com, then hxxps://x[.]example[.]org/a[.]html[.]"
        );
        assert_eq!(
            inert_text("spoke to parents e.g. at 3.30 pm. Done."),
            "spoke to parents e.g. at 3.30 pm. Done."
        );
    }
}
