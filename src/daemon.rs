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

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
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

/// How often the daemon prunes the state database (also once at start).
const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);

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
    /// The delivery task of each destination now sending, by destination name.
    inflight: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
}

impl Shared {
    fn inflight(&self) -> std::sync::MutexGuard<'_, HashMap<String, tokio::task::JoinHandle<()>>> {
        self.inflight.lock().unwrap_or_else(|p| p.into_inner())
    }
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
        inflight: Mutex::new(HashMap::new()),
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
    // No new rounds; the destinations' tasks already sending finish their digests.
    handle.abort();
    let _ = handle.await;
    let sending: Vec<_> = shared.inflight().drain().map(|(_, h)| h).collect();
    futures_util::future::join_all(sending).await;
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
    let mut last_prune: Option<std::time::Instant> = None;
    loop {
        if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(std::time::Instant::now());
            let retention = shared.engine.read().await.config.daemon.retention;
            prune(&shared.store, retention).await;
        }
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

/// Why the delivery loop woke up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// A poll cycle ended: `immediate` destinations are due.
    Cycle,
    /// A digest schedule or a retry is due (or MAX_SLEEP passed).
    Timer,
    /// A destination's task finished sending.
    Finished,
}

/// Keeps the state file bounded: forgotten keys, old sent digests, orphaned items.
pub(crate) async fn prune(store: &StoreHandle, retention: Duration) {
    let now = Utc::now();
    match store
        .call(move |s| s.prune(now, retention, crate::store::SENT_RETENTION))
        .await
    {
        Ok(stats) => tracing::info!(?stats, "pruned the state database"),
        Err(e) => tracing::error!(error = %e, "cannot prune the state database"),
    }
}

async fn delivery_loop(shared: Arc<Shared>) {
    // Each destination sends on its own task, never two tasks for one destination (they
    // would send the same due digest twice): a destination that hangs for its timeout on
    // every digest holds up only itself. A poll cycle that ends while a destination is
    // busy is kept for it, so its `immediate` digest is assembled as soon as it is free.
    let mut missed_cycle: HashSet<String> = HashSet::new();
    let finished = Arc::new(Notify::new());
    let mut wake = Wake::Timer;
    loop {
        let engine = shared.engine.read().await.clone();
        let now = Utc::now();
        let busy: HashSet<String> = {
            let mut inflight = shared.inflight();
            inflight.retain(|_, h| !h.is_finished());
            for dest in &engine.config.destinations {
                let name = &dest.name;
                if inflight.contains_key(name) {
                    if wake == Wake::Cycle {
                        missed_cycle.insert(name.clone());
                    }
                    continue;
                }
                let missed = missed_cycle.remove(name);
                if wake == Wake::Finished && !missed {
                    continue;
                }
                let cycle_done = wake == Wake::Cycle || missed;
                let (task_shared, engine, name, done) = (
                    shared.clone(),
                    engine.clone(),
                    name.clone(),
                    finished.clone(),
                );
                let task = tokio::spawn(async move {
                    engine.deliver_destination_due(&name, now, cycle_done).await;
                    task_shared.inflight().remove(&name);
                    done.notify_one();
                });
                inflight.insert(dest.name.clone(), task);
            }
            inflight.keys().cloned().collect()
        };
        let wait = engine
            .next_delivery_wake_except(Utc::now(), &busy)
            .await
            .and_then(|at| (at - Utc::now()).to_std().ok())
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        wake = tokio::select! {
            _ = shared.cycle_done.notified() => Wake::Cycle,
            _ = finished.notified() => Wake::Finished,
            _ = tokio::time::sleep(wait) => Wake::Timer,
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
