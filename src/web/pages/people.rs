//! People, for administrators: everyone on record with their roles and
//! state, adding a person (their one-time enrolment code shown once, with
//! the address to enrol at), and per person changing their roles or OS
//! account, resetting them (a new code) and disabling them, each of the
//! last two after a page that says what it does. What `hedge people`
//! does, in its words.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde::Deserialize;

use super::error::{PageError, render, see_other};
use super::frame::Frame;
use super::signed_in::{Posted, SignedIn};
use super::{Done, given};
use crate::policy::Role;
use crate::policy::people::{check_os_user, check_person_name};
use crate::service::time::format_local;
use crate::service::{Enrolment, Service};
use crate::store::{Person, now_ms};

/// What managing people needs, as a refusal names it.
const MANAGE: &str = "manage people";

/// One person as the pages show them.
struct PersonView {
    name: String,
    /// `/people/person?name=...`
    link: String,
    roles: String,
    os_user: String,
    /// As `hedge people list` says it: enrolled, waiting to enrol, locked,
    /// disabled.
    state: &'static str,
    /// When the state ends or ended: the code's expiry, the lockout's end.
    state_detail: String,
    totp: &'static str,
    created: String,
    has: [bool; 4],
    disabled: bool,
}

impl PersonView {
    fn of(person: &Person, now: i64) -> PersonView {
        let locked = person.locked_until_ms.filter(|until| *until > now);
        let (state, state_detail) = if person.disabled {
            ("disabled", String::new())
        } else if let Some(until) = locked {
            ("locked", format!("until {}", format_local(until)))
        } else if person.enrolled {
            ("enrolled", String::new())
        } else {
            let detail = match person.enrolment_expires_ms {
                Some(expires) if expires > now => {
                    format!("code valid until {}", format_local(expires))
                }
                Some(expires) => format!(
                    "code expired {}: reset them for a new one",
                    format_local(expires)
                ),
                None => "no code: reset them for one".into(),
            };
            ("waiting to enrol", detail)
        };
        let roles: Vec<&str> = person.roles.iter().map(|role| role.as_str()).collect();
        PersonView {
            name: person.name.clone(),
            link: person_link(&person.name),
            roles: roles.join(", "),
            os_user: person.os_user.clone().unwrap_or_else(|| "-".into()),
            state,
            state_detail,
            totp: if person.totp { "yes" } else { "no" },
            created: format_local(person.created_ms),
            has: Role::ALL.map(|role| person.has(role)),
            disabled: person.disabled,
        }
    }

    /// The badge's class for the state.
    fn state_class(&self) -> &'static str {
        match self.state {
            "enrolled" => "active",
            "waiting to enrol" => "pending",
            _ => "open",
        }
    }

    /// The page that asks before `action` (reset, disable) is done.
    fn action_link(&self, action: &str) -> String {
        format!("/people/{action}?{}", name_query(&self.name))
    }

    /// The role checkboxes: (word, ticked).
    fn role_boxes(&self) -> Vec<(&'static str, bool)> {
        Role::ALL
            .iter()
            .zip(self.has)
            .map(|(role, has)| (role.as_str(), has))
            .collect()
    }
}

/// The address of `name`'s own page.
fn person_link(name: &str) -> String {
    format!("/people/person?{}", name_query(name))
}

/// `name=...`, encoded for an address.
fn name_query(name: &str) -> String {
    serde_urlencoded::to_string([("name", name)]).unwrap_or_default()
}

/// The people page: everyone on record, and the form to add a person.
#[derive(Template)]
#[template(path = "console/people.html")]
struct PeoplePage {
    frame: Frame,
    people: Vec<PersonView>,
    roles: [&'static str; 4],
}

/// GET /people: everyone on record with their roles and state, and the form to add a
/// person. Administrators only.
pub(super) async fn page(
    State(service): State<Arc<Service>>,
    who: SignedIn,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    who.require(&[Role::Admin], MANAGE)?;
    let people = service.people(&who.actor(&[Role::Admin])).await?;
    let now = now_ms();
    Ok(render(&PeoplePage {
        frame: who.frame("People").with_notice(done.done.as_deref()),
        people: people.iter().map(|p| PersonView::of(p, now)).collect(),
        roles: Role::ALL.map(Role::as_str),
    }))
}

/// The person a page or form is about: `name`, from the address's `?name=` or a form's
/// hidden field.
#[derive(Deserialize)]
pub(super) struct Named {
    #[serde(default)]
    name: String,
}

/// One person's page: their record, and the forms to change, reset, disable or enable them.
#[derive(Template)]
#[template(path = "console/person.html")]
struct PersonPage {
    frame: Frame,
    person: PersonView,
}

/// GET /people/person?name=: one person, with forms to change their roles and OS account,
/// links to reset or disable them, or a button to enable them again. Administrators only.
pub(super) async fn person(
    State(service): State<Arc<Service>>,
    who: SignedIn,
    Query(named): Query<Named>,
) -> Result<Response, PageError> {
    who.require(&[Role::Admin], MANAGE)?;
    service
        .check_people_admin(&who.actor(&[Role::Admin]))
        .await?;
    let person = service.person(&named.name).await?;
    Ok(render(&PersonPage {
        frame: who.frame(&person.name),
        person: PersonView::of(&person, now_ms()),
    }))
}

/// What resetting or disabling does, asked before it is done.
#[derive(Template)]
#[template(path = "console/person_confirm.html")]
struct ConfirmPage {
    frame: Frame,
    person: PersonView,
    /// `reset` or `disable`: the form's address and what it does.
    action: &'static str,
}

/// GET /people/reset?name=: what resetting the person does, with the button that does it.
/// Administrators only.
pub(super) async fn confirm_reset(
    state: State<Arc<Service>>,
    who: SignedIn,
    named: Query<Named>,
) -> Result<Response, PageError> {
    confirm(state, who, named, "reset").await
}

/// GET /people/disable?name=: what disabling the person does, with the button that does
/// it. Administrators only.
pub(super) async fn confirm_disable(
    state: State<Arc<Service>>,
    who: SignedIn,
    named: Query<Named>,
) -> Result<Response, PageError> {
    confirm(state, who, named, "disable").await
}

async fn confirm(
    State(service): State<Arc<Service>>,
    who: SignedIn,
    Query(named): Query<Named>,
    action: &'static str,
) -> Result<Response, PageError> {
    who.require(&[Role::Admin], MANAGE)?;
    service
        .check_people_admin(&who.actor(&[Role::Admin]))
        .await?;
    let person = service.person(&named.name).await?;
    let title = match action {
        "reset" => format!("Reset {}?", person.name),
        _ => format!("Disable {}?", person.name),
    };
    Ok(render(&ConfirmPage {
        frame: who.frame(&title),
        person: PersonView::of(&person, now_ms()),
        action,
    }))
}

/// The add and change forms: a name, the role checkboxes, an OS account.
#[derive(Deserialize)]
pub(super) struct PersonForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    os_user: Option<String>,
    #[serde(default)]
    staff: Option<String>,
    #[serde(default)]
    approver: Option<String>,
    #[serde(default)]
    safeguarding: Option<String>,
    #[serde(default)]
    admin: Option<String>,
}

impl PersonForm {
    /// The roles ticked; at least one.
    fn roles(&self) -> Result<Vec<Role>, PageError> {
        let ticked = [&self.staff, &self.approver, &self.safeguarding, &self.admin];
        let roles: Vec<Role> = Role::ALL
            .into_iter()
            .zip(ticked)
            .filter(|(_, ticked)| ticked.is_some())
            .map(|(role, _)| role)
            .collect();
        if roles.is_empty() {
            return Err(PageError::field(
                "roles",
                "tick at least one role: staff, approver, safeguarding or admin",
            ));
        }
        Ok(roles)
    }

    /// The OS account typed, if any, checked.
    fn os_user(&self) -> Result<Option<String>, PageError> {
        given(&self.os_user)
            .map(|user| {
                check_os_user(user).map_err(|_| {
                    PageError::field(
                        "OS account",
                        format!(
                            "{user:?} is not an OS account name (letters, digits, _ - . $; at most 32)"
                        ),
                    )
                })
            })
            .transpose()
    }
}

/// A person's new enrolment code, shown once, with the address to enrol at.
#[derive(Template)]
#[template(path = "console/enrolment.html")]
struct EnrolmentPage {
    frame: Frame,
    enrolment: Enrolment,
    /// `https://HOST/enrol?code=CODE`
    link: String,
    expires: String,
    /// What was done: "added" or "reset".
    done: &'static str,
}

impl EnrolmentPage {
    fn new(who: &SignedIn, host: &str, enrolment: Enrolment, done: &'static str) -> EnrolmentPage {
        let query = serde_urlencoded::to_string([("code", enrolment.enrolment_code.as_str())])
            .unwrap_or_default();
        EnrolmentPage {
            frame: who.frame(&format!("Enrolment code for {}", enrolment.name)),
            link: format!("https://{host}/enrol?{query}"),
            expires: format_local(enrolment.expires_ms),
            enrolment,
            done,
        }
    }
}

/// The console's host as the administrator's browser reached it, for the
/// enrolment address; else where the console listens.
fn console_host(headers: &HeaderMap, service: &Service) -> String {
    let sane = |host: &&str| {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    };
    headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .filter(sane)
        .map(str::to_string)
        .or_else(|| service.console.get().map(|c| c.listen.to_string()))
        .unwrap_or_else(|| "THIS-SERVER".into())
}

/// POST /people/add {name, roles, os_user}: adds a person (administrators only) and shows
/// their one-time enrolment code with the address to enrol at.
pub(super) async fn add(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    Posted { who, form }: Posted<PersonForm>,
) -> Result<Response, PageError> {
    who.require(&[Role::Admin], MANAGE)?;
    let name = check_person_name(&form.name).map_err(|e| PageError::field("name", e))?;
    let roles = form.roles()?;
    let os_user = form.os_user()?;
    let enrolment = service
        .add_person(
            &who.actor(&[Role::Admin]),
            &name,
            &roles,
            os_user.as_deref(),
        )
        .await?;
    let host = console_host(&headers, &service);
    Ok(render(&EnrolmentPage::new(&who, &host, enrolment, "added")))
}

/// POST /people/roles {name, roles}: gives the person exactly the roles ticked (at least
/// one; never leaving no administrator). Administrators only; then to /people.
pub(super) async fn set_roles(
    State(service): State<Arc<Service>>,
    Posted { who, form }: Posted<PersonForm>,
) -> Result<Response, PageError> {
    who.require(&[Role::Admin], MANAGE)?;
    let roles = form.roles()?;
    service
        .set_person_roles(&who.actor(&[Role::Admin]), &form.name, &roles)
        .await?;
    Ok(see_other("/people?done=changed"))
}

/// POST /people/map {name, os_user}: sets the person's OS account, or clears it if left
/// empty. Administrators only; then to /people.
pub(super) async fn map(
    State(service): State<Arc<Service>>,
    Posted { who, form }: Posted<PersonForm>,
) -> Result<Response, PageError> {
    who.require(&[Role::Admin], MANAGE)?;
    let os_user = form.os_user()?;
    service
        .map_person(&who.actor(&[Role::Admin]), &form.name, os_user.as_deref())
        .await?;
    Ok(see_other("/people?done=changed"))
}

/// POST /people/reset {name}: clears the person's password and TOTP and shows their new
/// enrolment code (the old one stops working). Administrators only.
pub(super) async fn reset(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    Posted { who, form }: Posted<Named>,
) -> Result<Response, PageError> {
    who.require(&[Role::Admin], MANAGE)?;
    let enrolment = service
        .reset_person(&who.actor(&[Role::Admin]), &form.name)
        .await?;
    let host = console_host(&headers, &service);
    Ok(render(&EnrolmentPage::new(&who, &host, enrolment, "reset")))
}

/// POST /people/disable {name}: the person can no longer sign in or act (refused for the
/// last administrator). Administrators only; then to /people.
pub(super) async fn disable(
    State(service): State<Arc<Service>>,
    Posted { who, form }: Posted<Named>,
) -> Result<Response, PageError> {
    who.require(&[Role::Admin], MANAGE)?;
    service
        .disable_person(&who.actor(&[Role::Admin]), &form.name)
        .await?;
    Ok(see_other("/people?done=disabled"))
}

/// POST /people/enable {name}: a disabled person may sign in and act again, with the
/// roles and password they had. Administrators only; then to /people.
pub(super) async fn enable(
    State(service): State<Arc<Service>>,
    Posted { who, form }: Posted<Named>,
) -> Result<Response, PageError> {
    who.require(&[Role::Admin], MANAGE)?;
    service
        .enable_person(&who.actor(&[Role::Admin]), &form.name)
        .await?;
    Ok(see_other("/people?done=enabled"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> Person {
        Person {
            id: 1,
            name: "Jo Head & Co".into(),
            roles: vec![Role::Staff, Role::Admin],
            os_user: None,
            enrolled: false,
            totp: false,
            enrolment_expires_ms: Some(10_000),
            disabled: false,
            failed_signins: 0,
            locked_until_ms: None,
            created_ms: 0,
        }
    }

    #[test]
    fn a_person_reads_as_hedge_people_list_says_it() {
        let mut jo = person();
        let view = PersonView::of(&jo, 5_000);
        assert_eq!(view.state, "waiting to enrol");
        assert!(view.state_detail.starts_with("code valid until"));
        assert_eq!(view.roles, "staff, admin");
        assert_eq!(view.os_user, "-");
        assert_eq!(view.link, "/people/person?name=Jo+Head+%26+Co");
        assert_eq!(
            view.role_boxes(),
            vec![
                ("staff", true),
                ("approver", false),
                ("safeguarding", false),
                ("admin", true)
            ]
        );
        assert!(PersonView::of(&jo, 20_000).state_detail.contains("expired"));
        jo.enrolled = true;
        jo.locked_until_ms = Some(30_000);
        assert_eq!(PersonView::of(&jo, 20_000).state, "locked");
        assert_eq!(PersonView::of(&jo, 40_000).state, "enrolled");
        jo.disabled = true;
        assert_eq!(PersonView::of(&jo, 40_000).state, "disabled");
    }

    #[test]
    fn no_role_ticked_is_refused_naming_the_roles() {
        let form = PersonForm {
            name: "A".into(),
            os_user: Some("  ".into()),
            staff: None,
            approver: None,
            safeguarding: None,
            admin: None,
        };
        let Err(PageError::Shown { message, .. }) = form.roles() else {
            panic!("no role is refused");
        };
        assert!(message.starts_with("roles:"), "{message}");
        assert_eq!(form.os_user().unwrap(), None, "blank: none");
        let form = PersonForm {
            approver: Some("on".into()),
            os_user: Some("-rf".into()),
            ..form
        };
        assert_eq!(form.roles().unwrap(), vec![Role::Approver]);
        assert!(form.os_user().is_err());
    }
}
