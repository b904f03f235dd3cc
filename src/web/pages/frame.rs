//! What every page shares: the signed-in person (or nobody), the title,
//! the notice left by the last action, and the navigation their roles
//! allow. Each page's template extends `console/layout.html` and reads
//! these as `frame.*`.

use crate::policy::Role;
use crate::service::ConsoleCaller;

/// The person a page is shown to, as the layout needs them.
#[derive(Debug, Clone)]
pub struct Me {
    pub name: String,
    /// Their session's CSRF token, put in every form.
    pub csrf: String,
    pub staff: bool,
    pub approver: bool,
    pub safeguarding: bool,
    pub admin: bool,
}

impl Me {
    /// `caller` as the layout shows them: their name, CSRF token and roles.
    pub fn of(caller: &ConsoleCaller) -> Me {
        let has = |role| caller.person.has(role);
        Me {
            name: caller.person.name.clone(),
            csrf: caller.csrf.clone(),
            staff: has(Role::Staff),
            approver: has(Role::Approver),
            safeguarding: has(Role::Safeguarding),
            admin: has(Role::Admin),
        }
    }

    /// Sees every request, not only their own.
    pub fn sees_all_requests(&self) -> bool {
        self.approver || self.safeguarding || self.admin
    }
}

/// The frame of one page.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The page's title, in the browser's tab and as its heading.
    pub title: String,
    /// Who is looking; `None` on the pages for someone not signed in.
    pub me: Option<Me>,
    /// What the last action did, shown at the top (see [`Frame::with_notice`]).
    pub notice: Option<&'static str>,
}

impl Frame {
    /// A frame titled `title` for `me` (or nobody), without a notice.
    pub fn new(title: impl Into<String>, me: Option<Me>) -> Frame {
        Frame {
            title: title.into(),
            me,
            notice: None,
        }
    }

    /// The frame with the notice named by `done` (from the address a
    /// form sent the browser to), if it names one.
    pub fn with_notice(mut self, done: Option<&str>) -> Frame {
        self.notice = done.and_then(notice);
        self
    }

    /// The CSRF token for the page's forms ("" for nobody).
    pub fn csrf(&self) -> &str {
        self.me.as_ref().map_or("", |me| me.csrf.as_str())
    }
}

/// What a finished action says on the page it leads to. Fixed texts, so
/// that a link cannot make the console say anything else.
fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "enrolled" => "Your password is set: sign in with it.",
        "signed-out" => "You have signed out.",
        "expired" => "Your session has ended: sign in again.",
        "filed" => "Your request is filed. An approver will see it.",
        "approved" => "The request is approved and in force from its start.",
        "rejected" => "The request is rejected; the requester will see your reason.",
        "withdrawn" => "Your request is withdrawn.",
        "enabled" => "The person is enabled again.",
        "revoked" => "The exemption is revoked and no longer lifts any block.",
        "acknowledged" => "The alert is acknowledged.",
        "opened" => "The incident is opened, with its log rows held.",
        "noted" => "The action is recorded on the incident.",
        "referred" => "The referral is recorded on the incident.",
        "closed" => "The incident is closed.",
        "changed" => "The change is saved.",
        "disabled" => "The person is disabled: they can no longer sign in or act.",
        "totp" => "TOTP is set up: from now on you sign in with a code as well.",
        _ => return None,
    })
}
