//! The text model shared by rules and matching: case and diacritic folding, and the
//! word tokenizer.
//!
//! A word is a maximal run of Unicode letters and digits; combining marks stay with the
//! letter before them; everything else (spaces, punctuation, apostrophes, hyphens,
//! quotes) separates words. Folding is full Unicode lowercase, then Latin diacritics are
//! removed (`Japárov` → `japarov`) and Russian `ё` becomes `е`. Marks on non-Latin
//! letters are kept, so Cyrillic `й` stays `й`.
//!
//! This runs on every field of every item, so the common cases (ASCII words, basic
//! Cyrillic) avoid Unicode tables, and [`Words`] reuses its buffers between calls.

mod scan;
#[cfg(test)]
mod tests;
mod tokenize;
mod words;

pub use scan::FoldedText;
pub(crate) use scan::{compact_literal, fold_literal, has_other};
pub use tokenize::for_each_word;
pub use words::{Word, Words, words};

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// Returns `s` folded: lowercase, Latin diacritics removed, `ё` → `е`.
///
/// Folding works on any text, but only words are ever compared; separators are kept
/// as they are (lowercased).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(s, &mut out);
    out
}

/// Appends the folded form of `s` to `out`.
pub fn fold_into(s: &str, out: &mut String) {
    let start = out.len();
    if s.is_ascii() {
        out.push_str(s);
        if let Some(added) = out.get_mut(start..) {
            added.make_ascii_lowercase();
        }
        return;
    }
    let mut st = FoldState::default();
    for c in s.chars() {
        fold_char(c, out, &mut st);
    }
    if st.needs_nfc {
        // A decomposed non-Latin letter (e.g. `и` + breve) must compare equal to its
        // composed form (`й`), which is how queries and most texts spell it.
        let composed: String = out[start..].nfc().collect();
        out.truncate(start);
        out.push_str(&composed);
    }
}

#[derive(Default)]
struct FoldState {
    /// The last base letter written was Latin: its combining marks are dropped.
    after_latin: bool,
    /// The last base letter written was Cyrillic `е`: a following diaeresis is dropped.
    after_ie: bool,
    /// A combining mark was kept, so the output must be recomposed.
    needs_nfc: bool,
}

fn fold_char(c: char, out: &mut String, st: &mut FoldState) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        st.after_latin = c.is_ascii_alphabetic();
        st.after_ie = false;
        return;
    }
    // Basic Cyrillic: no table lookups. `й` (U+0439) is in this range and must not
    // go through decomposition, which would split off its breve.
    if ('\u{410}'..='\u{44F}').contains(&c) || c == 'ё' || c == 'Ё' {
        let lower = match c {
            'ё' | 'Ё' => 'е',
            'А'..='Я' => char::from_u32(c as u32 + 0x20).unwrap_or(c),
            _ => c,
        };
        out.push(lower);
        st.after_latin = false;
        st.after_ie = lower == 'е';
        return;
    }
    if is_combining_mark(c) {
        fold_mark(c, out, st);
        return;
    }
    for lc in c.to_lowercase() {
        if lc.is_ascii() {
            out.push(lc);
            st.after_latin = lc.is_ascii_alphabetic();
            st.after_ie = false;
        } else if is_combining_mark(lc) {
            fold_mark(lc, out, st);
        } else {
            fold_letter(lc, out, st);
        }
    }
}

fn fold_mark(m: char, out: &mut String, st: &mut FoldState) {
    if st.after_latin || (st.after_ie && m == '\u{308}') {
        return;
    }
    out.push(m);
    st.needs_nfc = true;
}

/// A lowercase non-ASCII, non-mark character.
fn fold_letter(c: char, out: &mut String, st: &mut FoldState) {
    if c == 'ё' {
        out.push('е');
        st.after_latin = false;
        st.after_ie = true;
        return;
    }
    let mut base = None;
    let mut extra_base = false;
    decompose_canonical(c, |d| {
        if base.is_none() {
            base = Some(d);
        } else if !is_combining_mark(d) {
            extra_base = true;
        }
    });
    match base {
        Some(b) if is_latin(b) && !extra_base => {
            out.push(b);
            st.after_latin = true;
        }
        _ => {
            out.push(c);
            st.after_latin = is_latin(c);
        }
    }
    st.after_ie = false;
}

/// Latin-script letters outside ASCII (Latin-1 Supplement through Latin Extended-E).
fn is_latin(c: char) -> bool {
    c.is_ascii_alphabetic()
        || matches!(c,
            '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{24F}'
            | '\u{250}'..='\u{2AF}' | '\u{1D00}'..='\u{1DBF}' | '\u{1E00}'..='\u{1EFF}'
            | '\u{2C60}'..='\u{2C7F}' | '\u{A720}'..='\u{A7FF}' | '\u{AB30}'..='\u{AB6F}'
            | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}')
}

/// Whether `c` can start (and continue) a word.
#[inline]
fn is_word_char(c: char) -> bool {
    // Latin-1 letters and the Cyrillic block cover most non-ASCII news text; the
    // general Unicode table lookup is several times slower.
    match c {
        '\u{C0}'..='\u{FF}' => c != '\u{D7}' && c != '\u{F7}',
        '\u{400}'..='\u{481}' | '\u{48A}'..='\u{4FF}' => true,
        '\u{482}'..='\u{489}' => false,
        _ => c.is_alphanumeric(),
    }
}
