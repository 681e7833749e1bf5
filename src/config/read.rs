//! Typed, position-aware reading of parsed TOML tables. Every problem becomes a
//! [`ConfigError`] pushed to a [`Diag`], so one pass reports everything wrong.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::duration::{format_duration, parse_duration};
use super::error::{ConfigError, LineIndex, did_you_mean, with_article};

pub(crate) type Val<'i> = Spanned<DeValue<'i>>;

/// One config file's text, with what is needed to name positions in it.
#[derive(Debug)]
pub(crate) struct SourceFile {
    pub path: PathBuf,
    /// The folder relative paths in this file resolve against.
    pub dir: PathBuf,
    pub text: String,
    index: LineIndex,
}

impl SourceFile {
    pub(crate) fn new(path: PathBuf, text: String) -> SourceFile {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let index = LineIndex::new(&text);
        SourceFile {
            path,
            dir,
            text,
            index,
        }
    }

    pub(crate) fn loc(&self, offset: usize) -> Loc {
        let (line, column) = self.index.position(&self.text, offset);
        Loc {
            file: self.path.clone(),
            line,
            column,
        }
    }

    pub(crate) fn error(&self, span: &Range<usize>, message: impl Into<String>) -> ConfigError {
        self.loc(span.start).error(message)
    }

    /// Resolves a path written in this file: relative paths are relative to its folder.
    pub(crate) fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }
}

/// A position in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loc {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl Loc {
    pub(crate) fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Errors and warnings gathered while loading.
#[derive(Debug, Default)]
pub(crate) struct Diag {
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<String>,
}

/// A string value with where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    pub value: String,
    pub loc: Loc,
    pub span: Range<usize>,
}

/// One TOML table being read, with a human name for messages (`[daemon]`, `feed `tass``).
pub(crate) struct Tab<'a, 'i> {
    pub src: &'a SourceFile,
    pub table: &'a DeTable<'i>,
    pub span: Range<usize>,
    pub what: String,
}

impl<'a, 'i> Tab<'a, 'i> {
    pub(crate) fn new(
        src: &'a SourceFile,
        value: &'a Val<'i>,
        what: impl Into<String>,
    ) -> Option<Self> {
        match value.get_ref() {
            DeValue::Table(table) => Some(Tab {
                src,
                table,
                span: value.span(),
                what: what.into(),
            }),
            _ => None,
        }
    }

    pub(crate) fn error(&self, diag: &mut Diag, span: &Range<usize>, message: impl Into<String>) {
        diag.errors.push(self.src.error(span, message));
    }

    /// An error about `key` in this table, e.g. "`interval` in [daemon]: …".
    pub(crate) fn key_error(&self, diag: &mut Diag, key: &str, span: &Range<usize>, problem: &str) {
        let msg = format!("`{key}` in {}: {problem}", self.what);
        self.error(diag, span, msg);
    }

    /// Reports every key not in `allowed`, with a suggestion and the valid keys.
    pub(crate) fn check_keys(&self, diag: &mut Diag, allowed: &[&str]) {
        for (k, _) in self.table.iter() {
            let key = k.get_ref().as_ref();
            if !allowed.contains(&key) {
                let hint = did_you_mean(key, allowed.iter().copied());
                let msg = format!(
                    "unknown key `{key}` in {}{hint} (valid keys: {})",
                    self.what,
                    allowed.join(", ")
                );
                self.error(diag, &k.span(), msg);
            }
        }
    }

    pub(crate) fn value(&self, key: &str) -> Option<&'a Val<'i>> {
        self.table.get(key)
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    pub(crate) fn key_span(&self, key: &str) -> Option<Range<usize>> {
        self.table.get_key_value(key).map(|(k, _)| k.span())
    }

    fn wrong_type(&self, diag: &mut Diag, key: &str, v: &Val<'i>, expected: &str) {
        let found = with_article(v.get_ref().type_str());
        self.key_error(
            diag,
            key,
            &v.span(),
            &format!("expected {expected}, found {found}"),
        );
    }

    pub(crate) fn string(&self, diag: &mut Diag, key: &str) -> Option<Located> {
        let v = self.value(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Located {
                value: s.to_string(),
                loc: self.src.loc(v.span().start),
                span: v.span(),
            }),
            _ => {
                self.wrong_type(diag, key, v, "a string");
                None
            }
        }
    }

    /// A required string: reports its absence at the table's header.
    pub(crate) fn required_string(&self, diag: &mut Diag, key: &str) -> Option<Located> {
        if !self.has(key) {
            let msg = format!("{} has no `{key}`: it is required", self.what);
            self.error(diag, &self.span, msg);
            return None;
        }
        self.string(diag, key)
    }

    pub(crate) fn integer(&self, diag: &mut Diag, key: &str, min: i64, max: i64) -> Option<i64> {
        let v = self.value(key)?;
        let DeValue::Integer(i) = v.get_ref() else {
            self.wrong_type(diag, key, v, "an integer");
            return None;
        };
        match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let msg = format!("must be between {min} and {max}");
                self.key_error(diag, key, &v.span(), &msg);
                None
            }
        }
    }

    /// A duration string; `min` is the smallest accepted value.
    pub(crate) fn duration(&self, diag: &mut Diag, key: &str, min: Duration) -> Option<Duration> {
        let s = self.duration_text(diag, key)?;
        self.check_duration(diag, key, &s, min)
    }

    pub(crate) fn duration_text(&self, diag: &mut Diag, key: &str) -> Option<Located> {
        let v = self.value(key)?;
        if !matches!(v.get_ref(), DeValue::String(_)) {
            self.wrong_type(
                diag,
                key,
                v,
                "a duration string such as \"30s\", \"5m\" or \"1h30m\"",
            );
            return None;
        }
        self.string(diag, key)
    }

    pub(crate) fn check_duration(
        &self,
        diag: &mut Diag,
        key: &str,
        s: &Located,
        min: Duration,
    ) -> Option<Duration> {
        match parse_duration(&s.value) {
            Ok(d) if d >= min => Some(d),
            Ok(_) => {
                let msg = format!("must be at least {}", format_duration(min));
                self.key_error(diag, key, &s.span, &msg);
                None
            }
            Err(e) => {
                self.key_error(diag, key, &s.span, &e);
                None
            }
        }
    }

    /// An array of strings.
    pub(crate) fn strings(&self, diag: &mut Diag, key: &str) -> Option<Vec<Located>> {
        let v = self.value(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(diag, key, v, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Located {
                    value: s.to_string(),
                    loc: self.src.loc(item.span().start),
                    span: item.span(),
                }),
                other => {
                    let found = with_article(other.type_str());
                    let msg = format!("expected an array of strings, found {found} in it");
                    self.key_error(diag, key, &item.span(), &msg);
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// A string or an array of strings.
    pub(crate) fn string_or_strings(&self, diag: &mut Diag, key: &str) -> Option<Vec<Located>> {
        let v = self.value(key)?;
        match v.get_ref() {
            DeValue::String(_) => self.string(diag, key).map(|s| vec![s]),
            DeValue::Array(_) => self.strings(diag, key),
            _ => {
                self.wrong_type(diag, key, v, "a string or an array of strings");
                None
            }
        }
    }

    /// An inline table (or sub-table) of string → string, in file order.
    pub(crate) fn string_map(&self, diag: &mut Diag, key: &str) -> Option<Vec<(Located, Located)>> {
        let v = self.value(key)?;
        let DeValue::Table(t) = v.get_ref() else {
            self.wrong_type(
                diag,
                key,
                v,
                "a table of strings, e.g. { X-Token = \"abc\" }",
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (k, val) in t.iter() {
            match val.get_ref() {
                DeValue::String(s) => out.push((
                    Located {
                        value: k.get_ref().to_string(),
                        loc: self.src.loc(k.span().start),
                        span: k.span(),
                    },
                    Located {
                        value: s.to_string(),
                        loc: self.src.loc(val.span().start),
                        span: val.span(),
                    },
                )),
                other => {
                    let found = with_article(other.type_str());
                    let msg = format!("`{}` must be a string, found {found}", k.get_ref());
                    self.key_error(diag, key, &val.span(), &msg);
                    ok = false;
                }
            }
        }
        out.sort_by_key(|(k, _)| k.span.start);
        ok.then_some(out)
    }

    /// One of a fixed set of words.
    pub(crate) fn choice<T: Copy>(
        &self,
        diag: &mut Diag,
        key: &str,
        choices: &[(&str, T)],
    ) -> Option<T> {
        let s = self.string(diag, key)?;
        if let Some((_, t)) = choices.iter().find(|(name, _)| *name == s.value) {
            return Some(*t);
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let hint = did_you_mean(&s.value, names.iter().copied());
        let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
        let msg = format!(
            "unknown value \"{}\"{hint} (expected one of {})",
            s.value,
            quoted.join(", ")
        );
        self.key_error(diag, key, &s.span, &msg);
        None
    }
}

/// Checks a name used to refer to a feed, rule, destination or tag.
pub(crate) fn check_name(name: &str, colon_allowed: bool) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "`{name}` must not contain spaces or control characters"
        ));
    }
    if !colon_allowed && name.contains(':') {
        return Err(format!(
            "`{name}` must not contain `:` (it would be read as `tag:`)"
        ));
    }
    Ok(())
}

/// Checks an HTTP header name and value (no CR/LF injection, a valid token name).
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), String> {
    const TCHAR: &str = "!#$%&'*+-.^_`|~";
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || TCHAR.contains(c))
    {
        return Err(format!("`{name}` is not a valid HTTP header name"));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!(
            "the value of header `{name}` contains a line break or control character"
        ));
    }
    Ok(())
}
