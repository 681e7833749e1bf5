//! Configuration: raw TOML → a validated, compiled [`Config`].
//!
//! Validation does no network I/O, so `feedwatch check` can run offline. Nothing
//! downstream sees a `String` where a URL, duration, schedule or query belongs.
//! Every error names the file, line and column and the thing at fault, and loading
//! reports every error it finds across all files, not just the first.
//!
//! The reference for every key is `docs/configuration.md` and `config/feedwatch.toml`.

mod crosscheck;
mod daemon;
mod destination;
mod discover;
mod duration;
mod error;
mod feeds;
mod load;
mod read;
mod secret;
mod system;
mod webhook;

#[cfg(test)]
mod tests;

pub use discover::{Env, discover, discover_with};
pub use duration::{format_duration, parse_duration, parse_size};
pub(crate) use error::did_you_mean;
pub use error::{ConfigError, ConfigErrors};
pub use load::{load, load_with};

use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;
use url::Url;

use crate::rules::Query;
use crate::schedule::Schedule;

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The main config file.
    pub path: PathBuf,
    pub daemon: DaemonConfig,
    pub feeds: Vec<FeedConfig>,
    pub rules: Vec<RuleConfig>,
    pub destinations: Vec<DestinationConfig>,
    /// Problems that do not stop the daemon (a world-readable secret file, an include
    /// pattern matching nothing), each prefixed with `file:line:col:` where known.
    pub warnings: Vec<String>,
}

/// `[daemon]`
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// SQLite state file (already resolved to an absolute path).
    pub state: PathBuf,
    /// Default poll interval (`interval`, default 15m).
    pub interval: Duration,
    /// `first_poll`, default `seen`.
    pub first_poll: FirstPoll,
    /// `max_age`, default 7d; `None` when set to `"off"` or `"0"`.
    pub max_age: Option<Duration>,
    /// `concurrency`: global limit of fetches at once, default 16.
    pub concurrency: usize,
    /// `per_host`: fetches at once to one host, default 2.
    pub per_host: usize,
    /// `timeout`: deadline for one fetch including the body, default 30s.
    pub fetch_timeout: Duration,
    /// `max_body`: cap on the decoded body in bytes, default 15 MiB.
    pub max_body: u64,
    /// `user_agent`: default User-Agent.
    pub user_agent: String,
    /// `max_backoff`: cap on a failing feed's backoff, default 6h.
    pub max_backoff: Duration,
    /// `health_notify`: destinations that get "feed failing"/"recovered" notices.
    pub health_notify: Vec<String>,
    /// `[health] failures`: consecutive failures before a "feed failing" notice, default 5.
    pub health_failures: u32,
    /// `flood_limit`, default 50.
    pub flood_limit: usize,
    /// `retention`: how long seen keys absent from their feed are kept, default 90d.
    pub retention: Duration,
    /// `shutdown_grace`, default 10s.
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstPoll {
    /// A feed's first successful poll marks its items seen and sends nothing.
    Seen,
    /// A feed's first successful poll alerts on its matching items.
    Alert,
}

/// Where a feed is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSource {
    Http(Url),
    File(PathBuf),
}

/// Shows the URL without its userinfo (it may hold a password), so a feed source can be
/// put in any message or log line.
impl std::fmt::Display for FeedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedSource::Http(u) => f.write_str(&feeds::redact(u)),
            FeedSource::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// `[[feed]]`
#[derive(Debug, Clone)]
pub struct FeedConfig {
    pub name: String,
    pub source: FeedSource,
    /// Poll interval (the feed's own, else `daemon.interval`).
    pub interval: Duration,
    pub tags: Vec<String>,
    /// User-Agent for this feed (the feed's own, else the daemon's).
    pub user_agent: String,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// `stale_after`: a feed that produces nothing new for this long is reported.
    pub stale_after: Option<Duration>,
}

/// `[[rule]]`
#[derive(Debug, Clone)]
pub struct RuleConfig {
    pub name: String,
    /// The query as written.
    pub query_text: String,
    pub query: Query,
    /// The feeds this rule applies to; every feed when absent.
    pub feeds: Option<FeedScope>,
    /// Names of the destinations it notifies (default: every destination).
    pub notify: Vec<String>,
}

/// A rule's `feeds`: the feed names and `tag:` entries it lists, kept as written and
/// checked against each feed as it is matched. A tag that names thousands of feeds costs
/// one string here, not one per feed (the config's size stays that of the file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedScope {
    /// Feed names, sorted, without repeats.
    names: Vec<String>,
    /// Tags (without `tag:`), sorted, without repeats.
    tags: Vec<String>,
}

impl FeedScope {
    pub fn new(names: Vec<String>, tags: Vec<String>) -> FeedScope {
        let tidy = |mut v: Vec<String>| {
            v.sort_unstable();
            v.dedup();
            v
        };
        FeedScope {
            names: tidy(names),
            tags: tidy(tags),
        }
    }

    /// Whether the feed named `name` with these tags is in scope.
    pub fn contains(&self, name: &str, tags: &[String]) -> bool {
        self.names
            .binary_search_by(|n| n.as_str().cmp(name))
            .is_ok()
            || tags.iter().any(|t| self.tags.binary_search(t).is_ok())
    }

    /// The configured feeds in scope, in config order.
    #[cfg(test)]
    pub(crate) fn feeds<'a>(
        &'a self,
        feeds: &'a [FeedConfig],
    ) -> impl Iterator<Item = &'a FeedConfig> {
        feeds.iter().filter(|f| self.contains(&f.name, &f.tags))
    }
}

/// `[destination.NAME]`
#[derive(Debug, Clone)]
pub struct DestinationConfig {
    pub name: String,
    pub kind: DestinationKind,
    /// `digest`, default `immediate`.
    pub digest: Schedule,
    /// `timezone`, default the system's (UTC when unknown).
    pub timezone: Tz,
    /// `max_items` per digest, default 100.
    pub max_items: usize,
    /// `retry_for`, default 3 days.
    pub retry_for: Duration,
    /// `timeout`: outer deadline for one send, default 30s.
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum DestinationKind {
    Stdout,
    Email(EmailConfig),
    Webhook(WebhookConfig),
}

/// A secret read from a file or an environment variable. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    StartTls,
    Implicit,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailTransport {
    Smtp {
        host: String,
        port: u16,
        tls: TlsMode,
        username: Option<String>,
        password: Option<Secret>,
    },
    /// The local MTA; `command` defaults to `sendmail`.
    Sendmail { command: Option<PathBuf> },
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub to: Vec<lettre::message::Mailbox>,
    pub from: lettre::message::Mailbox,
    pub transport: EmailTransport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    Json,
    Slack,
    Discord,
    Ntfy,
    Telegram,
    Template,
}

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: Url,
    pub format: WebhookFormat,
    pub secret: Option<Secret>,
    /// `template` format: the minijinja template text (from `template` or `template_file`).
    pub template: Option<String>,
    /// `content_type` for the template format, default `application/json`.
    pub content_type: String,
    /// `telegram` format: `chat_id`.
    pub chat_id: Option<String>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
}
