//! Each admin request to its `service` operation, in the name of the
//! peer's account, and the typed result back as JSON.

use serde::Serialize;

use super::protocol::{AdminRequest, AdminResponse};
use crate::service::{Actor, Service, ServiceError};

/// Answers one request (a search, answered over several lines, is the
/// server's own business).
pub(super) async fn answer(
    request: AdminRequest,
    actor: &Actor,
    service: &Service,
) -> AdminResponse {
    use AdminRequest as R;
    match request {
        R::LogSearch { .. } => AdminResponse::failure("a search is answered over several lines"),
        R::Status => respond(Ok(service.status().await)),
        R::DnssecCheck { name } => respond(service.check_dnssec(&name).await),
        R::Reload { cause } => {
            let cause = cause.as_deref().unwrap_or("hedge reload");
            respond(service.reload(actor, cause).await)
        }
        R::LogPurge { dry_run } => respond(service.purge_log(actor, dry_run).await),
        R::LogAccess { since_ms, limit } => respond(service.log_access(since_ms, limit).await),
        R::HoldAdd { hold } => respond(service.place_hold(actor, &hold).await),
        R::HoldList { all } => respond(service.holds(all).await),
        R::HoldRelease { id, by, reason } => respond(
            service
                .release_hold(actor, id, by.as_deref(), &reason)
                .await,
        ),
        R::AuditList { since_ms, limit } => respond(service.audit_rows(since_ms, limit).await),
        R::AuditVerify => respond(service.verify_audit().await),
        R::ExemptRequest { request } => respond(service.file_exemption(actor, &request).await),
        R::ExemptAdd { request, by } => respond(
            service
                .file_and_approve_exemption(actor, &request, by.as_deref())
                .await,
        ),
        R::ExemptApprove { id, by } => {
            respond(service.approve_exemption(actor, id, by.as_deref()).await)
        }
        R::ExemptReject { id, by, reason } => respond(
            service
                .reject_exemption(actor, id, by.as_deref(), &reason)
                .await,
        ),
        R::ExemptRevoke { id, by, reason } => respond(
            service
                .revoke_exemption(actor, id, by.as_deref(), &reason)
                .await,
        ),
        R::ExemptList { selection } => respond(service.exemptions(selection).await),
        R::ExemptShow { id } => respond(service.exemption(id).await),
        R::DeviceList => respond(service.devices().await),
        R::AlertList { selection } => respond(service.alerts(&selection).await),
        R::AlertShow { id } => respond(service.alert(id).await),
        R::AlertAck { id, by, note } => respond(
            service
                .acknowledge_alert(actor, id, by.as_deref(), &note)
                .await,
        ),
        R::Report { request } => respond(service.report(actor, &request).await),
        R::ReportEmail {
            request,
            to,
            format,
        } => respond(
            service
                .email_report(
                    actor,
                    &request,
                    &to,
                    format,
                    &tokio_util::sync::CancellationToken::new(),
                )
                .await,
        ),
        R::IncidentOpen { request } => respond(service.open_incident(actor, request).await),
        R::IncidentNote { id, by, text } => {
            respond(service.note_incident(actor, id, by.as_deref(), &text).await)
        }
        R::IncidentRefer {
            id,
            agency,
            by,
            referred_ms,
            text,
        } => respond(
            service
                .refer_incident(actor, id, agency, by.as_deref(), referred_ms, &text)
                .await,
        ),
        R::IncidentClose {
            id,
            by,
            conclusion,
            release_hold,
        } => respond(
            service
                .close_incident(actor, id, by.as_deref(), &conclusion, release_hold)
                .await,
        ),
        R::IncidentList { open_only } => respond(service.incidents(open_only).await),
        R::IncidentShow { id } => respond(service.show_incident(actor, id).await),
        R::PeopleAdd {
            name,
            roles,
            os_user,
        } => respond(
            service
                .add_person(actor, &name, &roles, os_user.as_deref())
                .await,
        ),
        R::PeopleList => respond(service.people(actor).await),
        R::PeopleDisable { name } => respond(service.disable_person(actor, &name).await),
        R::PeopleEnable { name } => respond(service.enable_person(actor, &name).await),
        R::PeopleReset { name } => respond(service.reset_person(actor, &name).await),
        R::PeopleRoles { name, roles } => {
            respond(service.set_person_roles(actor, &name, &roles).await)
        }
        R::PeopleMap { name, os_user } => {
            respond(service.map_person(actor, &name, os_user.as_deref()).await)
        }
        R::PeopleEnrol { code, password } => respond(service.enrol(actor, &code, &password).await),
        R::PeopleTotp { name } => respond(service.set_up_totp(actor, &name).await),
        R::PeopleCheck {
            name,
            password,
            totp,
        } => respond(
            service
                .authenticate(actor, &name, &password, totp.as_deref())
                .await,
        ),
    }
}

fn respond<T: Serialize>(result: Result<T, ServiceError>) -> AdminResponse {
    match result.map(serde_json::to_value) {
        Ok(Ok(value)) => AdminResponse::success(value),
        Ok(Err(error)) => AdminResponse::failure(error.to_string()),
        Err(error) => AdminResponse::failure(error.to_string()),
    }
}
