//! Config errors with a file, line and column, and the "did you mean" helper.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a config file. `line` and `column` are 1-based; both are 0 when the
/// problem has no position (a missing file, a discovery failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl ConfigError {
    /// An error about a whole file, with no position in it.
    pub fn file_level(file: &Path, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file.as_os_str().is_empty() {
            f.write_str(&self.message)
        } else if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in a configuration (never empty when returned as an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> ConfigErrors {
        ConfigErrors(vec![e])
    }
}

/// Maps byte offsets of one file's text to 1-based line and column (columns count
/// characters, so a Cyrillic value does not shift the caret).
#[derive(Debug)]
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    pub(crate) fn position(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        (line, column)
    }
}

/// Edit distance over characters, counting a swap of neighbours as one edit (the
/// commonest typo: `dialy` for `daily`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

/// The candidate closest to `word`, when it is close enough to be a plausible typo.
pub(crate) fn suggest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let word_lower = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word_lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `; did you mean `x`?` or nothing.
pub(crate) fn did_you_mean<'a, I>(word: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    suggest(word, candidates).map_or_else(String::new, |s| format!("; did you mean `{s}`?"))
}

/// "a string", "an integer", … for a TOML type name.
pub(crate) fn with_article(type_name: &str) -> String {
    let article = if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {type_name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a = 1\nпривет = \"x\"\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(text, 0), (1, 1));
        assert_eq!(idx.position(text, 4), (1, 5));
        assert_eq!(idx.position(text, 6), (2, 1));
        let eq = text.rfind('=').unwrap_or(0);
        assert_eq!(idx.position(text, eq), (2, 8));
        assert_eq!(idx.position(text, text.len() + 10), (3, 1));
    }

    #[test]
    fn suggestions_only_for_plausible_typos() {
        let keys = ["interval", "include", "state", "timeout"];
        assert_eq!(suggest("intervall", keys), Some("interval"));
        assert_eq!(suggest("Interval", keys), Some("interval"));
        assert_eq!(suggest("stat", keys), Some("state"));
        assert_eq!(suggest("zzz", keys), None);
        assert_eq!(suggest("dialy", ["daily", "hourly"]), Some("daily"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(did_you_mean("xyzzy", keys), "");
    }

    #[test]
    fn display_with_and_without_position() {
        let e = ConfigError {
            file: PathBuf::from("f.toml"),
            line: 3,
            column: 7,
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "f.toml:3:7: bad");
        let f = ConfigError::file_level(Path::new("g.toml"), "missing");
        assert_eq!(
            ConfigErrors(vec![e, f]).to_string(),
            "f.toml:3:7: bad\ng.toml: missing"
        );
        assert_eq!(with_article("integer"), "an integer");
        assert_eq!(with_article("string"), "a string");
    }
}
