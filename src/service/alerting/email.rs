//! Email: alerts and reports sent through the relay in `[email]` with
//! lettre (rustls), one mail per recipient, each retried with growing
//! pauses (as webhooks are) until it is delivered, refused for good or the
//! attempts run out, and recorded from queued to delivered or failed.

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncTransport, Message, Tokio1Executor};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::webhook::{Outcome, pause_before};
use crate::config::{EmailConfig, MailSecurity};
use crate::store::{MailKind, Storage};

/// One mail to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub kind: MailKind,
    pub to: String,
    pub subject: String,
    /// Plain text.
    pub body: String,
    pub attachment: Option<MailFile>,
}

/// A file attached to a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFile {
    pub name: String,
    /// Such as `text/html; charset=utf-8`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Sends `mail` through `email`'s relay, recorded in the database (when it
/// is open) from queued to delivered or failed, and logged.
pub async fn send_recorded(
    email: &EmailConfig,
    storage: &Storage,
    mail: &Mail,
    shutdown: &CancellationToken,
) -> Outcome {
    let record = match storage.get() {
        Ok(database) => match database
            .begin_mail(mail.kind, &mail.to, &mail.subject)
            .await
        {
            Ok(id) => Some(id),
            Err(error) => {
                warn!("cannot record a mail to {}: {error}", mail.to);
                None
            }
        },
        Err(_) => None,
    };
    let outcome = deliver(email, mail, shutdown).await;
    match &outcome.error {
        None => info!(
            "mail {:?} delivered to {} (attempt {})",
            mail.subject, mail.to, outcome.attempts
        ),
        Some(error) => warn!(
            "mail {:?} was not delivered to {} after {} attempt(s): {error}",
            mail.subject, mail.to, outcome.attempts
        ),
    }
    if let Some(id) = record
        && let Ok(database) = storage.get()
        && let Err(error) = database
            .finish_mail(id, outcome.attempts, outcome.error.as_deref())
            .await
    {
        warn!("cannot record how the mail to {} ended: {error}", mail.to);
    }
    outcome
}

/// Sends `mail` until the relay takes it, refuses it for good (a
/// permanent 5xx answer, not retried), the attempts run out or hedge
/// stops.
pub async fn deliver(email: &EmailConfig, mail: &Mail, shutdown: &CancellationToken) -> Outcome {
    let message = match message(email, mail) {
        Ok(message) => message,
        Err(error) => {
            return Outcome {
                attempts: 0,
                error: Some(error),
            };
        }
    };
    let mut error = None;
    for attempt in 1..=email.attempts {
        if attempt > 1 {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    return Outcome {
                        attempts: attempt - 1,
                        error: Some(format!(
                            "{}; hedge stopped before trying again",
                            error.unwrap_or_default()
                        )),
                    };
                }
                _ = tokio::time::sleep(pause_before(attempt)) => {}
            }
        }
        let sent = match transport(email) {
            Ok(transport) => transport.send(message.clone()).await.map_err(|e| {
                let permanent = e.is_permanent();
                (describe(email, &e), permanent)
            }),
            Err(e) => Err((e, true)),
        };
        match sent {
            Ok(_) => {
                return Outcome {
                    attempts: attempt,
                    error: None,
                };
            }
            Err((e, permanent)) => {
                warn!(to = %mail.to, attempt, "mail not sent: {e}");
                error = Some(e);
                if permanent {
                    return Outcome {
                        attempts: attempt,
                        error,
                    };
                }
            }
        }
    }
    Outcome {
        attempts: email.attempts,
        error,
    }
}

/// The error with its causes, naming the relay.
fn describe(email: &EmailConfig, error: &lettre::transport::smtp::Error) -> String {
    let mut text = format!("{}:{}: {error}", email.host, email.port);
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// The message for `mail` from `email.from`.
fn message(email: &EmailConfig, mail: &Mail) -> Result<Message, String> {
    let from: Mailbox = email
        .from
        .parse()
        .map_err(|e| format!("the sender {:?}: {e}", email.from))?;
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e| format!("the recipient {:?}: {e}", mail.to))?;
    let builder = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .user_agent(concat!("hedge/", env!("CARGO_PKG_VERSION")).to_string());
    let built = match &mail.attachment {
        None => builder
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone()),
        Some(file) => {
            let content_type = ContentType::parse(&file.content_type)
                .map_err(|e| format!("{:?}: {e}", file.content_type))?;
            builder.multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(mail.body.clone()))
                    .singlepart(
                        Attachment::new(file.name.clone()).body(file.bytes.clone(), content_type),
                    ),
            )
        }
    };
    built.map_err(|e| format!("cannot build the mail: {e}"))
}

/// A connection to the relay as `[email]` says: its security, the
/// certificate authorities trusted, the account signed in as.
fn transport(email: &EmailConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(email.host.as_str())
        .port(email.port)
        .timeout(Some(email.timeout))
        .hello_name(hello_name());
    if email.security != MailSecurity::None {
        let mut parameters =
            TlsParameters::builder(email.host.clone()).certificate_store(CertificateStore::Default);
        if let Some(file) = &email.tls_ca_file {
            let pem = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
            let certificate =
                Certificate::from_pem(&pem).map_err(|e| format!("{}: {e}", file.display()))?;
            parameters = parameters
                .certificate_store(CertificateStore::None)
                .add_root_certificate(certificate);
        }
        let parameters: TlsParameters = parameters
            .build_rustls()
            .map_err(|e| format!("TLS for {}: {e}", email.host))?;
        builder = builder.tls(match email.security {
            MailSecurity::Tls => Tls::Wrapper(parameters),
            _ => Tls::Required(parameters),
        });
    }
    if let (Some(user), Some(file)) = (&email.username, &email.password_file) {
        let password = std::fs::read_to_string(file)
            .map_err(|e| format!("the password file {}: {e}", file.display()))?;
        let password = password.trim_end_matches(['\n', '\r']).to_string();
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

/// What hedge calls itself to the relay: this machine's host name.
fn hello_name() -> ClientId {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        })
        .map_or_else(|| ClientId::Domain("localhost".into()), ClientId::Domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay() -> EmailConfig {
        EmailConfig {
            host: "127.0.0.1".into(),
            port: 25,
            security: MailSecurity::None,
            username: None,
            password_file: None,
            from: "hedge <hedge@school.example>".into(),
            tls_ca_file: None,
            timeout: std::time::Duration::from_secs(5),
            attempts: 1,
        }
    }

    #[test]
    fn a_report_mail_has_its_text_and_the_file_attached() {
        let mail = Mail {
            kind: MailKind::Report,
            to: "dsl@school.example".into(),
            subject: "hedge weekly report".into(),
            body: "The report is attached.\n".into(),
            attachment: Some(MailFile {
                name: "hedge-report.html".into(),
                content_type: "text/html; charset=utf-8".into(),
                bytes: b"<!doctype html><p>report</p>".to_vec(),
            }),
        };
        let text = String::from_utf8(message(&relay(), &mail).unwrap().formatted()).unwrap();
        assert!(
            text.contains("From: hedge <hedge@school.example>"),
            "{text}"
        );
        assert!(text.contains("To: dsl@school.example"), "{text}");
        assert!(text.contains("Content-Type: multipart/mixed"), "{text}");
        assert!(text.contains("The report is attached."), "{text}");
        assert!(
            text.contains("Content-Disposition: attachment; filename=\"hedge-report.html\""),
            "{text}"
        );
    }

    #[test]
    fn a_bad_recipient_is_an_error_without_an_attempt() {
        let mail = Mail {
            kind: MailKind::Alert,
            to: "not an address".into(),
            subject: "x".into(),
            body: "x".into(),
            attachment: None,
        };
        let outcome = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(deliver(&relay(), &mail, &CancellationToken::new()));
        assert_eq!(outcome.attempts, 0);
        assert!(outcome.error.unwrap().contains("the recipient"));
    }
}
