//! What each stage must produce, and the comparison with what a tool reported: feedwatch's
//! per-feed lines (`NAME: X items, Y new, Z matches`, `NAME: not modified`,
//! `NAME: error: ...`), its state database, and the server's request counts.

use std::collections::HashMap;
use std::path::Path;

use crate::corpus::{Corpus, FeedMeta};
use crate::server::Counts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Cold,
    Warm,
    Incremental,
}

impl Stage {
    pub const ALL: [Stage; 3] = [Stage::Cold, Stage::Warm, Stage::Incremental];

    pub fn label(self) -> &'static str {
        match self {
            Stage::Cold => "cold",
            Stage::Warm => "warm",
            Stage::Incremental => "incremental",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Polled {
        items: usize,
        new: usize,
        matches: usize,
    },
    NotModified,
    Error(String),
}

/// What one feed must report at `stage` (state carried over from the stages before).
pub fn expected(m: &FeedMeta, stage: Stage) -> Outcome {
    match stage {
        Stage::Cold => Outcome::Polled {
            items: m.base_items,
            new: m.base_items,
            matches: m.base_matches,
        },
        Stage::Incremental if m.grows => Outcome::Polled {
            items: m.base_items + m.grown_items,
            new: m.grown_items,
            matches: m.grown_matches,
        },
        Stage::Warm | Stage::Incremental => Outcome::NotModified,
    }
}

/// The server answers a stage must see from a client that uses the validators it was given.
pub fn expected_counts(corpus: &Corpus, stage: Stage) -> (u64, u64) {
    let n = corpus.feeds.len() as u64;
    let grown = corpus.grown_count() as u64;
    match stage {
        Stage::Cold => (n, 0),
        Stage::Warm => (0, n),
        Stage::Incremental => (grown, n - grown),
    }
}

fn parse_line(line: &str) -> Option<(&str, Outcome)> {
    let (name, rest) = line.split_once(": ")?;
    let digits = name.strip_prefix('f')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if rest == "not modified" {
        return Some((name, Outcome::NotModified));
    }
    if let Some(err) = rest.strip_prefix("error: ") {
        return Some((name, Outcome::Error(err.to_string())));
    }
    // "X items, Y new, Z matches", perhaps followed by a note in parentheses.
    let head = rest.split(" (").next()?;
    let parts: Vec<&str> = head.split(", ").collect();
    let num = |k: usize, unit: &str| parts.get(k)?.strip_suffix(unit)?.parse::<usize>().ok();
    if parts.len() != 3 {
        return None;
    }
    let (items, new, matches) = (num(0, " items")?, num(1, " new")?, num(2, " matches")?);
    Some((
        name,
        Outcome::Polled {
            items,
            new,
            matches,
        },
    ))
}

/// Per-feed outcomes from feedwatch's stdout (digest text and other lines are skipped).
pub fn parse_report(stdout: &str) -> HashMap<String, Outcome> {
    stdout
        .lines()
        .filter_map(parse_line)
        .map(|(n, o)| (n.to_string(), o))
        .collect()
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    pub ok: bool,
    /// One line: what was counted against what was expected.
    pub summary: String,
    /// The first few differences, for the log.
    pub problems: Vec<String>,
}

/// Compares feedwatch's per-feed lines and the server's counts with the expected ones.
pub fn verify_feedwatch(corpus: &Corpus, stage: Stage, stdout: &str, counts: Counts) -> Verdict {
    let got = parse_report(stdout);
    let mut problems = Vec::new();
    let (mut items, mut want_items, mut matches, mut want_matches, mut nm, mut want_nm, mut errors) =
        (0, 0, 0, 0, 0, 0, 0);
    for m in &corpus.feeds {
        let want = expected(m, stage);
        match &want {
            Outcome::Polled {
                new, matches: w, ..
            } => (want_items, want_matches) = (want_items + new, want_matches + w),
            _ => want_nm += 1,
        }
        match got.get(&m.name) {
            Some(Outcome::Polled {
                new, matches: z, ..
            }) => (items, matches) = (items + new, matches + z),
            Some(Outcome::NotModified) => nm += 1,
            Some(Outcome::Error(_)) => errors += 1,
            None => {}
        }
        if got.get(&m.name) != Some(&want) && problems.len() < 10 {
            problems.push(format!(
                "{}: expected {want:?}, got {:?}",
                m.name,
                got.get(&m.name)
            ));
        }
    }
    let mut v = server_verdict(corpus, stage, counts);
    v.ok = v.ok && problems.is_empty();
    v.summary = format!(
        "new items {items}/{want_items}, matches {matches}/{want_matches}, not modified {nm}/{want_nm}, errors {errors}; {}",
        v.summary
    );
    problems.extend(v.problems);
    v.problems = problems;
    v
}

/// Whether the server saw the requests a conditional-GET client makes at this stage.
pub fn server_verdict(corpus: &Corpus, stage: Stage, counts: Counts) -> Verdict {
    let (want_200, want_304) = expected_counts(corpus, stage);
    let got_200 = counts.plain + counts.gzip;
    let ok = got_200 == want_200 && counts.not_modified == want_304 && counts.not_found == 0;
    let summary = format!(
        "server: 200 {got_200}/{want_200} ({} gzip), 304 {}/{want_304}",
        counts.gzip, counts.not_modified
    );
    let problems = if ok {
        Vec::new()
    } else {
        vec![format!("unexpected requests: {counts:?}")]
    };
    Verdict {
        ok,
        summary,
        problems,
    }
}

/// Row counts of feedwatch's `seen` and `outbox` tables, when they exist.
pub fn state_counts(db: &Path) -> Result<(Option<u64>, Option<u64>), String> {
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(db, flags)
        .map_err(|e| format!("{}: {e}", db.display()))?;
    let count = |table: &str| -> Option<u64> {
        let exists: bool = conn
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .ok()?;
        if !exists {
            return None;
        }
        conn.query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
            r.get::<_, i64>(0)
        })
        .ok()
        .map(|n| n.max(0) as u64)
    };
    Ok((count("seen"), count("outbox")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_feed_lines() {
        let cases: &[(&str, Option<(&str, Outcome)>)] = &[
            (
                "f00001: 57 items, 57 new, 3 matches",
                Some((
                    "f00001",
                    Outcome::Polled {
                        items: 57,
                        new: 57,
                        matches: 3,
                    },
                )),
            ),
            (
                "f00002: 20 items, 0 new, 0 matches (first poll: items marked seen, nothing sent; set first_poll = \"alert\" to be alerted)",
                Some((
                    "f00002",
                    Outcome::Polled {
                        items: 20,
                        new: 0,
                        matches: 0,
                    },
                )),
            ),
            (
                "f10000: not modified",
                Some(("f10000", Outcome::NotModified)),
            ),
            (
                "f00003: error: HTTP 404 Not Found",
                Some(("f00003", Outcome::Error("HTTP 404 Not Found".into()))),
            ),
            ("f00004: 5 items", None),
            ("feed: 5 items, 5 new, 0 matches", None),
            ("Zorvex: a digest line", None),
            ("  f00001: 57 items, 57 new, 3 matches", None),
            ("", None),
        ];
        for (line, want) in cases {
            assert_eq!(parse_line(line), want.clone(), "{line}");
        }
    }

    #[test]
    fn stage_expectations() {
        let mut m = crate::corpus::FeedMeta {
            index: 0,
            name: "f00000".into(),
            lang: crate::text::Lang::En,
            format: crate::xml::Format::Rss,
            host: 0,
            base_items: 50,
            base_matches: 4,
            grown_items: 3,
            grown_matches: 1,
            grows: true,
        };
        assert_eq!(
            expected(&m, Stage::Cold),
            Outcome::Polled {
                items: 50,
                new: 50,
                matches: 4
            }
        );
        assert_eq!(expected(&m, Stage::Warm), Outcome::NotModified);
        assert_eq!(
            expected(&m, Stage::Incremental),
            Outcome::Polled {
                items: 53,
                new: 3,
                matches: 1
            }
        );
        m.grows = false;
        assert_eq!(expected(&m, Stage::Incremental), Outcome::NotModified);
    }
}
