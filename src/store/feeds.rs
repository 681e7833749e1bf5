//! Per-feed state and the poll commit: seen keys, global item identity, outbox inserts.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::commit::commit_poll;
use super::error::{StoreError, sql};
use super::{Store, time_at, ts};
use crate::model::Item;

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
    /// A "flood held" notice was sent and the flood has not ended.
    pub flood_notified: bool,
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
    /// Identity of the source this poll read (`identity::feed_source_id`); `None` keeps
    /// the stored one.
    pub source: Option<String>,
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
                        stale_notified, flood_notified
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
                        flood_notified: r.get(13)?,
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

    /// Records that a flood-guard notice was sent (or, with `false`, that the flood ended).
    pub fn set_flood_notified(&mut self, feed: &str, notified: bool) -> Result<(), StoreError> {
        self.update_feed(
            "storing flood state",
            feed,
            "flood_notified",
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
