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

use std::ops::Range;

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

/// One word of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word<'a> {
    /// Position of the word among all words pushed into the [`Words`] since the last clear.
    pub pos: usize,
    /// The folded word.
    pub folded: &'a str,
    /// Byte span of the word in the text it came from.
    pub span: Range<usize>,
}

#[derive(Debug, Clone, Copy)]
struct Rec {
    fold_start: usize,
    fold_end: usize,
    start: usize,
    end: usize,
}

/// A reusable word buffer: the folded words of one or more texts with their positions
/// and byte spans. Clearing keeps the allocations, so tokenizing item after item does
/// not allocate once the buffers have grown.
#[derive(Debug, Default, Clone)]
pub struct Words {
    folded: String,
    recs: Vec<Rec>,
    tmp: String,
}

impl Words {
    pub fn new() -> Words {
        Words::default()
    }

    pub fn clear(&mut self) {
        self.folded.clear();
        self.recs.clear();
    }

    /// Appends the words of `text`. Positions continue from the words already held;
    /// returns the positions given to this text's words.
    pub fn push_text(&mut self, text: &str) -> Range<usize> {
        let first = self.recs.len();
        let Words { folded, recs, tmp } = self;
        for_each_word(text, tmp, |w, span| {
            let fold_start = folded.len();
            folded.push_str(w);
            recs.push(Rec {
                fold_start,
                fold_end: folded.len(),
                start: span.start,
                end: span.end,
            });
        });
        first..self.recs.len()
    }

    /// Number of words held.
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// The folded word at `pos`, or "" past the end.
    pub fn folded(&self, pos: usize) -> &str {
        match self.recs.get(pos) {
            Some(r) => &self.folded[r.fold_start..r.fold_end],
            None => "",
        }
    }

    /// Byte span of the word at `pos` in its text (empty past the end).
    pub fn span(&self, pos: usize) -> Range<usize> {
        match self.recs.get(pos) {
            Some(r) => r.start..r.end,
            None => 0..0,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Word<'_>> {
        self.recs.iter().enumerate().map(|(pos, r)| Word {
            pos,
            folded: &self.folded[r.fold_start..r.fold_end],
            span: r.start..r.end,
        })
    }

    /// Bytes held by the buffers.
    pub fn heap_bytes(&self) -> usize {
        self.folded.capacity()
            + self.tmp.capacity()
            + self.recs.capacity() * std::mem::size_of::<Rec>()
    }
}

/// The folded words of `text`, in order (convenience over [`Words`]).
pub fn words(text: &str) -> Vec<String> {
    let mut w = Words::new();
    w.push_text(text);
    w.iter().map(|w| w.folded.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        let cases = [
            ("Kyrgyzstan", "kyrgyzstan"),
            ("KYRGYZSTAN", "kyrgyzstan"),
            ("Japárov", "japarov"),
            ("Japa\u{301}rov", "japarov"),
            ("ÉCOLE Ångström Über", "ecole angstrom uber"),
            ("Łódź", "łodz"),
            ("ЛАВРОВ", "лавров"),
            ("Лавров", "лавров"),
            ("ёлка Ёжик", "елка ежик"),
            ("е\u{308}лка", "елка"),
            ("Й й", "й й"),
            ("и\u{306}", "й"),
            ("ЎЗБЕКИСТОН", "ўзбекистон"),
            ("Straße", "straße"),
            ("ΑΘΗΝΑ Άθως", "αθηνα άθως"),
            ("İstanbul", "istanbul"),
            ("Їжак", "їжак"),
        ];
        for (input, want) in cases {
            assert_eq!(fold(input), want, "fold({input:?})");
        }
    }

    fn toks(text: &str) -> Vec<(String, String)> {
        let mut w = Words::new();
        w.push_text(text);
        w.iter()
            .map(|w| (w.folded.to_string(), text[w.span].to_string()))
            .collect()
    }

    #[test]
    fn tokenizing() {
        let cases: &[(&str, &[&str])] = &[
            ("Kyrgyzstan’s capital", &["kyrgyzstan", "s", "capital"]),
            ("Kyrgyzstan's", &["kyrgyzstan", "s"]),
            ("Russian-Kyrgyz talks", &["russian", "kyrgyz", "talks"]),
            ("«Лавров» — в Бишкеке", &["лавров", "в", "бишкеке"]),
            (
                "\"CSTO\" (ОДКБ), 2024-05-01",
                &["csto", "одкб", "2024", "05", "01"],
            ),
            ("Japa\u{301}rov said", &["japarov", "said"]),
            ("\u{301}orphan mark", &["orphan", "mark"]),
            ("Садыр Жапаров", &["садыр", "жапаров"]),
            ("Йошкар-Ола", &["йошкар", "ола"]),
            ("5×3 ÷ 2 naïve ҂1", &["5", "3", "2", "naive", "1"]),
            ("  ", &[]),
            ("", &[]),
        ];
        for (text, want) in cases {
            let got: Vec<String> = toks(text).into_iter().map(|(f, _)| f).collect();
            assert_eq!(&got, want, "words of {text:?}");
        }
    }

    #[test]
    fn fast_path_folds_like_the_general_path() {
        let mut buf = String::new();
        let chars = (0x400..0x480)
            .chain(0x30..0x3A)
            .chain(0x41..0x5B)
            .chain(0x61..0x7B)
            .filter_map(char::from_u32);
        for c in chars {
            let word = format!("a{c}Б{c}");
            let mut got = Vec::new();
            for_each_word(&word, &mut buf, |w, span| got.push((w.to_string(), span)));
            assert_eq!(
                got,
                [(fold(&word), 0..word.len())],
                "{c:?} U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn spans_point_at_original_text() {
        let got = toks("Foreign Minister LAVROV’s visit to Japárov");
        let surfaces: Vec<&str> = got.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(
            surfaces,
            [
                "Foreign", "Minister", "LAVROV", "s", "visit", "to", "Japárov"
            ]
        );
    }

    #[test]
    fn positions_continue_across_texts_and_buffers_are_reused() {
        let mut w = Words::new();
        assert_eq!(w.push_text("one two"), 0..2);
        assert_eq!(w.push_text("Три"), 2..3);
        assert_eq!(w.folded(2), "три");
        assert_eq!(w.folded(9), "");
        w.clear();
        assert!(w.is_empty());
        assert_eq!(w.push_text("again"), 0..1);
        assert_eq!(w.span(0), 0..5);
    }
}
