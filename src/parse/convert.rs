//! feed-rs's model to feedwatch's: every field as plain text, links absolute, keys assigned.

use feed_rs::model::{Entry, Feed, Link, Text};
use url::Url;

use super::sniff;
use crate::html::{collapse_whitespace, html_to_text};
use crate::identity;
use crate::model::{Item, ParsedFeed};

/// Converts a parsed feed. `is_rss` says the document was RSS, whose "plain" text fields
/// routinely carry escaped HTML and entities; `text` is the document, for the RSS
/// elements feed-rs does not keep.
pub fn convert(feed: Feed, base: Option<&Url>, text: &str, is_rss: bool) -> ParsedFeed {
    let mut items: Vec<Item> = feed
        .entries
        .iter()
        .map(|e| convert_entry(e, base, is_rss))
        .collect();
    identity::assign_keys(&mut items);
    let (skip_hours, skip_days) = if is_rss {
        sniff::skip_schedule(text)
    } else {
        (Vec::new(), Vec::new())
    };
    ParsedFeed {
        title: feed
            .title
            .as_ref()
            .map(|t| text_of(t, is_rss))
            .filter(|t| !t.is_empty()),
        items,
        ttl_minutes: feed.ttl,
        skip_hours,
        skip_days,
    }
}

fn convert_entry(e: &Entry, base: Option<&Url>, is_rss: bool) -> Item {
    let mut title = e
        .title
        .as_ref()
        .map(|t| text_of(t, is_rss))
        .unwrap_or_default();
    if title.is_empty() {
        // Media RSS items may carry their title only in <media:title>.
        title = e
            .media
            .iter()
            .filter_map(|m| m.title.as_ref())
            .map(|t| text_of(t, is_rss))
            .find(|t| !t.is_empty())
            .unwrap_or_default();
    }
    let content = e
        .content
        .as_ref()
        .and_then(|c| {
            let body = c.body.as_deref()?;
            Some(
                match (
                    c.content_type.ty().as_str(),
                    c.content_type.subty().as_str(),
                ) {
                    ("text", "plain") if !is_rss => collapse_whitespace(body),
                    ("text", _) | ("application", "xhtml" | "xhtml+xml" | "xml") => {
                        html_to_text(body)
                    }
                    // Base64 images and the like are not text.
                    _ => String::new(),
                },
            )
        })
        .unwrap_or_default();
    let mut summary = e
        .summary
        .as_ref()
        .map(|t| text_of(t, is_rss))
        .unwrap_or_default();
    if summary.is_empty() {
        // Video and podcast feeds (YouTube, iTunes) describe items only in media elements.
        summary = e
            .media
            .iter()
            .filter_map(|m| m.description.as_ref())
            .map(|t| text_of(t, is_rss))
            .find(|t| !t.is_empty())
            .unwrap_or_default();
    }
    let authors = e
        .authors
        .iter()
        .filter_map(|p| {
            let name = collapse_whitespace(&html_to_text(p.name.as_deref().unwrap_or("")));
            if name.is_empty() {
                p.email.as_deref().map(collapse_whitespace)
            } else {
                Some(name)
            }
        })
        .filter(|a| !a.is_empty())
        .collect();
    let categories = e
        .categories
        .iter()
        .map(|c| {
            let raw = c
                .label
                .as_deref()
                .filter(|l| !l.trim().is_empty())
                .unwrap_or(&c.term);
            if is_rss {
                html_to_text(raw)
            } else {
                collapse_whitespace(raw)
            }
        })
        .filter(|c| !c.is_empty())
        .collect();
    let guid = Some(e.id.trim())
        .filter(|g| !g.is_empty())
        .map(str::to_string);
    Item {
        key: String::new(),
        guid,
        link: pick_link(&e.links).map(|l| absolute(&l.href, base)),
        norm_link: None,
        title,
        summary,
        content,
        authors,
        categories,
        published: e.published.or(e.updated),
    }
}

/// Text fields as plain text: declared plain text outside RSS is kept as written
/// (whitespace collapsed); HTML and XHTML, and everything in RSS, go through
/// [`html_to_text`].
fn text_of(t: &Text, is_rss: bool) -> String {
    let plain =
        t.content_type.ty().as_str() == "text" && t.content_type.subty().as_str() == "plain";
    if plain && !is_rss {
        collapse_whitespace(&t.content)
    } else {
        html_to_text(&t.content)
    }
}

/// The item's own page: the first link without a relation or with `alternate`, that is
/// not a comments link; else the first link that is not an enclosure.
fn pick_link(links: &[Link]) -> Option<&Link> {
    let usable = |l: &&Link| !l.href.trim().is_empty() && l.target.is_none();
    links
        .iter()
        .filter(usable)
        .find(|l| {
            l.rel
                .as_deref()
                .is_none_or(|r| r.eq_ignore_ascii_case("alternate"))
        })
        .or_else(|| {
            links.iter().filter(usable).find(|l| {
                !l.rel
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case("enclosure"))
            })
        })
}

/// `href` starts with a URL scheme and its colon (`[A-Za-z][A-Za-z0-9+.-]*:`).
fn has_scheme(href: &str) -> bool {
    let b = href.as_bytes();
    let name = b
        .iter()
        .skip(1)
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'-'))
        .count();
    b.first().is_some_and(u8::is_ascii_alphabetic) && b.get(1 + name) == Some(&b':')
}

/// Resolves a relative link against the document's URL; leaves it alone when it is
/// absolute or cannot be resolved.
fn absolute(href: &str, base: Option<&Url>) -> String {
    let href = href.trim();
    if has_scheme(href) {
        // Absolute (whether or not it parses, it is kept as written): no need to parse
        // it just to find out.
        return href.to_string();
    }
    match Url::parse(href) {
        Ok(_) => href.to_string(),
        Err(url::ParseError::RelativeUrlWithoutBase) => base
            .and_then(|b| b.join(href).ok())
            .map_or_else(|| href.to_string(), |u| u.to_string()),
        Err(_) => href.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `absolute` did before its scheme check: parse, and keep whatever parses or
    /// fails for a reason other than being relative.
    fn by_parsing(href: &str, base: Option<&Url>) -> String {
        let href = href.trim();
        match Url::parse(href) {
            Err(url::ParseError::RelativeUrlWithoutBase) => base
                .and_then(|b| b.join(href).ok())
                .map_or_else(|| href.to_string(), |u| u.to_string()),
            _ => href.to_string(),
        }
    }

    #[test]
    fn absolute_links_are_kept_and_relative_ones_resolved() {
        let base = Url::parse("https://news.example/ru/index.xml").ok();
        let cases = [
            ("https://a.example/x?y#z", "https://a.example/x?y#z"),
            (" HTTP://A.example/x ", "HTTP://A.example/x"),
            ("mailto:desk@news.example", "mailto:desk@news.example"),
            ("c:\\path", "c:\\path"),
            ("http://[bad/", "http://[bad/"),
            (
                "/ru/2026/12/01/story",
                "https://news.example/ru/2026/12/01/story",
            ),
            ("story.html", "https://news.example/ru/story.html"),
            ("//cdn.example/a", "https://cdn.example/a"),
            ("1abc:x", "https://news.example/ru/1abc:x"),
            ("?page=2", "https://news.example/ru/index.xml?page=2"),
            ("", "https://news.example/ru/index.xml"),
        ];
        for (href, want) in cases {
            assert_eq!(absolute(href, base.as_ref()), want, "{href:?}");
            assert_eq!(
                absolute(href, base.as_ref()),
                by_parsing(href, base.as_ref()),
                "{href:?}"
            );
            assert_eq!(absolute(href, None), by_parsing(href, None), "{href:?}");
        }
    }
}
