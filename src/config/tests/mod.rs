//! Config loading tests against real files in temporary folders. The environment is
//! passed explicitly, so tests never read or race on the process environment.

mod bad;
mod discovery;
mod full;
mod good;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{Config, ConfigErrors, Env, load_with};

/// A temporary config folder.
pub(super) struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir: {e}"));
        }
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {name}: {e}"));
        p
    }

    /// Loads `feedwatch.toml` with `TZ=UTC`, `HOME=/home/test` and `vars`.
    pub fn load(&self, vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        self.load_file("feedwatch.toml", vars)
    }

    pub fn load_file(&self, name: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let mut map: HashMap<String, String> = HashMap::new();
        map.insert("TZ".into(), "UTC".into());
        map.insert("HOME".into(), "/home/test".into());
        for (k, v) in vars {
            map.insert((*k).into(), (*v).into());
        }
        let lookup = move |k: &str| map.get(k).cloned();
        let env = Env {
            var: &lookup,
            cwd: self.dir.path().to_path_buf(),
            system_config: self.path("etc/feedwatch.toml"),
        };
        load_with(Path::new(name), &env)
    }
}

/// Each error as `FILE_NAME:line:col: message` (the folder part of the path dropped).
pub(super) fn short(errors: &ConfigErrors) -> Vec<String> {
    errors
        .iter()
        .map(|e| {
            let name = e
                .file
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            format!("{name}:{}:{}: {}", e.line, e.column, e.message)
        })
        .collect()
}

/// Writes a secret file with the given permission bits.
pub(super) fn write_secret(fx: &Fixture, name: &str, value: &str, mode: u32) -> PathBuf {
    let p = fx.write(name, value);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod: {e}"));
    p
}
