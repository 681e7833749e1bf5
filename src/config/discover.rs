//! Where the config comes from: the process environment ([`Env`]) and discovery of
//! the main config file.

use std::path::{Path, PathBuf};

use super::{ConfigError, ConfigErrors};

/// What loading reads from the process: environment variables and the working folder.
/// Tests pass their own so they never touch (or race on) the real environment.
pub struct Env<'a> {
    pub var: &'a dyn Fn(&str) -> Option<String>,
    /// The folder relative config paths resolve against.
    pub cwd: PathBuf,
    /// The last place discovery looks (`/etc/feedwatch/feedwatch.toml`).
    pub system_config: PathBuf,
}

fn process_var(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

impl Env<'static> {
    /// The real process environment.
    pub fn from_process() -> Env<'static> {
        Env {
            var: &process_var,
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            system_config: PathBuf::from("/etc/feedwatch/feedwatch.toml"),
        }
    }
}

/// Finds the config file: `explicit` (from `--config`), then `$FEEDWATCH_CONFIG`, then
/// `./feedwatch.toml`, then `/etc/feedwatch/feedwatch.toml`.
pub fn discover(explicit: Option<&Path>) -> Result<PathBuf, ConfigErrors> {
    discover_with(explicit, &Env::from_process())
}

/// [`discover`] with an explicit environment.
pub fn discover_with(explicit: Option<&Path>, env: &Env<'_>) -> Result<PathBuf, ConfigErrors> {
    let missing = |p: &Path, from: &str| {
        ConfigErrors::from(ConfigError::file_level(
            p,
            format!("config file not found (named by {from})"),
        ))
    };
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(missing(p, "--config"))
        };
    }
    if let Some(v) = (env.var)("FEEDWATCH_CONFIG").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(missing(&p, "$FEEDWATCH_CONFIG"))
        };
    }
    let local = env.cwd.join("feedwatch.toml");
    for p in [&local, &env.system_config] {
        if p.is_file() {
            return Ok(p.clone());
        }
    }
    Err(ConfigError::file_level(
        Path::new(""),
        format!(
            "no config file found; tried --config (not given), $FEEDWATCH_CONFIG (not set), {}, {}; pass --config PATH",
            local.display(),
            env.system_config.display()
        ),
    )
    .into())
}
