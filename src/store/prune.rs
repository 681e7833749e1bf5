//! Pruning: keeps the file bounded under steady churn.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::error::{StoreError, sql};
use super::{Store, ts};

/// How long sent digests, and the outbox rows that prove what they carried, are kept.
pub const SENT_RETENTION: Duration = Duration::from_secs(30 * 86_400);

/// The page cache while pruning, as a negative-KiB `cache_size` (SQLite's default 2 MB).
const PRUNE_CACHE_KIB: i64 = -2000;

/// What one [`Store::prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PruneStats {
    /// Seen keys absent from their feed for the retention.
    pub seen: usize,
    /// Feeds not polled at all for the retention (removed from the config).
    pub feeds: usize,
    /// Sent digests older than their retention.
    pub digests: usize,
    /// Outbox rows of those digests.
    pub outbox: usize,
    /// Items no feed and no outbox row refers to any more.
    pub items: usize,
    /// Pages given back to the file system.
    pub pages_freed: i64,
}

fn cutoff(now: DateTime<Utc>, keep: Duration) -> i64 {
    ts(now).saturating_sub(i64::try_from(keep.as_secs()).unwrap_or(i64::MAX))
}

/// Runs a `DELETE ... RETURNING item_id` and collects the ids (one per row deleted).
fn deleted_item_ids(
    tx: &rusqlite::Connection,
    delete: &str,
    before: i64,
) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = tx.prepare(delete)?;
    stmt.query_map([before], |r| r.get(0))?.collect()
}

impl Store {
    /// Removes what is no longer needed to recognise items or to prove delivery:
    ///
    /// - seen keys whose `last_seen` is older than `retention`. Every successful poll bumps
    ///   the keys it lists, so these are absent from their feed that long, or their feed
    ///   has not answered for that long; such a feed then counts as never polled, so its
    ///   return follows `first_poll` instead of alerting on everything it lists;
    /// - feeds not even attempted for `retention` (gone from the config);
    /// - sent digests older than `sent_retention`, with their outbox rows;
    /// - items nothing refers to any more.
    ///
    /// Pending matches and pending or failed digests are never removed.
    pub fn prune(
        &mut self,
        now: DateTime<Utc>,
        retention: Duration,
        sent_retention: Duration,
    ) -> Result<PruneStats, StoreError> {
        // The scans below read every page of `seen` once: with the writer's own cache they
        // would fill all of it with pages nothing reads again.
        self.set_cache_size(PRUNE_CACHE_KIB)?;
        let pruned = self.prune_with(now, retention, sent_retention);
        let restored = self.set_cache_size(super::schema::CACHE_KIB);
        let stats = pruned?;
        restored?;
        Ok(stats)
    }

    fn set_cache_size(&self, kib: i64) -> Result<(), StoreError> {
        self.conn
            .pragma_update(None, "cache_size", kib)
            .map_err(sql(&self.path, "setting the cache size"))
    }

    fn prune_with(
        &mut self,
        now: DateTime<Utc>,
        retention: Duration,
        sent_retention: Duration,
    ) -> Result<PruneStats, StoreError> {
        let keep_seen = cutoff(now, retention);
        let keep_sent = cutoff(now, sent_retention);
        let mut stats = self.write("pruning", |tx, path| {
            let err = sql(path, "pruning");
            // Only the items whose last reference goes here can become orphans (every item
            // is stored with its first seen key, and only pruning deletes anything): they are
            // checked one by one instead of scanning every item of the file.
            let mut candidates = deleted_item_ids(
                tx,
                "DELETE FROM seen WHERE last_seen < ?1 RETURNING item_id",
                keep_seen,
            )
            .map_err(&err)?;
            let mut s = PruneStats {
                seen: candidates.len(),
                ..PruneStats::default()
            };
            tx.execute(
                "UPDATE feeds SET polled_ok = 0, etag = NULL, last_modified = NULL
                 WHERE polled_ok = 1 AND coalesce(last_success, 0) < ?1",
                [keep_seen],
            )
            .map_err(&err)?;
            s.feeds = tx
                .execute(
                    "DELETE FROM feeds WHERE coalesce(last_poll, health_since, 0) < ?1",
                    [keep_seen],
                )
                .map_err(&err)?;
            const OLD_SENT: &str = "SELECT id FROM digests WHERE status = 'sent' AND sent_at < ?1";
            let sent = deleted_item_ids(
                tx,
                &format!("DELETE FROM outbox WHERE digest_id IN ({OLD_SENT}) RETURNING item_id"),
                keep_sent,
            )
            .map_err(&err)?;
            s.outbox = sent.len();
            candidates.extend(sent);
            s.digests = tx
                .execute(
                    "DELETE FROM digests WHERE status = 'sent' AND sent_at < ?1",
                    params![keep_sent],
                )
                .map_err(&err)?;
            candidates.sort_unstable();
            candidates.dedup();
            let mut orphan = tx
                .prepare(
                    "DELETE FROM items WHERE id = ?1
                     AND NOT EXISTS (SELECT 1 FROM seen WHERE seen.item_id = ?1)
                     AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.item_id = ?1)",
                )
                .map_err(&err)?;
            for id in candidates {
                s.items += orphan.execute([id]).map_err(&err)?;
            }
            Ok(s)
        })?;
        stats.pages_freed = self.reclaim()?;
        Ok(stats)
    }

    /// Returns free pages to the file system and truncates the WAL, so that the files
    /// shrink rather than only stop growing.
    fn reclaim(&mut self) -> Result<i64, StoreError> {
        let err = sql(&self.path, "reclaiming free pages");
        let free: i64 = self
            .conn
            .pragma_query_value(None, "freelist_count", |r| r.get(0))
            .map_err(&err)?;
        // incremental_vacuum returns one row per page; step through them all.
        let mut stmt = self
            .conn
            .prepare("PRAGMA incremental_vacuum")
            .map_err(&err)?;
        let mut rows = stmt.query([]).map_err(&err)?;
        while rows.next().map_err(&err)?.is_some() {}
        drop(rows);
        drop(stmt);
        // A reader holding an old snapshot can keep the checkpoint from finishing; the
        // next prune catches up, so its "busy" answer is not an error.
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(&err)?;
        Ok(free)
    }
}
