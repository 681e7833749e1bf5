//! The N generated feeds: what each contains, the files served, and the exact item and
//! match counts each stage must report.
//!
//! Every feed is a pure function of (seed, index, rules), so the 5% that grow for the
//! incremental stage are rewritten alone, and put back for the next tool, without holding
//! the corpus in memory.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::error::BenchError;
use crate::rng::Rng;
use crate::rules::RuleSpec;
use crate::text::{self, Lang};
use crate::xml::{self, FeedDoc, Format, ItemDoc};

/// Share of items given a plant that matches, and a near miss that must not.
const POSITIVE: f64 = 0.08;
const NEGATIVE: f64 = 0.05;
const CATEGORIES: &[&str] = &[
    "Politics", "Economy", "World", "Energy", "Security", "Society",
];
const AUTHORS: &[&str] = &[
    "Newsdesk",
    "Staff reporter",
    "Wire services",
    "Correspondent",
];

/// 2026-01-01T00:00:00Z: items are dated from a fixed point so reruns are identical.
pub fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Base,
    /// The base items plus a few newer ones.
    Grown,
}

#[derive(Debug, Clone)]
pub struct FeedMeta {
    pub index: usize,
    pub name: String,
    pub lang: Lang,
    pub format: Format,
    /// Which loopback address serves it (0-based).
    pub host: usize,
    pub base_items: usize,
    pub base_matches: usize,
    /// Items added by [`Version::Grown`] and how many of them match (0 for feeds that never grow).
    pub grown_items: usize,
    pub grown_matches: usize,
    pub grows: bool,
}

/// One file on disk as the server announces it.
#[derive(Debug, Clone)]
pub struct Served {
    pub plain: PathBuf,
    pub gzip: PathBuf,
    pub etag: String,
    pub last_modified: DateTime<Utc>,
    pub content_type: &'static str,
    pub bytes: u64,
    pub gzip_bytes: u64,
}

pub struct Corpus {
    pub seed: u64,
    pub dir: PathBuf,
    pub rules: Vec<RuleSpec>,
    pub feeds: Vec<FeedMeta>,
}

pub fn feed_name(index: usize) -> String {
    format!("f{index:05}")
}

/// Picks `ceil(n * pct / 100)` feeds spread evenly over the list (and so over hosts).
fn grows(index: usize, n: usize, pct: usize) -> bool {
    let count = (n * pct).div_ceil(100).min(n);
    count > 0 && (index * count) % n < count
}

fn meta(seed: u64, index: usize, n: usize, hosts: usize, pct: usize) -> FeedMeta {
    let mut rng = Rng::derive(seed, 5, index as u64);
    let lang = if rng.chance(0.3) { Lang::Ru } else { Lang::En };
    let format = if rng.chance(0.5) {
        Format::Atom
    } else {
        Format::Rss
    };
    FeedMeta {
        index,
        name: feed_name(index),
        lang,
        format,
        host: index % hosts.max(1),
        base_items: 0,
        base_matches: 0,
        grown_items: 0,
        grown_matches: 0,
        grows: grows(index, n, pct),
    }
}

/// Items of one feed at one version, newest first, each with whether it matches.
fn items(seed: u64, rules: &[RuleSpec], m: &FeedMeta, version: Version) -> Vec<(ItemDoc, bool)> {
    let mut rng = Rng::derive(seed, 2, m.index as u64);
    let count = rng.range(20, 100);
    let mut out: Vec<(ItemDoc, bool)> = (0..count)
        .map(|j| {
            item(
                &mut rng,
                rules,
                m,
                j,
                epoch() - Duration::minutes(17 * j as i64),
            )
        })
        .collect();
    if version == Version::Grown && m.grows {
        let mut grow = Rng::derive(seed, 3, m.index as u64);
        let extra = grow.range(2, 6);
        let mut newer: Vec<(ItemDoc, bool)> = (0..extra)
            .map(|k| {
                item(
                    &mut grow,
                    rules,
                    m,
                    count + k,
                    epoch() + Duration::minutes(10 * (k as i64 + 1)),
                )
            })
            .collect();
        newer.reverse();
        newer.extend(out);
        out = newer;
    }
    out
}

fn item(
    rng: &mut Rng,
    rules: &[RuleSpec],
    m: &FeedMeta,
    j: usize,
    published: DateTime<Utc>,
) -> (ItemDoc, bool) {
    let roll = rng.next_u64() as f64 / u64::MAX as f64;
    let rule = rng.pick(rules);
    let plant = match rule {
        Some(r) if roll < POSITIVE => Some(r.positive(rng, m.lang)),
        Some(r) if roll < POSITIVE + NEGATIVE => r.negative(rng, m.lang),
        _ => None,
    };
    let (title_terms, body_terms, matches) = match plant {
        Some(p) => (p.title, p.body, p.matches),
        None => (Vec::new(), Vec::new(), false),
    };
    let doc = ItemDoc {
        guid: format!("urn:feedwatch-bench:{}:{j}", m.name),
        link: format!(
            "https://news{}.example.org/{}/2026/{}-{j}.html",
            m.host,
            m.lang.tag(),
            m.name
        ),
        title: text::title(rng, m.lang, &title_terms),
        html: text::description(rng, m.lang, 1000, &body_terms),
        published,
        category: rng.pick(CATEGORIES).copied().unwrap_or("World"),
        author: rng.pick(AUTHORS).copied().unwrap_or("Newsdesk"),
    };
    (doc, matches)
}

fn render(m: &FeedMeta, docs: &[ItemDoc], updated: DateTime<Utc>) -> String {
    let title = match m.lang {
        Lang::En => format!("World news wire {}", m.index),
        Lang::Ru => format!("Лента новостей {}", m.index),
    };
    let home = format!("https://news{}.example.org/{}/", m.host, m.name);
    let id = format!("urn:feedwatch-bench:{}", m.name);
    xml::render(&FeedDoc {
        format: m.format,
        lang: m.lang,
        title: &title,
        home: &home,
        id: &id,
        updated,
        cdata: m.index.is_multiple_of(2),
        items: docs,
    })
}

/// FNV-1a: a stable content hash for the ETag.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Writes `name.xml` and `name.xml.gz`, as nginx's `gzip_static` would serve them.
fn write_files(
    dir: &Path,
    m: &FeedMeta,
    body: &str,
    last_modified: DateTime<Utc>,
) -> Result<Served, BenchError> {
    let plain = dir.join(format!("{}.xml", m.name));
    let gzip = dir.join(format!("{}.xml.gz", m.name));
    std::fs::write(&plain, body).map_err(BenchError::io(&plain))?;
    let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 3), Compression::default());
    enc.write_all(body.as_bytes())
        .map_err(BenchError::io(&gzip))?;
    let packed = enc.finish().map_err(BenchError::io(&gzip))?;
    std::fs::write(&gzip, &packed).map_err(BenchError::io(&gzip))?;
    Ok(Served {
        plain,
        gzip,
        etag: format!("\"{:016x}\"", fnv1a(body.as_bytes())),
        last_modified,
        content_type: match m.format {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
        },
        bytes: body.len() as u64,
        gzip_bytes: packed.len() as u64,
    })
}

/// Builds one feed at `version`, writes it, and returns its file and (items, matches).
fn build(
    seed: u64,
    rules: &[RuleSpec],
    dir: &Path,
    m: &FeedMeta,
    version: Version,
) -> Result<(Served, usize, usize), BenchError> {
    let all = items(seed, rules, m, version);
    let matches = all.iter().filter(|(_, hit)| *hit).count();
    let docs: Vec<ItemDoc> = all.into_iter().map(|(d, _)| d).collect();
    let stamp = if version == Version::Grown && m.grows {
        epoch() + Duration::days(1)
    } else {
        epoch()
    };
    let body = render(m, &docs, stamp);
    Ok((write_files(dir, m, &body, stamp)?, docs.len(), matches))
}

impl Corpus {
    /// Generates and writes all feeds at [`Version::Base`] under `dir`, on two threads.
    /// Returns the corpus and each feed's served file, in feed order.
    pub fn generate(
        seed: u64,
        n: usize,
        rules: Vec<RuleSpec>,
        hosts: usize,
        pct: usize,
        dir: &Path,
    ) -> Result<(Corpus, Vec<Served>), BenchError> {
        let clashes = crate::rules::check_against(&rules, &text::vocabulary());
        if let Some((term, word)) = clashes.first() {
            return Err(BenchError::Corpus(format!("term {term} vs word {word}")));
        }
        std::fs::create_dir_all(dir).map_err(BenchError::io(dir))?;
        let metas: Vec<FeedMeta> = (0..n).map(|i| meta(seed, i, n, hosts, pct)).collect();
        let threads = 2;
        let results: Vec<Result<Vec<(FeedMeta, Served)>, BenchError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (metas, rules) = (&metas, &rules);
                    s.spawn(move || {
                        metas
                            .iter()
                            .skip(t)
                            .step_by(threads)
                            .map(|m| {
                                let mut m = m.clone();
                                let (served, count, hits) =
                                    build(seed, rules, dir, &m, Version::Base)?;
                                (m.base_items, m.base_matches) = (count, hits);
                                if m.grows {
                                    let all = items(seed, rules, &m, Version::Grown);
                                    m.grown_items = all.len() - count;
                                    m.grown_matches = all
                                        .iter()
                                        .take(m.grown_items)
                                        .filter(|(_, hit)| *hit)
                                        .count();
                                }
                                Ok((m, served))
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(BenchError::Corpus("a generator thread panicked".into()))
                    })
                })
                .collect()
        });
        let mut all: Vec<(FeedMeta, Served)> = Vec::with_capacity(n);
        for r in results {
            all.extend(r?);
        }
        all.sort_by_key(|(m, _)| m.index);
        let (feeds, served) = all.into_iter().unzip();
        Ok((
            Corpus {
                seed,
                dir: dir.to_path_buf(),
                rules,
                feeds,
            },
            served,
        ))
    }

    /// Rewrites the feeds that grow at `version`; returns (feed index, new file) for the server.
    pub fn set_version(&self, version: Version) -> Result<Vec<(usize, Served)>, BenchError> {
        self.feeds
            .iter()
            .filter(|m| m.grows)
            .map(|m| {
                build(self.seed, &self.rules, &self.dir, m, version).map(|(s, _, _)| (m.index, s))
            })
            .collect()
    }

    pub fn total_items(&self, version: Version) -> usize {
        self.feeds
            .iter()
            .map(|m| {
                m.base_items
                    + if version == Version::Grown {
                        m.grown_items
                    } else {
                        0
                    }
            })
            .sum()
    }

    pub fn total_matches(&self, version: Version) -> usize {
        self.feeds
            .iter()
            .map(|m| {
                m.base_matches
                    + if version == Version::Grown {
                        m.grown_matches
                    } else {
                        0
                    }
            })
            .sum()
    }

    pub fn grown_count(&self) -> usize {
        self.feeds.iter().filter(|m| m.grows).count()
    }
}

#[cfg(test)]
#[path = "corpus_tests.rs"]
mod tests;
