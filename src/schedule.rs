//! Digest schedules: when each destination's digest is due.
//!
//! A schedule is parsed from the `digest` key and evaluated in the destination's
//! timezone; calendar schedules (`hourly`, `daily`, `weekly`, `cron`) follow the wall
//! clock through DST changes: a time skipped by spring-forward fires at the first
//! instant after the gap, and a time repeated by fall-back fires once.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};

use crate::config::{format_duration, parse_duration};

/// A destination's `digest` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// After each poll cycle.
    Immediate,
    /// `every 30m`: that long after the previous digest.
    Every(Duration),
    /// `hourly`, `daily 08:00`, `weekly mon 08:00` and `cron …`, all kept as a cron
    /// pattern evaluated in the destination's timezone. `text` is the canonical form.
    Cron {
        text: String,
        cron: Box<croner::Cron>,
    },
}

const FORMS: &str = "\"immediate\", \"every 30m\", \"hourly\", \"daily 08:00\", \"weekly mon 08:00\" or \"cron 0 8 * * 1-5\"";

const DAYS: [(&str, &str, u8); 7] = [
    ("mon", "monday", 1),
    ("tue", "tuesday", 2),
    ("wed", "wednesday", 3),
    ("thu", "thursday", 4),
    ("fri", "friday", 5),
    ("sat", "saturday", 6),
    ("sun", "sunday", 0),
];

/// `HH:MM` (24-hour; one-digit hours allowed).
fn parse_time(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("invalid time `{text}`: write a 24-hour time such as 08:00");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let valid = |s: &str, max: u32| -> Option<u32> {
        (!s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
            .filter(|v| *v <= max)
    };
    match (valid(h, 23), valid(m, 59)) {
        (Some(h), Some(m)) => Ok((h, m)),
        _ => Err(bad()),
    }
}

fn cron(text: String, pattern: &str) -> Result<Schedule, String> {
    let parsed = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(pattern)
        .map_err(|e| format!("invalid cron pattern `{pattern}`: {e} (expected five fields: minute hour day-of-month month day-of-week)"))?;
    Ok(Schedule::Cron {
        text,
        cron: Box::new(parsed),
    })
}

impl Schedule {
    /// Parses a `digest` value. The error says what was wrong and which forms exist.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
        let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
        match lower.as_slice() {
            ["immediate"] => Ok(Schedule::Immediate),
            ["hourly"] => cron("hourly".into(), "0 * * * *"),
            ["every", d] => match parse_duration(d) {
                Ok(d) if d >= Duration::from_secs(1) => Ok(Schedule::Every(d)),
                Ok(_) => Err("`every` needs a duration of at least 1s".into()),
                Err(e) => Err(e),
            },
            ["daily", t] => {
                let (h, m) = parse_time(t)?;
                cron(format!("daily {h:02}:{m:02}"), &format!("{m} {h} * * *"))
            }
            ["weekly", day, t] => {
                let (short, _, num) = DAYS
                    .iter()
                    .find(|(s, l, _)| day == s || day == l)
                    .ok_or_else(|| {
                        format!(
                            "invalid weekday `{day}`: write mon, tue, wed, thu, fri, sat or sun"
                        )
                    })?;
                let (h, m) = parse_time(t)?;
                cron(
                    format!("weekly {short} {h:02}:{m:02}"),
                    &format!("{m} {h} * * {num}"),
                )
            }
            ["cron", ..] => {
                let fields = words[1..].join(" ");
                cron(format!("cron {fields}"), &fields)
            }
            [] => Err(format!("empty digest schedule: expected {FORMS}")),
            [first, ..] => {
                let hint = crate::config::did_you_mean(
                    first,
                    ["immediate", "every", "hourly", "daily", "weekly", "cron"],
                );
                Err(format!(
                    "unknown digest schedule `{text}`{hint}: expected {FORMS}"
                ))
            }
        }
    }

    /// When the next digest is due, strictly after `after`, in `tz`. `None` for
    /// [`Schedule::Immediate`] (due after every poll cycle, not at a time) and for a
    /// cron pattern that never matches again.
    pub fn next_due(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Immediate => None,
            Schedule::Every(d) => chrono::Duration::from_std(*d)
                .ok()
                .and_then(|d| after.checked_add_signed(d)),
            Schedule::Cron { cron, .. } => cron
                .find_next_occurrence(&after.with_timezone(&tz), false)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Immediate => f.write_str("immediate"),
            Schedule::Every(d) => write!(f, "every {}", format_duration(*d)),
            Schedule::Cron { text, .. } => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests;
