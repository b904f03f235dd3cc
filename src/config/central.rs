//! `[central]` as checked: the PostgreSQL this site ships its records to,
//! and the name it ships them under.

use std::path::PathBuf;

/// `[central]`: the central store many sites ship their logs and
/// safeguarding records to. The site's own database stays its primary
/// record; nothing waits for the centre.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CentralConfig {
    /// `postgres://user@host/db?sslmode=...`, without a password.
    pub url: String,
    /// The file holding the password, read at each connection. Never the
    /// password itself.
    pub password_file: Option<PathBuf>,
    /// This site's name at the centre: lower-case letters, digits and `-`.
    pub site: String,
    /// Retention keeps a row not yet shipped until it is this many days
    /// old; past that it is deleted and counted as never shipped.
    pub max_backlog_days: u32,
    /// How long the centre keeps query-log rows (`hedge central purge`).
    pub retention_days: u32,
}

/// The longest a site name may be (a PostgreSQL identifier, so that a
/// site's role can be named after it).
pub const MAX_SITE_LEN: usize = 63;

/// Whether `site` may name a site: 1 to 63 of `a-z`, `0-9` and `-`, not
/// starting or ending with `-`. The reason when it may not.
pub fn check_site(site: &str) -> Result<(), String> {
    if site.is_empty() || site.len() > MAX_SITE_LEN {
        return Err(format!(
            "{site:?} is not a site name: 1 to {MAX_SITE_LEN} characters"
        ));
    }
    if !site
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || site.starts_with('-')
        || site.ends_with('-')
    {
        return Err(format!(
            "{site:?} is not a site name: use lower-case letters, digits and '-' (such as \"hill-top-primary\")"
        ));
    }
    Ok(())
}

/// Whether `url` is a PostgreSQL URL without a password in it; the reason
/// when it is not.
pub fn check_url(url: &str) -> Result<(), String> {
    let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    else {
        return Err(format!(
            "{url:?} is not a PostgreSQL URL: it starts postgres:// (such as \"postgres://hill-top@central.example/hedge?sslmode=verify-full\")"
        ));
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if let Some((user_info, _)) = authority.rsplit_once('@')
        && user_info.contains(':')
    {
        return Err(
            "the URL holds a password: the password is never written in the configuration; put it in a file only hedge can read and name that file with password_file".into(),
        );
    }
    if authority
        .rsplit_once('@')
        .is_none_or(|(user, _)| user.is_empty())
    {
        return Err(format!(
            "{url:?} names no user: write the site's PostgreSQL role before the host (postgres://ROLE@HOST/DATABASE)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_names() {
        assert!(check_site("hill-top-primary").is_ok());
        assert!(check_site("a").is_ok());
        for bad in ["", "Hill", "-a", "a-", "a b", "a_b", &"a".repeat(64)] {
            assert!(check_site(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls() {
        assert!(check_url("postgres://site@db.example/hedge?sslmode=verify-full").is_ok());
        assert!(check_url("postgresql://site@127.0.0.1:5432/hedge").is_ok());
        let error = check_url("postgres://site:secret@db/hedge").unwrap_err();
        assert!(error.contains("password_file"), "{error}");
        assert!(!error.contains("secret"));
        assert!(check_url("mysql://site@db/hedge").is_err());
        assert!(check_url("postgres://db.example/hedge").is_err());
    }
}
