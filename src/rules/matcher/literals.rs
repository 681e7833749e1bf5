//! Required literals of a regex: a small set of byte strings such that every match of
//! the regex contains one of them. The matcher runs one Aho-Corasick automaton over
//! all regexes' literals and runs a regex only on items where one of its literals
//! occurs.
//!
//! The sets come from `regex_syntax`'s prefix [`Extractor`] applied to the regex and to
//! every sub-expression that any match must contain (each part of a concatenation, the
//! body of a `+` repetition, all branches of an alternation), so a regex like
//! `/\w+ Tokarov/` still gets `" tokarov"`. They are computed on the regex's own parse
//! (with its case-insensitivity), so `(?i)` case variants, including non-ASCII ones like
//! the Kelvin sign for `k`, are in the set. The literals are then folded exactly as the
//! scan folds each field value (ASCII and basic Cyrillic lowercased, character by
//! character, see [`crate::text::FoldedText`]), and the search runs over that folded
//! copy: a match of the regex contains a literal, so the folded copy contains the
//! folded literal, and the prefilter stays sound. Folding merges case variants (the
//! 216 of `(?i)Лавров` are 8 after it), so sets stay small enough for the vectorised
//! search.
//!
//! A regex has no usable set (and is run on every item) when some match can avoid every
//! literal of 3 bytes or more, e.g. `/\d+/`, `/a.*b/` (`a` is too short), or when the set
//! would need more than [`MAX_LITERALS`] strings.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::nfa::contiguous;
use aho_corasick::{Anchored, MatchKind, Span, dfa, packed};
use regex_syntax::ParserBuilder;
use regex_syntax::hir::literal::{Extractor, Seq};
use regex_syntax::hir::{Hir, HirKind};

use crate::text::fold_literal;

/// Shortest literal worth prefiltering on: shorter ones occur in nearly every item.
pub(super) const MIN_LITERAL: usize = 3;

/// Most literals one regex may contribute.
pub(super) const MAX_LITERALS: usize = 32;

/// The literals every match of `source` contains one of (folded as the scan folds
/// text, sorted, deduplicated), or `None` when there is no usable set.
pub(super) fn required_literals(source: &str, case_insensitive: bool) -> Option<Vec<Vec<u8>>> {
    // The same syntax options as the `regex` crate's defaults, plus the rule's flag.
    let hir = ParserBuilder::new()
        .case_insensitive(case_insensitive)
        .build()
        .parse(source)
        .ok()?;
    best(&hir, 0)
}

/// Sub-expressions nested deeper than this are not searched for better sets (the
/// parser's own nesting limit keeps this finite anyway; this keeps it cheap).
const MAX_DEPTH: usize = 16;

fn best(hir: &Hir, depth: usize) -> Option<Vec<Vec<u8>>> {
    let mut best = prefix_set(hir);
    if depth >= MAX_DEPTH {
        return best;
    }
    let mut consider = |cand: Option<Vec<Vec<u8>>>| {
        if let Some(c) = cand
            && best.as_ref().is_none_or(|b| score(&c) > score(b))
        {
            best = Some(c);
        }
    };
    match hir.kind() {
        HirKind::Capture(c) => consider(best_of(&c.sub, depth)),
        HirKind::Repetition(r) if r.min >= 1 => consider(best_of(&r.sub, depth)),
        HirKind::Concat(parts) => {
            for p in parts {
                consider(best_of(p, depth));
            }
        }
        HirKind::Alternation(branches) => {
            let mut all = Vec::new();
            for b in branches {
                all.extend(best_of(b, depth)?);
            }
            consider(normalize(all));
        }
        _ => {}
    }
    best
}

fn best_of(hir: &Hir, depth: usize) -> Option<Vec<Vec<u8>>> {
    best(hir, depth + 1)
}

/// Every match of `hir` starts with one of these (when the sequence is finite).
fn prefix_set(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let seq: Seq = Extractor::new().extract(hir);
    let lits = seq.literals()?;
    normalize(lits.iter().map(|l| l.as_bytes().to_vec()).collect())
}

/// Folds (as the scan folds text), deduplicates, and rejects sets that would not
/// filter anything.
fn normalize(mut lits: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    for l in &mut lits {
        fold_literal(l);
    }
    lits.sort_unstable();
    lits.dedup();
    // Too many (case variants of a long non-ASCII word, typically): shorter prefixes of
    // the same literals are still contained in every match and have fewer variants.
    let longest = lits.iter().map(Vec::len).max().unwrap_or(0);
    for keep in (MIN_LITERAL..longest).rev() {
        if lits.len() <= MAX_LITERALS {
            break;
        }
        for l in &mut lits {
            l.truncate(keep);
        }
        lits.dedup();
    }
    let usable = !lits.is_empty()
        && lits.len() <= MAX_LITERALS
        && lits.iter().all(|l| l.len() >= MIN_LITERAL);
    usable.then_some(lits)
}

/// Higher is a better filter: longer shortest literal (up to 8 bytes, beyond which
/// length hardly matters), then fewer literals.
fn score(lits: &[Vec<u8>]) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = lits.iter().map(Vec::len).min().unwrap_or(0);
    (shortest.min(8), std::cmp::Reverse(lits.len()))
}

/// One automaton over all prefiltered regexes' (folded) literals, reporting every
/// occurrence of every literal (overlapping ones too) in a single pass over a folded
/// field value.
///
/// With few literals (a few dozen: the usual handful of regex rules) the pass is a
/// vectorised Teddy search, which skips most bytes 16 or 32 at a time. Otherwise it is a plain loop over the automaton's
/// transitions: one table read per byte and one comparison, with no per-match
/// restart and no prefilter (with many literals none applies, and checking for one
/// costs per byte).
#[derive(Debug, Clone)]
pub(super) enum LiteralAutomaton {
    /// Few literals, on a machine with the vector instructions Teddy needs.
    Packed(Packed),
    /// The usual form for many literals: a full transition table.
    Dfa(dfa::DFA),
    /// When the table would be too large to build.
    Nfa(contiguous::NFA),
}

/// The Teddy form: the searcher finds the next position where some literal starts,
/// and every literal is then compared there, so overlapping occurrences and
/// literals that share a start are all reported.
#[derive(Debug, Clone)]
pub(super) struct Packed {
    searcher: packed::Searcher,
    /// The literals, in pattern order.
    literals: Vec<Vec<u8>>,
}

impl LiteralAutomaton {
    /// The automaton of `literals` (pattern i is `literals[i]`, folded as
    /// [`required_literals`] returns them), or `None` when no form can be built.
    pub(super) fn new(literals: &[&[u8]]) -> Option<LiteralAutomaton> {
        if let Some(p) = Packed::new(literals) {
            return Some(LiteralAutomaton::Packed(p));
        }
        LiteralAutomaton::table(literals)
    }

    /// The transition-table forms only (for tests comparing the two searches).
    pub(super) fn table(literals: &[&[u8]]) -> Option<LiteralAutomaton> {
        let built = dfa::DFA::builder()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .start_kind(aho_corasick::StartKind::Unanchored)
            .build(literals);
        if let Ok(d) = built {
            return Some(LiteralAutomaton::Dfa(d));
        }
        contiguous::NFA::builder()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(literals)
            .ok()
            .map(LiteralAutomaton::Nfa)
    }

    /// Calls `found(pattern)` for every occurrence of a literal in `text`, a folded
    /// field value ([`crate::text::FoldedText::bytes`]).
    #[inline]
    pub(super) fn for_each_match(&self, text: &[u8], found: impl FnMut(usize)) {
        match self {
            LiteralAutomaton::Packed(p) => p.for_each_match(text, found),
            LiteralAutomaton::Dfa(a) => scan_all(a, text, found),
            LiteralAutomaton::Nfa(a) => scan_all(a, text, found),
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            LiteralAutomaton::Packed(p) => {
                p.searcher.memory_usage() + p.literals.iter().map(Vec::len).sum::<usize>()
            }
            LiteralAutomaton::Dfa(a) => a.memory_usage(),
            LiteralAutomaton::Nfa(a) => a.memory_usage(),
        }
    }
}

impl Packed {
    /// Most literals given to Teddy: past this its buckets fill and it verifies often.
    const MAX: usize = 48;

    fn new(literals: &[&[u8]]) -> Option<Packed> {
        if literals.is_empty() || literals.len() > Packed::MAX {
            return None;
        }
        let searcher = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(literals)
            .build()?;
        Some(Packed {
            searcher,
            literals: literals.iter().map(|l| l.to_vec()).collect(),
        })
    }

    fn for_each_match(&self, text: &[u8], mut found: impl FnMut(usize)) {
        let mut at = 0;
        // Each find is the leftmost position at or after `at` where a literal starts.
        while let Some(m) = self.searcher.find_in(text, Span::from(at..text.len())) {
            let rest = &text[m.start()..];
            for (i, l) in self.literals.iter().enumerate() {
                if rest.starts_with(l) {
                    found(i);
                }
            }
            at = m.start() + 1;
            if at >= text.len() {
                break;
            }
        }
    }
}

/// An overlapping search: with [`MatchKind::Standard`], the state after each byte
/// lists every pattern that ends there.
#[inline]
fn scan_all(a: &impl Automaton, text: &[u8], mut found: impl FnMut(usize)) {
    // Both forms are built with an unanchored start state, so this cannot fail.
    let Ok(mut sid) = a.start_state(Anchored::No) else {
        return;
    };
    let mut at = 0;
    while at < text.len() {
        (sid, at) = run_to_special(a, text, sid, at);
        // Without a prefilter, the special states are the dead state (which an
        // unanchored search never enters) and the match states.
        if at < text.len() && a.is_match(sid) {
            for k in 0..a.match_len(sid) {
                found(a.match_pattern(sid, k).as_usize());
            }
        }
        at += 1;
    }
}

/// Steps from state `sid` through `text[at..]` until a special state is entered:
/// returns that state and the position of the byte that led to it, or `text.len()`.
///
/// The hot loop, kept apart from the match handling so that its few values stay in
/// registers (inlined into its caller they were spilled, at twice the instructions
/// per byte).
#[inline(never)]
fn run_to_special(
    a: &impl Automaton,
    text: &[u8],
    mut sid: StateID,
    at: usize,
) -> (StateID, usize) {
    for (i, &b) in text.iter().enumerate().skip(at) {
        sid = a.next_state(Anchored::No, sid, b);
        if a.is_special(sid) {
            return (sid, i);
        }
    }
    (sid, text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(source: &str, ci: bool) -> Option<Vec<String>> {
        required_literals(source, ci).map(|v| {
            v.into_iter()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .collect()
        })
    }

    #[test]
    fn literal_sets() {
        let cases: &[(&str, bool, Option<&[&str]>)] = &[
            ("Kyrgyz(stan|ia)", false, Some(&["kyrgyzia", "kyrgyzstan"])),
            ("Tokar(ov|ev)", true, Some(&["tokar", "to\u{212a}ar"])),
            (r"\w+ Tokarov", false, Some(&[" tokarov"])),
            ("(foo|bars)+x", false, Some(&["bars", "foo"])),
            ("Лавр", false, Some(&["лавр"])),
            // `в` has a third case variant, U+1C80: 2 × 2 × 3 × 2 = 24 literals.
            ("Лавр", true, Some(&[])),
            // 216 variants of the whole word: cut to prefixes with fewer variants.
            ("Лавров", true, Some(&[])),
            // No literal every match must contain, or only short ones.
            (r"\d+", false, None),
            ("a.*b", false, None),
            ("(abc)?def|x", false, None),
            ("(abc)*", false, None),
            ("", false, None),
            // Not a regex the parser accepts: no set (the rule never gets this far).
            ("(", false, None),
        ];
        for &(src, ci, want) in cases {
            let got = lits(src, ci);
            if let (Some(&[]), Some(got)) = (want, &got) {
                // Case-insensitive Cyrillic: too many to list.
                assert!(got.len() <= MAX_LITERALS, "/{src}/: {got:?}");
                assert!(got.iter().all(|l| l.len() >= 8), "/{src}/: {got:?}");
                continue;
            }
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "/{src}/ ci={ci}");
        }
    }

    /// Whatever a regex matches contains one of its literals (ASCII case aside).
    #[test]
    fn every_match_contains_a_literal() {
        let cases: &[(&str, bool, &[&str])] = &[
            (
                "Tokar(ov|ev)",
                true,
                &["TOKAROV", "Tokarev", "to\u{212a}arov"],
            ),
            (r"\w+ Tokarov", false, &["Ivan Tokarov"]),
            ("(foo|bars)+x", false, &["foobarsx", "barsx"]),
            ("Лавр", true, &["ЛАВРОВ", "лавров"]),
            ("Лавров", true, &["ЛАВРОВ", "Лавров"]),
        ];
        for &(src, ci, texts) in cases {
            let Some(set) = required_literals(src, ci) else {
                panic!("/{src}/ has no set");
            };
            let re = regex::RegexBuilder::new(src)
                .case_insensitive(ci)
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            for t in texts {
                let Some(m) = re.find(t) else {
                    panic!("/{src}/ does not match {t:?}")
                };
                let mut m = m.as_str().as_bytes().to_vec();
                fold_literal(&mut m);
                let m = String::from_utf8_lossy(&m);
                assert!(
                    set.iter()
                        .any(|l| m.as_bytes().windows(l.len()).any(|w| w == l)),
                    "/{src}/ match {m:?} contains none of {set:?}"
                );
            }
        }
    }

    /// The pattern of every occurrence the search reports, sorted.
    fn occurrences(a: &LiteralAutomaton, text: &str) -> Vec<usize> {
        let mut folded = crate::text::FoldedText::new();
        folded.fold(text);
        let mut found = Vec::new();
        a.for_each_match(folded.bytes(), |p| found.push(p));
        found.sort_unstable();
        found
    }

    #[test]
    fn the_teddy_form_is_chosen_for_few_literals_only() {
        let few: Vec<&[u8]> = vec![b"tokar", b"lavrov", "лавр".as_bytes()];
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("ssse3") {
            assert!(matches!(
                LiteralAutomaton::new(&few),
                Some(LiteralAutomaton::Packed(_))
            ));
        }
        assert!(LiteralAutomaton::new(&few).is_some());
        let many: Vec<Vec<u8>> = (0..200)
            .map(|i| format!("lit{i:03}").into_bytes())
            .collect();
        let many: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        assert!(!matches!(
            LiteralAutomaton::new(&many),
            Some(LiteralAutomaton::Packed(_))
        ));
    }

    proptest::proptest! {
        /// The Teddy search reports exactly what the automaton does: every occurrence,
        /// overlapping ones and ones sharing a start included, in any ASCII case.
        #[test]
        fn teddy_and_the_automaton_find_the_same_occurrences(
            lits in proptest::collection::btree_set("[abз]{3,5}", 1..12),
            text in "[abAB зЗ]{0,300}",
        ) {
            let lits: Vec<Vec<u8>> = lits.into_iter().map(String::into_bytes).collect();
            let refs: Vec<&[u8]> = lits.iter().map(Vec::as_slice).collect();
            let table = LiteralAutomaton::table(&refs).expect("automaton");
            // Teddy needs SSSE3 or AVX2: without them there is only the automaton.
            if let Some(packed) = Packed::new(&refs) {
                let packed = LiteralAutomaton::Packed(packed);
                proptest::prop_assert_eq!(
                    occurrences(&packed, &text),
                    occurrences(&table, &text)
                );
            }
        }
    }
}
