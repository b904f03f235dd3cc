//! Fetching `https://` list sources into the cache directory, for
//! `hedge lists update`. A download replaces the cached copy only when it
//! arrived whole, is within the size limit and holds at least one usable
//! entry; the replacement is atomic (write beside, then rename). Requests
//! are conditional (ETag / Last-Modified), so an unchanged list costs one
//! small request.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{ListsConfig, SourceLocation};

use super::parse::{MAX_LIST_TEXT, detect, parse};
use crate::config::ListFormat;

/// What happened to one URL source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// A new copy was stored.
    Updated { entries: u64, bytes: usize },
    /// The server said the list has not changed.
    Unchanged,
    /// Nothing was stored; the old copy (if any) is still used.
    Failed(String),
}

/// What was remembered about the last download, beside the cached file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Meta {
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
}

fn meta_path(cache: &Path) -> PathBuf {
    let mut name = cache.as_os_str().to_owned();
    name.push(".meta");
    PathBuf::from(name)
}

/// Fetches every URL source of `config`. Returns each URL with its outcome.
pub fn update_all(config: &ListsConfig) -> Result<Vec<(String, Fetched)>, String> {
    let agent = agent(config)?;
    std::fs::create_dir_all(&config.cache_dir).map_err(|e| {
        format!(
            "cannot create the list cache {}: {e}",
            config.cache_dir.display()
        )
    })?;
    let mut outcomes = Vec::new();
    for source in &config.sources {
        if let SourceLocation::Url { url, cache } = &source.location {
            let outcome = fetch(&agent, url, cache, source.format, config.max_download_bytes);
            outcomes.push((url.clone(), outcome));
        }
    }
    Ok(outcomes)
}

fn agent(config: &ListsConfig) -> Result<ureq::Agent, String> {
    let mut builder = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(300)))
        .timeout_connect(Some(Duration::from_secs(15)))
        .http_status_as_error(false)
        .user_agent(concat!("hedge/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &config.tls_ca_file {
        let pem =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(format!("{} holds no PEM certificates", path.display()));
        }
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
            .build();
        builder = builder.tls_config(tls);
    }
    Ok(builder.build().into())
}

fn fetch(
    agent: &ureq::Agent,
    url: &str,
    cache: &Path,
    format: Option<ListFormat>,
    max_bytes: u64,
) -> Fetched {
    let meta_file = meta_path(cache);
    let old: Meta = std::fs::read(&meta_file)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .filter(|m: &Meta| m.url == url && cache.exists())
        .unwrap_or_default();
    let mut request = agent.get(url);
    if let Some(etag) = &old.etag {
        request = request.header("If-None-Match", etag);
    }
    if let Some(modified) = &old.last_modified {
        request = request.header("If-Modified-Since", modified);
    }
    let mut response = match request.call() {
        Ok(response) => response,
        Err(error) => return Fetched::Failed(format!("download failed: {error}")),
    };
    let status = response.status().as_u16();
    if status == 304 {
        return Fetched::Unchanged;
    }
    if status != 200 {
        return Fetched::Failed(format!("the server answered HTTP {status}"));
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let meta = Meta {
        url: url.to_string(),
        etag: header("etag"),
        last_modified: header("last-modified"),
    };
    let body = match response
        .body_mut()
        .with_config()
        .limit(max_bytes)
        .read_to_vec()
    {
        Ok(body) => body,
        Err(ureq::Error::BodyExceedsLimit(limit)) => {
            return Fetched::Failed(format!(
                "the list is larger than the limit of {limit} bytes (lists.max_download_mb)"
            ));
        }
        Err(error) => return Fetched::Failed(format!("download broke off: {error}")),
    };
    let text = match decode(&body) {
        Ok(text) => text,
        Err(message) => return Fetched::Failed(message),
    };
    let format = format.unwrap_or_else(|| detect(&text));
    let report = parse(&text, format, |_| {});
    if report.entries == 0 {
        return Fetched::Failed(format!(
            "the download holds no usable entry ({} lines read as {format}); is the URL still a list?",
            report.lines
        ));
    }
    if let Err(error) = replace(cache, &body) {
        return Fetched::Failed(format!("cannot store {}: {error}", cache.display()));
    }
    if let Ok(bytes) = serde_json::to_vec(&meta) {
        let _ = replace(&meta_file, &bytes);
    }
    Fetched::Updated {
        entries: report.entries,
        bytes: body.len(),
    }
}

fn decode(body: &[u8]) -> Result<String, String> {
    if body.starts_with(&[0x1f, 0x8b]) {
        let mut text = String::new();
        let read = flate2::read::MultiGzDecoder::new(body)
            .take(MAX_LIST_TEXT + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("the gzip download is broken: {e}"))?;
        if read as u64 > MAX_LIST_TEXT {
            return Err(format!(
                "the download expands to more than {MAX_LIST_TEXT} bytes"
            ));
        }
        return Ok(text);
    }
    String::from_utf8(body.to_vec()).map_err(|_| "the download is not UTF-8 text".to_string())
}

/// Writes beside `path` and renames over it, so readers see the old file or
/// the new one, never half of one.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".part-{}", std::process::id()));
    let temp = PathBuf::from(temp);
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}
