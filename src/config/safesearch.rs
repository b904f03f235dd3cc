//! The safe-search rewrite table (`lists/safesearch.toml`, built in): which
//! names a search engine answers on and the safe endpoint for each. How a
//! query is rewritten with it is `policy`'s business.

use std::collections::HashMap;
use std::path::Path;

use hickory_proto::rr::Name;
use serde::Deserialize;

use super::normalize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    engine: Vec<RawEngine>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEngine {
    id: String,
    source: String,
    target: String,
    moderate_target: Option<String>,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    patterns: Vec<String>,
}

/// The table shipped with hedge.
pub fn built_in_safe_search() -> SafeSearch {
    const SHIPPED: &str = include_str!("../../lists/safesearch.toml");
    safe_search_from_str(SHIPPED, Path::new("(built-in) lists/safesearch.toml"))
        .expect("the shipped safe-search table is valid (checked by a test)")
}

pub(crate) fn safe_search_from_str(text: &str, path: &Path) -> Result<SafeSearch, String> {
    let raw: RawTable =
        toml::from_str(text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
    let target = |t: &str| {
        Name::from_ascii(format!("{}.", t.trim_end_matches('.')))
            .map_err(|e| format!("{}: target {t:?}: {e}", path.display()))
    };
    let mut engines = Vec::new();
    for raw in raw.engine {
        let names = raw
            .names
            .iter()
            .map(|n| normalize(n).map_err(|p| format!("{}: {n:?}: {p}", path.display())))
            .collect::<Result<Vec<_>, _>>()?;
        let patterns = raw
            .patterns
            .iter()
            .map(|p| match p.strip_suffix(".*") {
                Some(prefix) => Ok(prefix.split('.').map(str::to_string).collect()),
                None => Err(format!(
                    "{}: pattern {p:?} must end in \".*\"",
                    path.display()
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        engines.push(Engine {
            target: target(&raw.target)?,
            moderate_target: raw.moderate_target.as_deref().map(target).transpose()?,
            id: raw.id,
            source: raw.source,
            names,
            patterns,
        });
    }
    Ok(SafeSearch::new(engines))
}

/// How YouTube is restricted for a group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum YoutubeMode {
    #[default]
    Strict,
    Moderate,
    /// Leave YouTube alone (the other engines are still enforced).
    Off,
}

/// One search engine's rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    pub id: String,
    pub target: Name,
    pub moderate_target: Option<Name>,
    /// Where the engine documents this.
    pub source: String,
    /// Exact names (normalised, no trailing dot).
    pub names: Vec<String>,
    /// `www.google.*`: the labels before the `*`.
    pub patterns: Vec<Vec<String>>,
}

/// The rewrite table, compiled for lookups.
#[derive(Debug, Clone, Default)]
pub struct SafeSearch {
    pub(crate) engines: Vec<Engine>,
    pub(crate) exact: HashMap<String, usize>,
}

impl SafeSearch {
    pub fn new(engines: Vec<Engine>) -> SafeSearch {
        let mut exact = HashMap::new();
        for (i, engine) in engines.iter().enumerate() {
            for name in &engine.names {
                exact.insert(name.clone(), i);
            }
        }
        SafeSearch { engines, exact }
    }

    pub fn engines(&self) -> &[Engine] {
        &self.engines
    }
}
