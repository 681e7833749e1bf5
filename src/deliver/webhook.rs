//! The webhook destination: one POST per digest, in the configured format (the
//! versioned JSON schema of docs/webhooks.md, Slack, Discord, ntfy, Telegram or a
//! minijinja template), with Standard Webhooks headers (`webhook-id`, and with a secret
//! `webhook-timestamp` and `webhook-signature`), and the reply classified for retries.

mod formats;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT};
use serde::Serialize;
use sha2::Sha256;

pub use formats::{discord, ntfy, slack, telegram, telegram_text, template};

use super::{DeliveryError, MAX_RETRY_AFTER, error_chain, reply_excerpt};
use crate::config::{Secret, WebhookConfig, WebhookFormat};
use crate::model::{Digest, DigestItem};

/// The `format = "json"` body, version 1. Field order and names are the documented
/// schema; `items[]` elements are [`DigestItem`]s as stored with the digest.
#[derive(Debug, Clone, Serialize)]
pub struct Payload<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub version: u32,
    pub id: &'a str,
    pub destination: &'a str,
    pub created_at: String,
    pub items: &'a [DigestItem],
}

impl<'a> Payload<'a> {
    pub fn new(digest: &'a Digest) -> Payload<'a> {
        Payload {
            kind: "feedwatch.digest",
            version: 1,
            id: &digest.id,
            destination: &digest.destination,
            created_at: digest
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            items: &digest.items,
        }
    }
}

/// A request ready to POST: body and headers (content type and signature included).
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    pub body: Vec<u8>,
    pub headers: HeaderMap,
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`. The key is the
/// base64-decoded part after `whsec_` when the secret has that prefix (the Standard
/// Webhooks convention), else the secret's raw bytes.
pub fn signature(
    secret: &Secret,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, DeliveryError> {
    let raw = secret.expose();
    let key = match raw.strip_prefix("whsec_") {
        Some(b64) => BASE64.decode(b64.trim()).map_err(|_| {
            DeliveryError::permanent(
                "the webhook secret starts with `whsec_` but the rest is not valid base64; \
                 fix the secret or drop the prefix to use it as raw bytes",
            )
        })?,
        None => raw.as_bytes().to_vec(),
    };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).map_err(|_| {
        DeliveryError::permanent("the webhook secret cannot be used as an HMAC key")
    })?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())))
}

fn header_value(name: &str, value: &str) -> Result<HeaderValue, DeliveryError> {
    HeaderValue::from_str(value).map_err(|_| {
        // The value is not shown: extra headers often carry tokens.
        DeliveryError::permanent(format!(
            "webhook header `{name}` has a value that is not valid in HTTP"
        ))
    })
}

/// RFC 2047 encoded-word for non-ASCII header text (ntfy decodes it).
fn rfc2047(s: &str) -> String {
    if s.is_ascii() {
        s.to_string()
    } else {
        format!("=?UTF-8?B?{}?=", BASE64.encode(s.as_bytes()))
    }
}

/// Builds the body and headers for `digest`, signed with `now` as the timestamp.
/// Configuration faults (a template that does not render, a missing `chat_id`, an
/// invalid extra header) are permanent errors.
pub fn build_request(
    cfg: &WebhookConfig,
    digest: &Digest,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<WebhookRequest, DeliveryError> {
    let mut headers = HeaderMap::new();
    for (name, value) in &cfg.headers {
        let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            DeliveryError::permanent(format!(
                "webhook header name `{name}` is not a valid HTTP header name"
            ))
        })?;
        headers.insert(n, header_value(name, value)?);
    }
    let json = |v: &serde_json::Value| {
        serde_json::to_vec(v)
            .map_err(|e| DeliveryError::permanent(format!("cannot encode the webhook body: {e}")))
    };
    let (body, content_type) = match cfg.format {
        WebhookFormat::Json => {
            let body = serde_json::to_vec(&Payload::new(digest)).map_err(|e| {
                DeliveryError::permanent(format!("cannot encode the webhook body: {e}"))
            })?;
            (body, "application/json".to_string())
        }
        WebhookFormat::Slack => (json(&slack(digest, tz))?, "application/json".into()),
        WebhookFormat::Discord => (json(&discord(digest, tz))?, "application/json".into()),
        WebhookFormat::Telegram => {
            let chat_id = cfg
                .chat_id
                .as_deref()
                .filter(|c| !c.trim().is_empty())
                .ok_or_else(|| {
                    DeliveryError::permanent(
                        "the telegram format needs `chat_id` (the chat or channel to post to)",
                    )
                })?;
            (
                json(&telegram(digest, tz, chat_id))?,
                "application/json".into(),
            )
        }
        WebhookFormat::Ntfy => {
            let msg = ntfy(digest, tz);
            headers.insert("title", header_value("Title", &rfc2047(&msg.title))?);
            if let Some(click) = &msg.click {
                headers.insert("click", header_value("Click", click)?);
            }
            headers.insert("markdown", HeaderValue::from_static("yes"));
            (msg.body.into_bytes(), "text/plain; charset=utf-8".into())
        }
        WebhookFormat::Template => {
            let source = cfg.template.as_deref().ok_or_else(|| {
                DeliveryError::permanent("the template format needs `template` or `template_file`")
            })?;
            let body = template(source, &cfg.content_type, digest, tz).map_err(|e| {
                DeliveryError::permanent(format!("the webhook template does not render: {e}"))
            })?;
            (body.into_bytes(), cfg.content_type.clone())
        }
    };
    headers.insert(CONTENT_TYPE, header_value("Content-Type", &content_type)?);
    headers.insert(USER_AGENT, HeaderValue::from_static(crate::USER_AGENT));
    headers.insert("webhook-id", header_value("webhook-id", &digest.id)?);
    if let Some(secret) = &cfg.secret {
        let ts = now.timestamp();
        headers.insert("webhook-timestamp", HeaderValue::from(ts));
        headers.insert(
            "webhook-signature",
            header_value(
                "webhook-signature",
                &signature(secret, &digest.id, ts, &body)?,
            )?,
        );
    }
    Ok(WebhookRequest { body, headers })
}

/// How much of an error reply is read: enough for the message, bounded for memory.
const ERROR_BODY_BYTES: usize = 8 * 1024;
/// How much of the reply body goes into the error message.
const ERROR_BODY_CHARS: usize = 200;

pub(crate) async fn send(
    http: &reqwest::Client,
    cfg: &WebhookConfig,
    digest: &Digest,
    tz: Tz,
) -> Result<(), DeliveryError> {
    let req = build_request(cfg, digest, tz, Utc::now())?;
    let host = cfg.url.host_str().unwrap_or("the webhook host").to_string();
    let mut resp = http
        .post(cfg.url.clone())
        .headers(req.headers)
        .body(req.body)
        .send()
        .await
        .map_err(|e| classify_transport(e, &host))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let header_wait = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, Utc::now()));
    let mut body = Vec::new();
    // A reply body that breaks off is still worth its first bytes.
    while body.len() < ERROR_BODY_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    Err(classify_status(
        status.as_u16(),
        status.canonical_reason(),
        header_wait,
        &String::from_utf8_lossy(&body),
    ))
}

fn classify_transport(e: reqwest::Error, host: &str) -> DeliveryError {
    let e = e.without_url();
    let detail = error_chain(&e);
    if e.is_builder() {
        DeliveryError::permanent(format!("cannot build the request to {host}: {detail}"))
    } else if e.is_timeout() {
        DeliveryError::transient(format!("POST to {host} timed out: {detail}"))
    } else if e.is_connect() {
        DeliveryError::transient(format!("cannot connect to {host}: {detail}"))
    } else {
        DeliveryError::transient(format!("POST to {host} failed: {detail}"))
    }
}

/// Classifies a non-2xx reply: 408, 429 and 5xx are transient (honouring `Retry-After`,
/// or for 429 a `retry_after` in a JSON body as Discord and Telegram send it); 3xx is
/// permanent because redirects are not followed; every other 4xx (410 included) is
/// permanent. The message is the status and the start of the body.
pub fn classify_status(
    status: u16,
    reason: Option<&str>,
    retry_after: Option<Duration>,
    body: &str,
) -> DeliveryError {
    let mut message = format!("HTTP {status}");
    if let Some(r) = reason {
        message.push(' ');
        message.push_str(r);
    }
    let excerpt = reply_excerpt(body, ERROR_BODY_CHARS);
    if !excerpt.is_empty() {
        message.push_str(": ");
        message.push_str(&excerpt);
    }
    match status {
        408 | 429 | 500..=599 => {
            let wait = retry_after.or_else(|| {
                if status == 429 {
                    body_retry_after(body)
                } else {
                    None
                }
            });
            DeliveryError::transient_after(message, wait)
        }
        300..=399 => DeliveryError::permanent(format!(
            "{message} (redirects are not followed: set `url` to the final address)"
        )),
        400..=499 => DeliveryError::permanent(message),
        _ => DeliveryError::transient(message),
    }
}

/// `{"retry_after": 1.5}` (Discord) or `{"parameters": {"retry_after": 7}}` (Telegram).
fn body_retry_after(body: &str) -> Option<Duration> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let secs = v
        .get("retry_after")
        .or_else(|| v.get("parameters")?.get("retry_after"))?
        .as_f64()?;
    (secs.is_finite() && secs >= 0.0)
        .then(|| Duration::from_secs_f64(secs.min(MAX_RETRY_AFTER.as_secs_f64())))
}

/// Parses `Retry-After`: delay-seconds, or an HTTP-date (IMF-fixdate, RFC 850 or asctime)
/// taken relative to `now` (a date in the past means "now"). Clamped to 24 hours.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Overlong digit strings are still "a very long time".
        let secs = v.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let when = DateTime::parse_from_rfc2822(v)
        .map(|d| d.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(v, "%A, %d-%b-%y %H:%M:%S GMT").map(|n| n.and_utc())
        })
        .or_else(|_| NaiveDateTime::parse_from_str(v, "%a %b %e %H:%M:%S %Y").map(|n| n.and_utc()))
        .ok()?;
    let wait = (when - now).to_std().unwrap_or(Duration::ZERO);
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests;
