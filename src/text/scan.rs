//! [`FoldedText`]: a field value folded and split into words 16 bytes at a time.
//!
//! The matcher's hot path. One pass over the value writes its *folded copy* (ASCII
//! lowercased, basic Cyrillic U+0400..U+047F folded as [`super::fold`] does, every other
//! character unchanged: the same length, so byte positions carry over) and two bit
//! masks: the bytes of ASCII letters, digits and basic Cyrillic letters (*word bytes*),
//! and every other non-ASCII byte (*other bytes*). Words are then read off the masks,
//! a bit scan per word instead of a table lookup per byte, and handed on as slices of
//! the folded copy, never copied.
//!
//! A run of word and other bytes that holds an other byte (an accented letter, a
//! combining mark, a guillemet or a dash glued to a word) goes through the general
//! tokenizer, [`super::for_each_word`], which decides what is a word there; runs are
//! bounded by ASCII separators, which end words in both, so the two agree everywhere.
//! The regex prefilter searches the same folded copy (see `fold_literal`).

use std::ops::Range;

use super::for_each_word;
use super::tokenize::{FOLD_CYR, cyr_index};

/// Reusable buffers for folding and scanning one field value at a time.
#[derive(Debug, Default, Clone)]
pub struct FoldedText {
    /// The value with one zero byte before it and zero padding after it, so that every
    /// 16-byte window (and its neighbours one byte either side) can be loaded.
    input: Vec<u8>,
    /// The folded copy, padded to whole 64-byte blocks with zeros.
    folded: Vec<u8>,
    /// Per 64-byte block: word bytes, and other bytes.
    word_bits: Vec<u64>,
    other_bits: Vec<u64>,
    len: usize,
    /// Folding buffer of the general tokenizer.
    tmp: String,
    /// The compact form of the folded copy (see [`FoldedText::compact`]), with slack.
    compact: Vec<u8>,
    /// The words of the value, in order.
    words: Vec<FoldedWord>,
}

/// One word of a folded value: its byte span in the value, and where its folded form
/// is in [`FoldedText::folded`] (the same span, unless the general tokenizer folded it
/// apart: then after the folded copy, and perhaps of another length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoldedWord {
    pub start: u32,
    pub end: u32,
    pub fold_start: u32,
    pub fold_end: u32,
}

impl FoldedWord {
    pub fn span(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// Whether the folded form is the folded copy's bytes at the word's own span.
    pub fn in_place(&self) -> bool {
        self.fold_start == self.start && self.fold_end == self.end
    }
}

impl FoldedText {
    pub fn new() -> FoldedText {
        FoldedText::default()
    }

    /// Folds `text` and finds its words, replacing the previous value.
    pub fn fold(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let n = bytes.len();
        let blocks = n.div_ceil(64);
        self.len = n;
        self.input.clear();
        self.input.push(0);
        self.input.extend_from_slice(bytes);
        self.input.resize(blocks * 64 + 2, 0);
        self.folded.clear();
        self.folded.resize(blocks * 64, 0);
        self.word_bits.clear();
        self.word_bits.resize(blocks, 0);
        self.other_bits.clear();
        self.other_bits.resize(blocks, 0);
        fold_blocks(
            &self.input,
            &mut self.folded,
            &mut self.word_bits,
            &mut self.other_bits,
        );
        self.split(text);
    }

    /// Whether the value holds a character that is neither ASCII nor U+0400..U+047F.
    pub fn has_other(&self) -> bool {
        self.other_bits.iter().any(|&o| o != 0)
    }

    /// The words of the last value given to [`FoldedText::fold`], in order.
    pub fn words(&self) -> &[FoldedWord] {
        &self.words
    }

    /// The folded form of `w`, one of [`FoldedText::words`].
    #[inline]
    pub fn folded(&self, w: &FoldedWord) -> &[u8] {
        self.folded
            .get(w.fold_start as usize..w.fold_end as usize)
            .unwrap_or_default()
    }

    /// The folded copy and, after it, the words folded apart: what
    /// [`FoldedWord::fold_start`] indexes.
    pub fn folded_all(&self) -> &[u8] {
        &self.folded
    }

    /// The folded copy of the last value given to [`FoldedText::fold`].
    pub fn bytes(&self) -> &[u8] {
        self.folded.get(..self.len).unwrap_or_default()
    }

    /// The *compact form* of the folded copy: each U+0400..U+047F letter (two bytes in
    /// UTF-8) as the one byte `0x80 | offset from U+0400`, every other byte as it is.
    /// Not UTF-8, but a map of each character on its own, so whatever substring (of
    /// whole characters) the folded copy holds, its compact form holds the substring's
    /// ([`compact_literal`]). The regex prefilter searches it: Russian text is half
    /// as long, and four bytes are four letters, not two.
    pub fn compact(&mut self) -> &[u8] {
        let FoldedText {
            folded,
            compact,
            len,
            ..
        } = self;
        let folded = folded.get(..*len).unwrap_or_default();
        if memchr::memchr2(0xD0, 0xD1, folded).is_none() {
            // No Cyrillic letter: the folded copy is its own compact form.
            return folded;
        }
        compact.clear();
        // One byte out per byte in at most, plus a vector's worth of slack.
        compact.resize(folded.len() + 32, 0);
        #[cfg(target_arch = "x86_64")]
        let n = if avx2::available() {
            // SAFETY: the CPU has AVX2 and POPCNT, checked just above.
            unsafe { avx2::compact(folded, compact) }
        } else {
            compact_scalar(folded, compact)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let n = compact_scalar(folded, compact);
        compact.truncate(n);
        compact
    }

    /// Calls `f(folded word, byte span, in place)` for each word, in order: the same
    /// words, folded alike, as [`for_each_word`] finds in the value. `in place` says
    /// that the folded word is `self.bytes()[span]`.
    pub fn for_each_word(&self, mut f: impl FnMut(&[u8], Range<usize>, bool)) {
        for w in &self.words {
            f(self.folded(w), w.span(), w.in_place());
        }
    }

    /// Reads the words off the masks (see the module doc).
    fn split(&mut self, text: &str) {
        let FoldedText {
            folded,
            word_bits,
            other_bits,
            tmp,
            words,
            ..
        } = self;
        words.clear();
        let any_other = other_bits.iter().any(|&o| o != 0);
        let run_bits = |k: usize| word_bits.get(k).map_or(0, |&w| w | other_bits[k]);
        // The start of a run that began in an earlier block and has not ended yet.
        let mut open = None;
        for k in 0..word_bits.len() {
            let m = run_bits(k);
            let before = k.checked_sub(1).map_or(0, |p| run_bits(p) >> 63);
            let after = run_bits(k + 1) & 1;
            // First and last byte of each run of word and other bytes in this block.
            let mut starts = m & !(m << 1 | before);
            let mut ends = m & !(m >> 1 | after << 63);
            let base = k * 64;
            while ends != 0 {
                let end = base + ends.trailing_zeros() as usize + 1;
                ends &= ends - 1;
                // Runs end in order: the open run first, then each start in turn.
                let start = match open.take() {
                    Some(s) => s,
                    None => {
                        let s = base + starts.trailing_zeros() as usize;
                        starts &= starts.wrapping_sub(1);
                        s
                    }
                };
                if any_other && has_bit(other_bits, start, end) {
                    let Some(run) = text.get(start..end) else {
                        continue;
                    };
                    general_words(run, start, folded, tmp, words);
                } else {
                    words.push(FoldedWord {
                        start: start as u32,
                        end: end as u32,
                        fold_start: start as u32,
                        fold_end: end as u32,
                    });
                }
            }
            if starts != 0 {
                open = Some(base + starts.trailing_zeros() as usize);
            }
        }
    }
}

/// The words of `run` (at `offset` in the value) by the general tokenizer; those it
/// folds to other bytes than the folded copy holds get their folded form appended to
/// `folded`, after the copy.
#[cold]
fn general_words(
    run: &str,
    offset: usize,
    folded: &mut Vec<u8>,
    tmp: &mut String,
    words: &mut Vec<FoldedWord>,
) {
    for_each_word(run, tmp, |word, span| {
        let (start, end) = (offset + span.start, offset + span.end);
        let (fold_start, fold_end) = if folded.get(start..end) == Some(word.as_bytes()) {
            (start, end)
        } else {
            let at = folded.len();
            folded.extend_from_slice(word.as_bytes());
            (at, folded.len())
        };
        words.push(FoldedWord {
            start: start as u32,
            end: end as u32,
            fold_start: fold_start as u32,
            fold_end: fold_end as u32,
        });
    });
}

/// Whether any bit of `bits` in `start..end` (bit positions) is set.
#[inline]
fn has_bit(bits: &[u64], start: usize, end: usize) -> bool {
    let mut i = start;
    while i < end {
        let (k, s) = (i / 64, i % 64);
        let take = (end - i).min(64 - s);
        let mask = if take == 64 {
            u64::MAX
        } else {
            (1u64 << take) - 1
        };
        if bits.get(k).is_some_and(|&b| (b >> s) & mask != 0) {
            return true;
        }
        i += take;
    }
    false
}

/// Folds every block of `input` (see [`fold_block`]) into `folded` and the masks, with
/// the widest vectors the machine has.
fn fold_blocks(input: &[u8], folded: &mut [u8], word_bits: &mut [u64], other_bits: &mut [u64]) {
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        // SAFETY: the CPU has AVX2 and POPCNT, checked just above.
        unsafe { avx2::fold_blocks(input, folded, word_bits, other_bits) };
        return;
    }
    for (b, (w, o)) in word_bits.iter_mut().zip(other_bits.iter_mut()).enumerate() {
        (*w, *o) = fold_block(input, folded, b * 64);
    }
}

/// Folds one 64-byte block starting at `at` (a position in the value): reads
/// `input[at..at + 66]` (the value is at offset 1), writes `folded[at..at + 64]`, and
/// returns the block's word and other masks.
#[inline]
fn fold_block(input: &[u8], folded: &mut [u8], at: usize) -> (u64, u64) {
    let (Some(window), Some(out)) = (input.get(at..at + 66), folded.get_mut(at..at + 64)) else {
        return (0, 0);
    };
    #[cfg(target_arch = "x86_64")]
    {
        sse2::fold_block(window, out)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        scalar_block(window, out)
    }
}

/// The portable definition of [`fold_block`], one byte at a time; `window` is the
/// block with one byte either side.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn scalar_block(window: &[u8], out: &mut [u8]) -> (u64, u64) {
    let (mut word, mut other) = (0u64, 0u64);
    for (i, o) in out.iter_mut().enumerate().take(64) {
        let (p, b, n) = (window[i], window[i + 1], window[i + 2]);
        *o = fold_byte(p, b, n);
        let cyr = is_cyr_lead(b) || is_cyr_lead(p);
        if b.is_ascii_alphanumeric() || cyr {
            word |= 1 << i;
        } else if b >= 0x80 {
            other |= 1 << i;
        }
    }
    (word, other)
}

fn is_cyr_lead(b: u8) -> bool {
    b == 0xD0 || b == 0xD1
}

/// The folded form of byte `b` of valid UTF-8, given the bytes before and after it
/// (0 at either end).
///
/// In UTF-8, U+0400..U+047F are a lead byte 0xD0 or 0xD1 and one continuation byte,
/// and so are their folded forms: folding can change either byte (`Р` is D0 A0, `р` is
/// D1 80), but never the length.
pub(crate) fn fold_byte(p: u8, b: u8, n: u8) -> u8 {
    if b.is_ascii_uppercase() {
        b.to_ascii_lowercase()
    } else if is_cyr_lead(p) {
        0x80 | (fold_cyr(p, b) & 0x3F)
    } else if is_cyr_lead(b) && (0x80..0xC0).contains(&n) {
        0xD0 | (fold_cyr(b, n) >> 6)
    } else {
        b
    }
}

/// The folded code point of the pair (`lead`, `b2`), as an offset from U+0400: the
/// general tokenizer's table, so that both fold alike.
fn fold_cyr(lead: u8, b2: u8) -> u8 {
    FOLD_CYR[cyr_index(lead, b2)]
}

/// Writes the compact form (see [`FoldedText::compact`]) of folded bytes to the start
/// of `out` (at least as long as `folded`); returns its length.
fn compact_scalar(folded: &[u8], out: &mut [u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while let Some(&b) = folded.get(i) {
        let next = folded.get(i + 1).copied().unwrap_or(0);
        let byte = if is_cyr_lead(b) && (0x80..0xC0).contains(&next) {
            i += 2;
            0x80 | (b & 1) << 6 | (next & 0x3F)
        } else {
            i += 1;
            b
        };
        if let Some(o) = out.get_mut(n) {
            *o = byte;
        }
        n += 1;
    }
    n
}

/// Whether folded bytes (a literal) hold an *other* byte (see the module doc): a
/// character that is neither ASCII nor U+0400..U+047F. A trailing lead byte of that
/// range (a literal cut inside a letter) is not one.
pub(crate) fn has_other(folded: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = folded.get(i) {
        let next = folded.get(i + 1);
        if b < 0x80 || (is_cyr_lead(b) && next.is_none()) {
            i += 1;
        } else if is_cyr_lead(b) && next.is_some_and(|n| (0x80..0xC0).contains(n)) {
            i += 2;
        } else {
            return true;
        }
    }
    false
}

/// The compact form (see [`FoldedText::compact`]) of a folded literal. A trailing lead
/// byte of U+0400..U+047F (a literal cut inside a character) is dropped: in compact
/// text a lead byte never stands alone.
pub(crate) fn compact_literal(folded: &[u8]) -> Vec<u8> {
    let folded = match folded.split_last() {
        Some((&last, rest)) if is_cyr_lead(last) => rest,
        _ => folded,
    };
    let mut out = vec![0; folded.len()];
    let n = compact_scalar(folded, &mut out);
    out.truncate(n);
    out
}

/// Folds a regex literal the way [`FoldedText`] folds text, so that the folded copy of
/// any text holding the literal holds the folded literal. A trailing lead byte of
/// U+0400..U+047F (a literal cut inside a character) is dropped: how it folds depends
/// on the byte after it.
pub(crate) fn fold_literal(lit: &mut Vec<u8>) {
    if lit.last().is_some_and(|&b| is_cyr_lead(b)) {
        lit.pop();
    }
    let folded: Vec<u8> = (0..lit.len())
        .map(|i| {
            let p = i.checked_sub(1).map_or(0, |j| lit[j]);
            fold_byte(p, lit[i], lit.get(i + 1).copied().unwrap_or(0))
        })
        .collect();
    *lit = folded;
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    //! SSE2 is part of x86_64 itself, so this needs no runtime detection.

    use std::arch::x86_64::*;

    #[target_feature(enable = "sse2")]
    #[inline]
    fn load(bytes: &[u8], at: usize) -> __m128i {
        let mut a = [0u8; 16];
        if let Some(s) = bytes.get(at..at + 16) {
            a.copy_from_slice(s);
        }
        // SAFETY: `a` is 16 readable bytes; the load has no alignment requirement.
        unsafe { _mm_loadu_si128(a.as_ptr().cast()) }
    }

    #[target_feature(enable = "sse2")]
    #[inline]
    fn store(out: &mut [u8], at: usize, v: __m128i) {
        let mut a = [0u8; 16];
        // SAFETY: `a` is 16 writable bytes; the store has no alignment requirement.
        unsafe { _mm_storeu_si128(a.as_mut_ptr().cast(), v) };
        if let Some(s) = out.get_mut(at..at + 16) {
            s.copy_from_slice(&a);
        }
    }

    /// SSE2 is part of every x86_64 target, so this is always safe to run.
    pub(super) fn fold_block(window: &[u8], out: &mut [u8]) -> (u64, u64) {
        // SAFETY: SSE2 is enabled in every x86_64 target's base feature set.
        unsafe { fold_block_sse2(window, out) }
    }

    #[target_feature(enable = "sse2")]
    fn fold_block_sse2(window: &[u8], out: &mut [u8]) -> (u64, u64) {
        let (mut word, mut other) = (0u64, 0u64);
        for c in 0..4 {
            let at = c * 16;
            let p = load(window, at);
            let v = load(window, at + 1);
            let n = load(window, at + 2);
            let (f, w, o) = fold16(p, v, n);
            store(out, at, f);
            word |= u64::from(w) << at;
            other |= u64::from(o) << at;
        }
        (word, other)
    }

    /// Folds the 16 bytes `v` (with `p` the bytes before each, `n` the bytes after):
    /// the folded bytes, and the word and other masks.
    #[target_feature(enable = "sse2")]
    #[inline]
    fn fold16(p: __m128i, v: __m128i, n: __m128i) -> (__m128i, u16, u16) {
        let set = |b: u8| _mm_set1_epi8(b as i8);
        let eq = |a: __m128i, b: u8| _mm_cmpeq_epi8(a, set(b));
        // Signed byte comparisons: bytes >= 0x80 are negative, below every ASCII bound.
        let within = |a: __m128i, lo: u8, hi: u8| {
            _mm_and_si128(
                _mm_cmpgt_epi8(a, set(lo - 1)),
                _mm_cmplt_epi8(a, set(hi + 1)),
            )
        };
        let upper = within(v, b'A', b'Z');
        let alnum = _mm_or_si128(
            within(v, b'0', b'9'),
            within(_mm_or_si128(v, set(0x20)), b'a', b'z'),
        );
        let (pd0, pd1) = (eq(p, 0xD0), eq(p, 0xD1));
        let (vd0, vd1) = (eq(v, 0xD0), eq(v, 0xD1));
        let hv = _mm_and_si128(v, set(0xF0));
        let hn = _mm_and_si128(n, set(0xF0));
        // Continuation bytes after 0xD0: 80..8F +0x10 (Ѐ..Џ → ѐ..џ, lead becomes D1),
        // 81 → B5 (Ё → е), 90..9F +0x20 (А..П), A0..AF -0x20 (Р..Я, lead becomes D1).
        let v81 = eq(v, 0x81);
        let d0_80 = _mm_and_si128(pd0, _mm_andnot_si128(v81, eq(hv, 0x80)));
        let d0_81 = _mm_and_si128(pd0, v81);
        let d0_90 = _mm_and_si128(pd0, eq(hv, 0x90));
        let d0_a0 = _mm_and_si128(pd0, eq(hv, 0xA0));
        // After 0xD1: 91 → B5 (ё → е, lead becomes D0); A0..BF | 1 (U+0460..U+047F).
        let d1_91 = _mm_and_si128(pd1, eq(v, 0x91));
        let d1_hi = _mm_and_si128(pd1, _mm_or_si128(eq(hv, 0xA0), eq(hv, 0xB0)));
        let mut delta = _mm_and_si128(upper, set(0x20));
        delta = _mm_or_si128(delta, _mm_and_si128(d0_80, set(0x10)));
        delta = _mm_or_si128(delta, _mm_and_si128(d0_81, set(0x34)));
        delta = _mm_or_si128(delta, _mm_and_si128(d0_90, set(0x20)));
        delta = _mm_or_si128(delta, _mm_and_si128(d0_a0, set(0xE0)));
        delta = _mm_or_si128(delta, _mm_and_si128(d1_91, set(0x24)));
        // Lead bytes: D0 followed by 80..8F (not 81) or A0..AF becomes D1; D1 followed
        // by 91 becomes D0.
        let n81 = eq(n, 0x81);
        let to_d1 = _mm_and_si128(
            vd0,
            _mm_or_si128(_mm_andnot_si128(n81, eq(hn, 0x80)), eq(hn, 0xA0)),
        );
        let to_d0 = _mm_and_si128(vd1, eq(n, 0x91));
        delta = _mm_or_si128(delta, _mm_and_si128(to_d1, set(0x01)));
        delta = _mm_or_si128(delta, _mm_and_si128(to_d0, set(0xFF)));
        let folded = _mm_or_si128(_mm_add_epi8(v, delta), _mm_and_si128(d1_hi, set(0x01)));
        let cyr = _mm_or_si128(_mm_or_si128(vd0, vd1), _mm_or_si128(pd0, pd1));
        let word = _mm_movemask_epi8(_mm_or_si128(alnum, cyr)) as u16;
        let high = _mm_movemask_epi8(v) as u16;
        (folded, word, high & !word)
    }
}

/// For each 8-bit mask, the byte shuffle that packs the bytes whose bits are set to
/// the front (the rest zeroed: index 0x80).
#[cfg(target_arch = "x86_64")]
static PACK: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut m = 0;
    while m < 256 {
        let mut ctrl = [0x80u8; 8];
        let (mut j, mut k) = (0, 0);
        while j < 8 {
            if m & (1 << j) != 0 {
                ctrl[k] = j as u8;
                k += 1;
            }
            j += 1;
        }
        t[m] = u64::from_le_bytes(ctrl);
        m += 1;
    }
    t
};

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The same fold as [`super::sse2`], 32 bytes at a time, with the Cyrillic cases
    //! looked up in a 16-entry table (`vpshufb`) instead of tested one by one.

    use std::arch::x86_64::*;

    /// Whether this CPU can run the functions of this module (every CPU with AVX2
    /// has POPCNT too, but each is asked for).
    #[inline]
    pub(super) fn available() -> bool {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("popcnt")
    }

    /// Folds every 64-byte block (see [`super::fold_block`]).
    ///
    /// # Safety
    /// The CPU must have AVX2 and POPCNT ([`available`]).
    #[target_feature(enable = "avx2,popcnt")]
    pub(super) unsafe fn fold_blocks(
        input: &[u8],
        folded: &mut [u8],
        word_bits: &mut [u64],
        other_bits: &mut [u64],
    ) {
        for (b, (w, o)) in word_bits.iter_mut().zip(other_bits.iter_mut()).enumerate() {
            let at = b * 64;
            let (Some(window), Some(out)) = (input.get(at..at + 66), folded.get_mut(at..at + 64))
            else {
                return;
            };
            let (f0, w0, o0) = fold32(load(window, 0), load(window, 1), load(window, 2));
            let (f1, w1, o1) = fold32(load(window, 32), load(window, 33), load(window, 34));
            store(out, 0, f0);
            store(out, 32, f1);
            *w = u64::from(w0) | u64::from(w1) << 32;
            *o = u64::from(o0) | u64::from(o1) << 32;
        }
    }

    /// Writes the compact form of `folded` to `out` (with 32 bytes of slack); returns
    /// its length.
    ///
    /// # Safety
    /// The CPU must have AVX2 and POPCNT ([`available`]).
    #[target_feature(enable = "avx2,popcnt")]
    pub(super) unsafe fn compact(folded: &[u8], out: &mut [u8]) -> usize {
        let mut n = 0;
        let mut at = 0;
        while at < folded.len() {
            let take = (folded.len() - at).min(32);
            let (p, v) = match (at.checked_sub(1), take) {
                (Some(before), 32) => (load(folded, before), load(folded, at)),
                // The first and the last chunk: through a zero-padded copy.
                (before, _) => {
                    let mut chunk = [0u8; 33];
                    chunk[0] = before.and_then(|b| folded.get(b)).copied().unwrap_or(0);
                    if let (Some(dst), Some(src)) =
                        (chunk.get_mut(1..=take), folded.get(at..at + take))
                    {
                        dst.copy_from_slice(src);
                    }
                    (load(&chunk, 0), load(&chunk, 1))
                }
            };
            let lead_of = |a: __m256i| _mm256_cmpeq_epi8(_mm256_and_si256(a, set(0xFE)), set(0xD0));
            let (is_lead, after_lead) = (lead_of(v), lead_of(p));
            let code = _mm256_or_si256(
                _mm256_or_si256(set(0x80), _mm256_and_si256(v, set(0x3F))),
                _mm256_and_si256(_mm256_slli_epi16::<6>(p), set(0x40)),
            );
            let c = _mm256_blendv_epi8(v, code, after_lead);
            // A lead byte at the very end (its pair cut by the chunk) is dropped here
            // and its continuation, in the next chunk, is read with it as `p`.
            let mut keep = !(_mm256_movemask_epi8(is_lead) as u32);
            if take < 32 {
                keep &= (1u32 << take) - 1;
            }
            n = pack(out, n, _mm256_castsi256_si128(c), keep as u16);
            n = pack(
                out,
                n,
                _mm256_extracti128_si256::<1>(c),
                (keep >> 16) as u16,
            );
            at += take;
        }
        n
    }

    /// Writes the bytes of `v` whose bit is set in `keep`, in order, at `out[n..]`;
    /// returns the new end.
    #[target_feature(enable = "avx2,popcnt")]
    #[inline]
    fn pack(out: &mut [u8], n: usize, v: __m128i, keep: u16) -> usize {
        let (lo, hi) = (usize::from(keep as u8), usize::from((keep >> 8) as u8));
        let ctrl = _mm_set_epi64x(
            (super::PACK[hi] | 0x0808_0808_0808_0808) as i64,
            super::PACK[lo] as i64,
        );
        let packed = _mm_shuffle_epi8(v, ctrl);
        let mut bytes = [0u8; 16];
        // SAFETY: `bytes` is 16 writable bytes; the store has no alignment requirement.
        unsafe { _mm_storeu_si128(bytes.as_mut_ptr().cast(), packed) };
        let k = (lo.count_ones() as usize).min(8);
        // One bounds check: both halves land in the 16 bytes from `n`.
        if let Some(dst) = out
            .get_mut(n..n + 16)
            .and_then(|d| <&mut [u8; 16]>::try_from(d).ok())
        {
            dst[..8].copy_from_slice(&bytes[..8]);
            dst[k..k + 8].copy_from_slice(&bytes[8..]);
        }
        n + k + hi.count_ones() as usize
    }

    #[target_feature(enable = "avx2,popcnt")]
    #[inline]
    fn load(bytes: &[u8], at: usize) -> __m256i {
        let mut a = [0u8; 32];
        if let Some(s) = bytes.get(at..at + 32) {
            a.copy_from_slice(s);
        }
        // SAFETY: `a` is 32 readable bytes; the load has no alignment requirement.
        unsafe { _mm256_loadu_si256(a.as_ptr().cast()) }
    }

    #[target_feature(enable = "avx2,popcnt")]
    #[inline]
    fn store(out: &mut [u8], at: usize, v: __m256i) {
        let mut a = [0u8; 32];
        // SAFETY: `a` is 32 writable bytes; the store has no alignment requirement.
        unsafe { _mm256_storeu_si256(a.as_mut_ptr().cast(), v) };
        if let Some(s) = out.get_mut(at..at + 32) {
            s.copy_from_slice(&a);
        }
    }

    #[target_feature(enable = "avx2,popcnt")]
    #[inline]
    fn set(b: u8) -> __m256i {
        _mm256_set1_epi8(b as i8)
    }

    /// Bytes of `a` within `lo..=hi` (ASCII bounds: bytes >= 0x80 are negative as
    /// signed bytes, so never within).
    #[target_feature(enable = "avx2,popcnt")]
    #[inline]
    fn within(a: __m256i, lo: u8, hi: u8) -> __m256i {
        _mm256_and_si256(
            _mm256_cmpgt_epi8(a, set(lo - 1)),
            _mm256_cmpgt_epi8(set(hi + 1), a),
        )
    }

    /// Folds the 32 bytes `v` (with `p` the bytes before each, `n` the bytes after):
    /// the folded bytes, and the word and other masks.
    #[target_feature(enable = "avx2,popcnt")]
    #[inline]
    fn fold32(p: __m256i, v: __m256i, n: __m256i) -> (__m256i, u32, u32) {
        let upper = within(v, b'A', b'Z');
        let alnum = _mm256_or_si256(
            within(v, b'0', b'9'),
            within(_mm256_or_si256(v, set(0x20)), b'a', b'z'),
        );
        let high = _mm256_movemask_epi8(v) as u32;
        if high == 0 {
            // All ASCII.
            let folded = _mm256_add_epi8(v, _mm256_and_si256(upper, set(0x20)));
            return (folded, _mm256_movemask_epi8(alnum) as u32, 0);
        }
        let lead_of = |a: __m256i| _mm256_cmpeq_epi8(_mm256_and_si256(a, set(0xFE)), set(0xD0));
        // `p` is a lead 0xD0/0xD1, so `v` is its continuation; or `v` is a lead.
        let (after_lead, is_lead) = (lead_of(p), lead_of(v));
        // Table index: continuation bytes 0..7, lead bytes 8..15, anything else 0x80
        // (which `vpshufb` turns into 0). Bits 0-1: the continuation's high nibble
        // (8, 9, A, B → 0..3); bit 2: the lead is 0xD1.
        let nibble = |a: __m256i| _mm256_and_si256(_mm256_srli_epi16::<4>(a), set(0x03));
        let d1 = |a: __m256i| _mm256_and_si256(_mm256_cmpeq_epi8(a, set(0xD1)), set(0x04));
        let cont_idx = _mm256_or_si256(nibble(v), d1(p));
        let lead_idx = _mm256_or_si256(_mm256_or_si256(nibble(n), d1(v)), set(0x08));
        let idx = _mm256_or_si256(
            _mm256_and_si256(after_lead, cont_idx),
            _mm256_and_si256(is_lead, lead_idx),
        );
        let idx = _mm256_or_si256(
            idx,
            _mm256_andnot_si256(_mm256_or_si256(after_lead, is_lead), set(0x80)),
        );
        // Continuation after D0: 8x +0x10 (Ѐ..Џ), 9x +0x20 (А..П), Ax -0x20 (Р..Я);
        // lead D0 before 8x or Ax becomes D1. Continuation after D1, Ax and Bx: | 1
        // (U+0460..U+047F), below.
        #[rustfmt::skip]
        let table = _mm256_setr_epi8(
            0x10, 0x20, -0x20, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0,
            0x10, 0x20, -0x20, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0,
        );
        #[rustfmt::skip]
        let odd = _mm256_setr_epi8(
            0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0,
        );
        // Ё (D0 81) and ё (D1 91) both become е (D0 B5): the continuation +0x24 more
        // than the table says, the lead one less. With the lead's low bit moved to bit
        // 4, both pairs read 0x81.
        let yo = |lead: __m256i, b: __m256i| {
            let x = _mm256_xor_si256(b, _mm256_and_si256(_mm256_slli_epi16::<4>(lead), set(0x10)));
            _mm256_cmpeq_epi8(x, set(0x81))
        };
        let yo_cont = _mm256_and_si256(after_lead, yo(p, v));
        let yo_lead = _mm256_and_si256(is_lead, yo(v, n));
        let mut delta = _mm256_shuffle_epi8(table, idx);
        delta = _mm256_add_epi8(delta, _mm256_and_si256(upper, set(0x20)));
        delta = _mm256_add_epi8(delta, _mm256_and_si256(yo_cont, set(0x24)));
        delta = _mm256_add_epi8(delta, yo_lead);
        let folded = _mm256_or_si256(_mm256_add_epi8(v, delta), _mm256_shuffle_epi8(odd, idx));
        let word =
            _mm256_movemask_epi8(_mm256_or_si256(alnum, _mm256_or_si256(after_lead, is_lead)))
                as u32;
        (folded, word, high & !word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> Vec<(String, Range<usize>)> {
        let mut ft = FoldedText::new();
        ft.fold(text);
        let mut out = Vec::new();
        let mut in_place = Vec::new();
        ft.for_each_word(|w, span, here| {
            out.push((String::from_utf8_lossy(w).into_owned(), span.clone()));
            in_place.push(here);
        });
        for ((w, span), here) in out.iter().zip(in_place) {
            assert_eq!(ft.bytes().get(span.clone()) == Some(w.as_bytes()), here);
        }
        out
    }

    fn general(text: &str) -> Vec<(String, Range<usize>)> {
        let mut out = Vec::new();
        for_each_word(text, &mut String::new(), |w, span| {
            out.push((w.to_string(), span));
        });
        out
    }

    #[test]
    fn words_and_spans_are_the_general_tokenizer_s() {
        let long = "Лавров и Жапаров обсудили ОДКБ. ".repeat(5);
        let cases = [
            "",
            "a",
            "Kyrgyzstan’s capital, «Лавров» — в Бишкеке",
            "ЁЛКА ёлка Ѐ Ѓ Џ Ѡ ѡ Ѿ ѿ ҂ ЎЗБЕКИСТОН",
            "Japa\u{301}rov said \u{301}orphan mark naïve ÉCOLE 5×3",
            "\"CSTO\" (ОДКБ), 2024-05-01",
            &long,
            &"x".repeat(64),
            &"x".repeat(65),
            &format!("{}Ж", "y".repeat(63)),
            &format!("{} Ж", "y".repeat(62)),
        ];
        for text in cases {
            assert_eq!(scan(text), general(text), "{text:?}");
        }
    }

    #[test]
    fn the_folded_copy_is_the_fold_of_each_character() {
        let text = "Kyrgyzstan ЛАВРОВ Ёлка ёж Ѐ Џ Ѡ Ѿ Straße ΑΘΗΝΑ";
        let mut ft = FoldedText::new();
        ft.fold(text);
        assert_eq!(
            std::str::from_utf8(ft.bytes()).ok(),
            Some("kyrgyzstan лавров елка еж ѐ џ ѡ ѿ straße ΑΘΗΝΑ")
        );
    }

    #[test]
    fn the_compact_form_has_one_byte_per_basic_cyrillic_letter() {
        let mut ft = FoldedText::new();
        ft.fold("Жапаров, ОДКБ и Kyrgyzstan «ёлка»");
        let compact = ft.compact().to_vec();
        let want: Vec<u8> = "жапаров, одкб и kyrgyzstan «елка»"
            .chars()
            .flat_map(|c| match c as u32 {
                cp @ 0x400..=0x47F => vec![0x80 | (cp - 0x400) as u8],
                _ => c.to_string().into_bytes(),
            })
            .collect();
        assert_eq!(compact, want);
    }

    #[test]
    fn other_characters_are_neither_ascii_nor_basic_cyrillic() {
        assert!(!has_other(b"tokar"));
        assert!(!has_other("лавр".as_bytes()));
        assert!(!has_other(&"лавр".as_bytes()[..7]));
        assert!(has_other("caf\u{e9}".as_bytes()));
        assert!(has_other("\u{212a}".as_bytes()));
        assert!(has_other("ла\u{1c80}р".as_bytes()));
    }

    #[test]
    fn literals_fold_like_text_and_lose_a_cut_lead_byte() {
        let mut l = "ЛАВ".as_bytes().to_vec();
        fold_literal(&mut l);
        assert_eq!(l, "лав".as_bytes());
        let mut cut = "ЛАВ".as_bytes()[..5].to_vec();
        fold_literal(&mut cut);
        assert_eq!(cut, "ла".as_bytes());
    }

    proptest::proptest! {
        /// The vectorised block and the byte-at-a-time definition agree on every byte
        /// and both masks.
        #[test]
        fn vector_and_scalar_blocks_agree(text in "[a-zA-Z0-9 .,«»—ёЁА-яЀ-ѿ\u{301}é҂ᲀ]{0,90}") {
            let mut input = vec![0u8];
            input.extend_from_slice(text.as_bytes());
            let blocks = text.len().div_ceil(64);
            input.resize(blocks * 64 + 2, 0);
            for b in 0..blocks {
                let (mut got, mut want) = (vec![0u8; blocks * 64], [0u8; 64]);
                let got_masks = fold_block(&input, &mut got, b * 64);
                let want_masks = scalar_block(&input[b * 64..b * 64 + 66], &mut want);
                proptest::prop_assert_eq!(got_masks, want_masks);
                proptest::prop_assert_eq!(&got[b * 64..b * 64 + 64], &want[..]);
            }
        }

        /// Whichever vectors the machine has (AVX2 here, where it has them), the whole
        /// value folds as the byte-at-a-time definition says.
        #[test]
        fn the_widest_vectors_agree_with_the_scalar_definition(
            text in "[a-zA-Z0-9 .,«»—ёЁА-яЀ-ѿ\u{301}é҂ᲀ]{0,150}"
        ) {
            let mut ft = FoldedText::new();
            ft.fold(&text);
            let mut input = vec![0u8];
            input.extend_from_slice(text.as_bytes());
            let blocks = text.len().div_ceil(64);
            input.resize(blocks * 64 + 2, 0);
            for b in 0..blocks {
                let mut want = [0u8; 64];
                let masks = scalar_block(&input[b * 64..b * 64 + 66], &mut want);
                proptest::prop_assert_eq!((ft.word_bits[b], ft.other_bits[b]), masks);
                proptest::prop_assert_eq!(&ft.folded[b * 64..b * 64 + 64], &want[..]);
            }
        }

        /// The vectorised compact form is the byte-at-a-time one, at every length (the
        /// 32-byte chunks cut Cyrillic pairs).
        #[test]
        fn the_compact_form_is_the_scalar_one(
            text in "[a-zA-Z0-9 .,«»—ёЁА-яЀ-ѿ\u{301}é҂ᲀ]{0,150}"
        ) {
            let mut ft = FoldedText::new();
            ft.fold(&text);
            let want = compact_literal(ft.bytes());
            proptest::prop_assert_eq!(ft.compact(), &want[..]);
        }

        /// Words, folded forms and spans are the general tokenizer's on any text.
        #[test]
        fn the_scan_finds_the_general_tokenizer_s_words(
            text in "[a-zA-Z0-9 .,'«»—ёЁА-яЀ-ѿ\u{301}é҂ᲀ]{0,200}"
        ) {
            proptest::prop_assert_eq!(scan(&text), general(&text));
        }
    }
}
