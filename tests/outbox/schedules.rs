//! Digest assembly on each destination's schedule: splitting at `max_items`, no empty
//! digests, and calendar schedules evaluated in the destination's timezone.

use chrono::{DateTime, TimeZone, Utc};

use super::hook;
use crate::util::http::HttpReceiver;
use crate::util::outbox::{Outbox, at, matching};

#[tokio::test]
async fn max_items_splits_into_complete_digests() {
    let rx = HttpReceiver::start(vec![]).await;
    let ob = Outbox::new(&hook("team-hook", &rx, ""));
    assert_eq!(ob.poll(&matching("h", 250)).await, 250);
    let t0 = at(Utc::now(), 0);
    let reports = ob.deliver(t0, true).await;
    let sizes: Vec<_> = reports.iter().map(|r| r.items).collect();
    assert_eq!(sizes, vec![100, 100, 50]);
    assert!(reports.iter().all(|r| r.result.is_ok()));
    assert!(ob.deliver(at(t0, 60), true).await.is_empty());

    let reqs = rx.requests();
    assert_eq!(reqs.len(), 3, "each digest sent once");
    let mut ids = std::collections::HashSet::new();
    let mut items = std::collections::HashSet::new();
    for (r, report) in reqs.iter().zip(&reports) {
        let body = r.json();
        assert_eq!(body["id"], report.digest.as_str());
        assert_eq!(r.header("webhook-id"), Some(report.digest.clone()));
        ids.insert(report.digest.clone());
        for item in body["items"].as_array().into_iter().flatten() {
            assert!(item["title"].as_str().is_some_and(|t| t.contains("CSTO")));
            items.insert(item["id"].as_str().unwrap_or_default().to_string());
        }
    }
    assert_eq!(
        (ids.len(), items.len()),
        (3, 250),
        "distinct digests, every match once"
    );
    let st = ob.status("team-hook").await;
    assert_eq!((st.pending_matches, st.pending_digests), (0, 0));
}

#[tokio::test]
async fn empty_digests_are_never_sent() {
    let every = HttpReceiver::start(vec![]).await;
    let now = HttpReceiver::start(vec![]).await;
    let dests = format!(
        "{}{}",
        hook("every", &every, "digest = \"every 1m\""),
        hook("now", &now, "")
    );
    let ob = Outbox::new(&dests);
    let quiet = vec![("q-1".to_string(), "Weather: rain".to_string())];
    assert_eq!(ob.poll(&quiet).await, 0);
    let t0 = at(Utc::now(), 0);
    assert!(ob.deliver(t0, true).await.is_empty());
    assert!(
        ob.deliver(at(t0, 61), true).await.is_empty(),
        "due, but nothing pending"
    );
    let due = ob.store(|s| s.destination_due("every")).await;
    assert_eq!(due, Some(at(t0, 121)), "the schedule still moves on");
    assert_eq!(every.requests().len() + now.requests().len(), 0);

    let mut items = quiet.clone();
    items.extend(matching("q", 1));
    assert_eq!(ob.poll(&items).await, 2, "one match per destination");
    assert_eq!(ob.deliver(at(t0, 200), true).await.len(), 2);
    assert!(ob.deliver(at(t0, 400), true).await.is_empty());
    assert_eq!((every.requests().len(), now.requests().len()), (1, 1));
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .unwrap_or_default()
}

#[tokio::test]
async fn daily_schedule_in_moscow_with_a_controlled_clock() {
    let rx = HttpReceiver::start(vec![]).await;
    let ob = Outbox::new(&hook(
        "ops",
        &rx,
        "digest = \"daily 08:00\"\ntimezone = \"Europe/Moscow\"",
    ));
    ob.poll(&matching("m", 3)).await;
    // 07:00 MSK (UTC+3): the first look starts the clock at 08:00 MSK today.
    for t in [utc(2026, 12, 2, 4, 0, 0), utc(2026, 12, 2, 4, 59, 59)] {
        assert!(
            ob.deliver(t, true).await.is_empty(),
            "before 08:00 MSK at {t}"
        );
    }
    let st = ob.status("ops").await;
    assert_eq!(st.pending_matches, 3);
    assert_eq!(st.next_due, Some(utc(2026, 12, 2, 5, 0, 0)));
    assert!(rx.requests().is_empty());

    let sent = ob.deliver(utc(2026, 12, 2, 5, 0, 1), false).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].items, sent[0].result.clone()), (3, Ok(())));
    assert_eq!(rx.requests().len(), 1);
    let st = ob.status("ops").await;
    assert_eq!(
        st.next_due,
        Some(utc(2026, 12, 3, 5, 0, 0)),
        "tomorrow 08:00 MSK"
    );
    assert_eq!(st.pending_matches, 0);
    assert!(
        ob.deliver(utc(2026, 12, 2, 12, 0, 0), true)
            .await
            .is_empty()
    );

    ob.poll(&matching("m2", 1)).await;
    assert!(
        ob.deliver(utc(2026, 12, 3, 4, 59, 0), true)
            .await
            .is_empty()
    );
    assert_eq!(ob.deliver(utc(2026, 12, 3, 5, 0, 0), false).await.len(), 1);
    assert_eq!(rx.requests().len(), 2);
}

#[tokio::test]
async fn daily_schedule_follows_berlin_across_spring_forward() {
    let rx = HttpReceiver::start(vec![]).await;
    let ob = Outbox::new(&hook(
        "ops",
        &rx,
        "digest = \"daily 08:00\"\ntimezone = \"Europe/Berlin\"",
    ));
    ob.poll(&matching("b", 1)).await;
    // Saturday 27 March 2027 is CET (UTC+1); Sunday 28 March is CEST (UTC+2).
    assert!(ob.deliver(utc(2027, 3, 27, 6, 0, 0), true).await.is_empty());
    assert_eq!(
        ob.status("ops").await.next_due,
        Some(utc(2027, 3, 27, 7, 0, 0))
    );
    assert_eq!(ob.deliver(utc(2027, 3, 27, 7, 0, 0), false).await.len(), 1);
    assert_eq!(
        ob.status("ops").await.next_due,
        Some(utc(2027, 3, 28, 6, 0, 0))
    );
    ob.poll(&matching("b2", 1)).await;
    assert!(
        ob.deliver(utc(2027, 3, 28, 5, 59, 59), true)
            .await
            .is_empty()
    );
    assert_eq!(ob.deliver(utc(2027, 3, 28, 6, 0, 0), false).await.len(), 1);
    assert_eq!(rx.requests().len(), 2);
}
