//! The programs measured: feedwatch, and the peers newsboat and rss2email when installed.
//! Each gets its own folder with its config and state; `reset` empties the state for a
//! cold start, and `verify` checks a stage's work from the tool's output or state files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::check::{self, Stage, Verdict};
use crate::corpus::{Corpus, Version};
use crate::error::BenchError;
use crate::measure::{self, Measurement, RunFiles};
use crate::server::{Counts, Server};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Feedwatch,
    Newsboat,
    Rss2email,
}

#[derive(Debug, Clone)]
pub struct Tool {
    pub kind: Kind,
    pub program: PathBuf,
    dir: PathBuf,
    /// newsboat's `reload-threads`.
    threads: usize,
}

/// The first `name` on `$PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn version_at(stage: Stage) -> Version {
    if stage == Stage::Incremental {
        Version::Grown
    } else {
        Version::Base
    }
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The feedwatch config: every feed, every rule, one stdout destination, alert on the
/// first poll, no age limit (the corpus is dated 2026-01-01).
pub fn feedwatch_config(corpus: &Corpus, server: &Server) -> String {
    let mut c = String::with_capacity(corpus.feeds.len() * 120 + corpus.rules.len() * 100);
    c.push_str("# Written by loadbench; rerun it rather than editing this file.\n[daemon]\n");
    c.push_str("state = \"state/feedwatch.db\"\nfirst_poll = \"alert\"\nmax_age = \"off\"\n\n");
    for m in &corpus.feeds {
        let url = server.url(m.host, &format!("{}.xml", m.name));
        let _ = writeln!(
            c,
            "[[feed]]\nname = {}\nurl = {}\ntags = [{}]\n",
            toml_str(&m.name),
            toml_str(&url),
            toml_str(m.lang.tag())
        );
    }
    for r in &corpus.rules {
        let _ = writeln!(
            c,
            "[[rule]]\nname = {}\nquery = {}",
            toml_str(&r.name),
            toml_str(&r.query)
        );
        if let Some(feeds) = &r.feeds {
            let list: Vec<String> = feeds.iter().map(|f| toml_str(f)).collect();
            let _ = writeln!(c, "feeds = [{}]", list.join(", "));
        }
        c.push('\n');
    }
    c.push_str("[destination.out]\ntype = \"stdout\"\n");
    c
}

fn write(path: &Path, text: &str) -> Result<(), BenchError> {
    std::fs::write(path, text).map_err(BenchError::io(path))
}

impl Tool {
    pub fn new(kind: Kind, program: PathBuf, work: &Path, threads: usize) -> Tool {
        let dir = work.join(match kind {
            Kind::Feedwatch => "feedwatch",
            Kind::Newsboat => "newsboat",
            Kind::Rss2email => "rss2email",
        });
        Tool {
            kind,
            program,
            dir,
            threads,
        }
    }

    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Feedwatch => "feedwatch",
            Kind::Newsboat => "newsboat",
            Kind::Rss2email => "rss2email",
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join(match self.kind {
            Kind::Feedwatch => "feedwatch.toml",
            Kind::Newsboat => "config",
            Kind::Rss2email => "r2e.cfg",
        })
    }

    fn state_path(&self) -> PathBuf {
        match self.kind {
            Kind::Feedwatch => self.dir.join("state").join("feedwatch.db"),
            Kind::Newsboat => self.dir.join("cache.db"),
            Kind::Rss2email => self.dir.join("r2e.json"),
        }
    }

    /// Writes the tool's config for the corpus as served.
    pub fn setup(&self, corpus: &Corpus, server: &Server) -> Result<(), BenchError> {
        std::fs::create_dir_all(self.dir.join("home")).map_err(BenchError::io(&self.dir))?;
        let urls = || {
            corpus
                .feeds
                .iter()
                .map(|m| (m, server.url(m.host, &format!("{}.xml", m.name))))
        };
        match self.kind {
            Kind::Feedwatch => write(&self.config_path(), &feedwatch_config(corpus, server)),
            Kind::Newsboat => {
                let list: String = urls().map(|(_, u)| format!("{u}\n")).collect();
                write(&self.dir.join("urls"), &list)?;
                write(
                    &self.config_path(),
                    &format!(
                        "reload-threads {}\nshow-read-feeds yes\n",
                        self.threads.max(1)
                    ),
                )
            }
            Kind::Rss2email => {
                let mut cfg = String::from(
                    "[DEFAULT]\nfrom = loadbench@localhost\nto = loadbench@localhost\n\n",
                );
                for (m, u) in urls() {
                    let _ = writeln!(cfg, "[feed.{}]\nurl = {u}\n", m.name);
                }
                write(&self.config_path(), &cfg)
            }
        }
    }

    /// Forgets everything the tool remembered: the next run is a cold start.
    pub fn reset(&self) -> Result<(), BenchError> {
        let state = self.state_path();
        let mut doomed = vec![state.clone()];
        for suffix in ["-wal", "-shm", "-journal", ".lock"] {
            doomed.push(PathBuf::from(format!("{}{suffix}", state.display())));
        }
        for p in doomed {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(BenchError::Io { path: p, source: e }),
            }
        }
        Ok(())
    }

    fn args(&self) -> Vec<String> {
        let p = |p: PathBuf| p.display().to_string();
        match self.kind {
            Kind::Feedwatch => vec![
                "run".into(),
                "--once".into(),
                "--config".into(),
                p(self.config_path()),
            ],
            Kind::Newsboat => vec![
                "-x".into(),
                "reload".into(),
                "-u".into(),
                p(self.dir.join("urls")),
                "-c".into(),
                p(self.state_path()),
                "-C".into(),
                p(self.config_path()),
            ],
            Kind::Rss2email => {
                vec![
                    "-c".into(),
                    p(self.config_path()),
                    "-d".into(),
                    p(self.state_path()),
                    "run".into(),
                    "--no-send".into(),
                ]
            }
        }
    }

    /// The command line a reader can rerun, for the report.
    pub fn command_line(&self) -> String {
        let report = self.dir.join("STAGE.time");
        let (time, program) = (measure::TIME, self.program.display());
        format!(
            "{time} -v -o {} {program} {}",
            report.display(),
            self.args().join(" ")
        )
    }

    pub fn files(&self, stage: Stage) -> RunFiles {
        RunFiles::under(&self.dir, stage.label())
    }

    pub fn run(&self, stage: Stage) -> Result<Measurement, BenchError> {
        // Peers get a private HOME so nothing of the user's setup is read or written.
        let home = self.dir.join("home").display().to_string();
        let env = [
            ("HOME", home.clone()),
            ("XDG_CONFIG_HOME", format!("{home}/.config")),
            ("XDG_DATA_HOME", format!("{home}/.local/share")),
        ];
        let env: &[(&str, String)] = if self.kind == Kind::Feedwatch {
            &[]
        } else {
            &env
        };
        measure::run_timed(
            &self.program,
            &self.args(),
            env,
            &self.files(stage),
            self.kind == Kind::Feedwatch,
        )
    }

    /// Checks the stage's work: feedwatch exactly, the peers by the items they stored.
    pub fn verify(
        &self,
        corpus: &Corpus,
        stage: Stage,
        m: &Measurement,
        counts: Counts,
    ) -> Verdict {
        let mut v = match self.kind {
            Kind::Feedwatch => {
                let stdout = std::fs::read_to_string(self.files(stage).stdout).unwrap_or_default();
                let mut v = check::verify_feedwatch(corpus, stage, &stdout, counts);
                let version = version_at(stage);
                match check::state_counts(&self.state_path()) {
                    Ok((seen, outbox)) => {
                        let show = |n: Option<u64>| n.map_or("-".to_string(), |n| n.to_string());
                        let _ = write!(
                            v.summary,
                            "; db seen {}/{}, outbox {}/{}",
                            show(seen),
                            corpus.total_items(version),
                            show(outbox),
                            corpus.total_matches(version)
                        );
                    }
                    Err(e) => v.problems.push(format!("state database: {e}")),
                }
                v
            }
            Kind::Newsboat | Kind::Rss2email => {
                // A peer's request pattern is its own business (reported, not required);
                // what it stored must be complete.
                let mut v = check::server_verdict(corpus, stage, counts);
                v.ok = true;
                v.problems.clear();
                let want = corpus.total_items(version_at(stage)) as u64;
                match self.stored_items() {
                    Ok(n) => {
                        let _ = write!(v.summary, "; items stored {n}/{want}");
                        if n != want {
                            v.ok = false;
                            v.problems
                                .push(format!("{} stored {n} items, expected {want}", self.name()));
                        }
                    }
                    Err(e) => {
                        v.ok = false;
                        v.problems.push(e);
                    }
                }
                v
            }
        };
        if m.exit != Some(0) {
            v.ok = false;
            v.problems.insert(
                0,
                format!(
                    "{} exited with {:?}; see {}",
                    self.name(),
                    m.exit,
                    self.files(stage).stderr.display()
                ),
            );
        }
        v
    }

    /// Items the peer keeps in its state: newsboat's `rss_item` rows, rss2email's seen ids.
    fn stored_items(&self) -> Result<u64, String> {
        let path = self.state_path();
        match self.kind {
            Kind::Newsboat => {
                let conn = rusqlite::Connection::open_with_flags(
                    &path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .map_err(|e| format!("{}: {e}", path.display()))?;
                conn.query_row("SELECT count(*) FROM rss_item", [], |r| r.get::<_, i64>(0))
                    .map(|n| n.max(0) as u64)
                    .map_err(|e| format!("{}: {e}", path.display()))
            }
            Kind::Rss2email => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let data: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                let feeds = data
                    .get("feeds")
                    .and_then(|f| f.as_array())
                    .ok_or_else(|| format!("{}: no `feeds` list", path.display()))?;
                Ok(feeds
                    .iter()
                    .filter_map(|f| f.get("seen").and_then(|s| s.as_object()))
                    .map(|s| s.len() as u64)
                    .sum())
            }
            Kind::Feedwatch => Ok(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_round_trip() {
        for s in [
            "plain",
            "\"Zorvex Quamor\"",
            "back\\slash",
            "Лавров AND (Киргиз* OR Кыргыз*)",
            "tab\there",
        ] {
            let doc = format!("v = {}", toml_str(s));
            let parsed: Result<toml::Table, _> = doc.parse();
            assert_eq!(
                parsed
                    .ok()
                    .and_then(|t| t.get("v").and_then(|v| v.as_str().map(String::from))),
                Some(s.to_string()),
                "{doc}"
            );
        }
    }
}
