//! When to poll a feed next and when to retry a delivery: intervals widened by server
//! hints, exponential back-off with jitter.
//!
//! Pure functions of their inputs (the clock and the jitter source are passed in), so the
//! scheduler's timing is tested without waiting.

use std::time::Duration;

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::fetch::ServerHints;

/// Hints that may only widen a feed's interval, never shorten it.
#[derive(Debug, Clone, Default)]
pub struct FeedHints<'a> {
    pub server: Option<&'a ServerHints>,
    /// RSS `<ttl>` in minutes.
    pub ttl_minutes: Option<u32>,
    /// RSS `<skipHours>` (0-23, UTC).
    pub skip_hours: &'a [u32],
    /// RSS `<skipDays>` (0 = Monday .. 6 = Sunday).
    pub skip_days: &'a [u32],
}

/// A server's hints are honoured up to this long; a feed saying "come back in a year" is
/// still polled daily.
const MAX_HINT: Duration = Duration::from_secs(24 * 3600);

/// The next poll after a successful one.
pub fn next_poll_after_success(
    now: DateTime<Utc>,
    interval: Duration,
    hints: &FeedHints<'_>,
) -> DateTime<Utc> {
    let mut wait = interval;
    if let Some(server) = hints.server {
        if let Some(max_age) = server.max_age {
            wait = wait.max(max_age.min(MAX_HINT));
        }
        if let Some(expires) = server.expires
            && let Ok(d) = (expires - now).to_std()
        {
            wait = wait.max(d.min(MAX_HINT));
        }
        if let Some(ra) = server.retry_after {
            wait = wait.max(ra);
        }
    }
    if let Some(ttl) = hints.ttl_minutes {
        wait = wait.max(Duration::from_secs(u64::from(ttl) * 60).min(MAX_HINT));
    }
    let mut at = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(24));
    // Skip hours/days the feed says it does not update in (at most a week ahead).
    for _ in 0..(24 * 7) {
        let hour_skipped = hints.skip_hours.contains(&at.hour());
        let day_skipped = hints
            .skip_days
            .contains(&at.weekday().num_days_from_monday());
        if !hour_skipped && !day_skipped {
            break;
        }
        at = (at + chrono::Duration::hours(1))
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .unwrap_or(at + chrono::Duration::hours(1));
    }
    at
}

/// Exponential back-off for the `failures`-th consecutive failure (1-based): the interval
/// doubled per failure, capped, with ±20 % jitter; a server's `Retry-After` wins when longer.
pub fn backoff(
    interval: Duration,
    failures: u32,
    cap: Duration,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    let base = interval.saturating_mul(1u32 << exp).min(cap);
    let jittered = base.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0)).min(cap);
    match retry_after {
        Some(ra) if ra > jittered => ra,
        _ => jittered,
    }
}

/// A jitter value in [0, 1): std's per-process random hash keys, without a crate for it.
pub fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn hints_only_widen() {
        let now = t("2026-12-01T10:00:00Z");
        let m5 = Duration::from_secs(300);
        let short = ServerHints {
            max_age: Some(Duration::from_secs(10)),
            ..Default::default()
        };
        let hints = FeedHints {
            server: Some(&short),
            ..Default::default()
        };
        assert_eq!(
            next_poll_after_success(now, m5, &hints),
            t("2026-12-01T10:05:00Z")
        );
        let long = ServerHints {
            max_age: Some(Duration::from_secs(3600)),
            ..Default::default()
        };
        let hints = FeedHints {
            server: Some(&long),
            ..Default::default()
        };
        assert_eq!(
            next_poll_after_success(now, m5, &hints),
            t("2026-12-01T11:00:00Z")
        );
        let hints = FeedHints {
            ttl_minutes: Some(120),
            ..Default::default()
        };
        assert_eq!(
            next_poll_after_success(now, m5, &hints),
            t("2026-12-01T12:00:00Z")
        );
        let absurd = ServerHints {
            max_age: Some(Duration::from_secs(10_000_000)),
            ..Default::default()
        };
        let hints = FeedHints {
            server: Some(&absurd),
            ..Default::default()
        };
        assert_eq!(
            next_poll_after_success(now, m5, &hints),
            t("2026-12-02T10:00:00Z")
        );
    }

    #[test]
    fn skip_hours_and_days() {
        let now = t("2026-12-01T22:58:00Z"); // a Tuesday
        let hints = FeedHints {
            skip_hours: &[23, 0, 1],
            ..Default::default()
        };
        assert_eq!(
            next_poll_after_success(now, Duration::from_secs(300), &hints),
            t("2026-12-02T02:00:00Z")
        );
        let hints = FeedHints {
            skip_days: &[2],
            ..Default::default()
        }; // Wednesday
        assert_eq!(
            next_poll_after_success(now, Duration::from_secs(7200), &hints),
            t("2026-12-03T00:00:00Z")
        );
    }

    #[test]
    fn backoff_grows_and_caps() {
        let i = Duration::from_secs(60);
        let cap = Duration::from_secs(6 * 3600);
        assert_eq!(backoff(i, 1, cap, None, 0.5), Duration::from_secs(60));
        assert_eq!(backoff(i, 3, cap, None, 0.5), Duration::from_secs(240));
        assert_eq!(backoff(i, 30, cap, None, 0.5), cap);
        assert_eq!(backoff(i, 30, cap, None, 0.99), cap);
        assert!(backoff(i, 2, cap, None, 0.0) < backoff(i, 2, cap, None, 0.99));
        assert_eq!(
            backoff(i, 1, cap, Some(Duration::from_secs(900)), 0.5),
            Duration::from_secs(900)
        );
        let j = jitter();
        assert!((0.0..1.0).contains(&j));
    }
}
