//! Fetching feed documents: HTTP(S) with conditional GET, and local files.
//!
//! The fetcher owns the transport rules: one shared client (rustls with ring, gzip, brotli
//! and deflate, at most 5 redirects), a connect timeout, a total deadline for the whole
//! request including the body, and a cap on the *decoded* body enforced while streaming, so
//! a gzip bomb or an endless chunked body stops at the cap. It hands on raw bytes plus what
//! the caching and scheduling layers need (validators and server hints); it never parses.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::config::FeedSource;

/// What one fetch asks for.
#[derive(Debug, Clone, Copy)]
pub struct FetchRequest<'a> {
    pub source: &'a FeedSource,
    /// `ETag` from the last 200, sent back verbatim as `If-None-Match`.
    pub etag: Option<&'a str>,
    /// `Last-Modified` from the last 200, sent back verbatim as `If-Modified-Since`.
    pub last_modified: Option<&'a str>,
    pub user_agent: &'a str,
    pub headers: &'a [(String, String)],
}

impl<'a> FetchRequest<'a> {
    /// An unconditional request with the default User-Agent (the one-shot commands).
    pub fn plain(source: &'a FeedSource) -> FetchRequest<'a> {
        FetchRequest {
            source,
            etag: None,
            last_modified: None,
            user_agent: crate::USER_AGENT,
            headers: &[],
        }
    }
}

/// Hints a server gives about when to ask again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerHints {
    /// `Cache-Control: max-age`.
    pub max_age: Option<Duration>,
    /// `Expires`, as a time.
    pub expires: Option<DateTime<Utc>>,
    /// `Retry-After` on 429/503 (clamped to 24 h).
    pub retry_after: Option<Duration>,
}

/// A document that changed (HTTP 200 or a local file).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub body: Vec<u8>,
    /// `charset` of the `Content-Type` header, if any.
    pub charset: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// HTTP status (200 for files).
    pub status: u16,
    /// The URL after redirects, used to resolve relative links.
    pub final_url: Option<String>,
    pub hints: ServerHints,
}

#[derive(Debug, Clone)]
pub enum FetchOutcome {
    Modified(Fetched),
    /// 304: nothing to parse, nothing to change.
    NotModified {
        hints: ServerHints,
    },
}

/// Why a fetch failed. Messages say what happened and, where it helps, what to do.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum FetchError {
    #[error(
        "no answer within {0:?} (the whole request, body included); the server is slow or stalled"
    )]
    Timeout(Duration),
    #[error(
        "the body is larger than {limit} bytes once decoded; raise `max_body` if this feed is really that big"
    )]
    TooLarge { limit: u64 },
    #[error("HTTP {status}{}{}", reason.as_deref().map(|r| format!(" {r}")).unwrap_or_default(), hint.as_deref().map(|h| format!(": {h}")).unwrap_or_default())]
    Status {
        status: u16,
        reason: Option<String>,
        retry_after: Option<Duration>,
        hint: Option<String>,
    },
    #[error("more than 5 redirects (a redirect loop?); point `url` at the final address")]
    TooManyRedirects,
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("cannot read the body: {0}")]
    Body(String),
    #[error("cannot read file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("bad request: {0}")]
    Request(String),
}

impl FetchError {
    /// The server's `Retry-After`, if it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status, if the server answered.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Transport settings shared by every fetch.
#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    /// Total deadline for one request, body included.
    pub timeout: Duration,
    /// Cap on the decoded body.
    pub max_body: u64,
}

/// One HTTP client for all feeds (connection pooling, one TLS config).
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    limits: FetchLimits,
}

/// The longest `Retry-After` honoured; absurd values are clamped to it.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

impl Fetcher {
    pub fn new(limits: FetchLimits) -> Result<Fetcher, FetchError> {
        crate::init_crypto();
        let client = reqwest::Client::builder()
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .redirect(reqwest::redirect::Policy::limited(5))
            .connect_timeout(limits.timeout.min(Duration::from_secs(10)))
            .timeout(limits.timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| FetchError::Request(e.to_string()))?;
        Ok(Fetcher { client, limits })
    }

    /// Fetches one feed. Never panics; every failure is a [`FetchError`].
    pub async fn fetch(&self, req: FetchRequest<'_>) -> Result<FetchOutcome, FetchError> {
        match req.source {
            FeedSource::File(path) => read_file(path, self.limits.max_body).await,
            FeedSource::Http(url) => {
                let deadline = self.limits.timeout;
                match tokio::time::timeout(deadline, self.fetch_http(url.as_str(), req)).await {
                    Ok(r) => r,
                    Err(_) => Err(FetchError::Timeout(deadline)),
                }
            }
        }
    }

    async fn fetch_http(
        &self,
        url: &str,
        req: FetchRequest<'_>,
    ) -> Result<FetchOutcome, FetchError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
            ),
        );
        let ua = HeaderValue::from_str(req.user_agent)
            .map_err(|_| FetchError::Request("user_agent is not a valid header value".into()))?;
        headers.insert(header::USER_AGENT, ua);
        for (name, value) in req.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| FetchError::Request(format!("header name `{name}` is invalid")))?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                FetchError::Request(format!("header `{name}` has an invalid value"))
            })?;
            headers.insert(name, value);
        }
        if let Some(etag) = req.etag.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = req
            .last_modified
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::IF_MODIFIED_SINCE, lm);
        }

        let mut resp = self
            .client
            .get(url)
            .headers(headers)
            .send()
            .await
            .map_err(|e| classify(&e, self.limits.timeout))?;
        let status = resp.status();
        let hints = server_hints(resp.headers(), Utc::now());
        if status == StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified { hints });
        }
        if !status.is_success() {
            // A little of the body helps explain 403s from bot protection.
            let snippet = read_capped(&mut resp, 4096).await.unwrap_or_default();
            return Err(FetchError::Status {
                status: status.as_u16(),
                reason: status.canonical_reason().map(str::to_string),
                retry_after: hints.retry_after,
                hint: status_hint(status.as_u16(), &snippet),
            });
        }
        let header_str = |h: header::HeaderName| {
            resp.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = header_str(header::ETAG);
        let last_modified = header_str(header::LAST_MODIFIED);
        let charset = header_str(header::CONTENT_TYPE).and_then(|ct| charset_of(&ct));
        let final_url = Some(resp.url().to_string());
        let body = read_body(&mut resp, self.limits.max_body, self.limits.timeout).await?;
        Ok(FetchOutcome::Modified(Fetched {
            body,
            charset,
            etag,
            last_modified,
            status: status.as_u16(),
            final_url,
            hints,
        }))
    }
}

/// Reads the body chunk by chunk (already decompressed by the client), stopping at `limit`.
async fn read_body(
    resp: &mut reqwest::Response,
    limit: u64,
    timeout: Duration,
) -> Result<Vec<u8>, FetchError> {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() as u64 + chunk.len() as u64 > limit {
                    return Err(FetchError::TooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => return Err(FetchError::Timeout(timeout)),
            Err(e) => return Err(FetchError::Body(error_chain(&e))),
        }
    }
}

async fn read_capped(resp: &mut reqwest::Response, limit: usize) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while body.len() < limit {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())])
            }
            _ => break,
        }
    }
    Some(body)
}

async fn read_file(path: &Path, limit: u64) -> Result<FetchOutcome, FetchError> {
    let file_err = |e: std::io::Error| FetchError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let meta = tokio::fs::metadata(path).await.map_err(file_err)?;
    if meta.len() > limit {
        return Err(FetchError::TooLarge { limit });
    }
    let body = tokio::fs::read(path).await.map_err(file_err)?;
    Ok(FetchOutcome::Modified(Fetched {
        body,
        charset: None,
        etag: None,
        last_modified: None,
        status: 200,
        final_url: url::Url::from_file_path(path).ok().map(|u| u.to_string()),
        hints: ServerHints::default(),
    }))
}

fn classify(e: &reqwest::Error, timeout: Duration) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout(timeout)
    } else if e.is_redirect() {
        FetchError::TooManyRedirects
    } else if e.is_connect() {
        FetchError::Connect(error_chain(e))
    } else if e.is_builder() {
        FetchError::Request(error_chain(e))
    } else {
        FetchError::Body(error_chain(e))
    }
}

/// The error with its causes, without the URL (which may carry userinfo).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let mut msg = err.to_string();
        // reqwest prefixes messages with "... for url (http://...)": keep the URL out.
        if let Some(i) = msg.find(" for url (") {
            msg.truncate(i);
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&msg);
        cur = err.source();
    }
    out
}

/// `charset` parameter of a `Content-Type` value.
pub fn charset_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|v| !v.is_empty())
    })
}

/// Caching and back-off hints from response headers.
pub fn server_hints(headers: &HeaderMap, now: DateTime<Utc>) -> ServerHints {
    let get = |h: HeaderName| headers.get(h).and_then(|v| v.to_str().ok());
    let max_age = get(header::CACHE_CONTROL).and_then(|cc| {
        cc.split(',').find_map(|d| {
            let (k, v) = d.split_once('=')?;
            (k.trim().eq_ignore_ascii_case("max-age"))
                .then(|| v.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
                .map(Duration::from_secs)
        })
    });
    let expires = get(header::EXPIRES).and_then(parse_http_date);
    let retry_after = get(header::RETRY_AFTER).and_then(|v| parse_retry_after(v, now));
    ServerHints {
        max_age,
        expires,
        retry_after,
    }
}

/// `Retry-After`: delay-seconds or an HTTP date, clamped to [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let delay = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = parse_http_date(value)?;
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// An HTTP date (IMF-fixdate; RFC 850 and asctime forms are obsolete and ignored).
pub fn parse_http_date(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(value.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Advice for statuses users can do something about.
fn status_hint(status: u16, body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    let bot_wall = [
        "just a moment",
        "cf-chl",
        "captcha",
        "cloudflare",
        "access denied",
        "bot",
    ]
    .iter()
    .any(|m| text.contains(m));
    match status {
        403 | 429 | 503 if bot_wall => Some(
            "the server's bot protection refused the request; try a per-feed `user_agent` (and check the site allows feed readers)".into(),
        ),
        401 | 403 => Some("the server refused access; check the URL, or whether the feed needs credentials in `headers`".into()),
        404 => Some("the feed is not at this URL; check it, or run `feedwatch discover` on the site's page".into()),
        410 => Some("the feed is gone for good; remove it from the config or find its new address".into()),
        429 => Some("rate limited; feedwatch waits for the server's Retry-After before asking again".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charset_parameter() {
        assert_eq!(
            charset_of("text/xml; charset=windows-1251").as_deref(),
            Some("windows-1251")
        );
        assert_eq!(
            charset_of("application/rss+xml;Charset=\"UTF-8\"").as_deref(),
            Some("UTF-8")
        );
        assert_eq!(charset_of("text/xml"), None);
        assert_eq!(charset_of("text/xml; charset="), None);
    }

    #[test]
    fn retry_after_forms() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Tue, 01 Dec 2026 10:05:00 GMT", now),
            Some(Duration::from_secs(300))
        );
        assert_eq!(parse_retry_after("99999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("Tue, 01 Dec 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn cache_hints() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=600"),
        );
        h.insert(
            header::EXPIRES,
            HeaderValue::from_static("Tue, 01 Dec 2026 11:00:00 GMT"),
        );
        let hints = server_hints(&h, Utc::now());
        assert_eq!(hints.max_age, Some(Duration::from_secs(600)));
        assert_eq!(
            hints.expires.map(|e| e.to_rfc3339()).as_deref(),
            Some("2026-12-01T11:00:00+00:00")
        );
    }

    #[test]
    fn bot_protection_hint() {
        let hint = status_hint(403, b"<title>Just a moment...</title>").unwrap();
        assert!(hint.contains("user_agent"), "{hint}");
        assert!(status_hint(500, b"").is_none());
    }
}
