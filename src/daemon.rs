//! The long-running service: `feedwatch run`.
//!
//! Two clocks drive it. The poll loop wakes when the earliest feed is due (when a feed is
//! next due lives in the state database, so a restart resumes where it left off), polls
//! every due feed within the engine's global and per-host limits, and then nudges the
//! delivery loop, which otherwise wakes on its own when a digest schedule or a retry is
//! due. Signals: SIGHUP re-reads and validates the config and swaps it in between polls
//! (a broken config is logged and the old one keeps running; feeds renamed in it keep
//! their state, see [`Engine::adopt_renamed_feeds`]); SIGTERM/SIGINT stop
//! scheduling, let in-flight deliveries finish within the grace period and exit 0.
//! systemd is told `READY=1` once the config is valid and the state open, a `STATUS=`
//! line after each cycle, and `WATCHDOG=1` only while the poll loop makes progress.
//! Before a poll loop sleeps after polling, it gives free memory back ([`memory`]).

mod memory;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sd_notify::NotifyState;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::RwLock;
use tokio::task::JoinSet;

use crate::commands::{EXIT_BAD_INPUT, EXIT_OK, EXIT_STATE};
use crate::config::{self, Config};
use crate::pipeline::{Engine, FeedOutcome, FeedReport, StoreHandle};
use crate::store::Store;

pub use memory::{blocking_threads, limit_arenas};

/// The longest the loops sleep when nothing is due and no watchdog is asking for pings:
/// an idle daemon wakes only for a due feed, a due digest, a signal, or this.
const IDLE_SLEEP: Duration = Duration::from_secs(3600);

/// New feeds (no next poll on record) are spread over this long, or their interval if
/// shorter, so start-up is not a burst.
const STARTUP_SPREAD: Duration = Duration::from_secs(60);

/// A pause this long with nothing in flight counts as rest: the poll loop releases the
/// memory the last polls left free before it sleeps. Shorter gaps (feeds due one after
/// another during start-up) are not worth a trim each.
const REST_AFTER: Duration = Duration::from_secs(10);

/// How often the daemon prunes the state database (also once at start).
const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);

struct Shared {
    engine: RwLock<Arc<Engine>>,
    store: StoreHandle,
    /// Unix seconds of the poll loop's last iteration: the watchdog's evidence of life.
    progress: AtomicI64,
    /// Bumped when a poll cycle ends (and at shutdown): wakes every destination's loop.
    cycles: tokio::sync::watch::Sender<u64>,
    /// Set at SIGTERM/SIGINT: the delivery loop finishes its round and returns.
    stopping: AtomicBool,
    /// Bumped after a reload swapped the config in; wakes both loops (a watch channel
    /// remembers the change, so a loop busy at that moment still sees it).
    reloaded: tokio::sync::watch::Sender<u64>,
    /// How long a loop may sleep: bounded by half the watchdog period when there is one,
    /// so the poll loop's progress mark stays fresh.
    max_sleep: Duration,
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
        cycles: tokio::sync::watch::Sender::new(0),
        stopping: AtomicBool::new(false),
        reloaded: tokio::sync::watch::Sender::new(0),
        max_sleep: sd_notify::watchdog_enabled()
            .map(|p| (p / 2).max(Duration::from_millis(100)))
            .unwrap_or(IDLE_SLEEP),
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
    let deliverer = tokio::spawn(delivery_supervisor(shared.clone()));
    let watchdog = sd_notify::watchdog_enabled()
        .map(|period| tokio::spawn(watchdog_loop(shared.clone(), period)));
    let pruner = tokio::spawn(prune_loop(shared.clone()));

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
    pruner.abort();
    if let Some(w) = watchdog {
        w.abort();
    }
    // Deliveries mark their digests only after the destination answered; one cut off here
    // stays pending in the outbox and is sent again, with the same id, after a restart.
    shared.stopping.store(true, Ordering::Relaxed);
    // Wake every loop so each sees `stopping`.
    shared.cycles.send_modify(|c| *c += 1);
    shared.reloaded.send_modify(|g| *g += 1);
    let mut deliverer = deliverer;
    if tokio::time::timeout(grace, &mut deliverer).await.is_err() {
        deliverer.abort();
        tracing::warn!("grace period over; unsent digests stay pending in the outbox");
    }
    EXIT_OK
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
                    shared.reloaded.send_modify(|generation| *generation += 1);
                    tracing::info!(feeds, rules, "config reloaded");
                }
                Err(e) => tracing::error!(error = %e, "reload refused, the running config stays"),
            }
        }
    }
    notify(&[NotifyState::Ready]);
}

async fn poll_loop(shared: Arc<Shared>) {
    let mut reloads = shared.reloaded.subscribe();
    let mut book = Polling::default();
    let mut polls: JoinSet<FeedReport> = JoinSet::new();
    let mut engine = shared.engine.read().await.clone();
    let mut loaded = false;
    let mut polled_since_rest = false;
    loop {
        shared
            .progress
            .store(Utc::now().timestamp(), Ordering::Relaxed);
        let current = shared.engine.read().await.clone();
        if !loaded || !Arc::ptr_eq(&engine, &current) {
            // First round, or a reload swapped the config in. The swap happens between
            // polls: the old config's polls finish first, so that a renamed feed's last
            // poll cannot land under its old name after its state moved to the new one.
            while let Some(done) = polls.join_next().await {
                let last = polls.is_empty();
                book.finish(&shared, &engine, done, last).await;
                polled_since_rest = true;
            }
            engine = current;
            loaded = true;
            engine.adopt_renamed_feeds().await;
            // Drop removed feeds, schedule added ones from what the database knows.
            load_schedule(&shared, &engine, &mut book.due_at).await;
        }

        let now = Utc::now();
        let mut next_wake = now + chrono::Duration::from_std(shared.max_sleep).unwrap_or_default();
        for feed in &engine.config.feeds {
            if book.in_flight.contains(&feed.name) {
                continue;
            }
            let at = book.due_at.get(&feed.name).copied().unwrap_or(now);
            if at <= now {
                book.in_flight.insert(feed.name.clone());
                let (engine, feed) = (engine.clone(), feed.clone());
                polls.spawn(async move { engine.poll_feed(&feed).await });
            } else if at < next_wake {
                next_wake = at;
            }
        }
        let wait = (next_wake - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(shared.max_sleep);
        if polled_since_rest && polls.is_empty() && wait >= REST_AFTER {
            polled_since_rest = false;
            memory::release_free_memory(&shared.store).await;
        }
        tokio::select! {
            _ = reloads.changed() => {}
            Some(done) = polls.join_next(), if !polls.is_empty() => {
                let last = polls.is_empty();
                book.finish(&shared, &engine, done, last).await;
                polled_since_rest = true;
            }
            _ = tokio::time::sleep(wait.max(Duration::from_millis(20))) => {}
        }
    }
}

/// The poll loop's bookkeeping: when each feed is next due (loaded from the state
/// database, then kept up to date from each poll's own report; feeds never polled get a
/// spread-out first poll), which polls are running, and the current cycle's totals.
#[derive(Default)]
struct Polling {
    due_at: HashMap<String, DateTime<Utc>>,
    in_flight: HashSet<String>,
    cycle: CycleStats,
}

impl Polling {
    /// Takes in one finished poll; `last` says no other poll is running.
    async fn finish(
        &mut self,
        shared: &Shared,
        engine: &Engine,
        done: Result<FeedReport, tokio::task::JoinError>,
        last: bool,
    ) {
        let report = match done {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "a poll task failed");
                // The feed's name is lost with the task: re-read every schedule.
                self.in_flight.clear();
                load_schedule(shared, engine, &mut self.due_at).await;
                return;
            }
        };
        self.in_flight.remove(&report.feed);
        let fallback = Utc::now()
            + chrono::Duration::from_std(report_fallback(engine, &report.feed)).unwrap_or_default();
        self.due_at
            .insert(report.feed.clone(), report.next_poll.unwrap_or(fallback));
        crate::health::after_polls(engine, std::slice::from_ref(&report)).await;
        self.cycle.add(&report);
        if last {
            // Every due feed has answered: the end of a poll cycle.
            notify(&[NotifyState::Status(&format!(
                "{} feeds, {} rules; last cycle polled {}, {} new matches, {} failing",
                engine.config.feeds.len(),
                engine.config.rules.len(),
                self.cycle.polled,
                self.cycle.matches,
                self.cycle.failing
            ))]);
            self.cycle = CycleStats::default();
            shared.cycles.send_modify(|c| *c += 1);
        }
    }
}

/// When a poll could not record its next time (the state database failed), try again after
/// the feed's interval.
fn report_fallback(engine: &Engine, feed: &str) -> Duration {
    engine
        .config
        .feeds
        .iter()
        .find(|f| f.name == feed)
        .map_or(Duration::from_secs(60), |f| f.interval)
}

#[derive(Default)]
struct CycleStats {
    polled: usize,
    matches: usize,
    failing: usize,
}

impl CycleStats {
    fn add(&mut self, report: &FeedReport) {
        self.polled += 1;
        match &report.outcome {
            FeedOutcome::Polled { matches, .. } => self.matches += matches,
            FeedOutcome::Failed { .. } => self.failing += 1,
            FeedOutcome::NotModified => {}
        }
    }
}

/// Fills `due_at` for the engine's feeds from the state database, spreading feeds that were
/// never polled over [`STARTUP_SPREAD`] (or their interval, if shorter).
async fn load_schedule(
    shared: &Shared,
    engine: &Engine,
    due_at: &mut HashMap<String, DateTime<Utc>>,
) {
    let stored = shared
        .store
        .call(|s| s.feeds_status())
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read feed schedules from the state database");
            Vec::new()
        });
    let stored: HashMap<String, Option<DateTime<Utc>>> =
        stored.into_iter().map(|f| (f.name, f.next_poll)).collect();
    let now = Utc::now();
    let names: HashSet<&str> = engine
        .config
        .feeds
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    due_at.retain(|name, _| names.contains(name.as_str()));
    for feed in &engine.config.feeds {
        if due_at.contains_key(&feed.name) {
            continue;
        }
        let at = stored
            .get(&feed.name)
            .copied()
            .flatten()
            .unwrap_or_else(|| {
                let spread = STARTUP_SPREAD.min(feed.interval);
                now + chrono::Duration::from_std(spread.mul_f64(crate::pacing::jitter()))
                    .unwrap_or_default()
            });
        due_at.insert(feed.name.clone(), at);
    }
}

/// Runs one delivery loop per destination, so a destination that is slow or failing never
/// holds up another; after a reload, starts loops for added destinations (loops of removed
/// ones end by themselves). Returns once every loop has finished at shutdown.
async fn delivery_supervisor(shared: Arc<Shared>) {
    let mut reloads = shared.reloaded.subscribe();
    let mut loops: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    loop {
        let engine = shared.engine.read().await.clone();
        loops.retain(|_, handle| !handle.is_finished());
        for dest in &engine.config.destinations {
            if !loops.contains_key(&dest.name) {
                let handle = tokio::spawn(destination_loop(shared.clone(), dest.name.clone()));
                loops.insert(dest.name.clone(), handle);
            }
        }
        if shared.stopping.load(Ordering::Relaxed) || reloads.changed().await.is_err() {
            break;
        }
    }
    for (_, handle) in loops {
        let _ = handle.await;
    }
}

async fn destination_loop(shared: Arc<Shared>, name: String) {
    let mut reloads = shared.reloaded.subscribe();
    let mut cycles = shared.cycles.subscribe();
    let mut cycle = false;
    while !shared.stopping.load(Ordering::Relaxed) {
        let engine = shared.engine.read().await.clone();
        let Some(dest) = engine.config.destinations.iter().find(|d| d.name == name) else {
            return; // removed by a reload
        };
        engine.deliver_destination(dest, Utc::now(), cycle).await;
        if shared.stopping.load(Ordering::Relaxed) {
            break;
        }
        let wait = engine
            .next_destination_wake(&name, Utc::now())
            .await
            .and_then(|at| (at - Utc::now()).to_std().ok())
            .unwrap_or(shared.max_sleep)
            .min(shared.max_sleep);
        cycle = tokio::select! {
            r = cycles.changed() => r.is_ok(),
            _ = reloads.changed() => false,
            _ = tokio::time::sleep(wait) => false,
        };
    }
}

/// Prunes at start, then once a day: sleeping a day is the only wake-up this adds.
async fn prune_loop(shared: Arc<Shared>) {
    loop {
        let retention = shared.engine.read().await.config.daemon.retention;
        prune(&shared.store, retention).await;
        tokio::time::sleep(PRUNE_EVERY).await;
    }
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

async fn watchdog_loop(shared: Arc<Shared>, period: Duration) {
    let tick = (period / 3).max(Duration::from_millis(100));
    // The poll loop wakes at least every max_sleep; allow for a slow iteration on top.
    let stale_after = (period.as_secs() as i64).max(shared.max_sleep.as_secs() as i64 * 2 + 60);
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
