//! Configuration errors that name the file, line and key of every problem.

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
        let mut key = key_at(text, offset);
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
    let before = &text[..offset];
    let mut table = String::new();
    for line in before.lines() {
        let line = line.trim();
        if let Some(header) = line
            .strip_prefix("[[")
            .and_then(|l| l.split("]]").next())
            .or_else(|| line.strip_prefix('[').and_then(|l| l.split(']').next()))
        {
            table = header.trim().to_string();
        }
    }
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
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
