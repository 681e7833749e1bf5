//! feedwatch: a feed-monitoring alert daemon.
//!
//! # Layout
//!
//! Data flows one way, from the scheduler to the notifier. Each stage is one module and
//! shares only the plain types of [`model`] with the others:
//!
//! - [`config`]: raw TOML → a validated [`config::Config`] (durations, URLs, compiled queries).
//! - [`schedule`]: digest schedules (`immediate`, `daily 08:00`, `cron …`) and their next due time.
//! - [`fetch`]: HTTP(S) and file fetching with conditional GET, deadlines and body caps.
//! - [`parse`]: bytes → encoding decision → feed-rs → normalised [`model::Item`]s.
//! - [`identity`]: never-random item keys and link normalisation.
//! - [`html`]: HTML to plain text (tags, block boundaries, entities).
//! - [`text`]: the text model: case and diacritic folding, `ё` → `е`, words and positions.
//! - [`rules`]: the watch-rule language (parser, canonical printer) and the one-pass matcher.
//! - [`store`]: the SQLite state: seen items, feed state, the outbox of matches and digests.
//! - [`digest`]: grouping pending matches into digests and rendering them.
//! - [`deliver`]: sending digests to destinations (stdout, email, webhook).
//! - [`pipeline`]: wires the stages: one poll of one feed, and the delivery of due digests.
//! - [`pacing`]: when a feed is polled next (server hints, back-off) and delivery retries.
//! - [`health`]: "feed failing", "recovered", "stale" and "flooding" notices, once each.
//! - [`daemon`]: the service: poll and delivery clocks, reload, shutdown, systemd notify.
//! - [`discover`]: `[[feed]]` tables from OPML exports and from HTML pages' feed links.
//! - [`commands`] and [`logging`]: the command-line commands and log set-up.

pub mod commands;
pub mod config;
pub mod daemon;
pub mod deliver;
pub mod digest;
pub mod discover;
pub mod fetch;
pub mod health;
pub mod html;
pub mod identity;
pub mod logging;
pub mod model;
pub mod pacing;
pub mod parse;
pub mod pipeline;
pub mod rules;
pub mod schedule;
pub mod store;
pub mod text;

/// Installs ring as the process-wide rustls crypto provider. Call before building any
/// HTTP or SMTP client; calling it twice is harmless.
pub fn init_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The User-Agent sent by default: honest, with the version and the project URL.
pub const USER_AGENT: &str = concat!(
    "feedwatch/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/feedwatch/feedwatch)"
);
