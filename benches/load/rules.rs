//! The R watch rules and what each plants into an item.
//!
//! Every rule has its own invented terms (four consonant-vowel syllables, Latin or
//! Cyrillic), so no two terms are prefixes of one another and none occurs in the
//! background text: an item matches a rule exactly when a positive plant of that rule was
//! put into it, which makes the expected match count exact. Negative plants are near
//! misses (one side of an AND, a phrase reversed, a title term in the body, terms too far
//! apart for NEAR, a scoped rule's term in a feed outside its scope): they cost the
//! matcher the same work and must not match.

use std::collections::HashSet;

use crate::rng::Rng;
use crate::text::{self, Lang};

const LATIN_C: &[&str] = &[
    "b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z",
];
const LATIN_V: &[&str] = &["a", "e", "i", "o", "u"];
const CYR_C: &[&str] = &[
    "б", "в", "г", "д", "з", "к", "л", "м", "н", "п", "р", "с", "т", "ф",
];
const CYR_V: &[&str] = &["а", "е", "и", "о", "у"];
const LATIN_SUFFIX: &[&str] = &["istan", "ian", "ova", "ski", "ism"];
const CYR_SUFFIX: &[&str] = &["ский", "ова", "ии", "ом", "ская"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Word,
    Phrase,
    Prefix,
    And,
    Or,
    AndNot,
    Group,
    Title,
    Near,
    RuWord,
    RuPhrase,
    RuPrefixAnd,
    RuScoped,
}

const KINDS: &[Kind] = &[
    Kind::Word,
    Kind::Phrase,
    Kind::Prefix,
    Kind::And,
    Kind::Or,
    Kind::AndNot,
    Kind::Group,
    Kind::Title,
    Kind::Near,
    Kind::RuWord,
    Kind::RuPhrase,
    Kind::RuPrefixAnd,
    Kind::RuScoped,
];

impl Kind {
    fn slug(self) -> &'static str {
        match self {
            Kind::Word => "word",
            Kind::Phrase => "phrase",
            Kind::Prefix => "prefix",
            Kind::And => "and",
            Kind::Or => "or",
            Kind::AndNot => "and-not",
            Kind::Group => "group",
            Kind::Title => "title",
            Kind::Near => "near",
            Kind::RuWord => "ru-word",
            Kind::RuPhrase => "ru-phrase",
            Kind::RuPrefixAnd => "ru-prefix-and",
            Kind::RuScoped => "ru-scoped",
        }
    }

    fn lang(self) -> Lang {
        match self {
            Kind::RuWord | Kind::RuPhrase | Kind::RuPrefixAnd | Kind::RuScoped => Lang::Ru,
            _ => Lang::En,
        }
    }

    fn term_count(self) -> usize {
        match self {
            Kind::Word | Kind::Prefix | Kind::Title | Kind::RuWord => 1,
            Kind::Or | Kind::Group | Kind::RuPrefixAnd => 3,
            _ => 2,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RuleSpec {
    pub name: String,
    pub query: String,
    /// `feeds = [...]` scope, when the rule has one.
    pub feeds: Option<Vec<String>>,
    kind: Kind,
    terms: Vec<String>,
}

/// What one rule puts into one item.
#[derive(Debug, Clone, PartialEq)]
pub struct Plant {
    /// Words put in front of the title.
    pub title: Vec<String>,
    /// Fragments each put in its own sentence of the description.
    pub body: Vec<String>,
    /// Whether the item then matches the rule.
    pub matches: bool,
}

/// Generates `count` rules, cycling through the kinds so each is equally represented.
pub fn generate(seed: u64, count: usize) -> Vec<RuleSpec> {
    let mut rng = Rng::derive(seed, 1, 0);
    let mut used = HashSet::new();
    let mut rules = Vec::with_capacity(count);
    for i in 0..count {
        let kind = KINDS.get(i % KINDS.len()).copied().unwrap_or(Kind::Word);
        let terms: Vec<String> = (0..kind.term_count())
            .map(|_| fresh_term(&mut rng, kind.lang(), &mut used))
            .collect();
        let t = |k: usize| terms.get(k).map(String::as_str).unwrap_or("");
        let query = match kind {
            Kind::Word | Kind::RuWord => t(0).to_string(),
            Kind::Phrase | Kind::RuPhrase => format!("\"{} {}\"", t(0), t(1)),
            Kind::Prefix => format!("{}*", t(0)),
            Kind::And => format!("{} AND {}", t(0), t(1)),
            Kind::Or => format!("{} OR {} OR {}", t(0), t(1), t(2)),
            Kind::AndNot => format!("{} AND NOT {}", t(0), t(1)),
            Kind::Group => format!("({} OR {}) AND {}", t(0), t(1), t(2)),
            Kind::Title => format!("title:{}", t(0)),
            Kind::Near => format!("{} NEAR/5 {}", t(0), t(1)),
            Kind::RuPrefixAnd => format!("{} AND ({}* OR {}*)", t(0), t(1), t(2)),
            Kind::RuScoped => format!("{} OR {}", t(0), t(1)),
        };
        let feeds = (kind == Kind::RuScoped).then(|| vec!["tag:ru".to_string()]);
        rules.push(RuleSpec {
            name: format!("r{i:05}-{}", kind.slug()),
            query,
            feeds,
            kind,
            terms,
        });
    }
    rules
}

/// A capitalised four-syllable word not used before. Equal length and consonant-vowel
/// syllables make the set prefix-free; [`check_against`] proves the background apart.
fn fresh_term(rng: &mut Rng, lang: Lang, used: &mut HashSet<String>) -> String {
    let (cons, vows) = match lang {
        Lang::En => (LATIN_C, LATIN_V),
        Lang::Ru => (CYR_C, CYR_V),
    };
    loop {
        let mut w = String::new();
        for _ in 0..4 {
            w.push_str(rng.pick(cons).copied().unwrap_or("k"));
            w.push_str(rng.pick(vows).copied().unwrap_or("a"));
        }
        if used.insert(w.clone()) {
            return capitalise(&w);
        }
    }
}

fn capitalise(w: &str) -> String {
    let mut chars = w.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Writes a term as a writer might: as given, lowercased or in capitals (matching ignores
/// case, so all three must match).
fn styled(rng: &mut Rng, term: &str) -> String {
    match rng.below(3) {
        0 => term.to_string(),
        1 => term.to_lowercase(),
        _ => term.to_uppercase(),
    }
}

impl RuleSpec {
    fn term(&self, k: usize) -> &str {
        self.terms.get(k).map(String::as_str).unwrap_or("")
    }

    fn suffixed(&self, rng: &mut Rng, k: usize) -> String {
        let suffixes = if self.kind.lang() == Lang::Ru {
            CYR_SUFFIX
        } else {
            LATIN_SUFFIX
        };
        format!(
            "{}{}",
            self.term(k),
            rng.pick(suffixes).copied().unwrap_or("")
        )
    }

    fn body(&self, rng: &mut Rng, frags: &[String], matches: bool) -> Plant {
        Plant {
            title: Vec::new(),
            body: frags.iter().map(|f| styled_words(rng, f)).collect(),
            matches,
        }
    }

    /// A plant meant to match. In a feed outside the rule's scope it cannot, and says so.
    pub fn positive(&self, rng: &mut Rng, feed_lang: Lang) -> Plant {
        let t = |k: usize| self.term(k).to_string();
        let and = text::conjunction(self.kind.lang());
        match self.kind {
            Kind::Word | Kind::RuWord | Kind::AndNot => self.body(rng, &[t(0)], true),
            Kind::Phrase | Kind::RuPhrase => self.body(rng, &[format!("{} {}", t(0), t(1))], true),
            Kind::Prefix => {
                let w = if rng.chance(0.2) {
                    t(0)
                } else {
                    self.suffixed(rng, 0)
                };
                self.body(rng, &[w], true)
            }
            Kind::And => self.body(rng, &[t(0), t(1)], true),
            Kind::Or => {
                let k = rng.below(3);
                self.body(rng, &[t(k)], true)
            }
            Kind::Group => {
                let k = rng.below(2);
                self.body(rng, &[t(k), t(2)], true)
            }
            Kind::Title => Plant {
                title: vec![t(0)],
                body: Vec::new(),
                matches: true,
            },
            Kind::Near => self.body(rng, &[format!("{} {and} {}", t(0), t(1))], true),
            Kind::RuPrefixAnd => {
                let k = 1 + rng.below(2);
                let w = self.suffixed(rng, k);
                self.body(rng, &[t(0), w], true)
            }
            Kind::RuScoped => {
                let k = rng.below(2);
                self.body(rng, &[t(k)], feed_lang == Lang::Ru)
            }
        }
    }

    /// A near miss that must not match, for the kinds that have one.
    pub fn negative(&self, rng: &mut Rng, feed_lang: Lang) -> Option<Plant> {
        let t = |k: usize| self.term(k).to_string();
        let plant = match self.kind {
            Kind::Word | Kind::RuWord | Kind::Prefix | Kind::Or => return None,
            Kind::Phrase | Kind::RuPhrase => self.body(rng, &[format!("{} {}", t(1), t(0))], false),
            Kind::And => {
                let k = rng.below(2);
                self.body(rng, &[t(k)], false)
            }
            Kind::AndNot => self.body(rng, &[t(0), t(1)], false),
            Kind::Group => {
                let only = if rng.chance(0.5) {
                    t(2)
                } else {
                    t(rng.below(2))
                };
                self.body(rng, &[only], false)
            }
            Kind::Title => self.body(rng, &[t(0)], false),
            Kind::Near => self.body(rng, &[t(0), t(1)], false),
            Kind::RuPrefixAnd => {
                let only = if rng.chance(0.5) {
                    t(0)
                } else {
                    self.suffixed(rng, 1)
                };
                self.body(rng, &[only], false)
            }
            Kind::RuScoped => {
                if feed_lang == Lang::Ru {
                    return None;
                }
                self.body(rng, &[t(0)], false)
            }
        };
        Some(plant)
    }
}

fn styled_words(rng: &mut Rng, fragment: &str) -> String {
    fragment
        .split(' ')
        .map(|w| styled(rng, w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks that no background word equals a term or starts with one (prefix rules use
/// whole terms as roots). Returns the offending pairs.
pub fn check_against(rules: &[RuleSpec], vocabulary: &[String]) -> Vec<(String, String)> {
    let mut bad = Vec::new();
    for rule in rules {
        for term in &rule.terms {
            let low = term.to_lowercase();
            for w in vocabulary {
                if w.starts_with(&low) {
                    bad.push((term.clone(), w.clone()));
                }
            }
        }
    }
    bad
}

#[cfg(test)]
#[path = "rules_tests.rs"]
pub mod tests;
