//! Per-feed state and the poll commit: seen keys, global item identity, outbox inserts.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::error::{StoreError, sql};
use super::{Store, json_list, json_list_at, time_at, ts};
use crate::model::Item;

/// Characters of summary (else content) kept for an item that matched, for its digest.
const SNIPPET_CHARS: usize = 600;

/// Whether a feed currently counts as working, for health notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Ok,
    Failing,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Failing => "failing",
        }
    }

    pub(crate) fn parse(s: &str) -> Health {
        if s == "failing" {
            Health::Failing
        } else {
            Health::Ok
        }
    }
}

/// What the store remembers about one feed between polls.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedState {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_poll: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub http_status: Option<u16>,
    /// Consecutive failures; 0 after any success.
    pub failures: u32,
    pub next_poll: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// When a poll last found something new.
    pub last_new_at: Option<DateTime<Utc>>,
    /// A poll has succeeded once with a body (`first_poll` has been applied).
    pub polled_ok: bool,
    pub health: Health,
    pub health_since: Option<DateTime<Utc>>,
    pub stale_notified: bool,
}

/// One rule's match of one item, for one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub rule: String,
    pub destination: String,
    /// The words and phrases that matched, as they appear in the item.
    pub matched: Vec<String>,
}

/// Everything one successful (200) poll of one feed records, in one transaction.
#[derive(Debug, Clone)]
pub struct PollCommit {
    pub feed: String,
    pub now: DateTime<Utc>,
    /// `None` for `file://` sources.
    pub http_status: Option<u16>,
    /// Validators of this answer, stored verbatim (`None` clears the old one).
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub next_poll: DateTime<Utc>,
    /// Every item present in the document, new or not.
    pub items: Vec<Item>,
    /// Matches by index into `items`. Only items new to this feed are recorded; matches
    /// of an item the feed already showed are ignored.
    pub matches: Vec<(usize, Vec<OutboxEntry>)>,
}

/// What a poll commit changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CommitSummary {
    /// Items this feed had never shown.
    pub new_items: usize,
    /// Outbox rows created (one per item and destination).
    pub new_matches: usize,
    /// Pending outbox rows that gained rules or feeds from this poll.
    pub merged: usize,
    /// Matches for an item already handed to a digest for that destination: not re-sent.
    pub already_reported: usize,
}

impl Store {
    /// The stored state of `feed`, or `None` if it was never polled.
    pub fn feed_state(&self, feed: &str) -> Result<Option<FeedState>, StoreError> {
        self.conn
            .query_row(
                "SELECT etag, last_modified, last_poll, last_success, http_status, failures,
                        next_poll, last_error, last_new_at, polled_ok, health, health_since,
                        stale_notified
                 FROM feeds WHERE name = ?1",
                [feed],
                |r| {
                    Ok(FeedState {
                        etag: r.get(0)?,
                        last_modified: r.get(1)?,
                        last_poll: time_at(r, 2)?,
                        last_success: time_at(r, 3)?,
                        http_status: r.get(4)?,
                        failures: r.get(5)?,
                        next_poll: time_at(r, 6)?,
                        last_error: r.get(7)?,
                        last_new_at: time_at(r, 8)?,
                        polled_ok: r.get(9)?,
                        health: Health::parse(&r.get::<_, String>(10)?),
                        health_since: time_at(r, 11)?,
                        stale_notified: r.get(12)?,
                    })
                },
            )
            .optional()
            .map_err(sql(&self.path, "reading feed state"))
    }

    /// For each item, whether `feed` has never shown its key. A key repeated inside
    /// `items` counts as new only the first time, as [`Store::commit_poll`] records it.
    pub fn unseen(&self, feed: &str, items: &[Item]) -> Result<Vec<bool>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM seen WHERE feed = ?1 AND key = ?2")
            .map_err(sql(&self.path, "reading seen items"))?;
        let mut batch = HashSet::new();
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let known = stmt
                .exists(params![feed, item.key])
                .map_err(sql(&self.path, "reading seen items"))?;
            out.push(!known && batch.insert(item.key.as_str()));
        }
        Ok(out)
    }

    /// Records a successful poll with a body, its items and their matches, atomically.
    pub fn commit_poll(&mut self, c: &PollCommit) -> Result<CommitSummary, StoreError> {
        if let Some((i, _)) = c.matches.iter().find(|(i, _)| *i >= c.items.len()) {
            return Err(self.invalid(format!(
                "feed {}: a match refers to item {i} of {}",
                c.feed,
                c.items.len()
            )));
        }
        self.write("recording a poll", |tx, path| commit_poll(tx, path, c))
    }

    /// Records a 304: the feed answered and nothing changed.
    pub fn record_not_modified(
        &mut self,
        feed: &str,
        now: DateTime<Utc>,
        next_poll: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("recording a 304", |tx, path| {
            tx.execute(
                "INSERT INTO feeds (name, last_poll, last_success, http_status, next_poll)
                 VALUES (?1, ?2, ?2, 304, ?3)
                 ON CONFLICT (name) DO UPDATE SET last_poll = ?2, last_success = ?2,
                     http_status = 304, failures = 0, last_error = NULL, next_poll = ?3",
                params![feed, ts(now), ts(next_poll)],
            )
            .map(drop)
            .map_err(sql(path, "recording a 304"))
        })
    }

    /// Records a failed poll (network, HTTP or parse error) and returns the number of
    /// consecutive failures. Seen state is never touched.
    pub fn record_failure(
        &mut self,
        feed: &str,
        now: DateTime<Utc>,
        http_status: Option<u16>,
        error: &str,
        next_poll: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        self.write("recording a failed poll", |tx, path| {
            tx.query_row(
                "INSERT INTO feeds (name, last_poll, http_status, failures, last_error, next_poll)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5)
                 ON CONFLICT (name) DO UPDATE SET last_poll = ?2, http_status = ?3,
                     failures = feeds.failures + 1, last_error = ?4, next_poll = ?5
                 RETURNING failures",
                params![feed, ts(now), http_status, error, ts(next_poll)],
                |r| r.get(0),
            )
            .map_err(sql(path, "recording a failed poll"))
        })
    }

    /// Stores when `feed` is next due (for example after a reload changed its interval).
    pub fn set_next_poll(
        &mut self,
        feed: &str,
        next_poll: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.update_feed(
            "storing the next poll time",
            feed,
            "next_poll",
            ts(next_poll),
        )
    }

    /// Records a health change (a "failing" or "recovered" notice was sent).
    pub fn set_health(
        &mut self,
        feed: &str,
        health: Health,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("storing feed health", |tx, path| {
            tx.execute(
                "INSERT INTO feeds (name, health, health_since) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET health = ?2, health_since = ?3",
                params![feed, health.as_str(), ts(now)],
            )
            .map(drop)
            .map_err(sql(path, "storing feed health"))
        })
    }

    /// Records that a "no new items" notice was sent (or, with `false`, that it ended).
    pub fn set_stale_notified(&mut self, feed: &str, notified: bool) -> Result<(), StoreError> {
        self.update_feed(
            "storing stale state",
            feed,
            "stale_notified",
            i64::from(notified),
        )
    }

    fn update_feed(
        &mut self,
        context: &'static str,
        feed: &str,
        col: &'static str,
        value: i64,
    ) -> Result<(), StoreError> {
        let stmt = format!(
            "INSERT INTO feeds (name, {col}) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET {col} = ?2"
        );
        self.write(context, |tx, path| {
            tx.execute(&stmt, params![feed, value])
                .map(drop)
                .map_err(sql(path, context))
        })
    }
}

fn commit_poll(
    tx: &Transaction<'_>,
    path: &Path,
    c: &PollCommit,
) -> Result<CommitSummary, StoreError> {
    let now = ts(c.now);
    tx.execute(
        "INSERT INTO feeds (name, etag, last_modified, last_poll, last_success, http_status,
                            next_poll, polled_ok)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, 1)
         ON CONFLICT (name) DO UPDATE SET etag = ?2, last_modified = ?3, last_poll = ?4,
             last_success = ?4, http_status = ?5, failures = 0, last_error = NULL,
             next_poll = ?6, polled_ok = 1",
        params![
            c.feed,
            c.etag,
            c.last_modified,
            now,
            c.http_status,
            ts(c.next_poll)
        ],
    )
    .map_err(sql(path, "updating the feed row"))?;

    let matched: HashSet<usize> = c
        .matches
        .iter()
        .filter(|(_, e)| !e.is_empty())
        .map(|(i, _)| *i)
        .collect();
    let mut summary = CommitSummary::default();
    let mut new_ids: Vec<Option<i64>> = vec![None; c.items.len()];
    for (i, item) in c.items.iter().enumerate() {
        let seen: Option<i64> = tx
            .prepare_cached(
                "UPDATE seen SET last_seen = ?3 WHERE feed = ?1 AND key = ?2 RETURNING item_id",
            )
            .and_then(|mut s| {
                s.query_row(params![c.feed, item.key, now], |r| r.get(0))
                    .optional()
            })
            .map_err(sql(path, "updating seen items"))?;
        if seen.is_some() {
            continue;
        }
        let id = match find_global(tx, path, &c.feed, item)? {
            Some(id) => id,
            None => insert_item(tx, path, item, matched.contains(&i), now)?,
        };
        tx.prepare_cached(
            "INSERT INTO seen (feed, key, item_id, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)",
        )
        .and_then(|mut s| s.execute(params![c.feed, item.key, id, now]))
        .map_err(sql(path, "recording a new item"))?;
        tx.prepare_cached(
            "INSERT OR IGNORE INTO item_feeds (item_id, feed, first_seen) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut s| s.execute(params![id, c.feed, now]))
        .map_err(sql(path, "linking an item to its feed"))?;
        new_ids[i] = Some(id);
        summary.new_items += 1;
    }

    // One outbox row per (item, destination): fold every rule that matched it here.
    let mut groups: Vec<(i64, usize, &str, Vec<String>, Vec<String>)> = Vec::new();
    let mut index: HashMap<(i64, &str), usize> = HashMap::new();
    for (i, entries) in &c.matches {
        let Some(id) = new_ids[*i] else { continue };
        for e in entries {
            let g = *index
                .entry((id, e.destination.as_str()))
                .or_insert_with(|| {
                    groups.push((id, *i, e.destination.as_str(), Vec::new(), Vec::new()));
                    groups.len() - 1
                });
            let (_, _, _, rules, words) = &mut groups[g];
            push_unique(rules, std::iter::once(&e.rule));
            push_unique(words, &e.matched);
        }
    }
    for (id, i, destination, rules, words) in &groups {
        upsert_outbox(
            tx,
            path,
            (*id, destination),
            rules,
            words,
            now,
            &mut summary,
        )?;
        // The item may have been stored, unmatched, by another feed: give it a snippet.
        tx.prepare_cached("UPDATE items SET summary = ?2 WHERE id = ?1 AND summary = ''")
            .and_then(|mut s| s.execute(params![id, snippet(&c.items[*i])]))
            .map_err(sql(path, "storing an item snippet"))?;
    }
    if summary.new_items > 0 {
        tx.execute(
            "UPDATE feeds SET last_new_at = ?2 WHERE name = ?1",
            params![c.feed, now],
        )
        .map_err(sql(path, "updating the feed row"))?;
    }
    Ok(summary)
}

/// A guid that can be trusted to name one article across publishers: a URL, URN, tag URI
/// or UUID, not a feed-local counter such as `"1234"`.
fn guid_is_global(guid: &str) -> bool {
    guid.len() >= 16 || guid.contains(':') || guid.contains('/')
}

/// The global item another feed already stored for this entry, if any.
fn find_global(
    tx: &Transaction<'_>,
    path: &Path,
    feed: &str,
    item: &Item,
) -> Result<Option<i64>, StoreError> {
    const NOT_OURS: &str = "AND NOT EXISTS (SELECT 1 FROM item_feeds f
                                WHERE f.item_id = items.id AND f.feed = ?2)
                            ORDER BY id LIMIT 1";
    let mut probes: Vec<(&str, &str)> = Vec::with_capacity(3);
    if let Some(g) = item.guid.as_deref().filter(|g| guid_is_global(g)) {
        probes.push(("guid", g));
    }
    if let Some(l) = item.norm_link.as_deref() {
        probes.push(("norm_link", l));
    }
    if item.guid.is_none() {
        probes.push(("key", &item.key));
    }
    for (col, value) in probes {
        let q = format!("SELECT id FROM items WHERE {col} = ?1 {NOT_OURS}");
        let found = tx
            .prepare_cached(&q)
            .and_then(|mut s| s.query_row(params![value, feed], |r| r.get(0)).optional())
            .map_err(sql(path, "looking up an item"))?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

fn insert_item(
    tx: &Transaction<'_>,
    path: &Path,
    item: &Item,
    matched: bool,
    now: i64,
) -> Result<i64, StoreError> {
    let summary = if matched {
        snippet(item)
    } else {
        String::new()
    };
    tx.prepare_cached(
        "INSERT INTO items (key, guid, norm_link, title, link, published, summary, first_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
    )
    .and_then(|mut s| {
        s.query_row(
            params![
                item.key,
                item.guid,
                item.norm_link,
                item.title,
                item.link,
                item.published.map(ts),
                summary,
                now
            ],
            |r| r.get(0),
        )
    })
    .map_err(sql(path, "storing a new item"))
}

fn upsert_outbox(
    tx: &Transaction<'_>,
    path: &Path,
    (id, destination): (i64, &str),
    rules: &[String],
    words: &[String],
    now: i64,
    summary: &mut CommitSummary,
) -> Result<(), StoreError> {
    let existing = tx
        .prepare_cached(
            "SELECT digest_id IS NULL, rules, matched FROM outbox WHERE item_id = ?1 AND destination = ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![id, destination], |r| {
                Ok((r.get::<_, bool>(0)?, json_list_at(r, 1)?, json_list_at(r, 2)?))
            })
            .optional()
        })
        .map_err(sql(path, "reading the outbox"))?;
    match existing {
        None => {
            tx.prepare_cached(
                "INSERT INTO outbox (item_id, destination, rules, matched, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    destination,
                    json_list(rules),
                    json_list(words),
                    now
                ])
            })
            .map_err(sql(path, "adding to the outbox"))?;
            summary.new_matches += 1;
        }
        Some((true, mut old_rules, mut old_words)) => {
            push_unique(&mut old_rules, rules);
            push_unique(&mut old_words, words);
            tx.prepare_cached("UPDATE outbox SET rules = ?3, matched = ?4 WHERE item_id = ?1 AND destination = ?2")
                .and_then(|mut s| s.execute(params![id, destination, json_list(&old_rules), json_list(&old_words)]))
                .map_err(sql(path, "merging into the outbox"))?;
            summary.merged += 1;
        }
        Some((false, _, _)) => summary.already_reported += 1,
    }
    Ok(())
}

fn push_unique<'a>(list: &mut Vec<String>, more: impl IntoIterator<Item = &'a String>) {
    for m in more {
        if !list.contains(m) {
            list.push(m.clone());
        }
    }
}

fn snippet(item: &Item) -> String {
    let text = if item.summary.trim().is_empty() {
        &item.content
    } else {
        &item.summary
    };
    text.trim().chars().take(SNIPPET_CHARS).collect()
}
