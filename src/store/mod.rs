//! The SQLite state: which items each feed has shown, per-feed poll state, the outbox of
//! matches waiting for a digest, the digests themselves and the destinations' schedules.
//!
//! One process writes (the daemon, or `run --once`); `feedwatch status` reads alongside it
//! through [`Store::open_read_only`], and short commands such as `feedwatch retry` may
//! write briefly (WAL mode, a 5 s busy timeout, every write in `BEGIN IMMEDIATE`). The API
//! is synchronous: the caller runs it on a blocking thread. Time is always passed in.
//!
//! # Schema (version 2, `PRAGMA user_version`)
//!
//! Times are unix seconds (UTC) in `INTEGER` columns; lists are JSON arrays in `TEXT`.
//!
//! - `feeds(name PK, etag, last_modified, last_poll, last_success, http_status, failures,
//!   next_poll, last_error, last_new_at, polled_ok, health 'ok'|'failing', health_since,
//!   stale_notified, flood_notified, source)`: one row per feed ever polled.
//!   `etag`/`last_modified` are the validators of the last 200, verbatim. `source` (since
//!   version 2) is a hash of the URL or path last polled successfully under this name; a
//!   feed renamed in the config takes over the row of its source ([`Store::adopt_renamed_feeds`]).
//! - `items(id PK, key, guid, norm_link, title, link, published, summary, first_seen)`:
//!   the global identity of an article, shared by every feed that carries it. A new
//!   entry of a feed joins an existing item with the same global-looking guid, else the
//!   same normalised link, else the same content hash, provided that item is not already
//!   one of this feed's (inside one feed the key alone decides identity, so a feed that
//!   gives every entry its home page as link does not collapse into one item). Guids
//!   shorter than 16 characters without `:` or `/` (such as `"1234"`) are taken as
//!   feed-local. `summary` holds a snippet only for items that matched something.
//! - `seen(feed, key, item_id, first_seen, last_seen, PK(feed, key))`: an item is new once
//!   per feed; `last_seen` is bumped on every successful poll that still lists it.
//! - `item_feeds(item_id, feed, first_seen, PK(item_id, feed))`: every feed an item came
//!   through, in arrival order.
//! - `outbox(item_id, destination, rules, matched, created_at, digest_id, PK(item_id,
//!   destination))`: a match waits here (`digest_id` NULL) until a digest takes it; an item
//!   is reported once per destination whatever feeds and rules bring it.
//! - `digests(id PK, destination, created_at, status 'pending'|'sent'|'failed', attempts,
//!   next_attempt, first_attempt, last_attempt, last_error, sent_at, payload)`: `payload` is
//!   the JSON of the [`crate::model::Digest`] snapshot, so every retry sends the same bytes.
//! - `destinations(name PK, next_due, last_delivery)`: digest schedules survive restarts.
//!
//! Pruning ([`Store::prune`]) removes seen keys absent from their feed for the retention,
//! sent digests (and their outbox rows) after their own retention, and items nothing
//! refers to any more, then gives the free pages back (`auto_vacuum = INCREMENTAL`).

mod commit;
mod digests;
mod error;
mod feeds;
mod prune;
mod rename;
mod schema;
mod status;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::types::Type;
use rusqlite::{Connection, Row};

pub use digests::{DigestStatus, StoredDigest};
pub use error::StoreError;
pub use feeds::{CommitSummary, FeedState, Health, OutboxEntry, PollCommit};
pub use prune::{PruneStats, SENT_RETENTION};
pub use rename::ConfiguredFeed;
pub use status::{DestinationStatus, FailedDigest, FeedStatus, SizeStats};

use error::sql;

/// The state database. Not `Sync`: one thread at a time uses it.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Inside [`Store::begin_batch`]: each write is a savepoint of the batch's transaction.
    batch: bool,
}

/// WAL pages after which the writer checkpoints by itself even when a [`Checkpointer`]
/// runs (64 MiB; SQLite's default, which the writer uses without one, is 1,000 pages).
pub const BACKSTOP_CHECKPOINT_PAGES: i64 = 16_384;

/// A second connection that only copies the WAL back into the database file (a
/// `PASSIVE` checkpoint: it never blocks the writer or a reader, and copies what it can).
#[derive(Debug)]
pub struct Checkpointer {
    conn: Connection,
    path: PathBuf,
}

impl Checkpointer {
    /// Runs one passive checkpoint; returns the WAL's frames and how many of them are
    /// now in the database file.
    pub fn checkpoint(&self) -> Result<(i32, i32), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })
            .map_err(sql(&self.path, "checkpointing the write-ahead log"))
    }
}

impl Store {
    /// Opens the state database for writing, creating its folder and file when missing and
    /// upgrading an older schema. Refuses, without touching it, a file that is not a
    /// feedwatch database, one written by a newer feedwatch, and a read-only file or folder.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let conn = schema::open_writer(&path)?;
        Ok(Store {
            conn,
            path,
            batch: false,
        })
    }

    /// Opens an existing state database for reading (`feedwatch status` while the daemon
    /// runs). Never creates or upgrades anything; writes through it fail.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let conn = schema::open_reader(&path)?;
        Ok(Store {
            conn,
            path,
            batch: false,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version this build reads and writes.
    pub fn schema_version() -> i64 {
        schema::LATEST
    }

    /// `PRAGMA integrity_check`: `"ok"`, or SQLite's list of problems.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA integrity_check")
            .map_err(sql(&self.path, "checking integrity"))?;
        let lines = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(sql(&self.path, "checking integrity"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql(&self.path, "checking integrity"))?;
        Ok(lines.join("\n"))
    }

    /// Opens a [`Checkpointer`] on this database, for a thread of its own.
    pub fn checkpointer(&self) -> Result<Checkpointer, StoreError> {
        Ok(Checkpointer {
            conn: schema::open_checkpointer(&self.path)?,
            path: self.path.clone(),
        })
    }

    /// Leaves the WAL checkpoints to a [`Checkpointer`] running on another thread: from
    /// now on this connection checkpoints only as a backstop, once the WAL holds
    /// [`BACKSTOP_CHECKPOINT_PAGES`] frames. A commit then never waits for a checkpoint's
    /// copying and `fsync`s (on a slow disk, most of a large cycle's commit time).
    pub fn leave_checkpoints(&self) -> Result<(), StoreError> {
        self.conn
            .pragma_update(None, "wal_autocheckpoint", BACKSTOP_CHECKPOINT_PAGES)
            .map_err(sql(&self.path, "handing checkpoints to their own thread"))
    }

    /// Frees SQLite's page cache and other memory the connection can do without
    /// (`sqlite3_db_release_memory`): the daemon calls it before it sleeps, so an idle
    /// process does not keep up to `cache_size` (32 MiB) of pages it will reread anyway.
    pub fn release_memory(&self) -> Result<(), StoreError> {
        self.conn
            .release_memory()
            .map_err(sql(&self.path, "releasing the page cache"))
    }

    fn invalid(&self, what: impl Into<String>) -> StoreError {
        StoreError::Invalid {
            path: self.path.clone(),
            what: what.into(),
        }
    }
}

/// Times are stored as whole unix seconds.
fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// `now` truncated to what the database keeps, so values read back compare equal.
fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

fn time_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    match row.get::<_, Option<i64>>(idx)? {
        None => Ok(None),
        Some(s) => DateTime::from_timestamp(s, 0).map(Some).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                idx,
                Type::Integer,
                format!("timestamp {s} out of range").into(),
            )
        }),
    }
}

fn json_list_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Vec<String>> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

fn json_list(list: &[String]) -> String {
    // Serialising strings into a JSON array cannot fail.
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

impl Store {
    /// Runs `f` in one `BEGIN IMMEDIATE` transaction: all of it is written, or none.
    /// Inside a batch it runs in a savepoint instead: all of it or none, made durable
    /// with the rest of the batch by [`Store::end_batch`].
    fn write<T>(
        &mut self,
        context: &'static str,
        f: impl FnOnce(&Connection, &Path) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let path = &self.path;
        if self.batch {
            // Dropped on error: rolls back to the savepoint, leaving the batch's other writes.
            let sp = self.conn.savepoint().map_err(sql(path, context))?;
            let out = f(&sp, path)?;
            sp.commit().map_err(sql(path, context))?;
            return Ok(out);
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql(path, context))?;
        let out = f(&tx, path)?;
        tx.commit().map_err(sql(path, context))?;
        Ok(out)
    }

    /// Starts a group commit: the writes until [`Store::end_batch`] share one transaction,
    /// each in its own savepoint, so one failing write leaves the others. One commit for
    /// many polls writes each shared page once instead of once per poll.
    pub fn begin_batch(&mut self) -> Result<(), StoreError> {
        if self.batch {
            return Ok(());
        }
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(sql(&self.path, "starting a group commit"))?;
        self.batch = true;
        Ok(())
    }

    /// Inside a batch, starts one caller's share of it: [`Store::end_batch_item`] keeps or
    /// undoes everything written since, so a caller's several writes stay all-or-nothing.
    pub fn begin_batch_item(&mut self) -> Result<(), StoreError> {
        if !self.batch {
            return Ok(());
        }
        self.conn
            .execute_batch("SAVEPOINT batch_item")
            .map_err(sql(&self.path, "starting a group commit"))
    }

    /// Ends the share begun by [`Store::begin_batch_item`]: keeps it or rolls it back.
    pub fn end_batch_item(&mut self, keep: bool) -> Result<(), StoreError> {
        if !self.batch {
            return Ok(());
        }
        let statement = if keep {
            "RELEASE batch_item"
        } else {
            "ROLLBACK TO batch_item; RELEASE batch_item"
        };
        self.conn
            .execute_batch(statement)
            .map_err(sql(&self.path, "recording a poll in a group commit"))
    }

    /// Ends the batch: commits it (or, with `commit` false, rolls it back). Nothing
    /// written inside the batch is durable before this returns `Ok`.
    pub fn end_batch(&mut self, commit: bool) -> Result<(), StoreError> {
        if !self.batch {
            return Ok(());
        }
        self.batch = false;
        let (statement, context) = if commit {
            ("COMMIT", "committing a group commit")
        } else {
            ("ROLLBACK", "rolling back a group commit")
        };
        let done = self.conn.execute_batch(statement);
        if done.is_err() && !self.conn.is_autocommit() {
            // A failed COMMIT leaves the transaction open: give it up rather than let the
            // next write nest in it.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        done.map_err(sql(&self.path, context))
    }
}

fn count_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<usize> {
    let n: i64 = row.get(idx)?;
    usize::try_from(n)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, Box::new(e)))
}
