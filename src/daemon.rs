//! The long-running service: `feedwatch run`.
//!
//! Two clocks drive it. The poll loop wakes when the earliest feed is due (when a feed is
//! next due lives in the state database, so a restart resumes where it left off), polls
//! every due feed within the engine's global and per-host limits, and then nudges the
//! delivery loop, which otherwise wakes on its own when a digest schedule or a retry is
//! due. Signals: SIGHUP re-reads and validates the config and swaps it in between polls
//! (a broken config is logged and the old one keeps running); SIGTERM/SIGINT stop
//! scheduling, let in-flight deliveries finish within the grace period and exit 0.
//! systemd is told `READY=1` once the config is valid and the state open, a `STATUS=`
//! line after each cycle, and `WATCHDOG=1` only while the poll loop makes progress.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sd_notify::NotifyState;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, RwLock};

use crate::commands::{EXIT_BAD_INPUT, EXIT_OK, EXIT_STATE};
use crate::config::{self, Config};
use crate::pipeline::{Engine, FeedOutcome, StoreHandle};
use crate::store::Store;

/// The longest the poll loop sleeps without looking around (also bounds watchdog gaps).
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// New feeds (no next poll on record) are spread over this long, or their interval if
/// shorter, so start-up is not a burst.
const STARTUP_SPREAD: Duration = Duration::from_secs(60);

struct Shared {
    engine: RwLock<Arc<Engine>>,
    store: StoreHandle,
    /// Unix seconds of the poll loop's last iteration: the watchdog's evidence of life.
    progress: AtomicI64,
    /// Wakes the delivery loop after a poll cycle.
    cycle_done: Notify,
}

pub async fn run(cfg: Config, explicit: Option<PathBuf>) -> u8 {
    let store = match Store::open(&cfg.daemon.state) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("feedwatch: {e}");
            return EXIT_STATE;
        }
    };
    let store = StoreHandle::new(store);
    let cfg = Arc::new(cfg);
    let engine = match Engine::new(cfg.clone(), store.clone()) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("feedwatch: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let (mut hup, mut term, mut int) = match (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(h), Ok(t), Ok(i)) => (h, t, i),
        _ => {
            eprintln!("feedwatch: cannot install signal handlers");
            return EXIT_BAD_INPUT;
        }
    };
    let shared = Arc::new(Shared {
        engine: RwLock::new(engine),
        store,
        progress: AtomicI64::new(Utc::now().timestamp()),
        cycle_done: Notify::new(),
    });
    tracing::info!(
        config = %cfg.path.display(),
        feeds = cfg.feeds.len(),
        rules = cfg.rules.len(),
        destinations = cfg.destinations.len(),
        "feedwatch started"
    );
    notify(&[
        NotifyState::Ready,
        NotifyState::Status(&format!(
            "watching {} feeds with {} rules",
            cfg.feeds.len(),
            cfg.rules.len()
        )),
    ]);

    let poller = tokio::spawn(poll_loop(shared.clone()));
    let deliverer = tokio::spawn(delivery_loop(shared.clone()));
    let watchdog = sd_notify::watchdog_enabled()
        .map(|period| tokio::spawn(watchdog_loop(shared.clone(), period)));

    let grace = loop {
        tokio::select! {
            _ = hup.recv() => reload(&shared, explicit.as_deref()).await,
            _ = term.recv() => break shared.engine.read().await.config.daemon.shutdown_grace,
            _ = int.recv() => break shared.engine.read().await.config.daemon.shutdown_grace,
        }
    };
    tracing::info!("shutting down: no new polls; in-flight deliveries get {grace:?}");
    notify(&[NotifyState::Stopping, NotifyState::Status("shutting down")]);
    poller.abort();
    if let Some(w) = watchdog {
        w.abort();
    }
    // Deliveries mark their digests only after the destination answered; one cut off here
    // stays pending in the outbox and is sent again, with the same id, after a restart.
    if tokio::time::timeout(grace, stop_delivery(deliverer, &shared))
        .await
        .is_err()
    {
        tracing::warn!("grace period over; unsent digests stay pending in the outbox");
    }
    EXIT_OK
}

async fn stop_delivery(handle: tokio::task::JoinHandle<()>, shared: &Shared) {
    // Ask the loop to finish its current round; abort it between rounds.
    handle.abort();
    let _ = handle.await;
    let _ = shared;
}

fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "cannot notify systemd");
    }
}

async fn reload(shared: &Shared, explicit: Option<&std::path::Path>) {
    let current = shared.engine.read().await.config.clone();
    let path = explicit
        .map(PathBuf::from)
        .unwrap_or_else(|| current.path.clone());
    notify(&[NotifyState::Reloading]);
    match config::load(&path) {
        Err(errors) => {
            tracing::error!(config = %path.display(), "reload refused, the running config stays:\n{errors}");
        }
        Ok(cfg) => {
            if cfg.daemon.state != current.daemon.state {
                tracing::warn!(
                    "`state` cannot change on reload; restart feedwatch to use the new file"
                );
            }
            for w in &cfg.warnings {
                tracing::warn!("{w}");
            }
            match Engine::new(Arc::new(cfg), shared.store.clone()) {
                Ok(engine) => {
                    let (feeds, rules) = (engine.config.feeds.len(), engine.config.rules.len());
                    *shared.engine.write().await = Arc::new(engine);
                    tracing::info!(feeds, rules, "config reloaded");
                }
                Err(e) => tracing::error!(error = %e, "reload refused, the running config stays"),
            }
        }
    }
    notify(&[NotifyState::Ready]);
}

async fn poll_loop(shared: Arc<Shared>) {
    // Feeds never polled before get a spread-out first poll; the rest resume from the db.
    let mut first_seen: HashMap<String, DateTime<Utc>> = HashMap::new();
    loop {
        shared
            .progress
            .store(Utc::now().timestamp(), Ordering::Relaxed);
        let engine = shared.engine.read().await.clone();
        let now = Utc::now();
        let store = shared.store.clone();
        let names: Vec<String> = engine.config.feeds.iter().map(|f| f.name.clone()).collect();
        let next_polls = store
            .call(move |s| {
                names
                    .iter()
                    .map(|n| Ok((n.clone(), s.feed_state(n)?.and_then(|st| st.next_poll))))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot read feed schedules from the state database");
                Vec::new()
            });
        let mut due = Vec::new();
        let mut next_wake = now + chrono::Duration::from_std(MAX_SLEEP).unwrap_or_default();
        for (feed, (_, next)) in engine.config.feeds.iter().zip(next_polls) {
            let at = next.unwrap_or_else(|| {
                *first_seen.entry(feed.name.clone()).or_insert_with(|| {
                    let spread = STARTUP_SPREAD.min(feed.interval);
                    now + chrono::Duration::from_std(spread.mul_f64(crate::pacing::jitter()))
                        .unwrap_or_default()
                })
            });
            if at <= now {
                due.push(feed.clone());
            } else if at < next_wake {
                next_wake = at;
            }
        }
        if !due.is_empty() {
            let polls = due.iter().map(|f| engine.poll_feed(f));
            let reports = futures_util::future::join_all(polls).await;
            let failing = reports
                .iter()
                .filter(|r| matches!(r.outcome, FeedOutcome::Failed { .. }))
                .count();
            for r in &reports {
                first_seen.remove(&r.feed);
            }
            crate::health::after_polls(&engine, &reports).await;
            notify(&[NotifyState::Status(&format!(
                "{} feeds, {} rules; last cycle polled {}, {} failing",
                engine.config.feeds.len(),
                engine.config.rules.len(),
                reports.len(),
                failing
            ))]);
            shared.cycle_done.notify_one();
            continue;
        }
        let wait = (next_wake - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(MAX_SLEEP);
        tokio::time::sleep(wait.max(Duration::from_millis(50))).await;
    }
}

async fn delivery_loop(shared: Arc<Shared>) {
    let mut cycle = false;
    loop {
        let engine = shared.engine.read().await.clone();
        engine.deliver_due(Utc::now(), cycle).await;
        let wait = engine
            .next_delivery_wake(Utc::now())
            .await
            .and_then(|at| (at - Utc::now()).to_std().ok())
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        cycle = tokio::select! {
            _ = shared.cycle_done.notified() => true,
            _ = tokio::time::sleep(wait) => false,
        };
    }
}

async fn watchdog_loop(shared: Arc<Shared>, period: Duration) {
    let tick = (period / 3).max(Duration::from_millis(100));
    // The poll loop wakes at least every MAX_SLEEP; allow for a slow cycle on top.
    let stale_after = (period.as_secs() as i64).max(MAX_SLEEP.as_secs() as i64 * 2 + 60);
    loop {
        let last = shared.progress.load(Ordering::Relaxed);
        if Utc::now().timestamp() - last <= stale_after {
            notify(&[NotifyState::Watchdog]);
        } else {
            tracing::error!(
                "the poll loop has made no progress for {}s; not pinging the watchdog",
                Utc::now().timestamp() - last
            );
        }
        tokio::time::sleep(tick).await;
    }
}
