//! Snippets and highlighting: finding the matched words in an item's text, cutting a
//! window of about 300 characters around the first one, and cleaning feed text of
//! control characters so it can go into a terminal, a header or a chat message.

use std::ops::Range;

/// Default length of a snippet in characters.
pub const SNIPPET_CHARS: usize = 300;

/// How much of the snippet comes before the first match, in characters.
const LEAD_CHARS: usize = 100;

/// Bounds the highlighter's regex: items rarely match more than a handful of phrases,
/// and a huge alternation would only cost time.
const MAX_PHRASES: usize = 64;

/// Feed text reduced to one clean line: control characters (including CR, LF, tab and
/// the C1 range, which terminals interpret) and Unicode line/paragraph separators become
/// spaces, runs of whitespace collapse to one space, ends are trimmed.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    let mut push = |out: &mut String, c: char, blank: bool| {
        if blank {
            pending_space = !out.is_empty();
            return;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    };
    let mut i = 0;
    while let Some(&b) = s.as_bytes().get(i) {
        if b.is_ascii() {
            // Printable ASCII, most of any feed's text, needs no decoding and no table
            // lookups; every other ASCII byte is whitespace or a control character.
            push(&mut out, char::from(b), !(0x21..0x7f).contains(&b));
            i += 1;
            continue;
        }
        // `i` is always at a character boundary: it moves by whole characters.
        let Some(c) = s[i..].chars().next() else {
            break;
        };
        let blank = c.is_whitespace() || c.is_control() || is_invisible_format(c);
        push(&mut out, c, blank);
        i += c.len_utf8();
    }
    out
}

/// Bidi overrides and zero-width characters can disguise text in a terminal or a mail
/// client; they have no place in a one-line title.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Truncates to at most `max` characters, ending in `…` when something was cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let keep = max.saturating_sub(1);
    let mut out: String = s.chars().take(keep).collect();
    out.push('…');
    out
}

/// Finds an item's matched words and phrases in text the way rules see text: word by
/// word, case and diacritics folded (`CSTO` is found in "the csto summit", not in
/// "CSTOX"; `Japarov` in "Japárov"). No regex is compiled, so highlighting stays cheap
/// however many items a digest holds.
#[derive(Debug, Clone)]
pub struct Highlighter {
    /// Each phrase as folded words.
    phrases: Vec<Vec<String>>,
}

impl Highlighter {
    /// Builds a highlighter for the given phrases. Phrases without words are ignored.
    pub fn new(matched: &[String]) -> Highlighter {
        let mut seen = std::collections::HashSet::new();
        let phrases = matched
            .iter()
            .map(|m| crate::text::words(m))
            .filter(|words| !words.is_empty())
            .filter(|words| seen.insert(words.join(" ")))
            .take(MAX_PHRASES)
            .collect();
        Highlighter { phrases }
    }

    /// Byte ranges of the matches in `text`, in order, not overlapping; where two
    /// overlap, the one starting first wins, then the longer one.
    pub fn find(&self, text: &str) -> Vec<Range<usize>> {
        let mut found: Vec<Range<usize>> = Vec::new();
        if !self.phrases.is_empty() {
            let mut words = crate::text::Words::new();
            words.push_text(text);
            let n = words.len();
            for start in 0..n {
                for phrase in &self.phrases {
                    let len = phrase.len();
                    if start + len <= n
                        && phrase
                            .iter()
                            .enumerate()
                            .all(|(k, w)| words.folded(start + k) == w)
                    {
                        found.push(words.span(start).start..words.span(start + len - 1).end);
                    }
                }
            }
        }
        found.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
        let mut out: Vec<Range<usize>> = Vec::with_capacity(found.len());
        for r in found {
            if out.last().is_none_or(|last| r.start >= last.end) {
                out.push(r);
            }
        }
        out
    }
}

/// A piece of text with the matched words marked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marked {
    pub text: String,
    /// Byte ranges into `text`.
    pub marks: Vec<Range<usize>>,
}

impl Marked {
    /// Marks every match of `hl` in the (already cleaned) text.
    pub fn new(text: String, hl: &Highlighter) -> Marked {
        let marks = hl.find(&text);
        Marked { text, marks }
    }

    /// Renders the text, passing unmarked pieces through `plain` and marked ones through
    /// `mark` (which is given the piece unescaped and does its own escaping).
    pub fn render(&self, plain: impl Fn(&str) -> String, mark: impl Fn(&str) -> String) -> String {
        let mut out = String::with_capacity(self.text.len() + 16);
        let mut pos = 0;
        for r in &self.marks {
            out.push_str(&plain(&self.text[pos..r.start]));
            out.push_str(&mark(&self.text[r.clone()]));
            pos = r.end;
        }
        out.push_str(&plain(&self.text[pos..]));
        out
    }
}

/// A window of about `max_chars` characters of `text` around the first match, cut at
/// spaces, with `…` where text was left out, and every match in it marked.
pub fn snippet(text: &str, hl: &Highlighter, max_chars: usize) -> Marked {
    let clean = one_line(text);
    let total = clean.chars().count();
    if total <= max_chars {
        return Marked::new(clean, hl);
    }
    // Char index → byte offset, with one entry past the end.
    let offsets: Vec<usize> = clean
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(clean.len()))
        .collect();
    let marks = hl.find(&clean);
    let first = marks.first().map_or(0, |r| r.start);
    let first_char = offsets.partition_point(|&b| b < first);

    let mut start = first_char.saturating_sub(LEAD_CHARS).min(total - max_chars);
    if start > 0 {
        // Begin at a word start rather than mid-word.
        if let Some(sp) = (start..first_char).find(|&i| clean[offsets[i]..].starts_with(' ')) {
            start = sp + 1;
        }
    }
    let mut end = (start + max_chars).min(total);
    if end < total {
        let floor = first_char.max(start + 1);
        if let Some(sp) = (floor..end)
            .rev()
            .find(|&i| clean[offsets[i]..].starts_with(' '))
        {
            end = sp;
        }
    }
    // The window's bytes without the space it may begin or end with (`clean` has single
    // spaces only, and none at either end).
    let window = &clean[offsets[start]..offsets[end]];
    let from = offsets[start] + (window.len() - window.trim_start().len());
    let to = from + window.trim().len();
    let mut out = String::with_capacity(to - from + 6);
    if start > 0 {
        out.push('…');
    }
    let shift = out.len();
    out.push_str(&clean[from..to]);
    if end < total {
        out.push('…');
    }
    // The matches already found in the whole text, those the window holds entirely: a
    // word cut at the window's edge is not highlighted as if it were whole.
    let marks = marks
        .into_iter()
        .filter(|r| r.start >= from && r.end <= to)
        .map(|r| r.start - from + shift..r.end - from + shift)
        .collect();
    Marked { text: out, marks }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hl(words: &[&str]) -> Highlighter {
        Highlighter::new(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    fn marked(words: &[&str], text: &str) -> Vec<String> {
        let h = hl(words);
        h.find(text)
            .into_iter()
            .map(|r| text[r].to_string())
            .collect()
    }

    #[test]
    fn highlighter_cases() {
        let cases: &[(&[&str], &str, &[&str])] = &[
            (&["CSTO"], "The csto summit; CSTO again", &["csto", "CSTO"]),
            (&["CSTO"], "CSTOX and XCSTO are other words", &[]),
            (&["CSTO"], "(CSTO).", &["CSTO"]),
            (&["ОДКБ"], "Саммит одкб в Бишкеке", &["одкб"]),
            (
                &["Lavrov", "Sergei Lavrov"],
                "Sergei  Lavrov met Lavrov",
                &["Sergei  Lavrov", "Lavrov"],
            ),
            // Highlighting follows the word model rules use: punctuation is not part of a word.
            (&["C++"], "learn C++ now", &["C"]),
            (&["Japárov"], "President JAPAROV spoke", &["JAPAROV"]),
            (&["a.b"], "axb a.b", &["a.b"]),
            (&[""], "anything", &[]),
            (&["   "], "anything", &[]),
            (&[], "anything", &[]),
        ];
        for (words, text, want) in cases {
            assert_eq!(marked(words, text), *want, "{words:?} in {text:?}");
        }
    }

    #[test]
    fn longer_phrase_failing_boundary_does_not_hide_shorter_one() {
        assert_eq!(
            marked(&["CSTO summit", "CSTO"], "CSTO summitry"),
            vec!["CSTO"]
        );
        assert_eq!(
            marked(&["CSTO", "CSTO summit"], "the CSTO summit"),
            vec!["CSTO summit"]
        );
    }

    #[test]
    fn one_line_strips_controls_and_collapses() {
        let cases = [
            ("Evil\r\nBcc: x@y", "Evil Bcc: x@y"),
            ("  a\t\tb  ", "a b"),
            ("esc\u{1b}[31mred", "esc [31mred"),
            ("c1\u{9b}x", "c1 x"),
            ("bidi\u{202e}txt", "bidi txt"),
            ("line\u{2028}sep", "line sep"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(one_line(input), want, "{input:?}");
        }
    }

    /// `one_line` as first written, one `char` at a time: the byte loop must agree.
    fn one_line_by_chars(s: &str) -> String {
        let mut out = String::new();
        let mut pending_space = false;
        for c in s.chars() {
            if c.is_whitespace() || c.is_control() || is_invisible_format(c) {
                pending_space = !out.is_empty();
                continue;
            }
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn one_line_matches_its_definition(
            s in "[a-zЛ~! \t\r\n\x00\x1b\x7f\u{85}\u{a0}\u{9b}\u{200b}\u{202e}\u{2028}\u{feff}\u{1F600}.]{0,40}"
        ) {
            proptest::prop_assert_eq!(one_line(&s), one_line_by_chars(&s));
        }

        /// The marks carried over from the whole text are the ones a search of the
        /// window finds, except a word the window's edge cuts (no space to cut at), which
        /// the window alone would take for a whole word.
        #[test]
        fn window_marks_are_the_windows_matches(
            words in proptest::collection::vec("(csto|ОДКБ|lavrov|the|[a-zа-я]{1,9})", 1..120),
            max in 8usize..120,
        ) {
            let text = words.join(" ");
            let h = hl(&["CSTO", "одкб", "Lavrov"]);
            let m = snippet(&text, &h, max);
            let window = m.text.trim_start_matches('…').trim_end_matches('…');
            let lead = m.text.len() - m.text.trim_start_matches('…').len();
            let refound: Vec<Range<usize>> = h
                .find(window)
                .into_iter()
                .map(|r| r.start + lead..r.end + lead)
                .collect();
            for r in &m.marks {
                proptest::prop_assert!(refound.contains(r), "{:?} not in {:?} of {:?}", r, refound, m.text);
            }
            for r in refound.iter().filter(|r| !m.marks.contains(r)) {
                let at_edge = r.start == lead || r.end == lead + window.len();
                proptest::prop_assert!(at_edge, "{:?} missing from {:?} of {:?}", r, m.marks, m.text);
            }
        }
    }

    #[test]
    fn snippet_short_text_is_whole() {
        let m = snippet("Short text about CSTO.", &hl(&["csto"]), 300);
        assert_eq!(m.text, "Short text about CSTO.");
        assert_eq!(m.marks.len(), 1);
    }

    #[test]
    fn snippet_windows_around_first_match() {
        let before = "word ".repeat(200);
        let after = " tail".repeat(200);
        let text = format!("{before}the CSTO summit{after}");
        let m = snippet(&text, &hl(&["CSTO"]), 300);
        assert!(
            m.text.starts_with('…') && m.text.ends_with('…'),
            "{}",
            m.text
        );
        assert!(m.text.chars().count() <= 302, "{}", m.text.chars().count());
        assert_eq!(m.marks.len(), 1);
        assert_eq!(&m.text[m.marks[0].clone()], "CSTO");
        // Cut at spaces: no partial words at either end.
        assert!(m.text.trim_start_matches('…').starts_with("word "));
        assert!(m.text.trim_end_matches('…').ends_with("tail"));
    }

    #[test]
    fn snippet_without_match_starts_at_beginning() {
        let text = "alpha ".repeat(100);
        let m = snippet(&text, &hl(&["zzz"]), 50);
        assert!(m.text.starts_with("alpha"));
        assert!(m.text.ends_with('…'));
        assert!(m.marks.is_empty());
    }

    #[test]
    fn snippet_handles_multibyte_and_no_spaces() {
        let text = "я".repeat(1000) + "ОДКБ" + &"ю".repeat(1000);
        let m = snippet(&text, &hl(&["одкб"]), 300);
        assert!(m.text.chars().count() <= 302);
        // Not a word boundary (letters on both sides), so nothing is marked; no panic.
        assert!(m.marks.is_empty());
    }

    #[test]
    fn snippet_does_not_mark_what_its_edge_cuts() {
        // The phrase runs past the window: the window alone would highlight "CSTO" as if
        // the text said only that.
        let text = format!(
            "{} the CSTO summit{}",
            "word ".repeat(10),
            " tail".repeat(10)
        );
        let h = hl(&["CSTO summit", "CSTO"]);
        let whole = snippet(&text, &h, 500);
        assert_eq!(whole.marks.len(), 1);
        assert_eq!(&whole.text[whole.marks[0].clone()], "CSTO summit");
        let cut = snippet(&text, &h, 62);
        assert!(cut.text.ends_with("CSTO…"), "{}", cut.text);
        assert!(cut.marks.is_empty(), "{:?} in {}", cut.marks, cut.text);
        // A word cut where no space was found is no match either.
        let m = snippet(&format!("{}CSTOX", "я".repeat(40)), &hl(&["csto"]), 44);
        assert!(
            m.text.ends_with("CSTO…") || !m.text.contains("CSTO"),
            "{}",
            m.text
        );
        assert!(m.marks.is_empty(), "{:?} in {}", m.marks, m.text);
    }

    #[test]
    fn render_marks() {
        let m = Marked::new("a <CSTO> b".into(), &hl(&["csto"]));
        let out = m.render(
            |s| s.replace('<', "&lt;").replace('>', "&gt;"),
            |s| format!("<b>{s}</b>"),
        );
        assert_eq!(out, "a &lt;<b>CSTO</b>&gt; b");
    }

    #[test]
    fn truncate_chars_cases() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "ab…");
        assert_eq!(truncate_chars("ячсм", 2), "я…");
        assert_eq!(truncate_chars("abc", 0), "…");
    }
}
