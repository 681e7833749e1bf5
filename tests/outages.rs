//! Outages: destinations that are down for a (simulated) long time and come back, a
//! destination that hangs next to healthy ones, and feeds that refuse connections or do
//! not resolve. The engine runs in-process against real servers on 127.0.0.1 and a real
//! state file; delivery is driven with a moving clock, so days pass in milliseconds.

mod support;
mod util;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use feedwatch::config::Config;
use feedwatch::pipeline::{DeliveryReport, Engine, FeedOutcome, StoreHandle};
use feedwatch::store::{FeedState, Store};
use support::{FeedServer, Route, rss};
use tokio::net::{TcpListener, TcpStream};
use util::http::{HttpReceiver, Reply};
use util::smtp::{SmtpSink, header, split};

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

/// `n` CSTO stories with global guids, newest first.
fn stories(range: std::ops::RangeInclusive<u32>) -> String {
    let items: Vec<(String, String)> = range
        .rev()
        .map(|n| (format!("urn:outage:{n}"), format!("CSTO story {n}")))
        .collect();
    let items: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(g, t)| (g.as_str(), t.as_str(), "x"))
        .collect();
    rss(&items)
}

fn daemon_section(extra: &str) -> String {
    format!(
        "[daemon]\nstate = \"feedwatch.db\"\nfirst_poll = \"alert\"\nmax_age = \"off\"\n\
         interval = \"60s\"\ntimeout = \"2s\"\nmax_backoff = \"1h\"\n{extra}\n\n\
         [[rule]]\nname = \"csto\"\nquery = \"CSTO\"\n\n"
    )
}

fn feed(name: &str, url: &str) -> String {
    format!("[[feed]]\nname = \"{name}\"\nurl = \"{url}\"\n\n")
}

fn webhook(name: &str, url: &str, extra: &str) -> String {
    format!(
        "[destination.{name}]\ntype = \"webhook\"\nurl = \"{url}\"\nformat = \"json\"\n\
         max_items = 2\ntimeout = \"3s\"\n{extra}\n\n"
    )
}

fn load(dir: &Path, toml: &str) -> Arc<Config> {
    let path = dir.join("feedwatch.toml");
    std::fs::write(&path, toml).expect("write config");
    Arc::new(feedwatch::config::load(&path).unwrap_or_else(|e| panic!("{e}\n{toml}")))
}

fn engine(cfg: Arc<Config>) -> Arc<Engine> {
    let store = Store::open(&cfg.daemon.state).expect("open store");
    Arc::new(Engine::new(cfg, StoreHandle::new(store)).expect("engine"))
}

/// A port on 127.0.0.1 with nothing listening: connecting to it is refused.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// "The server comes back": listens on `port` from now on and relays to `to`.
async fn relay(port: u16, to: std::net::SocketAddr) {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the freed port is still free");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
}

/// `(id, status, attempts)` of every digest, oldest first.
fn digests(db: &Path) -> Vec<(String, String, u32)> {
    let conn = rusqlite::Connection::open(db).expect("open db");
    let mut stmt = conn
        .prepare("SELECT id, status, attempts FROM digests ORDER BY created_at, rowid")
        .expect("prepare");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn all_failed(reports: &[DeliveryReport]) -> bool {
    reports.iter().all(|r| r.result.is_err())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_for_days_then_back_delivers_each_digest_once() {
    let feeds = FeedServer::start();
    feeds.set("/a.xml", Route::xml(stories(1..=5)));
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = load(
        dir.path(),
        &format!(
            "{}{}[destination.mail]\ntype = \"email\"\nto = [\"analyst@example.org\"]\n\
             from = \"feedwatch <feedwatch@example.org>\"\nsmtp_host = \"127.0.0.1\"\n\
             smtp_port = {port}\ntls = \"none\"\nmax_items = 2\ntimeout = \"3s\"\n",
            daemon_section(""),
            feed("a", &feeds.url("/a.xml"))
        ),
    );
    let db = cfg.daemon.state.clone();
    let engine = engine(cfg);
    engine.poll_all().await;
    let t0 = Utc::now();
    let first = engine.deliver_due(t0, true).await;
    // A transient failure ends the destination's round: one attempt, three digests.
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(digests(&db).len(), 3, "5 matches in digests of 2");
    assert!(all_failed(&first), "{first:?}");
    assert!(
        first
            .iter()
            .all(|r| r.result.as_ref().is_err_and(|e| e.contains("127.0.0.1"))),
        "{first:?}"
    );

    // 60 hours down (under the default retry_for of 3 days), looked at every 10 minutes;
    // new matches arrive half-way and are assembled meanwhile.
    let mut t = t0;
    for step in 1..=360 {
        t = t0 + minutes(10 * step);
        let cycle = step == 180;
        if cycle {
            feeds.set("/a.xml", Route::xml(stories(1..=7)));
            engine.poll_all().await;
        }
        let r = engine.deliver_due(t, cycle).await;
        assert!(all_failed(&r), "SMTP is down: {r:?}");
    }
    let during = digests(&db);
    assert_eq!(during.len(), 4);
    for (id, status, attempts) in &during {
        assert_eq!(status, "pending", "{id} still retried");
        // Backoff: far fewer attempts than looks, but still trying about hourly.
        assert!((25..=120).contains(attempts), "{id}: {attempts} attempts");
    }

    let mut sink = SmtpSink::start(vec![]).await;
    relay(port, sink.addr).await;
    let mut sent = Vec::new();
    for step in 1..=30 {
        let r = engine.deliver_due(t + minutes(10 * step), false).await;
        assert!(r.iter().all(|r| r.result.is_ok()), "{r:?}");
        sent.extend(r);
    }
    assert_eq!(sent.len(), 4, "each digest sent once: {sent:?}");
    let mail = sink.drain();
    let ids: Vec<String> = mail
        .iter()
        .map(|m| {
            let (headers, _) = split(&m.text());
            header(&headers, "message-id")
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let want: BTreeSet<String> = during
        .iter()
        .map(|(id, _, _)| format!("<{id}@feedwatch>"))
        .collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), want);
    let text: String = mail.iter().map(|m| m.text()).collect();
    for n in 1..=7 {
        assert!(
            text.contains(&format!("CSTO story {n}")),
            "story {n} missing"
        );
    }
    assert!(digests(&db).iter().all(|(_, s, _)| s == "sent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_500_for_a_while_then_200_delivers_each_digest_once() {
    const FAILURES: usize = 40;
    let feeds = FeedServer::start();
    feeds.set("/a.xml", Route::xml(stories(1..=5)));
    let hook = HttpReceiver::start(vec![Reply::with_body(500, "down"); FAILURES]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = load(
        dir.path(),
        &format!(
            "{}{}{}",
            daemon_section(""),
            feed("a", &feeds.url("/a.xml")),
            webhook("hook", hook.url("/in").as_str(), "")
        ),
    );
    let db = cfg.daemon.state.clone();
    let engine = engine(cfg);
    engine.poll_all().await;
    let t0 = Utc::now();
    let mut ok = Vec::new();
    let mut t = t0;
    for step in 0..=600 {
        t = t0 + minutes(10 * step);
        let r = engine.deliver_due(t, step == 0).await;
        ok.extend(r.into_iter().filter(|r| r.result.is_ok()));
        if ok.len() == 3 {
            break;
        }
    }
    // A few more looks: nothing is sent again.
    for step in 1..=20 {
        let r = engine.deliver_due(t + minutes(10 * step), false).await;
        assert!(r.is_empty(), "{r:?}");
    }
    let requests = hook.requests();
    assert_eq!(
        requests.len(),
        FAILURES + 3,
        "every 500 retried, then once each"
    );
    let accepted: Vec<String> = requests[FAILURES..]
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap_or_default().to_string())
        .collect();
    let stored: Vec<String> = digests(&db).into_iter().map(|(id, _, _)| id).collect();
    assert_eq!(
        accepted.iter().cloned().collect::<BTreeSet<_>>(),
        stored.iter().cloned().collect::<BTreeSet<_>>()
    );
    assert_eq!(stored.len(), 3);
    // Every attempt of one digest carried the same id header and bytes.
    let mut bodies: HashMap<String, &[u8]> = HashMap::new();
    for r in &requests {
        let id = r.header("webhook-id").unwrap_or_default();
        let first = bodies.entry(id.clone()).or_insert(&r.body);
        assert_eq!(*first, &r.body[..], "digest {id} changed between attempts");
    }
    let items: BTreeSet<String> = requests[FAILURES..]
        .iter()
        .flat_map(|r| {
            r.json()["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|i| i["id"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    assert_eq!(items.len(), 5, "{items:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_or_refusing_destination_never_delays_another() {
    let feeds = FeedServer::start();
    feeds.set("/a.xml", Route::xml(stories(1..=3)));
    let stuck = HttpReceiver::start(vec![Reply::Hang; 20]).await;
    let fast = HttpReceiver::start(vec![]).await;
    let refused = format!("http://127.0.0.1:{}/in", free_port());
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = load(
        dir.path(),
        &format!(
            "{}{}{}{}{}",
            daemon_section(""),
            feed("a", &feeds.url("/a.xml")),
            webhook("stuck", stuck.url("/in").as_str(), ""),
            webhook("refused", &refused, ""),
            webhook("fast", fast.url("/in").as_str(), "")
        ),
    );
    let engine = Arc::new(engine(cfg));
    engine.poll_all().await;
    let t0 = Utc::now();
    for (round, (now, want_fast)) in [(t0, 2), (t0 + minutes(1), 3)].into_iter().enumerate() {
        if round == 1 {
            feeds.set("/a.xml", Route::xml(stories(1..=4)));
            engine.poll_all().await;
        }
        let started = Instant::now();
        let e = engine.clone();
        let run = tokio::spawn(async move { e.deliver_due(now, true).await });
        while fast.requests().len() < want_fast {
            assert!(
                started.elapsed() < Duration::from_millis(1500),
                "round {round}: the healthy destination waited for the stuck one"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let reports = run.await.expect("delivery task");
        let by_dest = |d: &str| -> Vec<&DeliveryReport> {
            reports.iter().filter(|r| r.destination == d).collect()
        };
        assert!(
            by_dest("fast").iter().all(|r| r.result.is_ok()),
            "{reports:?}"
        );
        assert!(!by_dest("stuck").is_empty(), "{reports:?}");
        assert!(
            by_dest("stuck").iter().all(|r| r.result.is_err()),
            "{reports:?}"
        );
        assert!(
            by_dest("refused").iter().all(|r| r.result.is_err()),
            "{reports:?}"
        );
    }
}

/// The real daemon, killed when dropped.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_daemon_a_hanging_destination_never_holds_back_another() {
    let feeds = FeedServer::start();
    feeds.set("/a.xml", Route::xml(stories(1..=4)));
    let stuck = HttpReceiver::start(vec![Reply::Hang; 100]).await;
    let fast = HttpReceiver::start(vec![]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let one = "max_items = 1";
    let toml = format!(
        "{}{}{}{}",
        daemon_section("shutdown_grace = \"2s\"")
            .replace("interval = \"60s\"", "interval = \"1s\""),
        feed("a", &feeds.url("/a.xml")),
        webhook("stuck", stuck.url("/in").as_str(), one).replace("max_items = 2\n", ""),
        webhook("fast", fast.url("/in").as_str(), one).replace("max_items = 2\n", "")
    );
    let path = dir.path().join("feedwatch.toml");
    std::fs::write(&path, &toml).expect("config");
    let log = std::fs::File::create(dir.path().join("daemon.err")).expect("log");
    let daemon = Daemon(
        support::bin()
            .args(["run", "--config"])
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn daemon"),
    );
    let wait = |what: &'static str, n: usize, within: Duration| {
        let fast = &fast;
        async move {
            let t = Instant::now();
            while fast.requests().len() < n {
                assert!(
                    t.elapsed() < within,
                    "{what}: fast got {}",
                    fast.requests().len()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            t.elapsed()
        }
    };
    wait("first four", 4, Duration::from_secs(10)).await;
    // The stuck destination now spends 4 × 3 s on its four digests. A story published
    // meanwhile must reach the healthy destination on the next poll, not after that.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!stuck.requests().is_empty());
    feeds.set("/a.xml", Route::xml(stories(1..=5)));
    let took = wait("the fifth story", 5, Duration::from_secs(4)).await;
    eprintln!("fifth story reached the healthy destination after {took:?}");

    // The poll cycle the stuck destination missed while busy is kept for it: once free,
    // it assembles and tries the fifth story too.
    let t = Instant::now();
    while !stuck
        .requests()
        .iter()
        .any(|r| String::from_utf8_lossy(&r.body).contains("urn:outage:5"))
    {
        assert!(
            t.elapsed() < Duration::from_secs(25),
            "stuck never tried story 5"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // SIGTERM while it hangs: in-flight sends get the grace period, then a clean exit.
    let mut daemon = daemon;
    let pid = daemon.0.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(killed.is_ok_and(|s| s.success()));
    let t = Instant::now();
    let code = loop {
        if let Some(status) = daemon.0.try_wait().expect("try_wait") {
            break status.code();
        }
        assert!(
            t.elapsed() < Duration::from_secs(8),
            "no exit after the grace period"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(code, Some(0));
}

async fn state(engine: &Engine, feed: &str) -> FeedState {
    let name = feed.to_string();
    engine
        .store()
        .call(move |s| s.feed_state(&name))
        .await
        .expect("feed state")
        .expect("feed polled")
}

fn gap(s: &FeedState) -> i64 {
    let (Some(next), Some(last)) = (s.next_poll, s.last_poll) else {
        panic!("no poll times: {s:?}")
    };
    (next - last).num_seconds()
}

fn last(s: &FeedState) -> DateTime<Utc> {
    s.last_poll.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_unresolvable_feeds_back_off_and_recover() {
    let feeds = FeedServer::start();
    feeds.set("/ok.xml", Route::xml(stories(1..=1)));
    feeds.set("/later.xml", Route::xml(stories(2..=3)));
    let port = free_port();
    let hook = HttpReceiver::start(vec![]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = |dns_url: &str| {
        format!(
            "{}{}{}{}{}",
            daemon_section(""),
            feed("ok", &feeds.url("/ok.xml")),
            feed("refused", &format!("http://127.0.0.1:{port}/later.xml")),
            feed("dns", dns_url),
            webhook("hook", hook.url("/in").as_str(), "")
        )
    };
    let engine = engine(load(
        dir.path(),
        &config("http://feedwatch-outage-test.invalid/feed.xml"),
    ));
    let mut gaps: HashMap<&str, Vec<i64>> = HashMap::new();
    for round in 1..=5u32 {
        let reports = engine.poll_all().await;
        for r in &reports {
            let failing = matches!(r.outcome, FeedOutcome::Failed { .. });
            assert_eq!(failing, r.feed != "ok", "round {round}: {r}");
        }
        for name in ["ok", "refused", "dns"] {
            let s = state(&engine, name).await;
            let want = if name == "ok" { 0 } else { round };
            assert_eq!(s.failures, want, "{name}: {s:?}");
            gaps.entry(name).or_default().push(gap(&s));
            if name != "ok" {
                assert!(last(&s) <= Utc::now());
            }
        }
    }
    // 60 s interval doubling per failure (±20% jitter), capped at max_backoff = 1h.
    for name in ["refused", "dns"] {
        let g = &gaps[name];
        assert!(g.windows(2).all(|w| w[1] > w[0]), "{name}: {g:?}");
        assert!(
            (47..=73).contains(&g[0]) && (767..=1153).contains(&g[4]),
            "{name}: {g:?}"
        );
    }
    assert!(
        gaps["ok"].iter().all(|g| (59..=61).contains(g)),
        "{:?}",
        gaps["ok"]
    );
    let refused_err = state(&engine, "refused")
        .await
        .last_error
        .unwrap_or_default();
    let dns_err = state(&engine, "dns").await.last_error.unwrap_or_default();
    assert!(refused_err.contains("Connection refused"), "{refused_err}");
    assert!(dns_err.contains("dns error"), "{dns_err}");

    // The refused server comes back on its address; the unresolvable name is fixed in
    // the config (a reload keeps the store). Both recover: failures reset, interval back.
    relay(port, feeds.addr).await;
    let engine =
        self::engine_reloaded(&engine, load(dir.path(), &config(&feeds.url("/later.xml"))));
    let reports = engine.poll_all().await;
    assert!(
        reports
            .iter()
            .all(|r| !matches!(r.outcome, FeedOutcome::Failed { .. })),
        "{reports:?}"
    );
    for name in ["refused", "dns"] {
        let s = state(&engine, name).await;
        assert_eq!(s.failures, 0, "{name}: {s:?}");
        assert_eq!(s.last_error, None);
        assert!((59..=61).contains(&gap(&s)), "{name}: {s:?}");
    }
    let sent = engine.deliver_due(Utc::now(), true).await;
    assert!(sent.iter().all(|r| r.result.is_ok()), "{sent:?}");
    let items: BTreeSet<String> = hook
        .requests()
        .iter()
        .flat_map(|r| {
            r.json()["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|i| i["id"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    let want: BTreeSet<String> = (1..=3).map(|n| format!("urn:outage:{n}")).collect();
    assert_eq!(items, want, "the recovered feeds' stories went out once");
}

/// A new engine on the same state file, as a SIGHUP reload builds one.
fn engine_reloaded(old: &Engine, cfg: Arc<Config>) -> Arc<Engine> {
    Arc::new(Engine::new(cfg, old.store().clone()).expect("engine"))
}
