//! Repairs what would make the XML parser reject a whole document over one bad spot.
//!
//! quick-xml stops at the first invalid character reference (`&#0;`, a surrogate), a bare
//! `&` and, for feed-rs, leaves HTML named entities (`&nbsp;`) that XML does not define
//! undecoded. Real feeds have all of these. One pass rewrites them into well-formed XML
//! meaning what the publisher meant: invalid numeric references become U+FFFD, 0x80-0x9F
//! references are read as windows-1252, HTML5 named entities become numeric references,
//! unknown names and bare ampersands become literal text (`&amp;`), and characters XML 1.0
//! forbids become U+FFFD. CDATA sections, comments and processing instructions are left as
//! they are, except for the forbidden characters. The DOCTYPE is dropped: the entities its
//! internal subset declares are expanded here (see [`super::entities`]), and nothing else
//! in it is needed to read a feed.

use std::borrow::Cow;
use std::fmt::Write;

use super::ParseError;
use super::entities::Entities;
use crate::html::{named_entity, numeric_char};

/// The repaired document, borrowed when nothing needed repair. Fails only when the
/// document's declared entities expand past [`super::entities::EXPANSION_LIMIT`].
pub fn repair_xml(text: &str) -> Result<Cow<'_, str>, ParseError> {
    // A declaration at the very start (the usual place) is dropped by borrowing past it,
    // so a document with nothing else to repair is not copied.
    let text = if is_xml_declaration(text) {
        text.find("?>").map_or("", |e| &text[e + 2..])
    } else {
        text
    };
    let b = text.as_bytes();
    // Nearly every document has no forbidden control character: then only `<`, `&` and
    // 0xEF need a look, and memchr finds them.
    let controls = has_forbidden_control(b);
    let mut out: Option<String> = None;
    let mut entities = Entities::default();
    // Bytes before `copied` are already in `out` (or need no change).
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            // An ordinary start or end tag: its attributes are scanned like text.
            b'<' if b
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'/') =>
            {
                i += 1;
            }
            b'<' if is_xml_declaration(&text[i..]) => {
                // quick-xml switches decoders on a declaration's `encoding` and panics when
                // a declaration comes after the start; the text is UTF-8 already and
                // nothing else a declaration says matters to a feed reader.
                let end = text[i..].find("?>").map_or(text.len(), |e| i + e + 2);
                let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
                o.push_str(&text[copied..i]);
                i = end;
                copied = end;
            }
            b'<' if is_doctype(&text[i..]) => {
                let end = skip_doctype(text, i);
                entities = Entities::declared(&text[i..end]);
                let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
                o.push_str(&text[copied..i]);
                i = end;
                copied = end;
            }
            b'<' => {
                let end = skip_markup_section(text, i);
                // A forbidden character inside a CDATA section, comment or PI is replaced
                // there, and the section is still skipped as one: scanning its inside as
                // text would take a `<![CDATA[` or `<!--` written in a comment for a real
                // one, and miss a declaration after it (a fuzz-found panic in quick-xml).
                let section = &text[i..end];
                let declaration = section.get(2..).is_some_and(has_xml_declaration);
                if declaration || (controls && first_forbidden(&b[..end], i).is_some()) {
                    let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
                    o.push_str(&text[copied..i]);
                    push_section(o, section);
                    copied = end;
                }
                i = end;
            }
            b'&' => {
                let (fix, next) = check_reference(text, i, &mut entities)?;
                if let Some(fix) = fix {
                    let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
                    o.push_str(&text[copied..i]);
                    o.push_str(&fix);
                    copied = next;
                }
                i = next;
            }
            c if is_forbidden_ascii(c) => {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
                o.push_str(&text[copied..i]);
                o.push('\u{FFFD}');
                i += 1;
                copied = i;
            }
            0xEF if matches!(b.get(i + 1..i + 3), Some([0xBF, 0xBE | 0xBF])) => {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
                o.push_str(&text[copied..i]);
                o.push('\u{FFFD}');
                i += 3;
                copied = i;
            }
            _ if controls => i = skip_plain(b, i + 1),
            _ => i = next_markup(b, i + 1),
        }
    }
    Ok(match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
    })
}

/// Whether `b` holds a control character XML forbids (checked without an early exit, in
/// blocks, so that it is vectorised).
fn has_forbidden_control(b: &[u8]) -> bool {
    b.chunks(4096).any(|block| {
        block.iter().fold(false, |acc, &c| {
            acc | ((c < 0x20) & (c != b'\t') & (c != b'\n') & (c != b'\r'))
        })
    })
}

/// The first index at or after `i` holding `<`, `&` or 0xEF (in a document without
/// forbidden control characters, the only bytes that may need a look).
fn next_markup(b: &[u8], i: usize) -> usize {
    b.get(i..)
        .and_then(|rest| memchr::memchr3(b'<', b'&', 0xEF, rest))
        .map_or(b.len(), |p| i + p)
}

/// The first index at or after `i` that may need a look: `<`, `&`, a byte below 0x20 or
/// 0xEF. Eight bytes at a time: most of a document is plain text and tags' insides.
fn skip_plain(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    while let Some(word) = b.get(i..i + 8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_le_bytes(bytes);
        // Bytes below 0x20: subtracting 0x20 borrows into the high bit of a byte that had
        // none set.
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0;
        if control
            || has_zero(x ^ (ONES * u64::from(b'<')))
            || has_zero(x ^ (ONES * u64::from(b'&')))
            || has_zero(x ^ (ONES * 0xEF))
        {
            break;
        }
        i += 8;
    }
    i.min(b.len())
}

/// `<?xml` followed by whitespace or `?>`: what quick-xml reads as a declaration.
fn is_xml_declaration(rest: &str) -> bool {
    rest.strip_prefix("<?xml")
        .is_some_and(|r| r.starts_with("?>") || r.starts_with([' ', '\t', '\r', '\n']))
}

fn is_doctype(rest: &str) -> bool {
    rest.get(..9)
        .is_some_and(|t| t.eq_ignore_ascii_case("<!DOCTYPE"))
}

fn is_forbidden_ascii(c: u8) -> bool {
    c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r')
}

/// Appends the CDATA section, comment or PI `section` to `out`, with every control
/// character XML forbids replaced by U+FFFD and every XML declaration written inside
/// it made into something else.
///
/// A malformed document (a quote, a `<` or a `]]` in the wrong place) can make the XML
/// reader see a section's end where this module does not, and a declaration it then
/// reads after the start makes quick-xml panic: so none is left anywhere. In a CDATA
/// section the text stays the same (`<?xml` becomes `<]]><![CDATA[?xml`, the section
/// closed and reopened after the `<`); in a comment or PI, `<?xml` becomes `<?_xml`.
fn push_section(out: &mut String, section: &str) {
    let cdata = section.starts_with("<![CDATA[");
    let mut rest = section;
    while !rest.is_empty() {
        // The first declaration after the section's own opening `<`.
        let at = (1..rest.len())
            .find(|&k| rest.get(k..).is_some_and(is_xml_declaration))
            .unwrap_or(rest.len());
        let (before, after) = rest.split_at(at);
        for c in before.chars() {
            out.push(if c.is_ascii() && is_forbidden_ascii(c as u8) {
                '\u{FFFD}'
            } else {
                c
            });
        }
        if after.is_empty() {
            break;
        }
        out.push_str(if cdata { "<]]><![CDATA[?" } else { "<?_" });
        rest = &after[2..];
    }
}

/// Whether an XML declaration starts anywhere in `s`.
fn has_xml_declaration(s: &str) -> bool {
    memchr::memmem::find_iter(s.as_bytes(), b"<?xml")
        .any(|k| s.get(k..).is_some_and(is_xml_declaration))
}

/// Where scanning resumes after the `<` at `i`. CDATA, comments and PIs are not scanned
/// for references, so they are skipped whole (up to their end, or to the end of the
/// text when they have none, as the XML reader reads them); an ordinary tag resumes at
/// `i + 1`, because its attribute values need the same reference repair as text.
fn skip_markup_section(text: &str, i: usize) -> usize {
    let rest = &text[i..];
    let close = if rest.starts_with("<![CDATA[") {
        "]]>"
    } else if rest.starts_with("<!--") {
        "-->"
    } else if rest.starts_with("<?") {
        "?>"
    } else {
        return i + 1;
    };
    rest[2..]
        .find(close)
        .map_or(text.len(), |e| i + 2 + e + close.len())
}

/// The first byte XML forbids at or after `i`. CDATA sections are long (whole articles)
/// and their newlines are the only control bytes in them: skip eight bytes at a time.
fn first_forbidden(b: &[u8], mut i: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    loop {
        while let Some(word) = b.get(i..i + 8) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            let x = u64::from_le_bytes(bytes);
            if x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0 {
                break;
            }
            i += 8;
        }
        let stop = (i + 8).min(b.len());
        if let Some(p) = b[i..stop].iter().position(|c| is_forbidden_ascii(*c)) {
            return Some(i + p);
        }
        if stop == b.len() {
            return None;
        }
        i = stop;
    }
}

/// The end of the DOCTYPE at `i`: its internal subset may hold `>` inside brackets and
/// quoted literals.
fn skip_doctype(text: &str, i: usize) -> usize {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'"' | b'\'' => {
                let q = b[j];
                j = b[j + 1..]
                    .iter()
                    .position(|c| *c == q)
                    .map_or(b.len(), |p| j + 1 + p);
            }
            b'<' if b[j..].starts_with(b"<!--") => {
                j = text[j + 4..].find("-->").map_or(b.len(), |e| j + 4 + e + 2);
            }
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b'>' if depth == 0 => return j + 1,
            _ => {}
        }
        j += 1;
    }
    text.len()
}

/// Checks the reference at `text[i] == '&'`: returns its replacement when it needs one,
/// and the index after it.
fn check_reference(
    text: &str,
    i: usize,
    entities: &mut Entities,
) -> Result<(Option<String>, usize), ParseError> {
    let b = text.as_bytes();
    if b.get(i + 1) == Some(&b'#') {
        let (hex, start) = match b.get(i + 2) {
            Some(b'x') => (true, i + 3),
            Some(b'X') => (true, i + 3),
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
        if j == start || b.get(j) != Some(&b';') {
            return Ok((Some("&amp;".to_string()), i + 1));
        }
        let value =
            u32::from_str_radix(&text[start..j], if hex { 16 } else { 10 }).unwrap_or(u32::MAX);
        let c = numeric_char(value);
        let lowercase_x = !hex || b[i + 2] == b'x';
        if lowercase_x && c as u32 == value && is_xml_char(c) {
            return Ok((None, j + 1));
        }
        let c = if is_xml_char(c) { c } else { '\u{FFFD}' };
        return Ok((Some(char_ref(c)), j + 1));
    }
    let start = i + 1;
    let mut j = start;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || matches!(b[j], b'.' | b'-' | b'_' | b':'))
    {
        j += 1;
    }
    if j == start || b.get(j) != Some(&b';') {
        return Ok((Some("&amp;".to_string()), i + 1));
    }
    let name = &text[start..j];
    if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
        return Ok((None, j + 1));
    }
    // What the document declares means more than what HTML would.
    if let Some(expanded) = entities.expand(name)? {
        entities.charge(expanded.len());
        return Ok((Some(expanded), j + 1));
    }
    Ok(match named_entity(name) {
        Some(value) => {
            let mut s = String::new();
            for c in value.chars() {
                s.push_str(&char_ref(c));
            }
            (Some(s), j + 1)
        }
        // Neither XML nor HTML knows it (or it is external): keep the text as written.
        None => (Some("&amp;".to_string()), i + 1),
    })
}

fn char_ref(c: char) -> String {
    let mut s = String::with_capacity(10);
    let _ = write!(s, "&#x{:X};", c as u32);
    s
}

/// XML 1.0 `Char`.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::{has_xml_declaration, repair_xml};

    #[test]
    fn repair_table() {
        let cases: &[(&str, &str)] = &[
            (
                "<a>plain &amp; fine &lt;&#65;&#x42;</a>",
                "<a>plain &amp; fine &lt;&#65;&#x42;</a>",
            ),
            ("<a>&#0;</a>", "<a>&#xFFFD;</a>"),
            ("<a>&#xD800;</a>", "<a>&#xFFFD;</a>"),
            ("<a>&#1114112;</a>", "<a>&#xFFFD;</a>"),
            ("<a>&#1;</a>", "<a>&#xFFFD;</a>"),
            ("<a>&#X41;</a>", "<a>&#x41;</a>"),
            ("<a>&#146;</a>", "<a>&#x2019;</a>"),
            ("<a>&nbsp;&eacute;</a>", "<a>&#xA0;&#xE9;</a>"),
            ("<a>&hellip;</a>", "<a>&#x2026;</a>"),
            ("<a>&bogus;</a>", "<a>&amp;bogus;</a>"),
            ("<a>AT&T &</a>", "<a>AT&amp;T &amp;</a>"),
            ("<a href=\"?a=1&b=2\"/>", "<a href=\"?a=1&amp;b=2\"/>"),
            (
                "<a>x\u{0}y\u{1b}z\u{FFFE}</a>",
                "<a>x\u{FFFD}y\u{FFFD}z\u{FFFD}</a>",
            ),
            (
                "<a><![CDATA[&nbsp; & &#0;]]></a>",
                "<a><![CDATA[&nbsp; & &#0;]]></a>",
            ),
            (
                "<a><![CDATA[bad\u{0}]]>&nbsp;</a>",
                "<a><![CDATA[bad\u{FFFD}]]>&#xA0;</a>",
            ),
            ("<!-- & --><?pi & ?><a/>", "<!-- & --><?pi & ?><a/>"),
            (
                "<!DOCTYPE rss [<!ENTITY x \"&#38;\">]><rss>&x;</rss>",
                "<rss>&amp;</rss>",
            ),
            (
                "<?xml version='1.0'?>\n<!doctype rss SYSTEM \"http://127.0.0.1/x.dtd\">\n<rss>&y;</rss>",
                "\n\n<rss>&amp;y;</rss>",
            ),
            (
                "<rss><?xml version=\"1.0\" encoding=\"windows-1251\"?><?xml?><?xml-stylesheet href='s'?></rss>",
                "<rss><?xml-stylesheet href='s'?></rss>",
            ),
            // A control character in a comment is replaced, and the comment is still one
            // section: the `<![CDATA[` written in it opens nothing, and the declaration
            // after the comment is dropped (fuzz regression
            // `declaration-after-comment-with-control`).
            (
                "<rss><!--\u{0}<![CDATA[--><?xml version=\"1.0\" encoding=\"windows-1251\"?></rss>",
                "<rss><!--\u{FFFD}<![CDATA[--></rss>",
            ),
            // A declaration written inside a section is made into something else: in
            // CDATA, with the same text (fuzz regression
            // `declaration-in-cdata-behind-a-quote`).
            (
                "<a><![CDATA[x <?xml version=\"1.0\"?> y]]></a>",
                "<a><![CDATA[x <]]><![CDATA[?xml version=\"1.0\"?> y]]></a>",
            ),
            (
                "<!-- <?xml version=\"1.0\"?> <?xml?> --><a/>",
                "<!-- <?_xml version=\"1.0\"?> <?_xml?> --><a/>",
            ),
            ("<?pi <?xml ?><a/>", "<?pi <?_xml ?><a/>"),
            (
                "<!DOCTYPE rss [<!ENTITY q \"]>\">]><rss>&q;</rss>",
                "<rss>]&gt;</rss>",
            ),
            ("Лавров &mdash; ОДКБ", "Лавров &#x2014; ОДКБ"),
        ];
        for (input, want) in cases {
            assert_eq!(
                repair_xml(input).ok().as_deref(),
                Some(*want),
                "input: {input:?}"
            );
        }
    }

    proptest::proptest! {
        /// However the sections, quotes and brackets fall, no XML declaration is left for
        /// quick-xml to read after the start (it panics on one).
        #[test]
        fn no_declaration_is_left_anywhere(
            pieces in proptest::collection::vec(proptest::sample::select(&[
                "<?xml version=\"1.0\" encoding=\"windows-1251\"?>", "<?xml", " ", "?>",
                "<![CDATA[", "]]>", "]]", "<!--", "-->", "<", ">", "\"", "'", "<a b=\"",
                "<?pi ", "\u{0}", "x", "Лавров", "<!DOCTYPE r [", "]>", "&amp;",
            ][..]), 0..24)
        ) {
            let text = pieces.concat();
            if let Ok(repaired) = repair_xml(&text) {
                proptest::prop_assert!(!has_xml_declaration(&repaired), "{:?} → {:?}", text, repaired);
            }
        }
    }
}
