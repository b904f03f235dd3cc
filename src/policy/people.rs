//! People and what they may do: the roles a person holds, what a password
//! must be, what an enrolment code looks like and how long it lasts, when
//! failed sign-ins lock a person out, and which role each operation needs.
//! Pure rules; `store` keeps people and `service` applies these.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How long an enrolment code may be used after it is made: 72 hours.
pub const ENROLMENT_VALID_MS: i64 = 72 * 60 * 60 * 1000;
/// Failed sign-ins in a row that lock a person out.
pub const MAX_FAILED_SIGNINS: i64 = 5;
/// How long a person stays locked out: 15 minutes.
pub const LOCKOUT_MS: i64 = 15 * 60 * 1000;
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// What a person may do. A person may hold several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Files exemption requests and sees their own.
    Staff,
    /// Approves, rejects and revokes exemptions (within the roster's limits).
    Approver,
    /// Alerts, incidents, log search and export, legal holds, reports.
    Safeguarding,
    /// People, status, reload, lists.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Staff, Role::Approver, Role::Safeguarding, Role::Admin];

    /// Its word, as typed and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Approver => "approver",
            Role::Safeguarding => "safeguarding",
            Role::Admin => "admin",
        }
    }

    /// A role from its word (any case); the error lists the roles.
    pub fn parse(text: &str) -> Result<Role, String> {
        let word = text.trim().to_ascii_lowercase();
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == word)
            .ok_or_else(|| {
                format!("no role {text:?}: the roles are staff, approver, safeguarding and admin")
            })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of roles, sorted and without repeats; at least one.
pub fn check_roles(roles: &[Role]) -> Result<Vec<Role>, String> {
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(
            "a person needs at least one role (--role staff, approver, safeguarding or admin)"
                .into(),
        );
    }
    Ok(roles)
}

/// Roles as stored: `staff,approver`.
pub fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Roles from their stored text.
pub fn parse_roles_text(text: &str) -> Result<Vec<Role>, String> {
    text.split(',')
        .filter(|word| !word.is_empty())
        .map(Role::parse)
        .collect()
}

/// A person's name: a few characters of text, no control characters, not
/// too long to show.
pub fn check_person_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("the person's name is empty".into());
    }
    if name.chars().any(char::is_control) {
        return Err(format!("the name {name:?} contains control characters"));
    }
    if name.chars().count() > 100 {
        return Err(format!("the name {name:?} is longer than 100 characters"));
    }
    Ok(name.to_string())
}

/// An OS account name as /etc/passwd has them.
pub fn check_os_user(user: &str) -> Result<String, String> {
    let user = user.trim();
    let fine = !user.is_empty()
        && user.len() <= 32
        && !user.starts_with('-')
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$'));
    if !fine {
        return Err(format!("--os-user {user:?} is not an OS account name"));
    }
    Ok(user.to_string())
}

/// Whether `password` may be a person's password: at least 12 characters,
/// not one of the passwords people commonly choose nor easy to guess
/// (zxcvbn's dictionaries, which include the most common passwords), and
/// not containing the person's name or a part of it.
pub fn check_password(password: &str, person: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password is too short: use at least {MIN_PASSWORD_CHARS} characters (a few words together is easy to remember)"
        ));
    }
    if password.chars().any(char::is_control) {
        return Err("the password contains control characters".into());
    }
    let lowered = password.to_lowercase();
    let name_parts: Vec<String> = person
        .split(|c: char| !c.is_alphanumeric())
        .filter(|part| part.chars().count() >= 3)
        .map(str::to_lowercase)
        .collect();
    let whole_name: String = person
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    if (whole_name.chars().count() >= 3 && lowered.contains(&whole_name))
        || name_parts
            .iter()
            .any(|part| lowered.contains(part.as_str()))
    {
        return Err("the password contains your name: choose one that does not".into());
    }
    let inputs: Vec<&str> = name_parts.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if is_common(&estimate) {
        return Err(
            "the password is on a list of common passwords: choose one nobody would guess".into(),
        );
    }
    if estimate.score() < zxcvbn::Score::Three {
        return Err(
            "the password is too easy to guess: add more words or characters that do not follow a pattern".into(),
        );
    }
    Ok(())
}

/// Whether most of a password is one of zxcvbn's common passwords.
fn is_common(estimate: &zxcvbn::Entropy) -> bool {
    use zxcvbn::matching::patterns::MatchPattern;
    let length = estimate
        .sequence()
        .iter()
        .map(|m| m.token.chars().count())
        .sum::<usize>();
    estimate.sequence().iter().any(|m| match &m.pattern {
        // The password list is the dictionary zxcvbn names by default.
        MatchPattern::Dictionary(word) => {
            word.dictionary_name == Default::default() && m.token.chars().count() * 2 >= length
        }
        _ => false,
    })
}

/// The letters an enrolment code is made of: RFC 4648 base32, which has
/// no 0/O or 1/I to confuse.
const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// An enrolment code from 10 random bytes: 16 base32 letters in four
/// groups, `ABCD-EFGH-JKLM-NPQR` (80 bits).
pub fn enrolment_code(random: &[u8; 10]) -> String {
    let mut bits: u128 = 0;
    for byte in random {
        bits = (bits << 8) | u128::from(*byte);
    }
    let letters: Vec<char> = (0..16)
        .rev()
        .map(|i| CODE_ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
        .collect();
    letters
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// An enrolment code as typed, in the form it was made: spaces and
/// dashes may be left out or added, any case. Refused if it cannot be one.
pub fn normalise_enrolment_code(typed: &str) -> Result<String, String> {
    let letters: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if letters.len() != 16 || !letters.bytes().all(|b| CODE_ALPHABET.contains(&b)) {
        return Err(
            "that is not an enrolment code: it is 16 letters and digits, like ABCD-EFGH-JKLM-NPQR"
                .into(),
        );
    }
    let chars: Vec<char> = letters.chars().collect();
    Ok(chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-"))
}

/// After a failed sign-in that makes `failures` in a row: the new count and,
/// if the person is now locked out, until when.
pub fn after_failed_signin(failures: i64, now_ms: i64) -> (i64, Option<i64>) {
    if failures >= MAX_FAILED_SIGNINS {
        (0, Some(now_ms + LOCKOUT_MS))
    } else {
        (failures, None)
    }
}

/// Whether `roles` include one of `needed`; the refusal names the person
/// and what is needed.
pub fn check_role(person: &str, roles: &[Role], needed: &[Role], what: &str) -> Result<(), String> {
    if needed.iter().any(|role| roles.contains(role)) {
        return Ok(());
    }
    let needed: Vec<&str> = needed.iter().map(|r| r.as_str()).collect();
    let held = if roles.is_empty() {
        "no roles".to_string()
    } else {
        format!("the roles {}", roles_text(roles))
    };
    Err(format!(
        "{person} may not {what}: that needs the {} role, and {person} has {held}",
        needed.join(" or ")
    ))
}

/// Refused if a change would leave no enabled administrator (nobody who
/// could manage people on the console): `admin_after` is whether person
/// `name`, an enabled administrator now if `admin_now`, still is one after
/// it; `others` counts the other enabled administrators.
pub fn check_leaves_an_admin(
    name: &str,
    admin_now: bool,
    admin_after: bool,
    others: usize,
) -> Result<(), String> {
    if !admin_now || admin_after || others > 0 {
        return Ok(());
    }
    Err(format!(
        "{name} is the only administrator who is not disabled: give another person the admin role first, so that somebody can still manage people (root can always do it with `hedge people` on the server)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_enabled_administrator_is_kept() {
        assert!(check_leaves_an_admin("A", true, false, 0).is_err());
        assert!(
            check_leaves_an_admin("A", true, false, 0)
                .unwrap_err()
                .contains("A is the only administrator")
        );
        assert!(check_leaves_an_admin("A", true, false, 1).is_ok());
        assert!(check_leaves_an_admin("A", true, true, 0).is_ok());
        assert!(
            check_leaves_an_admin("A", false, false, 0).is_ok(),
            "not an admin now"
        );
    }

    #[test]
    fn roles_parse_in_any_case_and_list_the_roles_when_wrong() {
        assert_eq!(Role::parse("Approver"), Ok(Role::Approver));
        assert_eq!(Role::parse(" safeguarding "), Ok(Role::Safeguarding));
        let error = Role::parse("head").unwrap_err();
        assert!(
            error.contains("staff, approver, safeguarding and admin"),
            "{error}"
        );
        assert_eq!(
            check_roles(&[Role::Admin, Role::Staff, Role::Admin]),
            Ok(vec![Role::Staff, Role::Admin])
        );
        assert!(check_roles(&[]).is_err());
        assert_eq!(roles_text(&[Role::Staff, Role::Admin]), "staff,admin");
        assert_eq!(
            parse_roles_text("staff,admin"),
            Ok(vec![Role::Staff, Role::Admin])
        );
    }

    #[test]
    fn passwords_need_length_and_must_not_be_common_or_the_name() {
        let short = check_password("short pass", "Jo Head").unwrap_err();
        assert!(short.contains("at least 12"), "{short}");
        let common = check_password("password1234", "Jo Head").unwrap_err();
        assert!(
            common.contains("common") || common.contains("guess"),
            "{common}"
        );
        let common = check_password("iloveyou1234", "Jo Head").unwrap_err();
        assert!(
            common.contains("common") || common.contains("guess"),
            "{common}"
        );
        assert!(check_password("qwertyuiopasdf", "Jo Head").is_err());
        let named = check_password("heather-lantern-91-quiet", "Heather Jones").unwrap_err();
        assert!(named.contains("your name"), "{named}");
        let named = check_password("xjoneszq-lantern-quiet", "Heather Jones").unwrap_err();
        assert!(named.contains("your name"), "{named}");
        assert_eq!(
            check_password("copper kettle marching slowly", "Jo Head"),
            Ok(())
        );
    }

    #[test]
    fn enrolment_codes_are_four_groups_of_base32() {
        let code = enrolment_code(&[0; 10]);
        assert_eq!(code, "AAAA-AAAA-AAAA-AAAA");
        let code = enrolment_code(&[0xff; 10]);
        assert_eq!(code, "7777-7777-7777-7777");
        let code = enrolment_code(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(code.len(), 19);
        assert_eq!(
            normalise_enrolment_code(&code.to_lowercase().replace('-', " ")),
            Ok(code.clone())
        );
        assert_eq!(normalise_enrolment_code(&code.replace('-', "")), Ok(code));
        assert!(normalise_enrolment_code("ABCD-EFGH-JKLM").is_err());
        assert!(normalise_enrolment_code("ABCD-EFGH-JKLM-NPQ0").is_err());
    }

    #[test]
    fn five_failures_lock_for_fifteen_minutes() {
        assert_eq!(after_failed_signin(1, 1000), (1, None));
        assert_eq!(after_failed_signin(4, 1000), (4, None));
        assert_eq!(after_failed_signin(5, 1000), (0, Some(1000 + LOCKOUT_MS)));
    }

    #[test]
    fn role_checks_name_what_is_missing() {
        assert!(check_role("Jo", &[Role::Approver], &[Role::Approver], "approve").is_ok());
        assert!(check_role("Jo", &[Role::Staff], &[Role::Staff, Role::Approver], "file").is_ok());
        let error = check_role(
            "Jo",
            &[Role::Staff],
            &[Role::Approver],
            "approve exemptions",
        )
        .unwrap_err();
        assert!(error.contains("needs the approver role"), "{error}");
        assert!(error.contains("the roles staff"), "{error}");
    }

    #[test]
    fn names_and_os_users_are_checked() {
        assert_eq!(check_person_name("  Jo Head "), Ok("Jo Head".into()));
        assert!(check_person_name("").is_err());
        assert!(check_person_name("a\nb").is_err());
        assert_eq!(check_os_user("jo.head"), Ok("jo.head".into()));
        assert!(check_os_user("jo head").is_err());
        assert!(check_os_user("-x").is_err());
    }
}
