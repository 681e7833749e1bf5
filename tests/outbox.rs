//! The outbox end to end: real polls of a file feed into a real SQLite state file, then
//! `Engine::deliver_due` driven with a test-controlled clock against an in-process SMTP
//! sink and webhook receiver on 127.0.0.1. Retry times are read back from the store and
//! the clock is moved to them, so nothing here sleeps through a back-off.

#[path = "outbox/schedules.rs"]
mod schedules;
mod util;

use std::time::{Duration, Instant};

use chrono::Utc;
use feedwatch::store::DigestStatus;
use util::http::{self, HttpReceiver};
use util::outbox::{Outbox, at, matching};
use util::smtp::{self, SmtpSink, header, split};

fn mail(name: &str, port: u16, extra: &str) -> String {
    format!(
        "[destination.{name}]\ntype = \"email\"\nto = [\"analyst@example.org\"]\n\
         from = \"feedwatch <feedwatch@example.org>\"\nsmtp_host = \"127.0.0.1\"\n\
         smtp_port = {port}\ntls = \"none\"\n{extra}\n"
    )
}

fn hook(name: &str, rx: &HttpReceiver, extra: &str) -> String {
    format!(
        "[destination.{name}]\ntype = \"webhook\"\nurl = \"{}\"\n{extra}\n",
        rx.url(&format!("/{name}"))
    )
}

fn message_ids(sink: &[smtp::Received]) -> Vec<String> {
    sink.iter()
        .map(|m| {
            header(&split(&m.text()).0, "message-id")
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Steps the clock to the digest's next attempt: nothing goes out a second before it,
/// one attempt goes out at it. Returns that attempt's result.
async fn step_to_retry(ob: &Outbox, id: &str) -> Result<(), String> {
    let d = ob.digest(id).await;
    assert_eq!(d.status, DigestStatus::Pending, "{d:?}");
    let next = d.next_attempt;
    let early = ob.deliver(next - chrono::Duration::seconds(1), false).await;
    assert!(early.is_empty(), "sent before its retry time: {early:?}");
    let reports = ob.deliver(next, false).await;
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].digest, id);
    reports[0].result.clone()
}

#[tokio::test]
async fn smtp_451_twice_then_250_delivers_exactly_once() {
    let mut sink = SmtpSink::start(vec![
        smtp::Reply::code(451, "greylisted, try later"),
        smtp::Reply::code(451, "greylisted, try later"),
    ])
    .await;
    let ob = Outbox::new(&mail("ops-mail", sink.addr.port(), ""));
    assert_eq!(ob.poll(&matching("a", 2)).await, 2);
    let t0 = at(Utc::now(), 0);
    let first = ob.deliver(t0, true).await;
    assert_eq!(first.len(), 1, "{first:?}");
    let id = first[0].digest.clone();
    assert_eq!(first[0].items, 2);
    let err = first[0].result.clone().unwrap_err();
    assert!(err.starts_with("SMTP 451 greylisted, try later"), "{err}");

    for attempt in 1..=2u32 {
        let d = ob.digest(&id).await;
        assert_eq!(d.attempts, attempt);
        // Base 30 s doubled per failed attempt, ±20 % jitter (whole seconds in the store).
        let base = 30 * 2i64.pow(attempt - 1);
        let wait = (d.next_attempt - d.last_attempt.unwrap_or(t0)).num_seconds();
        assert!(
            (base * 8 / 10 - 1..=base * 12 / 10 + 1).contains(&wait),
            "attempt {attempt}: waited {wait}s"
        );
        let result = step_to_retry(&ob, &id).await;
        if attempt == 1 {
            assert!(result.unwrap_err().contains("451"));
        } else {
            assert_eq!(result, Ok(()));
        }
    }
    assert!(ob.deliver(at(t0, 86_400), true).await.is_empty());

    let seen = sink.drain();
    let replies: Vec<_> = seen.iter().map(|m| m.reply).collect();
    assert_eq!(replies, vec![Some(451), Some(451), Some(250)]);
    assert_eq!(seen.iter().filter(|m| m.accepted()).count(), 1);
    let want = format!("<{id}@feedwatch>");
    assert!(message_ids(&seen).iter().all(|m| *m == want), "{seen:?}");

    let d = ob.digest(&id).await;
    assert_eq!((d.status, d.attempts), (DigestStatus::Sent, 3));
    let st = ob.status("ops-mail").await;
    assert_eq!((st.pending_digests, st.pending_matches), (0, 0));
    assert!(st.failed.is_empty() && st.last_delivery.is_some(), "{st:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_550_fails_at_once_and_retry_requeues_it() {
    let mut sink = SmtpSink::start(vec![smtp::Reply::code(
        550,
        "mailbox unavailable: no such user",
    )])
    .await;
    let ob = Outbox::new(&mail("ops-mail", sink.addr.port(), ""));
    ob.poll(&matching("b", 1)).await;
    let t0 = at(Utc::now(), 0);
    let first = ob.deliver(t0, true).await;
    let id = first[0].digest.clone();
    let err = first[0].result.clone().unwrap_err();
    assert!(
        err.starts_with("SMTP 550 mailbox unavailable: no such user"),
        "{err}"
    );
    for later in [60, 3600, 4 * 86_400] {
        assert!(ob.deliver(at(t0, later), true).await.is_empty());
    }
    assert_eq!(sink.drain().len(), 1, "no retry loop after a 5xx");

    let st = ob.status("ops-mail").await;
    assert_eq!((st.pending_digests, st.next_retry), (0, None));
    assert_eq!(st.failed.len(), 1, "{st:?}");
    assert_eq!(st.failed[0].id, id);
    assert_eq!(st.failed[0].attempts, 1);
    let reason = st.failed[0].error.clone().unwrap_or_default();
    assert!(reason.contains("SMTP 550 mailbox unavailable: no such user"));
    let shown = ob.run(&["status"]).await;
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains(&format!("FAILED digest {id}")),
        "{shown:?}"
    );

    let retried = ob.run(&["retry", "ops-mail"]).await;
    assert!(retried.status.success(), "{retried:?}");
    assert!(String::from_utf8_lossy(&retried.stdout).contains("1 failed digests re-queued"));
    let again = ob.deliver(at(Utc::now(), 1), false).await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(
        (again[0].digest.as_str(), &again[0].result),
        (id.as_str(), &Ok(()))
    );
    let seen = sink.drain();
    assert_eq!(seen.len(), 1);
    assert_eq!(message_ids(&seen), vec![format!("<{id}@feedwatch>")]);
    assert_eq!(ob.digest(&id).await.status, DigestStatus::Sent);
    assert!(ob.status("ops-mail").await.failed.is_empty());
}

#[tokio::test]
async fn smtp_that_never_answers_hits_the_deadline_and_stays_pending() {
    // One server never greets; the other takes the message and never answers DATA.
    let silent = SmtpSink::start_silent().await;
    let mut stalled = SmtpSink::start(vec![smtp::Reply::Hang]).await;
    let dests = format!(
        "{}{}",
        mail("silent", silent.port(), "timeout = \"1s\""),
        mail("stalled", stalled.addr.port(), "timeout = \"1s\"")
    );
    let ob = Outbox::new(&dests);
    ob.poll(&matching("c", 1)).await;
    let t0 = at(Utc::now(), 0);
    let started = Instant::now();
    let reports = ob.deliver(t0, true).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(reports.len(), 2, "{reports:?}");
    for r in &reports {
        let err = r.result.clone().unwrap_err();
        assert!(err.contains("no complete reply within 1s"), "{err}");
        let d = ob.digest(&r.digest).await;
        assert_eq!((d.status, d.attempts), (DigestStatus::Pending, 1));
        assert!(d.next_attempt > t0);
        let st = ob.status(&r.destination).await;
        assert_eq!(st.pending_digests, 1);
        assert!(st.failed.is_empty());
    }
    assert_eq!(stalled.next().await.map(|m| m.reply), Some(None));
}

#[tokio::test]
async fn webhook_500_500_200_delivers_once_under_one_id() {
    let rx = HttpReceiver::start(vec![
        http::Reply::with_body(500, "upstream down"),
        http::Reply::status(500),
    ])
    .await;
    let dest = hook("team-hook", &rx, "secret_file = \"hook-secret\"");
    let ob = Outbox::new_with(&dest, &[("hook-secret", "s3cret\n")]);
    ob.poll(&matching("d", 3)).await;
    let t0 = at(Utc::now(), 0);
    let first = ob.deliver(t0, true).await;
    let id = first[0].digest.clone();
    let err = first[0].result.clone().unwrap_err();
    assert!(
        err.starts_with("HTTP 500 Internal Server Error: upstream down"),
        "{err}"
    );
    assert!(step_to_retry(&ob, &id).await.is_err());
    assert_eq!(step_to_retry(&ob, &id).await, Ok(()));
    assert!(ob.deliver(at(t0, 86_400), true).await.is_empty());

    let reqs = rx.requests();
    assert_eq!(reqs.len(), 3);
    for r in &reqs {
        assert_eq!(r.header("webhook-id").as_deref(), Some(id.as_str()));
        assert_eq!(r.json()["id"], id.as_str());
        assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(3));
        assert!(r.signature_valid("s3cret"));
    }
    assert_eq!(ob.digest(&id).await.status, DigestStatus::Sent);
}

#[tokio::test]
async fn webhook_400_marks_failed_with_the_reply() {
    let rx = HttpReceiver::start(vec![http::Reply::with_body(400, "invalid_payload")]).await;
    let ob = Outbox::new(&hook("team-hook", &rx, ""));
    ob.poll(&matching("e", 1)).await;
    let t0 = at(Utc::now(), 0);
    let first = ob.deliver(t0, true).await;
    assert_eq!(
        first[0].result,
        Err("HTTP 400 Bad Request: invalid_payload".to_string())
    );
    for later in [60, 3600, 86_400] {
        assert!(ob.deliver(at(t0, later), true).await.is_empty());
    }
    assert_eq!(rx.requests().len(), 1);
    let st = ob.status("team-hook").await;
    assert_eq!(st.failed.len(), 1);
    assert_eq!(
        st.failed[0].error.as_deref(),
        Some("HTTP 400 Bad Request: invalid_payload")
    );
}

#[tokio::test]
async fn webhook_429_retry_after_is_respected() {
    let rx = HttpReceiver::start(vec![http::Reply::with_header(429, "Retry-After", "120")]).await;
    let ob = Outbox::new(&hook("team-hook", &rx, ""));
    ob.poll(&matching("f", 1)).await;
    let t0 = at(Utc::now(), 0);
    let first = ob.deliver(t0, true).await;
    let id = first[0].digest.clone();
    assert!(first[0].result.clone().unwrap_err().starts_with("HTTP 429"));
    for secs in [1, 60, 119] {
        assert!(
            ob.deliver(at(t0, secs), false).await.is_empty(),
            "at +{secs}s"
        );
    }
    assert_eq!(rx.requests().len(), 1, "no request before now + 120 s");
    let later = ob.deliver(at(t0, 121), false).await;
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].result, Ok(()));
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs.iter()
            .all(|r| r.header("webhook-id") == Some(id.clone()))
    );
}

#[tokio::test]
async fn retry_for_exhausted_gives_up() {
    let rx = HttpReceiver::start(vec![http::Reply::with_body(503, "maintenance"); 20]).await;
    let ob = Outbox::new(&hook("team-hook", &rx, "retry_for = \"2m\""));
    ob.poll(&matching("g", 1)).await;
    let t0 = at(Utc::now(), 0);
    let id = ob.deliver(t0, true).await[0].digest.clone();
    let mut attempts = 1;
    while ob.digest(&id).await.status == DigestStatus::Pending && attempts < 20 {
        assert!(step_to_retry(&ob, &id).await.is_err());
        attempts += 1;
    }
    let d = ob.digest(&id).await;
    assert_eq!(d.status, DigestStatus::Failed);
    // 30 s, 60 s, 120 s (±20 %): the fourth attempt is the first past the 2 minutes.
    assert_eq!(attempts, 4);
    let span = d.last_attempt.unwrap_or(t0) - d.first_attempt.unwrap_or(t0);
    assert!(span >= chrono::Duration::minutes(2), "{span}");
    let reason = d.last_error.unwrap_or_default();
    assert!(
        reason.starts_with("gave up retrying after 2m: HTTP 503 Service Unavailable: maintenance"),
        "{reason}"
    );
    assert!(ob.deliver(at(t0, 86_400), true).await.is_empty());
    assert_eq!(rx.requests().len(), 4);
    let st = ob.status("team-hook").await;
    assert!(
        st.failed[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("gave up")
    );
}

#[tokio::test]
async fn a_stuck_destination_never_delays_another() {
    let stuck = HttpReceiver::start(vec![http::Reply::Hang]).await;
    let good = HttpReceiver::start(vec![]).await;
    // The stuck one sorts first, so a sequential loop would reach it first.
    let dests = format!(
        "{}{}",
        hook("a-stuck", &stuck, "timeout = \"2s\""),
        hook("b-good", &good, "timeout = \"2s\"")
    );
    let ob = Outbox::new(&dests);
    ob.poll(&matching("s", 1)).await;
    let started = Instant::now();
    let reports = ob.deliver(at(Utc::now(), 0), true).await;
    assert!(started.elapsed() >= Duration::from_secs(2));
    let arrived = good.requests();
    assert_eq!(arrived.len(), 1);
    let waited = arrived[0].at.duration_since(started);
    assert!(
        waited < Duration::from_secs(1),
        "the good destination waited {waited:?}"
    );
    for r in &reports {
        match r.destination.as_str() {
            "b-good" => assert_eq!(r.result, Ok(())),
            _ => assert!(
                r.result
                    .clone()
                    .unwrap_err()
                    .contains("no complete reply within 2s")
            ),
        }
    }
    assert_eq!(stuck.requests().len(), 1);
}

#[tokio::test]
async fn a_transient_failure_ends_the_destinations_round() {
    // Three due digests to a server that never answers: one deadline per round, not three
    // (the daemon's next round, and with it every other destination, waits for this one).
    let rx = HttpReceiver::start(vec![http::Reply::Hang; 3]).await;
    let ob = Outbox::new(&hook("down", &rx, "timeout = \"1s\"\nmax_items = 1"));
    ob.poll(&matching("r", 3)).await;
    let t0 = at(Utc::now(), 0);
    let started = Instant::now();
    let first = ob.deliver(t0, true).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(rx.requests().len(), 1);
    let st = ob.status("down").await;
    assert_eq!((st.pending_digests, st.pending_matches), (3, 0));
    // The others are still due and go out in the following rounds, oldest first.
    let second = ob.deliver(at(t0, 2), false).await;
    assert_eq!(second.len(), 1);
    assert_ne!(second[0].digest, first[0].digest);
    let third = ob.deliver(at(t0, 4), false).await;
    assert_eq!(third.len(), 1);
    assert_eq!(rx.requests().len(), 3);
    let ids: std::collections::HashSet<_> = [&first, &second, &third]
        .iter()
        .map(|r| r[0].digest.clone())
        .collect();
    assert_eq!(ids.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_destination_reports_success_or_the_exact_failure() {
    let mut sink = SmtpSink::start(vec![
        smtp::Reply::ok(),
        smtp::Reply::code(550, "relaying denied"),
    ])
    .await;
    let rx = HttpReceiver::start(vec![
        http::Reply::status(200),
        http::Reply::with_body(400, "bad payload"),
    ])
    .await;
    let ob = Outbox::new(&format!(
        "{}{}",
        mail("mail", sink.addr.port(), ""),
        hook("hook", &rx, "")
    ));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();

    let ok = ob.run(&["test-destination", "mail"]).await;
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    let out = text(&ok.stdout);
    let id = out
        .strip_prefix("mail: sample digest ")
        .and_then(|s| s.strip_suffix(" accepted\n"))
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    assert!(id.starts_with("test-"), "{id}");
    assert_eq!(
        message_ids(&sink.drain()),
        vec![format!("<{id}@feedwatch>")]
    );
    let bad = ob.run(&["test-destination", "mail"]).await;
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert_eq!(
        text(&bad.stderr),
        "feedwatch: mail: sample digest not delivered: SMTP 550 relaying denied\n"
    );

    let ok = ob.run(&["test-destination", "hook"]).await;
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    let out = text(&ok.stdout);
    let sent = rx.requests();
    let id = sent[0].header("webhook-id").unwrap_or_default();
    assert_eq!(out, format!("hook: sample digest {id} accepted\n"));
    assert_eq!(sent[0].json()["id"], id.as_str());
    let bad = ob.run(&["test-destination", "hook"]).await;
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert_eq!(
        text(&bad.stderr),
        "feedwatch: hook: sample digest not delivered: HTTP 400 Bad Request: bad payload\n"
    );
    // A test send is not recorded in the outbox.
    for name in ["mail", "hook"] {
        let st = ob.status(name).await;
        assert_eq!((st.pending_digests, st.failed.len()), (0, 0));
    }
}
