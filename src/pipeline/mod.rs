//! Wires the stages: one poll of one feed (fetch → parse → dedupe → match → record), and
//! the delivery of whatever digests are due (assemble → send → mark).
//!
//! This is the only module that calls the others. `run --once` is [`Engine::poll_all`]
//! followed by [`Engine::deliver_due`]; the daemon calls the same two on its own clocks.
//! Persist, then act: a poll's new items and matches are committed in one transaction
//! before anything is delivered, and a digest is marked sent only after the destination
//! accepted it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use crate::config::{Config, FeedConfig, FeedSource, FirstPoll};
use crate::deliver::{Deliverer, DeliveryError, ErrorKind as DeliveryErrorKind};
use crate::fetch::{FetchLimits, FetchOutcome, FetchRequest, Fetcher};
use crate::model::Item;
use crate::pacing::{self, FeedHints};
use crate::schedule::Schedule;
use crate::store::{ConfiguredFeed, DigestStatus, OutboxEntry, PollCommit, StoreError};

mod matching;
mod store_handle;
pub use store_handle::{MAX_READERS, StoreHandle};

use matching::Matcher;

/// A fetched body after the blocking stage: parsed, checked against the seen keys, matched.
struct Processed {
    items: Vec<Item>,
    new_items: usize,
    flood_held: bool,
    matches: matching::PollMatches,
    ttl_minutes: Option<u32>,
    skip_hours: Vec<u32>,
    skip_days: Vec<u32>,
}

/// What happened to one feed in one poll.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedOutcome {
    Polled {
        items: usize,
        new_items: usize,
        matches: usize,
        /// The feed's first successful poll under `first_poll = "seen"`: items marked seen only.
        first_poll_seen: bool,
        /// More than `flood_limit` items were new at once (after the first poll): they were
        /// marked seen without alerting.
        flood_held: bool,
    },
    NotModified,
    Failed {
        error: String,
        failures: u32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedReport {
    pub feed: String,
    pub outcome: FeedOutcome,
    /// When the feed is due again, as recorded in the state database.
    pub next_poll: Option<DateTime<Utc>>,
}

impl fmt::Display for FeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            FeedOutcome::Polled {
                items,
                new_items,
                matches,
                first_poll_seen,
                flood_held,
            } => {
                write!(
                    f,
                    "{}: {items} items, {new_items} new, {matches} matches",
                    self.feed
                )?;
                if *first_poll_seen {
                    write!(
                        f,
                        " (first poll: items marked seen, nothing sent; set first_poll = \"alert\" to be alerted)"
                    )?;
                }
                if *flood_held {
                    write!(
                        f,
                        " (flood guard: more new items than flood_limit at once; marked seen, nothing sent)"
                    )?;
                }
                Ok(())
            }
            FeedOutcome::NotModified => write!(f, "{}: not modified", self.feed),
            FeedOutcome::Failed { error, failures } => {
                write!(f, "{}: error: {error}", self.feed)?;
                if *failures > 1 {
                    write!(f, " ({failures} failures in a row)")?;
                }
                Ok(())
            }
        }
    }
}

/// What happened to one digest.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryReport {
    pub destination: String,
    pub digest: String,
    pub items: usize,
    pub result: Result<(), String>,
}

/// A validated config compiled for polling: the rule set, per-rule feed scopes and the
/// shared clients.
pub struct Engine {
    pub config: Arc<Config>,
    matcher: Arc<Matcher>,
    store: StoreHandle,
    fetcher: Fetcher,
    deliverer: Deliverer,
    global: Arc<Semaphore>,
    /// Polls between their fetch and their commit: bounds the bodies and parsed items
    /// held at once (memory stays flat however many feeds are due).
    in_flight: Arc<Semaphore>,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("cannot build the HTTP client: {0}")]
    Fetch(#[from] crate::fetch::FetchError),
    #[error("cannot build the delivery clients: {0}")]
    Deliver(String),
}

/// Indices of `feeds` taking one feed of each host in turn (first host first, each
/// host's feeds in config order); local files count as one host.
fn interleave_by_host(feeds: &[FeedConfig]) -> Vec<usize> {
    interleave(feeds.iter().map(|feed| match &feed.source {
        FeedSource::Http(url) => url.host_str().map(str::to_ascii_lowercase),
        _ => None,
    }))
}

/// Indices of `keys` taking one of each distinct key in turn, keys in order of first
/// appearance, each key's indices in order.
fn interleave<K: std::hash::Hash + Eq>(keys: impl Iterator<Item = K>) -> Vec<usize> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut slot: HashMap<K, usize> = HashMap::new();
    for (i, key) in keys.enumerate() {
        let n = *slot.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[n].push(i);
    }
    let mut order = Vec::with_capacity(groups.iter().map(Vec::len).sum());
    let mut queues: Vec<_> = groups.into_iter().map(Vec::into_iter).collect();
    while !queues.is_empty() {
        queues.retain_mut(|q| q.next().map(|i| order.push(i)).is_some());
    }
    order
}

impl Engine {
    pub fn new(config: Arc<Config>, store: StoreHandle) -> Result<Engine, EngineError> {
        let matcher = Arc::new(Matcher::new(config.clone()));
        let fetcher = Fetcher::new(FetchLimits {
            timeout: config.daemon.fetch_timeout,
            max_body: config.daemon.max_body,
        })?;
        let deliverer = Deliverer::new().map_err(|e| EngineError::Deliver(e.to_string()))?;
        let global = Arc::new(Semaphore::new(config.daemon.concurrency.max(1)));
        let in_flight = Arc::new(Semaphore::new(config.daemon.concurrency.max(1) * 4));
        Ok(Engine {
            config,
            matcher,
            store,
            fetcher,
            deliverer,
            global,
            in_flight,
            hosts: Mutex::new(HashMap::new()),
        })
    }

    pub fn store(&self) -> &StoreHandle {
        &self.store
    }

    /// Carries the stored state of feeds renamed in this config over to their new names
    /// (see [`crate::store::Store::adopt_renamed_feeds`]); call before polling. A failure is logged: the
    /// renamed feeds then start over under `first_poll`.
    pub async fn adopt_renamed_feeds(&self) {
        let feeds: Vec<ConfiguredFeed> = self
            .config
            .feeds
            .iter()
            .map(|f| ConfiguredFeed {
                name: f.name.clone(),
                source: crate::identity::feed_source_id(&f.source),
            })
            .collect();
        match self
            .store
            .call(move |s| s.adopt_renamed_feeds(&feeds))
            .await
        {
            Ok(moves) => {
                for (old, new) in moves {
                    tracing::info!(feed = %new, was = %old, "feed renamed: its state carries over");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot carry renamed feeds over; they start over under first_poll")
            }
        }
    }

    /// Polls every feed once, `concurrency` at a time and at most `per_host` per host,
    /// processing each feed as its answer arrives (each poll is its own task, so parsing
    /// and matching use every core). Reports come in config order.
    pub async fn poll_all(self: &Arc<Self>) -> Vec<FeedReport> {
        let feeds = &self.config.feeds;
        let mut reports: Vec<Option<FeedReport>> = vec![None; feeds.len()];
        // A poll's task exists only while it is one of the next few to run: ten thousand
        // feeds are never ten thousand live futures (memory stays flat with the number
        // of feeds). Feeds are started host by host in turn, so a window full of one
        // busy host's feeds does not hold back the others.
        let window = self.config.daemon.concurrency.max(1) * 4;
        let mut order = interleave_by_host(feeds).into_iter();
        let mut polls = tokio::task::JoinSet::new();
        loop {
            while polls.len() < window {
                let Some(i) = order.next() else { break };
                let (engine, feed) = (self.clone(), feeds[i].clone());
                polls.spawn(async move { (i, engine.poll_feed(&feed).await) });
            }
            let Some(done) = polls.join_next().await else {
                break;
            };
            match done {
                Ok((i, report)) => reports[i] = Some(report),
                Err(e) => tracing::error!(error = %e, "a poll task failed"),
            }
        }
        reports.into_iter().flatten().collect()
    }

    fn host_semaphore(&self, feed: &FeedConfig) -> Option<Arc<Semaphore>> {
        let FeedSource::Http(url) = &feed.source else {
            return None;
        };
        let host = url.host_str()?.to_ascii_lowercase();
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        Some(
            hosts
                .entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(self.config.daemon.per_host.max(1))))
                .clone(),
        )
    }

    /// One poll of one feed. Errors stay here: they are recorded and reported, never raised.
    pub async fn poll_feed(&self, feed: &FeedConfig) -> FeedReport {
        let (outcome, next_poll) = match self.try_poll(feed).await {
            Ok(o) => o,
            Err(error) => {
                let (failures, next) = self.record_failure(feed, &error, None).await;
                (FeedOutcome::Failed { error, failures }, next)
            }
        };
        match &outcome {
            FeedOutcome::Failed { error, .. } => {
                tracing::warn!(feed = %feed.name, %error, "poll failed")
            }
            other => tracing::info!(feed = %feed.name, outcome = ?other, "polled"),
        }
        FeedReport {
            feed: feed.name.clone(),
            outcome,
            next_poll,
        }
    }

    async fn record_failure(
        &self,
        feed: &FeedConfig,
        error: &str,
        fetch_err: Option<&crate::fetch::FetchError>,
    ) -> (u32, Option<DateTime<Utc>>) {
        let now = Utc::now();
        let name = feed.name.clone();
        let error = error.to_string();
        let status = fetch_err.and_then(|e| e.http_status());
        let retry_after = fetch_err.and_then(|e| e.retry_after());
        let interval = feed.interval;
        let cap = self.config.daemon.max_backoff;
        self.store
            .call_batched(move |s| {
                let failures = s.feed_state(&name)?.map_or(0, |st| st.failures) + 1;
                let wait = pacing::backoff(interval, failures, cap, retry_after, pacing::jitter());
                let next = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(6));
                Ok((s.record_failure(&name, now, status, &error, next)?, Some(next)))
            })
            .await
            .unwrap_or_else(|e| {
                tracing::error!(feed = %feed.name, error = %e, "cannot record the failure in the state database");
                (0, None)
            })
    }

    async fn try_poll(
        &self,
        feed: &FeedConfig,
    ) -> Result<(FeedOutcome, Option<DateTime<Utc>>), String> {
        let name = feed.name.clone();
        let state = self
            .store
            .read(move |s| s.feed_state(&name))
            .await
            .map_err(|e| e.to_string())?;

        // Permits in one order everywhere: host, then in-flight, then global. A poll
        // waiting for its host holds neither of the others, so one busy host cannot
        // starve the rest.
        let host = self.host_semaphore(feed);
        let host_permit = match &host {
            Some(h) => Some(h.acquire().await.map_err(|e| e.to_string())?),
            None => None,
        };
        let _in_flight = self.in_flight.acquire().await.map_err(|e| e.to_string())?;
        let fetched = {
            let _global = self.global.acquire().await.map_err(|e| e.to_string())?;
            let req = FetchRequest {
                source: &feed.source,
                etag: state.as_ref().and_then(|s| s.etag.as_deref()),
                last_modified: state.as_ref().and_then(|s| s.last_modified.as_deref()),
                user_agent: &feed.user_agent,
                headers: &feed.headers,
            };
            self.fetcher.fetch(req).await
        };
        drop(host_permit);
        let fetched = match fetched {
            Ok(f) => f,
            Err(e) => {
                let msg = e.to_string();
                let (failures, next) = self.record_failure(feed, &msg, Some(&e)).await;
                return Ok((
                    FeedOutcome::Failed {
                        error: msg,
                        failures,
                    },
                    next,
                ));
            }
        };

        let now = Utc::now();
        let fetched = match fetched {
            FetchOutcome::NotModified { hints } => {
                let next = pacing::next_poll_after_success(
                    now,
                    feed.interval,
                    &FeedHints {
                        server: Some(&hints),
                        ..Default::default()
                    },
                );
                let name = feed.name.clone();
                self.store
                    .call_batched(move |s| s.record_not_modified(&name, now, next))
                    .await
                    .map_err(|e| e.to_string())?;
                return Ok((FeedOutcome::NotModified, Some(next)));
            }
            FetchOutcome::Modified(f) => f,
        };

        let first_poll = !state.as_ref().is_some_and(|s| s.polled_ok);
        let first_poll_seen = first_poll && self.config.daemon.first_poll == FirstPoll::Seen;
        // Parse, the unseen check and matching are CPU work: one blocking task for the
        // three, so polls proceed in parallel on every core.
        let processed = {
            let body = fetched.body;
            let charset = fetched.charset.clone();
            let base = fetched.final_url.clone();
            let name = feed.name.clone();
            let tags = feed.tags.clone();
            let store = self.store.clone();
            let matcher = self.matcher.clone();
            let flood_limit = self.config.daemon.flood_limit;
            tokio::task::spawn_blocking(move || -> Result<Processed, String> {
                let parsed = crate::parse::parse_feed(&body, charset.as_deref(), base.as_deref())
                    .map_err(|e| e.to_string())?;
                drop(body);
                let crate::model::ParsedFeed {
                    items,
                    ttl_minutes,
                    skip_hours,
                    skip_days,
                    ..
                } = parsed;
                let reader_name = name.clone();
                let (items, unseen) = store
                    .read_blocking(move |s| {
                        let unseen = s.unseen(&reader_name, &items)?;
                        Ok((items, unseen))
                    })
                    .map_err(|e| e.to_string())?;
                let new_items = unseen.iter().filter(|n| **n).count();
                // A publisher whose guids change on every fetch would make everything new
                // each time: past the flood limit, hold the lot (mark seen, alert nothing)
                // and say so once.
                let flood_held = !first_poll && new_items > flood_limit;
                let matches = if first_poll_seen || flood_held {
                    Vec::new()
                } else {
                    matcher.match_new(&name, &tags, &items, &unseen, now)
                };
                Ok(Processed {
                    items,
                    new_items,
                    flood_held,
                    matches,
                    ttl_minutes,
                    skip_hours,
                    skip_days,
                })
            })
            .await
            .map_err(|e| format!("parser task failed: {e}"))??
        };
        let next_poll = pacing::next_poll_after_success(
            now,
            feed.interval,
            &FeedHints {
                server: Some(&fetched.hints),
                ttl_minutes: processed.ttl_minutes,
                skip_hours: &processed.skip_hours,
                skip_days: &processed.skip_days,
            },
        );
        let (new_items, flood_held) = (processed.new_items, processed.flood_held);
        let commit = PollCommit {
            feed: feed.name.clone(),
            source: Some(crate::identity::feed_source_id(&feed.source)),
            now,
            etag: fetched.etag,
            last_modified: fetched.last_modified,
            http_status: matches!(feed.source, FeedSource::Http(_)).then_some(fetched.status),
            next_poll,
            items: processed.items,
            matches: processed.matches,
        };
        let item_count = commit.items.len();
        // The commit comes back with the answer, so that its items are freed here rather
        // than on the writer's thread, the one every poll waits for.
        let (summary, commit) = self
            .store
            .call_batched(move |s| s.commit_poll(&commit).map(|summary| (summary, commit)))
            .await
            .map_err(|e| e.to_string())?;
        drop(commit);
        Ok((
            FeedOutcome::Polled {
                items: item_count,
                new_items,
                matches: summary.new_matches,
                first_poll_seen,
                flood_held,
            },
            Some(next_poll),
        ))
    }

    /// The outbox entries for one new item: every rule that applies to its feed and
    /// matches, times the rule's destinations.
    pub fn match_item(&self, feed: &FeedConfig, item: &Item) -> Vec<OutboxEntry> {
        self.matcher.match_item(&feed.name, &feed.tags, item)
    }

    /// Assembles and sends every digest that is due at `now`. `cycle_done` says a poll
    /// cycle just ended, which is when `immediate` destinations are due. Destinations are
    /// handled concurrently, so a failing one never delays another. Within a destination
    /// digests go oldest first, and a transient failure ends that destination's round.
    pub async fn deliver_due(&self, now: DateTime<Utc>, cycle_done: bool) -> Vec<DeliveryReport> {
        let runs = self
            .config
            .destinations
            .iter()
            .map(|d| self.deliver_destination(d, now, cycle_done));
        futures_util::future::join_all(runs)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// When a destination's delivery should next look: its scheduled digest or its earliest
    /// retry, whichever comes first.
    pub async fn next_destination_wake(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.next_wake_of(vec![name.to_string()], now).await
    }

    /// When the delivery loop should next look: the earliest scheduled digest or retry.
    pub async fn next_delivery_wake(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let names: Vec<String> = self
            .config
            .destinations
            .iter()
            .map(|d| d.name.clone())
            .collect();
        self.next_wake_of(names, now).await
    }

    async fn next_wake_of(&self, names: Vec<String>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.store
            .call(move |s| {
                let mut earliest: Option<DateTime<Utc>> = None;
                for name in &names {
                    for at in [s.destination_due(name)?, s.next_retry(name)?]
                        .into_iter()
                        .flatten()
                    {
                        earliest = Some(earliest.map_or(at, |e| e.min(at)));
                    }
                }
                Ok(earliest.map(|e| e.max(now)))
            })
            .await
            .unwrap_or(None)
    }

    /// Assembles and sends what is due for one destination (see [`Engine::deliver_due`]).
    pub async fn deliver_destination(
        &self,
        dest: &crate::config::DestinationConfig,
        now: DateTime<Utc>,
        cycle_done: bool,
    ) -> Vec<DeliveryReport> {
        let name = dest.name.clone();
        let schedule = dest.digest.clone();
        let tz = dest.timezone;
        let max_items = dest.max_items;
        let assembled = self
            .store
            .call(move |s| {
                let due = match &schedule {
                    Schedule::Immediate => cycle_done,
                    other => match s.destination_due(&name)? {
                        Some(at) => at <= now,
                        None => {
                            // First sight of this destination: start its clock.
                            if let Some(next) = other.next_due(now, tz) {
                                s.set_destination_due(&name, next)?;
                            }
                            false
                        }
                    },
                };
                if due {
                    s.assemble_digests(&name, max_items, now)?;
                    if let Some(next) = schedule.next_due(now, tz) {
                        s.set_destination_due(&name, next)?;
                    }
                }
                s.due_digest_ids(&name, now)
            })
            .await;
        let due = match assembled {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(destination = %dest.name, error = %e, "cannot assemble digests");
                return Vec::new();
            }
        };
        let mut reports = Vec::new();
        // At most two digests in memory at a time: the one being sent, and the next,
        // loaded on a reader connection meanwhile. A backlog of thousands of digests costs
        // a list of ids, not thousands of payloads.
        let load = |id: String| {
            let store = self.store.clone();
            let wanted = id.clone();
            let loading = tokio::spawn(async move { store.read(move |s| s.digest(&wanted)).await });
            (id, loading)
        };
        let mut due = due.into_iter();
        let mut next = due.next().map(load);
        while let Some((id, loading)) = next.take() {
            let loaded = loading
                .await
                .unwrap_or_else(|e| Err(crate::store::StoreError::Task(e.to_string())));
            next = due.next().map(load);
            let stored = match loaded {
                // Still pending: another round may have sent it since the list was read.
                Ok(Some(stored)) if stored.status == DigestStatus::Pending => stored,
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!(destination = %dest.name, digest = %id, error = %e, "cannot read a due digest");
                    break;
                }
            };
            let digest = stored.digest;
            let started = std::time::Instant::now();
            let result = self.deliverer.deliver(dest, &digest).await;
            let id = digest.id.clone();
            let attempts = stored.attempts + 1;
            let first_attempt = stored.first_attempt.unwrap_or(now);
            let retry_for = dest.retry_for;
            let report_err = result.as_ref().err().map(|e| e.message.clone());
            let transient = result.as_ref().is_err_and(DeliveryError::is_transient);
            let outcome = result.as_ref().map(|_| ()).map_err(DeliveryError::clone);
            let dest_name = dest.name.clone();
            // The caller's clock plus the attempt's duration, so a controlled clock stays
            // consistent (retry times are computed from it).
            let done = now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
            let marked = self
                .store
                .call(move |s| match outcome {
                    Ok(()) => {
                        s.mark_sent(&id, done)?;
                        s.record_delivery(&dest_name, done)
                    }
                    Err(e) => match e.kind {
                        DeliveryErrorKind::Permanent => s.mark_failed(&id, done, &e.message),
                        DeliveryErrorKind::Transient { retry_after } => {
                            let gave_up = chrono::Duration::from_std(retry_for)
                                .is_ok_and(|rf| done - first_attempt >= rf);
                            if gave_up {
                                s.mark_failed(
                                    &id,
                                    done,
                                    &format!(
                                        "gave up retrying after {}: {}",
                                        crate::config::format_duration(retry_for),
                                        e.message
                                    ),
                                )
                            } else {
                                let wait = pacing::backoff(
                                    std::time::Duration::from_secs(30),
                                    attempts,
                                    std::time::Duration::from_secs(3600),
                                    retry_after,
                                    pacing::jitter(),
                                );
                                let next = done
                                    + chrono::Duration::from_std(wait)
                                        .unwrap_or(chrono::Duration::hours(1));
                                s.mark_retry(&id, done, &e.message, next)
                            }
                        }
                    },
                })
                .await;
            if let Err(e) = marked {
                tracing::error!(destination = %dest.name, digest = %digest.id, error = %e, "cannot record the delivery result");
            }
            match &report_err {
                None => {
                    tracing::info!(destination = %dest.name, digest = %digest.id, items = digest.items.len(), "digest delivered")
                }
                Some(err) => {
                    tracing::warn!(destination = %dest.name, digest = %digest.id, error = %err, "delivery failed")
                }
            }
            reports.push(DeliveryReport {
                destination: dest.name.clone(),
                digest: digest.id.clone(),
                items: digest.items.len(),
                result: report_err.map_or(Ok(()), Err),
            });
            // The server is down, stalling or asked us to wait: its other due digests stay
            // pending for the next round instead of each costing a full deadline now
            // (the round, and with it every other destination's next one, waits for this).
            if transient {
                break;
            }
        }
        // Left unread after a failure: the next round reads it again.
        if let Some((_, loading)) = next {
            loading.abort();
        }
        reports
    }
}

#[cfg(test)]
mod tests {
    use super::interleave;

    #[test]
    fn interleave_takes_each_host_in_turn() {
        let hosts = ["a", "a", "a", "b", "c", "c", "a"];
        assert_eq!(interleave(hosts.iter()), [0, 3, 4, 1, 5, 2, 6]);
        assert!(interleave(std::iter::empty::<u8>()).is_empty());
    }
}
