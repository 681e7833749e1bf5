//! Structural limits checked before feed-rs sees a document: how deep elements nest and
//! how many namespaces one start tag declares. Feeds need little of either; documents
//! with thousands are attacks or garbage, and quick-xml and feed-rs would spend memory
//! and time on them (or, for namespaces, quietly return no items).

use memchr::memchr;

use super::ParseError;

/// Elements nested deeper than this are refused. Real feeds nest a few dozen deep at most,
/// XHTML content included.
pub const MAX_DEPTH: usize = 1024;
/// Namespace declarations on one start tag. Real feeds declare a few dozen at most.
pub const MAX_NAMESPACES: usize = 1000;

/// Checks the limits over the (repaired) document text in one pass.
pub fn check(text: &str) -> Result<(), ParseError> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(off) = memchr(b'<', &b[i..]) {
        let at = i + off;
        let rest = &text[at..];
        let skip_to = |close: &[u8], from: usize| -> usize {
            let hay = rest.as_bytes().get(from..).unwrap_or_default();
            let found = match close {
                [c] => memchr(*c, hay),
                _ => memchr::memmem::find(hay, close),
            };
            found.map_or(b.len(), |e| at + from + e + close.len())
        };
        if rest.starts_with("<!--") {
            i = skip_to(b"-->", 4);
        } else if rest.starts_with("<![CDATA[") {
            i = skip_to(b"]]>", 9);
        } else if rest.starts_with("<?") {
            i = skip_to(b"?>", 2);
        } else if rest.starts_with("<!") {
            i = skip_to(b">", 2);
        } else if rest.starts_with("</") {
            depth = depth.saturating_sub(1);
            i = skip_to(b">", 2);
        } else {
            let (end, self_closing, namespaces) = start_tag(b, at);
            if namespaces > MAX_NAMESPACES {
                return Err(ParseError::Malformed {
                    detail: format!(
                        "one start tag declares {namespaces} namespaces (the limit is \
                         {MAX_NAMESPACES}); the document is not a usable feed"
                    ),
                });
            }
            if !self_closing {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ParseError::Malformed {
                        detail: format!(
                            "the document nests elements more than {MAX_DEPTH} deep; it is \
                             not a usable feed"
                        ),
                    });
                }
            }
            i = end;
        }
    }
    Ok(())
}

/// Scans the start tag at `b[at] == '<'`: the index after it, whether it is
/// self-closing, and how many `xmlns` attributes it has.
fn start_tag(b: &[u8], at: usize) -> (usize, bool, usize) {
    let mut namespaces = 0;
    let mut j = at + 1;
    while j < b.len() {
        match b[j] {
            b'"' | b'\'' => {
                let q = b[j];
                j = memchr(q, &b[j + 1..]).map_or(b.len(), |p| j + 1 + p);
            }
            b'>' => return (j + 1, b[j - 1] == b'/', namespaces),
            c if c.is_ascii_whitespace() && b[j + 1..].starts_with(b"xmlns") => {
                namespaces += 1;
            }
            _ => {}
        }
        j += 1;
    }
    (b.len(), false, namespaces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_table() {
        let deep_ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        let too_deep = format!("<r>{deep_ok}</r>");
        let flat = "<a/>".repeat(MAX_DEPTH * 2);
        let many_ns: String = (0..=MAX_NAMESPACES)
            .map(|n| format!(" xmlns:n{n}='u'"))
            .collect();
        let cases: Vec<(String, Option<&str>)> = vec![
            (deep_ok, None),
            (format!("<r>{flat}</r>"), None),
            (too_deep, Some("nests elements")),
            (format!("<rss{many_ns}>"), Some("1001 namespaces")),
            (format!("<rss a=\"{many_ns}\">"), None),
            (
                format!(
                    "<r><!-- {} --><![CDATA[{}]]></r>",
                    "<a>".repeat(2000),
                    "<b>".repeat(2000)
                ),
                None,
            ),
            ("<r a='>' b=\"/>\"><x/></r>".to_string(), None),
            ("<r".to_string(), None),
        ];
        for (doc, want) in cases {
            let got = check(&doc).err().map(|e| e.to_string());
            match want {
                None => assert_eq!(got, None, "{}", &doc[..doc.len().min(60)]),
                Some(w) => assert!(
                    got.as_deref().is_some_and(|g| g.contains(w)),
                    "{got:?} lacks {w}"
                ),
            }
        }
    }
}
