//! `[lists]` and `[categories.*]`: the catalogue and where lists come from.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::Checker;
use crate::config::*;

impl Checker<'_> {
    pub(super) fn lists(
        &mut self,
        raw: schema::RawLists,
        categories: std::collections::BTreeMap<Spanned<String>, schema::RawCategorySources>,
    ) -> ListsConfig {
        let (catalogue_path, loaded) = match &raw.catalogue {
            Some(value) => {
                let path = self.resolve_path(value.get_ref());
                let loaded = load_catalogue(&path).map_err(|e| (value, e));
                (Some(path), loaded)
            }
            None => (None, Ok(catalogue::built_in())),
        };
        let catalogue = match loaded {
            Ok(catalogue) => catalogue,
            Err((value, error)) => {
                self.problem("lists.catalogue", value, error.to_string());
                Catalogue::new(Vec::new())
            }
        };
        let cache_dir = self.resolve_path(raw.cache_dir.get_ref());
        let mut sources = Vec::new();
        for (id, category) in categories {
            let Some(category_id) = catalogue.id(id.get_ref()) else {
                if !catalogue.ids().is_empty() {
                    let known = catalogue.ids().join(", ");
                    self.problem(
                        "categories",
                        &id,
                        format!(
                            "unknown category {:?}; the catalogue has: {known}",
                            id.get_ref()
                        ),
                    );
                }
                continue;
            };
            let key = format!("categories.{}.sources", id.get_ref());
            for source in &category.sources {
                let (location, format) = match source.get_ref() {
                    schema::RawSource::Location(text) => (text.clone(), None),
                    schema::RawSource::Table(table) => match (&table.path, &table.url) {
                        (Some(path), None) => (path.clone(), table.format),
                        (None, Some(url)) => (url.clone(), table.format),
                        _ => {
                            self.problem(
                                &key,
                                source,
                                "a source table needs exactly one of `path` or `url`",
                            );
                            continue;
                        }
                    },
                };
                match self.source_location(&location, &cache_dir, id.get_ref()) {
                    Ok(location) => sources.push(SourceConfig {
                        category: category_id,
                        location,
                        format,
                    }),
                    Err(message) => self.problem(&key, source, message),
                }
            }
            if category.default_sources {
                for default in &catalogue.get(category_id).default_sources {
                    sources.push(SourceConfig {
                        category: category_id,
                        location: SourceLocation::Url {
                            url: default.url.clone(),
                            cache: cache_file(&cache_dir, id.get_ref(), &default.url),
                        },
                        format: default.format,
                    });
                }
            }
        }
        let tls_ca_file = raw
            .tls_ca_file
            .as_ref()
            .and_then(|value| self.existing_file("lists.tls_ca_file", value, "certificate file"));
        ListsConfig {
            tls_ca_file,
            catalogue_path,
            catalogue,
            cache_dir,
            max_download_bytes: raw.max_download_mb.get_ref().saturating_mul(1024 * 1024),
            sources,
        }
    }

    pub(super) fn source_location(
        &self,
        text: &str,
        cache_dir: &Path,
        category: &str,
    ) -> Result<SourceLocation, String> {
        if let Some(rest) = text.strip_prefix("https://") {
            if rest.is_empty() || rest.starts_with('/') {
                return Err(format!("{text:?} is not a URL"));
            }
            return Ok(SourceLocation::Url {
                url: text.to_string(),
                cache: cache_file(cache_dir, category, text),
            });
        }
        if text.contains("://") {
            return Err(format!("{text:?}: lists are fetched over https:// only"));
        }
        let path = self.resolve_path(text);
        if path.is_dir() {
            Ok(SourceLocation::Dir(path))
        } else if path.is_file() {
            Ok(SourceLocation::File(path))
        } else {
            Err(format!("list file {} does not exist", path.display()))
        }
    }
}

/// Where a downloaded list is kept: named after its category and URL, so
/// the same URL in two categories is two files.
fn cache_file(cache_dir: &Path, category: &str, url: &str) -> PathBuf {
    let readable: String = url
        .trim_start_matches("https://")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    // FNV-1a keeps two long URLs with the same start apart.
    let hash = url.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    cache_dir.join(format!("{category}--{readable}--{:08x}", hash as u32))
}
