//! Bytes to normalised items: encoding decision, XML repair, feed-rs, plain text, identity.
//!
//! [`decode`] picks the encoding and transcodes to UTF-8; [`parse_feed`] then repairs what
//! would make the XML parser give up on a whole document, hands the text to feed-rs (RSS
//! 0.9x/1.0/2.0, Atom 0.3/1.0, JSON Feed), turns every field into plain text and gives each
//! item its key. It never returns part of a feed: a cut-off document is an error, because
//! marking its first items seen would lose the ones after the cut.

mod compat;
mod convert;
mod decode;
mod entities;
mod guess;
mod limits;
mod repair;
mod sniff;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use url::Url;

use crate::model::ParsedFeed;
use convert::convert;

pub use decode::{Decoded, decode};
pub use repair::repair_xml;

/// Why a body could not be read as a feed. Never returned for a feed that parsed: bad
/// bytes or references inside a feed spoil one field, not the feed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the server returned an empty body")]
    Empty,
    #[error("not a feed: {hint}")]
    NotAFeed { hint: String },
    #[error("malformed feed: {detail}")]
    Malformed { detail: String },
}

/// Parses a feed document. `http_charset` is the HTTP Content-Type charset, `base_url`
/// the URL it came from (relative links are made absolute against it).
pub fn parse_feed(
    bytes: &[u8],
    http_charset: Option<&str>,
    base_url: Option<&str>,
) -> Result<ParsedFeed, ParseError> {
    let decoded = decode::decode_for_parser(bytes, http_charset);
    let text = decoded.trim();
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    let base = base_url.and_then(|b| Url::parse(b.trim()).ok());
    match text.as_bytes()[0] {
        b'{' => parse_json(text, base.as_ref()),
        b'<' => parse_xml(text, base.as_ref()),
        _ => Err(ParseError::NotAFeed {
            hint: format!(
                "the body is neither XML nor JSON (it starts with {:?}); check that the URL \
                 points at the feed itself",
                text.chars().take(40).collect::<String>()
            ),
        }),
    }
}

fn parser(base: Option<&Url>) -> feed_rs::parser::Parser {
    feed_rs::parser::Builder::new()
        .base_uri(base.map(Url::as_str))
        // feed-rs invents ids (from a link hash, or a random UUID) for entries without one;
        // an empty id keeps "the feed gave none" visible so identity can decide.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .build()
}

fn parse_json(text: &str, base: Option<&Url>) -> Result<ParsedFeed, ParseError> {
    let feed = parser(base)
        .parse(text.as_bytes())
        .or_else(|e| match compat::adapt_json(text) {
            Some(fixed) => parser(base).parse(fixed.as_bytes()),
            None => Err(e),
        })
        .map_err(|e| ParseError::Malformed {
            detail: format!(
                "the JSON Feed could not be read ({e}); the download may have been cut off"
            ),
        })?;
    Ok(convert(feed, base, text, false))
}

fn parse_xml(text: &str, base: Option<&Url>) -> Result<ParsedFeed, ParseError> {
    if let Some(hint) = sniff::html_page_hint(text) {
        return Err(ParseError::NotAFeed { hint });
    }
    let Some(root) = sniff::root(text) else {
        return Err(ParseError::Malformed {
            detail: "the document has no root element".to_string(),
        });
    };
    let root_name = root.name.to_string();
    let root_tag = root.tag.clone();
    let local = sniff::local(&root_name).to_string();
    if !matches!(local.as_str(), "rss" | "feed" | "RDF" | "entry") {
        return Err(ParseError::NotAFeed {
            hint: format!(
                "the document's root element is <{root_name}>, not an RSS <rss>/<rdf:RDF> or \
                 Atom <feed>; check that the URL points at the feed itself"
            ),
        });
    }
    let repaired = repair_xml(text)?;
    limits::check(&repaired)?;
    let repaired = if local == "rss" {
        normalise_rss_version(repaired)
    } else {
        repaired
    };
    // Rewrites keep the root start tag's position except for the version fix, which only
    // grows the tag; find the root again for the truncation check below.
    let repaired = compat::adapt(repaired, &local);
    let root_tag = sniff::root(&repaired).map_or(root_tag, |r| r.tag);
    let parsed = parser(base).parse(repaired.as_bytes());
    // feed-rs can stop quietly at the end of the input with the items read so far.
    let closed = is_self_closing(&repaired, &root_tag)
        || sniff::root_closed(&repaired, &root_name, root_tag.end);
    if !closed {
        return Err(ParseError::Malformed {
            detail: format!(
                "the document ends before its root element <{root_name}> is closed: the feed \
                 was cut off (truncated download)"
            ),
        });
    }
    match parsed {
        Ok(feed) => Ok(convert(feed, base, &repaired, local == "rss")),
        // A complete `<rss>` without a `<channel>` is a feed with nothing in it.
        Err(feed_rs::parser::ParseFeedError::ParseError(
            feed_rs::parser::ParseErrorKind::NoFeedRoot,
        )) => Ok(ParsedFeed::default()),
        Err(e) => Err(ParseError::Malformed {
            detail: format!("{e}; the server sent broken XML"),
        }),
    }
}

fn is_self_closing(text: &str, tag: &std::ops::Range<usize>) -> bool {
    text.get(tag.clone()).is_some_and(|t| t.ends_with("/>"))
}

/// feed-rs reads `<rss>` only with version 2.0, 0.91 or 0.92; other versions (0.93, 0.94,
/// 2.01, none at all) are RSS 2.0 in practice.
fn normalise_rss_version(text: Cow<'_, str>) -> Cow<'_, str> {
    let Some(tag) = sniff::root(&text).map(|r| r.tag) else {
        return text;
    };
    let Some(start_tag) = text.get(tag.clone()) else {
        return text;
    };
    let version = attr(start_tag, "version");
    if matches!(version, Some("2.0" | "0.91" | "0.92" | "")) {
        return text;
    }
    let fixed = match version {
        Some(v) => start_tag
            .replacen(&format!("\"{v}\""), "\"2.0\"", 1)
            .replacen(&format!("'{v}'"), "'2.0'", 1),
        None => start_tag.replacen("<rss", "<rss version=\"2.0\"", 1),
    };
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..tag.start]);
    out.push_str(&fixed);
    out.push_str(&text[tag.end..]);
    Cow::Owned(out)
}

/// The value of attribute `name` in a start tag (quotes stripped).
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = tag;
    while let Some(at) = rest.find(name) {
        let before_ok = rest[..at].ends_with(|c: char| c.is_ascii_whitespace());
        let after = rest[at + name.len()..].trim_start();
        if before_ok && let Some(value) = after.strip_prefix('=') {
            let value = value.trim_start();
            let quote = value.chars().next()?;
            if quote == '"' || quote == '\'' {
                let v = &value[1..];
                return v.find(quote).map(|e| &v[..e]);
            }
        }
        rest = &rest[at + name.len()..];
    }
    None
}
