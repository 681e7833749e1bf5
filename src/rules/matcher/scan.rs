//! Per-document working memory and the scan: tokenizing a document's field values
//! once and recording where each unit occurs.

use super::index::{Key, pair_hash};
use super::{NONE, RuleSet};
use crate::rules::Document;
use crate::rules::ast::Field;
use crate::text::FoldedText;

/// One field value of the document being matched.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    pub(super) field: Field,
    pub(super) index: u32,
    /// Word positions `start..end`.
    pub(super) start: u32,
    pub(super) end: u32,
    /// Where the words start in `word_at`, or NONE when no phrase looks at this field
    /// and they were not kept.
    pub(super) words: u32,
}

/// One occurrence of a unit, linked to the unit's previous occurrence.
#[derive(Debug, Clone, Copy)]
pub(super) struct Occ {
    pub(super) slot: u32,
    pub(super) pos: u32,
    pub(super) next: u32,
}

#[derive(Debug, Default)]
pub(super) struct Scratch {
    /// The field value being scanned, folded, with its word masks.
    pub(super) text: FoldedText,
    /// Word position → byte span in its field value.
    pub(super) span_at: Vec<(u32, u32)>,
    pub(super) slots: Vec<Slot>,
    /// Word position in a phrase field (see [`Slot::words`]) → where its folded form
    /// is in `folded_words` (start, length).
    pub(super) word_at: Vec<(u32, u32)>,
    /// The folded copies of the phrase fields' values, and the words folded apart.
    pub(super) folded_words: Vec<u8>,
    /// Unit → bit mask of the fields it occurred in (0: did not occur).
    pub(super) unit_mask: Vec<u8>,
    /// Unit → index of its last occurrence in `occ`, or NONE.
    pub(super) unit_head: Vec<u32>,
    pub(super) touched: Vec<u32>,
    pub(super) occ: Vec<Occ>,
    pub(super) cand: Vec<u64>,
    pub(super) cand_list: Vec<u32>,
    /// Where the terms of a matching rule occur, and their folded forms (see
    /// `Ctx::matched`).
    pub(super) surfaces: Vec<(u32, usize, usize)>,
    pub(super) surface_keys: String,
    /// Where each distinct folded form ends in `surface_keys`.
    pub(super) surface_ends: Vec<usize>,
    /// Regex term → 0 not run yet, 1 no match, 2 match.
    pub(super) regex_state: Vec<u8>,
    pub(super) regex_touched: Vec<u32>,
}

impl RuleSet {
    pub(super) fn new_scratch(&self) -> Scratch {
        let units = self.unit_rules.len();
        Scratch {
            unit_mask: vec![0; units],
            unit_head: vec![NONE; units],
            cand: vec![0; self.rules.len().div_ceil(64)],
            regex_state: vec![0; self.regexes.len()],
            ..Scratch::default()
        }
    }

    /// Tokenizes every needed field value once and records where each unit occurs.
    pub(super) fn scan(&self, sc: &mut Scratch, doc: &Document<'_>) {
        let Scratch {
            text: folded,
            slots,
            word_at,
            folded_words,
            span_at,
            unit_mask,
            unit_head,
            touched,
            occ,
            ..
        } = sc;
        // Unit `u` occurred in a field of `bit`, at word `pos` of `slot`; a regex
        // literal's unit (`slot` NONE) has no position to record.
        let mut hit = |u: u32, slot: u32, pos: u32, bit: u8| {
            let i = u as usize;
            if unit_mask[i] == 0 {
                touched.push(u);
            }
            unit_mask[i] |= bit;
            if slot == NONE {
                return;
            }
            occ.push(Occ {
                slot,
                pos,
                next: unit_head[i],
            });
            unit_head[i] = (occ.len() - 1) as u32;
        };
        let use_prefixes = !self.prefixes.is_empty();
        let use_pairs = !self.pairs.is_empty();
        for field in Field::ALL {
            if self.fields & field.bit() == 0 {
                continue;
            }
            let bit = field.bit();
            let keep_words = self.phrase_fields & bit != 0;
            let literals = self
                .literals
                .as_ref()
                .filter(|_| self.literal_fields & bit != 0);
            for (i, text) in doc.field_values(field).enumerate() {
                let s = slots.len() as u32;
                let start = span_at.len() as u32;
                folded.fold(text);
                let words = if keep_words {
                    let base = folded_words.len() as u32;
                    folded_words.extend_from_slice(folded.folded_all());
                    let first = word_at.len() as u32;
                    word_at.extend(
                        folded
                            .words()
                            .iter()
                            .map(|w| (base + w.fold_start, w.fold_end - w.fold_start)),
                    );
                    first
                } else {
                    NONE
                };
                let pairs = use_pairs && keep_words;
                // The hash of the word before, for the pair it makes with this one.
                let mut before = None;
                span_at.extend(folded.words().iter().map(|w| (w.start, w.end)));
                for (pos, w) in (start..).zip(folded.words()) {
                    let bytes = folded.folded(w);
                    let key = Key::of(bytes);
                    let h = key.hash();
                    if let Some(u) = self.words.get(&key, h, bytes) {
                        hit(u, s, pos, bit);
                    }
                    if use_prefixes && self.prefixes.may_start(&key, bytes) {
                        self.prefixes.walk(&key, bytes, |u| hit(u, s, pos, bit));
                    }
                    if pairs {
                        if let Some(b) = before {
                            for &u in self.pairs.get(pair_hash(b, h)) {
                                hit(u, s, pos - 1, bit);
                            }
                        }
                        before = Some(h);
                    }
                }
                slots.push(Slot {
                    field,
                    index: i as u32,
                    start,
                    end: span_at.len() as u32,
                    words,
                });
                // The regex prefilter searches the same folded copy, in compact form.
                if let Some(ac) = literals {
                    let other = folded.has_other();
                    ac.for_each_match(folded.compact(), other, |p| {
                        let units = self.literal_units.get(p);
                        for &u in units.map_or(&[][..], |u| &u[..]) {
                            hit(u, NONE, 0, bit);
                        }
                    });
                }
            }
        }
    }
}

impl Scratch {
    /// The folded word at position `at` of `word_at`, or "" past the end.
    pub(super) fn folded_word(&self, at: usize) -> &[u8] {
        self.word_at
            .get(at)
            .and_then(|&(start, len)| {
                self.folded_words
                    .get(start as usize..start as usize + len as usize)
            })
            .unwrap_or_default()
    }

    pub(super) fn mark(&mut self, r: u32) {
        let (w, b) = ((r / 64) as usize, 1u64 << (r % 64));
        if let Some(word) = self.cand.get_mut(w)
            && *word & b == 0
        {
            *word |= b;
            self.cand_list.push(r);
        }
    }

    /// Puts `cand_list` in rule order: a walk of the candidate bit set when it is
    /// small next to the list (many candidates among not too many rules), else a sort.
    pub(super) fn order_candidates(&mut self) {
        let n = self.cand_list.len();
        if n <= 16 || self.cand.len() > n * 8 {
            self.cand_list.sort_unstable();
            return;
        }
        self.cand_list.clear();
        for (w, &bits) in self.cand.iter().enumerate() {
            let mut b = bits;
            while b != 0 {
                self.cand_list.push(w as u32 * 64 + b.trailing_zeros());
                b &= b - 1;
            }
        }
    }

    /// Back to the all-empty state, touching only what this document used.
    pub(super) fn reset(&mut self) {
        for &u in &self.touched {
            self.unit_mask[u as usize] = 0;
            self.unit_head[u as usize] = NONE;
        }
        for &r in &self.cand_list {
            self.cand[(r / 64) as usize] = 0;
        }
        for &x in &self.regex_touched {
            self.regex_state[x as usize] = 0;
        }
        self.touched.clear();
        self.cand_list.clear();
        self.regex_touched.clear();
        self.occ.clear();
        self.word_at.clear();
        self.folded_words.clear();
        self.span_at.clear();
        self.slots.clear();
    }
}
