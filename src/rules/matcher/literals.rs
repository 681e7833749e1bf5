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
//! the Kelvin sign for `k`, are in the set: the prefilter is sound by construction and
//! never looks at folded text. ASCII case variants are merged because the automaton
//! matches ASCII case-insensitively.
//!
//! A regex has no usable set (and is run on every item) when some match can avoid every
//! literal of 3 bytes or more, e.g. `/\d+/`, `/a.*b/` (`a` is too short), or when the set
//! would need more than [`MAX_LITERALS`] strings.

use regex_syntax::ParserBuilder;
use regex_syntax::hir::literal::{Extractor, Seq};
use regex_syntax::hir::{Hir, HirKind};

/// Shortest literal worth prefiltering on: shorter ones occur in nearly every item.
pub(super) const MIN_LITERAL: usize = 3;

/// Most literals one regex may contribute.
pub(super) const MAX_LITERALS: usize = 32;

/// The literals every match of `source` contains one of (ASCII-lowercased, sorted,
/// deduplicated), or `None` when there is no usable set.
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

/// Lowercases ASCII, deduplicates, and rejects sets that would not filter anything.
fn normalize(mut lits: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    for l in &mut lits {
        l.make_ascii_lowercase();
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
            ("Лавр", false, Some(&["Лавр"])),
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
                let m = re.find(t).map(|m| m.as_str().to_ascii_lowercase());
                let Some(m) = m else {
                    panic!("/{src}/ does not match {t:?}")
                };
                assert!(
                    set.iter()
                        .any(|l| m.as_bytes().windows(l.len()).any(|w| w == l)),
                    "/{src}/ match {m:?} contains none of {set:?}"
                );
            }
        }
    }
}
