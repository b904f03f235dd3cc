//! The viewer's own account: their name and roles, and setting up TOTP
//! (the secret shown once, as a QR code an authenticator app reads and as
//! text to type).

use std::fmt::Write as _;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use qrcodegen::{QrCode, QrCodeEcc};
use serde::Deserialize;

use super::Done;
use super::error::{PageError, render, see_other};
use super::frame::Frame;
use super::signed_in::{Posted, SignedIn};
use crate::policy::Role;
use crate::service::{Service, TotpOffer};

/// The viewer's account: their roles, and whether they have TOTP (and must).
#[derive(Template)]
#[template(path = "console/account.html")]
struct AccountPage {
    frame: Frame,
    roles: String,
    totp: bool,
    totp_required: bool,
}

/// GET /account: the viewer's name, roles and whether they have TOTP; without it, a
/// button to set it up, saying so when the server requires it of their roles.
pub(super) async fn page(
    State(service): State<Arc<Service>>,
    who: SignedIn,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let person = &who.caller.person;
    let required = service.handler.config().web.require_totp
        && (person.has(Role::Approver) || person.has(Role::Safeguarding));
    let roles: Vec<&str> = person.roles.iter().map(|role| role.as_str()).collect();
    Ok(render(&AccountPage {
        frame: who.frame("Your account").with_notice(done.done.as_deref()),
        roles: roles.join(", "),
        totp: person.totp,
        totp_required: required,
    }))
}

/// A TOTP secret on offer: the QR code and the secret to type, once, and
/// the form that sends back the first code from the app to `action`
/// (`/account/totp/confirm` signed in, `/sign-in/totp` at sign-in).
#[derive(Template)]
#[template(path = "console/totp.html")]
pub(super) struct TotpPage {
    frame: Frame,
    secret: String,
    url: String,
    qr: String,
    token: String,
    action: &'static str,
    /// The CSRF token of the form: the session's, or at sign-in the form
    /// token.
    csrf: String,
}

impl TotpPage {
    /// The page offering `offer`, its form sent to `action`.
    pub(super) fn offered(
        frame: Frame,
        offer: TotpOffer,
        action: &'static str,
        csrf: String,
    ) -> TotpPage {
        TotpPage {
            csrf,
            frame,
            qr: qr_svg(&offer.setup.url),
            secret: offer.setup.secret,
            url: offer.setup.url,
            token: offer.token,
            action,
        }
    }
}

/// POST /account/totp: a new secret on offer to the viewer.
pub(super) async fn set_up_totp(
    State(service): State<Arc<Service>>,
    Posted { who, .. }: Posted<super::Nothing>,
) -> Result<Response, PageError> {
    let offer = service.offer_totp(&who.actor(&Role::ALL)).await?;
    Ok(render(&TotpPage::offered(
        who.frame("Your authenticator app"),
        offer,
        "/account/totp/confirm",
        who.caller.csrf.clone(),
    )))
}

/// The first code from the offered secret.
#[derive(Deserialize)]
pub(super) struct FirstCode {
    #[serde(default)]
    token: String,
    #[serde(default)]
    code: String,
}

/// POST /account/totp/confirm: the secret becomes the viewer's.
pub(super) async fn confirm_totp(
    State(service): State<Arc<Service>>,
    Posted { who, form }: Posted<FirstCode>,
) -> Result<Response, PageError> {
    service
        .confirm_totp(&who.actor(&Role::ALL), &form.token, &form.code)
        .await?;
    Ok(see_other("/account?done=totp"))
}

/// `text` as a QR code in SVG, one square per dark module with a quiet
/// zone of four, or nothing if it is too long for one.
fn qr_svg(text: &str) -> String {
    let Ok(code) = QrCode::encode_text(text, QrCodeEcc::Medium) else {
        return String::new();
    };
    let border = 4;
    let side = code.size() + 2 * border;
    let mut path = String::new();
    for y in 0..code.size() {
        for x in 0..code.size() {
            if code.get_module(x, y) {
                let _ = write!(path, "M{},{}h1v1h-1z", x + border, y + border);
            }
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" role=\"img\" aria-label=\"QR code of the TOTP secret\" shape-rendering=\"crispEdges\"><rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qr_code_is_square_with_a_quiet_zone() {
        let svg = qr_svg("otpauth://totp/hedge:A?secret=JBSWY3DPEHPK3PXP&issuer=hedge");
        // 57 modules of a version-10 code or fewer, plus 8 of border.
        let side: i32 = svg
            .split("viewBox=\"0 0 ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!((29..=65).contains(&side), "{side}");
        assert!(
            svg.contains("M4,4h1v1h-1z"),
            "the finder pattern starts at the border"
        );
        assert!(qr_svg(&"x".repeat(5000)).is_empty());
    }
}
