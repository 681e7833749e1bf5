//! Which units make a rule a candidate: its *trigger set*.
//!
//! A rule only needs evaluating when it could be true, and it can only be true when one
//! unit of its trigger set occurred. For `A AND B` either operand's units will do, so
//! the set is that of the operand that looks rarest; for `A OR B` it is the union;
//! what sits under `NOT` never triggers (unless negated again). Fewer, rarer triggers
//! mean fewer candidates: `Tokarov AND Kyrgyzstan` is no longer evaluated for every
//! item that mentions Kyrgyzstan. Evaluation itself still looks at every unit, so the
//! result is exact whichever operand is chosen.

use super::{Expr, NONE, Operand};

/// How rare a unit is expected to be; lower is rarer.
#[derive(Debug, Clone, Copy)]
pub(super) struct UnitCost {
    /// Rules containing the unit (a word shared by many rules is usually a common
    /// qualifier like a country name).
    pub(super) shares: u32,
    /// Penalty for what the unit is: short words, common words and short prefixes
    /// occur in most items.
    pub(super) weight: f32,
}

impl UnitCost {
    fn cost(self) -> f32 {
        self.shares.max(1) as f32 * self.weight
    }
}

/// Words so frequent in English and Russian news that a rule should never be woken
/// by them when it has another choice.
const COMMON: &[&str] = &[
    "the", "a", "an", "of", "in", "on", "and", "or", "to", "for", "is", "was", "with", "by", "at",
    "from", "as", "that", "this", "it", "be", "are", "has", "have", "not", "new", "в", "и", "на",
    "с", "по", "не", "что", "к", "из", "о", "за", "для", "от", "а", "как", "это", "у", "до", "во",
];

/// The weight of a word (or, with `prefix`, a prefix) unit.
pub(super) fn word_weight(w: &str, prefix: bool) -> f32 {
    let chars = w.chars().count().max(1) as f32;
    let mut weight = 1.0 + 8.0 / chars;
    if COMMON.contains(&w) {
        weight *= 64.0;
    }
    if prefix {
        // A prefix stands for many words.
        weight *= 2.0;
    }
    weight
}

/// Weight of a phrase's word pair: two words side by side are rarer than either.
pub(super) const PAIR_WEIGHT: f32 = 1.0;

/// Weight of a regex's literal unit: its literals are at least 3 bytes, but a regex
/// usually has several of them.
pub(super) const REGEX_WEIGHT: f32 = 4.0;

/// A set of units one of which must occur, and its estimated cost. `None` (in the
/// functions below) means there is no such set: the expression can have the wanted
/// value with none of its units occurring, or contains a regex that runs on every item.
struct Set {
    units: Vec<u32>,
    cost: f32,
}

pub(super) struct Triggers<'a> {
    pub(super) costs: &'a [UnitCost],
    /// Regex term → its literal unit, or NONE when it runs on every item.
    pub(super) regex_units: &'a [u32],
}

impl Triggers<'_> {
    /// The units of which one occurs whenever `e` is true, sorted and deduplicated, or
    /// `None` when the rule has to be evaluated for every item.
    pub(super) fn of(&self, e: &Expr) -> Option<Vec<u32>> {
        let mut s = self.need(e, true)?;
        s.units.sort_unstable();
        s.units.dedup();
        Some(s.units)
    }

    fn unit(&self, u: u32) -> Option<Set> {
        let cost = self.costs.get(u as usize)?.cost();
        Some(Set {
            units: vec![u],
            cost,
        })
    }

    fn operand(&self, op: &Operand) -> Option<Set> {
        match op {
            Operand::Word(u) | Operand::Prefix(u) => self.unit(*u),
            // Only the pair's occurrences are recorded, and it occurs wherever the
            // phrase does.
            Operand::Phrase { pair_unit, .. } => self.unit(*pair_unit),
        }
    }

    /// A set of units one of which occurs whenever `e` evaluates to `want`.
    fn need(&self, e: &Expr, want: bool) -> Option<Set> {
        match (e, want) {
            (Expr::Not(e), _) => self.need(e, !want),
            // A term is false when its units are absent, so nothing triggers "false".
            (Expr::Term { .. } | Expr::Near { .. } | Expr::Regex(_), false) => None,
            (Expr::Term { op, .. }, true) => self.operand(op),
            (Expr::Near { a, b, .. }, true) => cheapest([self.operand(a), self.operand(b)]),
            (Expr::Regex(id), true) => match self.regex_units.get(*id as usize) {
                Some(&u) if u != NONE => self.unit(u),
                _ => None,
            },
            // All children have the value: any one child's set will do.
            (Expr::And(v), true) | (Expr::Or(v), false) => {
                cheapest(v.iter().map(|c| self.need(c, want)))
            }
            // Some child has the value: every child's set is needed.
            (Expr::Or(v), true) | (Expr::And(v), false) => {
                let mut all = Set {
                    units: Vec::new(),
                    cost: 0.0,
                };
                for c in v.iter() {
                    let s = self.need(c, want)?;
                    all.units.extend(s.units);
                    all.cost += s.cost;
                }
                Some(all)
            }
        }
    }
}

fn cheapest(sets: impl IntoIterator<Item = Option<Set>>) -> Option<Set> {
    sets.into_iter()
        .flatten()
        .min_by(|a, b| a.cost.total_cmp(&b.cost))
}

#[cfg(test)]
mod tests {
    use crate::rules::{Document, Query, RuleSet};

    /// Rules, a title, and how many rules are candidates for it.
    const CASES: &[(&[&str], &str, usize)] = &[
        // The shared qualifier does not wake the rules that have a rarer operand.
        (
            &[
                "tokarov AND kyrgyzstan",
                "japarov AND kyrgyzstan",
                "lavrov AND kyrgyzstan",
                "kyrgyzstan",
            ],
            "News from Kyrgyzstan",
            1,
        ),
        (
            &[
                "tokarov AND kyrgyzstan",
                "japarov AND kyrgyzstan",
                "kyrgyzstan",
            ],
            "Tokarov in Kyrgyzstan",
            2,
        ),
        // Common words lose against anything else.
        (&["the AND lavrov", "the AND csto"], "the weather", 0),
        (&["(lavrov OR tokarov) AND NOT csto"], "CSTO summit", 0),
        (&["(lavrov OR tokarov) AND NOT csto"], "Tokarov", 1),
        (&["NOT NOT lavrov"], "CSTO summit", 0),
        // De Morgan: this is `lavrov AND csto`, woken by the longer word.
        (&["NOT (NOT lavrov OR NOT csto)"], "CSTO", 0),
        (&["NOT (NOT lavrov OR NOT csto)"], "Lavrov", 1),
        // A regex without literals runs on every item, but not for a rule that has
        // a word to wait for.
        (&[r"lavrov AND /\d+/"], "2024 budget", 0),
        (&[r"/\d+/ AND NOT lavrov"], "budget", 1),
        (&["lavrov NEAR/3 minister"], "the minister", 1),
        // A phrase triggers through a pair of its words, the one with its rarest.
        (&["\"visit of lavrov\" AND csto"], "CSTO visit", 0),
        (&["\"visit of lavrov\" AND csto"], "Lavrov", 0),
        (&["\"visit of lavrov\" AND csto"], "of Lavrov", 1),
        (&["\"visit of lavrov\" AND csto"], "visit of", 0),
    ];

    #[test]
    fn rules_are_candidates_only_through_their_trigger_sets() {
        for &(rules, title, want) in CASES {
            let qs: Vec<Query> = rules.iter().filter_map(|r| Query::parse(r).ok()).collect();
            assert_eq!(qs.len(), rules.len(), "{rules:?} parse");
            let refs: Vec<&Query> = qs.iter().collect();
            let set = RuleSet::new(&refs);
            let doc = Document {
                title,
                ..Document::default()
            };
            let (_, _, cands) = set.scan_stats(&doc);
            assert_eq!(cands, want, "{rules:?} on {title:?}");
        }
    }
}
