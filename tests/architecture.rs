//! The shape of the house (README, Development): each module imports only
//! from the layers below its own, and no source file grows past about 700
//! lines before its tests. Read from the source, so a change that breaks
//! either fails here, not in a review.

use std::path::{Path, PathBuf};

/// Bottom to top. `admin` and `web` are side by side: neither may import
/// the other.
const LAYERS: [&[&str]; 8] = [
    &["config"],
    &["filter"],
    &["policy"],
    &["store"],
    &["dns"],
    &["service"],
    &["admin", "web"],
    &["cli"],
];

/// The longest a source file may be before its `#[cfg(test)]` module.
const MAX_LINES: usize = 700;

fn rank(layer: &str) -> Option<usize> {
    LAYERS.iter().position(|names| names.contains(&layer))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every layer `text` names through a `crate::` path, with its line.
fn layers_named(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            // `crate::{a, b::c}` names several.
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group
                    .split(['}', ','])
                    .map(|n| n.trim().split("::").next().unwrap_or(""))
                    .collect(),
                None => vec![
                    rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                        .next()
                        .unwrap_or(""),
                ],
            };
            for name in names {
                if rank(name).is_some() {
                    found.push((number + 1, name.to_string()));
                }
            }
        }
    }
    found
}

#[test]
fn each_layer_imports_only_from_the_layers_below() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root).unwrap();
        let Some(layer) = relative.iter().next().and_then(|p| p.to_str()) else {
            continue;
        };
        let Some(own) = rank(layer) else { continue };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, named) in layers_named(&text) {
            let theirs = rank(&named).unwrap();
            if theirs > own || (theirs == own && named != layer) {
                wrong.push(format!(
                    "src/{}:{line}: {layer} imports from {named}",
                    relative.display()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_itself_sees_an_import_upwards() {
    let text = "use crate::store::Database;\nuse crate::{config::Config, dns::Handler};\n// crate::cli in a comment\n";
    assert_eq!(
        layers_named(text),
        [
            (1, "store".to_string()),
            (2, "config".to_string()),
            (2, "dns".to_string())
        ]
    );
}

#[test]
fn no_source_file_is_longer_than_700_lines_before_its_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut long = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let lines = text
            .lines()
            .take_while(|line| !line.starts_with("#[cfg(test)]"))
            .count();
        if lines > MAX_LINES {
            long.push(format!("{}: {lines} lines", file.display()));
        }
    }
    assert!(long.is_empty(), "split these by job:\n{}", long.join("\n"));
}
