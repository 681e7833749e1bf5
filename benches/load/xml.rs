//! Renders a generated feed as RSS 2.0 or Atom 1.0, the way common publishers write them:
//! RSS descriptions as CDATA or as escaped HTML, Atom summaries as escaped HTML.

use chrono::{DateTime, Utc};

use crate::text::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rss,
    Atom,
}

#[derive(Debug, Clone)]
pub struct ItemDoc {
    pub guid: String,
    pub link: String,
    pub title: String,
    pub html: String,
    pub published: DateTime<Utc>,
    pub category: &'static str,
    pub author: &'static str,
}

#[derive(Debug, Clone)]
pub struct FeedDoc<'a> {
    pub format: Format,
    pub lang: Lang,
    pub title: &'a str,
    pub home: &'a str,
    pub id: &'a str,
    pub updated: DateTime<Utc>,
    /// RSS only: wrap descriptions in CDATA rather than escaping them.
    pub cdata: bool,
    pub items: &'a [ItemDoc],
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

pub fn render(feed: &FeedDoc<'_>) -> String {
    let size: usize = feed
        .items
        .iter()
        .map(|i| i.html.len() + i.title.len() + 400)
        .sum();
    let mut x = String::with_capacity(size + 1024);
    match feed.format {
        Format::Rss => rss(feed, &mut x),
        Format::Atom => atom(feed, &mut x),
    }
    x
}

fn rss(feed: &FeedDoc<'_>, x: &mut String) {
    use std::fmt::Write;
    let _ = write!(
        x,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n\
         <title>{}</title>\n<link>{}</link>\n<description>{}</description>\n<language>{}</language>\n\
         <lastBuildDate>{}</lastBuildDate>\n",
        escape(feed.title),
        escape(feed.home),
        escape(feed.title),
        feed.lang.tag(),
        feed.updated.to_rfc2822(),
    );
    for i in feed.items {
        let description = if feed.cdata {
            format!("<![CDATA[{}]]>", i.html)
        } else {
            escape(&i.html)
        };
        let _ = write!(
            x,
            "<item>\n<title>{}</title>\n<link>{}</link>\n<guid isPermaLink=\"false\">{}</guid>\n<pubDate>{}</pubDate>\n\
             <category>{}</category>\n<description>{description}</description>\n</item>\n",
            escape(&i.title),
            escape(&i.link),
            escape(&i.guid),
            i.published.to_rfc2822(),
            escape(i.category),
        );
    }
    x.push_str("</channel>\n</rss>\n");
}

fn atom(feed: &FeedDoc<'_>, x: &mut String) {
    use std::fmt::Write;
    let _ = write!(
        x,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{}\">\n\
         <title>{}</title>\n<id>{}</id>\n<updated>{}</updated>\n<link href=\"{}\"/>\n",
        feed.lang.tag(),
        escape(feed.title),
        escape(feed.id),
        feed.updated.to_rfc3339(),
        escape(feed.home),
    );
    for i in feed.items {
        let _ = write!(
            x,
            "<entry>\n<title>{}</title>\n<id>{}</id>\n<link rel=\"alternate\" href=\"{}\"/>\n<published>{}</published>\n\
             <updated>{}</updated>\n<author><name>{}</name></author>\n<category term=\"{}\"/>\n\
             <summary type=\"html\">{}</summary>\n</entry>\n",
            escape(&i.title),
            escape(&i.guid),
            escape(&i.link),
            i.published.to_rfc3339(),
            i.published.to_rfc3339(),
            escape(i.author),
            escape(i.category),
            escape(&i.html),
        );
    }
    x.push_str("</feed>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(format: Format, cdata: bool) -> String {
        let items = vec![ItemDoc {
            guid: "urn:x:1".into(),
            link: "https://news.example.org/a?b=1&c=2".into(),
            title: "Farmers' unions & \"the\" <deal>".into(),
            html: "<p>Text <b>Zorvex</b> here.</p>".into(),
            published: DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(),
            category: "Politics",
            author: "Desk",
        }];
        render(&FeedDoc {
            format,
            lang: Lang::En,
            title: "Wire",
            home: "https://news.example.org/",
            id: "urn:feed:1",
            updated: DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(),
            cdata,
            items: &items,
        })
    }

    /// Parsed back with feed-rs, the reference parser feedwatch builds on.
    #[test]
    fn both_formats_parse_back() {
        for (format, cdata) in [
            (Format::Rss, true),
            (Format::Rss, false),
            (Format::Atom, false),
        ] {
            let xml = sample(format, cdata);
            let parsed = feed_rs::parser::parse(xml.as_bytes());
            let feed = match parsed {
                Ok(f) => f,
                Err(e) => panic!("{format:?} {cdata}: {e}\n{xml}"),
            };
            assert_eq!(feed.entries.len(), 1);
            let e = &feed.entries[0];
            assert_eq!(e.id, "urn:x:1");
            assert_eq!(
                e.title.as_ref().map(|t| t.content.as_str()),
                Some("Farmers' unions & \"the\" <deal>")
            );
            assert_eq!(
                e.links.first().map(|l| l.href.as_str()),
                Some("https://news.example.org/a?b=1&c=2")
            );
            let summary = e
                .summary
                .as_ref()
                .map(|s| s.content.clone())
                .unwrap_or_default();
            assert!(summary.contains("<b>Zorvex</b>"), "{summary}");
            assert!(e.published.is_some());
        }
    }
}
