//! Compiling queries into the unit tables of a [`super::RuleSet`].

use std::collections::HashMap;

use regex::RegexSetBuilder;

use super::index::{FastMap, NONE};
use super::literals::{LiteralAutomaton, required_literals};
use super::trigger::{PAIR_WEIGHT, REGEX_WEIGHT, word_weight};
use super::{Expr, Operand, RegexGroup, RegexTerm};
use crate::rules::ast::{Field, Node, Term};

pub(super) struct Builder {
    pub(super) words: FastMap<Box<str>, u32>,
    /// Folded prefix → its unit.
    pub(super) prefixes: FastMap<Box<str>, u32>,
    /// Phrase word pair (folded) → its unit.
    pub(super) pairs: FastMap<(Box<str>, Box<str>), u32>,
    /// Unit → the rules containing it (triggering or not), for the rarity estimate.
    pub(super) unit_rules: Vec<Vec<u32>>,
    /// Unit → its weight in the rarity estimate (see [`super::trigger::UnitCost`]).
    pub(super) unit_weights: Vec<f32>,
    pub(super) regex_ids: HashMap<(String, bool, u8), u32>,
    pub(super) regexes: Vec<RegexTerm>,
    /// Each regex as one pattern with its flag inline, for the sets.
    pub(super) regex_sources: Vec<String>,
    /// Required literals of prefiltered regexes, each with the regex's unit.
    pub(super) literals: Vec<(Vec<u8>, u32)>,
    pub(super) literal_fields: u8,
    pub(super) fields: u8,
    pub(super) phrase_fields: u8,
    pub(super) rule: u32,
    /// Folded word → how many rules mention it (as a word, in a phrase or a `NEAR`):
    /// a phrase is woken through the pair holding its least shared word.
    pub(super) word_rules: FastMap<Box<str>, u32>,
}

/// How many of `roots` mention each word, counting each rule once per word.
pub(super) fn word_rules<'a>(roots: impl IntoIterator<Item = &'a Node>) -> FastMap<Box<str>, u32> {
    fn visit<'a>(n: &'a Node, out: &mut Vec<&'a str>) {
        let term = |t: &'a Term, out: &mut Vec<&'a str>| match t {
            Term::Word(w) => out.push(w),
            Term::Phrase(ws) => out.extend(ws.iter().map(String::as_str)),
            Term::Prefix(_) => {}
        };
        match n {
            Node::Term { term: t, .. } => term(t, out),
            Node::Near { left, right, .. } => {
                term(left, out);
                term(right, out);
            }
            Node::Regex { .. } => {}
            Node::And(v) | Node::Or(v) => v.iter().for_each(|c| visit(c, out)),
            Node::Not(c) => visit(c, out),
        }
    }
    let mut counts: FastMap<Box<str>, u32> = FastMap::default();
    let mut words = Vec::new();
    for root in roots {
        words.clear();
        visit(root, &mut words);
        words.sort_unstable();
        words.dedup();
        for w in &words {
            *counts.entry((*w).into()).or_default() += 1;
        }
    }
    counts
}

impl Builder {
    fn new_unit(&mut self, weight: f32) -> u32 {
        self.unit_rules.push(Vec::new());
        self.unit_weights.push(weight);
        (self.unit_rules.len() - 1) as u32
    }

    fn note(&mut self, unit: u32) -> u32 {
        let rules = &mut self.unit_rules[unit as usize];
        if rules.last() != Some(&self.rule) {
            rules.push(self.rule);
        }
        unit
    }

    /// The unit of word `w`: its occurrences are recorded, and may trigger its rules.
    fn word(&mut self, w: &str) -> u32 {
        let unit = match self.words.get(w) {
            Some(&u) => u,
            None => {
                let u = self.new_unit(word_weight(w, false));
                self.words.insert(w.into(), u);
                u
            }
        };
        self.note(unit)
    }

    fn pair(&mut self, a: &str, b: &str) -> u32 {
        let key = (Box::<str>::from(a), Box::<str>::from(b));
        let unit = match self.pairs.get(&key) {
            Some(&u) => u,
            None => {
                let u = self.new_unit(PAIR_WEIGHT);
                self.pairs.insert(key, u);
                u
            }
        };
        self.note(unit)
    }

    fn prefix(&mut self, p: &str) -> u32 {
        let unit = match self.prefixes.get(p) {
            Some(&u) => u,
            None => {
                // An empty prefix (only in hand-built trees) gets a unit that never
                // occurs: the index leaves it out.
                let u = self.new_unit(word_weight(p, true));
                self.prefixes.insert(p.into(), u);
                u
            }
        };
        self.note(unit)
    }

    fn operand(&mut self, t: &Term) -> Operand {
        match t {
            Term::Word(w) => Operand::Word(self.word(w)),
            Term::Prefix(p) => Operand::Prefix(self.prefix(p)),
            Term::Phrase(ws) => {
                // The pair that wakes the phrase and that it is verified from: the one
                // holding the word fewest rules share (a name rather than
                // `government`), common and short words last, then the longest.
                let cost = |w: &String| {
                    let shares = self.word_rules.get(w.as_str()).copied().unwrap_or(1);
                    shares.max(1) as f32 * word_weight(w, false)
                };
                let mut rarest = 0;
                for (i, w) in ws.iter().enumerate() {
                    let (c, best) = (cost(w), cost(&ws[rarest]));
                    if c < best || (c == best && w.len() > ws[rarest].len()) {
                        rarest = i;
                    }
                }
                let pair_at = rarest.min(ws.len().saturating_sub(2));
                let pair_unit = match (ws.get(pair_at), ws.get(pair_at + 1)) {
                    (Some(a), Some(b)) => self.pair(a, b),
                    // One word (only in hand-built trees): as a word.
                    (Some(a), None) => self.word(a),
                    _ => self.new_unit(PAIR_WEIGHT),
                };
                Operand::Phrase {
                    pair_unit,
                    pair_at,
                    words: ws.iter().map(|w| w.as_bytes().into()).collect(),
                }
            }
        }
    }

    pub(super) fn compile(&mut self, n: &Node) -> Expr {
        match n {
            Node::Term { field, term } => {
                let mask = Field::mask(*field);
                self.fields |= mask;
                if matches!(term, Term::Phrase(_)) {
                    self.phrase_fields |= mask;
                }
                Expr::Term {
                    op: self.operand(term),
                    mask,
                }
            }
            Node::Near {
                field,
                left,
                right,
                distance,
            } => {
                let mask = Field::mask(*field);
                self.fields |= mask;
                if matches!(left, Term::Phrase(_)) || matches!(right, Term::Phrase(_)) {
                    self.phrase_fields |= mask;
                }
                Expr::Near {
                    a: self.operand(left),
                    b: self.operand(right),
                    distance: *distance,
                    mask,
                }
            }
            Node::Regex { field, pattern } => {
                let mask = Field::mask(*field);
                self.fields |= mask;
                let key = (pattern.source.clone(), pattern.case_insensitive, mask);
                let next = self.regexes.len() as u32;
                let id = *self.regex_ids.entry(key).or_insert(next);
                if id == next {
                    let mut unit = NONE;
                    if let Some(lits) = required_literals(&pattern.source, pattern.case_insensitive)
                    {
                        unit = self.new_unit(REGEX_WEIGHT);
                        self.literals.extend(lits.into_iter().map(|l| (l, unit)));
                        self.literal_fields |= mask;
                    }
                    self.regexes.push(RegexTerm {
                        regex: pattern.regex.clone(),
                        mask,
                        group: NONE,
                        unit,
                    });
                    self.regex_sources
                        .push(regex_source(&pattern.source, pattern.case_insensitive));
                }
                if let Some(u) = self.regexes.get(id as usize).map(|r| r.unit)
                    && u != NONE
                {
                    self.note(u);
                }
                Expr::Regex(id)
            }
            Node::And(v) => Expr::And(v.iter().map(|n| self.compile(n)).collect()),
            Node::Or(v) => Expr::Or(v.iter().map(|n| self.compile(n)).collect()),
            Node::Not(n) => Expr::Not(Box::new(self.compile(n))),
        }
    }
}

fn regex_source(source: &str, case_insensitive: bool) -> String {
    if case_insensitive {
        format!("(?i:{source})")
    } else {
        format!("(?:{source})")
    }
}

/// Largest compiled size of one group's union of regexes.
const REGEX_SET_LIMIT: usize = 64 << 20;

pub(super) fn group_regexes(regexes: &mut [RegexTerm], sources: &[String]) -> Vec<RegexGroup> {
    let mut by_mask: std::collections::BTreeMap<u8, Vec<u32>> = Default::default();
    // Prefiltered regexes run one by one, on the few items that contain their literals.
    for (i, r) in regexes.iter().enumerate().filter(|(_, r)| r.unit == NONE) {
        by_mask.entry(r.mask).or_default().push(i as u32);
    }
    let mut groups = Vec::new();
    for (mask, members) in by_mask {
        let set = if members.len() > 1 {
            RegexSetBuilder::new(members.iter().filter_map(|&m| sources.get(m as usize)))
                .size_limit(REGEX_SET_LIMIT)
                .dfa_size_limit(crate::rules::REGEX_SIZE_LIMIT * 8)
                .build()
                .ok()
        } else {
            None
        };
        let g = groups.len() as u32;
        for &m in &members {
            if let Some(r) = regexes.get_mut(m as usize) {
                r.group = g;
            }
        }
        groups.push(RegexGroup { mask, set, members });
    }
    groups
}

/// A literal's regex units, and whether every literal it stands for holds a character
/// other than ASCII and basic Cyrillic (so it can only occur in a value that has one).
struct LiteralUnits {
    units: Vec<u32>,
    rare: bool,
}

/// Replaces every literal that contains another literal by the shorter one (the
/// shorter one occurs wherever the longer does, so its regexes still get found): a
/// smaller automaton, and fewer reports for the same occurrence. The shorter one is
/// rare only if both were: in the compact form a rare character's bytes can spell
/// two Cyrillic letters (`ſ` is `хп`), so a plain literal can contain a rare one, and
/// its regexes must not move to a search that values without rare characters skip.
fn drop_containing(
    mut by_literal: std::collections::BTreeMap<Vec<u8>, LiteralUnits>,
) -> std::collections::BTreeMap<Vec<u8>, LiteralUnits> {
    let mut by_len: Vec<Vec<u8>> = by_literal.keys().cloned().collect();
    by_len.sort_by_key(|l| std::cmp::Reverse(l.len()));
    for (i, long) in by_len.iter().enumerate() {
        let inner = by_len[i + 1..]
            .iter()
            .find(|s| s.len() < long.len() && long.windows(s.len()).any(|w| w == &s[..]));
        if let Some(inner) = inner
            && let Some(moved) = by_literal.remove(long)
        {
            let into = by_literal
                .entry(inner.clone())
                .or_insert_with(|| LiteralUnits {
                    units: Vec::new(),
                    rare: true,
                });
            into.units.extend(moved.units);
            into.rare &= moved.rare;
        }
    }
    for l in by_literal.values_mut() {
        l.units.sort_unstable();
        l.units.dedup();
    }
    by_literal
}

/// One automaton over all prefiltered regexes' literals, and the regex units of each
/// of its patterns. `None` when no regex has literals or the automaton cannot be built.
pub(super) fn literal_automaton(
    literals: Vec<(Vec<u8>, u32)>,
) -> (Option<LiteralAutomaton>, Vec<Box<[u32]>>) {
    let mut by_literal: std::collections::BTreeMap<Vec<u8>, LiteralUnits> = Default::default();
    for (l, u) in literals {
        // The search runs over each value's compact form.
        let rare = crate::text::has_other(&l);
        let entry = by_literal
            .entry(crate::text::compact_literal(&l))
            .or_insert(LiteralUnits {
                units: Vec::new(),
                rare: true,
            });
        entry.units.push(u);
        entry.rare &= rare;
    }
    if by_literal.is_empty() {
        return (None, Vec::new());
    }
    let by_literal = drop_containing(by_literal);
    let patterns: Vec<&[u8]> = by_literal.keys().map(Vec::as_slice).collect();
    let rare: Vec<bool> = by_literal.values().map(|l| l.rare).collect();
    let ac = LiteralAutomaton::with_rare(&patterns, &rare);
    let units = by_literal
        .into_values()
        .map(|l| l.units.into_boxed_slice())
        .collect();
    (ac, units)
}
