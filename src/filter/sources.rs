//! Loading every configured list into one index, with a report per source
//! that `hedge lists stats` prints and the server logs.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::config::{ListsConfig, SourceConfig, SourceLocation};

use super::builtin::{BUILTIN_LISTS, BuiltinList};
use super::index::{Index, IndexBuilder};
use super::parse::{ListEntry, ParseReport, detect, parse, read_list};
use crate::config::{CategoryId, ListFormat};

/// What loading one file of one source found.
#[derive(Debug, Clone)]
pub struct SourceReport {
    pub category: CategoryId,
    /// The source as configured (a path or URL).
    pub source: String,
    /// The file actually read.
    pub file: PathBuf,
    pub format: Option<ListFormat>,
    pub parse: ParseReport,
    /// When the file was last changed (for a URL: downloaded).
    pub modified: Option<SystemTime>,
    /// A URL source that `hedge lists update` has not fetched yet.
    pub not_downloaded: bool,
}

/// Why the lists could not be loaded. The running index, if any, is kept.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read list {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("list {} has {lines} lines but not one usable entry (is it a list? detected format {format})", path.display())]
    Empty {
        path: PathBuf,
        lines: u64,
        format: ListFormat,
    },
}

/// The index and what went into it.
pub struct LoadedLists {
    pub index: Index,
    pub reports: Vec<SourceReport>,
}

/// Reads every source in `config` (and the built-in lists) and builds the
/// index.
pub fn load(config: &ListsConfig) -> Result<LoadedLists, LoadError> {
    let mut builder = IndexBuilder::new();
    // About one entry per 24 bytes of list (a name and a line ending).
    let bytes: u64 = config
        .sources
        .iter()
        .flat_map(|source| files_of(source).unwrap_or_default())
        .filter_map(|file| std::fs::metadata(file).ok())
        .map(|meta| meta.len())
        .sum();
    builder.reserve(usize::try_from(bytes / 24).unwrap_or(0).min(20_000_000));
    let mut reports = Vec::new();
    for source in &config.sources {
        for file in files_of(source)? {
            let report = load_file(source, &file, &mut |entry| {
                builder.add(&entry.name, source.category, &entry.action);
            })?;
            reports.push(report);
        }
    }
    for (category, list) in builtin_lists(config) {
        let report = parse(list.text, list.format, |entry| {
            builder.add(&entry.name, category, &entry.action);
        });
        reports.push(SourceReport {
            category,
            source: list.name.to_string(),
            file: PathBuf::from(list.name),
            format: Some(list.format),
            parse: report,
            modified: None,
            not_downloaded: false,
        });
    }
    Ok(LoadedLists {
        index: builder.build(),
        reports,
    })
}

/// Calls `each` with every entry of every source of `config`, with the
/// source it came from: for `hedge explain`, which wants file and line.
pub fn for_each_entry(
    config: &ListsConfig,
    mut each: impl FnMut(&SourceConfig, &Path, &ListEntry),
) -> Result<(), LoadError> {
    for source in &config.sources {
        for file in files_of(source)? {
            load_file(source, &file, &mut |entry| each(source, &file, &entry))?;
        }
    }
    for (category, list) in builtin_lists(config) {
        let source = SourceConfig {
            category,
            location: SourceLocation::File(PathBuf::from(list.name)),
            format: Some(list.format),
        };
        let file = PathBuf::from(list.name);
        parse(list.text, list.format, |entry| each(&source, &file, &entry));
    }
    Ok(())
}

/// The built-in lists whose category the catalogue has.
fn builtin_lists(
    config: &ListsConfig,
) -> impl Iterator<Item = (CategoryId, &'static BuiltinList)> + '_ {
    BUILTIN_LISTS
        .iter()
        .filter_map(|list| Some((config.catalogue.id(list.category)?, list)))
}

fn files_of(source: &SourceConfig) -> Result<Vec<PathBuf>, LoadError> {
    match &source.location {
        SourceLocation::File(path) => Ok(vec![path.clone()]),
        SourceLocation::Url { cache, .. } => Ok(vec![cache.clone()]),
        SourceLocation::Dir(dir) => {
            let read = |source| LoadError::Read {
                path: dir.clone(),
                source,
            };
            let mut files = Vec::new();
            for entry in std::fs::read_dir(dir).map_err(read)? {
                let path = entry.map_err(read)?.path();
                let hidden = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'));
                if path.is_file() && !hidden {
                    files.push(path);
                }
            }
            files.sort();
            Ok(files)
        }
    }
}

fn load_file(
    source: &SourceConfig,
    file: &Path,
    each: &mut dyn FnMut(ListEntry),
) -> Result<SourceReport, LoadError> {
    let is_url = matches!(source.location, SourceLocation::Url { .. });
    let mut report = SourceReport {
        category: source.category,
        source: source.location.to_string(),
        file: file.to_path_buf(),
        format: source.format,
        parse: ParseReport::default(),
        modified: None,
        not_downloaded: false,
    };
    if is_url && !file.exists() {
        // Never downloaded: serve without it until `hedge lists update`.
        report.not_downloaded = true;
        return Ok(report);
    }
    let text = read_list(file).map_err(|source| LoadError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    report.modified = std::fs::metadata(file).and_then(|m| m.modified()).ok();
    let format = source.format.unwrap_or_else(|| detect(&text));
    report.format = Some(format);
    report.parse = parse(&text, format, each);
    if report.parse.entries == 0 && text.lines().any(|l| !l.trim().is_empty() && !is_comment(l)) {
        return Err(LoadError::Empty {
            path: file.to_path_buf(),
            lines: report.parse.lines,
            format,
        });
    }
    Ok(report)
}

fn is_comment(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with('#') || line.starts_with('!') || line.starts_with(';')
}
