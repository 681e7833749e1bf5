//! Property tests: canonical print round-trips, and the compiled matcher agrees with the
//! reference evaluator.

use proptest::prelude::*;
use regex::RegexBuilder;

use super::*;

const WORDS: &[&str] = &[
    "lavrov",
    "kyrgyzstan",
    "kyrgyz",
    "csto",
    "minister",
    "ministers",
    "s",
    "and",
    "near",
    "japarov",
    "лавров",
    "киргизия",
    "одкб",
    "министр",
    "елка",
    "й",
];
const PREFIXES: &[&str] = &["kyr", "min", "lav", "c", "лав", "мин", "ки"];
const REGEXES: &[&str] = &[
    "Kyrgyz(stan|ia)",
    "CSTO",
    "лавров",
    r"\bmin",
    "^Lav",
    r"a\/b",
    // Inner literals (" lavrov", " japárov"), an alternation's literals, and one
    // regex without a usable literal, which runs on every document.
    r"\w+ (Lavrov|Japárov)",
    r"(stan|ister)s?\b",
    r"\d+|visit",
];

fn word() -> impl Strategy<Value = String> {
    proptest::sample::select(WORDS).prop_map(str::to_string)
}

fn term() -> impl Strategy<Value = Term> {
    prop_oneof![
        3 => word().prop_map(Term::Word),
        1 => proptest::sample::select(PREFIXES).prop_map(|p| Term::Prefix(p.to_string())),
        1 => proptest::collection::vec(word(), 2..4).prop_map(Term::Phrase),
    ]
}

fn field() -> impl Strategy<Value = Option<Field>> {
    prop_oneof![
        4 => Just(None),
        1 => proptest::sample::select(&Field::ALL[..]).prop_map(Some),
    ]
}

fn pattern() -> impl Strategy<Value = Pattern> {
    (proptest::sample::select(REGEXES), any::<bool>()).prop_filter_map(
        "regex compiles",
        |(src, ci)| {
            let regex = RegexBuilder::new(src).case_insensitive(ci).build().ok()?;
            Some(Pattern {
                source: src.to_string(),
                case_insensitive: ci,
                regex,
            })
        },
    )
}

fn leaf() -> impl Strategy<Value = Node> {
    prop_oneof![
        6 => (field(), term()).prop_map(|(field, term)| Node::Term { field, term }),
        2 => (field(), term(), term(), 0u32..6).prop_map(|(field, left, right, distance)| Node::Near {
            field, left, right, distance,
        }),
        1 => (field(), pattern()).prop_map(|(field, pattern)| Node::Regex { field, pattern }),
    ]
}

fn node() -> impl Strategy<Value = Node> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Node::And),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Node::Or),
            inner.prop_map(|n| Node::Not(Box::new(n))),
        ]
    })
}

/// The tree the parser builds for the same meaning: n-ary operators flattened.
fn normalize(n: Node) -> Node {
    let flat = |v: Vec<Node>, is_or: bool| {
        let mut out = Vec::new();
        for c in v.into_iter().map(normalize) {
            match c {
                Node::Or(k) if is_or => out.extend(k),
                Node::And(k) if !is_or => out.extend(k),
                c => out.push(c),
            }
        }
        out
    };
    match n {
        Node::And(v) => Node::And(flat(v, false)),
        Node::Or(v) => Node::Or(flat(v, true)),
        Node::Not(n) => Node::Not(Box::new(normalize(*n))),
        n => n,
    }
}

fn query() -> impl Strategy<Value = Query> {
    node()
        .prop_map(normalize)
        .prop_filter("parser rejects rules true on empty items", |n| {
            !n.when_nothing_occurs()
        })
        .prop_map(|root| Query { root })
}

/// Boolean mixes of a few words (and one prefix, phrase and regex): with many rules
/// sharing the same words, the matcher's choice of which operand triggers a rule varies
/// from rule to rule, and double negations and `NOT` under `OR` occur often.
fn mix() -> impl Strategy<Value = Query> {
    let leaf = prop_oneof![
        8 => proptest::sample::select(&["lavrov", "kyrgyzstan", "csto", "and", "s", "одкб"][..])
            .prop_map(|w| Node::Term { field: None, term: Term::Word(w.to_string()) }),
        1 => Just(Node::Term { field: None, term: Term::Prefix("min".to_string()) }),
        1 => Just(Node::Term {
            field: None,
            term: Term::Phrase(vec!["the".to_string(), "visit".to_string()]),
        }),
        1 => pattern().prop_map(|pattern| Node::Regex { field: None, pattern }),
    ];
    leaf.prop_recursive(5, 32, 3, |inner| {
        prop_oneof![
            3 => proptest::collection::vec(inner.clone(), 2..4).prop_map(Node::And),
            2 => proptest::collection::vec(inner.clone(), 2..4).prop_map(Node::Or),
            2 => inner.prop_map(|n| Node::Not(Box::new(n))),
        ]
    })
    .prop_map(normalize)
    .prop_filter("parser rejects rules true on empty items", |n| {
        !n.when_nothing_occurs()
    })
    .prop_map(|root| Query { root })
}

const SURFACES: &[&str] = &[
    "Lavrov",
    "LAVROV",
    "Kyrgyzstan",
    "Kyrgyzstan’s",
    "KYRGYZ",
    "Kyrgyz-Russian",
    "CSTO",
    "minister",
    "Ministers",
    "and",
    "NEAR",
    "Japárov",
    "Japa\u{301}rov",
    "JAPAROV",
    "Лавров",
    "ЛАВРОВ",
    "Киргизия",
    "ОДКБ",
    "министр",
    "ёлка",
    "Елка",
    "Й",
    "the",
    "visit",
    "в",
    "a/b",
    "s",
];
const SEPARATORS: &[&str] = &[" ", " ", " ", ", ", ". ", " - ", " (", ") ", "\n"];

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        (
            proptest::sample::select(SURFACES),
            proptest::sample::select(SEPARATORS),
        ),
        0..14,
    )
    .prop_map(|v| v.into_iter().flat_map(|(w, s)| [w, s]).collect())
}

#[derive(Debug, Clone)]
struct OwnedDoc {
    title: String,
    summary: String,
    content: String,
    authors: Vec<String>,
    categories: Vec<String>,
    link: String,
    feed: String,
}

impl OwnedDoc {
    fn doc(&self) -> Document<'_> {
        Document {
            title: &self.title,
            summary: &self.summary,
            content: &self.content,
            authors: &self.authors,
            categories: &self.categories,
            link: &self.link,
            feed: &self.feed,
        }
    }
}

fn document() -> impl Strategy<Value = OwnedDoc> {
    let list = || proptest::collection::vec(text(), 0..3);
    (text(), text(), text(), list(), list(), text(), text()).prop_map(
        |(title, summary, content, authors, categories, link, feed)| OwnedDoc {
            title,
            summary,
            content,
            authors,
            categories,
            link,
            feed,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn canonical_print_round_trips(q in query()) {
        let printed = q.to_string();
        let parsed = Query::parse(&printed);
        prop_assert!(parsed.is_ok(), "{printed:?}: {:?}", parsed.err().map(|e| e.render("p")));
        prop_assert_eq!(parsed.ok(), Some(q), "{}", printed);
    }

    #[test]
    fn rule_set_agrees_with_reference(
        qs in proptest::collection::vec(query(), 1..6),
        docs in proptest::collection::vec(document(), 1..4),
    ) {
        let refs: Vec<&Query> = qs.iter().collect();
        let set = RuleSet::new(&refs);
        for d in &docs {
            let doc = d.doc();
            let got = set.matches(&doc, &|_| true);
            let want: Vec<usize> = (0..qs.len()).filter(|&i| reference::matches(&qs[i], &doc)).collect();
            let got_rules: Vec<usize> = got.iter().map(|m| m.rule).collect();
            prop_assert_eq!(&got_rules, &want, "queries {:?}", qs.iter().map(|q| q.to_string()).collect::<Vec<_>>());
            for m in &got {
                prop_assert!(!m.matched.is_empty(), "rule {} matched nothing visible", qs[m.rule]);
            }
        }
    }

    #[test]
    fn trigger_sets_keep_and_or_not_mixes_exact(
        qs in proptest::collection::vec(mix(), 1..16),
        docs in proptest::collection::vec(document(), 1..4),
    ) {
        let refs: Vec<&Query> = qs.iter().collect();
        let set = RuleSet::new(&refs);
        for d in &docs {
            let doc = d.doc();
            let got: Vec<usize> = set.matching_rules(&doc);
            let want: Vec<usize> = (0..qs.len()).filter(|&i| reference::matches(&qs[i], &doc)).collect();
            prop_assert_eq!(&got, &want, "queries {:?}", qs.iter().map(|q| q.to_string()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn parser_never_panics(s in "[a-zA-Zа-яА-Я0-9 ()\"/*:\\\\|-]{0,40}") {
        let _ = Query::parse(&s);
    }

    #[test]
    fn parsed_queries_round_trip(s in "(title:|NOT |\\(|\\)| AND | OR | NEAR/3 |\"|lavrov|Kyrgyz\\*|csto|лавров| ){1,12}") {
        if let Ok(q) = Query::parse(&s) {
            prop_assert_eq!(Query::parse(&q.to_string()).ok(), Some(q));
        }
    }
}
