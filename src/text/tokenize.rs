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
#[inline]
fn fold_cyrillic(cp: u32) -> u32 {
    match cp {
        0x401 | 0x451 => 0x435,
        0x400..=0x40F => cp + 0x50,
        0x410..=0x42F => cp + 0x20,
        0x460..=0x47F => cp | 1,
        _ => cp,
    }
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
        match fast_word(text, start) {
            Some((end, clean, ascii)) => {
                let word = &text[start..end];
                if clean {
                    f(word, start..end);
                } else {
                    buf.clear();
                    if ascii {
                        buf.push_str(word);
                        buf.make_ascii_lowercase();
                    } else {
                        fold_fast(word, buf);
                    }
                    f(buf, start..end);
                }
                i = end;
            }
            None => {
                let (end, _) = word_end(text, start);
                buf.clear();
                fold_into(&text[start..end], buf);
                f(buf, start..end);
                i = end;
            }
        }
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
#[inline]
fn fast_word(text: &str, start: usize) -> Option<(usize, bool, bool)> {
    let bytes = text.as_bytes();
    let mut j = start;
    let (mut clean, mut ascii) = (true, true);
    while j < bytes.len() {
        let b = bytes[j];
        match CLASS[usize::from(b)] {
            LOWER => j += 1,
            UPPER => {
                clean = false;
                j += 1;
            }
            CYR if is_cyr_pair(bytes, j) => {
                let b2 = bytes[j + 1];
                // Capitals U+0400..U+042F, `ё` U+0451, even (capital) U+0460..U+047F.
                let folds = if b == 0xD0 {
                    b2 < 0xB0
                } else {
                    b2 == 0x91 || (b2 >= 0xA0 && b2 & 1 == 0)
                };
                clean &= !folds;
                ascii = false;
                j += 2;
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
    let mut run = 0;
    for (k, c) in word.char_indices() {
        let folded = if c.is_ascii() {
            c.to_ascii_lowercase()
        } else {
            char::from_u32(fold_cyrillic(c as u32)).unwrap_or(c)
        };
        if folded != c {
            buf.push_str(&word[run..k]);
            buf.push(folded);
            run = k + c.len_utf8();
        }
    }
    buf.push_str(&word[run..]);
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
