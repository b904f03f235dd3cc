//! What a person must give when they change something on record: their
//! name, and a reason someone can act on later.

/// Words a reason must have at least: a record someone can act on later,
/// not "test" or "x".
const REASON_WORDS: usize = 3;

/// Placeholder reasons refused whatever their length.
const EMPTY_REASONS: &[&str] = &[
    "test", "testing", "n/a", "na", "none", "reason", "asdf", "x",
];

/// Checks a free-text reason: at least a few real words. `what` names the
/// field in the error ("reason", "--reason").
pub fn check_reason(reason: &str, what: &str) -> Result<(), String> {
    let trimmed = reason.trim();
    if trimmed.is_empty() {
        return Err(format!("{what} is empty: say why, in a few words"));
    }
    let lowered = trimmed.to_lowercase();
    if EMPTY_REASONS.contains(&lowered.as_str()) {
        return Err(format!(
            "{what} {trimmed:?} is a placeholder: say why, in a few words"
        ));
    }
    let words = trimmed
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count();
    if words < REASON_WORDS {
        return Err(format!(
            "{what} {trimmed:?} is too short: at least {REASON_WORDS} words, so that it still means something later"
        ));
    }
    Ok(())
}

/// Checks a person's name given with `--by`.
pub fn check_person(name: &str, what: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err(format!("{what} is empty: name the person"));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("{what} {name:?} contains control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_need_a_few_real_words() {
        assert!(check_reason("", "reason").is_err());
        assert!(check_reason("test", "reason").is_err());
        assert!(check_reason("  TEST ", "reason").is_err());
        assert!(check_reason("investigation", "reason").is_err());
        assert!(check_reason("- - -", "reason").is_err());
        assert!(check_reason("DSL investigation 2026-14", "reason").is_ok());
    }
}
