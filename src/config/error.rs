//! Configuration errors that name the file, line and key of every problem.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// One thing wrong in a configuration file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: PathBuf,
    /// 1-based line of the offending value.
    pub line: usize,
    /// The dotted key, such as `server.listen`.
    pub key: String,
    pub message: String,
}

impl ConfigProblem {
    pub(crate) fn at(file: &Path, text: &str, offset: usize, key: &str, message: String) -> Self {
        ConfigProblem {
            file: file.to_path_buf(),
            line: line_of(text, offset),
            key: key.to_string(),
            message,
        }
    }

    pub(crate) fn from_toml(file: &Path, text: &str, error: &toml::de::Error) -> Self {
        let offset = error.span().map(|s| s.start).unwrap_or(0);
        let message = error.message().trim().to_string();
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let mut key = match missing {
            // No line holds a missing key: name it within its entry
            // (`clients[2].group`), whose header the line points at.
            Some(field) => match table_at(text, offset, true) {
                table if table.is_empty() => field.to_string(),
                table => format!("{table}.{field}"),
            },
            None => key_at(text, offset),
        };
        if key.is_empty() {
            // No key to name (a table header, say): show the line itself.
            key = line_text(text, offset);
        }
        ConfigProblem {
            file: file.to_path_buf(),
            line: line_of(text, offset),
            key,
            message,
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.key,
            self.message
        )
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render_problems(path, problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<ConfigProblem>,
    },
}

fn render_problems(path: &Path, problems: &[ConfigProblem]) -> String {
    let mut out = format!(
        "configuration {} has {} problem{}:",
        path.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for problem in problems {
        out.push_str("\n  ");
        out.push_str(&problem.to_string());
    }
    out
}

fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn line_text(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = text[start..].lines().next().unwrap_or("").trim();
    line.chars().take(60).collect()
}

/// The dotted key that an offset in a TOML file falls under, found by reading
/// the table headers and the key at the start of the line. Used for serde's
/// own errors, which carry a position but not the key.
fn key_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let table = table_at(text, offset, false);
    let line_start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = text[line_start..].lines().next().unwrap_or("");
    let key = line
        .split('=')
        .next()
        .filter(|_| line.contains('='))
        .map(|k| k.trim().trim_matches('"').to_string())
        .unwrap_or_default();
    match (table.is_empty(), key.is_empty()) {
        (true, _) => key,
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    }
}

/// The table an offset falls in: the last header before it. With
/// `numbered`, each array-of-tables entry is named by its position,
/// counting from 1 (`groups[2].schedule[1]`).
fn table_at(text: &str, offset: usize, numbered: bool) -> String {
    let offset = offset.min(text.len());
    // Headers before the offset; for a missing key, its entry's own header
    // line too.
    let end = if numbered {
        text[offset..].find('\n').map_or(text.len(), |i| offset + i)
    } else {
        offset
    };
    let mut table = String::new();
    // Entries seen of each array of tables, by its numbered path.
    let mut counts: HashMap<String, usize> = HashMap::new();
    // The entry in force of each array of tables, by its plain path.
    let mut current: HashMap<String, usize> = HashMap::new();
    for line in text[..end].lines() {
        let line = line.trim();
        let (header, is_array) = match line.strip_prefix("[[") {
            Some(rest) => (rest.split("]]").next(), true),
            None => (
                line.strip_prefix('[').and_then(|l| l.split(']').next()),
                false,
            ),
        };
        let Some(header) = header else { continue };
        if !numbered {
            table = header.trim().to_string();
            continue;
        }
        let parts: Vec<&str> = header.split('.').map(str::trim).collect();
        let (mut plain, mut path) = (String::new(), String::new());
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                plain.push('.');
                path.push('.');
            }
            plain.push_str(part);
            path.push_str(part);
            let entry = if is_array && i + 1 == parts.len() {
                let count = counts.entry(path.clone()).or_default();
                *count += 1;
                current.insert(plain.clone(), *count);
                Some(*count)
            } else {
                current.get(&plain).copied()
            };
            if let Some(entry) = entry {
                path.push_str(&format!("[{entry}]"));
            }
        }
        table = path;
    }
    table
}
