//! Shared helpers for the benchmarks: a deterministic generator of realistic news items
//! (English and Russian, title + ~1 KB summary) and of watch rules, and the naive
//! one-regex-per-rule baseline the compiled matcher is compared with.
//!
//! Everything is seeded, so two runs measure the same work.

use feedwatch::rules::{Node, Query, Term};
use regex::{Regex, RegexBuilder};

mod vocab;
use vocab::*;

/// SplitMix64: tiny, fast and good enough to pick words.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// A synthetic proper name: a deterministic function of `i`, so rules and texts agree.
pub fn name(i: usize, russian: bool) -> String {
    let (syl, ends) = if russian {
        (CYR_SYLLABLES, SURNAME_ENDS_RU)
    } else {
        (LATIN_SYLLABLES, SURNAME_ENDS_EN)
    };
    let n = syl.len();
    let mut s = String::new();
    s.push_str(syl[i % n]);
    s.push_str(syl[(i / n) % n]);
    s.push_str(ends[(i / (n * n)) % ends.len()]);
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}

/// How many distinct synthetic names exist (per language).
pub const NAMES: usize = 20 * 20 * 6;

/// One generated news item.
#[derive(Debug, Clone)]
pub struct NewsItem {
    pub title: String,
    pub summary: String,
    pub categories: Vec<String>,
    pub link: String,
}

fn sentence(rng: &mut Rng, russian: bool, out: &mut String) {
    let (common, entities) = if russian {
        (RU_COMMON, RU_ENTITIES)
    } else {
        (EN_COMMON, EN_ENTITIES)
    };
    let len = 8 + rng.below(12);
    for i in 0..len {
        let w: String = if rng.chance(12) {
            rng.pick(entities).to_string()
        } else if rng.chance(3) {
            name(rng.below(NAMES), russian)
        } else {
            rng.pick(common).to_string()
        };
        if i == 0 {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                out.extend(f.to_uppercase());
                out.extend(c);
            }
        } else {
            out.push_str(&w);
        }
        if i + 1 < len {
            out.push_str(if rng.chance(8) { ", " } else { " " });
        }
    }
    out.push_str(". ");
}

/// `n` items, alternating English and Russian.
pub fn items(n: usize, seed: u64) -> Vec<NewsItem> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let russian = i % 2 == 1;
            let mut title = String::new();
            sentence(&mut rng, russian, &mut title);
            title.truncate(title.trim_end_matches(['.', ' ']).len());
            let mut summary = String::new();
            while summary.len() < 1000 {
                sentence(&mut rng, russian, &mut summary);
            }
            let cat = if russian {
                "Политика"
            } else {
                "Politics"
            };
            NewsItem {
                title,
                summary,
                categories: vec![cat.to_string()],
                link: format!(
                    "https://news.example/{}/{i}",
                    if russian { "ru" } else { "en" }
                ),
            }
        })
        .collect()
}

/// A rule term. `qualifier` terms (the second operand of AND/NEAR, the NOT part) are
/// often a common entity such as `Kyrgyzstan`; a rule's main term is always a specific
/// name, as in `Japarov AND Kyrgyzstan`: thousands of rules are thousands of distinct
/// subjects, not the same hundred place names over and over.
fn term(rng: &mut Rng, qualifier: bool) -> String {
    let russian = rng.chance(50);
    if qualifier && rng.chance(30) {
        let e = if russian { RU_ENTITIES } else { EN_ENTITIES };
        let w = rng.pick(e);
        if w.contains([' ', '-']) {
            format!("\"{w}\"")
        } else {
            w.to_string()
        }
    } else {
        name(rng.below(NAMES), russian)
    }
}

/// `n` watch-rule queries with a realistic mix: single names, AND, phrases, prefixes,
/// OR with NOT, NEAR, field scopes and 2% regexes.
pub fn rules(n: usize, seed: u64) -> Vec<String> {
    rules_with(n, seed, true)
}

/// Like [`rules`]; without `regexes`, the regex share becomes plain names.
pub fn rules_with(n: usize, seed: u64, regexes: bool) -> Vec<String> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let roll = rng.below(if regexes { 100 } else { 98 });
            let (a, b, c) = (
                term(&mut rng, false),
                term(&mut rng, true),
                term(&mut rng, true),
            );
            let alt = term(&mut rng, false);
            match roll {
                0..30 => a,
                30..50 => format!("{a} AND {b}"),
                50..60 => {
                    let russian = rng.chance(50);
                    let common = if russian { RU_COMMON } else { EN_COMMON };
                    format!(
                        "\"{} {}\"",
                        name(rng.below(NAMES), russian),
                        rng.pick(common)
                    )
                }
                60..70 => {
                    let base = name(rng.below(NAMES), rng.chance(50));
                    let keep = base.chars().count().saturating_sub(2).max(3);
                    format!("{}*", base.chars().take(keep).collect::<String>())
                }
                70..80 => format!("({a} OR {alt}) AND NOT {c}"),
                80..88 => format!("{a} NEAR/5 {b}"),
                88..98 => format!("title:{a}"),
                _ => format!(
                    "/{}(ov|ev)/i",
                    name(rng.below(NAMES), rng.chance(50))
                        .trim_end_matches(['o', 'v', 'e', 'о', 'в', 'е'])
                ),
            }
        })
        .collect()
}

/// Parses generated rules (they are all valid).
pub fn parse_all(texts: &[String]) -> Vec<Query> {
    texts.iter().filter_map(|t| Query::parse(t).ok()).collect()
}

/// The naive baseline: each rule compiled into ONE regex with a named group per term,
/// run over the item's title, summary and categories; the groups that matched are then
/// fed to the rule's boolean expression. Field scopes are ignored and diacritics are
/// not folded: it only needs to cost what the obvious implementation costs.
pub struct NaiveRule {
    regex: Regex,
    root: Node,
    /// Capture-group index of each term's group.
    groups: Vec<usize>,
}

fn escape(w: &str) -> String {
    regex::escape(w)
}

fn term_regex(t: &Term) -> String {
    match t {
        Term::Word(w) => format!(r"\b{}\b", escape(w)),
        Term::Prefix(p) => format!(r"\b{}\w*", escape(p)),
        Term::Phrase(ws) => {
            let parts: Vec<String> = ws.iter().map(|w| escape(w)).collect();
            format!(r"\b{}\b", parts.join(r"\W+"))
        }
    }
}

fn leaves(n: &Node, out: &mut Vec<String>) {
    match n {
        Node::Term { term, .. } => out.push(term_regex(term)),
        Node::Near {
            left,
            right,
            distance,
            ..
        } => {
            let (a, b) = (term_regex(left), term_regex(right));
            out.push(format!(
                r"{a}\W+(?:\w+\W+){{0,{distance}}}{b}|{b}\W+(?:\w+\W+){{0,{distance}}}{a}"
            ));
        }
        Node::Regex { pattern, .. } => {
            let flag = if pattern.case_insensitive { "i" } else { "-i" };
            out.push(format!("(?{flag}:{})", pattern.source));
        }
        Node::And(v) | Node::Or(v) => v.iter().for_each(|n| leaves(n, out)),
        Node::Not(n) => leaves(n, out),
    }
}

fn eval(n: &Node, hit: &[bool], next: &mut usize) -> bool {
    match n {
        Node::Term { .. } | Node::Near { .. } | Node::Regex { .. } => {
            let v = hit.get(*next).copied().unwrap_or(false);
            *next += 1;
            v
        }
        // No short-circuit: every leaf must consume its index.
        Node::And(v) => v
            .iter()
            .map(|n| eval(n, hit, next))
            .fold(true, |a, b| a & b),
        Node::Or(v) => v
            .iter()
            .map(|n| eval(n, hit, next))
            .fold(false, |a, b| a | b),
        Node::Not(n) => !eval(n, hit, next),
    }
}

impl NaiveRule {
    pub fn new(q: &Query) -> Option<NaiveRule> {
        let mut parts = Vec::new();
        leaves(q.root(), &mut parts);
        let alts: Vec<String> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| format!("(?P<t{i}>{p})"))
            .collect();
        let regex = RegexBuilder::new(&format!("(?i){}", alts.join("|")))
            .size_limit(16 << 20)
            .build()
            .ok()?;
        let groups = (0..parts.len())
            .map(|i| {
                let name = format!("t{i}");
                regex.capture_names().position(|n| n == Some(name.as_str()))
            })
            .collect::<Option<Vec<usize>>>()?;
        Some(NaiveRule {
            regex,
            root: q.root().clone(),
            groups,
        })
    }

    pub fn matches(&self, text: &str) -> bool {
        let mut hit = vec![false; self.groups.len()];
        for caps in self.regex.captures_iter(text) {
            for (h, &g) in hit.iter_mut().zip(&self.groups) {
                if !*h && caps.get(g).is_some() {
                    *h = true;
                }
            }
        }
        eval(&self.root, &hit, &mut 0)
    }
}

/// The text the naive baseline searches: the default fields joined.
pub fn naive_text(item: &NewsItem) -> String {
    let mut s = format!("{}\n{}", item.title, item.summary);
    for c in &item.categories {
        s.push('\n');
        s.push_str(c);
    }
    s
}
