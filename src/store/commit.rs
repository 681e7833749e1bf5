//! The poll commit: seen keys, linking new entries to global items, outbox inserts.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rusqlite::{OptionalExtension, Transaction, params};

use super::error::{StoreError, sql};
use super::feeds::{CommitSummary, PollCommit};
use super::{json_list, json_list_at, ts};
use crate::model::Item;

/// Characters of summary (else content) kept for an item that matched, for its digest.
const SNIPPET_CHARS: usize = 600;

/// (item id, index in the poll, destination, rules, matched words): one outbox row.
type Group<'a> = (i64, usize, &'a str, Vec<String>, Vec<String>);

pub(super) fn commit_poll(
    tx: &Transaction<'_>,
    path: &Path,
    c: &PollCommit,
) -> Result<CommitSummary, StoreError> {
    let now = ts(c.now);
    tx.execute(
        "INSERT INTO feeds (name, etag, last_modified, last_poll, last_success, http_status,
                            next_poll, polled_ok, source)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, 1, ?7)
         ON CONFLICT (name) DO UPDATE SET etag = ?2, last_modified = ?3, last_poll = ?4,
             last_success = ?4, http_status = ?5, failures = 0, last_error = NULL,
             next_poll = ?6, polled_ok = 1, source = coalesce(?7, source)",
        params![
            c.feed,
            c.etag,
            c.last_modified,
            now,
            c.http_status,
            ts(c.next_poll),
            c.source
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
        tx.prepare_cached("UPDATE items SET summary = ?2 WHERE id = ?1 AND summary = ''")
            .and_then(|mut s| s.execute(params![id, c.items.get(*i).map(snippet)]))
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
