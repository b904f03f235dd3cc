//! Reading the category catalogue file (`lists/categories.toml`) into a
//! [`Catalogue`], with the same line-numbered problems as the config.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, ConfigProblem};
use crate::filter::catalogue::{Catalogue, Category, DefaultSource, MAX_CATEGORIES};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    category: Vec<RawCategory>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    id: Spanned<String>,
    name: String,
    description: String,
    #[serde(default)]
    mandatory: bool,
    #[serde(default)]
    safeguarding: bool,
    #[serde(default)]
    sources: Vec<DefaultSource>,
}

/// The catalogue shipped with hedge, used when `[lists] catalogue` is not set.
pub fn built_in() -> Catalogue {
    const SHIPPED: &str = include_str!("../../lists/categories.toml");
    catalogue_from_str(SHIPPED, Path::new("(built-in) lists/categories.toml"))
        .expect("the shipped catalogue is valid (checked by a test)")
}

/// Reads and checks the catalogue at `path`.
pub fn load_catalogue(path: &Path) -> Result<Catalogue, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    catalogue_from_str(&text, path)
}

pub(crate) fn catalogue_from_str(text: &str, path: &Path) -> Result<Catalogue, ConfigError> {
    let invalid = |problem: ConfigProblem| ConfigError::Invalid {
        path: path.to_path_buf(),
        problems: vec![problem],
    };
    let raw: RawCatalogue =
        toml::from_str(text).map_err(|e| invalid(ConfigProblem::from_toml(path, text, &e)))?;
    if raw.category.len() > MAX_CATEGORIES {
        return Err(invalid(ConfigProblem::at(
            path,
            text,
            0,
            "category",
            format!(
                "{} categories; at most {MAX_CATEGORIES} are possible",
                raw.category.len()
            ),
        )));
    }
    let mut categories: Vec<Category> = Vec::new();
    for raw in raw.category {
        let id = raw.id.get_ref().clone();
        let valid = !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let problem = if !valid {
            Some(format!(
                "{id:?} is not an id (lowercase letters, digits and '-')"
            ))
        } else if categories.iter().any(|c| c.id == id) {
            Some(format!("{id:?} is listed twice"))
        } else {
            None
        };
        if let Some(message) = problem {
            return Err(invalid(ConfigProblem::at(
                path,
                text,
                raw.id.span().start,
                "category.id",
                message,
            )));
        }
        categories.push(Category {
            id,
            name: raw.name,
            description: raw.description,
            mandatory: raw.mandatory,
            safeguarding: raw.safeguarding || raw.mandatory,
            default_sources: raw.sources,
        });
    }
    Ok(Catalogue::new(categories))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_catalogue_loads() {
        assert!(built_in().id("gambling").is_some());
    }

    #[test]
    fn duplicate_id_names_the_line() {
        let text = "[[category]]\nid = \"a\"\nname = \"A\"\ndescription = \"d\"\n\n[[category]]\nid = \"a\"\nname = \"B\"\ndescription = \"d\"\n";
        match catalogue_from_str(text, Path::new("cat.toml")) {
            Err(ConfigError::Invalid { problems, .. }) => {
                assert_eq!(problems[0].line, 7);
                assert!(problems[0].message.contains("twice"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_key_names_the_line() {
        let text =
            "[[category]]\nid = \"a\"\nname = \"A\"\ndescription = \"d\"\nmandatroy = true\n";
        match catalogue_from_str(text, Path::new("cat.toml")) {
            Err(ConfigError::Invalid { problems, .. }) => assert_eq!(problems[0].line, 5),
            other => panic!("{other:?}"),
        }
    }
}
