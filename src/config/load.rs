//! Finding the config file, reading it and its includes, and the checks that span files
//! (duplicate names, references from rules to feeds, tags and destinations).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use toml::de::{DeTable, DeValue};

use super::daemon::{DaemonDraft, read_daemon};
use super::destination::{DestDraft, read_destination};
use super::error::{did_you_mean, with_article};
use super::feeds::{FeedDraft, RuleDraft, read_feed, read_rule};
use super::read::{Diag, Loc, Located, SourceFile, Tab};
use super::system::system_timezone;
use super::{Config, ConfigError, ConfigErrors, RuleConfig};

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

/// Reads, validates and compiles the config at `path` and every file it includes.
pub fn load(path: &Path) -> Result<super::Config, ConfigErrors> {
    load_with(path, &Env::from_process())
}

/// Everything read from all files, before the cross-file checks.
#[derive(Default)]
struct Drafts {
    feeds: Vec<FeedDraft>,
    rules: Vec<RuleDraft>,
    dests: Vec<DestDraft>,
    /// A file did not parse: references into it cannot be checked.
    incomplete: bool,
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
    let (doc, mut errors) = DeTable::parse_recoverable(&src.text);
    if !errors.is_empty() {
        // Later syntax errors are mostly echoes of the first; report only that one.
        errors.sort_by_key(|e| e.span().map_or(0, |s| s.start));
        let first = &errors[0];
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

/// Reports a name defined twice (at the second definition) and remembers the first.
fn check_unique(
    kind: &str,
    name: &Located,
    seen: &mut HashMap<String, Loc>,
    diag: &mut Diag,
) -> bool {
    if let Some(first) = seen.get(&name.value) {
        let msg = format!(
            "duplicate {kind} name `{}` (first defined at {first})",
            name.value
        );
        diag.errors.push(name.loc.error(msg));
        return false;
    }
    seen.insert(name.value.clone(), name.loc.clone());
    true
}

fn cross_check(path: PathBuf, daemon: DaemonDraft, drafts: Drafts, diag: &mut Diag) -> Config {
    let mut names = HashMap::new();
    let feeds: Vec<_> = drafts
        .feeds
        .into_iter()
        .filter(|f| check_unique("feed", &f.name, &mut names, diag))
        .map(|f| f.config)
        .collect();
    let mut names = HashMap::new();
    let dests: Vec<_> = drafts
        .dests
        .into_iter()
        .filter(|d| check_unique("destination", &d.name, &mut names, diag))
        .map(|d| d.config)
        .collect();
    let dest_names: Vec<&str> = dests.iter().map(|d| d.name.as_str()).collect();
    let feed_names: Vec<&str> = feeds.iter().map(|f| f.name.as_str()).collect();
    let check_refs = !drafts.incomplete;
    let dest_ref = |d: &Located, what: &str, diag: &mut Diag| {
        if check_refs && !dest_names.contains(&d.value.as_str()) {
            let hint = did_you_mean(&d.value, dest_names.iter().copied());
            diag.errors.push(d.loc.error(format!(
                "{what} names unknown destination `{}`{hint}",
                d.value
            )));
        }
    };
    for d in &daemon.health_notify {
        dest_ref(d, "`health_notify` in [daemon]", diag);
    }
    let mut names = HashMap::new();
    let mut rules = Vec::new();
    for r in drafts.rules {
        if !check_unique("rule", &r.name, &mut names, diag) {
            continue;
        }
        let what = format!("rule `{}`", r.name.value);
        let feeds_of = r.feeds.as_ref().map(|list| {
            let mut out: Vec<String> = Vec::new();
            for entry in list {
                let matched: Vec<&str> = match entry.value.strip_prefix("tag:") {
                    Some(tag) => feeds
                        .iter()
                        .filter(|f| f.tags.iter().any(|t| t == tag))
                        .map(|f| f.name.as_str())
                        .collect(),
                    None => feed_names
                        .iter()
                        .copied()
                        .filter(|n| *n == entry.value)
                        .collect(),
                };
                if matched.is_empty() && check_refs {
                    let msg = match entry.value.strip_prefix("tag:") {
                        Some(tag) => {
                            let tags: Vec<&str> = feeds
                                .iter()
                                .flat_map(|f| f.tags.iter().map(String::as_str))
                                .collect();
                            format!(
                                "{what} names tag `{tag}`, which no feed has{}",
                                did_you_mean(tag, tags)
                            )
                        }
                        None => format!(
                            "{what} names unknown feed `{}`{}",
                            entry.value,
                            did_you_mean(&entry.value, feed_names.iter().copied())
                        ),
                    };
                    diag.errors.push(entry.loc.error(msg));
                }
                for m in matched {
                    if !out.iter().any(|o| o == m) {
                        out.push(m.to_string());
                    }
                }
            }
            out
        });
        let notify = match &r.notify {
            Some(list) => {
                for d in list {
                    dest_ref(d, &what, diag);
                }
                list.iter().map(|d| d.value.clone()).collect()
            }
            None => dest_names.iter().map(|s| s.to_string()).collect(),
        };
        if let Some(query) = r.query {
            rules.push(RuleConfig {
                name: r.name.value,
                query_text: r.query_text,
                query,
                feeds: feeds_of,
                notify,
            });
        }
    }
    if !rules.is_empty() && dests.is_empty() {
        diag.warnings.push(format!(
            "{}: no [destination.NAME] table: matches are recorded but sent nowhere",
            path.display()
        ));
    }
    Config {
        path,
        daemon: daemon.config,
        feeds,
        rules,
        destinations: dests,
        warnings: Vec::new(),
    }
}
