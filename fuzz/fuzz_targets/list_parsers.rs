//! Any text through every list parser, and format detection: no panic,
//! every entry a normalised name.
#![no_main]

use hedge::config::ListFormat;
use hedge::filter::parse::{detect, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = detect(text);
    for format in [
        ListFormat::Plain,
        ListFormat::Hosts,
        ListFormat::Adblock,
        ListFormat::Wildcard,
        ListFormat::Rpz,
    ] {
        parse(text, format, |entry| {
            assert!(!entry.name.is_empty(), "an empty name");
            assert!(!entry.name.ends_with('.'), "a trailing dot: {}", entry.name);
            assert_eq!(entry.name, entry.name.to_ascii_lowercase(), "not lowercase");
        });
    }
});
