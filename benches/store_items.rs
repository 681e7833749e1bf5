//! Realistic items and poll commits for the state-store benchmarks (included by
//! `store.rs` and `growth.rs`).

#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use feedwatch::model::Item;
use feedwatch::store::{OutboxEntry, PollCommit};

const WORDS: &[&str] = &[
    "ministers",
    "summit",
    "security",
    "council",
    "talks",
    "border",
    "agreement",
    "trade",
    "delegation",
    "Bishkek",
    "Moscow",
    "statement",
    "exercise",
    "regional",
    "energy",
    "pipeline",
    "elections",
    "parliament",
    "sanctions",
    "visit",
    "cooperation",
    "forum",
];

fn words(seed: u64, n: usize) -> String {
    (0..n)
        .map(|i| {
            WORDS
                [((seed.wrapping_mul(31).wrapping_add(i as u64 * 7)) % WORDS.len() as u64) as usize]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Item `n` of `feed`: a URL guid, a link with tracking parameters, a ~70-character
/// title, a ~300-character summary and ~1,500 characters of content, as `parse` makes them.
pub fn item(feed: &str, n: u64, published: DateTime<Utc>) -> Item {
    let guid = format!("https://news.example.org/{feed}/2026/12/story-{n:08}");
    let link = format!("{guid}?utm_source=rss&utm_medium=feed");
    Item {
        key: format!("guid:{guid}"),
        norm_link: feedwatch::identity::normalise_link(&link),
        guid: Some(guid),
        link: Some(link),
        title: format!("{} {n}", words(n, 9)),
        summary: words(n + 1, 40),
        content: words(n + 2, 200),
        authors: vec!["Staff correspondent".into()],
        categories: vec!["World".into(), "Politics".into()],
        published: Some(published),
    }
}

/// Whether item `n` matches the benchmark's one rule (2% of items).
pub fn matches(n: u64) -> bool {
    n % 50 == 7
}

/// A 200 poll of `feed` listing `items`; `new` marks the items new to the feed, whose
/// matches are recorded (the pipeline only matches new items).
pub fn commit(
    feed: &str,
    now: DateTime<Utc>,
    items: Vec<(u64, Item)>,
    new: &dyn Fn(u64) -> bool,
) -> PollCommit {
    let matches = items
        .iter()
        .enumerate()
        .filter(|(_, (n, _))| new(*n) && matches(*n))
        .map(|(i, _)| {
            (
                i,
                vec![OutboxEntry {
                    rule: "csto".into(),
                    destination: "hook".into(),
                    matched: vec!["CSTO".into()],
                }],
            )
        })
        .collect();
    PollCommit {
        feed: feed.to_string(),
        source: None,
        now,
        http_status: Some(200),
        etag: Some(format!("\"{}\"", now.timestamp())),
        last_modified: None,
        next_poll: now + Duration::hours(1),
        items: items.into_iter().map(|(_, i)| i).collect(),
        matches,
    }
}

/// A fresh scratch directory under the system temp dir.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("feedwatch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Bytes on disk of the database and its WAL.
pub fn size_on_disk(db: &std::path::Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", db.display())).ok())
        .map(|m| m.len())
        .sum()
}
