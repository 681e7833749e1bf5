use std::time::Duration as StdDuration;

use super::*;

const DAY: StdDuration = StdDuration::from_secs(86_400);

#[test]
fn prune_keeps_what_is_present_pending_or_failed() {
    let (_dir, mut store) = fresh();
    let gone_item = |id: &str| {
        let mut i = item(id);
        i.norm_link = None;
        i
    };
    poll(
        &mut store,
        "tass",
        at(0, 0),
        vec![item("a"), item("b")],
        &[(1, "r", "console")],
    );
    let sent = assembled(&mut store, "console", 100, at(0, 1));
    store.mark_sent(&sent[0].id, at(0, 1)).unwrap();
    poll(
        &mut store,
        "tass",
        at(1, 0),
        vec![item("a"), item("c")],
        &[(1, "r", "console")],
    );
    poll(
        &mut store,
        "tass",
        at(1, 0),
        vec![item("a"), item("f")],
        &[(1, "r", "hook")],
    );
    let failed = assembled(&mut store, "hook", 100, at(1, 1));
    store
        .mark_failed(&failed[0].id, at(1, 1), "410 Gone")
        .unwrap();
    poll(&mut store, "gone", at(0, 0), vec![gone_item("g")], &[]);
    poll(&mut store, "down", at(0, 0), vec![gone_item("d")], &[]);
    for day in 2..=100 {
        poll(&mut store, "tass", at(day, 0), vec![item("a")], &[]);
        store
            .record_failure("down", at(day, 0), None, "refused", at(day, 1))
            .unwrap();
    }

    let stats = store.prune(at(100, 0), 90 * DAY, 30 * DAY).unwrap();
    assert_eq!(
        (stats.seen, stats.feeds, stats.digests, stats.outbox),
        (5, 1, 1, 1),
        "{stats:?}"
    );
    assert_eq!(
        stats.items, 3,
        "b (sent), g and d; c and f are still owed: {stats:?}"
    );
    assert_eq!(store.integrity_check().unwrap(), "ok");

    let keys = [item("a"), item("b"), item("c")];
    assert_eq!(store.unseen("tass", &keys).unwrap(), [false, true, true]);
    assert_eq!(
        store.pending_matches("console").unwrap(),
        1,
        "c is still owed"
    );
    let owed = assembled(&mut store, "console", 100, at(100, 1));
    assert_eq!(owed[0].items[0].title, "Title of c");
    assert_eq!(
        store.destinations_status(&["hook"]).unwrap()[0]
            .failed
            .len(),
        1
    );
    assert!(store.digest(&sent[0].id).unwrap().is_none());

    assert_eq!(
        store.feed_state("gone").unwrap(),
        None,
        "not polled for the retention"
    );
    let down = store.feed_state("down").unwrap().unwrap();
    assert!(!down.polled_ok, "its return follows first_poll");
    assert_eq!(down.failures, 99);
}

#[test]
fn prune_with_nothing_old_removes_nothing() {
    let (_dir, mut store) = fresh();
    poll(
        &mut store,
        "tass",
        at(0, 0),
        vec![item("a")],
        &[(0, "r", "console")],
    );
    let stats = store.prune(at(1, 0), 90 * DAY, 30 * DAY).unwrap();
    assert_eq!(
        (
            stats.seen,
            stats.feeds,
            stats.digests,
            stats.outbox,
            stats.items
        ),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(store.pending_matches("console").unwrap(), 1);
}

fn file_size(path: &std::path::Path) -> u64 {
    let wal = path.with_extension("db-wal");
    [path, wal.as_path()]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// 30 days of 1,000 new items a day over 10 feeds, each feed listing its last 300 items,
/// 2% matching; digests sent daily; pruned daily with a 7-day retention (scaled down from
/// 90 so the steady state is reached within the month). The file must stop growing.
#[test]
fn the_file_stops_growing_under_steady_churn() {
    let (dir, mut store) = fresh();
    let path = dir.path().join("state/feedwatch.db");
    let mut sizes = Vec::new();
    for day in 0..30i64 {
        for feed in 0..10 {
            let newest = (day + 1) * 100;
            let items: Vec<Item> = (newest.saturating_sub(300)..newest)
                .map(|n| {
                    let mut i = item(&format!("f{feed}-{n}"));
                    i.summary = "Lorem ipsum dolor sit amet, consectetur adipiscing. ".repeat(4);
                    i
                })
                .collect();
            let matched: Vec<(usize, &str, &str)> = (0..items.len())
                .filter(|i| (i + 1) % 50 == 0)
                .map(|i| (i, "r", "console"))
                .collect();
            poll(
                &mut store,
                &format!("feed{feed}"),
                at(day, feed),
                items,
                &matched,
            );
        }
        for d in assembled(&mut store, "console", 100, at(day, 12)) {
            store.mark_sent(&d.id, at(day, 12)).unwrap();
        }
        store.prune(at(day, 23), 7 * DAY, 5 * DAY).unwrap();
        sizes.push(file_size(&path));
    }
    eprintln!("file size after each daily prune (bytes): {sizes:?}");
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let seen = count(&store, "seen");
    assert!(seen <= 11_000, "seen rows bounded by the retention: {seen}");
    assert!(count(&store, "items") <= 11_000 + 200);
    let (mid, end) = (sizes[14], sizes[29]);
    assert!(
        end <= mid + mid / 10,
        "file grew from {mid} bytes on day 15 to {end} on day 30: {sizes:?}"
    );
}

#[test]
fn size_stats_count_rows_and_pages_and_follow_a_prune() {
    let (_dir, mut store) = fresh();
    let empty = store.size_stats().unwrap();
    assert_eq!((empty.items, empty.seen, empty.outbox), (0, 0, 0));
    poll(
        &mut store,
        "tass",
        at(0, 0),
        vec![item("a"), item("b"), item("c")],
        &[(0, "r", "console")],
    );
    let s = store.size_stats().unwrap();
    assert_eq!(
        (s.feeds, s.items, s.seen, s.outbox, s.digests),
        (1, 3, 3, 1, 0)
    );
    // Every table and index has its own root page, so a few rows need no new ones.
    assert!(
        s.page_size >= 512 && s.pages >= empty.pages && s.pages > 10,
        "{s:?}"
    );
    // Ten days later only the pending match's item is left.
    store.prune(at(10, 0), DAY, DAY).unwrap();
    let after = store.size_stats().unwrap();
    assert_eq!(
        (after.items, after.seen, after.outbox),
        (1, 0, 1),
        "{after:?}"
    );
}
