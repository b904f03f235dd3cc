//! Text made safe inside the HTML report and its SVG charts. Both are
//! written as well-formed XML, so one escaping serves element content and
//! quoted attribute values alike; `html` and `svg` both use it, and neither
//! imports the other's escaping.

/// `text` safe in element content and attribute values (control
/// characters replaced, so that the file stays well-formed).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Not allowed in XML, and never meant as text.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped_and_controls_replaced() {
        assert_eq!(
            escape("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
        assert_eq!(escape("a\tb\nc\r\u{1}\u{7f}"), "a\tb\nc\r\u{fffd}\u{fffd}");
        assert_eq!(escape("café [.]"), "café [.]");
    }
}
