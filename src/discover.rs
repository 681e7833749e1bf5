//! Feeds from elsewhere: `[[feed]]` tables from an OPML export, and the feeds an HTML page
//! advertises with `<link rel="alternate">`.
//!
//! Both produce [`FeedEntry`] lists printed as TOML the user can paste into the config.

use std::collections::HashSet;

use quick_xml::events::Event;
use serde::Serialize;

/// One `[[feed]]` table to print.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedEntry {
    pub name: String,
    pub url: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DiscoverError {
    #[error("not valid OPML: {0}")]
    Opml(String),
    #[error("the OPML file lists no feeds (no <outline> with an xmlUrl attribute)")]
    NoFeeds,
}

/// Feed names are used in rules (`feeds = [...]`) and must be unique and free of spaces
/// and `:`; this makes one from a title.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "feed".into() } else { out }
}

fn unique(name: String, taken: &mut HashSet<String>) -> String {
    if taken.insert(name.clone()) {
        return name;
    }
    (2..)
        .map(|i| format!("{name}-{i}"))
        .find(|n| taken.insert(n.clone()))
        .unwrap_or(name)
}

/// Reads an OPML document: every `<outline xmlUrl=…>`, tagged with the titles of the
/// folders (parent outlines) it sits in.
pub fn import_opml(xml: &str) -> Result<Vec<FeedEntry>, DiscoverError> {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut folders: Vec<Option<String>> = Vec::new();
    let mut taken = HashSet::new();
    let mut out = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| DiscoverError::Opml(e.to_string()))?;
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(e) if e.name().as_ref() == "outline" => {
                folders.pop();
                (None, false)
            }
            Event::Eof => break,
            _ => (None, false),
        };
        let Some(e) = start else { continue };
        if e.name().as_ref() != "outline" {
            continue;
        }
        let mut xml_url = None;
        let mut title = None;
        let mut text = None;
        for attr in e.attributes().flatten() {
            let value = html_escape::decode_html_entities(&attr.value).into_owned();
            match attr.key.as_ref() {
                "xmlUrl" | "xmlurl" => xml_url = Some(value),
                "title" => title = Some(value),
                "text" => text = Some(value),
                _ => {}
            }
        }
        let label = title.or(text);
        if let Some(url) = xml_url.filter(|u| !u.trim().is_empty()) {
            let name = unique(slug(label.as_deref().unwrap_or(&url)), &mut taken);
            let tags = folders.iter().flatten().map(|f| slug(f)).collect();
            out.push(FeedEntry {
                name,
                url: url.trim().to_string(),
                tags,
            });
            if !empty {
                folders.push(None);
            }
        } else if !empty {
            folders.push(label);
        }
    }
    if out.is_empty() {
        return Err(DiscoverError::NoFeeds);
    }
    Ok(out)
}

const FEED_TYPES: [&str; 4] = [
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
];

/// The feeds an HTML page links with `<link rel="alternate" type="…rss/atom/json…" href>`,
/// made absolute against `base`.
pub fn discover_links(html: &str, base: &url::Url) -> Vec<FeedEntry> {
    let mut out = Vec::new();
    let mut taken = HashSet::new();
    let mut seen_urls = HashSet::new();
    let lower = html.to_ascii_lowercase();
    let mut pos = 0;
    while let Some(i) = lower[pos..].find("<link") {
        let start = pos + i;
        let Some(end) = lower[start..].find('>').map(|e| start + e) else {
            break;
        };
        let tag = &html[start..end];
        pos = end;
        let attr = |name: &str| attribute(tag, name);
        let rel = attr("rel").unwrap_or_default().to_ascii_lowercase();
        let ty = attr("type").unwrap_or_default().to_ascii_lowercase();
        if !rel.split_whitespace().any(|r| r == "alternate") || !FEED_TYPES.contains(&ty.as_str()) {
            continue;
        }
        let Some(href) = attr("href") else { continue };
        let Ok(url) = base.join(&html_escape::decode_html_entities(&href)) else {
            continue;
        };
        if !seen_urls.insert(url.to_string()) {
            continue;
        }
        let title = attr("title").map(|t| html_escape::decode_html_entities(&t).into_owned());
        let label = title.unwrap_or_else(|| url.host_str().unwrap_or("feed").to_string());
        out.push(FeedEntry {
            name: unique(slug(&label), &mut taken),
            url: url.to_string(),
            tags: Vec::new(),
        });
    }
    out
}

/// The value of attribute `name` in one tag's source text (quoted or bare).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let before_ok = at > 0 && (bytes[at - 1] as char).is_ascii_whitespace();
        let rest = lower[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - rest.len() + 1;
        let raw = tag[value_start..].trim_start();
        let value = match raw.chars().next() {
            Some(q @ ('"' | '\'')) => raw[1..].split(q).next().unwrap_or(""),
            _ => raw
                .split(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
                .next()
                .unwrap_or(""),
        };
        return Some(value.to_string());
    }
    None
}

/// `[[feed]]` tables for the entries.
pub fn to_toml(entries: &[FeedEntry]) -> String {
    #[derive(Serialize)]
    struct Doc<'a> {
        feed: &'a [FeedEntry],
    }
    toml::to_string(&Doc { feed: entries }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opml_with_folders() {
        let opml = r#"<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>
          <outline text="News" title="News">
            <outline type="rss" text="TASS" title="TASS" xmlUrl="https://tass.com/rss/v2.xml"/>
            <outline type="rss" text="TASS" xmlUrl="https://tass.ru/rss/v2.xml"/>
          </outline>
          <outline type="rss" text="Release notes &amp; more" xmlUrl="https://example.org/releases.atom"/>
        </body></opml>"#;
        let feeds = import_opml(opml).unwrap();
        assert_eq!(
            feeds,
            vec![
                FeedEntry {
                    name: "tass".into(),
                    url: "https://tass.com/rss/v2.xml".into(),
                    tags: vec!["news".into()]
                },
                FeedEntry {
                    name: "tass-2".into(),
                    url: "https://tass.ru/rss/v2.xml".into(),
                    tags: vec!["news".into()]
                },
                FeedEntry {
                    name: "release-notes-more".into(),
                    url: "https://example.org/releases.atom".into(),
                    tags: vec![]
                },
            ]
        );
        let toml = to_toml(&feeds);
        assert!(toml.contains("[[feed]]\nname = \"tass\"\nurl = \"https://tass.com/rss/v2.xml\"\ntags = [\"news\"]"), "{toml}");
    }

    #[test]
    fn opml_errors() {
        assert_eq!(
            import_opml("<opml><body></body></opml>"),
            Err(DiscoverError::NoFeeds)
        );
        assert!(matches!(
            import_opml("<opml><body><outline></body>"),
            Err(DiscoverError::Opml(_))
        ));
    }

    #[test]
    fn html_alternate_links() {
        let html = r#"<html><head>
          <link rel="stylesheet" href="/s.css">
          <LINK REL="alternate" TYPE="application/rss+xml" TITLE="Новости" HREF="/rss/v2.xml">
          <link rel='alternate' type='application/atom+xml' href='https://example.org/atom?a=1&amp;b=2' title='Atom'/>
          <link rel="alternate" type="text/html" href="/en/">
        </head></html>"#;
        let base = url::Url::parse("https://tass.ru/politika").unwrap();
        let feeds = discover_links(html, &base);
        assert_eq!(feeds.len(), 2, "{feeds:?}");
        assert_eq!(feeds[0].url, "https://tass.ru/rss/v2.xml");
        assert_eq!(feeds[0].name, "новости");
        assert_eq!(feeds[1].url, "https://example.org/atom?a=1&b=2");
    }
}
