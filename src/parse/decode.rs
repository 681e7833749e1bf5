//! Byte decoding: decides a document's encoding and transcodes it to UTF-8 before any
//! XML parser sees it.
//!
//! Order: a byte-order mark (or the UTF-16/32 byte pattern of `<?xml` without one), then
//! valid UTF-8, then a non-UTF-8 label (the XML declaration's `encoding`, then the HTTP
//! charset), then a guess (UTF-8 with a few bad bytes, Cyrillic single-byte text), else
//! windows-1252 (the web's reading of latin-1). Malformed bytes become U+FFFD, so a bad
//! byte spoils one field and never the whole feed. The declaration's `encoding=` is then
//! removed, so the XML parser does not decode a second time.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

use super::guess;

/// A document transcoded to UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'b> {
    /// The text, UTF-8, with no BOM and no `encoding=` in its XML declaration: borrowed
    /// from the bytes when they were UTF-8 and had neither.
    pub text: Cow<'b, str>,
    /// The encoding the bytes were read as (encoding_rs names, plus `UTF-32LE`/`UTF-32BE`).
    pub encoding: &'static str,
}

/// Decodes `bytes` to UTF-8; `http_charset` is the `charset` of the HTTP Content-Type.
pub fn decode<'b>(bytes: &'b [u8], http_charset: Option<&str>) -> Decoded<'b> {
    let (encoding, text) = transcode(bytes, http_charset);
    Decoded {
        text: strip_declared_encoding(text),
        encoding,
    }
}

/// Like [`decode`], but the XML declaration is left as it is (only leading whitespace
/// and byte-order marks are dropped): for [`super::parse_feed`], whose repair step drops
/// every XML declaration anyway. A UTF-8 document is then never copied.
pub(super) fn decode_for_parser<'b>(bytes: &'b [u8], http_charset: Option<&str>) -> Cow<'b, str> {
    let (_, text) = transcode(bytes, http_charset);
    let lead = lead_len(&text);
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(&s[lead..]),
        Cow::Owned(mut s) => {
            s.drain(..lead);
            Cow::Owned(s)
        }
    }
}

/// Wide encodings encoding_rs does not cover.
#[derive(Clone, Copy)]
enum Utf32 {
    Le,
    Be,
}

fn transcode<'b>(bytes: &'b [u8], http_charset: Option<&str>) -> (&'static str, Cow<'b, str>) {
    // Byte-order marks (UTF-32 before UTF-16: FF FE 00 00 starts with the UTF-16LE mark).
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE, 0, 0]) {
        return ("UTF-32LE", utf32(rest, Utf32::Le));
    }
    if let Some(rest) = bytes.strip_prefix(&[0, 0, 0xFE, 0xFF]) {
        return ("UTF-32BE", utf32(rest, Utf32::Be));
    }
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        return (enc.name(), run(enc, &bytes[bom_len..]));
    }
    // No mark: the first characters of an XML document are ASCII, so their byte pattern
    // gives the width away (XML 1.0, appendix F). These patterns are valid UTF-8 too,
    // so they must be checked before it.
    match bytes {
        [b'<', 0, 0, 0, ..] => return ("UTF-32LE", utf32(bytes, Utf32::Le)),
        [0, 0, 0, b'<', ..] => return ("UTF-32BE", utf32(bytes, Utf32::Be)),
        [b'<', 0, b'?' | b'r' | b'f' | b'!', 0, ..] => {
            return (UTF_16LE.name(), run(UTF_16LE, bytes));
        }
        [0, b'<', 0, b'?' | b'r' | b'f' | b'!', ..] => {
            return (UTF_16BE.name(), run(UTF_16BE, bytes));
        }
        _ => {}
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return (UTF_8.name(), Cow::Borrowed(s));
    }
    let declared = declared_encoding(bytes)
        .and_then(|l| Encoding::for_label(l.as_bytes()))
        // A declared 16-bit encoding on bytes that are not 16-bit (no mark, no pattern)
        // is a lie; encoding_rs would also turn it into UTF-8 for ASCII-compatible text.
        .filter(|e| *e != UTF_16LE && *e != UTF_16BE);
    let http = http_charset
        .and_then(|l| Encoding::for_label(l.trim().trim_matches('"').as_bytes()))
        .filter(|e| *e != UTF_16LE && *e != UTF_16BE);
    // A UTF-8 label on bytes that are not UTF-8 is honoured (bad bytes become U+FFFD)
    // unless the bytes are plainly Cyrillic in a single-byte encoding.
    let not_utf8 = |e: &&'static Encoding| *e != UTF_8;
    let enc = match declared.filter(not_utf8).or(http.filter(not_utf8)) {
        Some(e) => e,
        None if declared.or(http).is_some() => guess::cyrillic(bytes).unwrap_or(UTF_8),
        None if guess::mostly_utf8(bytes) => UTF_8,
        None => guess::cyrillic(bytes).unwrap_or(WINDOWS_1252),
    };
    (enc.name(), run(enc, bytes))
}

fn run<'b>(enc: &'static Encoding, bytes: &'b [u8]) -> Cow<'b, str> {
    enc.decode_without_bom_handling(bytes).0
}

fn utf32(bytes: &[u8], order: Utf32) -> Cow<'static, str> {
    let mut out = String::with_capacity(bytes.len() / 4);
    for chunk in bytes.chunks(4) {
        let c = match (chunk, order) {
            ([a, b, c, d], Utf32::Le) => u32::from_le_bytes([*a, *b, *c, *d]),
            ([a, b, c, d], Utf32::Be) => u32::from_be_bytes([*a, *b, *c, *d]),
            _ => 0xFFFD,
        };
        out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
    }
    Cow::Owned(out)
}

/// The `encoding` pseudo-attribute of an XML declaration at the start of an
/// ASCII-compatible document.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(1024)];
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = head.get(start..)?;
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    encoding_attr(decl).map(|(_, _, value)| value.to_string())
}

/// Finds `encoding="X"` in a declaration: the byte range of the whole attribute
/// (leading space included) and its value.
fn encoding_attr(decl: &str) -> Option<(usize, usize, &str)> {
    let at = decl.find("encoding")?;
    let b = decl.as_bytes();
    let mut j = at + "encoding".len();
    while b.get(j).is_some_and(u8::is_ascii_whitespace) {
        j += 1;
    }
    if b.get(j) != Some(&b'=') {
        return None;
    }
    j += 1;
    while b.get(j).is_some_and(u8::is_ascii_whitespace) {
        j += 1;
    }
    let quote = *b.get(j).filter(|q| **q == b'"' || **q == b'\'')?;
    let value_start = j + 1;
    let value_len = decl[value_start..].find(quote as char)?;
    let mut start = at;
    while start > 0 && b[start - 1].is_ascii_whitespace() {
        start -= 1;
    }
    Some((
        start,
        value_start + value_len + 1,
        &decl[value_start..value_start + value_len],
    ))
}

/// Bytes of leading whitespace and byte-order marks.
fn lead_len(text: &str) -> usize {
    text.len()
        - text
            .trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}')
            .len()
}

/// Removes leading whitespace and the declaration's `encoding=`: the text is UTF-8 now,
/// and quick-xml would otherwise switch decoders on seeing it.
fn strip_declared_encoding(text: Cow<'_, str>) -> Cow<'_, str> {
    let lead = lead_len(&text);
    let trimmed = &text[lead..];
    let cut = trimmed
        .starts_with("<?xml")
        .then(|| trimmed.find("?>"))
        .flatten()
        .and_then(|end| encoding_attr(&trimmed[..end]))
        .map(|(a, b, _)| (lead + a, lead + b));
    // A borrowed (UTF-8) document is copied only to cut its `encoding=`, a transcoded
    // one never: documents run to megabytes and every copy shows.
    match (text, cut) {
        (Cow::Borrowed(s), None) => Cow::Borrowed(&s[lead..]),
        (Cow::Borrowed(s), Some((a, b))) => {
            let mut out = String::with_capacity(s.len() - lead);
            out.push_str(&s[lead..a]);
            out.push_str(&s[b..]);
            Cow::Owned(out)
        }
        (Cow::Owned(mut s), cut) => {
            if let Some((a, b)) = cut {
                s.drain(a..b);
            }
            s.drain(..lead);
            Cow::Owned(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str, le: bool, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if bom {
            out.extend_from_slice(if le { &[0xFF, 0xFE] } else { &[0xFE, 0xFF] });
        }
        for u in s.encode_utf16() {
            out.extend_from_slice(&if le { u.to_le_bytes() } else { u.to_be_bytes() });
        }
        out
    }

    const DOC: &str = "<?xml version=\"1.0\" encoding=\"utf-16\"?><rss>Лавров</rss>";

    #[test]
    fn encoding_decision_table() {
        let cp1251 =
            b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss>\xcb\xe0\xe2\xf0\xee\xe2</rss>";
        let koi8 = b"<?xml version='1.0' encoding='KOI8-R'?><rss>\xec\xc1\xd7\xd2\xcf\xd7</rss>";
        let cases: Vec<(Vec<u8>, Option<&str>, &str, &str)> = vec![
            (cp1251.to_vec(), None, "windows-1251", "Лавров"),
            (cp1251.to_vec(), Some("koi8-r"), "windows-1251", "Лавров"),
            (koi8.to_vec(), None, "KOI8-R", "Лавров"),
            (
                b"<rss>\xcb\xe0\xe2\xf0\xee\xe2</rss>".to_vec(),
                Some("windows-1251"),
                "windows-1251",
                "Лавров",
            ),
            (b"<rss>caf\xe9</rss>".to_vec(), None, "windows-1252", "café"),
            (
                b"<?xml version='1.0' encoding='iso-8859-1'?><rss>caf\xe9</rss>".to_vec(),
                None,
                "windows-1252",
                "café",
            ),
            // Valid UTF-8 wins over a wrong declaration and a wrong header.
            (
                "<?xml version='1.0' encoding='windows-1251'?><rss>Лавров</rss>"
                    .as_bytes()
                    .to_vec(),
                Some("latin1"),
                "UTF-8",
                "Лавров",
            ),
            (utf16(DOC, true, true), None, "UTF-16LE", "Лавров"),
            (utf16(DOC, false, true), None, "UTF-16BE", "Лавров"),
            (utf16(DOC, true, false), None, "UTF-16LE", "Лавров"),
            (utf16(DOC, false, false), None, "UTF-16BE", "Лавров"),
            (
                [&[0xEF, 0xBB, 0xBF][..], "<rss>ё</rss>".as_bytes()].concat(),
                None,
                "UTF-8",
                "ё",
            ),
            // A bogus declared encoding falls through to the header, then the fallback.
            (
                b"<?xml version='1.0' encoding='x-bogus'?><rss>caf\xe9</rss>".to_vec(),
                None,
                "windows-1252",
                "café",
            ),
            // Invalid bytes in declared UTF-8 spoil one character, not the document.
            (
                b"<?xml version='1.0' encoding='utf-8'?><rss>a\xffb</rss>".to_vec(),
                None,
                "UTF-8",
                "a\u{FFFD}b",
            ),
        ];
        for (bytes, http, want_enc, want_text) in cases {
            let d = decode(&bytes, http);
            assert_eq!(d.encoding, want_enc, "bytes: {bytes:?}");
            assert!(
                d.text.contains(want_text),
                "{:?} lacks {want_text:?}",
                d.text
            );
            assert!(
                !d.text.contains("encoding="),
                "declaration kept: {:?}",
                d.text
            );
            assert!(!d.text.starts_with('\u{FEFF}'));
        }
    }

    #[test]
    fn utf32_with_and_without_bom() {
        let body: Vec<u8> = "<rss>Ж</rss>"
            .chars()
            .flat_map(|c| (c as u32).to_le_bytes())
            .collect();
        let with_bom = [&[0xFF, 0xFE, 0, 0][..], &body].concat();
        for bytes in [body.clone(), with_bom] {
            let d = decode(&bytes, None);
            assert_eq!((d.encoding, &*d.text), ("UTF-32LE", "<rss>Ж</rss>"));
        }
        let be: Vec<u8> = "<rss>Ж</rss>"
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect();
        assert_eq!(decode(&be, None).text, "<rss>Ж</rss>");
    }

    #[test]
    fn declaration_keeps_everything_but_encoding() {
        let d = decode(
            b"  <?xml version=\"1.0\" encoding = 'UTF-8' standalone=\"yes\"?><a/>",
            None,
        );
        assert_eq!(d.text, "<?xml version=\"1.0\" standalone=\"yes\"?><a/>");
    }
}
