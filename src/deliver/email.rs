//! The email destination: the digest as a multipart/alternative message (plain text and
//! HTML), sent over SMTP (lettre on rustls: STARTTLS, implicit TLS or none) or handed to
//! the local MTA through `sendmail`.
//!
//! The message is built by a pure function so it can be checked without a server. Its
//! `Message-ID` and `Date` derive from the digest alone, so every retry sends the same
//! message and receivers can drop duplicates.

use std::error::Error as _;
use std::time::SystemTime;

use chrono_tz::Tz;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailboxes, MultiPart, header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::{self, PoolConfig};
use lettre::{AsyncSendmailTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{DeliveryError, error_chain, reply_excerpt};
use crate::config::{EmailConfig, EmailTransport, TlsMode};
use crate::digest::{render_html, render_text, subject};
use crate::model::Digest;

/// The message for a digest could not be built; nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("email destination `{destination}` has no recipients: set `to`")]
    NoRecipients { destination: String },
    #[error("email destination `{destination}`: cannot build the message: {source}")]
    Build {
        destination: String,
        #[source]
        source: lettre::error::Error,
    },
}

/// Keeps only characters allowed in a Message-ID or List-Id token, so an odd digest id or
/// destination name can neither break the header nor inject one.
fn header_token(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.+=".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    if out.is_empty() { "none".into() } else { out }
}

/// `<{digest.id}@feedwatch>`, the same on every retry.
pub fn message_id(digest: &Digest) -> String {
    format!("<{}@feedwatch>", header_token(&digest.id))
}

/// Builds the message: recipients and sender from the config, the digest subject, a
/// text and an HTML part, and headers marking it as automatic (`Auto-Submitted`,
/// `List-Id: <DESTINATION.feedwatch>`). `Date` is the digest's creation time.
pub fn build_message(cfg: &EmailConfig, digest: &Digest, tz: Tz) -> Result<Message, MessageError> {
    if cfg.to.is_empty() {
        return Err(MessageError::NoRecipients {
            destination: digest.destination.clone(),
        });
    }
    let to: Mailboxes = cfg.to.iter().cloned().collect();
    let raw = |name: &'static str, value: String| {
        HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
    };
    Message::builder()
        .from(cfg.from.clone())
        .mailbox(header::To::from(to))
        // `subject` is one clean line by construction (rule names through `one_line`).
        .subject(subject(digest))
        .message_id(Some(message_id(digest)))
        .date(SystemTime::from(digest.created_at))
        .raw_header(raw("Auto-Submitted", "auto-generated".into()))
        .raw_header(raw(
            "List-Id",
            format!("<{}.feedwatch>", header_token(&digest.destination)),
        ))
        .user_agent(crate::USER_AGENT.into())
        .multipart(MultiPart::alternative_plain_html(
            render_text(digest, tz),
            render_html(digest, tz),
        ))
        .map_err(|source| MessageError::Build {
            destination: digest.destination.clone(),
            source,
        })
}

pub(crate) async fn send(cfg: &EmailConfig, digest: &Digest, tz: Tz) -> Result<(), DeliveryError> {
    let message =
        build_message(cfg, digest, tz).map_err(|e| DeliveryError::permanent(e.to_string()))?;
    match &cfg.transport {
        EmailTransport::Smtp {
            host,
            port,
            tls,
            username,
            password,
        } => {
            let tls = match tls {
                TlsMode::None => Tls::None,
                mode => {
                    let params = TlsParameters::new(host.clone()).map_err(|e| {
                        DeliveryError::transient(format!(
                            "cannot set up TLS for SMTP host {host}: {}",
                            error_chain(&e)
                        ))
                    })?;
                    if *mode == TlsMode::Implicit {
                        Tls::Wrapper(params)
                    } else {
                        Tls::Required(params)
                    }
                }
            };
            let mut builder =
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
                    .port(*port)
                    .tls(tls)
                    // No per-command timeout: the outer deadline bounds the whole attempt,
                    // and a second, racing timer would only blur the error message.
                    .timeout(None)
                    .pool_config(PoolConfig::new().min_idle(0).max_size(1));
            if let Some(user) = username {
                let pass = password
                    .as_ref()
                    .map(|p| p.expose().to_string())
                    .unwrap_or_default();
                builder = builder.credentials(Credentials::new(user.clone(), pass));
            }
            let transport = builder.build();
            transport
                .send(message)
                .await
                .map(drop)
                .map_err(|e| classify_smtp(&e, host))
        }
        EmailTransport::Sendmail { command } => {
            let transport = match command {
                Some(cmd) => AsyncSendmailTransport::<Tokio1Executor>::new_with_command(cmd),
                None => AsyncSendmailTransport::<Tokio1Executor>::new(),
            };
            let shown = command
                .as_ref()
                .map_or_else(|| "sendmail".to_string(), |c| c.display().to_string());
            transport
                .send(message)
                .await
                .map_err(|e| classify_sendmail(&e, &shown))
        }
    }
}

/// SMTP 4xx, connection and network trouble, timeouts and interrupted TLS are transient;
/// SMTP 5xx is permanent; a mismatch between our settings and what the server offers
/// (no STARTTLS, no usable AUTH mechanism) is permanent until the config changes.
pub fn classify_smtp(e: &smtp::Error, host: &str) -> DeliveryError {
    if let Some(code) = e.status() {
        let text = e.source().map(|s| s.to_string()).unwrap_or_default();
        let msg = format!("SMTP {code} {}", reply_excerpt(&text, 300));
        return if e.is_permanent() {
            DeliveryError::permanent(msg)
        } else {
            DeliveryError::transient(msg)
        };
    }
    let detail = error_chain(e);
    if e.is_client() {
        DeliveryError::permanent(format!(
            "SMTP with {host}: {detail}; check the destination's `tls` and `username` against what the server offers"
        ))
    } else if e.is_timeout() {
        DeliveryError::transient(format!("SMTP with {host} timed out: {detail}"))
    } else if e.is_tls() {
        DeliveryError::transient(format!("TLS with SMTP host {host} failed: {detail}"))
    } else {
        DeliveryError::transient(format!("SMTP with {host}: {detail}"))
    }
}

/// A `sendmail` that cannot be started is a configuration problem (permanent); one that
/// runs and exits non-zero usually means the local MTA cannot queue right now (transient).
fn classify_sendmail(e: &lettre::transport::sendmail::Error, command: &str) -> DeliveryError {
    let cannot_start = e
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            )
        });
    if cannot_start {
        DeliveryError::permanent(format!(
            "cannot run `{command}`: {}; install an MTA or set `sendmail_command`",
            error_chain(e)
        ))
    } else {
        let detail = e
            .source()
            .map(|s| s.to_string())
            .unwrap_or_else(|| e.to_string());
        DeliveryError::transient(format!(
            "`{command}` failed: {}",
            reply_excerpt(&detail, 300)
        ))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn cfg(to: &[&str]) -> EmailConfig {
        EmailConfig {
            to: to.iter().filter_map(|s| s.parse().ok()).collect(),
            from: "feedwatch <feedwatch@example.org>".parse().unwrap(),
            transport: EmailTransport::Sendmail { command: None },
        }
    }

    fn formatted(m: &Message) -> String {
        String::from_utf8_lossy(&m.formatted()).into_owned()
    }

    fn header_section(m: &Message) -> String {
        let all = formatted(m);
        all.split("\r\n\r\n").next().unwrap_or_default().to_string()
    }

    #[test]
    fn headers_are_stable_and_marked_automatic() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let d = crate::digest::sample_digest("ops-mail", now);
        let a = build_message(
            &cfg(&["analyst@example.org", "b@example.org"]),
            &d,
            chrono_tz::UTC,
        )
        .unwrap();
        let h = header_section(&a);
        for want in [
            "Message-ID: <test-20261201T120000Z@feedwatch>",
            "Auto-Submitted: auto-generated",
            "List-Id: <ops-mail.feedwatch>",
            "Date: Tue, 01 Dec 2026 12:00:00 +0000",
            "Subject: [feedwatch] 2 new: test (2), escaping (1)",
            "To: analyst@example.org, b@example.org",
            "Content-Type: multipart/alternative",
        ] {
            assert!(h.contains(want), "missing {want:?} in\n{h}");
        }
        // A retry builds the same headers (the MIME boundary is random, nothing else is).
        let b = build_message(
            &cfg(&["analyst@example.org", "b@example.org"]),
            &d,
            chrono_tz::UTC,
        )
        .unwrap();
        let strip = |s: String| {
            s.lines()
                .filter(|l| !l.contains("boundary="))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(strip(h), strip(header_section(&b)));
    }

    #[test]
    fn header_tokens_cannot_inject() {
        let cases = [
            ("01J\r\nBcc: x@y", "01J--Bcc--x-y"),
            ("ok-id_1.2", "ok-id_1.2"),
            ("", "none"),
            ("<a>", "-a-"),
        ];
        for (input, want) in cases {
            assert_eq!(header_token(input), want, "{input:?}");
        }
    }

    #[test]
    fn no_recipients_is_an_error_naming_the_destination() {
        let d = crate::digest::sample_digest("ops-mail", Utc::now());
        let err = build_message(&cfg(&[]), &d, chrono_tz::UTC).unwrap_err();
        assert_eq!(
            err.to_string(),
            "email destination `ops-mail` has no recipients: set `to`"
        );
    }
}
