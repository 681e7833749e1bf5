//! `[[feed]]` and `[[rule]]` tables.

use std::time::Duration;

use url::Url;

use super::read::{Diag, Located, SourceFile, Tab, check_header, check_name};
use super::{DaemonConfig, FeedConfig, FeedSource};
use crate::rules::Query;

pub(crate) const FEED_KEYS: &[&str] = &[
    "name",
    "url",
    "interval",
    "tags",
    "user_agent",
    "headers",
    "stale_after",
];

pub(crate) const RULE_KEYS: &[&str] = &["name", "query", "feeds", "notify"];

const SECOND: Duration = Duration::from_secs(1);

pub(crate) struct FeedDraft {
    pub config: FeedConfig,
    pub name: Located,
}

pub(crate) struct RuleDraft {
    pub name: Located,
    pub query_text: String,
    /// `None` when the query did not parse (the error is already reported).
    pub query: Option<Query>,
    pub feeds: Option<Vec<Located>>,
    pub notify: Option<Vec<Located>>,
}

/// Shows a URL without its userinfo, which may hold a password.
pub(crate) fn redact(url: &Url) -> String {
    let mut u = url.clone();
    if !u.username().is_empty() || u.password().is_some() {
        let _ = u.set_username("");
        let _ = u.set_password(None);
    }
    u.to_string()
}

/// Where a feed is read from: `http(s)://`, `file://` or a plain path (relative to the
/// folder of the file it is written in).
pub(crate) fn parse_source(src: &SourceFile, text: &str) -> Result<FeedSource, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("must not be empty".into());
    }
    match Url::parse(text) {
        Ok(url) => match url.scheme() {
            "http" | "https" => Ok(FeedSource::Http(url)),
            "file" => url.to_file_path().map(FeedSource::File).map_err(|()| {
                format!(
                    "`{text}` is not a local file URL; write file:///absolute/path or a plain path"
                )
            }),
            scheme => {
                let hint =
                    if url.cannot_be_a_base() || scheme.contains('.') || scheme == "localhost" {
                        format!("; did you mean `http://{text}`?")
                    } else {
                        String::new()
                    };
                Err(format!(
                    "unsupported URL scheme `{scheme}:`{hint} (use http://, https://, file:// or a plain path)"
                ))
            }
        },
        Err(url::ParseError::RelativeUrlWithoutBase) => Ok(FeedSource::File(src.resolve(text))),
        Err(e) => Err(format!("invalid URL: {e}")),
    }
}

pub(crate) fn read_feed(
    tab: &mut Tab<'_, '_>,
    daemon: &DaemonConfig,
    diag: &mut Diag,
) -> Option<FeedDraft> {
    let name = tab.required_string(diag, "name");
    if let Some(n) = &name {
        if let Err(e) = check_name(&n.value, false) {
            tab.key_error(diag, "name", &n.span, &format!("feed name {e}"));
        }
        tab.what = format!("feed `{}`", n.value);
    }
    tab.check_keys(diag, FEED_KEYS);
    let source = tab.required_string(diag, "url").and_then(|u| {
        parse_source(tab.src, &u.value)
            .map_err(|e| tab.key_error(diag, "url", &u.span, &e))
            .ok()
    });
    let interval = tab
        .duration(diag, "interval", SECOND)
        .unwrap_or(daemon.interval);
    let mut tags = Vec::new();
    for t in tab.strings(diag, "tags").unwrap_or_default() {
        match check_name(&t.value, true) {
            Err(e) => tab.key_error(diag, "tags", &t.span, &format!("tag {e}")),
            Ok(()) if tags.contains(&t.value) => {}
            Ok(()) => tags.push(t.value),
        }
    }
    let mut user_agent = daemon.user_agent.clone();
    if let Some(ua) = tab.string(diag, "user_agent") {
        match check_header("User-Agent", &ua.value) {
            Ok(()) if !ua.value.trim().is_empty() => user_agent = ua.value,
            Ok(()) => tab.key_error(diag, "user_agent", &ua.span, "must not be empty"),
            Err(e) => tab.key_error(diag, "user_agent", &ua.span, &e),
        }
    }
    let headers = read_headers(tab, diag);
    let stale_after = tab.duration(diag, "stale_after", SECOND);
    // A feed with errors is still returned (with a placeholder source; the load fails
    // anyway) so rules naming it do not get a spurious "unknown feed" error.
    let name = name?;
    let source = source.unwrap_or_else(|| FeedSource::File(Default::default()));
    Some(FeedDraft {
        config: FeedConfig {
            name: name.value.clone(),
            source,
            interval,
            tags,
            user_agent,
            headers,
            stale_after,
        },
        name,
    })
}

/// `headers = { Name = "value" }`, checked against header injection.
pub(crate) fn read_headers(tab: &Tab<'_, '_>, diag: &mut Diag) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in tab.string_map(diag, "headers").unwrap_or_default() {
        match check_header(&k.value, &v.value) {
            Ok(()) => out.push((k.value, v.value)),
            Err(e) => tab.key_error(diag, "headers", &k.span, &e),
        }
    }
    out
}

/// Decodes the body of a TOML basic string, recording for each decoded byte the offset of
/// the source byte it came from, so a caret inside a query lands on the right column even
/// when the query is written with escapes (`"/\\w+/"`). `None` for anything it does not
/// understand; the caller then points at the start of the string.
fn decode_basic(inner: &str, multiline: bool) -> Option<(String, Vec<usize>)> {
    fn push(out: &mut String, map: &mut Vec<usize>, c: char, at: usize) {
        out.push(c);
        map.extend(std::iter::repeat_n(at, c.len_utf8()));
    }
    let mut out = String::new();
    let mut map = Vec::new();
    let mut chars = inner.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            push(&mut out, &mut map, c, at);
            continue;
        }
        let (_, e) = chars.next()?;
        let decoded = match e {
            'b' => '\u{8}',
            't' => '\t',
            'n' => '\n',
            'f' => '\u{c}',
            'r' => '\r',
            'e' => '\u{1b}',
            '"' => '"',
            '\\' => '\\',
            'u' | 'U' => {
                let digits = if e == 'u' { 4 } else { 8 };
                let hex: String = (0..digits)
                    .filter_map(|_| {
                        chars
                            .next_if(|(_, h)| h.is_ascii_hexdigit())
                            .map(|(_, h)| h)
                    })
                    .collect();
                if hex.len() != digits {
                    return None;
                }
                char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
            }
            // A line-ending backslash swallows the newline and the whitespace after it.
            w if multiline && w.is_whitespace() => {
                while chars.next_if(|(_, n)| n.is_whitespace()).is_some() {}
                continue;
            }
            _ => return None,
        };
        push(&mut out, &mut map, decoded, at);
    }
    Some((out, map))
}

/// Where in the file the byte `offset` of a string value's *decoded* text lies: exact for
/// literal strings and for basic strings with escapes; the start of the string when the
/// source cannot be matched to the decoded text.
fn offset_in_literal(
    src: &SourceFile,
    span: &std::ops::Range<usize>,
    decoded: &str,
    offset: usize,
) -> usize {
    let raw = src.text.get(span.clone()).unwrap_or("");
    let (open, close) = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
        (3, 3)
    } else {
        (1, 1)
    };
    let mut inner_start = span.start + open;
    let mut inner = raw.get(open..raw.len().saturating_sub(close)).unwrap_or("");
    // A newline right after an opening triple quote is not part of the string.
    if open == 3 {
        for nl in ["\r\n", "\n"] {
            if let Some(rest) = inner.strip_prefix(nl) {
                inner = rest;
                inner_start += nl.len();
                break;
            }
        }
    }
    if inner == decoded && offset <= inner.len() {
        return inner_start + offset;
    }
    if raw.starts_with('"')
        && let Some((text, map)) = decode_basic(inner, open == 3)
        && text == decoded
    {
        return inner_start + map.get(offset).copied().unwrap_or(inner.len());
    }
    span.start
}

pub(crate) fn read_rule(tab: &mut Tab<'_, '_>, diag: &mut Diag) -> Option<RuleDraft> {
    let name = tab.required_string(diag, "name");
    if let Some(n) = &name {
        if let Err(e) = check_name(&n.value, true) {
            tab.key_error(diag, "name", &n.span, &format!("rule name {e}"));
        }
        tab.what = format!("rule `{}`", n.value);
    }
    tab.check_keys(diag, RULE_KEYS);
    let query_text = tab.required_string(diag, "query");
    let query = match (&query_text, &name) {
        (Some(q), _) if q.value.trim().is_empty() => {
            tab.key_error(diag, "query", &q.span, "must not be empty");
            None
        }
        (Some(q), Some(n)) => match Query::parse(&q.value) {
            Ok(query) => Some(query),
            Err(err) => {
                let at = offset_in_literal(tab.src, &q.span, &q.value, err.offset);
                let msg = err.render(&n.value);
                diag.errors.push(tab.src.error(&(at..at), msg.trim_end()));
                None
            }
        },
        _ => None,
    };
    let feeds = tab.strings(diag, "feeds");
    let notify = tab.strings(diag, "notify");
    for (key, list) in [("feeds", &feeds), ("notify", &notify)] {
        if let (Some(l), Some(span)) = (list, tab.key_span(key))
            && l.is_empty()
        {
            let msg = format!("is empty, so the rule would never fire; remove `{key}` to mean all");
            tab.key_error(diag, key, &span, &msg);
        }
    }
    Some(RuleDraft {
        name: name?,
        query_text: query_text.map(|q| q.value).unwrap_or_default(),
        query,
        feeds,
        notify,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_offsets_map_into_the_file() {
        let text = "a = \"x AND (y\"\nb = '''\nfoo OR'''\nc = \"esc\\\"aped\"\n";
        let src = SourceFile::new("f.toml".into(), text.to_string());
        let span_of = |needle: &str| {
            let start = text.find(needle).unwrap_or(0);
            start..start + needle.len()
        };
        // Plain basic string: offset 6 (`(`) is column 12 of line 1.
        let at = offset_in_literal(&src, &span_of("\"x AND (y\""), "x AND (y", 6);
        assert_eq!(src.loc(at).to_string(), "f.toml:1:12");
        // Multi-line literal: the newline after ''' is not part of the value.
        let at = offset_in_literal(&src, &span_of("'''\nfoo OR'''"), "foo OR", 4);
        assert_eq!(src.loc(at).to_string(), "f.toml:3:5");
        // Escapes: decoded offset 5 (`p`) is column 12, after the two-byte `\"`.
        let at = offset_in_literal(&src, &span_of("\"esc\\\"aped\""), "esc\"aped", 5);
        assert_eq!(src.loc(at).to_string(), "f.toml:4:12");
        // A value the source cannot be matched to: the start of the string.
        let at = offset_in_literal(&src, &span_of("\"esc\\\"aped\""), "other", 2);
        assert_eq!(src.loc(at).to_string(), "f.toml:4:5");
    }

    #[test]
    fn feed_sources() {
        let src = SourceFile::new("/etc/feedwatch/feedwatch.toml".into(), String::new());
        let ok = |s: &str| parse_source(&src, s).map(|f| f.to_string());
        assert_eq!(
            ok("https://example.org/rss").as_deref(),
            Ok("https://example.org/rss")
        );
        assert_eq!(
            ok("HTTP://Example.org/rss").as_deref(),
            Ok("http://example.org/rss")
        );
        assert_eq!(ok("file:///srv/a.xml").as_deref(), Ok("/srv/a.xml"));
        assert_eq!(
            ok("samples/a.xml").as_deref(),
            Ok("/etc/feedwatch/samples/a.xml")
        );
        assert_eq!(ok("/srv/b.xml").as_deref(), Ok("/srv/b.xml"));
        assert!(ok("").is_err());
        assert!(ok("mailto:a@example.org").is_err());
        let u = Url::parse("https://user:pw@example.org/x").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(redact(&u), "https://example.org/x");
        assert_eq!(FeedSource::Http(u).to_string(), "https://example.org/x");
    }

    #[test]
    fn basic_string_escapes_map_back_to_their_source() {
        // (source body, multi-line, decoded offset, expected source offset)
        let cases: &[(&str, bool, usize, Option<usize>)] = &[
            (r"a\\wb", false, 2, Some(3)),
            (r"\u00e9x", false, 2, Some(6)),
            (r"\U0001F600!", false, 4, Some(10)),
            (r#"say \"hi\""#, false, 5, Some(6)),
            ("ab\\\n   cd", true, 2, Some(7)),
            (r"end\t", false, 4, Some(5)),
            (r"bad\q", false, 0, None),
            (r"\u00", false, 0, None),
        ];
        for (body, multiline, offset, want) in cases {
            let got = decode_basic(body, *multiline)
                .map(|(_, map)| map.get(*offset).copied().unwrap_or(body.len()));
            assert_eq!(got, *want, "{body:?}");
        }
        let (text, _) = decode_basic(r"\u00e9\\", false).unwrap_or_default();
        assert_eq!(text, "é\\");
    }
}
