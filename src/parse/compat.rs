//! Rewrites older or sloppier feed dialects into the forms feed-rs reads, so their items
//! are not silently lost: RSS 0.90 and Userland RSS namespaces, Atom 0.3 (its namespace,
//! element names and MIME-style `type` values) and Atom text `type` values that feed-rs
//! would reject with an error for the whole feed (`type=""`, `type="text/plain"`).

use std::borrow::Cow;
use std::sync::OnceLock;

use memchr::memmem;
use regex::{Captures, Regex};

const ATOM_03_NS: &str = "http://purl.org/atom/ns#";
const ATOM_10_NS: &str = "http://www.w3.org/2005/Atom";
const RSS_10_NS: &str = "http://purl.org/rss/1.0/";
/// Namespaces that mean "RSS" but which feed-rs does not know.
const RSS_ALIASES: &[&str] = &[
    "http://my.netscape.com/rdf/simple/0.9/",
    "http://backend.userland.com/rss2",
    "http://backend.userland.com/rss",
    "http://channel.netscape.com/rdf/simple/0.9/",
];

/// Applies the rewrites that `root` (the root element's local name) calls for.
pub fn adapt<'a>(text: Cow<'a, str>, root: &str) -> Cow<'a, str> {
    let mut text = text;
    // Every alias holds one of these; two vectorised checks spare eight searches of
    // documents that (nearly always) use none of them.
    if has(&text, "userland.com/rss") || has(&text, "netscape.com/rdf/simple") {
        for alias in RSS_ALIASES {
            text = replace_ns(text, alias, RSS_10_NS);
        }
    }
    if matches!(root, "feed" | "entry") {
        if let Some(re) = atom03_elements().filter(|_| has(&text, ATOM_03_NS)) {
            text = replace_ns(text, ATOM_03_NS, ATOM_10_NS);
            text = map_owned(text, |t| {
                re.replace_all(t, |c: &Captures| {
                    let name = match &c[3] {
                        "issued" => "published",
                        "modified" => "updated",
                        "tagline" => "subtitle",
                        _ => "rights",
                    };
                    format!("<{}{}{name}", &c[1], &c[2])
                })
                .into_owned()
            });
        }
        if let Some(fixed) = fix_text_types(&text) {
            text = Cow::Owned(fixed);
        }
    }
    text
}

/// `text` contains `needle` (a vectorised search: these run over whole documents).
fn has(text: &str, needle: &str) -> bool {
    memmem::find(text.as_bytes(), needle.as_bytes()).is_some()
}

/// The document with every text construct's `type` fixed, or `None` when none needs it
/// (most Atom feeds write `type="html"` or `type="text"`: no copy for them).
fn fix_text_types(text: &str) -> Option<String> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    for (tag, element) in text_construct_tags(text) {
        let Some(original) = text.get(tag.clone()) else {
            continue;
        };
        let fixed = fix_text_type(original, element);
        if fixed != original {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
            o.push_str(&text[copied..tag.start]);
            o.push_str(&fixed);
            copied = tag.end;
        }
    }
    out.map(|mut o| {
        o.push_str(&text[copied..]);
        o
    })
}

/// Atom text constructs (and `info`, `content`) whose start tag has a `type` attribute:
/// each tag's byte range (from `<` to the first `>`) and its element name. What the
/// regex `<(?:prefix:)?(title|subtitle|summary|rights|info|content)\s[^>]*\btype\s*=[^>]*>`
/// finds, found by jumping between `<` with memchr. On ASCII markup (all that quick-xml
/// reads as element names: it ends a name only at ASCII whitespace) the two agree; they
/// can differ only on names run together with non-ASCII characters, such as
/// `<titleé type="x">`, which feed-rs does not read as a text construct either way.
fn text_construct_tags(text: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    const NAMES: &[&str] = &["title", "subtitle", "summary", "rights", "info", "content"];
    let b = text.as_bytes();
    let name_byte =
        |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-') || c >= 0x80;
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(off) = b.get(i..).and_then(|rest| memchr::memchr(b'<', rest)) {
        let at = i + off;
        i = at + 1;
        // The name, after an optional `prefix:`.
        let mut start = at + 1;
        let mut j = start;
        while b.get(j).is_some_and(|&c| name_byte(c)) {
            j += 1;
        }
        let prefix_start = |c: u8| c.is_ascii_alphabetic() || c == b'_' || c >= 0x80;
        if b.get(j) == Some(&b':') && j > start && prefix_start(b[start]) {
            start = j + 1;
        }
        let rest = b.get(start..).unwrap_or_default();
        let Some(&element) = NAMES.iter().find(|n| {
            rest.starts_with(n.as_bytes())
                && rest
                    .get(n.len())
                    .is_some_and(|&c| c.is_ascii_whitespace() || c >= 0x80)
        }) else {
            continue;
        };
        let j = start + element.len();
        let Some(end) = b.get(j..).and_then(|rest| memchr::memchr(b'>', rest)) else {
            continue;
        };
        let end = j + end + 1;
        if has_type_attribute(&b[j..end]) {
            found.push((at..end, element));
            i = end;
        }
    }
    found
}

/// `tag` (a start tag's inside) has `type` at a word boundary followed by `\s*=`.
fn has_type_attribute(tag: &[u8]) -> bool {
    let mut from = 0;
    while let Some(off) = tag.get(from..).and_then(|rest| memmem::find(rest, b"type")) {
        let at = from + off;
        from = at + 4;
        let boundary = at == 0
            || tag
                .get(at - 1)
                .is_some_and(|&c| !(c.is_ascii_alphanumeric() || c == b'_'));
        let mut k = at + 4;
        while tag
            .get(k)
            .is_some_and(|c| c.is_ascii_whitespace() || *c >= 0x80)
        {
            k += 1;
        }
        if boundary && tag.get(k) == Some(&b'=') {
            return true;
        }
    }
    false
}

fn map_owned<'a>(text: Cow<'a, str>, f: impl Fn(&str) -> String) -> Cow<'a, str> {
    Cow::Owned(f(&text))
}

fn replace_ns<'a>(text: Cow<'a, str>, from: &str, to: &str) -> Cow<'a, str> {
    // Only the namespace declaration's quoted value, never running text.
    let (dq, sq) = (format!("\"{from}\""), format!("'{from}'"));
    if !text.contains(&dq) && !text.contains(&sq) {
        return text;
    }
    Cow::Owned(
        text.replace(&dq, &format!("\"{to}\""))
            .replace(&sq, &format!("'{to}'")),
    )
}

/// Atom 0.3 element names with an Atom 1.0 equivalent.
fn atom03_elements() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"<(/?)((?:[A-Za-z_][\w.-]*:)?)(issued|modified|tagline|copyright)\b").ok()
    })
    .as_ref()
}

/// Rewrites the `type` of one start tag to a value feed-rs accepts (`text`, `html`,
/// `xhtml`); `content` keeps real MIME types, which feed-rs handles. Atom 0.3's
/// `mode="xml"` means inline markup, which is what `xhtml` reads.
fn fix_text_type(tag: &str, element: &str) -> String {
    let Some((start, end, value)) = attr_value(tag, "type") else {
        return tag.to_string();
    };
    let inline_xml = attr_value(tag, "mode").is_some_and(|(_, _, m)| m == "xml");
    let v = value.trim().to_ascii_lowercase();
    if element == "content" && attr_value(tag, "src").is_some() {
        // Out-of-line content must name a MIME type (RFC 4287 4.1.3.1).
        let mime = match v.as_str() {
            "" | "text" => "text/plain",
            "html" => "text/html",
            "xhtml" => "application/xhtml+xml",
            _ => return tag.to_string(),
        };
        return format!("{}{mime}{}", &tag[..start], &tag[end..]);
    }
    let fixed = match v.as_str() {
        _ if inline_xml && v.contains("html") => "xhtml",
        "text" | "html" | "xhtml" => return tag.to_string(),
        "" | "text/plain" => "text",
        "text/html" => "html",
        "application/xhtml+xml" => "xhtml",
        _ if element == "content" => return tag.to_string(),
        other if other.contains("html") => "html",
        _ => "text",
    };
    format!("{}{fixed}{}", &tag[..start], &tag[end..])
}

/// The byte range of attribute `name`'s value inside `tag`, and the value.
fn attr_value<'t>(tag: &'t str, name: &str) -> Option<(usize, usize, &'t str)> {
    let b = tag.as_bytes();
    let mut from = 0;
    while let Some(off) = tag[from..].find(name) {
        let at = from + off;
        from = at + name.len();
        if !b
            .get(at.wrapping_sub(1))
            .is_some_and(u8::is_ascii_whitespace)
        {
            continue;
        }
        let rest = tag[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let quote = rest.chars().next()?;
        if quote != '"' && quote != '\'' {
            continue;
        }
        let value_start = tag.len() - rest.len() + 1;
        let len = tag[value_start..].find(quote)?;
        return Some((
            value_start,
            value_start + len,
            &tag[value_start..value_start + len],
        ));
    }
    None
}

/// A JSON Feed that feed-rs rejected, with the deviations seen in real feeds fixed: the
/// `http://` version URL (or none), no feed title, `tags` as one comma-separated string,
/// numeric ids.
/// `None` when the document is not a JSON object with `items` (or nothing changed).
pub fn adapt_json(text: &str) -> Option<String> {
    let mut doc: serde_json::Value = serde_json::from_str(text).ok()?;
    let obj = doc.as_object_mut()?;
    if !obj.get("items").is_some_and(serde_json::Value::is_array) {
        return None;
    }
    let version_ok = obj
        .get("version")
        .and_then(|v| v.as_str())
        .is_some_and(|v| v.starts_with("https://jsonfeed.org/version/1"));
    if !version_ok {
        obj.insert("version".into(), "https://jsonfeed.org/version/1.1".into());
    }
    if !obj.get("title").is_some_and(serde_json::Value::is_string) {
        obj.insert("title".into(), "".into());
    }
    for item in obj.get_mut("items")?.as_array_mut()?.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        if let Some(tags) = item
            .get("tags")
            .and_then(|t| t.as_str())
            .map(str::to_string)
        {
            let list: Vec<serde_json::Value> = tags
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| t.into())
                .collect();
            item.insert("tags".into(), list.into());
        }
        if let Some(id) = item
            .get("id")
            .filter(|i| i.is_number())
            .map(|i| i.to_string())
        {
            item.insert("id".into(), id.into());
        }
    }
    serde_json::to_string(&doc)
        .ok()
        .filter(|fixed| fixed != text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan finds what the regex it replaced found (exactly, on ASCII documents; the
    /// regex's `\s` also took U+000B, which repair has already replaced by then).
    #[test]
    fn text_construct_scan_agrees_with_the_regex() {
        let re = Regex::new(
            r#"<(?:[A-Za-z_][\w.-]*:)?(title|subtitle|summary|rights|info|content)\s[^>]*\btype\s*=[^>]*>"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let docs = [
            "<feed><title type=\"html\">a</title><atom:summary\ttype = 'text'/><content src='x' type=\"text/html\"/></feed>",
            "<title>no type</title><title subtype=\"x\">no</title><title xtype=\"x\" type=\"y\">yes</title>",
            "<titles type=\"x\"><subtitle\ntype\n=\"\"></subtitle><info type=x><rights type>",
            "<a:b:title type='x'><_p:content type='q'><1p:title type='x'><title a=\"<\" type='z'>",
            "<content type=\"a>b\"><title type=\"x\"<title type='y'>",
            "<<title type='x'>><summary  type='y'",
            "<title\u{a0}type='x'>Ünïcödé <ns\u{e9}:summary type='y'>",
        ];
        for doc in docs {
            let want: Vec<(std::ops::Range<usize>, &str)> = re
                .captures_iter(doc)
                .filter_map(|c| Some((c.get(0)?.range(), c.get(1)?.as_str())))
                .collect();
            let got = text_construct_tags(doc);
            if doc.is_ascii() {
                assert_eq!(got, want, "{doc:?}");
            } else {
                assert!(
                    want.iter().all(|w| got.contains(w)),
                    "{doc:?}: {got:?} lacks some of {want:?}"
                );
            }
        }
    }

    #[test]
    fn adapt_table() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "<feed xmlns=\"http://purl.org/atom/ns#\"><tagline>t</tagline><entry><issued>2026</issued><modified>2026</modified></entry></feed>",
                "feed",
                "<feed xmlns=\"http://www.w3.org/2005/Atom\"><subtitle>t</subtitle><entry><published>2026</published><updated>2026</updated></entry></feed>",
            ),
            (
                "<feed><title type=\"\">x</title></feed>",
                "feed",
                "<feed><title type=\"text\">x</title></feed>",
            ),
            (
                "<feed><title mode=\"escaped\" type='text/html'>x</title><summary type=\"application/xhtml+xml\"/></feed>",
                "feed",
                "<feed><title mode=\"escaped\" type='html'>x</title><summary type=\"xhtml\"/></feed>",
            ),
            (
                "<feed><title type=\"text/html\" mode=\"xml\">a <b>b</b></title></feed>",
                "feed",
                "<feed><title type=\"xhtml\" mode=\"xml\">a <b>b</b></title></feed>",
            ),
            (
                "<feed><content type=\"text\" src=\"x\"/><content src='y' type='text/html'/></feed>",
                "feed",
                "<feed><content type=\"text/plain\" src=\"x\"/><content src='y' type='text/html'/></feed>",
            ),
            (
                "<feed><content type=\"image/png\">AAA</content></feed>",
                "feed",
                "<feed><content type=\"image/png\">AAA</content></feed>",
            ),
            (
                "<rdf:RDF xmlns=\"http://my.netscape.com/rdf/simple/0.9/\">",
                "RDF",
                "<rdf:RDF xmlns=\"http://purl.org/rss/1.0/\">",
            ),
            (
                "<rss><title type=\"\">x</title></rss>",
                "rss",
                "<rss><title type=\"\">x</title></rss>",
            ),
        ];
        for (input, root, want) in cases {
            assert_eq!(adapt(Cow::Borrowed(input), root), *want, "input: {input:?}");
        }
    }
}
