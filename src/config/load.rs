//! Reading the main config file and its includes into drafts, then the cross-file
//! checks of [`super::crosscheck`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use toml::de::{DeTable, DeValue};

use super::crosscheck::cross_check;
use super::daemon::{DaemonDraft, read_daemon};
use super::destination::{DestDraft, read_destination};
use super::discover::Env;
use super::error::{did_you_mean, with_article};
use super::feeds::{FeedDraft, RuleDraft, read_feed, read_rule};
use super::read::{Diag, Located, SourceFile, Tab};
use super::system::system_timezone;
use super::{Config, ConfigError, ConfigErrors};

/// Reads, validates and compiles the config at `path` and every file it includes.
pub fn load(path: &Path) -> Result<super::Config, ConfigErrors> {
    load_with(path, &Env::from_process())
}

/// Everything read from all files, before the cross-file checks.
#[derive(Default)]
pub(crate) struct Drafts {
    pub feeds: Vec<FeedDraft>,
    pub rules: Vec<RuleDraft>,
    pub dests: Vec<DestDraft>,
    /// A file did not parse: references into it cannot be checked.
    pub incomplete: bool,
}

struct FileCtx<'e, 'a> {
    env: &'e Env<'a>,
    system_tz: &'e dyn Fn() -> Tz,
}

/// [`load`] with an explicit environment.
pub fn load_with(path: &Path, env: &Env<'_>) -> Result<Config, ConfigErrors> {
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        env.cwd.join(path)
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ConfigError::file_level(&path, format!("cannot read config file: {e}")))?;
    let mut diag = Diag::default();
    let mut drafts = Drafts::default();
    let tz_cell = std::cell::OnceCell::new();
    let system_tz = || *tz_cell.get_or_init(|| system_timezone(env));
    let ctx = FileCtx {
        env,
        system_tz: &system_tz,
    };
    let src = SourceFile::new(path.clone(), text);
    let daemon = read_file(&src, true, &ctx, None, &mut drafts, &mut diag);
    let Some(daemon) = daemon else {
        return Err(ConfigErrors(diag.errors));
    };
    let mut seen: HashSet<PathBuf> = HashSet::new();
    seen.insert(std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone()));
    let mut order = vec![path.clone()];
    for file in expand_includes(&src, &daemon.include, &mut diag) {
        if !seen.insert(std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone())) {
            continue;
        }
        order.push(file.clone());
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let inc = SourceFile::new(file, text);
                read_file(&inc, false, &ctx, Some(&daemon), &mut drafts, &mut diag);
            }
            Err(e) => diag.errors.push(ConfigError::file_level(
                &file,
                format!("cannot read included file: {e}"),
            )),
        }
    }
    let config = cross_check(path, daemon, drafts, &mut diag);
    // Report in reading order: file by file, top to bottom.
    diag.errors.sort_by_key(|e| {
        let file = order
            .iter()
            .position(|p| *p == e.file)
            .unwrap_or(usize::MAX);
        (file, e.line, e.column)
    });
    if diag.errors.is_empty() {
        Ok(Config {
            warnings: diag.warnings,
            ..config
        })
    } else {
        Err(ConfigErrors(diag.errors))
    }
}

/// The files named by `include` globs, relative to the main file's folder, in order.
fn expand_includes(src: &SourceFile, globs: &[Located], diag: &mut Diag) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let base = glob::Pattern::escape(&src.dir.to_string_lossy());
    for g in globs {
        let pattern = if Path::new(&g.value).is_absolute() {
            g.value.clone()
        } else {
            format!("{base}/{}", g.value)
        };
        let paths = match glob::glob(&pattern) {
            Ok(p) => p,
            Err(e) => {
                diag.errors.push(
                    g.loc
                        .error(format!("invalid include pattern `{}`: {}", g.value, e.msg)),
                );
                continue;
            }
        };
        let mut found: Vec<PathBuf> = paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        if found.is_empty() {
            if g.value.contains(['*', '?', '[']) {
                diag.warnings.push(format!(
                    "{}: include pattern `{}` matches no files",
                    g.loc, g.value
                ));
            } else {
                diag.errors.push(
                    g.loc
                        .error(format!("included file `{}` not found", g.value)),
                );
            }
        }
        out.extend(found);
    }
    out
}

const MAIN_KEYS: &[&str] = &["daemon", "health", "feed", "rule", "destination"];
const INCLUDE_KEYS: &[&str] = &["feed", "rule", "destination"];

/// Reads one file's tables into `drafts`. For the main file it returns `[daemon]` (the
/// defaults the other tables need); `None` means the main file could not be used at all.
fn read_file(
    src: &SourceFile,
    main: bool,
    ctx: &FileCtx<'_, '_>,
    daemon: Option<&DaemonDraft>,
    drafts: &mut Drafts,
    diag: &mut Diag,
) -> Option<DaemonDraft> {
    let (doc, errors) = DeTable::parse_recoverable(&src.text);
    // Later syntax errors are mostly echoes of the first; report only that one.
    if let Some(first) = errors
        .iter()
        .min_by_key(|e| e.span().map_or(0, |s| s.start))
    {
        let at = first.span().unwrap_or(0..0);
        diag.errors
            .push(src.error(&at, format!("TOML syntax error: {}", first.message())));
        drafts.incomplete = true;
        return None;
    }
    let doc = doc.get_ref();
    let allowed = if main { MAIN_KEYS } else { INCLUDE_KEYS };
    let top = Tab {
        src,
        table: doc,
        span: 0..0,
        what: "the top level".into(),
    };
    for (k, _) in doc.iter() {
        let key = k.get_ref().as_ref();
        if !allowed.contains(&key) {
            let msg = if MAIN_KEYS.contains(&key) {
                format!("[{key}] is only allowed in the main config file, not in an included one")
            } else {
                format!(
                    "unknown top-level key `{key}`{} (valid: {})",
                    did_you_mean(key, allowed.iter().copied()),
                    allowed.join(", ")
                )
            };
            top.error(diag, &k.span(), msg);
        }
    }
    let table_of = |key: &str, diag: &mut Diag| -> Option<Tab<'_, '_>> {
        let v = doc.get(key)?;
        let t = Tab::new(src, v, format!("[{key}]"));
        if t.is_none() {
            let found = with_article(v.get_ref().type_str());
            top.error(
                diag,
                &v.span(),
                format!("`{key}` must be a table ([{key}]), found {found}"),
            );
        }
        t
    };
    let draft = if main {
        let d = table_of("daemon", diag);
        let h = table_of("health", diag);
        Some(read_daemon(
            d.as_ref(),
            h.as_ref(),
            ctx.env,
            diag,
            &src.path,
        ))
    } else {
        None
    };
    let daemon = draft.as_ref().or(daemon)?;
    for (i, t) in array_of_tables(&top, "feed", diag).iter_mut().enumerate() {
        t.what = format!("[[feed]] #{}", i + 1);
        drafts.feeds.extend(read_feed(t, &daemon.config, diag));
    }
    for (i, t) in array_of_tables(&top, "rule", diag).iter_mut().enumerate() {
        t.what = format!("[[rule]] #{}", i + 1);
        drafts.rules.extend(read_rule(t, diag));
    }
    if let Some(dests) = table_of("destination", diag) {
        let mut entries: Vec<_> = dests.table.iter().collect();
        entries.sort_by_key(|(_, v)| v.span().start);
        for (k, v) in entries {
            let name = Located {
                value: k.get_ref().to_string(),
                loc: src.loc(k.span().start),
                span: k.span(),
            };
            let what = format!("[destination.{}]", name.value);
            match Tab::new(src, v, what) {
                Some(mut t) => {
                    drafts
                        .dests
                        .push(read_destination(&mut t, name, ctx.env, ctx.system_tz, diag))
                }
                None => {
                    let found = with_article(v.get_ref().type_str());
                    let msg = format!(
                        "destination `{}` must be a table ([destination.{}]), found {found}",
                        name.value, name.value
                    );
                    top.error(diag, &v.span(), msg);
                }
            }
        }
    }
    draft
}

/// `[[key]]` entries as tables.
fn array_of_tables<'a, 'i>(top: &Tab<'a, 'i>, key: &str, diag: &mut Diag) -> Vec<Tab<'a, 'i>> {
    let Some(v) = top.value(key) else {
        return Vec::new();
    };
    let DeValue::Array(items) = v.get_ref() else {
        let found = with_article(v.get_ref().type_str());
        top.error(
            diag,
            &v.span(),
            format!("`{key}` must be written as [[{key}]] tables, found {found}"),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items.iter() {
        match Tab::new(top.src, item, format!("[[{key}]]")) {
            Some(t) => out.push(t),
            None => top.error(
                diag,
                &item.span(),
                format!("each `{key}` entry must be a table ([[{key}]])"),
            ),
        }
    }
    out
}
