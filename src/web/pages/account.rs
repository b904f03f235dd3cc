//! The viewer's own account: their name and roles, and setting up TOTP
//! (the secret shown once, as a QR code an authenticator app reads and as
//! text to type).

use std::fmt::Write as _;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use qrcodegen::{QrCode, QrCodeEcc};

use super::Done;
use super::error::{PageError, render};
use super::frame::Frame;
use super::signed_in::{Posted, SignedIn};
use crate::policy::Role;
use crate::service::Service;

#[derive(Template)]
#[template(path = "console/account.html")]
struct AccountPage {
    frame: Frame,
    roles: String,
    totp: bool,
    totp_required: bool,
}

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

#[derive(Template)]
#[template(path = "console/totp.html")]
struct TotpPage {
    frame: Frame,
    secret: String,
    url: String,
    qr: String,
}

pub(super) async fn set_up_totp(
    State(service): State<Arc<Service>>,
    Posted { who, .. }: Posted<super::Nothing>,
) -> Result<Response, PageError> {
    let actor = who.actor(&Role::ALL);
    let setup = service.set_up_totp(&actor, &who.caller.person.name).await?;
    Ok(render(&TotpPage {
        frame: who.frame("Your authenticator app"),
        qr: qr_svg(&setup.url),
        secret: setup.secret,
        url: setup.url,
    }))
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
