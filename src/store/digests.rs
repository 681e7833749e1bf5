//! Digests: assembling pending outbox rows into committed, immutable digests, and their
//! delivery lifecycle (pending → sent, or retried, or failed until re-queued).

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::error::{StoreError, sql};
use super::{Store, count_at, json_list_at, time_at, ts, whole_seconds};
use crate::model::{Digest, DigestItem};

/// Where a digest is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestStatus {
    Pending,
    Sent,
    Failed,
}

impl DigestStatus {
    fn parse(s: &str) -> DigestStatus {
        match s {
            "sent" => DigestStatus::Sent,
            "failed" => DigestStatus::Failed,
            _ => DigestStatus::Pending,
        }
    }
}

/// A committed digest and its delivery record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredDigest {
    pub digest: Digest,
    pub status: DigestStatus,
    pub attempts: u32,
    pub next_attempt: DateTime<Utc>,
    /// When the first attempt was made: the start of the `retry_for` window.
    pub first_attempt: Option<DateTime<Utc>>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

const DIGEST_COLUMNS: &str = "payload, status, attempts, next_attempt, first_attempt,
                              last_attempt, last_error, sent_at";

fn stored_digest(r: &Row<'_>) -> rusqlite::Result<StoredDigest> {
    let payload: String = r.get(0)?;
    let digest = serde_json::from_str(&payload).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(StoredDigest {
        digest,
        status: DigestStatus::parse(&r.get::<_, String>(1)?),
        attempts: r.get(2)?,
        next_attempt: time_at(r, 3)?.unwrap_or_default(),
        first_attempt: time_at(r, 4)?,
        last_attempt: time_at(r, 5)?,
        last_error: r.get(6)?,
        sent_at: time_at(r, 7)?,
    })
}

impl Store {
    /// Takes every match pending for `destination`, oldest first, and commits it into
    /// digests of at most `max_items` items, each due at once. Sends nothing. Returns the
    /// new digests' ids, oldest first (none when nothing was pending). Only one digest's
    /// items are held in memory at a time, however many matches are pending.
    pub fn assemble_digests(
        &mut self,
        destination: &str,
        max_items: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let max_items = max_items.max(1);
        let now = whole_seconds(now);
        // A digest id goes out on the wire right after this commit, so it must survive
        // power loss: a rolled-back assembly would regroup the same matches under a new id.
        self.set_synchronous("FULL")?;
        let out = self.write("assembling digests", |tx, path| {
            assemble(tx, path, destination, max_items, now)
        });
        let restored = self.set_synchronous("NORMAL");
        let out = out?;
        restored?;
        Ok(out)
    }

    fn set_synchronous(&self, level: &str) -> Result<(), StoreError> {
        self.conn
            .pragma_update(None, "synchronous", level)
            .map_err(sql(&self.path, "setting synchronous"))
    }

    /// Ids of the pending digests of `destination` whose next attempt is due, oldest
    /// first: the delivery loop loads each with [`Store::digest`] just before sending it,
    /// so a large backlog is never held in memory at once.
    pub fn due_digest_ids(
        &self,
        destination: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id FROM digests
                 WHERE destination = ?1 AND status = 'pending' AND next_attempt <= ?2
                 ORDER BY created_at, rowid",
            )
            .map_err(sql(&self.path, "reading digests"))?;
        stmt.query_map(params![destination, ts(now)], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(sql(&self.path, "reading digests"))
    }

    /// Pending digests of `destination` whose next attempt is due, oldest first.
    pub fn due_digests(
        &self,
        destination: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<StoredDigest>, StoreError> {
        let q = format!(
            "SELECT {DIGEST_COLUMNS} FROM digests
             WHERE destination = ?1 AND status = 'pending' AND next_attempt <= ?2
             ORDER BY created_at, rowid"
        );
        let mut stmt = self
            .conn
            .prepare_cached(&q)
            .map_err(sql(&self.path, "reading digests"))?;
        stmt.query_map(params![destination, ts(now)], stored_digest)
            .and_then(|rows| rows.collect())
            .map_err(sql(&self.path, "reading digests"))
    }

    /// One digest by id, whatever its status.
    pub fn digest(&self, id: &str) -> Result<Option<StoredDigest>, StoreError> {
        let q = format!("SELECT {DIGEST_COLUMNS} FROM digests WHERE id = ?1");
        self.conn
            .query_row(&q, [id], stored_digest)
            .optional()
            .map_err(sql(&self.path, "reading a digest"))
    }

    /// Queues a digest built elsewhere (a feed-health notice), pending from `now`. Queuing
    /// the same id twice keeps the first.
    pub fn enqueue_digest(
        &mut self,
        digest: &Digest,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("queuing a notice", |tx, path| {
            let payload = serde_json::to_string(digest).map_err(|e| StoreError::Invalid {
                path: path.to_path_buf(),
                what: format!("notice for {} cannot be serialised: {e}", digest.destination),
            })?;
            tx.execute(
                "INSERT OR IGNORE INTO digests (id, destination, created_at, status, next_attempt, payload)
                 VALUES (?1, ?2, ?3, 'pending', ?4, ?5)",
                params![digest.id, digest.destination, ts(digest.created_at), ts(now), payload],
            )
            .map_err(sql(path, "queuing a notice"))?;
            Ok(())
        })
    }

    /// The destination accepted the digest. Also records the destination's last delivery.
    pub fn mark_sent(&mut self, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.write("marking a digest sent", |tx, path| {
            let destination: Option<String> = tx
                .query_row(
                    "UPDATE digests SET status = 'sent', sent_at = ?2, attempts = attempts + 1,
                         first_attempt = coalesce(first_attempt, ?2), last_attempt = ?2
                     WHERE id = ?1 RETURNING destination",
                    params![id, ts(now)],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql(path, "marking a digest sent"))?;
            let Some(destination) = destination else {
                return Err(unknown(path, id));
            };
            record_delivery(tx, path, &destination, now)
        })
    }

    /// A transient failure: try again at `next_attempt`.
    pub fn mark_retry(
        &mut self,
        id: &str,
        now: DateTime<Utc>,
        error: &str,
        next_attempt: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.finish_attempt(id, now, error, "pending", next_attempt)
    }

    /// A permanent failure (or `retry_for` ran out): stop trying, keep the reason.
    pub fn mark_failed(
        &mut self,
        id: &str,
        now: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.finish_attempt(id, now, error, "failed", now)
    }

    fn finish_attempt(
        &mut self,
        id: &str,
        now: DateTime<Utc>,
        error: &str,
        status: &str,
        next_attempt: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("recording a delivery attempt", |tx, path| {
            let n = tx
                .execute(
                    "UPDATE digests SET status = ?3, attempts = attempts + 1, last_error = ?4,
                         first_attempt = coalesce(first_attempt, ?2), last_attempt = ?2,
                         next_attempt = ?5
                     WHERE id = ?1 AND status <> 'sent'",
                    params![id, ts(now), status, error, ts(next_attempt)],
                )
                .map_err(sql(path, "recording a delivery attempt"))?;
            if n == 0 {
                Err(unknown(path, id))
            } else {
                Ok(())
            }
        })
    }

    /// Re-queues every failed digest of `destination` (`feedwatch retry NAME`): due at
    /// `now`, with a fresh retry window. Returns how many.
    pub fn retry_failed(
        &mut self,
        destination: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        self.write("re-queueing failed digests", |tx, path| {
            tx.execute(
                "UPDATE digests SET status = 'pending', next_attempt = ?2, attempts = 0,
                     first_attempt = NULL
                 WHERE destination = ?1 AND status = 'failed'",
                params![destination, ts(now)],
            )
            .map_err(sql(path, "re-queueing failed digests"))
        })
    }

    /// When the earliest pending digest of `destination` is next due, if any.
    pub fn next_retry(&self, destination: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.conn
            .query_row(
                "SELECT min(next_attempt) FROM digests WHERE destination = ?1 AND status = 'pending'",
                [destination],
                |r| time_at(r, 0),
            )
            .map_err(sql(&self.path, "reading digests"))
    }

    /// Matches waiting for `destination`'s next digest.
    pub fn pending_matches(&self, destination: &str) -> Result<usize, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM outbox WHERE destination = ?1 AND digest_id IS NULL",
                [destination],
                |r| count_at(r, 0),
            )
            .map_err(sql(&self.path, "counting pending matches"))
    }

    /// When `name`'s next digest is due, as stored by [`Store::set_destination_due`].
    pub fn destination_due(&self, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.conn
            .query_row(
                "SELECT next_due FROM destinations WHERE name = ?1",
                [name],
                |r| time_at(r, 0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(sql(&self.path, "reading a destination schedule"))
    }

    pub fn set_destination_due(
        &mut self,
        name: &str,
        next_due: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write("storing a destination schedule", |tx, path| {
            tx.execute(
                "INSERT INTO destinations (name, next_due) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET next_due = ?2",
                params![name, ts(next_due)],
            )
            .map(drop)
            .map_err(sql(path, "storing a destination schedule"))
        })
    }

    /// Records that `name` accepted a delivery at `now` ([`Store::mark_sent`] does this too).
    pub fn record_delivery(&mut self, name: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.write("recording a delivery", |tx, path| {
            record_delivery(tx, path, name, now)
        })
    }
}

fn unknown(path: &Path, id: &str) -> StoreError {
    StoreError::UnknownDigest {
        path: path.to_path_buf(),
        id: id.to_string(),
    }
}

fn record_delivery(
    tx: &Connection,
    path: &Path,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO destinations (name, last_delivery) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET last_delivery = ?2",
        params![name, ts(now)],
    )
    .map(drop)
    .map_err(sql(path, "recording a delivery"))
}

fn assemble(
    tx: &Connection,
    path: &Path,
    destination: &str,
    max_items: usize,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let pending: Vec<i64> = tx
        .prepare_cached(
            "SELECT item_id FROM outbox
             WHERE destination = ?1 AND digest_id IS NULL
             ORDER BY created_at, item_id",
        )
        .and_then(|mut stmt| {
            stmt.query_map([destination], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()
        })
        .map_err(sql(path, "reading the outbox"))?;
    let mut ids = Vec::new();
    for chunk in pending.chunks(max_items) {
        let digest = Digest {
            id: digest_id(destination, now, chunk),
            destination: destination.to_string(),
            created_at: now,
            items: chunk
                .iter()
                .map(|&id| pending_item(tx, path, destination, id))
                .collect::<Result<_, _>>()?,
        };
        let payload = serde_json::to_string(&digest).map_err(|e| StoreError::Invalid {
            path: path.to_path_buf(),
            what: format!("digest for {destination} cannot be serialised: {e}"),
        })?;
        tx.execute(
            "INSERT INTO digests (id, destination, created_at, status, next_attempt, payload)
             VALUES (?1, ?2, ?3, 'pending', ?3, ?4)",
            params![digest.id, destination, ts(now), payload],
        )
        .map_err(sql(path, "storing a digest"))?;
        let mut mark = tx
            .prepare_cached(
                "UPDATE outbox SET digest_id = ?3 WHERE item_id = ?1 AND destination = ?2",
            )
            .map_err(sql(path, "assigning matches to a digest"))?;
        for id in chunk {
            mark.execute(params![id, destination, digest.id])
                .map_err(sql(path, "assigning matches to a digest"))?;
        }
        ids.push(digest.id);
    }
    Ok(ids)
}

/// One pending outbox row of `destination` as a digest item, with every feed it was
/// seen in, first seen first.
fn pending_item(
    tx: &Connection,
    path: &Path,
    destination: &str,
    item_id: i64,
) -> Result<DigestItem, StoreError> {
    let mut item = tx
        .prepare_cached(
            "SELECT o.item_id, o.rules, o.matched, i.key, i.guid, i.link, i.title,
                    i.published, i.summary
             FROM outbox o JOIN items i ON i.id = o.item_id
             WHERE o.item_id = ?1 AND o.destination = ?2",
        )
        .and_then(|mut stmt| stmt.query_row(params![item_id, destination], digest_item))
        .map_err(sql(path, "reading the outbox"))?;
    item.feeds = tx
        .prepare_cached("SELECT feed FROM item_feeds WHERE item_id = ?1 ORDER BY first_seen, rowid")
        .and_then(|mut stmt| stmt.query_map([item_id], |r| r.get(0))?.collect())
        .map_err(sql(path, "reading item feeds"))?;
    item.feed = item.feeds.first().cloned().unwrap_or_default();
    Ok(item)
}

/// The snapshot of one outbox row; `feed`/`feeds` are filled in afterwards.
fn digest_item(r: &Row<'_>) -> rusqlite::Result<DigestItem> {
    let key: String = r.get(3)?;
    let guid: Option<String> = r.get(4)?;
    let link: Option<String> = r.get(5)?;
    Ok(DigestItem {
        id: guid.or_else(|| link.clone()).unwrap_or(key),
        feed: String::new(),
        feeds: Vec::new(),
        title: r.get(6)?,
        link,
        published: time_at(r, 7)?,
        summary: r.get(8)?,
        rules: json_list_at(r, 1)?,
        matched: json_list_at(r, 2)?,
    })
}

/// Deterministic: the same destination, time and items always give the same id.
fn digest_id(destination: &str, created_at: DateTime<Utc>, item_ids: &[i64]) -> String {
    let mut h = Sha256::new();
    h.update(destination.as_bytes());
    h.update([0]);
    h.update(ts(created_at).to_be_bytes());
    for id in item_ids {
        h.update(id.to_be_bytes());
    }
    let hex = hex::encode(h.finalize());
    format!("d{}", &hex[..24])
}
