//! The word tokenizer: a byte-class fast path for ASCII and basic Cyrillic words,
//! the general Unicode path for everything else.

use std::ops::Range;

use unicode_normalization::char::is_combining_mark;

use super::{fold_into, is_word_char};

/// Byte classes for the tokenizer's fast path.
const SEP: u8 = 0;
const LOWER: u8 = 1;
const UPPER: u8 = 2;
/// Lead byte of U+0400..U+047F (basic Cyrillic).
const CYR: u8 = 3;
/// Any other non-ASCII byte: the general path decides.
const OTHER: u8 = 4;

static CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut b = 0;
    while b < 0x80 {
        let c = b as u8;
        t[b] = if c.is_ascii_uppercase() {
            UPPER
        } else if c.is_ascii_alphanumeric() {
            LOWER
        } else {
            SEP
        };
        b += 1;
    }
    t[0xD0] = CYR;
    t[0xD1] = CYR;
    t
};

/// Folded form of a basic Cyrillic code point U+0400..U+047F.
const fn fold_cyrillic(cp: u32) -> u32 {
    match cp {
        0x401 | 0x451 => 0x435,
        0x400..=0x40F => cp + 0x50,
        0x410..=0x42F => cp + 0x20,
        0x460..=0x47F => cp | 1,
        _ => cp,
    }
}

/// U+0400..U+047F, indexed by `cp - 0x400` → its folded form, also as `cp - 0x400`.
/// Both are encoded in UTF-8 as 0xD0 or 0xD1 followed by one continuation byte, so
/// the index of a pair `(lead, b2)` is [`cyr_index`] and folding keeps the length.
pub(super) static FOLD_CYR: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        t[i] = (fold_cyrillic(0x400 + i as u32) - 0x400) as u8;
        i += 1;
    }
    t
};

/// Index into [`FOLD_CYR`] of the two-byte character `lead` (0xD0 or 0xD1), `b2`.
#[inline]
pub(super) fn cyr_index(lead: u8, b2: u8) -> usize {
    usize::from((lead & 1) << 6 | (b2 & 0x3F))
}

/// Calls `f(folded word, byte span)` for each word of `text`, in order. `buf` is
/// scratch space for folding, reused across calls so the hot path does not allocate.
///
/// Words made of ASCII and basic Cyrillic letters (nearly all of English and Russian
/// news) are scanned with a byte-class table and no Unicode tables; a word that is
/// already folded (no capital, no `ё`) is passed straight from `text` without copying.
/// Anything else falls back to the general [`fold_into`].
pub fn for_each_word(text: &str, buf: &mut String, mut f: impl FnMut(&str, Range<usize>)) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let class = CLASS[usize::from(bytes[i])];
        if class == SEP {
            i += 1;
            continue;
        }
        if class == OTHER || (class == CYR && !is_cyr_pair(bytes, i)) {
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            if !is_word_char(c) {
                i += c.len_utf8();
                continue;
            }
        }
        let start = i;
        // One call of `f` below, so that it is inlined here.
        let word = match fast_word(text, start) {
            Some((end, true, _)) => {
                i = end;
                &text[start..end]
            }
            Some((end, false, ascii)) => {
                buf.clear();
                let word = &text[start..end];
                if ascii {
                    buf.push_str(word);
                    buf.make_ascii_lowercase();
                } else {
                    fold_fast(word, buf);
                }
                i = end;
                buf.as_str()
            }
            None => {
                let (end, _) = word_end(text, start);
                buf.clear();
                fold_into(&text[start..end], buf);
                i = end;
                buf.as_str()
            }
        };
        f(word, start..i);
    }
}

/// `bytes[i]` (0xD0 or 0xD1) starts a two-byte character U+0400..U+047F.
#[inline]
fn is_cyr_pair(bytes: &[u8], i: usize) -> bool {
    bytes.get(i + 1).is_some_and(|&b| (0x80..0xC0).contains(&b))
}

/// Scans a word of ASCII alphanumerics and U+0400..U+047F letters starting at `start`.
/// Returns its end, whether it is already folded, and whether it is all ASCII; `None`
/// when the word contains anything else (another letter or a combining mark), for the
/// general path to redo.
///
/// Runs of lowercase ASCII and runs of Cyrillic pairs each have their own tight loop:
/// a word rarely switches script, and one capital at its start costs one extra step.
#[inline(always)]
fn fast_word(text: &str, start: usize) -> Option<(usize, bool, bool)> {
    let bytes = text.as_bytes();
    let mut j = start;
    let (mut clean, mut ascii) = (true, true);
    loop {
        while let Some(&b) = bytes.get(j)
            && CLASS[usize::from(b)] == LOWER
        {
            j += 1;
        }
        let Some(&b) = bytes.get(j) else { break };
        match CLASS[usize::from(b)] {
            UPPER => {
                clean = false;
                j += 1;
            }
            CYR if is_cyr_pair(bytes, j) => {
                ascii = false;
                // Both bytes at once: lead 0xD0 or 0xD1, then a continuation byte.
                while let Some(&[lead, b2]) = bytes.get(j..j + 2)
                    && u16::from_le_bytes([lead, b2]) & 0xC0FE == 0x80D0
                {
                    let k = cyr_index(lead, b2);
                    clean &= usize::from(FOLD_CYR[k]) == k;
                    j += 2;
                }
            }
            SEP => break,
            _ => {
                // Another letter or a combining mark continues the word: general path.
                let c = text.get(j..)?.chars().next()?;
                if is_word_char(c) || is_combining_mark(c) {
                    return None;
                }
                break;
            }
        }
    }
    Some((j, clean, ascii))
}

/// Folds a word of ASCII and U+0400..U+047F characters (as [`fast_word`] accepted),
/// copying the unchanged runs between the characters that fold (usually only the
/// capital at the start).
fn fold_fast(word: &str, buf: &mut String) {
    let bytes = word.as_bytes();
    let (mut run, mut k) = (0, 0);
    while let Some(&b) = bytes.get(k) {
        if b < 0x80 {
            if b.is_ascii_uppercase() {
                buf.push_str(word.get(run..k).unwrap_or_default());
                buf.push(char::from(b.to_ascii_lowercase()));
                run = k + 1;
            }
            k += 1;
            continue;
        }
        let i = cyr_index(b, bytes.get(k + 1).copied().unwrap_or(0));
        let folded = FOLD_CYR[i];
        if usize::from(folded) != i {
            buf.push_str(word.get(run..k).unwrap_or_default());
            buf.extend(char::from_u32(0x400 + u32::from(folded)));
            run = k + 2;
        }
        k += 2;
    }
    buf.push_str(word.get(run..).unwrap_or_default());
}

/// End of the word starting at `start` (a word character), and whether it is all ASCII.
#[inline]
fn word_end(text: &str, start: usize) -> (usize, bool) {
    let bytes = text.as_bytes();
    let mut j = start;
    let mut ascii = true;
    while j < bytes.len() {
        let b = bytes[j];
        if b < 0x80 {
            if b.is_ascii_alphanumeric() {
                j += 1;
                continue;
            }
            break;
        }
        match text[j..].chars().next() {
            Some(c) if is_word_char(c) || is_combining_mark(c) => {
                ascii = false;
                j += c.len_utf8();
            }
            _ => break,
        }
    }
    (j, ascii)
}
