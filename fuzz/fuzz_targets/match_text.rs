//! Text → match: the folded, vectorised word split and the regex prefilter against the
//! reference evaluator, on fields made of whatever bytes the fuzzer finds. Any panic is
//! a bug; so is a rule set that disagrees with the reference evaluator.
#![no_main]

use std::sync::OnceLock;

use feedwatch::rules::{Document, Query, RuleSet, reference};
use libfuzzer_sys::fuzz_target;

/// One rule per kind of unit and search: words, a prefix, phrases (with common words),
/// `NEAR`, field scopes, and regexes whose literals are Latin, Cyrillic, case variants
/// (the Kelvin sign and U+1C80 among them), taken from classes, or absent.
const RULES: &[&str] = &[
    "Lavrov AND Kyrgyz*",
    "Лавров OR ОДКБ OR Киргиз*",
    "\"Collective Security Treaty Organization\" OR \"в Бишкеке\"",
    "title:(summit NOT cancelled)",
    "Japarov NEAR/3 \"Sadyr Japarov\"",
    "/Tokar(ov|ev)/i",
    "/Лавр(ов|ову)/i",
    r"/\w+ Токаев/",
    r"/\d{4}-\d\d/",
    "/ёлка|Ёж/i AND NOT /xyz/",
    "category:politics OR author:\"Ivan Petrov\"",
    "\"the ministry\" AND /стан\\b/i",
    // Folded before their literals are taken: a small class with a rare variant, a
    // large class, an alternation under (?i).
    "/[kK\u{212a}]assym|Ka(ss|ſſ)ym/i",
    r"/[Ѐ-Я]ар(ов|ев)\b/",
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
    // Fields are split at 0xFF bytes (never in UTF-8): title, summary, content, then
    // categories and authors.
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{FFFD}');
    let title = parts.next().unwrap_or_default();
    let summary = parts.next().unwrap_or_default();
    let content = parts.next().unwrap_or_default();
    let categories: Vec<String> = parts.next().into_iter().map(str::to_string).collect();
    let authors: Vec<String> = parts.map(str::to_string).collect();
    let doc = Document {
        title,
        summary,
        content,
        authors: &authors,
        categories: &categories,
        link: "https://example.org/item",
        feed: "fuzz",
    };
    let (queries, set) = rules();
    let got: Vec<usize> = set.matches(&doc, &|_| true).iter().map(|m| m.rule).collect();
    let want: Vec<usize> = (0..queries.len())
        .filter(|i| reference::matches(&queries[*i], &doc))
        .collect();
    assert_eq!(got, want, "RuleSet and the reference evaluator disagree on {doc:?}");
});
