//! Pruning: keeps the file bounded under steady churn.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::error::{StoreError, sql};
use super::{Store, ts};

/// How long sent digests, and the outbox rows that prove what they carried, are kept.
pub const SENT_RETENTION: Duration = Duration::from_secs(30 * 86_400);

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
        let keep_seen = cutoff(now, retention);
        let keep_sent = cutoff(now, sent_retention);
        let mut stats = self.write("pruning", |tx, path| {
            let err = sql(path, "pruning");
            let mut s = PruneStats {
                seen: tx
                    .execute("DELETE FROM seen WHERE last_seen < ?1", [keep_seen])
                    .map_err(&err)?,
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
            s.outbox = tx
                .execute(
                    &format!("DELETE FROM outbox WHERE digest_id IN ({OLD_SENT})"),
                    params![keep_sent],
                )
                .map_err(&err)?;
            s.digests = tx
                .execute(
                    "DELETE FROM digests WHERE status = 'sent' AND sent_at < ?1",
                    params![keep_sent],
                )
                .map_err(&err)?;
            s.items = tx
                .execute(
                    "DELETE FROM items WHERE
                         NOT EXISTS (SELECT 1 FROM seen WHERE seen.item_id = items.id)
                     AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.item_id = items.id)",
                    [],
                )
                .map_err(&err)?;
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
