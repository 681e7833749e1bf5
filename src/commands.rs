//! The command-line commands, each returning its exit status.
//!
//! Exit statuses: 0 success; 1 `test-rule` found no match; 2 a bad config, query, source
//! or argument; 3 the state database cannot be opened or used.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;

use crate::config::{self, Config, FeedSource};
use crate::fetch::{FetchLimits, FetchOutcome, FetchRequest, Fetcher};
use crate::model::{Item, ParsedFeed};
use crate::pipeline::{Engine, StoreHandle};
use crate::rules::{Document, Query, RuleSet};
use crate::store::Store;

/// One line of command output (`println!` would panic when stdout is closed).
macro_rules! out {
    () => { $crate::commands::emit("\n") };
    ($($arg:tt)*) => { $crate::commands::emit(&format!("{}\n", format_args!($($arg)*))) };
}

/// Command output as is, without a newline added.
macro_rules! out_raw {
    ($($arg:tt)*) => { $crate::commands::emit(&format!($($arg)*)) };
}

pub const EXIT_OK: u8 = 0;
pub const EXIT_NO_MATCH: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;
pub const EXIT_STATE: u8 = 3;

/// Writes command output to stdout. When the reader has gone (`feedwatch inspect … | head`)
/// there is nobody left to tell: exit quietly with success rather than panic. Any other
/// write error (a full disk) is reported and exits with [`EXIT_BAD_INPUT`].
pub fn emit(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let Err(e) = stdout.write_all(text.as_bytes()) else {
        return;
    };
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(i32::from(EXIT_OK));
    }
    eprintln!("feedwatch: cannot write to stdout: {e}");
    std::process::exit(i32::from(EXIT_BAD_INPUT));
}

/// Finds and validates the config, printing every error.
pub fn load_config(explicit: Option<&Path>) -> Result<Config, u8> {
    let path = config::discover(explicit).map_err(|e| {
        eprintln!("{e}");
        EXIT_BAD_INPUT
    })?;
    let cfg = config::load(&path).map_err(|e| {
        eprintln!("{e}");
        eprintln!(
            "feedwatch: {} has errors; nothing was started",
            path.display()
        );
        EXIT_BAD_INPUT
    })?;
    for w in &cfg.warnings {
        eprintln!("warning: {w}");
    }
    Ok(cfg)
}

/// `feedwatch check`
pub fn check(explicit: Option<&Path>) -> u8 {
    match load_config(explicit) {
        Ok(cfg) => {
            out!(
                "{}: OK: {} feeds, {} rules, {} destinations",
                cfg.path.display(),
                cfg.feeds.len(),
                cfg.rules.len(),
                cfg.destinations.len()
            );
            EXIT_OK
        }
        Err(code) => code,
    }
}

pub fn open_store(cfg: &Config) -> Result<Store, u8> {
    Store::open(&cfg.daemon.state).map_err(|e| {
        eprintln!("feedwatch: {e}");
        EXIT_STATE
    })
}

/// `feedwatch run [--once]`
pub async fn run(explicit: Option<&Path>, once: bool) -> u8 {
    let cfg = match load_config(explicit) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if !once {
        return crate::daemon::run(cfg, explicit.map(Path::to_path_buf)).await;
    }
    let store = match open_store(&cfg) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let engine = match Engine::new(Arc::new(cfg), StoreHandle::new(store)) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("feedwatch: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    engine.adopt_renamed_feeds().await;
    let reports = engine.poll_all().await;
    for report in &reports {
        out!("{report}");
    }
    crate::health::after_polls(&engine, &reports).await;
    for d in engine.deliver_due(Utc::now(), true).await {
        if let Err(e) = &d.result {
            out!(
                "{}: digest {} ({} items) not delivered: {e}",
                d.destination,
                d.digest,
                d.items
            );
        }
    }
    crate::daemon::prune(engine.store(), engine.config.daemon.retention).await;
    EXIT_OK
}

/// A SOURCE argument as it may be shown in output and errors: the userinfo of a URL
/// (which may hold a password) removed, anything else as given.
pub fn shown_source(s: &str) -> String {
    match url::Url::parse(s) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => s.to_string(),
    }
}

/// A SOURCE argument: `http(s)://`, `file://` or a path.
pub fn parse_source(s: &str) -> Result<FeedSource, String> {
    let shown = shown_source(s);
    if s.starts_with("http://") || s.starts_with("https://") {
        url::Url::parse(s)
            .map(FeedSource::Http)
            .map_err(|e| format!("{shown}: not a valid URL: {e}"))
    } else if s.starts_with("file://") {
        url::Url::parse(s)
            .ok()
            .and_then(|u| u.to_file_path().ok())
            .map(FeedSource::File)
            .ok_or_else(|| format!("{shown}: not a valid file:// URL"))
    } else {
        Ok(FeedSource::File(PathBuf::from(s)))
    }
}

/// Fetches and parses one source for the one-shot commands.
async fn load_source(fetcher: &Fetcher, source: &str) -> Result<ParsedFeed, String> {
    let src = parse_source(source)?;
    let source = shown_source(source);
    let req = FetchRequest::plain(&src);
    match fetcher
        .fetch(req)
        .await
        .map_err(|e| format!("{source}: {e}"))?
    {
        FetchOutcome::Modified(f) => {
            crate::parse::parse_feed(&f.body, f.charset.as_deref(), f.final_url.as_deref())
                .map_err(|e| format!("{source}: {e}"))
        }
        FetchOutcome::NotModified { .. } => Err(format!(
            "{source}: the server answered 304 Not Modified to an unconditional request"
        )),
    }
}

fn one_shot_fetcher() -> Result<Fetcher, u8> {
    Fetcher::new(FetchLimits {
        timeout: std::time::Duration::from_secs(30),
        max_body: 15 * 1024 * 1024,
    })
    .map_err(|e| {
        eprintln!("feedwatch: {e}");
        EXIT_BAD_INPUT
    })
}

#[derive(Serialize)]
struct RuleHit<'a> {
    source: &'a str,
    feed: Option<&'a str>,
    id: Option<&'a str>,
    key: &'a str,
    title: &'a str,
    link: Option<&'a str>,
    published: Option<String>,
    matched: &'a [String],
}

/// `feedwatch test-rule QUERY SOURCE...`
pub async fn test_rule(query: &str, sources: &[String], json: bool) -> u8 {
    let q = match Query::parse(query) {
        Ok(q) => q,
        Err(e) => {
            eprint!("{}", e.render("test-rule"));
            return EXIT_BAD_INPUT;
        }
    };
    let set = RuleSet::new(&[&q]);
    let fetcher = match one_shot_fetcher() {
        Ok(f) => f,
        Err(code) => return code,
    };
    let mut any_match = false;
    let mut any_error = false;
    for given in sources {
        let feed = match load_source(&fetcher, given).await {
            Ok(f) => f,
            Err(e) => {
                eprintln!("feedwatch: {e}");
                any_error = true;
                continue;
            }
        };
        let source = &shown_source(given);
        let feed_name = feed.title.as_deref().unwrap_or(source);
        for item in &feed.items {
            let doc = Document::from_item(item, feed_name);
            let Some(m) = set.matches(&doc, &|_| true).into_iter().next() else {
                continue;
            };
            any_match = true;
            if json {
                let hit = RuleHit {
                    source,
                    feed: feed.title.as_deref(),
                    id: item.guid.as_deref(),
                    key: &item.key,
                    title: &item.title,
                    link: item.link.as_deref(),
                    published: item.published.map(|d| d.to_rfc3339()),
                    matched: &m.matched,
                };
                match serde_json::to_string(&hit) {
                    Ok(line) => out!("{line}"),
                    Err(e) => eprintln!("feedwatch: cannot encode JSON: {e}"),
                }
            } else {
                out!("{feed_name}: {}", item.title);
                if let Some(link) = &item.link {
                    out!("  {link}");
                }
                out!("  matched: {}", m.matched.join(", "));
            }
        }
    }
    if any_error {
        EXIT_BAD_INPUT
    } else if any_match {
        EXIT_OK
    } else {
        EXIT_NO_MATCH
    }
}

#[derive(Serialize)]
struct Inspected<'a> {
    key: &'a str,
    id: Option<&'a str>,
    title: &'a str,
    link: Option<&'a str>,
    normalised_link: Option<&'a str>,
    published: Option<String>,
    authors: &'a [String],
    categories: &'a [String],
    summary: &'a str,
    content: &'a str,
    /// The words rules see, folded (case, diacritics, ё).
    words: Vec<String>,
}

fn inspected(item: &Item) -> Inspected<'_> {
    let mut words = Vec::new();
    for text in [&item.title, &item.summary, &item.content] {
        words.extend(crate::text::words(text));
    }
    Inspected {
        key: &item.key,
        id: item.guid.as_deref(),
        title: &item.title,
        link: item.link.as_deref(),
        normalised_link: item.norm_link.as_deref(),
        published: item.published.map(|d| d.to_rfc3339()),
        authors: &item.authors,
        categories: &item.categories,
        summary: &item.summary,
        content: &item.content,
        words,
    }
}

/// `feedwatch inspect SOURCE`
pub async fn inspect(source: &str, json: bool) -> u8 {
    let fetcher = match one_shot_fetcher() {
        Ok(f) => f,
        Err(code) => return code,
    };
    let feed = match load_source(&fetcher, source).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("feedwatch: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if !json {
        out!(
            "{}: {} items",
            feed.title.as_deref().unwrap_or(&shown_source(source)),
            feed.items.len()
        );
    }
    for item in &feed.items {
        let view = inspected(item);
        if json {
            match serde_json::to_string(&view) {
                Ok(line) => out!("{line}"),
                Err(e) => eprintln!("feedwatch: cannot encode JSON: {e}"),
            }
            continue;
        }
        out!();
        out!("key:        {}", view.key);
        out!("title:      {}", view.title);
        out!("link:       {}", view.link.unwrap_or("-"));
        out!("published:  {}", view.published.as_deref().unwrap_or("-"));
        if !view.authors.is_empty() {
            out!("authors:    {}", view.authors.join(", "));
        }
        if !view.categories.is_empty() {
            out!("categories: {}", view.categories.join(", "));
        }
        out!("summary:    {}", view.summary);
        if !view.content.is_empty() {
            out!("content:    {}", view.content);
        }
        out!("words:      {}", view.words.join(" "));
    }
    EXIT_OK
}

/// `feedwatch import-opml FILE`
pub fn import_opml(file: &Path) -> u8 {
    let text = match std::fs::read(file) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            eprintln!("feedwatch: cannot read {}: {e}", file.display());
            return EXIT_BAD_INPUT;
        }
    };
    match crate::discover::import_opml(&text) {
        Ok(feeds) => {
            out_raw!("{}", crate::discover::to_toml(&feeds));
            EXIT_OK
        }
        Err(e) => {
            eprintln!("feedwatch: {}: {e}", file.display());
            EXIT_BAD_INPUT
        }
    }
}

/// `feedwatch discover URL`
pub async fn discover(page: &str) -> u8 {
    let fetcher = match one_shot_fetcher() {
        Ok(f) => f,
        Err(code) => return code,
    };
    let src = match parse_source(page) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("feedwatch: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let page = &shown_source(page);
    let req = FetchRequest::plain(&src);
    let fetched = match fetcher.fetch(req).await {
        Ok(FetchOutcome::Modified(f)) => f,
        Ok(FetchOutcome::NotModified { .. }) => {
            eprintln!("feedwatch: {page}: unexpected 304 Not Modified");
            return EXIT_BAD_INPUT;
        }
        Err(e) => {
            eprintln!("feedwatch: {page}: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let base = fetched
        .final_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .or_else(|| url::Url::parse(page).ok());
    let Some(base) = base else {
        eprintln!("feedwatch: {page}: cannot resolve links without a base URL");
        return EXIT_BAD_INPUT;
    };
    let html = String::from_utf8_lossy(&fetched.body);
    let feeds = crate::discover::discover_links(&html, &base);
    if feeds.is_empty() {
        eprintln!("feedwatch: {page}: the page links no feeds with <link rel=\"alternate\">");
        return EXIT_NO_MATCH;
    }
    out_raw!("{}", crate::discover::to_toml(&feeds));
    EXIT_OK
}

#[derive(Serialize)]
struct StatusReport {
    config: String,
    state: String,
    feeds: Vec<crate::store::FeedStatus>,
    destinations: Vec<crate::store::DestinationStatus>,
}

/// `feedwatch status [--json]`: reads the state database (read-only, safe while the
/// daemon runs). Feeds are listed in config order; feeds not in the config are omitted.
pub fn status(explicit: Option<&Path>, json: bool) -> u8 {
    let cfg = match load_config(explicit) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let store = match Store::open_read_only(&cfg.daemon.state) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("feedwatch: {e}");
            return EXIT_STATE;
        }
    };
    let names: Vec<&str> = cfg.destinations.iter().map(|d| d.name.as_str()).collect();
    let (feeds, destinations) = match (store.feeds_status(), store.destinations_status(&names)) {
        (Ok(f), Ok(d)) => (f, d),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("feedwatch: {e}");
            return EXIT_STATE;
        }
    };
    let feeds: Vec<_> = cfg
        .feeds
        .iter()
        .filter_map(|f| feeds.iter().find(|s| s.name == f.name).cloned())
        .collect();
    let report = StatusReport {
        config: cfg.path.display().to_string(),
        state: cfg.daemon.state.display().to_string(),
        feeds,
        destinations,
    };
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => out!("{s}"),
            Err(e) => {
                eprintln!("feedwatch: cannot encode JSON: {e}");
                return EXIT_STATE;
            }
        }
        return EXIT_OK;
    }
    let t = |d: &Option<chrono::DateTime<Utc>>| {
        d.map_or("-".to_string(), |d| {
            d.format("%Y-%m-%d %H:%M:%S").to_string()
        })
    };
    out!("state: {}", report.state);
    out!("feeds:");
    for f in &report.feeds {
        out!(
            "  {}: {} | last poll {} | last success {} | HTTP {} | {} seen | {} failures | next {}",
            f.name,
            f.health.as_str(),
            t(&f.last_poll),
            t(&f.last_success),
            f.http_status.map_or("-".into(), |s| s.to_string()),
            f.items_seen,
            f.failures,
            t(&f.next_poll)
        );
        if let Some(err) = &f.last_error {
            out!("    last error: {err}");
        }
    }
    let unpolled = cfg.feeds.len() - report.feeds.len();
    if unpolled > 0 {
        out!("  ({unpolled} feeds not polled yet)");
    }
    out!("destinations:");
    for d in &report.destinations {
        out!(
            "  {}: {} pending matches, {} pending digests | next digest {} | next retry {} | last delivery {}",
            d.name,
            d.pending_matches,
            d.pending_digests,
            t(&d.next_due),
            t(&d.next_retry),
            t(&d.last_delivery)
        );
        for f in &d.failed {
            out!(
                "    FAILED digest {} ({} attempts): {} (run `feedwatch retry {}` to try again)",
                f.id,
                f.attempts,
                f.error.as_deref().unwrap_or("-"),
                d.name
            );
        }
    }
    EXIT_OK
}

/// `feedwatch retry NAME`
pub fn retry(explicit: Option<&Path>, name: &str) -> u8 {
    let cfg = match load_config(explicit) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if !cfg.destinations.iter().any(|d| d.name == name) {
        let known: Vec<_> = cfg.destinations.iter().map(|d| d.name.as_str()).collect();
        eprintln!(
            "feedwatch: no destination `{name}` in the config (destinations: {})",
            known.join(", ")
        );
        return EXIT_BAD_INPUT;
    }
    let mut store = match open_store(&cfg) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match store.retry_failed(name, Utc::now()) {
        Ok(n) => {
            out!(
                "{name}: {n} failed digests re-queued; the daemon (or the next `run --once`) sends them"
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("feedwatch: {e}");
            EXIT_STATE
        }
    }
}

/// `feedwatch test-destination NAME`: a sample digest, sent once, not recorded.
pub async fn test_destination(explicit: Option<&Path>, name: &str) -> u8 {
    let cfg = match load_config(explicit) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(dest) = cfg.destinations.iter().find(|d| d.name == name) else {
        let known: Vec<_> = cfg.destinations.iter().map(|d| d.name.as_str()).collect();
        eprintln!(
            "feedwatch: no destination `{name}` in the config (destinations: {})",
            known.join(", ")
        );
        return EXIT_BAD_INPUT;
    };
    let deliverer = match crate::deliver::Deliverer::new() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("feedwatch: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let digest = crate::digest::sample_digest(name, Utc::now());
    match deliverer.deliver(dest, &digest).await {
        Ok(()) => {
            out!("{name}: sample digest {} accepted", digest.id);
            EXIT_OK
        }
        Err(e) => {
            eprintln!(
                "feedwatch: {name}: sample digest not delivered: {}",
                e.message
            );
            EXIT_BAD_INPUT
        }
    }
}
