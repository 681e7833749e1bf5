//! Secrets from files (systemd credentials first) or environment variables. No message
//! ever contains a secret's value.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::read::{Diag, Located, Tab};
use super::{Env, Secret};

/// Larger files are not secrets but mistakes (a wrong path to a log or a device).
const MAX_SECRET: u64 = 64 * 1024;

/// Where a relative secret file is looked for: `$CREDENTIALS_DIRECTORY`, then the folder
/// of the config file that names it.
fn candidates(tab: &Tab<'_, '_>, env: &Env<'_>, name: &str) -> Vec<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return vec![p.to_path_buf()];
    }
    let mut out = Vec::new();
    if let Some(dir) = (env.var)("CREDENTIALS_DIRECTORY").filter(|d| !d.is_empty()) {
        out.push(Path::new(&dir).join(p));
    }
    out.push(tab.src.resolve(name));
    out
}

fn read_file(path: &Path) -> Result<(String, bool), String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    if meta.is_dir() {
        return Err(format!("`{shown}` is a directory, not a file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_SECRET + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    if bytes.len() as u64 > MAX_SECRET {
        return Err(format!(
            "`{shown}` is larger than 64KiB; is it the right file?"
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| format!("`{shown}` is not UTF-8 text"))?;
    // Editors and `echo` add a final newline that is not part of the secret.
    let value = text.trim_end_matches(['\r', '\n']).to_string();
    if value.is_empty() {
        return Err(format!("`{shown}` is empty"));
    }
    #[cfg(unix)]
    let world_readable = {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o004 != 0
    };
    #[cfg(not(unix))]
    let world_readable = false;
    Ok((value, world_readable))
}

/// Reads the secret named by `file_key` or `env_key` (at most one may be set).
pub(crate) fn read_secret(
    tab: &Tab<'_, '_>,
    diag: &mut Diag,
    env: &Env<'_>,
    file_key: &str,
    env_key: &str,
) -> Option<Secret> {
    let file = tab.string(diag, file_key);
    let var = tab.string(diag, env_key);
    match (file, var) {
        (Some(_), Some(v)) => {
            let msg = format!("set only one of `{file_key}` and `{env_key}`");
            tab.key_error(diag, env_key, &v.span, &msg);
            None
        }
        (Some(f), None) => from_file(tab, diag, env, file_key, &f),
        (None, Some(v)) => {
            let value = (!v.value.is_empty())
                .then(|| (env.var)(&v.value))
                .flatten()
                .filter(|s| !s.is_empty());
            if value.is_none() {
                let msg = format!("environment variable `{}` is not set or is empty", v.value);
                tab.key_error(diag, env_key, &v.span, &msg);
            }
            value.map(Secret::new)
        }
        (None, None) => None,
    }
}

fn from_file(
    tab: &Tab<'_, '_>,
    diag: &mut Diag,
    env: &Env<'_>,
    key: &str,
    f: &Located,
) -> Option<Secret> {
    if f.value.trim().is_empty() {
        tab.key_error(diag, key, &f.span, "must not be empty");
        return None;
    }
    let tried = candidates(tab, env, &f.value);
    let Some(path) = tried.iter().find(|p| p.exists()) else {
        let list: Vec<String> = tried.iter().map(|p| format!("`{}`", p.display())).collect();
        let msg = format!(
            "secret file `{}` not found (looked for {})",
            f.value,
            list.join(", ")
        );
        tab.key_error(diag, key, &f.span, &msg);
        return None;
    };
    match read_file(path) {
        Ok((value, world_readable)) => {
            if world_readable {
                diag.warnings.push(format!(
                    "{}: `{key}` in {}: `{}` is readable by every user on this machine; restrict it with `chmod 600 {}`",
                    f.loc,
                    tab.what,
                    path.display(),
                    path.display()
                ));
            }
            Some(Secret::new(value))
        }
        Err(e) => {
            tab.key_error(diag, key, &f.span, &e);
            None
        }
    }
}
