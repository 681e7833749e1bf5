//! Digest rendering: the subject line, the plain-text and HTML bodies, snippets with
//! the matched words highlighted, and the sample digest for `feedwatch test-destination`.
//!
//! Everything here is pure: a [`Digest`] and a timezone in, text out. Feed text is
//! untrusted; it is HTML-escaped in HTML and cleaned of control characters everywhere.

mod render;
mod snippet;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::model::{Digest, DigestItem};

pub use render::{render_html, render_text};
pub use snippet::{Highlighter, Marked, SNIPPET_CHARS, one_line, snippet, truncate_chars};

/// Rule name used for an item that carries no rule names.
const NO_RULE: &str = "(no rule)";

/// Subjects longer than this list fewer rules and say how many were left out.
const SUBJECT_MAX_CHARS: usize = 160;

/// The items of a digest under one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleGroup<'a> {
    pub rule: &'a str,
    pub items: Vec<&'a DigestItem>,
}

/// Groups items by rule (an item appears under each of its rules), ordered by item count
/// descending, then rule name. Items keep their digest order within a group.
pub fn group_by_rule(digest: &Digest) -> Vec<RuleGroup<'_>> {
    let mut groups: Vec<RuleGroup<'_>> = Vec::new();
    for item in &digest.items {
        let mut rules: Vec<&str> = item.rules.iter().map(String::as_str).collect();
        if rules.is_empty() {
            rules.push(NO_RULE);
        }
        rules.sort_unstable();
        rules.dedup();
        for rule in rules {
            match groups.iter_mut().find(|g| g.rule == rule) {
                Some(g) => g.items.push(item),
                None => groups.push(RuleGroup {
                    rule,
                    items: vec![item],
                }),
            }
        }
    }
    groups.sort_by(|a, b| {
        b.items
            .len()
            .cmp(&a.items.len())
            .then_with(|| a.rule.cmp(b.rule))
    });
    groups
}

/// `[feedwatch] 3 new: csto (2), lavrov-kyrgyzstan (1)`: the item count, then the count
/// per rule in [`group_by_rule`] order. One line, no control characters.
pub fn subject(digest: &Digest) -> String {
    let groups = group_by_rule(digest);
    let mut out = format!("[feedwatch] {} new", digest.items.len());
    for (i, g) in groups.iter().enumerate() {
        let part = format!(
            "{}{} ({})",
            if i == 0 { ": " } else { ", " },
            one_line(g.rule),
            g.items.len()
        );
        let rest = groups.len() - i;
        let reserve = if rest > 1 {
            " and 999 more rules".len()
        } else {
            0
        };
        if out.chars().count() + part.chars().count() + reserve > SUBJECT_MAX_CHARS && i > 0 {
            out.push_str(&format!(
                " and {rest} more rule{}",
                if rest == 1 { "" } else { "s" }
            ));
            break;
        }
        out.push_str(&part);
    }
    out
}

/// A time in the destination's timezone: `2026-12-01 14:05 MSK`.
pub fn format_time(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// The feed names of an item, comma-separated (the first feed when the list is empty).
pub fn feed_names(item: &DigestItem) -> String {
    if item.feeds.is_empty() {
        one_line(&item.feed)
    } else {
        one_line(&item.feeds.join(", "))
    }
}

/// The item's link when it is safe to make clickable: an absolute `http`/`https` URL,
/// normalised (so it carries no raw spaces, quotes or angle brackets). Other schemes
/// (`javascript:`, `data:`) from a hostile feed are never linked.
pub fn safe_link(item: &DigestItem) -> Option<String> {
    let url = url::Url::parse(item.link.as_deref()?.trim()).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

/// The item's snippet with its matched words marked.
pub fn item_snippet(item: &DigestItem, max_chars: usize) -> Marked {
    snippet(&item.summary, &Highlighter::new(&item.matched), max_chars)
}

/// A small digest for `feedwatch test-destination`: two items under two rules, one with
/// characters that need escaping, so the rendering can be checked end to end.
pub fn sample_digest(destination: &str, now: DateTime<Utc>) -> Digest {
    let item = |n: u32, title: &str, rules: &[&str], matched: &[&str], summary: &str| DigestItem {
        id: format!("https://example.org/feedwatch-test/{n}"),
        feed: "feedwatch-test".into(),
        feeds: vec!["feedwatch-test".into()],
        title: title.into(),
        link: Some(format!("https://example.org/feedwatch-test/{n}")),
        published: Some(now),
        summary: summary.into(),
        rules: rules.iter().map(|s| s.to_string()).collect(),
        matched: matched.iter().map(|s| s.to_string()).collect(),
    };
    Digest {
        id: format!("test-{}", now.format("%Y%m%dT%H%M%SZ")),
        destination: destination.to_string(),
        created_at: now,
        items: vec![
            item(
                1,
                "feedwatch test message",
                &["test"],
                &["test"],
                "This is a test digest sent by `feedwatch test-destination`. If you can read it, \
                 the destination works.",
            ),
            item(
                2,
                "Escaping check: <b>not bold</b> & \"quoted\"",
                &["test", "escaping"],
                &["check"],
                "Markup in feed text must arrive as literal text: <script>alert(1)</script>. \
                 This check passes when you see the angle brackets.",
            ),
        ],
    }
}

#[cfg(test)]
mod tests;
