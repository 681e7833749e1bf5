//! Discovery order: --config, $FEEDWATCH_CONFIG, ./feedwatch.toml, the system file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::super::{ConfigErrors, Env, discover_with};
use super::Fixture;

fn discover(
    fx: &Fixture,
    explicit: Option<&Path>,
    vars: &[(&str, &str)],
) -> Result<PathBuf, ConfigErrors> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    let lookup = move |k: &str| map.get(k).cloned();
    let env = Env {
        var: &lookup,
        cwd: fx.path("cwd"),
        system_config: fx.path("etc/feedwatch.toml"),
    };
    discover_with(explicit, &env)
}

#[test]
fn discovery_order() {
    let fx = Fixture::new();
    let explicit = fx.write("explicit.toml", "");
    let from_env = fx.write("env.toml", "");
    let env_str = from_env.to_string_lossy().into_owned();
    let vars = [("FEEDWATCH_CONFIG", env_str.as_str())];

    // Nothing anywhere: the error lists every place tried.
    let err = discover(&fx, None, &[])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with(
            "no config file found; tried --config (not given), $FEEDWATCH_CONFIG (not set), "
        ),
        "{err}"
    );
    assert!(
        err.contains("cwd/feedwatch.toml") && err.contains("etc/feedwatch.toml"),
        "{err}"
    );

    let system = fx.write("etc/feedwatch.toml", "");
    assert_eq!(discover(&fx, None, &[]).ok(), Some(system.clone()));
    let local = fx.write("cwd/feedwatch.toml", "");
    assert_eq!(discover(&fx, None, &[]).ok(), Some(local));
    assert_eq!(discover(&fx, None, &vars).ok(), Some(from_env.clone()));
    assert_eq!(discover(&fx, Some(&explicit), &vars).ok(), Some(explicit));
    // An empty variable counts as unset.
    assert!(discover(&fx, None, &[("FEEDWATCH_CONFIG", "")]).is_ok());
}

#[test]
fn a_named_file_that_is_missing_is_an_error_not_a_fallback() {
    let fx = Fixture::new();
    fx.write("cwd/feedwatch.toml", "");
    let missing = fx.path("missing.toml");
    let err = discover(&fx, Some(&missing), &[])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.ends_with("missing.toml: config file not found (named by --config)"),
        "{err}"
    );
    let m = missing.to_string_lossy().into_owned();
    let err = discover(&fx, None, &[("FEEDWATCH_CONFIG", &m)])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.ends_with("missing.toml: config file not found (named by $FEEDWATCH_CONFIG)"),
        "{err}"
    );
}

#[test]
fn a_missing_main_file_is_reported() {
    let fx = Fixture::new();
    let err = fx
        .load(&[])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("feedwatch.toml: cannot read config file: "),
        "{err}"
    );
}
