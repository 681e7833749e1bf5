//! HTML to plain text, the form every rule matches against.
//!
//! One left-to-right pass over the input, no DOM: tags are dropped, block-level tags
//! become word breaks, inline tags vanish without a trace (so `<b>CS</b>TO` stays one
//! word), `script`/`style`/`noscript` bodies and comments are skipped, CDATA is kept
//! verbatim, and character references are decoded exactly once (the decoded text is never
//! looked at again, so `&amp;lt;` ends as the literal text `&lt;`). Whitespace runs,
//! `&nbsp;` included, collapse to one space and the result is trimmed.

/// Reduces HTML to text: tags removed (block tags separate words), entities decoded once.
pub fn html_to_text(s: &str) -> String {
    let mut out = TextSink::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    // Start of the pending run of ordinary text, copied in one go when markup interrupts it.
    let mut run = 0;
    // Only `<` and `&` interrupt a run of text: jump from one to the next (vectorised).
    while let Some(off) = bytes
        .get(i..)
        .and_then(|rest| memchr::memchr2(b'<', b'&', rest))
    {
        i += off;
        out.push_text(&s[run..i]);
        if bytes[i] == b'<' {
            if let Some((body, next)) = cdata(s, i) {
                // CDATA is text that must not be decoded.
                out.push_text(body);
                i = next;
                run = i;
                continue;
            }
            let (next, brk) = markup(s, i);
            if brk {
                out.word_break();
            }
            if next == i {
                // Not markup after all (`a < b`): keep the `<` as text.
                out.push_text("<");
                i += 1;
            } else {
                i = next;
            }
        } else {
            match decode_reference(s, i) {
                Some((decoded, next)) => {
                    decoded.push_to(&mut out);
                    i = next;
                }
                None => {
                    out.push_text("&");
                    i += 1;
                }
            }
        }
        run = i;
    }
    out.push_text(&s[run..]);
    out.finish()
}

/// Collapses whitespace runs to single spaces and trims, for text that is already plain.
pub fn collapse_whitespace(s: &str) -> String {
    let mut out = TextSink::with_capacity(s.len());
    out.push_text(s);
    out.finish()
}

/// Whether a byte is, or may start, whitespace or a control character other than the
/// ASCII space. Non-ASCII whitespace and controls (U+0080-U+00A0, U+1680, U+2000-U+205F,
/// U+3000) all start with 0xC2, 0xE1, 0xE2 or 0xE3: those lead bytes get a closer look;
/// every other non-ASCII byte, continuation bytes included, is part of an ordinary
/// character. Arithmetic only, so that a loop over it is vectorised.
const fn is_special(c: u8) -> bool {
    (c < 0x20) | (c == 0x7F) | (c == 0xC2) | (c.wrapping_sub(0xE1) < 3)
}

/// For [`TextSink::push_text`]: whether a byte is part of an ordinary character (neither
/// whitespace nor a control character, see [`is_special`]). A run of them ends only at an
/// ASCII byte or a special lead byte, both character boundaries.
static ORDINARY: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = c as u8 != b' ' && !is_special(c as u8);
        c += 1;
    }
    t
};

/// Collects text while collapsing whitespace; a space is only written once a later
/// non-space character proves it is not trailing.
struct TextSink {
    out: String,
    space: bool,
}

impl TextSink {
    fn with_capacity(n: usize) -> Self {
        TextSink {
            out: String::with_capacity(n),
            space: false,
        }
    }

    fn word_break(&mut self) {
        self.space = true;
    }

    fn push_char(&mut self, c: char) {
        if c.is_whitespace() {
            self.space = true;
        } else if c.is_control() {
            // Stray control characters carry no text; treat them as separators.
            self.space = true;
        } else {
            if self.space && !self.out.is_empty() {
                self.out.push(' ');
            }
            self.space = false;
            self.out.push(c);
        }
    }

    /// Copies runs of ordinary characters in one go (most text is one long run between
    /// spaces); whitespace and control characters only mark a pending space.
    fn push_text(&mut self, t: &str) {
        if self.push_simple(t) {
            return;
        }
        let b = t.as_bytes();
        let mut run = 0;
        let mut i = 0;
        while i < b.len() {
            // Ordinary characters, ASCII or not, and single spaces between them (what
            // collapsing would write anyway) stay in the run. Computed without branches,
            // so that the loop ends only where the text needs a change, not at every space.
            while let (Some(&c), Some(&n)) = (b.get(i), b.get(i + 1)) {
                let ordinary = ORDINARY[usize::from(c)];
                let inner_space = (c == b' ') & ORDINARY[usize::from(n)] & (i != run);
                if !(ordinary | inner_space) {
                    break;
                }
                i += 1;
            }
            if i + 1 == b.len() && ORDINARY[usize::from(b[i])] {
                i += 1;
            }
            let Some(&c) = b.get(i) else { break };
            if c < 0x80 {
                self.push_run(&t[run..i]);
                self.space = true;
                i += 1;
                run = i;
                continue;
            }
            // A lead byte of possible whitespace or a control character.
            let Some(ch) = t[i..].chars().next() else {
                break;
            };
            if ch.is_whitespace() || ch.is_control() {
                self.push_run(&t[run..i]);
                self.space = true;
                i += ch.len_utf8();
                run = i;
            } else {
                i += ch.len_utf8();
            }
        }
        self.push_run(&t[run..]);
    }

    /// The usual case, checked in two vectorised passes: text that collapsing leaves as it
    /// is (single spaces between ordinary characters, no other whitespace, no controls),
    /// save one space at either end. Pushes it and returns true; else returns false and
    /// pushes nothing.
    fn push_simple(&mut self, t: &str) -> bool {
        let lead = t.starts_with(' ');
        let body = &t[usize::from(lead)..];
        let trail = body.ends_with(' ');
        let body = &body[..body.len() - usize::from(trail)];
        let b = body.as_bytes();
        if b.first() == Some(&b' ') || b.last() == Some(&b' ') {
            return false;
        }
        let special = b.iter().fold(false, |acc, &c| acc | is_special(c));
        let doubled = b
            .iter()
            .zip(b.iter().skip(1))
            .fold(false, |acc, (&x, &y)| acc | ((x == b' ') & (y == b' ')));
        if special || doubled {
            return false;
        }
        if lead {
            self.space = true;
        }
        self.push_run(body);
        if trail {
            self.space = true;
        }
        true
    }

    /// A run without whitespace or control characters.
    fn push_run(&mut self, run: &str) {
        if run.is_empty() {
            return;
        }
        if self.space && !self.out.is_empty() {
            self.out.push(' ');
        }
        self.space = false;
        self.out.push_str(run);
    }

    fn finish(self) -> String {
        self.out
    }
}

/// Elements whose content is not text for a reader.
const SKIPPED_CONTENT: &[&str] = &["script", "style", "noscript", "template"];

/// Handles markup starting at `s[i] == '<'`. Returns the index after it and whether it
/// breaks words; returns `i` itself when the `<` is plain text.
fn markup(s: &str, i: usize) -> (usize, bool) {
    let rest = &s[i..];
    if let Some(body) = rest.strip_prefix("<!--") {
        // An unterminated comment swallows the rest, as in a browser.
        let end = body.find("-->").map_or(s.len(), |e| i + 4 + e + 3);
        return (end, false);
    }
    let b = rest.as_bytes();
    match b.get(1) {
        Some(b'!') | Some(b'?') => (rest.find('>').map_or(s.len(), |e| i + e + 1), false),
        Some(b'/') if b.get(2).is_some_and(u8::is_ascii_alphabetic) => {
            tag(s, i + 2).map_or((i, false), |(end, name)| (end, is_block(name)))
        }
        Some(c) if c.is_ascii_alphabetic() => match tag(s, i + 1) {
            None => (i, false),
            Some((end, name)) => {
                if let Some(skip) = SKIPPED_CONTENT
                    .iter()
                    .find(|t| t.eq_ignore_ascii_case(name))
                    && !s[..end].ends_with("/>")
                {
                    return (skip_element_body(s, end, skip), true);
                }
                (end, is_block(name))
            }
        },
        _ => (i, false),
    }
}

/// A CDATA section at `s[i]`: its body and the index after it. An unterminated section
/// runs to the end.
fn cdata(s: &str, i: usize) -> Option<(&str, usize)> {
    let rest = s.get(i..i + 9)?;
    if !rest.eq_ignore_ascii_case("<![CDATA[") {
        return None;
    }
    let body_start = i + 9;
    Some(match s[body_start..].find("]]>") {
        Some(e) => (&s[body_start..body_start + e], body_start + e + 3),
        None => (&s[body_start..], s.len()),
    })
}

/// Parses a tag name starting at `name_start` and skips to the closing `>`, honouring
/// quoted attribute values. `None` when no `>` follows: then the `<` was text.
fn tag(s: &str, name_start: usize) -> Option<(usize, &str)> {
    let b = s.as_bytes();
    let mut j = name_start;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-' || b[j] == b':') {
        j += 1;
    }
    let name = &s[name_start..j];
    // Jump from one quote or `>` to the next; a quoted value is skipped whole.
    while let Some(off) = b
        .get(j..)
        .and_then(|rest| memchr::memchr3(b'"', b'\'', b'>', rest))
    {
        j += off;
        let c = b[j];
        if c == b'>' {
            return Some((j + 1, name));
        }
        let close = b.get(j + 1..).and_then(|rest| memchr::memchr(c, rest))?;
        j += 1 + close + 1;
    }
    None
}

/// Tags that end a word: HTML block-level and table elements, plus line breaks.
fn is_block(name: &str) -> bool {
    // Lowercased on the stack, then one `match` (a length switch and a few compares):
    // a tag is looked up at every `<`.
    let mut buf = [0u8; 10];
    let Some(lower) = buf.get_mut(..name.len()) else {
        return false;
    };
    lower.copy_from_slice(name.as_bytes());
    lower.make_ascii_lowercase();
    matches!(
        &*lower,
        b"address"
            | b"article"
            | b"aside"
            | b"audio"
            | b"blockquote"
            | b"body"
            | b"br"
            | b"caption"
            | b"center"
            | b"dd"
            | b"details"
            | b"dialog"
            | b"dir"
            | b"div"
            | b"dl"
            | b"dt"
            | b"fieldset"
            | b"figcaption"
            | b"figure"
            | b"footer"
            | b"form"
            | b"frame"
            | b"h1"
            | b"h2"
            | b"h3"
            | b"h4"
            | b"h5"
            | b"h6"
            | b"head"
            | b"header"
            | b"hgroup"
            | b"hr"
            | b"html"
            | b"iframe"
            | b"img"
            | b"input"
            | b"legend"
            | b"li"
            | b"main"
            | b"menu"
            | b"nav"
            | b"ol"
            | b"option"
            | b"p"
            | b"pre"
            | b"section"
            | b"select"
            | b"summary"
            | b"table"
            | b"tbody"
            | b"td"
            | b"textarea"
            | b"tfoot"
            | b"th"
            | b"thead"
            | b"title"
            | b"tr"
            | b"ul"
            | b"video"
    )
}

/// Skips past `</name ...>` (case-insensitive), or to the end when it never closes.
fn skip_element_body(s: &str, from: usize, name: &str) -> usize {
    let b = s.as_bytes();
    let mut j = from;
    while let Some(off) = s[j..].find("</") {
        let start = j + off + 2;
        let end = start + name.len();
        if end <= s.len()
            && s.is_char_boundary(end)
            && s[start..end].eq_ignore_ascii_case(name)
            && !b.get(end).is_some_and(u8::is_ascii_alphanumeric)
        {
            return s[end..].find('>').map_or(s.len(), |e| end + e + 1);
        }
        j = start;
    }
    s.len()
}

/// A decoded character reference: one char or a named entity's (possibly two-char) text.
enum Decoded {
    Char(char),
    Str(&'static str),
}

impl Decoded {
    fn push_to(self, out: &mut TextSink) {
        match self {
            Decoded::Char(c) => out.push_char(c),
            Decoded::Str(t) => out.push_text(t),
        }
    }
}

/// Decodes the reference at `s[i] == '&'`; returns it and the index after it, or `None`
/// when the `&` is literal text.
fn decode_reference(s: &str, i: usize) -> Option<(Decoded, usize)> {
    let b = s.as_bytes();
    if b.get(i + 1) == Some(&b'#') {
        let (hex, start) = match b.get(i + 2) {
            Some(b'x') | Some(b'X') => (true, i + 3),
            _ => (false, i + 2),
        };
        let mut j = start;
        while j < b.len()
            && (if hex {
                b[j].is_ascii_hexdigit()
            } else {
                b[j].is_ascii_digit()
            })
        {
            j += 1;
        }
        if j == start {
            return None;
        }
        let value =
            u32::from_str_radix(&s[start..j], if hex { 16 } else { 10 }).unwrap_or(u32::MAX);
        // The `;` is optional in HTML for numeric references.
        let next = if b.get(j) == Some(&b';') { j + 1 } else { j };
        return Some((Decoded::Char(numeric_char(value)), next));
    }
    let start = i + 1;
    let mut j = start;
    while j < b.len() && j - start < 40 && b[j].is_ascii_alphanumeric() {
        j += 1;
    }
    if j == start {
        return None;
    }
    let name = &s[start..j];
    if b.get(j) == Some(&b';') {
        return named_entity(name).map(|t| (Decoded::Str(t), j + 1));
    }
    // A few legacy entities are recognised without `;` (as browsers do), but only where
    // the next character cannot continue a name or a query parameter (`&copy=1`).
    if b.get(j) != Some(&b'=') {
        for legacy in ["amp", "lt", "gt", "quot", "nbsp", "copy", "reg"] {
            if name == legacy {
                return named_entity(legacy).map(|t| (Decoded::Str(t), j));
            }
        }
    }
    None
}

/// Looks a name up in the HTML5 named character reference table.
pub(crate) fn named_entity(name: &str) -> Option<&'static str> {
    let table = &html_escape::NAMED_ENTITIES;
    table
        .binary_search_by(|(n, _)| (*n).cmp(name.as_bytes()))
        .ok()
        .map(|idx| table[idx].1)
}

/// Maps a numeric reference to a char the way HTML5 does: NUL, surrogates and
/// out-of-range values become U+FFFD, and 0x80-0x9F are read as windows-1252 (feeds
/// produced from cp1252 text write `&#146;` for a right quote).
pub(crate) fn numeric_char(value: u32) -> char {
    const C1: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{8D}',
        '\u{017D}', '\u{8F}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}',
        '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}',
        '\u{9D}', '\u{017E}', '\u{0178}',
    ];
    match value {
        0 => '\u{FFFD}',
        0x80..=0x9F => C1[(value - 0x80) as usize],
        _ => char::from_u32(value).unwrap_or('\u{FFFD}'),
    }
}

#[cfg(test)]
mod tests {
    use super::{collapse_whitespace, html_to_text, is_block};
    use proptest::prelude::*;

    #[test]
    fn block_tags_are_found_in_any_case() {
        for t in [
            "p",
            "br",
            "div",
            "blockquote",
            "figcaption",
            "h1",
            "td",
            "li",
            "audio",
        ] {
            assert!(is_block(t) && is_block(&t.to_ascii_uppercase()), "{t}");
        }
        for t in ["b", "span", "a", "strong", "blockquotes", "", "divx", "Em"] {
            assert!(!is_block(t), "{t}");
        }
    }

    /// Collapsing by definition: words split at whitespace and control characters,
    /// joined by single spaces. The run-copying sink must agree with it on any text.
    fn collapse_by_words(s: &str) -> String {
        s.split(|c: char| c.is_whitespace() || c.is_control())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn whitespace_collapsing_cases() {
        for input in [
            "a b",
            " a b ",
            "a  b",
            "a \tb",
            "a\u{a0}b",
            "a \u{a0} b",
            "a \u{85}b",
            "a\u{7f}b",
            "a \u{2028}",
            "Лавров Киргизия",
            "Лавров  \u{3000}Киргизия",
            "x \u{9}",
            "\u{1}",
        ] {
            assert_eq!(
                collapse_whitespace(input),
                collapse_by_words(input),
                "{input:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn collapsing_matches_its_definition(
            s in "[a-zЛ \\t\\n\u{a0}\u{85}\u{1}\u{7f}\u{2003}\u{3000}\u{1F600}.]{0,40}"
        ) {
            prop_assert_eq!(collapse_whitespace(&s), collapse_by_words(&s));
        }

        #[test]
        fn text_without_markup_is_just_collapsed(
            s in "[a-zЛ \\t\\n\u{a0}\u{85}\u{2003}.]{0,40}"
        ) {
            prop_assert_eq!(html_to_text(&s), collapse_by_words(&s));
        }
    }

    #[test]
    fn table_of_cases() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("plain text", "plain text"),
            ("Lavrov<br>Kyrgyzstan", "Lavrov Kyrgyzstan"),
            ("Lavrov<br/>Kyrgyzstan", "Lavrov Kyrgyzstan"),
            ("<b>CS</b>TO", "CSTO"),
            ("<p>One</p><p>Two</p>", "One Two"),
            ("a<span>b</span>c", "abc"),
            ("x<li>y</li>z", "x y z"),
            ("<td>1</td><td>2</td>", "1 2"),
            ("<H1>Big</H1>news", "Big news"),
            (
                "<a href=\"x?a=1&b=2\" title='a > b'>link</a>text",
                "linktext",
            ),
            ("a<script>var x = '<p>';</script>b", "a b"),
            ("a<STYLE>p { color: red }</STYLE>b", "a b"),
            ("a<noscript>enable js</noscript>b", "a b"),
            ("a<!-- hidden <p> -->b", "ab"),
            ("a<!-- never closed", "a"),
            ("<![CDATA[<b>raw</b> &amp;]]>", "<b>raw</b> &amp;"),
            ("x<![CDATA[y]]>z", "xyz"),
            ("&amp;lt;", "&lt;"),
            ("&lt;b&gt;", "<b>"),
            ("AT&amp;T", "AT&T"),
            ("AT&T", "AT&T"),
            ("caf&eacute;", "café"),
            ("a&nbsp;b", "a b"),
            ("&sigma;&Sigma;", "σΣ"),
            ("&#1051;&#x430;&#X432;", "Лав"),
            ("&#0;", "\u{FFFD}"),
            ("&#xD800;", "\u{FFFD}"),
            ("&#x110000;", "\u{FFFD}"),
            ("&#146;s", "\u{2019}s"),
            ("&unknownentity;", "&unknownentity;"),
            ("&copy 2026", "© 2026"),
            ("?a=1&copy=2", "?a=1&copy=2"),
            ("a < b and c > d", "a < b and c > d"),
            ("1 <2", "1 <2"),
            ("  lots \n\t of   space  ", "lots of space"),
            ("<p> lead</p>", "lead"),
            ("<?xml version=\"1.0\"?><p>x</p>", "x"),
            ("<!DOCTYPE html><html><body>Hi</body></html>", "Hi"),
            ("Лавров<br>Киргизия", "Лавров Киргизия"),
            ("<unclosed", "<unclosed"),
        ];
        for (input, want) in cases {
            assert_eq!(html_to_text(input), *want, "input: {input:?}");
        }
    }
}
