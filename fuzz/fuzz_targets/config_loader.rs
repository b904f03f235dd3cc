//! Any text as a configuration file: a Config or an error, never a panic;
//! an error names the file.
#![no_main]

use std::path::Path;

use hedge::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/nonexistent/hedge-fuzz/hedge.toml");
    if let Err(error) = Config::from_str(text, path) {
        assert!(error.to_string().contains("hedge.toml"), "{error}");
    }
});
