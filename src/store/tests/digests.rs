use super::*;
use crate::store::{DigestStatus, StoreError};

/// Polls `n` new items, each matching rule `r` for `dest`, one poll per hour.
fn pending(store: &mut Store, dest: &str, n: usize) {
    for i in 0..n {
        let hour = i64::try_from(i).unwrap();
        poll(
            store,
            "tass",
            at(0, hour),
            vec![item(&format!("i{i}"))],
            &[(0, "r", dest)],
        );
    }
}

#[test]
fn assembly_snapshots_items_and_is_idempotent() {
    let (_dir, mut store) = fresh();
    let mut bare = item("bare");
    bare.guid = None;
    bare.link = None;
    bare.norm_link = None;
    bare.key = "hash:00ff".into();
    bare.summary = String::new();
    let mut c = commit("tass", at(0, 0), vec![item("a"), bare, item("quiet")]);
    c.matches = vec![
        (0, vec![hit("csto", "console", &["CSTO"])]),
        (1, vec![hit("csto", "console", &["ОДКБ"])]),
    ];
    store.commit_poll(&c).unwrap();
    assert_eq!(store.pending_matches("console").unwrap(), 2);

    let digests = assembled(&mut store, "console", 100, at(1, 0));
    assert_eq!(digests.len(), 1);
    let d = &digests[0];
    assert_eq!(
        (d.destination.as_str(), d.created_at),
        ("console", at(1, 0))
    );
    assert!(d.id.starts_with('d') && d.id.len() == 25, "{}", d.id);
    let a = &d.items[0];
    assert_eq!(a.id, "a");
    assert_eq!(a.title, "Title of a");
    assert_eq!(a.link.as_deref(), Some("https://example.org/news/a"));
    assert_eq!(
        (a.published, a.summary.as_str()),
        (Some(at(0, 0)), "Summary of a")
    );
    assert_eq!(
        (a.rules.clone(), a.matched.clone()),
        (vec!["csto".to_string()], vec!["CSTO".to_string()])
    );
    let b = &d.items[1];
    assert_eq!(
        (b.id.as_str(), b.summary.as_str()),
        ("hash:00ff", "Content of bare")
    );

    assert_eq!(store.pending_matches("console").unwrap(), 0);
    assert!(assembled(&mut store, "console", 100, at(1, 1)).is_empty());
    assert_eq!(count(&store, "digests"), 1);
    // Unmatched items keep no snippet.
    let quiet: String = store
        .conn
        .query_row(
            "SELECT summary FROM items WHERE key = 'guid:quiet'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(quiet, "");
}

#[test]
fn max_items_splits_into_complete_digests_oldest_first() {
    let (_dir, mut store) = fresh();
    pending(&mut store, "console", 5);
    let digests = assembled(&mut store, "console", 2, at(1, 0));
    let sizes: Vec<_> = digests.iter().map(|d| d.items.len()).collect();
    assert_eq!(sizes, [2, 2, 1]);
    let ids: Vec<_> = digests
        .iter()
        .flat_map(|d| d.items.iter().map(|i| i.id.as_str()))
        .collect();
    assert_eq!(ids, ["i0", "i1", "i2", "i3", "i4"]);
    let mut digest_ids: Vec<_> = digests.iter().map(|d| d.id.clone()).collect();
    digest_ids.dedup();
    assert_eq!(digest_ids.len(), 3);
    let due = store.due_digests("console", at(1, 0)).unwrap();
    let due: Vec<_> = due.into_iter().map(|d| d.digest).collect();
    assert_eq!(due, digests, "due in assembly order");
}

#[test]
fn a_digest_keeps_its_id_and_bytes_across_a_restart() {
    let (dir, mut store) = fresh();
    pending(&mut store, "hook", 3);
    let made = assembled(&mut store, "hook", 100, at(1, 0));
    drop(store);
    let mut store = Store::open(dir.path().join("state/feedwatch.db")).unwrap();
    let due = store.due_digests("hook", at(1, 0)).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].digest, made[0]);
    assert_eq!(
        serde_json::to_string(&due[0].digest).unwrap(),
        serde_json::to_string(&made[0]).unwrap()
    );
    // Nothing is re-assembled under another id after the restart.
    assert!(assembled(&mut store, "hook", 100, at(1, 1)).is_empty());
}

#[test]
fn delivery_lifecycle() {
    let (_dir, mut store) = fresh();
    pending(&mut store, "hook", 1);
    let id = assembled(&mut store, "hook", 100, at(1, 0))[0].id.clone();
    assert_eq!(store.next_retry("hook").unwrap(), Some(at(1, 0)));

    store
        .mark_retry(&id, at(1, 0), "HTTP 503", at(1, 2))
        .unwrap();
    assert!(store.due_digests("hook", at(1, 1)).unwrap().is_empty());
    let d = &store.due_digests("hook", at(1, 2)).unwrap()[0];
    assert_eq!(
        (d.attempts, d.first_attempt, d.last_error.as_deref()),
        (1, Some(at(1, 0)), Some("HTTP 503"))
    );
    assert_eq!(store.next_retry("hook").unwrap(), Some(at(1, 2)));

    store
        .mark_retry(&id, at(1, 2), "timeout", at(1, 4))
        .unwrap();
    store
        .mark_failed(&id, at(1, 4), "HTTP 400 Bad Request: bad payload")
        .unwrap();
    assert!(store.due_digests("hook", at(9, 0)).unwrap().is_empty());
    assert_eq!(store.next_retry("hook").unwrap(), None);
    let st = &store.destinations_status(&["hook"]).unwrap()[0];
    assert_eq!(st.failed.len(), 1);
    assert_eq!(st.failed[0].attempts, 3);
    assert_eq!(
        st.failed[0].error.as_deref(),
        Some("HTTP 400 Bad Request: bad payload")
    );

    assert_eq!(store.retry_failed("hook", at(2, 0)).unwrap(), 1);
    assert_eq!(store.retry_failed("hook", at(2, 0)).unwrap(), 0);
    let d = &store.due_digests("hook", at(2, 0)).unwrap()[0];
    assert_eq!(
        (d.attempts, d.first_attempt, d.status),
        (0, None, DigestStatus::Pending)
    );
    assert_eq!(d.digest.id, id, "a retried digest keeps its id");

    store.mark_sent(&id, at(2, 1)).unwrap();
    let d = store.digest(&id).unwrap().unwrap();
    assert_eq!(
        (d.status, d.sent_at, d.attempts),
        (DigestStatus::Sent, Some(at(2, 1)), 1)
    );
    assert!(store.due_digests("hook", at(9, 0)).unwrap().is_empty());
    assert!(
        matches!(
            store.mark_retry(&id, at(2, 2), "late", at(2, 3)),
            Err(StoreError::UnknownDigest { .. })
        ),
        "a sent digest is never sent again"
    );
    assert!(matches!(
        store.mark_sent("dnope", at(2, 2)),
        Err(StoreError::UnknownDigest { .. })
    ));
    let st = &store.destinations_status(&["hook"]).unwrap()[0];
    assert_eq!(
        (st.last_delivery, st.pending_digests, st.failed.len()),
        (Some(at(2, 1)), 0, 0)
    );
}

#[test]
fn destinations_have_independent_queues_and_durable_schedules() {
    let (dir, mut store) = fresh();
    let mut c = commit("tass", at(0, 0), vec![item("a")]);
    c.matches = vec![(0, vec![hit("r", "mail", &[]), hit("r", "hook", &[])])];
    store.commit_poll(&c).unwrap();
    let mail = assembled(&mut store, "mail", 100, at(0, 1));
    store
        .mark_retry(&mail[0].id, at(0, 1), "451 try later", at(0, 5))
        .unwrap();
    assert_eq!(
        store.pending_matches("hook").unwrap(),
        1,
        "mail's trouble leaves hook alone"
    );
    let hook = assembled(&mut store, "hook", 100, at(0, 1));
    assert_ne!(hook[0].id, mail[0].id);
    assert_eq!(store.due_digests("hook", at(0, 1)).unwrap().len(), 1);

    store.set_destination_due("mail", at(1, 8)).unwrap();
    store.record_delivery("hook", at(0, 2)).unwrap();
    drop(store);
    let store = Store::open_read_only(dir.path().join("state/feedwatch.db")).unwrap();
    assert_eq!(store.destination_due("mail").unwrap(), Some(at(1, 8)));
    assert_eq!(store.destination_due("nowhere").unwrap(), None);
    let st = store
        .destinations_status(&["mail", "hook", "nowhere"])
        .unwrap();
    assert_eq!(
        (st[0].next_due, st[0].pending_digests, st[0].next_retry),
        (Some(at(1, 8)), 1, Some(at(0, 5)))
    );
    assert_eq!(st[1].last_delivery, Some(at(0, 2)));
    assert_eq!((st[2].pending_matches, st[2].next_due), (0, None));
}
