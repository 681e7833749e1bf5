use super::*;
use crate::store::ConfiguredFeed;

fn feeds(list: &[(&str, &str)]) -> Vec<ConfiguredFeed> {
    list.iter()
        .map(|(name, source)| ConfiguredFeed {
            name: name.to_string(),
            source: source.to_string(),
        })
        .collect()
}

/// Polls each `(name, source)` once with one item of its own, recording the source.
fn polled(store: &mut Store, list: &[(&str, &str)]) {
    for (name, source) in list {
        let mut c = commit(name, at(0, 0), vec![item(&format!("{name}-item"))]);
        c.source = Some(source.to_string());
        store.commit_poll(&c).unwrap();
    }
}

fn names(store: &Store) -> Vec<(String, Option<String>)> {
    let mut stmt = store
        .conn
        .prepare("SELECT name, source FROM feeds ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn renames_are_recognised_by_source_and_nothing_else_moves() {
    type Case<'a> = (
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a [(&'a str, &'a str)],
        &'a [(&'a str, &'a str)],
    );
    // (what, stored (name, source), configured (name, source), expected (old, new) moves
    // in the order of the new names in the config)
    let cases: &[Case<'_>] = &[
        (
            "plain rename",
            &[("a", "S1")],
            &[("b", "S1")],
            &[("a", "b")],
        ),
        (
            "rename with others reordered",
            &[("a", "S1"), ("x", "S2")],
            &[("x", "S2"), ("b", "S1")],
            &[("a", "b")],
        ),
        ("unchanged", &[("a", "S1")], &[("a", "S1")], &[]),
        (
            "url changed, name kept",
            &[("a", "S1")],
            &[("a", "S2")],
            &[],
        ),
        (
            "swapped names",
            &[("a", "S1"), ("b", "S2")],
            &[("a", "S2"), ("b", "S1")],
            &[("b", "a"), ("a", "b")],
        ),
        (
            "two configured feeds share the source",
            &[("a", "S1")],
            &[("b", "S1"), ("c", "S1")],
            &[],
        ),
        (
            "the old name is still configured for the source",
            &[("a", "S1")],
            &[("a", "S1"), ("b", "S1")],
            &[],
        ),
        (
            "the new name already has state of another removed source",
            &[("a", "S1"), ("b", "S9")],
            &[("b", "S1")],
            &[],
        ),
        (
            "a new feed",
            &[("a", "S1")],
            &[("a", "S1"), ("n", "S3")],
            &[],
        ),
    ];
    for (what, stored, configured, want) in cases {
        let (_dir, mut store) = fresh();
        polled(&mut store, stored);
        let moves = store.adopt_renamed_feeds(&feeds(configured)).unwrap();
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(moves, want, "{what}");
        for (old, new) in &want {
            let moved = item(&format!("{old}-item"));
            assert_eq!(store.unseen(new, &[moved]).unwrap(), [false], "{what}");
        }
    }
}

#[test]
fn a_renamed_feed_keeps_its_seen_items_schedule_and_links() {
    let (_dir, mut store) = fresh();
    polled(&mut store, &[("a", "S1"), ("x", "S2")]);
    let before = store.feed_state("a").unwrap().unwrap();
    let moves = store
        .adopt_renamed_feeds(&feeds(&[("x", "S2"), ("b", "S1")]))
        .unwrap();
    assert_eq!(moves, [("a".to_string(), "b".to_string())]);
    assert_eq!(store.feed_state("a").unwrap(), None);
    assert_eq!(store.feed_state("b").unwrap(), Some(before));
    assert_eq!(
        store.unseen("b", &[item("a-item")]).unwrap(),
        [false],
        "the old name's items are not new under the new one"
    );
    let links: i64 = store
        .conn
        .query_row(
            "SELECT count(*) FROM item_feeds WHERE feed = 'b'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(links, 1);
    // Doing it again changes nothing.
    assert!(
        store
            .adopt_renamed_feeds(&feeds(&[("x", "S2"), ("b", "S1")]))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn sources_are_recorded_for_rows_from_before_they_were_kept() {
    let (_dir, mut store) = fresh();
    // A row from an older database: no source.
    store
        .commit_poll(&commit("a", at(0, 0), vec![item("1")]))
        .unwrap();
    assert_eq!(names(&store), [("a".to_string(), None)]);
    assert!(
        store
            .adopt_renamed_feeds(&feeds(&[("a", "S1")]))
            .unwrap()
            .is_empty()
    );
    assert_eq!(names(&store), [("a".to_string(), Some("S1".to_string()))]);
    // From now on a rename is recognised.
    let moves = store.adopt_renamed_feeds(&feeds(&[("b", "S1")])).unwrap();
    assert_eq!(moves, [("a".to_string(), "b".to_string())]);
    assert_eq!(names(&store), [("b".to_string(), Some("S1".to_string()))]);
}

#[test]
fn a_version_1_database_gains_the_source_column_and_keeps_its_state() {
    let (dir, mut store) = fresh();
    poll(&mut store, "a", at(0, 0), vec![item("1")], &[]);
    // Turn it back into what version 1 wrote.
    store
        .conn
        .execute_batch("ALTER TABLE feeds DROP COLUMN source; PRAGMA user_version = 1;")
        .unwrap();
    drop(store);
    let mut store = Store::open(dir.path().join("state/feedwatch.db")).unwrap();
    let version: i64 = store
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    assert_eq!(store.unseen("a", &[item("1")]).unwrap(), [false]);
    assert!(
        store
            .adopt_renamed_feeds(&feeds(&[("a", "S1")]))
            .unwrap()
            .is_empty()
    );
    assert_eq!(names(&store), [("a".to_string(), Some("S1".to_string()))]);
}
