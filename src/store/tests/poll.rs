use super::*;
use crate::store::{Health, StoreError};

#[test]
fn an_item_is_new_once_per_feed() {
    let (_dir, mut store) = fresh();
    let items = vec![item("a"), item("b")];
    assert_eq!(store.unseen("tass", &items).unwrap(), [true, true]);
    assert_eq!(
        poll(&mut store, "tass", at(0, 0), items.clone(), &[]).new_items,
        2
    );
    assert_eq!(store.unseen("tass", &items).unwrap(), [false, false]);
    assert_eq!(
        poll(&mut store, "tass", at(0, 1), items.clone(), &[]).new_items,
        0
    );
    // Another feed has its own seen state.
    assert_eq!(store.unseen("ria", &items).unwrap(), [true, true]);
    assert_eq!(poll(&mut store, "ria", at(0, 1), items, &[]).new_items, 2);
}

#[test]
fn edits_do_not_make_an_item_new() {
    let (_dir, mut store) = fresh();
    poll(&mut store, "tass", at(0, 0), vec![item("a")], &[]);
    let mut edited = item("a");
    edited.title = "Corrected title".into();
    edited.summary = "Rewritten".into();
    edited.content = "All new text".into();
    edited.published = Some(at(3, 0));
    assert_eq!(
        store.unseen("tass", std::slice::from_ref(&edited)).unwrap(),
        [false]
    );
    let s = poll(
        &mut store,
        "tass",
        at(0, 1),
        vec![edited],
        &[(0, "r", "console")],
    );
    assert_eq!(
        (s.new_items, s.new_matches),
        (0, 0),
        "matches of a seen item are ignored"
    );
}

#[test]
fn an_item_that_leaves_and_comes_back_is_not_new() {
    let (_dir, mut store) = fresh();
    poll(
        &mut store,
        "tass",
        at(0, 0),
        vec![item("a"), item("b")],
        &[],
    );
    poll(&mut store, "tass", at(1, 0), vec![item("b")], &[]);
    poll(
        &mut store,
        "tass",
        at(2, 0),
        vec![item("b"), item("c")],
        &[],
    );
    let s = poll(
        &mut store,
        "tass",
        at(3, 0),
        vec![item("a"), item("b"), item("c")],
        &[],
    );
    assert_eq!(s.new_items, 0);
}

#[test]
fn a_key_repeated_in_one_document_is_new_once() {
    let (_dir, mut store) = fresh();
    let items = vec![item("a"), item("a")];
    assert_eq!(store.unseen("tass", &items).unwrap(), [true, false]);
    let s = poll(
        &mut store,
        "tass",
        at(0, 0),
        items,
        &[(0, "r", "console"), (1, "r", "console")],
    );
    assert_eq!((s.new_items, s.new_matches), (1, 1));
}

/// The same article through two feeds: one outbox row per destination, both feeds named.
#[test]
fn cross_feed_duplicates_are_reported_once_naming_both_feeds() {
    type Edit = fn(&mut Item);
    let cases: &[(&str, Edit)] = &[
        ("same global guid, different links", |i| {
            i.guid = Some("tag:example.org,2024:a".into());
            i.key = "guid:tag:example.org,2024:a".into();
            i.link = Some("https://mirror.example.net/a?utm_source=x".into());
            i.norm_link = Some("https://mirror.example.net/a".into());
        }),
        ("same normalised link, different guids", |i| {
            i.guid = Some("ria-77".into());
            i.key = "guid:ria-77".into();
        }),
        ("no guid, same link", |i| {
            i.guid = None;
            i.key = "link:https://example.org/news/a".into();
        }),
    ];
    for (case, second_copy) in cases {
        let (_dir, mut store) = fresh();
        let mut first = item("a");
        first.guid = Some("tag:example.org,2024:a".into());
        first.key = "guid:tag:example.org,2024:a".into();
        let mut second = item("a");
        second.title = "Reworded by the second feed".into();
        second_copy(&mut second);
        poll(
            &mut store,
            "tass",
            at(0, 0),
            vec![first],
            &[(0, "csto", "console"), (0, "csto", "mail")],
        );
        let s = poll(
            &mut store,
            "ria",
            at(0, 1),
            vec![second],
            &[(0, "lavrov", "console")],
        );
        assert_eq!((s.new_items, s.new_matches, s.merged), (1, 0, 1), "{case}");
        assert_eq!(store.pending_matches("console").unwrap(), 1, "{case}");
        let digests = assembled(&mut store, "console", 100, at(0, 2));
        assert_eq!(digests.len(), 1, "{case}");
        let d = &digests[0].items[0];
        assert_eq!(d.feeds, ["tass", "ria"], "{case}");
        assert_eq!(d.feed, "tass", "{case}");
        assert_eq!(d.rules, ["csto", "lavrov"], "{case}");
        assert_eq!(d.title, "Title of a", "{case}: the first copy is reported");
        assert_eq!(store.pending_matches("mail").unwrap(), 1, "{case}");
    }
}

/// An entry whose global guid names one stored item and whose link names another, older
/// one joins the item its guid names: a guid says which article, a link only where.
#[test]
fn a_guid_match_wins_over_an_older_link_match() {
    let (_dir, mut store) = fresh();
    let global = |guid: &str, link: &str| {
        let mut i = item(guid);
        i.guid = Some(format!("tag:example.org,2024:{guid}"));
        i.key = format!("guid:tag:example.org,2024:{guid}");
        i.link = Some(format!("https://example.org/news/{link}"));
        i.norm_link = i.link.clone();
        i
    };
    for (feed, hour, id) in [("tass", 0, "a"), ("ria", 1, "b")] {
        let first = vec![global(id, id)];
        poll(&mut store, feed, at(0, hour), first, &[(0, "r", "console")]);
    }
    // Guid of b, link of a (the older item).
    let s = poll(
        &mut store,
        "interfax",
        at(0, 2),
        vec![global("b", "a")],
        &[(0, "r", "console")],
    );
    assert_eq!((s.new_items, s.new_matches, s.merged), (1, 0, 1));
    let digests = assembled(&mut store, "console", 100, at(0, 3));
    let feeds: Vec<_> = digests[0].items.iter().map(|d| d.feeds.clone()).collect();
    assert_eq!(feeds, [vec!["tass"], vec!["ria", "interfax"]]);

    // Without a guid match the oldest link match wins: tass itself later lists another
    // article under a's link (a feed never joins its own items), then rbc has one with
    // that link and no guid.
    poll(&mut store, "tass", at(0, 4), vec![global("e", "a")], &[]);
    assert_eq!(count(&store, "items"), 3);
    let mut c = global("c", "a");
    c.guid = None;
    c.key = "link:https://example.org/news/a".into();
    poll(&mut store, "rbc", at(0, 5), vec![c], &[(0, "r", "console")]);
    assert_eq!(count(&store, "items"), 3);
    let feeds_of = |guid: &str| -> Vec<String> {
        let mut s = store
            .conn
            .prepare(
                "SELECT f.feed FROM item_feeds f JOIN items i ON i.id = f.item_id
                 WHERE i.guid = ?1 ORDER BY f.rowid",
            )
            .unwrap();
        s.query_map([format!("tag:example.org,2024:{guid}")], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(feeds_of("a"), ["tass", "rbc"]);
    assert_eq!(feeds_of("e"), ["tass"]);
}

#[test]
fn a_duplicate_arriving_after_its_digest_is_not_reported_again() {
    let (_dir, mut store) = fresh();
    poll(
        &mut store,
        "tass",
        at(0, 0),
        vec![item("a")],
        &[(0, "csto", "console")],
    );
    assembled(&mut store, "console", 100, at(0, 1));
    let s = poll(
        &mut store,
        "ria",
        at(0, 2),
        vec![item("a")],
        &[(0, "csto", "console")],
    );
    assert_eq!((s.new_items, s.new_matches, s.already_reported), (1, 0, 1));
    assert_eq!(store.pending_matches("console").unwrap(), 0);
    assert!(assembled(&mut store, "console", 100, at(0, 3)).is_empty());
}

#[test]
fn local_guids_and_shared_links_do_not_merge_distinct_articles() {
    let (_dir, mut store) = fresh();
    // Two feeds numbering their entries "42": different articles.
    let mut a = item("42");
    a.link = None;
    a.norm_link = None;
    let mut b = a.clone();
    b.title = "Something else".into();
    poll(
        &mut store,
        "tass",
        at(0, 0),
        vec![a],
        &[(0, "r", "console")],
    );
    poll(&mut store, "ria", at(0, 0), vec![b], &[(0, "r", "console")]);
    assert_eq!(store.pending_matches("console").unwrap(), 2);

    // One feed giving every entry its home page as link: still distinct entries.
    let home = |id: &str| {
        let mut i = item(id);
        i.link = Some("https://example.com/".into());
        i.norm_link = Some("https://example.com/".into());
        i
    };
    let s = poll(
        &mut store,
        "blog",
        at(0, 0),
        vec![home("x1"), home("x2")],
        &[(0, "r", "console"), (1, "r", "console")],
    );
    assert_eq!((s.new_items, s.new_matches), (2, 2));
}

#[test]
fn rules_for_one_item_and_destination_fold_into_one_row() {
    let (_dir, mut store) = fresh();
    let mut c = commit("tass", at(0, 0), vec![item("a")]);
    c.matches = vec![(
        0,
        vec![
            hit("csto", "console", &["CSTO", "ОДКБ"]),
            hit("lavrov", "console", &["Lavrov", "CSTO"]),
        ],
    )];
    let s = store.commit_poll(&c).unwrap();
    assert_eq!((s.new_matches, s.merged), (1, 0));
    let d = assembled(&mut store, "console", 10, at(0, 1));
    assert_eq!(d[0].items[0].rules, ["csto", "lavrov"]);
    assert_eq!(d[0].items[0].matched, ["CSTO", "ОДКБ", "Lavrov"]);
}

#[test]
fn a_failing_commit_writes_nothing() {
    let (_dir, mut store) = fresh();
    // The empty destination violates a CHECK constraint after items and seen rows are in.
    let mut c = commit("tass", at(0, 0), vec![item("a"), item("b")]);
    c.matches = vec![
        (0, vec![hit("r", "console", &[])]),
        (1, vec![hit("r", "", &[])]),
    ];
    let err = store.commit_poll(&c).unwrap_err();
    assert!(matches!(err, StoreError::Sqlite { .. }), "{err:?}");
    assert_eq!(store.feed_state("tass").unwrap(), None);
    assert_eq!(store.unseen("tass", &c.items).unwrap(), [true, true]);
    for table in ["feeds", "items", "seen", "item_feeds", "outbox"] {
        assert_eq!(count(&store, table), 0, "{table}");
    }
    // A match naming an item that is not there is refused before anything is written.
    c.matches = vec![(5, vec![hit("r", "console", &[])])];
    assert!(matches!(
        store.commit_poll(&c),
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(count(&store, "seen"), 0);
}

#[test]
fn failures_never_touch_seen_state() {
    let (_dir, mut store) = fresh();
    let mut c = commit("tass", at(0, 0), vec![item("a")]);
    c.etag = Some("W/\"5f-abc\"".into());
    c.last_modified = Some("Fri, 01 Mar 2024 00:00:00 GMT".into());
    store.commit_poll(&c).unwrap();
    let n1 = store
        .record_failure(
            "tass",
            at(0, 1),
            Some(503),
            "503 Service Unavailable",
            at(0, 2),
        )
        .unwrap();
    let n2 = store
        .record_failure("tass", at(0, 2), None, "connection refused", at(0, 4))
        .unwrap();
    assert_eq!((n1, n2), (1, 2));
    assert_eq!(store.unseen("tass", &[item("a")]).unwrap(), [false]);
    assert_eq!(count(&store, "seen"), 1);
    let st = store.feed_state("tass").unwrap().unwrap();
    assert_eq!(st.failures, 2);
    assert_eq!(st.http_status, None);
    assert_eq!(st.last_error.as_deref(), Some("connection refused"));
    assert_eq!(st.last_success, Some(at(0, 0)));
    assert_eq!(st.next_poll, Some(at(0, 4)));
    assert_eq!(
        st.etag.as_deref(),
        Some("W/\"5f-abc\""),
        "validators kept verbatim"
    );
    assert_eq!(
        st.last_modified.as_deref(),
        Some("Fri, 01 Mar 2024 00:00:00 GMT")
    );

    store
        .record_not_modified("tass", at(0, 5), at(0, 6))
        .unwrap();
    let st = store.feed_state("tass").unwrap().unwrap();
    assert_eq!(
        (st.failures, st.http_status, st.last_error),
        (0, Some(304), None)
    );
    assert_eq!(
        (st.last_success, st.etag.as_deref()),
        (Some(at(0, 5)), Some("W/\"5f-abc\""))
    );
}

#[test]
fn first_poll_flag_and_last_new_at() {
    let (_dir, mut store) = fresh();
    assert_eq!(store.feed_state("tass").unwrap(), None);
    store
        .record_failure("tass", at(0, 0), Some(404), "404", at(0, 1))
        .unwrap();
    assert!(
        !store.feed_state("tass").unwrap().unwrap().polled_ok,
        "a failure is not a first poll"
    );
    poll(&mut store, "tass", at(0, 1), vec![item("a")], &[]);
    let st = store.feed_state("tass").unwrap().unwrap();
    assert!(st.polled_ok);
    assert_eq!((st.failures, st.last_new_at), (0, Some(at(0, 1))));
    poll(&mut store, "tass", at(0, 2), vec![item("a")], &[]);
    assert_eq!(
        store.feed_state("tass").unwrap().unwrap().last_new_at,
        Some(at(0, 1))
    );
}

#[test]
fn health_stale_flag_and_feed_status() {
    let (_dir, mut store) = fresh();
    poll(
        &mut store,
        "tass",
        at(0, 0),
        vec![item("a"), item("b")],
        &[],
    );
    store
        .record_failure("ria", at(0, 0), Some(403), "403 Forbidden", at(0, 1))
        .unwrap();
    store.set_health("ria", Health::Failing, at(0, 0)).unwrap();
    store.set_stale_notified("tass", true).unwrap();
    store.set_next_poll("tass", at(0, 9)).unwrap();
    let st = store.feed_state("ria").unwrap().unwrap();
    assert_eq!(
        (st.health, st.health_since),
        (Health::Failing, Some(at(0, 0)))
    );
    assert!(store.feed_state("tass").unwrap().unwrap().stale_notified);

    let status = store.feeds_status().unwrap();
    let names: Vec<_> = status.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["ria", "tass"]);
    assert_eq!(
        (
            status[0].items_seen,
            status[0].health,
            status[0].http_status
        ),
        (0, Health::Failing, Some(403))
    );
    assert_eq!(
        (status[1].items_seen, status[1].next_poll),
        (2, Some(at(0, 9)))
    );
    let json = serde_json::to_value(&status[0]).unwrap();
    assert_eq!(json["health"], "failing");
    assert_eq!(json["last_error"], "403 Forbidden");
}

/// Entries with neither guid nor link are joined across feeds by their content-hash key
/// alone, and never to an item that has a link.
#[test]
fn entries_without_guid_or_link_join_by_content_hash() {
    let bare = |key: &str| {
        let mut i = item("a");
        (i.guid, i.link, i.norm_link) = (None, None, None);
        i.key = key.into();
        i
    };
    let (_dir, mut store) = fresh();
    let hit = &[(0, "r", "console")];
    poll(&mut store, "tass", at(0, 0), vec![bare("hash:0011")], hit);
    // A linked item whose key happens to be the same text is not a candidate.
    let mut linked = item("b");
    linked.key = "hash:0022".into();
    poll(&mut store, "tass", at(0, 0), vec![linked], hit);
    let cases = [
        (
            "ria",
            "hash:0011",
            2,
            1,
            "same text through another feed: one item",
        ),
        ("ria", "hash:0022", 3, 0, "only a linked item has that key"),
        ("rbc", "hash:0033", 4, 0, "different text"),
        ("rbc", "hash:0011", 4, 1, "a third feed with the first text"),
    ];
    for (feed, key, items, merged, case) in cases {
        let s = poll(&mut store, feed, at(0, 1), vec![bare(key)], hit);
        assert_eq!((s.new_items, s.merged), (1, merged), "{case}");
        assert_eq!(count(&store, "items"), items, "{case}");
    }
}

/// A statement SQLite re-prepares whenever a new value is bound (as it does when a
/// partial index makes a parameter plan-relevant) costs a full parse per item.
#[test]
fn no_statement_of_the_poll_commit_is_ever_re_prepared() {
    let (_dir, mut store) = fresh();
    let bare = |n: u32| {
        let mut i = item(&format!("bare{n}"));
        (i.guid, i.link, i.norm_link) = (None, None, None);
        i.key = format!("hash:{n:04}");
        i
    };
    let hits = &[(0, "r", "console"), (1, "r", "console")];
    for n in 0..6u32 {
        let feed = ["tass", "ria"][n as usize % 2];
        // Items shared by both feeds merge into existing outbox rows.
        let items = vec![
            item(&format!("a{}", n / 2)),
            bare(n / 2),
            item(&format!("b{n}")),
        ];
        poll(&mut store, feed, at(0, n.into()), items.clone(), hits);
        poll(&mut store, feed, at(1, n.into()), items, hits);
    }
    for sql in crate::store::commit::ALL {
        let stmt = store.conn.prepare_cached(sql).unwrap();
        assert_eq!(
            stmt.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "{sql}"
        );
    }
}
