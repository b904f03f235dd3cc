//! The category catalogue (`lists/categories.toml`): every category hedge
//! knows, with its flags and the public lists an operator may enable for it,
//! read with the same line-numbered problems as the config. Categories are
//! numbered in catalogue order so that a set of them fits one 64-bit word
//! ([`CategorySet`]); the filter's index and every policy use those numbers.
//!
//! The catalogue is a file an operator may replace, so its checked form
//! lives here with the rest of the configuration.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, ConfigProblem, ListFormat};

/// At most this many categories (one bit each).
pub const MAX_CATEGORIES: usize = 64;

/// A category's position in the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CategoryId(pub u8);

/// A set of categories, one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CategorySet(pub u64);

impl CategorySet {
    pub const EMPTY: CategorySet = CategorySet(0);

    pub fn only(id: CategoryId) -> CategorySet {
        CategorySet(1 << id.0)
    }

    pub fn contains(self, id: CategoryId) -> bool {
        self.0 & (1 << id.0) != 0
    }

    pub fn insert(&mut self, id: CategoryId) {
        self.0 |= 1 << id.0;
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn union(self, other: CategorySet) -> CategorySet {
        CategorySet(self.0 | other.0)
    }

    pub fn intersection(self, other: CategorySet) -> CategorySet {
        CategorySet(self.0 & other.0)
    }

    pub fn without(self, other: CategorySet) -> CategorySet {
        CategorySet(self.0 & !other.0)
    }

    /// The lowest-numbered category in the set.
    pub fn first(self) -> Option<CategoryId> {
        (self.0 != 0).then(|| CategoryId(self.0.trailing_zeros() as u8))
    }

    pub fn iter(self) -> impl Iterator<Item = CategoryId> {
        (0..64u8)
            .filter(move |i| self.0 & (1 << i) != 0)
            .map(CategoryId)
    }
}

/// A public list an operator may enable for a category.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultSource {
    pub url: String,
    pub format: Option<ListFormat>,
}

/// One category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Illegal content: blocked for everyone, never exempted or allowed.
    pub mandatory: bool,
    /// Hits matter to the designated safeguarding lead.
    pub safeguarding: bool,
    pub default_sources: Vec<DefaultSource>,
}

/// Every category, in catalogue order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    categories: Vec<Category>,
    mandatory: CategorySet,
    safeguarding: CategorySet,
}

impl Catalogue {
    /// A catalogue of already checked categories (unique ids, at most
    /// [`MAX_CATEGORIES`]); the configuration reader checks them.
    pub fn new(categories: Vec<Category>) -> Catalogue {
        assert!(categories.len() <= MAX_CATEGORIES);
        let mut mandatory = CategorySet::EMPTY;
        let mut safeguarding = CategorySet::EMPTY;
        for (index, category) in categories.iter().enumerate() {
            let bit = CategoryId(index as u8);
            if category.mandatory {
                mandatory.insert(bit);
            }
            if category.safeguarding || category.mandatory {
                safeguarding.insert(bit);
            }
        }
        Catalogue {
            categories,
            mandatory,
            safeguarding,
        }
    }

    pub fn id(&self, name: &str) -> Option<CategoryId> {
        self.categories
            .iter()
            .position(|c| c.id == name)
            .map(|i| CategoryId(i as u8))
    }

    pub fn get(&self, id: CategoryId) -> &Category {
        &self.categories[usize::from(id.0)]
    }

    pub fn all(&self) -> impl Iterator<Item = (CategoryId, &Category)> {
        self.categories
            .iter()
            .enumerate()
            .map(|(i, c)| (CategoryId(i as u8), c))
    }

    pub fn ids(&self) -> Vec<&str> {
        self.categories.iter().map(|c| c.id.as_str()).collect()
    }

    pub fn mandatory(&self) -> CategorySet {
        self.mandatory
    }

    pub fn safeguarding(&self) -> CategorySet {
        self.safeguarding
    }

    /// The ids of a set, for messages: `gambling, games`.
    pub fn names(&self, set: CategorySet) -> String {
        set.iter()
            .map(|id| self.get(id).id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for CategoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

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

    fn shipped() -> Catalogue {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lists/categories.toml");
        load_catalogue(&path).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn shipped_catalogue_has_the_uk_categories() {
        let catalogue = shipped();
        for id in [
            "iwf",
            "terrorism",
            "discrimination",
            "drugs",
            "extremism",
            "gambling",
            "malware",
            "pornography",
            "piracy",
            "self-harm",
            "violence",
            "circumvention",
            "social-networking",
            "games",
            "video-streaming",
            "dating",
            "ads-tracking",
        ] {
            assert!(catalogue.id(id).is_some(), "{id} missing");
        }
        for id in ["iwf", "terrorism"] {
            assert!(
                catalogue.get(catalogue.id(id).unwrap()).mandatory,
                "{id} mandatory"
            );
        }
        for id in ["iwf", "terrorism", "self-harm", "extremism", "pornography"] {
            assert!(
                catalogue.safeguarding().contains(catalogue.id(id).unwrap()),
                "{id} safeguarding"
            );
        }
        assert!(
            !catalogue
                .mandatory()
                .contains(catalogue.id("gambling").unwrap())
        );
        for (_, category) in catalogue.all() {
            assert!(!category.name.is_empty() && !category.description.is_empty());
            for source in &category.default_sources {
                assert!(source.url.starts_with("https://"), "{}", source.url);
            }
        }
    }

    #[test]
    fn sets() {
        let mut set = CategorySet::EMPTY;
        set.insert(CategoryId(3));
        set.insert(CategoryId(40));
        assert!(set.contains(CategoryId(40)));
        assert_eq!(set.first(), Some(CategoryId(3)));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [CategoryId(3), CategoryId(40)]
        );
        assert_eq!(
            set.without(CategorySet::only(CategoryId(3))).first(),
            Some(CategoryId(40))
        );
    }
}
