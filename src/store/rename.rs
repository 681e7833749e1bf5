//! Feeds renamed in the config: their state moves to the new name.
//!
//! Everything about a feed (seen keys, schedule, validators, health) is keyed by its name.
//! Without this, a renamed feed would look brand new: under `first_poll = "seen"` whatever
//! it published since its last poll would be marked seen unsent, and under `"alert"`
//! every item without a global identity would be sent again.

use std::collections::{HashMap, HashSet};

use rusqlite::params;

use super::Store;
use super::error::{StoreError, sql};

/// A configured feed for [`Store::adopt_renamed_feeds`]: its name and the identity of its
/// source (`identity::feed_source_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredFeed {
    pub name: String,
    pub source: String,
}

impl Store {
    /// Moves the state of renamed feeds to their new names, then records every configured
    /// feed's source on its row. A stored feed counts as renamed to `new` when its recorded
    /// source is `new`'s, no other configured feed has that source, `new` has no state of
    /// its own for that source, and the stored name is not configured for that source any
    /// more. Names may also swap. Returns the `(old, new)` names moved, in config order.
    pub fn adopt_renamed_feeds(
        &mut self,
        feeds: &[ConfiguredFeed],
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.write("carrying renamed feeds over", |tx, path| {
            let err = sql(path, "carrying renamed feeds over");
            let stored: HashMap<String, Option<String>> = tx
                .prepare("SELECT name, source FROM feeds")
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<Result<_, _>>()
                })
                .map_err(&err)?;
            let moves = plan(&stored, feeds);
            // Through temporary names, so that swapped names never collide.
            let temp = |n: usize| format!("\u{1}renaming {n}");
            for (n, (old, _)) in moves.iter().enumerate() {
                rename(tx, old, &temp(n)).map_err(&err)?;
            }
            for (n, (_, new)) in moves.iter().enumerate() {
                rename(tx, &temp(n), new).map_err(&err)?;
            }
            let mut record = tx
                .prepare("UPDATE feeds SET source = ?2 WHERE name = ?1")
                .map_err(&err)?;
            for f in feeds {
                record.execute(params![f.name, f.source]).map_err(&err)?;
            }
            Ok(moves)
        })
    }
}

fn rename(tx: &rusqlite::Connection, from: &str, to: &str) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE feeds SET name = ?2 WHERE name = ?1",
        params![from, to],
    )?;
    // OR REPLACE: leftovers under the new name (there should be none) give way.
    tx.execute(
        "UPDATE OR REPLACE seen SET feed = ?2 WHERE feed = ?1",
        params![from, to],
    )?;
    tx.execute(
        "UPDATE OR REPLACE item_feeds SET feed = ?2 WHERE feed = ?1",
        params![from, to],
    )?;
    Ok(())
}

/// Which stored rows move where (see [`Store::adopt_renamed_feeds`]).
fn plan(
    stored: &HashMap<String, Option<String>>,
    feeds: &[ConfiguredFeed],
) -> Vec<(String, String)> {
    let configured: HashMap<&str, &str> = feeds
        .iter()
        .map(|f| (f.name.as_str(), f.source.as_str()))
        .collect();
    let mut per_source: HashMap<&str, usize> = HashMap::new();
    for f in feeds {
        *per_source.entry(f.source.as_str()).or_default() += 1;
    }
    // A row stays where it is when its name is configured for its source (or its source
    // was never recorded, as in databases from before version 2).
    let stays = |name: &str, source: Option<&str>| {
        configured
            .get(name)
            .is_some_and(|c| source.is_none_or(|s| s == *c))
    };
    let mut moves: Vec<(String, String)> = Vec::new();
    for f in feeds {
        if per_source.get(f.source.as_str()) != Some(&1) {
            continue; // two feeds read the same source: no way to tell which one it was
        }
        if stored
            .get(&f.name)
            .is_some_and(|s| stays(&f.name, s.as_deref()))
        {
            continue;
        }
        let mut candidates = stored.iter().filter(|(name, source)| {
            *name != &f.name
                && source.as_deref() == Some(f.source.as_str())
                && !stays(name, source.as_deref())
        });
        if let (Some((old, _)), None) = (candidates.next(), candidates.next()) {
            moves.push((old.clone(), f.name.clone()));
        }
    }
    // A move onto a name whose row stays behind would merge two feeds' state: skip it.
    // Dropping one such move can strand another (whose target it was to vacate): repeat.
    loop {
        let leaving: HashSet<String> = moves.iter().map(|(old, _)| old.clone()).collect();
        let before = moves.len();
        moves.retain(|(_, new)| !stored.contains_key(new) || leaving.contains(new));
        if moves.len() == before {
            return moves;
        }
    }
}
