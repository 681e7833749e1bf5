//! All rules compiled together into one word index.
//!
//! Every folded word and `NEAR` operand of every rule is a *unit* in one table of word
//! keys (behind a bit filter), every prefix a unit in a table keyed by its first
//! letters, and every phrase a unit through one pair of its consecutive words. A
//! document is folded and split into words once per field value
//! ([`crate::text::FoldedText`]) and each word is looked up once, recording where each
//! unit occurred. A rule is evaluated only when a unit of its *trigger set* occurred
//! (see [`trigger`]: for `A AND B` only the rarer-looking operand's units), and a regex
//! only runs when one of its required literals occurs; phrases and `NEAR` are verified
//! from the recorded positions. Skipping the other rules is sound because a rule
//! cannot be true unless a unit of its trigger set occurs, and the parser rejects any
//! query that is true when none of its terms occur.

mod build;
mod eval;
mod index;
mod literals;
mod scan;
mod trigger;

use std::collections::HashMap;

use build::{Builder, group_regexes, literal_automaton};
use std::fmt;
use std::sync::Mutex;

use regex::{Regex, RegexSet};

use super::{Document, Query, RuleMatch};
use index::{FastMap, NONE, PairIndex, PrefixIndex, WordIndex};
use literals::LiteralAutomaton;
use scan::Scratch;
use trigger::{Triggers, UnitCost};

/// A term reduced to units.
#[derive(Debug, Clone)]
enum Operand {
    Word(u32),
    Prefix(u32),
    /// A phrase: the unit of one pair of consecutive words of it (see
    /// [`index::PairIndex`]; its occurrences are recorded at the pair's first word),
    /// the index of that word in the phrase, and every word folded, compared with the
    /// item's words around each occurrence of the pair. No word of a phrase is in the
    /// word index for the phrase's sake: `"Japarov in"` does not make every `in` of
    /// every item into a lookup, nor wake the rule.
    Phrase {
        pair_unit: u32,
        pair_at: usize,
        words: Box<[Box<[u8]>]>,
    },
}

/// A rule compiled against the unit tables. `mask` is the set of fields looked at.
#[derive(Debug, Clone)]
enum Expr {
    Term {
        op: Operand,
        mask: u8,
    },
    Near {
        a: Operand,
        b: Operand,
        distance: u32,
        mask: u8,
    },
    Regex(u32),
    And(Box<[Expr]>),
    Or(Box<[Expr]>),
    Not(Box<Expr>),
}

#[derive(Debug, Clone)]
struct RegexTerm {
    regex: Regex,
    mask: u8,
    /// The group that evaluates it together with the other regexes on the same fields.
    group: u32,
    /// With required literals: the unit that occurs when one of them does (the regex
    /// runs only then). `NONE`: the regex runs for every item.
    unit: u32,
}

/// Regexes over the same fields, run as one [`RegexSet`] so each field value is scanned
/// once for all of them. `set` is `None` when the union is too large to build; the
/// members then run one by one.
#[derive(Debug, Clone)]
struct RegexGroup {
    mask: u8,
    set: Option<RegexSet>,
    members: Vec<u32>,
}

/// All rules compiled together: each document's text is scanned once, and only rules
/// whose terms occurred are evaluated.
pub struct RuleSet {
    rules: Vec<Expr>,
    words: WordIndex,
    prefixes: PrefixIndex,
    /// Word pairs of phrases.
    pairs: PairIndex,
    /// Unit → the rules it triggers (see [`trigger`]), ascending.
    unit_rules: Vec<Box<[u32]>>,
    /// Rules without a trigger set (one needs a regex that runs on every item):
    /// evaluated for every item.
    always_rules: Vec<u32>,
    /// All prefiltered regexes' literals, ASCII case-insensitively.
    literals: Option<LiteralAutomaton>,
    /// Literal pattern → the units of the regexes that require it.
    literal_units: Vec<Box<[u32]>>,
    /// Fields a prefiltered regex looks at: the automaton runs over these.
    literal_fields: u8,
    regexes: Vec<RegexTerm>,
    regex_groups: Vec<RegexGroup>,
    /// Fields some rule looks at; the others are not even tokenized.
    fields: u8,
    /// Fields some phrase looks at: only their words are kept for verification.
    phrase_fields: u8,
    /// Per-document working memory, reused across calls (and threads).
    pool: Mutex<Vec<Scratch>>,
}

impl RuleSet {
    pub fn new(queries: &[&Query]) -> RuleSet {
        let mut b = Builder {
            words: FastMap::default(),
            prefixes: FastMap::default(),
            pairs: FastMap::default(),
            unit_rules: Vec::new(),
            unit_weights: Vec::new(),
            regex_ids: HashMap::new(),
            regexes: Vec::new(),
            regex_sources: Vec::new(),
            literals: Vec::new(),
            literal_fields: 0,
            fields: 0,
            phrase_fields: 0,
            rule: 0,
            word_rules: build::word_rules(queries.iter().map(|q| q.root())),
        };
        let mut rules = Vec::with_capacity(queries.len());
        for (i, q) in queries.iter().enumerate() {
            b.rule = i as u32;
            rules.push(b.compile(q.root()));
        }
        let words = WordIndex::new(b.words.iter().map(|(w, &v)| (&**w, v)));
        let prefixes = PrefixIndex::new(b.prefixes.iter().map(|(p, &u)| (&**p, u)));
        let pairs = PairIndex::new(b.pairs.iter().map(|((x, y), &u)| (&**x, &**y, u)));
        let (literals, literal_units) = literal_automaton(std::mem::take(&mut b.literals));
        if literals.is_none() {
            // No automaton to find the literals: those regexes run for every item.
            for r in &mut b.regexes {
                r.unit = NONE;
            }
        }
        let costs: Vec<UnitCost> = b
            .unit_rules
            .iter()
            .zip(&b.unit_weights)
            .map(|(r, &weight)| UnitCost {
                shares: r.len() as u32,
                weight,
            })
            .collect();
        let regex_units: Vec<u32> = b.regexes.iter().map(|r| r.unit).collect();
        let triggers = Triggers {
            costs: &costs,
            regex_units: &regex_units,
        };
        let mut unit_rules: Vec<Vec<u32>> = vec![Vec::new(); costs.len()];
        let mut always_rules = Vec::new();
        for (i, e) in rules.iter().enumerate() {
            match triggers.of(e) {
                Some(units) => {
                    for u in units {
                        if let Some(r) = unit_rules.get_mut(u as usize) {
                            r.push(i as u32);
                        }
                    }
                }
                None => always_rules.push(i as u32),
            }
        }
        let regex_groups = group_regexes(&mut b.regexes, &b.regex_sources);
        RuleSet {
            regex_groups,
            rules,
            words,
            prefixes,
            pairs,
            unit_rules: unit_rules.into_iter().map(Vec::into_boxed_slice).collect(),
            always_rules,
            literals,
            literal_units,
            literal_fields: b.literal_fields,
            regexes: b.regexes,
            fields: b.fields,
            phrase_fields: b.phrase_fields,
            pool: Mutex::new(Vec::new()),
        }
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules that match `doc`, among those for which `applies(rule index)` is true,
    /// in rule order.
    pub fn matches(&self, doc: &Document<'_>, applies: &dyn Fn(usize) -> bool) -> Vec<RuleMatch> {
        if self.rules.is_empty() {
            return Vec::new();
        }
        let mut sc = self
            .pool
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_else(|| self.new_scratch());
        let out = self.run(&mut sc, doc, applies);
        sc.reset();
        if let Ok(mut p) = self.pool.lock() {
            p.push(sc);
        }
        out
    }

    /// The indices of the rules that match `doc`, for tests.
    #[cfg(test)]
    pub(crate) fn matching_rules(&self, doc: &Document<'_>) -> Vec<usize> {
        self.matches(doc, &|_| true)
            .iter()
            .map(|m| m.rule)
            .collect()
    }

    /// For benchmarks: (words scanned, occurrences recorded, candidate rules) for `doc`.
    #[doc(hidden)]
    pub fn scan_stats(&self, doc: &Document<'_>) -> (usize, usize, usize) {
        let mut sc = self.new_scratch();
        let n = self.run(&mut sc, doc, &|_| false).len();
        debug_assert_eq!(n, 0);
        (sc.span_at.len(), sc.occ.len(), sc.cand_list.len())
    }

    fn run(
        &self,
        sc: &mut Scratch,
        doc: &Document<'_>,
        applies: &dyn Fn(usize) -> bool,
    ) -> Vec<RuleMatch> {
        self.scan(sc, doc);
        for i in 0..sc.touched.len() {
            let u = sc.touched[i];
            for &r in self.unit_rules[u as usize].iter() {
                sc.mark(r);
            }
        }
        for &r in &self.always_rules {
            sc.mark(r);
        }
        sc.order_candidates();
        let cands = std::mem::take(&mut sc.cand_list);
        let mut out = Vec::new();
        for (k, &r) in cands.iter().enumerate() {
            let Some(expr) = self.rules.get(r as usize) else {
                continue;
            };
            if !applies(r as usize) {
                continue;
            }
            let mut cx = eval::Ctx {
                set: self,
                sc: &mut *sc,
                doc,
            };
            if cx.eval(expr) {
                // Usually one allocation: no more rules can match than are left.
                if out.is_empty() {
                    out.reserve_exact((cands.len() - k).min(16));
                }
                out.push(RuleMatch {
                    rule: r as usize,
                    matched: cx.matched(expr),
                });
            }
        }
        sc.cand_list = cands;
        out
    }

    /// An estimate of the memory held by the compiled set, in bytes. Regexes are
    /// counted at a flat 16 KiB each (twice when also in a set): their internals are not
    /// measurable from outside.
    pub fn heap_bytes(&self) -> usize {
        let map = self.words.heap_bytes();
        let units = self.unit_rules.len() * (16 + 5)
            + self.unit_rules.iter().map(|r| r.len() * 4).sum::<usize>();
        let rules: usize = self.rules.iter().map(expr_bytes).sum();
        let sets: usize = self
            .regex_groups
            .iter()
            .filter(|g| g.set.is_some())
            .map(|g| g.members.len() * 16 * 1024)
            .sum();
        let literals = self
            .literals
            .as_ref()
            .map_or(0, LiteralAutomaton::heap_bytes)
            + self
                .literal_units
                .iter()
                .map(|u| 16 + u.len() * 4)
                .sum::<usize>();
        map + units
            + rules
            + self.prefixes.heap_bytes()
            + self.pairs.heap_bytes()
            + self.regexes.len() * 16 * 1024
            + sets
            + literals
    }
}

fn expr_bytes(e: &Expr) -> usize {
    let own = std::mem::size_of::<Expr>();
    let op = |o: &Operand| match o {
        Operand::Phrase { words, .. } => words.iter().map(|w| w.len() + 16).sum(),
        _ => 0,
    };
    own + match e {
        Expr::Term { op: o, .. } => op(o),
        Expr::Near { a, b, .. } => op(a) + op(b),
        Expr::Regex(_) => 0,
        Expr::And(v) | Expr::Or(v) => v.iter().map(expr_bytes).sum(),
        Expr::Not(n) => expr_bytes(n),
    }
}

// One set is shared by reference between the runtime's worker threads; the scratch
// pool is behind a mutex, so matching from several threads at once is fine.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<RuleSet>();
};

impl Default for RuleSet {
    fn default() -> RuleSet {
        RuleSet::new(&[])
    }
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.len())
            .field("units", &self.unit_rules.len())
            .field("regexes", &self.regexes.len())
            .field("regex_groups", &self.regex_groups.len())
            .field("regex_literals", &self.literal_units.len())
            .finish()
    }
}
