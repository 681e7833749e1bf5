//! Feed health: one "feed failing" notice when a feed has failed `health.failures` times in
//! a row (or produced nothing new for its `stale_after`), one "feed recovered" notice when
//! it works again; never one notice per poll.
//!
//! The feed's health lives in the state database, so a restart neither repeats nor forgets
//! a notice. Notices are queued as one-item digests for the `health_notify` destinations
//! and go out through the outbox like any digest, with its retries.

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

use crate::config::{Config, FeedConfig};
use crate::model::{Digest, DigestItem};
use crate::pipeline::{Engine, FeedOutcome, FeedReport};
use crate::store::{FeedState, Health, Store, StoreError};

/// The pseudo rule name notices carry, so digests and webhooks can tell them apart.
pub const HEALTH_RULE: &str = "feed-health";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transition {
    Failing,
    Flood,
    Stale,
    Recovered,
}

/// Checks every polled feed's health after a cycle and queues the notices due.
pub async fn after_polls(engine: &Engine, reports: &[FeedReport]) {
    let config = engine.config.clone();
    let reports = reports.to_vec();
    let result = engine
        .store()
        .call(move |store| {
            let now = Utc::now();
            for report in &reports {
                let Some(feed) = config.feeds.iter().find(|f| f.name == report.feed) else {
                    continue;
                };
                check_feed(store, &config, feed, &report.outcome, now)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "cannot record feed health");
    }
}

fn check_feed(
    store: &mut Store,
    config: &Config,
    feed: &FeedConfig,
    outcome: &FeedOutcome,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(state) = store.feed_state(&feed.name)? else {
        return Ok(());
    };
    if state.flood_notified
        && matches!(
            outcome,
            FeedOutcome::Polled {
                flood_held: false,
                ..
            }
        )
    {
        // The flood is over: the next one is news again and gets its own notice.
        store.set_flood_notified(&feed.name, false)?;
    }
    let Some((transition, detail)) = transition(config, feed, outcome, &state, now) else {
        return Ok(());
    };
    match transition {
        Transition::Failing => store.set_health(&feed.name, Health::Failing, now)?,
        Transition::Flood => store.set_flood_notified(&feed.name, true)?,
        Transition::Stale => store.set_stale_notified(&feed.name, true)?,
        Transition::Recovered => {
            if state.health == Health::Failing {
                store.set_health(&feed.name, Health::Ok, now)?;
            }
            if state.stale_notified {
                store.set_stale_notified(&feed.name, false)?;
            }
        }
    }
    let title = match transition {
        Transition::Failing => format!("feed failing: {}", feed.name),
        Transition::Flood => format!("feed flooding: {}", feed.name),
        Transition::Stale => format!("feed stale: {}", feed.name),
        Transition::Recovered => format!("feed recovered: {}", feed.name),
    };
    match transition {
        Transition::Recovered => tracing::info!(feed = %feed.name, "{title}"),
        _ => tracing::warn!(feed = %feed.name, "{title}: {detail}"),
    }
    for dest in &config.daemon.health_notify {
        store.enqueue_digest(&notice(dest, feed, &title, &detail, now), now)?;
    }
    Ok(())
}

fn transition(
    config: &Config,
    feed: &FeedConfig,
    outcome: &FeedOutcome,
    state: &FeedState,
    now: DateTime<Utc>,
) -> Option<(Transition, String)> {
    match outcome {
        FeedOutcome::Failed { error, failures } => (*failures >= config.daemon.health_failures
            && state.health != Health::Failing)
            .then(|| {
                (
                    Transition::Failing,
                    format!("{failures} failures in a row; last error: {error}"),
                )
            }),
        FeedOutcome::Polled {
            new_items,
            flood_held: true,
            ..
        } if !state.flood_notified => Some((
            Transition::Flood,
            format!(
                "{new_items} items were new in one poll, more than flood_limit = {}: they were marked seen \
                 and not alerted. A feed whose guids change on every fetch does this; if it really \
                 publishes that much at once, raise flood_limit",
                config.daemon.flood_limit
            ),
        )),
        FeedOutcome::Polled { new_items, .. } if *new_items > 0 && state.stale_notified => {
            Some((Transition::Recovered, "new items again".to_string()))
        }
        FeedOutcome::Polled { .. } | FeedOutcome::NotModified => {
            if state.health == Health::Failing {
                return Some((
                    Transition::Recovered,
                    "polled successfully again".to_string(),
                ));
            }
            let stale_after = feed.stale_after?;
            let since = state.last_new_at.or(state.health_since)?;
            let limit = chrono::Duration::from_std(stale_after).ok()?;
            (!state.stale_notified && now - since >= limit).then(|| {
                (
                    Transition::Stale,
                    format!(
                        "nothing new since {} (stale_after = {}); check the feed still publishes at this URL",
                        since.format("%Y-%m-%d %H:%M UTC"),
                        crate::config::format_duration(stale_after)
                    ),
                )
            })
        }
    }
}

/// A one-item digest carrying a health notice.
fn notice(dest: &str, feed: &FeedConfig, title: &str, detail: &str, now: DateTime<Utc>) -> Digest {
    let mut h = Sha256::new();
    h.update(dest.as_bytes());
    h.update([0]);
    h.update(title.as_bytes());
    h.update([0]);
    // Nanoseconds: two notices of one kind in the same second (two quick `run --once`) are
    // two events, not one.
    h.update(
        now.timestamp_nanos_opt()
            .unwrap_or(now.timestamp())
            .to_le_bytes(),
    );
    let id = format!("n{}", &hex::encode(h.finalize())[..24]);
    Digest {
        id,
        destination: dest.to_string(),
        created_at: now,
        items: vec![DigestItem {
            id: format!("feedwatch:health:{}", feed.name),
            feed: feed.name.clone(),
            feeds: vec![feed.name.clone()],
            title: title.to_string(),
            link: match &feed.source {
                crate::config::FeedSource::Http(u) => {
                    // Never carry credentials from the feed URL into a message.
                    let mut u = u.clone();
                    let _ = u.set_password(None);
                    let _ = u.set_username("");
                    Some(u.to_string())
                }
                crate::config::FeedSource::File(_) => None,
            },
            published: Some(now),
            summary: detail.to_string(),
            rules: vec![HEALTH_RULE.to_string()],
            matched: Vec::new(),
        }],
    }
}
