//! Tests against real SQLite files in temporary folders.

mod digests;
mod open;
mod poll;
mod prune;
mod rename;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tempfile::TempDir;

use super::{CommitSummary, OutboxEntry, PollCommit, Store};
use crate::model::Item;

/// A fixed clock: `at(day, hour)` after 2024-03-01 00:00 UTC.
fn at(day: i64, hour: i64) -> DateTime<Utc> {
    let base = Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).single();
    base.unwrap_or_default() + Duration::days(day) + Duration::hours(hour)
}

/// Assembles `destination`'s pending matches and reads back the new digests.
fn assembled(
    store: &mut Store,
    destination: &str,
    max_items: usize,
    now: DateTime<Utc>,
) -> Vec<crate::model::Digest> {
    let ids = store.assemble_digests(destination, max_items, now).unwrap();
    ids.iter()
        .map(|id| store.digest(id).unwrap().unwrap().digest)
        .collect()
}

/// A fresh store in its own temporary folder (kept alive by the returned guard).
fn fresh() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("state/feedwatch.db")).unwrap();
    (dir, store)
}

/// An item with a feed-local guid and its own link.
fn item(id: &str) -> Item {
    let link = format!("https://example.org/news/{id}");
    Item {
        key: format!("guid:{id}"),
        guid: Some(id.to_string()),
        link: Some(link.clone()),
        norm_link: Some(link),
        title: format!("Title of {id}"),
        summary: format!("Summary of {id}"),
        content: format!("Content of {id}"),
        authors: vec![],
        categories: vec![],
        published: Some(at(0, 0)),
    }
}

fn hit(rule: &str, destination: &str, words: &[&str]) -> OutboxEntry {
    OutboxEntry {
        rule: rule.into(),
        destination: destination.into(),
        matched: words.iter().map(|w| w.to_string()).collect(),
    }
}

fn commit(feed: &str, now: DateTime<Utc>, items: Vec<Item>) -> PollCommit {
    PollCommit {
        feed: feed.into(),
        source: None,
        now,
        http_status: Some(200),
        etag: Some("\"v1\"".into()),
        last_modified: None,
        next_poll: now + Duration::minutes(15),
        items,
        matches: vec![],
    }
}

/// Commits a poll of `items` where every item listed in `matched` hit `rule` for `dest`.
fn poll(
    store: &mut Store,
    feed: &str,
    now: DateTime<Utc>,
    items: Vec<Item>,
    matched: &[(usize, &str, &str)],
) -> CommitSummary {
    let mut c = commit(feed, now, items);
    c.matches = matched
        .iter()
        .map(|(i, rule, dest)| (*i, vec![hit(rule, dest, &["term"])]))
        .collect();
    store.commit_poll(&c).unwrap()
}

fn count(store: &Store, table: &str) -> i64 {
    store
        .conn
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}
