//! Tables of good and bad queries, and evaluation on short news texts.

use super::*;

#[test]
fn good_queries_print_canonically_and_round_trip() {
    let cases = [
        ("CSTO", "csto"),
        ("Lavrov AND Kyrgyzstan", "lavrov AND kyrgyzstan"),
        ("Lavrov Kyrgyzstan", "lavrov AND kyrgyzstan"),
        ("a OR b c", "a OR b AND c"),
        ("(a OR b) c", "(a OR b) AND c"),
        ("a AND (b AND c)", "a AND b AND c"),
        ("((a))", "a"),
        ("NOT a AND b", "NOT a AND b"),
        ("b AND NOT (a OR c)", "b AND NOT (a OR c)"),
        ("x NOT NOT y", "x AND NOT NOT y"),
        ("and or not", "and AND or AND not"),
        ("\"Foreign Ministers\"", "\"foreign ministers\""),
        ("\"CSTO\"", "csto"),
        ("Russian-Kyrgyz", "\"russian kyrgyz\""),
        ("Kyrgyzstan's", "\"kyrgyzstan s\""),
        ("Kyrgyz*", "kyrgyz*"),
        ("Japár*", "japar*"),
        ("title:CSTO", "title:csto"),
        ("title:\"foreign ministers\"", "title:\"foreign ministers\""),
        ("title:(CSTO OR SCO)", "title:csto OR title:sco"),
        (
            "title:(CSTO OR SCO) Lavrov",
            "(title:csto OR title:sco) AND lavrov",
        ),
        (
            "author:Ivanov feed:tass link:kremlin category:Politics summary:x content:y",
            "author:ivanov AND feed:tass AND link:kremlin AND category:politics AND summary:x AND content:y",
        ),
        ("Lavrov NEAR/5 Kyrgyzstan", "lavrov NEAR/5 kyrgyzstan"),
        ("Lavrov NEAR Kyrgyz*", "lavrov NEAR/10 kyrgyz*"),
        (
            "\"foreign minister\" NEAR/0 Lavrov",
            "\"foreign minister\" NEAR/0 lavrov",
        ),
        (
            "title:(Lavrov NEAR/3 Bishkek)",
            "title:(lavrov NEAR/3 bishkek)",
        ),
        ("NOT a NEAR/2 b AND c", "NOT a NEAR/2 b AND c"),
        ("/Kyrgyz(stan|ia)/", "/Kyrgyz(stan|ia)/"),
        ("title:/csto/i", "title:/csto/i"),
        ("/a\\/b/ x", "/a\\/b/ AND x"),
        ("Лавров И Жапаров", "лавров AND и AND жапаров"),
        (
            "ОДКБ OR \"Шанхайская организация\"",
            "одкб OR \"шанхайская организация\"",
        ),
        ("Ёлка", "елка"),
        ("title:\n(a OR\tb)", "title:a OR title:b"),
    ];
    for (input, want) in cases {
        let q = Query::parse(input).unwrap_or_else(|e| panic!("{input:?}: {}", e.render("t")));
        let printed = q.to_string();
        assert_eq!(printed, want, "canonical print of {input:?}");
        let again =
            Query::parse(&printed).unwrap_or_else(|e| panic!("{printed:?}: {}", e.render("t")));
        assert_eq!(again, q, "round trip of {input:?}");
    }
}

#[test]
fn bad_queries_explain_what_is_wrong() {
    let fields = "fields are title, summary, content, author, category, link, feed";
    let cases: Vec<(&str, String)> = vec![
        ("(CSTO OR SCO", "expected `)` to close the `(` at column 1\n  (CSTO OR SCO\n              ^".into()),
        ("CSTO OR SCO)", "unexpected `)`: there is no `(` for it to close\n  CSTO OR SCO)\n             ^".into()),
        (")", "unexpected `)`: there is no `(` for it to close\n  )\n  ^".into()),
        ("a (b (c)", "expected `)` to close the `(` at column 3\n  a (b (c)\n          ^".into()),
        ("AND x", "`AND` needs a term before it\n  AND x\n  ^".into()),
        ("x OR", "expected a term after `OR`\n  x OR\n      ^".into()),
        ("x OR OR y", "expected a term after `OR`, found `OR`\n  x OR OR y\n       ^".into()),
        ("NOT", "expected a term after `NOT`\n  NOT\n     ^".into()),
        ("(x AND)", "expected a term after `AND`, found `)`\n  (x AND)\n        ^".into()),
        ("x ()", "empty parentheses: expected a term inside `()`\n  x ()\n     ^".into()),
        ("", "the query is empty: write at least one word\n  \n  ^".into()),
        ("titel:CSTO", format!("unknown field `titel`: {fields}\n  titel:CSTO\n  ^")),
        ("Лавров заголовок:x", format!("unknown field `заголовок`: {fields}\n  Лавров заголовок:x\n         ^")),
        ("\"\"", "empty phrase: put at least one word between the quotes\n  \"\"\n  ^".into()),
        ("a \" - \"", "empty phrase: put at least one word between the quotes\n  a \" - \"\n    ^".into()),
        ("\"Лавров в Бишкеке", "unterminated phrase: expected `\"` to close the `\"` at column 1\n  \"Лавров в Бишкеке\n                   ^".into()),
        ("x /Kyrgyz", "unterminated regex: expected `/` to close the `/` at column 3\n  x /Kyrgyz\n           ^".into()),
        ("/Kyrgyz(stan/", "invalid regex: unclosed group\n  /Kyrgyz(stan/\n  ^".into()),
        ("/csto/x", "unknown regex flag `x`: the only flag is `i` (case-insensitive), as in `/csto/i`\n  /csto/x\n        ^".into()),
        ("//", "empty regex: put a pattern between the slashes, as in `/Kyrgyz(stan|ia)/`\n  //\n  ^".into()),
        ("/\\w{200}\\w{200}/", "regex is too large: it compiles to more than 256 KiB; simplify it or split the rule\n  /\\w{200}\\w{200}/\n  ^".into()),
        ("a NEAR/x b", "bad NEAR distance `x`: write a whole number of words from 0 to 100, as in `NEAR/5`\n  a NEAR/x b\n    ^".into()),
        ("a NEAR/500 b", "bad NEAR distance `500`: write a whole number of words from 0 to 100, as in `NEAR/5`\n  a NEAR/500 b\n    ^".into()),
        ("a NEAR/+5 b", "bad NEAR distance `+5`: write a whole number of words from 0 to 100, as in `NEAR/5`\n  a NEAR/+5 b\n    ^".into()),
        ("a NEAR b NEAR c", "NEAR joins exactly two words or phrases, as in `Lavrov NEAR/5 Kyrgyzstan`; combine several with AND\n  a NEAR b NEAR c\n           ^".into()),
        ("title:a NEAR b", "NEAR needs a word, prefix or phrase on each side; to scope it to a field write `title:(Lavrov NEAR/5 Kyrgyzstan)`\n  title:a NEAR b\n  ^".into()),
        ("a NEAR (b OR c)", "NEAR needs a word, prefix or phrase on each side; to scope it to a field write `title:(Lavrov NEAR/5 Kyrgyzstan)`\n  a NEAR (b OR c)\n         ^".into()),
        ("title:(summary:x)", "field scopes cannot be nested: `summary:` is inside `title:(…)`\n  title:(summary:x)\n         ^".into()),
        ("title: OR x", "expected a word, phrase, regex or `(` after `title:`, found `OR`\n  title: OR x\n         ^".into()),
        ("a-b*c*", "`a-b*c*`: a prefix must be one word followed by `*`, as in `Kyrgyz*`\n  a-b*c*\n  ^".into()),
        ("*", "`*`: a prefix must be one word followed by `*`, as in `Kyrgyz*`\n  *\n  ^".into()),
        ("\"foreign minist*\"", "`*` does not work inside a phrase: it matches prefixes of single words, as in `Kyrgyz*`\n  \"foreign minist*\"\n  ^".into()),
        ("a & b", "`&` has no letters or digits to match\n  a & b\n    ^".into()),
    ];
    let everything = "this rule would match nearly everything: it is true for an item that contains none of its terms; add a term that must occur, as in `CSTO AND NOT sport`";
    let mut cases = cases;
    for q in [
        "NOT sport",
        "NOT a OR b",
        "a OR NOT b",
        "NOT (a AND b)",
        "NOT NOT NOT x",
        "title:(NOT x)",
    ] {
        cases.push((q, format!("{everything}\n  {q}\n  ^")));
    }
    for (input, want) in cases {
        match Query::parse(input) {
            Ok(q) => panic!("{input:?} parsed as {q}"),
            Err(e) => assert_eq!(
                e.render("r"),
                format!("rule `r`: {want}\n"),
                "error for {input:?}"
            ),
        }
    }
}

#[test]
fn hostile_input_is_an_error_not_a_crash() {
    let deep = "(".repeat(10_000) + "a" + &")".repeat(10_000);
    let e = Query::parse(&deep).err().map(|e| e.message);
    assert_eq!(
        e.as_deref(),
        Some("the query is nested too deeply (more than 64 levels of parentheses and NOT)")
    );
    let nots = "NOT ".repeat(10_000) + "a";
    assert!(Query::parse(&nots).is_err());
    for q in [
        "\"",
        "/",
        "/\\",
        "a:",
        "title:",
        "title:(",
        "((",
        "NEAR",
        "a NEAR",
        "NEAR/",
        "\u{301}",
        "a OR ( AND )",
    ] {
        assert!(Query::parse(q).is_err(), "{q:?} should not parse");
    }
}

#[test]
fn render_is_character_aware_and_single_line() {
    let e = QueryError {
        query: "Лавров\tAND (".into(),
        offset: "Лавров\tAND (".len(),
        message: "m".into(),
    };
    assert_eq!(
        e.render("ru"),
        "rule `ru`: m\n  Лавров AND (\n              ^\n"
    );
}

const EN_TITLE: &str = "Lavrov arrives in Bishkek for CSTO talks";
const EN_SUMMARY: &str = "Russian Foreign Minister Sergei Lavrov arrived in KYRGYZSTAN on Monday \
    for a meeting of CSTO foreign ministers. Kyrgyzstan’s president Sadyr Japárov met him at the \
    airport; the Russian-Kyrgyz talks will cover security in Central Asia.";
const RU_TITLE: &str = "Лавров прибыл в Бишкек";
const RU_SUMMARY: &str = "Министр иностранных дел России Сергей ЛАВРОВ прибыл в Киргизию на \
    заседание Совета министров иностранных дел ОДКБ. Его встретил президент Садыр Жапаров; \
    встреча пройдёт в Чолпон-Ате.";

fn check(doc: &Document<'_>, query: &str) -> Option<Vec<String>> {
    let q = Query::parse(query).unwrap_or_else(|e| panic!("{}", e.render("t")));
    let set = RuleSet::new(&[&q]);
    let got = set.matches(doc, &|_| true);
    assert_eq!(
        got.len() == 1,
        reference::matches(&q, doc),
        "reference disagrees on {query:?}"
    );
    got.into_iter().next().map(|m| m.matched)
}

#[test]
fn evaluation_on_news_texts() {
    let cats = vec!["World".to_string(), "Central Asia".to_string()];
    let authors = vec!["Anna Petrova".to_string()];
    let en = Document {
        title: EN_TITLE,
        summary: EN_SUMMARY,
        categories: &cats,
        authors: &authors,
        link: "https://news.example/2024/lavrov-kyrgyzstan-visit",
        feed: "example-world",
        ..Document::default()
    };
    let ru = Document {
        title: RU_TITLE,
        summary: RU_SUMMARY,
        ..Document::default()
    };
    let s = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let cases: Vec<(&Document<'_>, &str, Option<Vec<String>>)> = vec![
        (&en, "Lavrov AND Kyrgyzstan", s(&["Lavrov", "KYRGYZSTAN"])),
        (&en, "Lavrov AND NOT Kyrgyzstan", None),
        (&en, "CSTO", s(&["CSTO"])),
        (&en, "kyrgyzstan", s(&["KYRGYZSTAN"])),
        (&en, "Japarov", s(&["Japárov"])),
        (&en, "Russian", s(&["Russian"])),
        (&en, "\"Russian Kyrgyz\"", s(&["Russian-Kyrgyz"])),
        (&en, "\"foreign ministers\"", s(&["foreign ministers"])),
        (&en, "\"ministers foreign\"", None),
        (&en, "\"CSTO talks\"", s(&["CSTO talks"])),
        (&en, "title:Kyrgyzstan", None),
        (&en, "title:Bishkek", s(&["Bishkek"])),
        (&en, "summary:Bishkek", None),
        (&en, "title:(SCO OR CSTO)", s(&["CSTO"])),
        (&en, "Kyrgyz*", s(&["KYRGYZSTAN", "Kyrgyz"])),
        (&en, "Kyrgyz* AND NOT Uzbek*", s(&["KYRGYZSTAN", "Kyrgyz"])),
        (
            &en,
            "Lavrov NEAR/5 Kyrgyzstan",
            s(&["Lavrov", "KYRGYZSTAN"]),
        ),
        (&en, "Lavrov NEAR/1 Kyrgyzstan", None),
        (
            &en,
            "Kyrgyzstan NEAR/2 Lavrov",
            s(&["Lavrov", "KYRGYZSTAN"]),
        ),
        (
            &en,
            "\"Sergei Lavrov\" NEAR/0 arrived",
            s(&["Sergei Lavrov", "arrived"]),
        ),
        (&en, "title:(Lavrov NEAR/5 Kyrgyzstan)", None),
        (&en, "category:\"central asia\"", s(&["Central Asia"])),
        (&en, "\"world central\"", None),
        (&en, "author:petrova", s(&["Petrova"])),
        (&en, "Petrova", None),
        (
            &en,
            "link:kyrgyzstan AND feed:example",
            s(&["kyrgyzstan", "example"]),
        ),
        (&en, "/Kyrgyz(stan|ia)/", s(&["Kyrgyzstan"])),
        (&en, "/KYRGYZ(stan|ia)/i", s(&["KYRGYZSTAN"])),
        (&en, "/Uzbek/ OR Bishkek", s(&["Bishkek"])),
        (&en, "summary:/^Russian/", s(&["Russian"])),
        (&en, "title:/^Russian/", None),
        (
            &en,
            "(Lavrov OR Shoigu) AND NOT (sport OR football)",
            s(&["Lavrov"]),
        ),
        (&en, "and", None),
        (&ru, "Лавров", s(&["Лавров"])),
        (&ru, "summary:Лавров", s(&["ЛАВРОВ"])),
        (&ru, "лавров AND Жапаров", s(&["Лавров", "Жапаров"])),
        (&ru, "Лавров AND NOT Жапаров", None),
        (&ru, "Lavrov", None),
        (&ru, "Кирги*", s(&["Киргизию"])),
        (
            &ru,
            "\"министров иностранных дел\"",
            s(&["министров иностранных дел"]),
        ),
        (&ru, "пройдет", s(&["пройдёт"])),
        (&ru, "\"Чолпон Ате\"", s(&["Чолпон-Ате"])),
        (&ru, "ОДКБ NEAR/6 министров", s(&["министров", "ОДКБ"])),
        (&ru, "title:Бишкек", s(&["Бишкек"])),
        (&ru, "/Жапаров/", s(&["Жапаров"])),
        (&ru, "/ЖАПАРОВ/i", s(&["Жапаров"])),
    ];
    for (doc, query, want) in cases {
        assert_eq!(check(doc, query), want, "{query:?}");
    }
}

#[test]
fn many_rules_applies_filter_and_reuse() {
    let queries: Vec<Query> = [
        "CSTO",
        "Lavrov AND NOT Kyrgyzstan",
        "Japarov",
        "/Bishkek/",
        "Kyrgyz*",
        "sport",
    ]
    .iter()
    .filter_map(|q| Query::parse(q).ok())
    .collect();
    let refs: Vec<&Query> = queries.iter().collect();
    let set = RuleSet::new(&refs);
    assert!(set.heap_bytes() > 0);
    let doc = Document {
        title: EN_TITLE,
        summary: EN_SUMMARY,
        ..Document::default()
    };
    for _ in 0..3 {
        let got: Vec<usize> = set.matching_rules(&doc);
        assert_eq!(got, [0, 2, 3, 4]);
        let odd: Vec<usize> = set
            .matches(&doc, &|r| r % 2 == 0)
            .into_iter()
            .map(|m| m.rule)
            .collect();
        assert_eq!(odd, [0, 2, 4]);
        let empty = Document::default();
        assert!(set.matches(&empty, &|_| true).is_empty());
    }
    assert!(RuleSet::default().matches(&doc, &|_| true).is_empty());
}

/// Matches come back in rule order whether the candidates were few (sorted) or many
/// (read off the candidate bit set), and the next document starts clean.
#[test]
fn many_candidates_come_back_in_rule_order() {
    // Rules 0, 3, 6, ... match the English text; the others are candidates (they share
    // its words) that do not match.
    let texts: Vec<String> = (0..300)
        .map(|i| match i % 3 {
            0 => "Lavrov".to_string(),
            1 => format!("Lavrov AND absent{i}"),
            _ => format!("\"Lavrov absent{i}\""),
        })
        .collect();
    let queries: Vec<Query> = texts.iter().filter_map(|q| Query::parse(q).ok()).collect();
    assert_eq!(queries.len(), 300);
    let want: Vec<usize> = (0..300).step_by(3).collect();
    for n in [12, 30, 300] {
        let refs: Vec<&Query> = queries[..n].iter().collect();
        let set = RuleSet::new(&refs);
        let doc = Document {
            title: EN_TITLE,
            summary: EN_SUMMARY,
            ..Document::default()
        };
        for _ in 0..2 {
            let got: Vec<usize> = set.matching_rules(&doc);
            let expect: Vec<usize> = want.iter().copied().filter(|&r| r < n).collect();
            assert_eq!(got, expect, "{n} rules");
            assert!(set.matches(&Document::default(), &|_| true).is_empty());
        }
    }
}

#[test]
fn examples_in_docs_parse() {
    let doc = include_str!("../../docs/rules.md");
    let examples = doc.split("## Examples").nth(1).unwrap_or("");
    let examples = examples.split("## Errors").next().unwrap_or("");
    let mut n = 0;
    for block in examples.split("```text").skip(1) {
        for line in block
            .split("```")
            .next()
            .unwrap_or("")
            .lines()
            .filter(|l| !l.trim().is_empty())
        {
            let q = Query::parse(line).unwrap_or_else(|e| panic!("{}", e.render(line)));
            assert_eq!(Query::parse(&q.to_string()).ok(), Some(q));
            n += 1;
        }
    }
    assert_eq!(n, 10);
}

/// A rare case variant's bytes in the compact form can spell two Cyrillic letters
/// (`ſ` is C5 BF, as are `хп`): a plain literal containing them must keep its regex
/// searched in values without rare characters. Found in review; each pair failed.
#[test]
fn a_rare_literal_inside_a_plain_one_does_not_hide_it() {
    let cases: &[(&str, &str, &str)] = &[
        ("/ſ/", "/хпх/", "хпх"),
        ("/sss/i", "/Ъхп/i", "ЪХП"),
        ("/İ/", "/фаф/", "фаф"),
        ("/öж/", "/ужжа/", "ужжа"),
    ];
    for &(rare, plain, text) in cases {
        let queries: Vec<Query> = [rare, plain]
            .iter()
            .filter_map(|q| Query::parse(q).ok())
            .collect();
        assert_eq!(queries.len(), 2, "{rare} {plain}");
        let refs: Vec<&Query> = queries.iter().collect();
        let set = RuleSet::new(&refs);
        let doc = Document {
            summary: text,
            ..Document::default()
        };
        let got: Vec<usize> = set.matching_rules(&doc);
        assert_eq!(got, [1], "{rare} and {plain} on {text:?}");
    }
}

/// Regexes run only where their literals occur; literals inside or overlapping other
/// literals, case variants and regexes without literals are all still found.
#[test]
fn regex_literal_prefilter() {
    let rules = [
        "/Tokar(ov|ev)/i",
        "/oka/",
        "/abcd/",
        "/cde/",
        r"/\d+/",
        "/лавров/i",
        "title:/Bishkek/",
    ];
    let queries: Vec<Query> = rules.iter().filter_map(|q| Query::parse(q).ok()).collect();
    assert_eq!(queries.len(), rules.len());
    let refs: Vec<&Query> = queries.iter().collect();
    let set = RuleSet::new(&refs);
    let cases: &[(&str, &str, &[usize])] = &[
        ("", "Minister Tokarov spoke", &[0, 1]),
        ("", "TO\u{212a}AREV", &[0]),
        ("", "abcde", &[2, 3]),
        ("", "in 2024", &[4]),
        ("ЛАВРОВ", "", &[5]),
        // A rare case variant (U+1C80, a narrow `в`): its own literal.
        ("", "Сергей ЛАᲀРОВ", &[5]),
        ("", "«Лавров»", &[5]),
        ("", "in Bishkek", &[]),
        ("Bishkek", "", &[6]),
        ("", "nothing here", &[]),
    ];
    for &(title, summary, want) in cases {
        let doc = Document {
            title,
            summary,
            ..Document::default()
        };
        let got: Vec<usize> = set.matching_rules(&doc);
        assert_eq!(got, want, "title {title:?}, summary {summary:?}");
        let reference: Vec<usize> = (0..queries.len())
            .filter(|&i| reference::matches(&queries[i], &doc))
            .collect();
        assert_eq!(got, reference, "title {title:?}, summary {summary:?}");
    }
}
