//! Digest schedules: when each destination's digest is due.

use std::time::Duration;

/// A destination's `digest` setting.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// After each poll cycle.
    Immediate,
    /// `every 30m`, `hourly`.
    Every(Duration),
    /// `daily 08:00`, `weekly mon 08:00` and `cron …`, all kept as a cron pattern
    /// evaluated in the destination's timezone.
    Cron {
        text: String,
        cron: Box<croner::Cron>,
    },
}
