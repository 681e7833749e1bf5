//! Required literals of a regex: a small set of byte strings such that every match of
//! the regex contains one of them. The matcher searches all regexes' literals in one
//! [`LiteralAutomaton`] and runs a regex only on items where one of its literals
//! occurs.
//!
//! The sets come from `regex_syntax`'s prefix [`Extractor`] applied to the regex and to
//! every sub-expression that any match must contain (each part of a concatenation, the
//! body of a `+` repetition, all branches of an alternation), so a regex like
//! `/\w+ Tokarov/` still gets `" tokarov"`. Two sets are computed and the better
//! filter kept: one on the regex's own parse (with its case-insensitivity), whose
//! `(?i)` case variants, including non-ASCII ones like the Kelvin sign for `k`, are then
//! folded exactly as the scan folds each field value (ASCII and basic Cyrillic
//! lowercased, character by character, see [`crate::text::FoldedText`]); and one on
//! the parse folded first ([`fold_hir`]), which stays exact where the case variants
//! would be too many (`(?i)Tokar(ov|ev)`: `tokarov` and `tokarev`, not the prefix
//! `tokar` that every `Tokarenko` holds). The search runs over the folded copy of each
//! value: a match of the regex contains a literal, so the folded copy contains the
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
use regex_syntax::hir::{
    Capture, Class, ClassBytes, ClassBytesRange, ClassUnicode, ClassUnicodeRange, Hir, HirKind,
    Repetition,
};

use super::index::FastMap;
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
    let plain = best(&hir, 0);
    let folded = fold_hir(&hir).and_then(|(hir, rare)| {
        let mut set = best(&hir, 0)?;
        set.extend(rare);
        normalize(set)
    });
    match (plain, folded) {
        (Some(p), Some(f)) => Some(if score(&f) > score(&p) { f } else { p }),
        (p, f) => p.or(f),
    }
}

/// Classes of at most this many characters are replaced by their folded characters;
/// larger ones only gain the folded forms of their members.
const SMALL_CLASS: u32 = 32;

/// `hir` with every literal and small class folded as the scan folds text (a
/// case-insensitive `t` becomes the literal `t`), and the rare case variants taken out
/// of the small classes, returned apart (see [`rare_variant`]).
///
/// Folding before extracting keeps `(?i)` regexes' sets exact: `(?i)Tokar(ov|ev)` gives
/// `tokarov` and `tokarev` (and the Kelvin sign) where the case variants of the whole
/// words would be too many and get cut to `tokar`, which the item text holds in every
/// `Tokarova` and `Tokarenko` too. Sound because the scan searches the folded text: for
/// any match of `hir` that holds none of the rare characters, its folded copy is
/// matched by the result, so it holds one of the result's required literals; a match
/// that holds one holds that rare character. `None` when `hir` is not UTF-8 (the
/// byte-level forms are left to the plain extraction).
fn fold_hir(hir: &Hir) -> Option<(Hir, Vec<Vec<u8>>)> {
    if !hir.properties().is_utf8() {
        return None;
    }
    let mut rare = Vec::new();
    let folded = fold_node(hir, &mut rare, 0)?;
    rare.sort_unstable();
    rare.dedup();
    Some((folded, rare))
}

fn fold_node(hir: &Hir, rare: &mut Vec<Vec<u8>>, depth: usize) -> Option<Hir> {
    // The parser's nesting limit keeps expressions shallower than this; the bound keeps
    // the recursion finite whatever that limit is.
    if depth > 256 {
        return None;
    }
    let sub = |h: &Hir, rare: &mut Vec<Vec<u8>>| fold_node(h, rare, depth + 1).map(Box::new);
    Some(match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => hir.clone(),
        HirKind::Literal(lit) => {
            // Whole characters in a UTF-8 expression.
            std::str::from_utf8(&lit.0).ok()?;
            let mut bytes = lit.0.to_vec();
            fold_literal(&mut bytes);
            Hir::literal(bytes)
        }
        HirKind::Class(Class::Unicode(class)) => {
            Hir::class(Class::Unicode(fold_class(class, rare)))
        }
        HirKind::Class(Class::Bytes(class)) => {
            // ASCII-only here (the expression is UTF-8): fold A-Z.
            if class.ranges().iter().any(|r| r.end() >= 0x80) {
                return None;
            }
            let mut folded = class.clone();
            let mut upper = ClassBytes::new([ClassBytesRange::new(b'A', b'Z')]);
            upper.intersect(class);
            folded.union(&ClassBytes::new(upper.ranges().iter().map(|r| {
                ClassBytesRange::new(r.start().to_ascii_lowercase(), r.end().to_ascii_lowercase())
            })));
            Hir::class(Class::Bytes(folded))
        }
        HirKind::Repetition(r) => Hir::repetition(Repetition {
            sub: sub(&r.sub, rare)?,
            ..r.clone()
        }),
        HirKind::Capture(c) => Hir::capture(Capture {
            sub: sub(&c.sub, rare)?,
            ..c.clone()
        }),
        HirKind::Concat(parts) => Hir::concat(
            parts
                .iter()
                .map(|p| fold_node(p, rare, depth + 1))
                .collect::<Option<_>>()?,
        ),
        HirKind::Alternation(branches) => Hir::alternation(
            branches
                .iter()
                .map(|b| fold_node(b, rare, depth + 1))
                .collect::<Option<_>>()?,
        ),
    })
}

/// A small class: its members folded, the rare ones taken out into `rare` (unless
/// nothing else is left). A large one: itself and the folded forms of its members.
fn fold_class(class: &ClassUnicode, rare: &mut Vec<Vec<u8>>) -> ClassUnicode {
    let fold = |c: char| {
        let mut b = c.to_string().into_bytes();
        fold_literal(&mut b);
        String::from_utf8(b)
            .ok()
            .and_then(|s| s.chars().next())
            .unwrap_or(c)
    };
    let single = |c: char| ClassUnicodeRange::new(c, c);
    let size: u32 = class
        .ranges()
        .iter()
        .map(|r| u32::from(r.end()) - u32::from(r.start()) + 1)
        .sum();
    if size > SMALL_CLASS {
        // Only ASCII and U+0400..U+047F fold.
        let mut foldable = ClassUnicode::new([
            ClassUnicodeRange::new('A', 'Z'),
            ClassUnicodeRange::new('\u{400}', '\u{47F}'),
        ]);
        foldable.intersect(class);
        let mut out = class.clone();
        let chars = foldable.ranges().iter().flat_map(|r| r.start()..=r.end());
        out.union(&ClassUnicode::new(chars.map(|c| single(fold(c)))));
        return out;
    }
    let chars: Vec<char> = class
        .ranges()
        .iter()
        .flat_map(|r| r.start()..=r.end())
        .collect();
    let (odd, plain): (Vec<char>, Vec<char>) = chars.iter().partition(|&&c| is_rare(c));
    if plain.is_empty() {
        return ClassUnicode::new(chars.iter().map(|&c| single(fold(c))));
    }
    rare.extend(odd.iter().map(|c| c.to_string().into_bytes()));
    ClassUnicode::new(plain.iter().map(|&c| single(fold(c))))
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
        if let Some(c) = rare_variant(l) {
            *l = c;
        }
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
        && lits
            .iter()
            .all(|l| l.len() >= MIN_LITERAL || rare_variant(l).is_some());
    usable.then_some(lits)
}

/// The first *rare case variant* in `lit`, a whole character: one that neither ASCII
/// nor basic Cyrillic holds but whose other case is in one of them (the Kelvin sign
/// for `k`, `ſ` for `s`, the narrow Cyrillic forms U+1C80..U+1C88). A case-insensitive
/// regex lists them among its literals (`to\u{212A}ar` beside `tokar`), though text
/// hardly ever holds them; the character alone is still in every match that holds
/// the literal, and one such literal serves them all.
fn rare_variant(lit: &[u8]) -> Option<Vec<u8>> {
    let text = match std::str::from_utf8(lit) {
        Ok(t) => t,
        // Cut inside a character at the end: the whole ones before it.
        Err(e) => std::str::from_utf8(lit.get(..e.valid_up_to())?).ok()?,
    };
    text.chars()
        .find(|&c| is_rare(c))
        .map(|c| c.to_string().into_bytes())
}

/// A rare case variant (see [`rare_variant`]).
fn is_rare(c: char) -> bool {
    let plain = |c: char| c.is_ascii() || ('\u{400}'..='\u{47F}').contains(&c);
    !plain(c) && (c.to_lowercase().any(plain) || c.to_uppercase().any(plain))
}

/// Higher is a better filter: longer shortest literal, counted as searched (Cyrillic
/// letters one byte each, see [`crate::text::FoldedText::compact`]) up to 16 bytes,
/// then fewer literals. Rare case variants are left out of the length: text hardly
/// ever holds them, and values without any skip their search. Length beyond what
/// makes a literal rare still pays: the whole word `лавров` makes the regex run where
/// it matches, its stem `лавр` wherever `Лаврова` or `Лаврентьев` is.
fn score(lits: &[Vec<u8>]) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = lits
        .iter()
        .filter(|l| rare_variant(l).is_none())
        .map(|l| crate::text::compact_literal(l).len())
        .min()
        .unwrap_or(MAX_SCORED_LEN);
    (shortest.min(MAX_SCORED_LEN), std::cmp::Reverse(lits.len()))
}

/// Length beyond which a longer literal is not counted a better filter.
const MAX_SCORED_LEN: usize = 16;

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
    /// Not too many literals, on a machine with the vector instructions Teddy needs:
    /// groups of at most [`Packed::MAX`], each searched on its own.
    Packed(Box<[Packed]>),
    /// Many literals: every 4-byte window of the text hashed into a bit table of the
    /// literals' first 4 bytes; the literals shorter than that in Teddy groups.
    Windows(Windows, Box<[Packed]>),
    /// Many short literals: a full transition table.
    Dfa(dfa::DFA),
    /// When the table would be too large to build.
    Nfa(contiguous::NFA),
}

/// A Teddy searcher over a group of literals of one length class: it finds the next
/// position where the *head* of some literal (its first [`Packed::head`] bytes, as many
/// as Teddy's fingerprints look at) starts, and the literals with that head are then
/// compared there, so overlapping occurrences and literals that share a start are all
/// reported. Searching the distinct heads keeps the groups small: `tokarov` and
/// `tokarev` are one pattern.
#[derive(Debug, Clone)]
pub(super) struct Packed {
    searcher: packed::Searcher,
    /// Length of the heads Teddy searches for.
    head: usize,
    /// The group's literals, sorted, each with its pattern number in the whole set.
    literals: Vec<(Vec<u8>, usize)>,
    /// All of them can only occur in a value with a character other than ASCII and
    /// basic Cyrillic.
    rare: bool,
}

impl LiteralAutomaton {
    /// Most literals for the Teddy form: past a group or so of them, Teddy's false
    /// candidates (most literals are names, whose first letters are everywhere in
    /// text) make it slower than the transition table, measured at 200 literals in
    /// four groups (benches/matching.rs: about 13 instructions per byte against 10).
    const MAX_PACKED: usize = 64;

    /// The automaton of `literals` (pattern i is `literals[i]`, in the compact form the
    /// search runs on), or `None` when no form can be built.
    #[cfg(test)]
    pub(super) fn new(literals: &[&[u8]]) -> Option<LiteralAutomaton> {
        LiteralAutomaton::with_rare(literals, &[])
    }

    /// [`LiteralAutomaton::new`], told which literals can only occur in a value that
    /// holds a character other than ASCII and basic Cyrillic (`rare[i]` for pattern
    /// i, false where missing): the Teddy groups of those are skipped in other values.
    pub(super) fn with_rare(literals: &[&[u8]], rare: &[bool]) -> Option<LiteralAutomaton> {
        let all: Vec<(&[u8], usize)> = literals.iter().copied().zip(0..).collect();
        let rare = |i: usize| rare.get(i).copied().unwrap_or(false);
        if let Some(groups) = Packed::groups(&all, &rare) {
            return Some(LiteralAutomaton::Packed(groups));
        }
        let (long, short): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|(l, _)| l.len() >= Windows::LEN);
        if let Some(short) =
            Packed::groups(&short, &rare).or_else(|| short.is_empty().then(Box::default))
        {
            return Some(LiteralAutomaton::Windows(Windows::new(&long), short));
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

    /// Calls `found(pattern)` for every occurrence of a literal in `text`, the compact
    /// form of a folded field value ([`crate::text::FoldedText::compact`]); `other`
    /// says whether the value holds a character other than ASCII and basic Cyrillic.
    #[inline]
    pub(super) fn for_each_match(&self, text: &[u8], other: bool, mut found: impl FnMut(usize)) {
        match self {
            LiteralAutomaton::Packed(groups) => {
                for g in groups.iter().filter(|g| other || !g.rare) {
                    g.for_each_match(text, &mut found);
                }
            }
            LiteralAutomaton::Windows(long, short) => {
                long.for_each_match(text, &mut found);
                for g in short.iter().filter(|g| other || !g.rare) {
                    g.for_each_match(text, &mut found);
                }
            }
            LiteralAutomaton::Dfa(a) => scan_all(a, text, found),
            LiteralAutomaton::Nfa(a) => scan_all(a, text, found),
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            LiteralAutomaton::Packed(groups) => groups.iter().map(Packed::heap_bytes).sum(),
            LiteralAutomaton::Windows(long, short) => {
                long.heap_bytes() + short.iter().map(Packed::heap_bytes).sum::<usize>()
            }
            LiteralAutomaton::Dfa(a) => a.memory_usage(),
            LiteralAutomaton::Nfa(a) => a.memory_usage(),
        }
    }
}

impl Packed {
    /// Most literals given to one Teddy searcher: past this its buckets fill and it
    /// verifies often.
    const MAX: usize = 48;

    /// `literals` in groups of at most [`Packed::MAX`], each of literals of one length
    /// (1, 2, 3, or 4 bytes and more): Teddy looks at as many bytes of each literal as
    /// its group's shortest has, up to 4, and a group of 4-byte fingerprints finds
    /// far fewer false candidates than one a single short literal cut to 2. `None`
    /// for more than [`LiteralAutomaton::MAX_PACKED`] literals, or where Teddy cannot
    /// run.
    fn groups(literals: &[(&[u8], usize)], rare: &impl Fn(usize) -> bool) -> Option<Box<[Packed]>> {
        if literals.len() > LiteralAutomaton::MAX_PACKED {
            return None;
        }
        // Rare literals in groups of their own, which most values skip.
        let class = |i: usize| (rare(literals[i].1), literals[i].0.len().min(4));
        let mut order: Vec<usize> = (0..literals.len()).collect();
        order.sort_by_key(|&i| (class(i), i));
        let mut groups = Vec::new();
        for same in order.chunk_by(|&a, &b| class(a) == class(b)) {
            for ids in same.chunks(Packed::MAX) {
                let mut g = Packed::new(ids.iter().map(|&i| literals[i]))?;
                g.rare = ids.first().is_some_and(|&i| rare(literals[i].1));
                groups.push(g);
            }
        }
        (!groups.is_empty()).then(|| groups.into_boxed_slice())
    }

    fn heap_bytes(&self) -> usize {
        self.searcher.memory_usage()
            + self
                .literals
                .iter()
                .map(|(l, _)| l.len() + 32)
                .sum::<usize>()
    }

    fn new<'a>(literals: impl IntoIterator<Item = (&'a [u8], usize)>) -> Option<Packed> {
        let mut literals: Vec<(Vec<u8>, usize)> =
            literals.into_iter().map(|(l, i)| (l.to_vec(), i)).collect();
        literals.sort_unstable();
        let head = literals
            .iter()
            .map(|(l, _)| l.len())
            .min()?
            .min(Windows::LEN);
        let mut heads: Vec<&[u8]> = literals.iter().filter_map(|(l, _)| l.get(..head)).collect();
        heads.dedup();
        let searcher = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(heads)
            .build()?;
        Some(Packed {
            searcher,
            head,
            literals,
            rare: false,
        })
    }

    fn for_each_match(&self, text: &[u8], found: &mut impl FnMut(usize)) {
        let mut at = 0;
        // Each find is the leftmost position at or after `at` where a head starts.
        while let Some(m) = self.searcher.find_in(text, Span::from(at..text.len())) {
            let rest = &text[m.start()..];
            let head = rest.get(..self.head).unwrap_or_default();
            // The literals are sorted: those with this head are one run.
            let first = self.literals.partition_point(|(l, _)| l.as_slice() < head);
            for (l, i) in self.literals.iter().skip(first) {
                if !l.starts_with(head) {
                    break;
                }
                if rest.starts_with(l) {
                    found(*i);
                }
            }
            at = m.start() + 1;
            if at >= text.len() {
                break;
            }
        }
    }
}

/// The search for many literals of at least [`Windows::LEN`] bytes: each 4-byte window
/// of the text is hashed (one multiply) to a bit of a table holding the literals'
/// first 4 bytes, and only where the bit is set are the literals starting with those
/// bytes compared. The windows are independent of each other, so the loop runs several
/// at once, where a transition table waits for each step's load before the next; and
/// the bit table, 8 KiB, stays in the first-level cache.
#[derive(Debug, Clone)]
pub(super) struct Windows {
    /// 2^16 bits, 8 KiB: a fixed size so that the index needs no bounds check.
    bits: Box<[u64; 1024]>,
    /// A literal's first 4 bytes → the literals starting with them, with their pattern
    /// numbers.
    by_head: FastMap<u32, Box<[Numbered]>>,
}

impl Windows {
    const LEN: usize = 4;

    fn new(literals: &[(&[u8], usize)]) -> Windows {
        let mut by_head: FastMap<u32, Vec<Numbered>> = FastMap::default();
        for &(l, i) in literals {
            if let Some(h) = head(l) {
                by_head.entry(h).or_default().push((l.into(), i));
            }
        }
        let mut bits = Box::new([0u64; 1024]);
        for &h in by_head.keys() {
            let b = bit(h);
            bits[b / 64] |= 1 << (b % 64);
        }
        let by_head = by_head
            .into_iter()
            .map(|(h, v)| (h, v.into_boxed_slice()))
            .collect();
        Windows { bits, by_head }
    }

    fn for_each_match(&self, text: &[u8], found: &mut impl FnMut(usize)) {
        for (at, window) in text.windows(Windows::LEN).enumerate() {
            if let Some(h) = head(window)
                && self.has(h)
            {
                self.verify(text, at, h, found);
            }
        }
    }

    /// Whether some literal may start with the 4 bytes `h`.
    #[inline]
    fn has(&self, h: u32) -> bool {
        let b = bit(h);
        self.bits[b / 64] & (1 << (b % 64)) != 0
    }

    #[cold]
    fn verify(&self, text: &[u8], at: usize, h: u32, found: &mut impl FnMut(usize)) {
        let rest = text.get(at..).unwrap_or_default();
        for (l, i) in self.by_head.get(&h).map_or(&[][..], |v| &v[..]) {
            if rest.starts_with(l) {
                found(*i);
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<[u64; 1024]>()
            + self.by_head.capacity() * 24
            + self
                .by_head
                .values()
                .flat_map(|v| v.iter())
                .map(|(l, _)| l.len() + 32)
                .sum::<usize>()
    }
}

/// A literal and its pattern number.
type Numbered = (Box<[u8]>, usize);

/// The first 4 bytes of `b` as a number.
#[inline]
fn head(b: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(..Windows::LEN)?.try_into().ok()?))
}

/// The bit of a 4-byte window in [`Windows::bits`], below 2^16.
#[inline]
fn bit(h: u32) -> usize {
    (h.wrapping_mul(0x9e37_79b1) >> 16) as usize
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
            // Folded before extraction: the whole words, not the hundreds of case
            // variants cut to a prefix.
            (
                "Tokar(ov|ev)",
                true,
                Some(&["tokarev", "tokarov", "\u{212a}"]),
            ),
            ("Tokar(ov|ev)", false, Some(&["tokarev", "tokarov"])),
            (
                "Лавр(ов|ев)",
                true,
                Some(&["лаврев", "лавров", "\u{1c80}", "\u{1c82}"]),
            ),
            ("лавр(ov|ev)", true, Some(&["лаврev", "лаврov", "\u{1c80}"])),
            // A large class gains the folded forms of its members and stays a class.
            ("[A-Z]okarov", false, Some(&["okarov"])),
            ("[Ѐ-Я]авров", false, Some(&["авров"])),
            // A rare variant written as a literal: the character alone.
            ("\u{212a}assym", false, Some(&["\u{212a}"])),
            // A class of rare variants only is kept whole (nothing else would be left):
            // each is still its own literal.
            (
                "[\u{212a}\u{17f}]assym",
                false,
                Some(&["\u{17f}", "\u{212a}"]),
            ),
            ("Kassym", true, Some(&["kassym", "\u{17f}", "\u{212a}"])),
            (r"\w+ Tokarov", false, Some(&[" tokarov"])),
            ("(foo|bars)+x", false, Some(&["bars", "foo"])),
            ("Лавр", false, Some(&["лавр"])),
            // `в` has a third case variant, U+1C80: 2 × 2 × 3 × 2 = 24 literals, folded
            // to the lowercase word and the rare variant.
            ("Лавр", true, Some(&["лавр", "\u{1c80}"])),
            // 216 variants of the whole word (`о` has U+1C82 too).
            ("Лавров", true, Some(&["лавров", "\u{1c80}", "\u{1c82}"])),
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
            ("Лавр", true, &["ЛАВРОВ", "лавров", "ЛАᲀРОВ"]),
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
        let other = folded.has_other();
        a.for_each_match(folded.compact(), other, |p| found.push(p));
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
        let lits = |n: usize| -> Vec<Vec<u8>> {
            (0..n).map(|i| format!("lit{i:03}").into_bytes()).collect()
        };
        let (some, many) = (lits(60), lits(200));
        let some: Vec<&[u8]> = some.iter().map(Vec::as_slice).collect();
        let many: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("ssse3") {
            assert!(matches!(
                LiteralAutomaton::new(&some),
                Some(LiteralAutomaton::Packed(g)) if g.len() == 2
            ));
        }
        assert!(matches!(
            LiteralAutomaton::new(&many),
            Some(LiteralAutomaton::Windows(..))
        ));
        // Many literals too short for the windows: the transition table.
        let short: Vec<Vec<u8>> = (0..100u8).map(|i| vec![b'a' + i % 26, i]).collect();
        let short: Vec<&[u8]> = short.iter().map(Vec::as_slice).collect();
        assert!(matches!(
            LiteralAutomaton::new(&short),
            Some(LiteralAutomaton::Dfa(_))
        ));
    }

    /// Literals generated as text, in the compact form the search takes.
    fn compact_all(lits: std::collections::BTreeSet<String>) -> Vec<Vec<u8>> {
        lits.into_iter()
            .map(|l| crate::text::compact_literal(l.as_bytes()))
            .collect()
    }

    proptest::proptest! {
        /// The Teddy search reports exactly what the automaton does: every occurrence,
        /// overlapping ones and ones sharing a start included, in any case, with one
        /// group of literals or several.
        #[test]
        fn teddy_and_the_automaton_find_the_same_occurrences(
            lits in proptest::collection::btree_set("[abз]{1,5}", 1..64),
            text in "[abAB зЗ]{0,300}",
        ) {
            let lits = compact_all(lits);
            let refs: Vec<&[u8]> = lits.iter().map(Vec::as_slice).collect();
            let table = LiteralAutomaton::table(&refs).expect("automaton");
            // Teddy needs SSSE3 or AVX2: without them there is only the automaton.
            let numbered: Vec<(&[u8], usize)> = refs.iter().copied().zip(0..).collect();
            if let Some(groups) = Packed::groups(&numbered, &|_| false) {
                let packed = LiteralAutomaton::Packed(groups);
                proptest::prop_assert_eq!(
                    occurrences(&packed, &text),
                    occurrences(&table, &text)
                );
            }
        }

        /// So does the search of many literals (4-byte windows, and Teddy groups for
        /// the shorter literals), whichever form it takes.
        #[test]
        fn every_form_finds_what_the_automaton_finds(
            lits in proptest::collection::btree_set("[abcз]{1,7}", 1..160),
            text in "[abcABC зЗ]{0,300}",
        ) {
            let lits = compact_all(lits);
            let refs: Vec<&[u8]> = lits.iter().map(Vec::as_slice).collect();
            let table = LiteralAutomaton::table(&refs).expect("automaton");
            let chosen = LiteralAutomaton::new(&refs).expect("a form");
            proptest::prop_assert_eq!(occurrences(&chosen, &text), occurrences(&table, &text));
        }
    }
}
