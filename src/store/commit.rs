//! The poll commit: seen keys, linking new entries to global items, outbox inserts.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::error::{StoreError, sql};
use super::feeds::{CommitSummary, PollCommit};
use super::{json_list, json_list_at, ts};
use crate::model::Item;

/// Characters of summary (else content) kept for an item that matched, for its digest.
const SNIPPET_CHARS: usize = 600;

// The statements of the poll commit, each prepared once per connection and cached. None
// has a RETURNING clause or an ORDER BY that no index gives: either makes SQLite open a
// temporary B-tree (page buffers, a page cache, a hash table) each time it runs, several
// times per new item, and that allocator traffic is what the writer thread waited on.
pub(super) const SEEN_BUMP: &str = "UPDATE seen SET last_seen = ?3 WHERE feed = ?1 AND key = ?2";
pub(super) const SEEN_INSERT: &str =
    "INSERT INTO seen (feed, key, item_id, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)";
pub(super) const ITEM_FEED_INSERT: &str =
    "INSERT OR IGNORE INTO item_feeds (item_id, feed, first_seen) VALUES (?1, ?2, ?3)";
pub(super) const SNIPPET_UPDATE: &str =
    "UPDATE items SET summary = ?2 WHERE id = ?1 AND summary = ''";
pub(super) const FEED_UPSERT: &str = "
    INSERT INTO feeds (name, etag, last_modified, last_poll, last_success, http_status,
                       next_poll, polled_ok, last_new_at, source)
    VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, 1, iif(?7, ?4, NULL), ?8)
    ON CONFLICT (name) DO UPDATE SET etag = ?2, last_modified = ?3, last_poll = ?4,
        last_success = ?4, http_status = ?5, failures = 0, last_error = NULL,
        next_poll = ?6, polled_ok = 1, last_new_at = iif(?7, ?4, feeds.last_new_at),
        source = coalesce(?8, feeds.source)";
/// Both cross-feed probes in one statement (SQLite answers the OR from both indexes): a
/// guid match wins over a link match, then the oldest item. One row, NULL for no match.
pub(super) const FIND_BY_GUID_OR_LINK: &str = "
    SELECT coalesce(min(iif(guid = ?1, id, NULL)), min(id)) FROM items
    WHERE (guid = ?1 OR norm_link = ?2)
        AND NOT EXISTS (SELECT 1 FROM item_feeds f WHERE f.item_id = items.id AND f.feed = ?3)";
pub(super) const FIND_BY_KEY: &str = "
    SELECT id FROM items WHERE key = ?1 AND norm_link IS NULL
        AND NOT EXISTS (SELECT 1 FROM item_feeds f WHERE f.item_id = items.id AND f.feed = ?2)
    ORDER BY id LIMIT 1";
pub(super) const ITEM_INSERT: &str = "
    INSERT INTO items (key, guid, norm_link, title, link, published, summary, first_seen)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
pub(super) const OUTBOX_READ: &str =
    "SELECT digest_id IS NULL, rules, matched FROM outbox WHERE item_id = ?1 AND destination = ?2";
pub(super) const OUTBOX_INSERT: &str = "
    INSERT INTO outbox (item_id, destination, rules, matched, created_at)
    VALUES (?1, ?2, ?3, ?4, ?5)";
pub(super) const OUTBOX_MERGE: &str =
    "UPDATE outbox SET rules = ?3, matched = ?4 WHERE item_id = ?1 AND destination = ?2";

/// Every statement of the poll commit, for the test that none is ever re-prepared.
#[cfg(test)]
pub(super) const ALL: [&str; 11] = [
    SEEN_BUMP,
    SEEN_INSERT,
    ITEM_FEED_INSERT,
    SNIPPET_UPDATE,
    FEED_UPSERT,
    FIND_BY_GUID_OR_LINK,
    FIND_BY_KEY,
    ITEM_INSERT,
    OUTBOX_READ,
    OUTBOX_INSERT,
    OUTBOX_MERGE,
];

/// (item id, index in the poll, destination, rules, matched words): one outbox row.
type Group<'a> = (i64, usize, &'a str, Vec<String>, Vec<String>);

pub(super) fn commit_poll(
    tx: &Connection,
    path: &Path,
    c: &PollCommit,
) -> Result<CommitSummary, StoreError> {
    let now = ts(c.now);
    let matched: HashSet<usize> = c
        .matches
        .iter()
        .filter(|(_, e)| !e.is_empty())
        .map(|(i, _)| *i)
        .collect();
    let mut summary = CommitSummary::default();
    let mut new_ids: Vec<Option<i64>> = vec![None; c.items.len()];
    for (i, item) in c.items.iter().enumerate() {
        let seen = tx
            .prepare_cached(SEEN_BUMP)
            .and_then(|mut s| s.execute(params![c.feed, item.key, now]))
            .map_err(sql(path, "updating seen items"))?;
        if seen > 0 {
            continue;
        }
        let id = match find_global(tx, path, &c.feed, item)? {
            Some(id) => id,
            None => insert_item(tx, path, item, matched.contains(&i), now)?,
        };
        tx.prepare_cached(SEEN_INSERT)
            .and_then(|mut s| s.execute(params![c.feed, item.key, id, now]))
            .map_err(sql(path, "recording a new item"))?;
        tx.prepare_cached(ITEM_FEED_INSERT)
            .and_then(|mut s| s.execute(params![id, c.feed, now]))
            .map_err(sql(path, "linking an item to its feed"))?;
        new_ids[i] = Some(id);
        summary.new_items += 1;
    }

    // One outbox row per (item, destination): fold every rule that matched it here.
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut index: HashMap<(i64, &str), usize> = HashMap::new();
    for (i, entries) in &c.matches {
        let Some(id) = new_ids.get(*i).copied().flatten() else {
            continue;
        };
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
        tx.prepare_cached(SNIPPET_UPDATE)
            .and_then(|mut s| s.execute(params![id, c.items.get(*i).map(snippet)]))
            .map_err(sql(path, "storing an item snippet"))?;
    }
    // Written last, when the number of new items is known: one statement instead of two.
    tx.prepare_cached(FEED_UPSERT)
        .and_then(|mut s| {
            s.execute(params![
                c.feed,
                c.etag,
                c.last_modified,
                now,
                c.http_status,
                ts(c.next_poll),
                summary.new_items > 0,
                c.source
            ])
        })
        .map_err(sql(path, "updating the feed row"))?;
    Ok(summary)
}

/// A guid that can be trusted to name one article across publishers: a URL, URN, tag URI
/// or UUID, not a feed-local counter such as `"1234"`.
fn guid_is_global(guid: &str) -> bool {
    guid.len() >= 16 || guid.contains(':') || guid.contains('/')
}

/// The global item another feed already stored for this entry, if any: the oldest with
/// the same global guid, else the oldest with the same normalised link, else (for an
/// entry with neither guid nor link) the oldest with the same content-hash key.
fn find_global(
    tx: &Connection,
    path: &Path,
    feed: &str,
    item: &Item,
) -> Result<Option<i64>, StoreError> {
    let guid = item.guid.as_deref().filter(|g| guid_is_global(g));
    let link = item.norm_link.as_deref();
    let err = sql(path, "looking up an item");
    if guid.is_some() || link.is_some() {
        return tx
            .prepare_cached(FIND_BY_GUID_OR_LINK)
            .and_then(|mut s| s.query_row(params![guid, link, feed], |r| r.get(0)))
            .map_err(err);
    }
    if item.guid.is_some() {
        // A feed-local guid names nothing outside its feed.
        return Ok(None);
    }
    // Without guid and link the key is a hash of the text (see `identity::base_key`), and
    // only items without a link can carry one: the partial `items_key` index.
    tx.prepare_cached(FIND_BY_KEY)
        .and_then(|mut s| {
            s.query_row(params![item.key, feed], |r| r.get(0))
                .optional()
        })
        .map_err(err)
}

fn insert_item(
    tx: &Connection,
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
    tx.prepare_cached(ITEM_INSERT)
        .and_then(|mut s| {
            s.execute(params![
                item.key,
                item.guid,
                item.norm_link,
                item.title,
                item.link,
                item.published.map(ts),
                summary,
                now
            ])
        })
        .map_err(sql(path, "storing a new item"))?;
    Ok(tx.last_insert_rowid())
}

fn upsert_outbox(
    tx: &Connection,
    path: &Path,
    (id, destination): (i64, &str),
    rules: &[String],
    words: &[String],
    now: i64,
    summary: &mut CommitSummary,
) -> Result<(), StoreError> {
    let existing = tx
        .prepare_cached(OUTBOX_READ)
        .and_then(|mut s| {
            s.query_row(params![id, destination], |r| {
                Ok((
                    r.get::<_, bool>(0)?,
                    json_list_at(r, 1)?,
                    json_list_at(r, 2)?,
                ))
            })
            .optional()
        })
        .map_err(sql(path, "reading the outbox"))?;
    match existing {
        None => {
            tx.prepare_cached(OUTBOX_INSERT)
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
            tx.prepare_cached(OUTBOX_MERGE)
                .and_then(|mut s| {
                    s.execute(params![
                        id,
                        destination,
                        json_list(&old_rules),
                        json_list(&old_words)
                    ])
                })
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
