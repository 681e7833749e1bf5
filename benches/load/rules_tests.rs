use super::*;

#[test]
fn queries_by_kind() {
    let rules = generate(1, 26);
    let kinds: Vec<&str> = rules
        .iter()
        .map(|r| r.name.split_once('-').map_or("", |(_, k)| k))
        .collect();
    assert_eq!(&kinds[..3], &["word", "phrase", "prefix"]);
    assert_eq!(kinds[13], "word");
    let by = |slug: &str| {
        rules
            .iter()
            .find(|r| r.name.ends_with(&format!("-{slug}")))
            .map(|r| r.query.clone())
    };
    let re = |pattern: &str, q: Option<String>| {
        let q = q.unwrap_or_default();
        assert!(
            regex::Regex::new(pattern).is_ok_and(|r| r.is_match(&q)),
            "{pattern} vs {q}"
        );
    };
    re(r"^[A-Z][a-z]{7}$", by("word"));
    re(r#"^"[A-Z][a-z]{7} [A-Z][a-z]{7}"$"#, by("phrase"));
    re(r"^[A-Z][a-z]{7}\*$", by("prefix"));
    re(
        r"^\([A-Z][a-z]{7} OR [A-Z][a-z]{7}\) AND [A-Z][a-z]{7}$",
        by("group"),
    );
    re(r"^title:[A-Z][a-z]{7}$", by("title"));
    re(r"^[A-Z][a-z]{7} NEAR/5 [A-Z][a-z]{7}$", by("near"));
    re(
        r"^[А-Я][а-я]{7} AND \([А-Я][а-я]{7}\* OR [А-Я][а-я]{7}\*\)$",
        by("ru-prefix-and"),
    );
    let scoped = rules.iter().find(|r| r.name.ends_with("-ru-scoped"));
    assert_eq!(
        scoped.and_then(|r| r.feeds.clone()),
        Some(vec!["tag:ru".to_string()])
    );
}

#[test]
fn terms_are_unique_and_apart_from_the_background() {
    let rules = generate(5, 2000);
    let mut all: Vec<String> = rules
        .iter()
        .flat_map(|r| r.terms.iter().map(|t| t.to_lowercase()))
        .collect();
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n);
    assert!(check_against(&rules, &text::vocabulary()).is_empty());
    // The check itself catches a clash.
    let clash = vec![format!("{}istan", rules[0].terms[0].to_lowercase())];
    assert_eq!(check_against(&rules, &clash).len(), 1);
}

#[test]
fn plants_follow_the_rule_semantics() {
    let rules = generate(2, 13);
    let mut rng = Rng::new(4);
    let rule = |slug: &str| rules.iter().find(|r| r.name.ends_with(&format!("-{slug}")));
    for r in &rules {
        let p = r.positive(&mut rng, Lang::Ru);
        assert!(p.matches, "{}", r.name);
        assert!(!p.title.is_empty() || !p.body.is_empty());
        if let Some(n) = r.negative(&mut rng, Lang::En) {
            assert!(!n.matches, "{}", r.name);
        }
    }
    let scoped = rule("ru-scoped");
    assert!(scoped.is_some_and(|r| !r.positive(&mut rng, Lang::En).matches));
    assert!(scoped.is_some_and(|r| r.negative(&mut rng, Lang::Ru).is_none()));
    let phrase = rule("phrase").map(|r| (r.terms.clone(), r.negative(&mut rng, Lang::En)));
    if let Some((terms, Some(neg))) = phrase {
        assert_eq!(neg.body.len(), 1);
        assert_eq!(
            neg.body[0].to_lowercase(),
            format!("{} {}", terms[1], terms[0]).to_lowercase()
        );
    }
    let title = rule("title").map(|r| r.positive(&mut rng, Lang::En));
    assert!(title.is_some_and(|p| p.title.len() == 1 && p.body.is_empty()));
}

/// An independent statement of what each rule means, over an item's lowercased title and
/// description words: the corpus test runs it on the generated XML as parsed back.
pub fn reference_match(
    rule: &RuleSpec,
    title: &[String],
    body: &[String],
    feed_lang: Lang,
) -> bool {
    let t = |k: usize| rule.term(k).to_lowercase();
    let fields = [title, body];
    let word = |w: &str| fields.iter().any(|f| f.iter().any(|x| x == w));
    let prefix = |p: &str| fields.iter().any(|f| f.iter().any(|x| x.starts_with(p)));
    let phrase = |a: &str, b: &str| {
        fields
            .iter()
            .any(|f| f.windows(2).any(|p| p[0] == a && p[1] == b))
    };
    let near = |a: &str, b: &str, d: usize| {
        fields.iter().any(|f| {
            let pos = |w: &str| {
                f.iter()
                    .enumerate()
                    .filter(|(_, x)| *x == w)
                    .map(|(i, _)| i)
                    .collect::<Vec<_>>()
            };
            pos(a)
                .iter()
                .any(|i| pos(b).iter().any(|j| i != j && i.abs_diff(*j) - 1 <= d))
        })
    };
    match rule.kind {
        Kind::Word | Kind::RuWord => word(&t(0)),
        Kind::Phrase | Kind::RuPhrase => phrase(&t(0), &t(1)),
        Kind::Prefix => prefix(&t(0)),
        Kind::And => word(&t(0)) && word(&t(1)),
        Kind::Or => word(&t(0)) || word(&t(1)) || word(&t(2)),
        Kind::AndNot => word(&t(0)) && !word(&t(1)),
        Kind::Group => (word(&t(0)) || word(&t(1))) && word(&t(2)),
        Kind::Title => title.iter().any(|x| *x == t(0)),
        Kind::Near => near(&t(0), &t(1), 5),
        Kind::RuPrefixAnd => word(&t(0)) && (prefix(&t(1)) || prefix(&t(2))),
        Kind::RuScoped => feed_lang == Lang::Ru && (word(&t(0)) || word(&t(1))),
    }
}
