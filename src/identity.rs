//! Item identity: the dedupe key of every item, never random, and link normalisation; and
//! the identity of a feed's source, which outlives the feed's name.
//!
//! The key is the feed's own guid/id when it has one (`guid:<id>`), else its normalised
//! link (`link:<link>`), else a hash of its title and text (`hash:<hex>`). Dates never take
//! part, so an edited or re-dated item keeps its key. Keys are made unique within one
//! document deterministically (see [`assign_keys`]), so two parses of the same bytes always
//! give the same keys.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};
use url::Url;

use crate::config::FeedSource;
use crate::model::Item;

/// Query parameters that only track the reader and never change what a link points to.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "igshid",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "wt_mc",
];

fn is_tracking_param(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.starts_with("utm_") || TRACKING_PARAMS.contains(&lower.as_str())
}

/// Normalises a link for identity: lower-case scheme and host, no fragment, no tracking
/// parameters, no default port, and http and https made equal by dropping the scheme
/// (`//host/path?q`). Other parameters keep their order. `None` for an empty or relative
/// link, which cannot identify anything on its own.
pub fn normalise_link(link: &str) -> Option<String> {
    let link = link.trim();
    if link.is_empty() {
        return None;
    }
    let mut url = Url::parse(link).ok()?;
    url.set_fragment(None);
    if let Some(query) = url.query() {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let key = pair.split('=').next().unwrap_or(pair);
                !pair.is_empty() && !is_tracking_param(key)
            })
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            let joined = kept.join("&");
            url.set_query(Some(&joined));
        }
    }
    match url.scheme() {
        // The url crate already lower-cases the host and drops the scheme's default port,
        // so only the scheme itself is left to erase.
        "http" | "https" => {
            let s = url.as_str();
            let rest = s.split_once(':').map_or(s, |(_, rest)| rest);
            Some(rest.to_string())
        }
        _ => Some(url.to_string()),
    }
}

/// The identity of a feed's source, stored with its state so a feed renamed in the config
/// is recognised: a hash, so a password in the URL never reaches the state database.
pub fn feed_source_id(source: &FeedSource) -> String {
    match source {
        FeedSource::Http(url) => format!("url:{}", short_hash(&[url.as_str()])),
        FeedSource::File(path) => format!("file:{}", short_hash(&[&path.to_string_lossy()])),
    }
}

/// First 32 hex chars of the SHA-256 of `parts` joined by newlines.
fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for (n, p) in parts.iter().enumerate() {
        if n > 0 {
            h.update(b"\n");
        }
        h.update(p.as_bytes());
    }
    let mut hex = hex::encode(h.finalize());
    hex.truncate(32);
    hex
}

/// The text that stands for an item's body in its hash key: the summary, or the content
/// when the summary is empty.
fn body_text(item: &Item) -> &str {
    if item.summary.is_empty() {
        &item.content
    } else {
        &item.summary
    }
}

/// The key an item gets on its own, before duplicates in the document are considered.
pub fn base_key(item: &Item) -> String {
    if let Some(guid) = item
        .guid
        .as_deref()
        .map(str::trim)
        .filter(|g| !g.is_empty())
    {
        return format!("guid:{guid}");
    }
    if let Some(norm) = item.norm_link.as_deref() {
        return format!("link:{norm}");
    }
    format!("hash:{}", short_hash(&[&item.title, body_text(item)]))
}

/// Fills `norm_link` from `link` and assigns every item its key. A key that several items
/// of this document share is refined for every one of them, not only for the later ones:
/// first by `#<normalised link>` (when the key is not already the link), then, among those
/// still sharing, by `#<hash of the title>`; whatever is still shared is the same entry
/// repeated, and its copies are numbered in document order (`#2`, `#3`, ...). So the
/// result is unique, the same on every parse, and an item keeps its key when the publisher
/// reorders the document or pushes a new item sharing its guid on top.
pub fn assign_keys(items: &mut [Item]) {
    for item in items.iter_mut() {
        item.norm_link = item.link.as_deref().and_then(normalise_link);
        item.key = base_key(item);
    }
    refine_shared(items, |item| {
        if item.key.starts_with("link:") {
            return None;
        }
        let norm = item.norm_link.as_deref()?;
        Some(format!("{}#{norm}", item.key))
    });
    refine_shared(items, |item| {
        let title_hash = short_hash(&[&item.title]);
        Some(format!("{}#{}", item.key, &title_hash[..8]))
    });
    let mut used: HashSet<String> = HashSet::with_capacity(items.len());
    // Per stem, the next copy number to try: every smaller one is taken already, so a feed
    // full of identical entries costs linear, not quadratic, time.
    let mut next: HashMap<String, usize> = HashMap::new();
    for item in items.iter_mut() {
        if used.contains(&item.key) {
            let stem = item.key.clone();
            let n = next.entry(stem.clone()).or_insert(2);
            while used.contains(&item.key) {
                item.key = format!("{stem}#{n}");
                *n += 1;
            }
        }
        used.insert(item.key.clone());
    }
}

/// Gives every item whose key another item of the document also has the key `refine`
/// returns (or leaves it when `None`).
fn refine_shared(items: &mut [Item], refine: impl Fn(&Item) -> Option<String>) {
    let mut counts: HashMap<&str, usize> = HashMap::with_capacity(items.len());
    for item in items.iter() {
        *counts.entry(item.key.as_str()).or_default() += 1;
    }
    let shared: Vec<bool> = items
        .iter()
        .map(|item| counts.get(item.key.as_str()).is_some_and(|n| *n > 1))
        .collect();
    for (item, shared) in items.iter_mut().zip(shared) {
        if shared && let Some(key) = refine(item) {
            item.key = key;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(guid: Option<&str>, link: Option<&str>, title: &str) -> Item {
        Item {
            key: String::new(),
            guid: guid.map(str::to_string),
            link: link.map(str::to_string),
            norm_link: None,
            title: title.to_string(),
            summary: "text".to_string(),
            content: String::new(),
            authors: vec![],
            categories: vec![],
            published: None,
        }
    }

    #[test]
    fn normalise_link_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("https://Example.COM/a/b", Some("//example.com/a/b")),
            ("HTTP://example.com/a/b", Some("//example.com/a/b")),
            ("http://example.com:80/a", Some("//example.com/a")),
            ("https://example.com:443/a", Some("//example.com/a")),
            ("https://example.com:8443/a", Some("//example.com:8443/a")),
            ("https://example.com/a#section-2", Some("//example.com/a")),
            (
                "https://example.com/a?utm_source=x&id=7&UTM_Medium=y&fbclid=z",
                Some("//example.com/a?id=7"),
            ),
            (
                "https://example.com/a?gclid=1&mc_cid=2&mc_eid=3&yclid=4&_ga=5",
                Some("//example.com/a"),
            ),
            (
                "https://example.com/a?b=2&a=1",
                Some("//example.com/a?b=2&a=1"),
            ),
            ("https://example.com/a?", Some("//example.com/a")),
            ("https://example.com", Some("//example.com/")),
            ("  https://example.com/x  ", Some("//example.com/x")),
            (
                "https://example.com/Path/Case",
                Some("//example.com/Path/Case"),
            ),
            ("urn:uuid:1234#x", Some("urn:uuid:1234")),
            ("/relative/path", None),
            ("", None),
            ("not a url", None),
        ];
        for (input, want) in cases {
            assert_eq!(normalise_link(input).as_deref(), *want, "input: {input:?}");
        }
    }

    #[test]
    fn key_falls_back_from_guid_to_link_to_hash() {
        let mut items = vec![
            item(Some("  abc-1 "), Some("https://e.com/1"), "One"),
            item(None, Some("https://e.com/2?utm_source=rss"), "Two"),
            item(None, None, "Three"),
        ];
        assign_keys(&mut items);
        assert_eq!(items[0].key, "guid:abc-1");
        assert_eq!(items[1].key, "link://e.com/2");
        assert_eq!(items[1].norm_link.as_deref(), Some("//e.com/2"));
        assert!(items[2].key.starts_with("hash:"));
        assert_eq!(items[2].key.len(), "hash:".len() + 32);
    }

    #[test]
    fn hash_key_ignores_dates_and_is_stable() {
        let mut a = vec![item(None, None, "Same")];
        let mut b = vec![item(None, None, "Same")];
        b[0].published = chrono::DateTime::from_timestamp(1_800_000_000, 0);
        assign_keys(&mut a);
        assign_keys(&mut b);
        assert_eq!(a[0].key, b[0].key);
    }

    #[test]
    fn duplicate_guids_are_told_apart_deterministically() {
        let build = || {
            vec![
                item(Some("g"), Some("https://e.com/1"), "A"),
                item(Some("g"), Some("https://e.com/2"), "B"),
                item(Some("g"), Some("https://e.com/2"), "C"),
                item(Some("g"), Some("https://e.com/2"), "C"),
                item(Some("g"), None, "D"),
                item(None, Some("https://e.com/home"), "E"),
                item(None, Some("https://e.com/home?utm_source=x"), "F"),
            ]
        };
        let mut first = build();
        assign_keys(&mut first);
        let keys: Vec<&str> = first.iter().map(|i| i.key.as_str()).collect();
        let hb = &short_hash(&["B"])[..8];
        let hc = &short_hash(&["C"])[..8];
        let he = &short_hash(&["E"])[..8];
        let hf = &short_hash(&["F"])[..8];
        assert_eq!(
            keys,
            [
                "guid:g#//e.com/1".to_string(),
                format!("guid:g#//e.com/2#{hb}"),
                format!("guid:g#//e.com/2#{hc}"),
                format!("guid:g#//e.com/2#{hc}#2"),
                "guid:g".to_string(),
                format!("link://e.com/home#{he}"),
                format!("link://e.com/home#{hf}"),
            ]
        );
        let mut second = build();
        assign_keys(&mut second);
        assert_eq!(first, second);
    }

    #[test]
    fn items_sharing_a_guid_keep_their_keys_when_reordered_or_joined() {
        let a = item(Some("g"), Some("https://e.com/a"), "A");
        let b = item(Some("g"), Some("https://e.com/b"), "B");
        let c = item(Some("g"), Some("https://e.com/c"), "C");
        let keys_of = |items: &[Item]| {
            let mut items = items.to_vec();
            assign_keys(&mut items);
            items
                .into_iter()
                .map(|i| (i.title, i.key))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let before = keys_of(&[a.clone(), b.clone()]);
        let after = keys_of(&[c, b, a]);
        assert_eq!(before["A"], after["A"]);
        assert_eq!(before["B"], after["B"]);
        assert_eq!(after.len(), 3);
        assert_ne!(after["C"], after["A"]);
    }
}
