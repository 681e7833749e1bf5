//! Read-only summaries for `feedwatch status` (also while the daemon runs).

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::error::{StoreError, sql};
use super::feeds::Health;
use super::{Store, count_at, time_at};

/// One feed as `feedwatch status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedStatus {
    pub name: String,
    pub last_poll: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub http_status: Option<u16>,
    /// Keys of this feed the store remembers.
    pub items_seen: usize,
    /// Consecutive failures.
    pub failures: u32,
    pub next_poll: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub health: Health,
}

/// A digest that stopped retrying, with the destination's reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedDigest {
    pub id: String,
    pub created_at: Option<DateTime<Utc>>,
    pub attempts: u32,
    pub last_attempt: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// One destination as `feedwatch status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DestinationStatus {
    pub name: String,
    /// Matches not yet in a digest.
    pub pending_matches: usize,
    /// Digests committed and not yet accepted (including those waiting to retry).
    pub pending_digests: usize,
    pub next_due: Option<DateTime<Utc>>,
    /// The earliest attempt due for a pending digest.
    pub next_retry: Option<DateTime<Utc>>,
    pub last_delivery: Option<DateTime<Utc>>,
    pub failed: Vec<FailedDigest>,
}

impl Store {
    /// Every feed the store has a row for, by name.
    pub fn feeds_status(&self) -> Result<Vec<FeedStatus>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT f.name, f.last_poll, f.last_success, f.http_status,
                        (SELECT count(*) FROM seen s WHERE s.feed = f.name),
                        f.failures, f.next_poll, f.last_error, f.health
                 FROM feeds f ORDER BY f.name",
            )
            .map_err(sql(&self.path, "reading feed status"))?;
        stmt.query_map([], |r| {
            Ok(FeedStatus {
                name: r.get(0)?,
                last_poll: time_at(r, 1)?,
                last_success: time_at(r, 2)?,
                http_status: r.get(3)?,
                items_seen: count_at(r, 4)?,
                failures: r.get(5)?,
                next_poll: time_at(r, 6)?,
                last_error: r.get(7)?,
                health: Health::parse(&r.get::<_, String>(8)?),
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(sql(&self.path, "reading feed status"))
    }

    /// The named destinations (those in the config), in the order given.
    pub fn destinations_status<S: AsRef<str>>(
        &self,
        names: &[S],
    ) -> Result<Vec<DestinationStatus>, StoreError> {
        names
            .iter()
            .map(|n| self.destination_status(n.as_ref()))
            .collect()
    }

    fn destination_status(&self, name: &str) -> Result<DestinationStatus, StoreError> {
        let err = sql(&self.path, "reading destination status");
        let (next_due, last_delivery) = self
            .conn
            .query_row(
                "SELECT next_due, last_delivery FROM destinations WHERE name = ?1",
                [name],
                |r| Ok((time_at(r, 0)?, time_at(r, 1)?)),
            )
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok((None, None)),
                e => Err(e),
            })
            .map_err(&err)?;
        let pending_digests = self
            .conn
            .query_row(
                "SELECT count(*) FROM digests WHERE destination = ?1 AND status = 'pending'",
                [name],
                |r| count_at(r, 0),
            )
            .map_err(&err)?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, created_at, attempts, last_attempt, last_error FROM digests
                 WHERE destination = ?1 AND status = 'failed' ORDER BY created_at, rowid",
            )
            .map_err(&err)?;
        let failed = stmt
            .query_map(params![name], |r| {
                Ok(FailedDigest {
                    id: r.get(0)?,
                    created_at: time_at(r, 1)?,
                    attempts: r.get(2)?,
                    last_attempt: time_at(r, 3)?,
                    error: r.get(4)?,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(&err)?;
        Ok(DestinationStatus {
            name: name.to_string(),
            pending_matches: self.pending_matches(name)?,
            pending_digests,
            next_due,
            next_retry: self.next_retry(name)?,
            last_delivery,
            failed,
        })
    }
}

/// Row counts and file pages: what the state database holds, for sizing and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SizeStats {
    pub feeds: usize,
    pub items: usize,
    pub seen: usize,
    pub outbox: usize,
    pub digests: usize,
    pub page_size: i64,
    pub pages: i64,
    pub free_pages: i64,
}

impl Store {
    /// Counts every table's rows (a full scan of each: not for hot paths).
    pub fn size_stats(&self) -> Result<SizeStats, StoreError> {
        let err = sql(&self.path, "measuring the database");
        let rows = |table: &str| {
            self.conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                    count_at(r, 0)
                })
                .map_err(&err)
        };
        let pragma = |name: &str| {
            self.conn
                .pragma_query_value(None, name, |r| r.get::<_, i64>(0))
                .map_err(&err)
        };
        Ok(SizeStats {
            feeds: rows("feeds")?,
            items: rows("items")?,
            seen: rows("seen")?,
            outbox: rows("outbox")?,
            digests: rows("digests")?,
            page_size: pragma("page_size")?,
            pages: pragma("page_count")?,
            free_pages: pragma("freelist_count")?,
        })
    }
}
