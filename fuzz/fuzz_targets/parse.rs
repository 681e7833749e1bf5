//! Bytes → decode → parse → normalise → match against a fixed set of rules. Any panic is
//! a bug; so is a parsed feed whose keys are not unique, or a rule set that disagrees
//! with the reference evaluator.
#![no_main]

use std::collections::HashSet;
use std::sync::OnceLock;

use feedwatch::parse::parse_feed;
use feedwatch::rules::{Document, Query, RuleSet, reference};
use libfuzzer_sys::fuzz_target;

const RULES: &[&str] = &[
    "Lavrov AND Kyrgyz*",
    "CSTO OR ОДКБ OR \"Collective Security Treaty Organization\"",
    "title:(summit NOT cancelled)",
    "\"Shanghai Cooperation\" OR SCO OR ШОС",
];

fn rules() -> &'static (Vec<Query>, RuleSet) {
    static RULES_SET: OnceLock<(Vec<Query>, RuleSet)> = OnceLock::new();
    RULES_SET.get_or_init(|| {
        let queries: Vec<Query> = RULES
            .iter()
            .map(|r| Query::parse(r).unwrap_or_else(|e| panic!("fixed rule {r}: {e}")))
            .collect();
        let refs: Vec<&Query> = queries.iter().collect();
        let set = RuleSet::new(&refs);
        (queries, set)
    })
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the HTTP charset, so that path is exercised too.
    let (charset, body) = match data.split_first() {
        Some((b, rest)) => (
            [None, Some("utf-8"), Some("windows-1251"), Some("koi8-r"), Some("utf-16")]
                [usize::from(*b) % 5],
            rest,
        ),
        None => (None, data),
    };
    let Ok(feed) = parse_feed(body, charset, Some("https://example.org/feed/")) else {
        return;
    };
    let keys: HashSet<&str> = feed.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys.len(), feed.items.len(), "item keys must be unique");
    let (queries, set) = rules();
    for item in &feed.items {
        let doc = Document::from_item(item, "fuzz");
        let got: Vec<usize> = set.matches(&doc, &|_| true).iter().map(|m| m.rule).collect();
        let want: Vec<usize> = (0..queries.len())
            .filter(|i| reference::matches(&queries[*i], &doc))
            .collect();
        assert_eq!(got, want, "RuleSet and the reference evaluator disagree on {item:?}");
    }
});
