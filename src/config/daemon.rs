//! `[daemon]` and `[health]`: process-wide settings and their defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::DeValue;

use super::duration::parse_size;
use super::read::{Diag, Located, Tab, check_header};
use super::{DaemonConfig, Env, FirstPoll};

pub(crate) const DAEMON_KEYS: &[&str] = &[
    "state",
    "interval",
    "first_poll",
    "max_age",
    "include",
    "concurrency",
    "per_host",
    "timeout",
    "max_body",
    "user_agent",
    "max_backoff",
    "health_notify",
    "flood_limit",
    "retention",
    "shutdown_grace",
];

pub(crate) const HEALTH_KEYS: &[&str] = &["failures"];

const SECOND: Duration = Duration::from_secs(1);

/// `[daemon]` as read, with what is still to be cross-checked.
pub(crate) struct DaemonDraft {
    pub config: DaemonConfig,
    pub health_notify: Vec<Located>,
    pub include: Vec<Located>,
}

impl DaemonConfig {
    /// Every default, with the state file at `state`.
    pub fn defaults(state: PathBuf) -> DaemonConfig {
        DaemonConfig {
            state,
            interval: Duration::from_secs(15 * 60),
            first_poll: FirstPoll::Seen,
            max_age: Some(Duration::from_secs(7 * 86_400)),
            concurrency: 16,
            per_host: 2,
            fetch_timeout: Duration::from_secs(30),
            max_body: 15 * 1024 * 1024,
            user_agent: crate::USER_AGENT.to_string(),
            max_backoff: Duration::from_secs(6 * 3_600),
            health_notify: Vec::new(),
            health_failures: 5,
            flood_limit: 50,
            retention: Duration::from_secs(90 * 86_400),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// The state file when `[daemon] state` is absent: systemd's `$STATE_DIRECTORY`, else
/// the XDG state directory.
pub(crate) fn default_state(env: &Env<'_>) -> Result<PathBuf, String> {
    let var = |k: &str| (env.var)(k).filter(|v| !v.is_empty());
    // systemd passes a colon-separated list when several StateDirectory= are set.
    if let Some(dir) = var("STATE_DIRECTORY").and_then(|v| v.split(':').next().map(str::to_string))
    {
        return Ok(Path::new(&dir).join("feedwatch.db"));
    }
    // The XDG spec says relative values are invalid and must be ignored.
    if let Some(dir) = var("XDG_STATE_HOME").filter(|d| Path::new(d).is_absolute()) {
        return Ok(Path::new(&dir).join("feedwatch").join("feedwatch.db"));
    }
    if let Some(home) = var("HOME") {
        return Ok(Path::new(&home).join(".local/state/feedwatch/feedwatch.db"));
    }
    Err("cannot choose a state file: none of $STATE_DIRECTORY, $XDG_STATE_HOME or $HOME is set; set `state` in [daemon]".into())
}

fn count(tab: &Tab<'_, '_>, diag: &mut Diag, key: &str, max: i64) -> Option<usize> {
    tab.integer(diag, key, 1, max)
        .and_then(|n| usize::try_from(n).ok())
}

/// Reads `[daemon]` (when present) and `[health]`.
pub(crate) fn read_daemon(
    daemon: Option<&Tab<'_, '_>>,
    health: Option<&Tab<'_, '_>>,
    env: &Env<'_>,
    diag: &mut Diag,
    main_file: &Path,
) -> DaemonDraft {
    let mut draft = DaemonDraft {
        config: DaemonConfig::defaults(PathBuf::new()),
        health_notify: Vec::new(),
        include: Vec::new(),
    };
    if let Some(h) = health {
        h.check_keys(diag, HEALTH_KEYS);
        if let Some(n) = h.integer(diag, "failures", 1, 10_000) {
            draft.config.health_failures = u32::try_from(n).unwrap_or(5);
        }
    }
    let state = daemon.and_then(|t| t.string(diag, "state").map(|s| (t, s)));
    match state {
        Some((t, s)) if s.value.trim().is_empty() => {
            t.key_error(diag, "state", &s.span, "must not be empty");
        }
        Some((t, s)) => draft.config.state = t.src.resolve(&s.value),
        None => match default_state(env) {
            Ok(p) => draft.config.state = p,
            Err(msg) => match daemon {
                Some(t) => t.error(diag, &t.span, msg),
                None => diag
                    .errors
                    .push(super::ConfigError::file_level(main_file, msg)),
            },
        },
    }
    let Some(t) = daemon else {
        return draft;
    };
    t.check_keys(diag, DAEMON_KEYS);
    let c = &mut draft.config;
    if let Some(d) = t.duration(diag, "interval", SECOND) {
        c.interval = d;
    }
    if let Some(fp) = t.choice(
        diag,
        "first_poll",
        &[("seen", FirstPoll::Seen), ("alert", FirstPoll::Alert)],
    ) {
        c.first_poll = fp;
    }
    if let Some(s) = t.duration_text(diag, "max_age") {
        c.max_age = if s.value.trim() == "off" || s.value.trim() == "0" {
            None
        } else {
            t.check_duration(diag, "max_age", &s, Duration::ZERO)
                .filter(|d| !d.is_zero())
        };
    }
    if let Some(globs) = t.string_or_strings(diag, "include") {
        draft.include = globs;
    }
    if let Some(n) = count(t, diag, "concurrency", 4_096) {
        c.concurrency = n;
    }
    if let Some(n) = count(t, diag, "per_host", 256) {
        c.per_host = n;
    }
    if let Some(d) = t.duration(diag, "timeout", SECOND) {
        c.fetch_timeout = d;
    }
    if let Some(v) = t.value("max_body") {
        let size = match v.get_ref() {
            DeValue::Integer(_) => t
                .integer(diag, "max_body", 1, i64::MAX)
                .and_then(|n| u64::try_from(n).ok()),
            DeValue::String(s) => match parse_size(s) {
                Ok(n) => Some(n),
                Err(e) => {
                    t.key_error(diag, "max_body", &v.span(), &e);
                    None
                }
            },
            other => {
                let found = super::error::with_article(other.type_str());
                let msg = format!(
                    "expected a number of bytes or a size string such as \"15MiB\", found {found}"
                );
                t.key_error(diag, "max_body", &v.span(), &msg);
                None
            }
        };
        match size {
            Some(n) if n < 1024 => {
                t.key_error(diag, "max_body", &v.span(), "must be at least 1KiB")
            }
            Some(n) => c.max_body = n,
            None => {}
        }
    }
    if let Some(ua) = t.string(diag, "user_agent") {
        if ua.value.trim().is_empty() {
            t.key_error(diag, "user_agent", &ua.span, "must not be empty");
        } else if let Err(e) = check_header("User-Agent", &ua.value) {
            t.key_error(diag, "user_agent", &ua.span, &e);
        } else {
            c.user_agent = ua.value;
        }
    }
    if let Some(d) = t.duration(diag, "max_backoff", SECOND) {
        c.max_backoff = d;
    }
    if let Some(names) = t.strings(diag, "health_notify") {
        c.health_notify = names.iter().map(|n| n.value.clone()).collect();
        draft.health_notify = names;
    }
    if let Some(n) = count(t, diag, "flood_limit", 1_000_000) {
        c.flood_limit = n;
    }
    if let Some(d) = t.duration(diag, "retention", SECOND) {
        c.retention = d;
    }
    if let Some(d) = t.duration(diag, "shutdown_grace", Duration::ZERO) {
        c.shutdown_grace = d;
    }
    draft
}
