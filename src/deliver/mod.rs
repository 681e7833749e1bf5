//! Delivery: sending one committed digest to one destination (stdout, email, webhook)
//! and classifying a failure as transient (retry later) or permanent (give up).
//!
//! Retry loops, the outbox and schedules live elsewhere and call [`Deliverer::deliver`]
//! once per attempt. Every attempt runs under the destination's `timeout` as an outer
//! deadline, so a server that accepts a connection and never answers cannot stall it.
//! Error messages carry the server's reply text but never a secret or a URL (a webhook
//! URL may embed a token, as Telegram's does).

pub mod email;
pub mod stdout;
pub mod webhook;

use std::time::Duration;

use crate::config::{DestinationConfig, DestinationKind};
use crate::model::Digest;

pub use stdout::render_stdout;
pub use webhook::parse_retry_after;

/// Longest `Retry-After` honoured; a server asking for more is retried after this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Whether retrying can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Try again later; `retry_after` is the server's own wish (clamped to 24 h), if any.
    Transient { retry_after: Option<Duration> },
    /// Retrying the same digest cannot succeed: record it as failed.
    Permanent,
}

/// Why one delivery attempt failed. `message` is what the user sees in the outbox: the
/// server's reply (SMTP code and text, HTTP status and the start of the body) or the
/// local cause, and what to check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    pub kind: ErrorKind,
    pub message: String,
}

impl DeliveryError {
    pub fn transient(message: impl Into<String>) -> DeliveryError {
        DeliveryError::transient_after(message, None)
    }

    pub fn transient_after(
        message: impl Into<String>,
        retry_after: Option<Duration>,
    ) -> DeliveryError {
        DeliveryError {
            kind: ErrorKind::Transient {
                retry_after: retry_after.map(|d| d.min(MAX_RETRY_AFTER)),
            },
            message: message.into(),
        }
    }

    pub fn permanent(message: impl Into<String>) -> DeliveryError {
        DeliveryError {
            kind: ErrorKind::Permanent,
            message: message.into(),
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Transient { .. })
    }

    /// The server's requested delay before the next attempt, if it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.kind {
            ErrorKind::Transient { retry_after } => retry_after,
            ErrorKind::Permanent => None,
        }
    }
}

/// The HTTP client for webhook deliveries could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the HTTP client for webhook deliveries (TLS setup failed?): {0}")]
pub struct ClientError(#[source] reqwest::Error);

/// Sends digests. Holds one HTTP client (rustls with ring, connection pooling) shared by
/// every webhook destination; SMTP connections are opened per attempt.
#[derive(Debug, Clone)]
pub struct Deliverer {
    http: reqwest::Client,
}

/// Connecting must not eat the whole outer deadline silently; the deadline still rules.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

impl Deliverer {
    /// Builds the shared HTTP client. Installs the ring crypto provider first (harmless if
    /// it already is). Redirects are not followed: a POST that is redirected would be
    /// replayed to an address the user never configured.
    pub fn new() -> Result<Deliverer, ClientError> {
        crate::init_crypto();
        let http = reqwest::Client::builder()
            .user_agent(crate::USER_AGENT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ClientError)?;
        Ok(Deliverer { http })
    }

    /// Uses a caller-built client (for example one trusting a private CA).
    pub fn with_client(http: reqwest::Client) -> Deliverer {
        Deliverer { http }
    }

    /// Sends `digest` to `dest` once. `Ok` means the destination accepted it (SMTP 250
    /// after DATA, HTTP 2xx, stdout written). The whole attempt, connection included, is
    /// bounded by `dest.timeout`.
    pub async fn deliver(
        &self,
        dest: &DestinationConfig,
        digest: &Digest,
    ) -> Result<(), DeliveryError> {
        let tz = dest.timezone;
        let attempt = async {
            match &dest.kind {
                DestinationKind::Stdout => stdout::deliver(digest, tz).await,
                DestinationKind::Email(cfg) => email::send(cfg, digest, tz).await,
                DestinationKind::Webhook(cfg) => webhook::send(&self.http, cfg, digest, tz).await,
            }
        };
        match tokio::time::timeout(dest.timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::transient(format!(
                "no complete reply within {} (the destination's `timeout`); the server accepted \
                 the connection but stalled, or is too slow",
                fmt_duration(dest.timeout)
            ))),
        }
    }
}

/// `30s`, `1.5s`, `250ms`: for messages.
pub(crate) fn fmt_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Server reply text fit for a message: one line, at most `max` characters.
pub(crate) fn reply_excerpt(text: &str, max: usize) -> String {
    crate::digest::truncate_chars(&crate::digest::one_line(text), max)
}

/// The chain of `source()` messages, for local causes (connection refused, TLS alerts).
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_clamped() {
        let e = DeliveryError::transient_after("x", Some(Duration::from_secs(10 * 24 * 3600)));
        assert_eq!(e.retry_after(), Some(MAX_RETRY_AFTER));
        assert!(e.is_transient());
        assert_eq!(DeliveryError::permanent("x").retry_after(), None);
        assert!(!DeliveryError::permanent("x").is_transient());
    }

    #[test]
    fn durations_for_messages() {
        assert_eq!(fmt_duration(Duration::from_secs(30)), "30s");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn excerpt_is_one_bounded_line() {
        assert_eq!(reply_excerpt("a\r\nb", 10), "a b");
        assert_eq!(reply_excerpt(&"x".repeat(300), 200).chars().count(), 200);
    }
}
