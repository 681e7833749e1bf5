//! Log setup: human-readable text by default, JSON lines with `--log-format json`, no
//! timestamps of our own under journald (which stamps every line itself). Logs go to
//! stderr so stdout stays for command output and the `stdout` destination.
//!
//! The HTTP, TLS and SMTP libraries are capped at `info` whatever level is asked for:
//! their debug and trace output can carry request URLs (with userinfo), headers
//! (`Authorization`) and protocol exchanges (SMTP `AUTH`), and secrets must never reach
//! a log. feedwatch's own events name the feed, rule or destination instead.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Crates whose debug/trace output may show secrets; always capped at `info`.
pub const CAPPED: &[&str] = &[
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "tokio_rustls",
    "rustls_platform_verifier",
    "lettre",
    "tower",
    "tower_http",
];

/// The levels a capped crate may still be set to.
const AT_MOST_INFO: &[&str] = &["off", "error", "warn", "info"];

const LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];

/// A bare word that is not a level: `EnvFilter` would read `verbose` as a target name
/// and log nothing, so it is refused instead.
fn is_unknown_level(user: &str) -> bool {
    let bare = !user.contains(['=', ',', ':', '[']);
    bare && !LEVELS.contains(&user.to_ascii_lowercase().as_str())
}

/// Whether `directive` names `krate` (or a module of it) as its target.
fn targets(directive: &str, krate: &str) -> bool {
    directive.strip_prefix(krate).is_some_and(|rest| {
        rest.is_empty() || rest.starts_with("::") || rest.starts_with('=') || rest.starts_with('[')
    })
}

/// The filter directives to install: the user's (`--log-level` first, then `RUST_LOG`,
/// else `default`), with every directive that would open a [`CAPPED`] crate beyond
/// `info` dropped and an `info` cap added for each. A directive that only quietens a
/// capped crate (`hyper=warn`) is kept.
pub fn directives(user: Option<&str>, default: &str) -> String {
    let user = user
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(default);
    let mut kept: Vec<&str> = Vec::new();
    let mut quietened: Vec<&str> = Vec::new();
    for d in user.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        match CAPPED.iter().find(|k| targets(d, k)) {
            Some(k) => {
                let level = d
                    .rsplit_once('=')
                    .map(|(_, l)| l.trim().to_ascii_lowercase());
                if level.is_some_and(|l| AT_MOST_INFO.contains(&l.as_str())) {
                    kept.push(d);
                    quietened.push(k);
                }
            }
            None => kept.push(d),
        }
    }
    let caps = CAPPED
        .iter()
        .filter(|k| !quietened.contains(k))
        .map(|k| format!("{k}=info"));
    kept.into_iter()
        .map(str::to_string)
        .chain(caps)
        .collect::<Vec<_>>()
        .join(",")
}

/// Installs the global subscriber. `level` (from `--log-level`) wins over `RUST_LOG`;
/// without either, one-shot commands log warnings and the daemon logs `info`. A filter
/// that does not parse falls back to the default with a warning on stderr, so a typo
/// never silences the daemon.
pub fn init(json: bool, level: Option<&str>, daemon: bool) {
    let default = if daemon { "info" } else { "warn" };
    let rust_log = std::env::var("RUST_LOG").ok();
    let (asked, from) = match level {
        Some(l) => (Some(l), "--log-level"),
        None => (rust_log.as_deref(), "RUST_LOG"),
    };
    let parsed = match asked.map(str::trim) {
        Some(a) if is_unknown_level(a) => Err("unknown level".to_string()),
        _ => EnvFilter::try_new(directives(asked, default)).map_err(|e| e.to_string()),
    };
    let filter = match parsed {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "feedwatch: warning: {from} `{}` is not a level (error, warn, info, debug, trace) or filter directive ({e}); logging at `{default}`",
                asked.unwrap_or_default()
            );
            EnvFilter::new(directives(None, default))
        }
    };
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let ansi = !journald
        && std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let result = match (json, journald) {
        // Log shippers filter by target, so JSON lines carry it.
        (true, _) => builder.json().flatten_event(true).try_init(),
        (false, true) => builder.with_target(false).without_time().try_init(),
        (false, false) => builder.with_target(false).try_init(),
    };
    // Already installed (tests calling twice): keep the first.
    let _ = result;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps_except(except: &[&str]) -> String {
        CAPPED
            .iter()
            .filter(|k| !except.contains(k))
            .map(|k| format!("{k}=info"))
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn dependencies_are_capped_whatever_is_asked() {
        let caps = caps_except(&[]);
        let cases: &[(Option<&str>, &str, String)] = &[
            (None, "warn", format!("warn,{caps}")),
            (Some(""), "info", format!("info,{caps}")),
            (Some("trace"), "warn", format!("trace,{caps}")),
            (Some("debug,hyper=trace"), "warn", format!("debug,{caps}")),
            (
                Some("reqwest::connect=debug,feedwatch=trace"),
                "warn",
                format!("feedwatch=trace,{caps}"),
            ),
            (Some("hyper"), "warn", caps.clone()),
            (Some("h2[conn]=trace"), "warn", caps.clone()),
            (
                Some("trace,hyper=warn"),
                "warn",
                format!("trace,hyper=warn,{}", caps_except(&["hyper"])),
            ),
            // Only whole crate names are matched: `hyperion` is not `hyper`.
            (
                Some("hyperion=trace"),
                "warn",
                format!("hyperion=trace,{caps}"),
            ),
        ];
        for (user, default, want) in cases {
            assert_eq!(&directives(*user, default), want, "{user:?}");
        }
    }

    #[test]
    fn bare_words_must_be_levels() {
        for ok in [
            "trace",
            "DEBUG",
            "info",
            "off",
            "feedwatch=debug",
            "warn,feedwatch::daemon=info",
        ] {
            assert!(!is_unknown_level(ok), "{ok}");
        }
        for bad in ["verbose", "loud", "3"] {
            assert!(is_unknown_level(bad), "{bad}");
        }
    }

    #[test]
    fn every_result_parses_as_a_filter() {
        for user in [
            None,
            Some("trace"),
            Some("debug,hyper=trace"),
            Some("trace,lettre=off"),
        ] {
            let d = directives(user, "warn");
            assert!(EnvFilter::try_new(&d).is_ok(), "{d}");
        }
    }
}
