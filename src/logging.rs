//! Log setup: human-readable text by default, JSON lines with `--log-format json`, no
//! timestamps of our own under journald (which stamps every line itself). Logs go to
//! stderr so stdout stays for command output and the `stdout` destination.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `level` (from `--log-level`) wins over `RUST_LOG`;
/// without either, one-shot commands log warnings and the daemon logs `info`.
pub fn init(json: bool, level: Option<&str>, daemon: bool) {
    let default = if daemon { "info" } else { "warn" };
    let filter = match level {
        Some(l) => EnvFilter::try_new(l).unwrap_or_else(|_| EnvFilter::new(default)),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
    };
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let result = match (json, journald) {
        (true, _) => builder.json().flatten_event(true).try_init(),
        (false, true) => builder.without_time().with_ansi(false).try_init(),
        (false, false) => builder.try_init(),
    };
    // Already installed (tests calling twice): keep the first.
    let _ = result;
}
