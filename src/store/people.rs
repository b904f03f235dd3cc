//! People as stored: their roles, the OS account that acts as them, their
//! credentials (only as hashes) and the state of their sign-ins. Every
//! change commits together with its audit row, whose details never hold a
//! password, a hash, a code or a TOTP secret. `policy::people` says what is
//! allowed; this only writes it.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::audit::{AuditEntry, AuditLock, append};
use super::{Database, StoreError, now_ms};
use crate::policy::Role;
use crate::policy::people::parse_roles_text;

/// A person, as anyone allowed to list people may see them: no hashes,
/// secrets or codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub roles: Vec<Role>,
    pub os_user: Option<String>,
    /// Whether they have set a password.
    pub enrolled: bool,
    /// Whether they sign in with a TOTP code too.
    pub totp: bool,
    /// Until when their enrolment code may be used, if they have one.
    pub enrolment_expires_ms: Option<i64>,
    pub disabled: bool,
    pub failed_signins: i64,
    pub locked_until_ms: Option<i64>,
    pub created_ms: i64,
}

impl Person {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// What a person signs in with, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// An argon2id PHC string.
    pub password_hash: Option<String>,
    /// Base32.
    pub totp_secret: Option<String>,
    /// The time step of the last TOTP code accepted.
    pub totp_last_step: Option<i64>,
}

/// Who makes a change to a person: the OS account and, if they have one,
/// their own person (both go in the audit row).
#[derive(Debug, Clone, Copy)]
pub struct ChangedBy<'a> {
    pub os_user: &'a str,
    pub person: Option<&'a str>,
}

/// What changes when a person's record changes, as one statement: `set`
/// is the SQL after `SET`, bound to `values` then the person's id.
enum Value<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
}

fn person_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Person, StoreError> {
    let id: i64 = row.try_get("id")?;
    let roles: String = row.try_get("roles")?;
    let password: Option<String> = row.try_get("password_hash")?;
    let totp: Option<String> = row.try_get("totp_secret")?;
    let code: Option<String> = row.try_get("enrolment_hash")?;
    Ok(Person {
        id,
        name: row.try_get("name")?,
        roles: parse_roles_text(&roles)
            .map_err(|error| StoreError::Invalid(format!("person {id}: {error}")))?,
        os_user: row.try_get("os_user")?,
        enrolled: password.is_some(),
        totp: totp.is_some(),
        enrolment_expires_ms: code.and(row.try_get::<Option<i64>, _>("enrolment_expires_ms")?),
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        failed_signins: row.try_get("failed_signins")?,
        locked_until_ms: row.try_get("locked_until_ms")?,
        created_ms: row.try_get("created_ms")?,
    })
}

/// The audit details of a person: what anyone may see of them.
fn details(person: &Person) -> serde_json::Value {
    serde_json::json!({
        "id": person.id,
        "name": person.name,
        "roles": person.roles,
        "os_user": person.os_user,
        "enrolled": person.enrolled,
        "totp": person.totp,
        "disabled": person.disabled,
    })
}

impl Database {
    /// Adds a person with an enrolment code (its hash) valid until
    /// `expires_ms`. A name (in any case) or OS account already taken is
    /// refused.
    #[allow(clippy::too_many_arguments)]
    pub async fn add_person(
        &self,
        lock: &AuditLock,
        name: &str,
        roles: &str,
        os_user: Option<&str>,
        code_hash: &str,
        expires_ms: i64,
        by: ChangedBy<'_>,
    ) -> Result<Person, StoreError> {
        let _held = lock.hold().await;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        self.refuse_taken(&mut transaction, name, os_user, None)
            .await?;
        let row = sqlx::query(
            "INSERT INTO people (name, roles, os_user, enrolment_hash, enrolment_expires_ms, \
             created_ms) VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
        )
        .bind(name)
        .bind(roles)
        .bind(os_user)
        .bind(code_hash)
        .bind(expires_ms)
        .bind(now_ms())
        .fetch_one(&mut *transaction)
        .await?;
        let person = person_from_row(&row)?;
        audit(&mut transaction, by, "person.added", details(&person)).await?;
        transaction.commit().await?;
        Ok(person)
    }

    async fn refuse_taken(
        &self,
        connection: &mut sqlx::SqliteConnection,
        name: &str,
        os_user: Option<&str>,
        except: Option<i64>,
    ) -> Result<(), StoreError> {
        let same_name = sqlx::query("SELECT name FROM people WHERE name = ? AND id IS NOT ?")
            .bind(name)
            .bind(except)
            .fetch_optional(&mut *connection)
            .await?;
        if let Some(row) = same_name {
            let existing: String = row.try_get("name")?;
            return Err(StoreError::Invalid(format!(
                "there is already a person called {existing:?}"
            )));
        }
        if let Some(user) = os_user {
            let same_user =
                sqlx::query("SELECT name FROM people WHERE os_user = ? AND id IS NOT ?")
                    .bind(user)
                    .bind(except)
                    .fetch_optional(&mut *connection)
                    .await?;
            if let Some(row) = same_user {
                let existing: String = row.try_get("name")?;
                return Err(StoreError::Invalid(format!(
                    "the OS account {user} already acts as {existing}"
                )));
            }
        }
        Ok(())
    }

    /// Everyone, in order of name.
    pub async fn people(&self) -> Result<Vec<Person>, StoreError> {
        let rows = sqlx::query("SELECT * FROM people ORDER BY name COLLATE NOCASE")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(person_from_row).collect()
    }

    /// The person called `name` (in any case).
    pub async fn person(&self, name: &str) -> Result<Option<Person>, StoreError> {
        let row = sqlx::query("SELECT * FROM people WHERE name = ?")
            .bind(name.trim())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(person_from_row).transpose()
    }

    /// The person the OS account `user` acts as.
    pub async fn person_for_os_user(&self, user: &str) -> Result<Option<Person>, StoreError> {
        let row = sqlx::query("SELECT * FROM people WHERE os_user = ?")
            .bind(user)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(person_from_row).transpose()
    }

    /// The person whose enrolment code hashes to `code_hash` (used or
    /// expired codes are no one's: enrolling clears the hash).
    pub async fn person_by_enrolment(&self, code_hash: &str) -> Result<Option<Person>, StoreError> {
        let row = sqlx::query("SELECT * FROM people WHERE enrolment_hash = ?")
            .bind(code_hash)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(person_from_row).transpose()
    }

    /// A person and what they sign in with.
    pub async fn credentials(
        &self,
        name: &str,
    ) -> Result<Option<(Person, Credentials)>, StoreError> {
        let row = sqlx::query("SELECT * FROM people WHERE name = ?")
            .bind(name.trim())
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some((
            person_from_row(&row)?,
            Credentials {
                password_hash: row.try_get("password_hash")?,
                totp_secret: row.try_get("totp_secret")?,
                totp_last_step: row.try_get("totp_last_step")?,
            },
        )))
    }

    /// Disables (or enables again) person `id`.
    pub async fn set_person_disabled(
        &self,
        lock: &AuditLock,
        id: i64,
        disabled: bool,
        by: ChangedBy<'_>,
    ) -> Result<Person, StoreError> {
        let action = if disabled {
            "person.disabled"
        } else {
            "person.enabled"
        };
        self.change(
            lock,
            id,
            "disabled = ?",
            &[Value::Int(Some(disabled.into()))],
            by,
            action,
            None,
        )
        .await
    }

    /// Clears person `id`'s password, TOTP and lockout, and gives them a
    /// new enrolment code (its hash) valid until `expires_ms`.
    pub async fn reset_person(
        &self,
        lock: &AuditLock,
        id: i64,
        code_hash: &str,
        expires_ms: i64,
        by: ChangedBy<'_>,
    ) -> Result<Person, StoreError> {
        self.change(
            lock,
            id,
            "password_hash = NULL, totp_secret = NULL, totp_last_step = NULL, failed_signins = 0, \
             locked_until_ms = NULL, enrolment_hash = ?, enrolment_expires_ms = ?",
            &[Value::Text(Some(code_hash)), Value::Int(Some(expires_ms))],
            by,
            "person.reset",
            None,
        )
        .await
    }

    /// Gives person `id` the roles `roles` (stored text).
    pub async fn set_person_roles(
        &self,
        lock: &AuditLock,
        id: i64,
        roles: &str,
        before: &[Role],
        by: ChangedBy<'_>,
    ) -> Result<Person, StoreError> {
        let extra = serde_json::json!({ "roles_before": before });
        self.change(
            lock,
            id,
            "roles = ?",
            &[Value::Text(Some(roles))],
            by,
            "person.roles-changed",
            Some(extra),
        )
        .await
    }

    /// Maps the OS account `os_user` to person `id` (or, `None`, none).
    pub async fn set_person_os_user(
        &self,
        lock: &AuditLock,
        id: i64,
        name: &str,
        os_user: Option<&str>,
        by: ChangedBy<'_>,
    ) -> Result<Person, StoreError> {
        {
            let mut connection = self.pool().acquire().await?;
            self.refuse_taken(&mut connection, name, os_user, Some(id))
                .await?;
        }
        // A second check inside the change: the unique index refuses a race.
        self.change(
            lock,
            id,
            "os_user = ?",
            &[Value::Text(os_user)],
            by,
            "person.os-user-changed",
            None,
        )
        .await
    }

    /// Sets person `id`'s password hash, consuming enrolment code
    /// `code_hash` if it is still theirs and has not expired at `now_ms`.
    pub async fn enrol_person(
        &self,
        lock: &AuditLock,
        id: i64,
        code_hash: &str,
        password_hash: &str,
        now_ms: i64,
        by: ChangedBy<'_>,
    ) -> Result<Person, StoreError> {
        let _held = lock.hold().await;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "UPDATE people SET password_hash = ?, enrolment_hash = NULL, \
             enrolment_expires_ms = NULL, failed_signins = 0, locked_until_ms = NULL \
             WHERE id = ? AND enrolment_hash = ? AND enrolment_expires_ms > ? AND disabled = 0 \
             RETURNING *",
        )
        .bind(password_hash)
        .bind(id)
        .bind(code_hash)
        .bind(now_ms)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::Invalid(
                "that enrolment code has been used, has expired or was replaced: ask an administrator for a new one (hedge people reset)".into(),
            ));
        };
        let person = person_from_row(&row)?;
        let by = ChangedBy {
            os_user: by.os_user,
            person: by.person.or(Some(&person.name)),
        };
        audit(&mut transaction, by, "person.enrolled", details(&person)).await?;
        transaction.commit().await?;
        Ok(person)
    }

    /// Sets person `id`'s TOTP secret (base32).
    pub async fn set_person_totp(
        &self,
        lock: &AuditLock,
        id: i64,
        secret: &str,
        by: ChangedBy<'_>,
    ) -> Result<Person, StoreError> {
        self.change(
            lock,
            id,
            "totp_secret = ?, totp_last_step = NULL",
            &[Value::Text(Some(secret))],
            by,
            "person.totp-set",
            None,
        )
        .await
    }

    /// Records a failed sign-in: `failures` in a row now, and locked until
    /// `locked_until_ms` if that many lock them out.
    pub async fn record_failed_signin(
        &self,
        lock: &AuditLock,
        id: i64,
        failures: i64,
        locked_until_ms: Option<i64>,
        reason: &str,
        by: ChangedBy<'_>,
    ) -> Result<Person, StoreError> {
        let action = if locked_until_ms.is_some() {
            "person.locked"
        } else {
            "person.sign-in-failed"
        };
        let extra = serde_json::json!({
            "reason": reason,
            "failures": failures,
            "locked_until_ms": locked_until_ms,
        });
        self.change(
            lock,
            id,
            "failed_signins = ?, locked_until_ms = COALESCE(?, locked_until_ms)",
            &[Value::Int(Some(failures)), Value::Int(locked_until_ms)],
            by,
            action,
            Some(extra),
        )
        .await
    }

    /// Records a sign-in that succeeded: the failures before it are
    /// forgotten, and the step of the TOTP code it used (if any) is kept
    /// so that the code is not accepted again.
    pub async fn record_signin(
        &self,
        lock: &AuditLock,
        id: i64,
        totp_step: Option<i64>,
        by: ChangedBy<'_>,
    ) -> Result<Person, StoreError> {
        self.change(
            lock,
            id,
            "failed_signins = 0, locked_until_ms = NULL, \
             totp_last_step = COALESCE(?, totp_last_step)",
            &[Value::Int(totp_step)],
            by,
            "person.signed-in",
            None,
        )
        .await
    }

    /// One change to person `id` and its audit row `action` (the person's
    /// visible record, with `extra` folded in), in one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn change(
        &self,
        lock: &AuditLock,
        id: i64,
        set: &str,
        values: &[Value<'_>],
        by: ChangedBy<'_>,
        action: &str,
        extra: Option<serde_json::Value>,
    ) -> Result<Person, StoreError> {
        let _held = lock.hold().await;
        let mut transaction = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let sql = format!("UPDATE people SET {set} WHERE id = ? RETURNING *");
        let mut query = sqlx::query(&sql);
        for value in values {
            query = match value {
                Value::Text(text) => query.bind(*text),
                Value::Int(number) => query.bind(*number),
            };
        }
        let row = query
            .bind(id)
            .fetch_optional(&mut *transaction)
            .await?
            .ok_or_else(|| StoreError::Invalid(format!("there is no person {id}")))?;
        let person = person_from_row(&row)?;
        let mut record = details(&person);
        if let (Some(record), Some(serde_json::Value::Object(extra))) =
            (record.as_object_mut(), extra)
        {
            record.extend(extra);
        }
        audit(&mut transaction, by, action, record).await?;
        transaction.commit().await?;
        Ok(person)
    }
}

async fn audit(
    connection: &mut sqlx::SqliteConnection,
    by: ChangedBy<'_>,
    action: &str,
    details: serde_json::Value,
) -> Result<(), StoreError> {
    append(
        connection,
        &AuditEntry {
            actor: by.os_user.into(),
            person: by.person.map(str::to_string),
            action: action.into(),
            details,
        },
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOBODY: ChangedBy<'static> = ChangedBy {
        os_user: "root",
        person: None,
    };

    #[tokio::test]
    async fn enrolment_codes_expire_and_are_used_once() {
        let dir = tempfile::TempDir::new().unwrap();
        let database = Database::open(&dir.path().join("hedge.db")).await.unwrap();
        let lock = AuditLock::default();
        let person = database
            .add_person(
                &lock,
                "Jo Head",
                "approver",
                Some("jo"),
                "code-hash",
                10_000,
                NOBODY,
            )
            .await
            .unwrap();
        assert!(!person.enrolled);
        assert_eq!(person.enrolment_expires_ms, Some(10_000));
        let taken = database
            .add_person(&lock, "JO HEAD", "staff", None, "other", 10_000, NOBODY)
            .await
            .unwrap_err();
        assert!(
            taken
                .to_string()
                .contains("already a person called \"Jo Head\""),
            "{taken}"
        );
        let taken = database
            .add_person(
                &lock,
                "Someone",
                "staff",
                Some("jo"),
                "other",
                10_000,
                NOBODY,
            )
            .await
            .unwrap_err();
        assert!(
            taken.to_string().contains("already acts as Jo Head"),
            "{taken}"
        );
        // At the moment it expires, the code is refused.
        let expired = database
            .enrol_person(&lock, person.id, "code-hash", "$argon2id$x", 10_000, NOBODY)
            .await
            .unwrap_err();
        assert!(expired.to_string().contains("expired"), "{expired}");
        let enrolled = database
            .enrol_person(&lock, person.id, "code-hash", "$argon2id$x", 9_999, NOBODY)
            .await
            .unwrap();
        assert!(enrolled.enrolled);
        assert_eq!(enrolled.enrolment_expires_ms, None);
        assert!(
            database
                .person_by_enrolment("code-hash")
                .await
                .unwrap()
                .is_none()
        );
        let again = database
            .enrol_person(&lock, person.id, "code-hash", "$argon2id$y", 1, NOBODY)
            .await
            .unwrap_err();
        assert!(again.to_string().contains("used"), "{again}");
        let rows = database.audit_rows(0, 100).await.unwrap();
        let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(actions, ["person.added", "person.enrolled"]);
        assert!(
            rows.iter()
                .all(|r| !r.details.contains("argon2") && !r.details.contains("code-hash"))
        );
    }
}
