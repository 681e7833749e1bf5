//! Property tests against the reference evaluator on adversarial input: regexes whose
//! literals are case-insensitive Cyrillic, rare case variants (`ſ`, the Kelvin sign,
//! the narrow Cyrillic forms) or characters whose compact bytes spell Cyrillic letters,
//! on text made of the same pieces; and words, prefixes and phrases of every length
//! around the 8- and 16-byte key limits, in every case and with combining marks,
//! shifted across the fold's 64-byte blocks.

use proptest::prelude::*;

use super::*;

/// Every rule of `rules` that parses, on every document made of a title and a content
/// (also the one category): the compiled set agrees with the reference evaluator.
fn agree(rules: &[String], docs: &[(String, String)]) -> Result<(), TestCaseError> {
    let qs: Vec<Query> = rules.iter().filter_map(|r| Query::parse(r).ok()).collect();
    if qs.is_empty() {
        return Ok(());
    }
    let refs: Vec<&Query> = qs.iter().collect();
    let set = RuleSet::new(&refs);
    for (title, content) in docs {
        let categories = vec![content.clone()];
        let doc = Document {
            title,
            content,
            categories: &categories,
            ..Document::default()
        };
        let got: Vec<usize> = set.matching_rules(&doc);
        let want: Vec<usize> = (0..qs.len())
            .filter(|&i| reference::matches(&qs[i], &doc))
            .collect();
        let printed: Vec<String> = qs.iter().map(|q| q.to_string()).collect();
        prop_assert_eq!(
            got,
            want,
            "rules {:?} on {:?} / {:?}",
            printed,
            title,
            content
        );
    }
    Ok(())
}

const REGEXES: &[&str] = &[
    "/Лавров/i",
    "/лавр/",
    "/ЛАВРОВСКИЙПРОСПЕКТБОЛЬШОЙ/i",
    "/Kassym/i",
    "/tokar(ov|ev)/i",
    "/ѣѣѣ/i",
    "/ёлка/i",
    "/Ёлка/",
    "/елка/",
    "/sss/i",
    "/ſ/",
    "/İ/",
    "/хпх/",
    "/фаф/",
    "/öж/",
    "/ужжа/",
    "/Japárov/i",
    r"/\w+ Лавр/i",
    "/[а-я]ов/",
    "/ова/i",
    "/оооооооооооооооооооо/i",
    "/kkkkkkkkkkkk/i",
    "/ᲀᲀᲀ/",
    "/вввв/i",
    "/»тл/",
    "/ж\u{301}ж/",
    "/éé/i",
    "/ЎЎЎ/i",
    "/Ъхп/i",
    r"/ab\.c/",
    "/ΑΘΗ/i",
    // Folded before their literals are extracted: alternations, small and large
    // classes, rare variants inside classes.
    "/Лавр(ов|ев)/i",
    "/лавр(ov|ev)/i",
    "/[A-Z]okarov/",
    "/[Ѐ-Я]авр/",
    "/[кК]ассым/",
    "/[kK\u{212a}]assym/",
    "/Ka(ss|ſſ)ym/i",
    "/ё(лк|ЛК)а/",
    r"/[\w&&[^a-z]]arov\b/i",
];

const PIECES: &[&str] = &[
    "Лавров",
    "ЛАВРОВ",
    "лав",
    "ров",
    "ВВов",
    "ЛАᲀРОВ",
    "ᲀ",
    "ᲂ",
    "ᲃ",
    "ᲈ",
    "ſ",
    "\u{212a}",
    "k",
    "ёлка",
    "ЁЛКА",
    "елка",
    "ѣ",
    "Ѣ",
    "ѐ",
    "Ў",
    "ў",
    "хп",
    "ХП",
    "фа",
    "İ",
    "ö",
    "ж",
    "Ж",
    "у",
    "а",
    "\u{301}",
    "\u{308}",
    "é",
    "e",
    "s",
    "sss",
    "Kassym",
    "tokarov",
    "TOKAREV",
    "в",
    "о",
    "ов",
    " ",
    " ",
    ", ",
    "-",
    "«",
    "»",
    "тл",
    "—",
    ".",
    "\n",
    "x",
    "ы",
    "ЪХП",
    "ΑΘΗ",
    "Japárov",
    "JAPA\u{301}ROV",
    "ab.c",
    "оооооооо",
    "ОООО",
    "Лаврев",
    "ЛАВРЕВ",
    "лаврov",
    "ЛАВРEV",
    "Tokarov",
    "Ѐавр",
    "ЍАВР",
    "Кассым",
    "кАССЫМ",
    "\u{212a}assym",
    "KASSYM",
    "ёЛКа",
    "OKAROV",
    "5AROV",
];

/// Pieces of ASCII and basic Cyrillic only: the values the rare literals' searches skip.
fn plain(piece: &&str) -> bool {
    piece
        .chars()
        .all(|c| c.is_ascii() || ('\u{400}'..='\u{47F}').contains(&c))
}

fn hostile_text() -> impl Strategy<Value = String> {
    let plain: Vec<&'static str> = PIECES.iter().copied().filter(plain).collect();
    prop_oneof![
        proptest::collection::vec(proptest::sample::select(PIECES), 0..60).prop_map(|v| v.concat()),
        proptest::collection::vec(proptest::sample::select(plain), 0..60).prop_map(|v| v.concat()),
    ]
}

const WORDS: &[&str] = &[
    "a",
    "ab",
    "abcd",
    "abcdefgh",
    "abcdefghi",
    "abcdefghijklmnop",
    "abcdefghijklmnopq",
    "abcdefgh1xyzwvuts",
    "abcdefgh2xyzwvuts",
    "мин",
    "министр",
    "министерствоиностранных",
    "министерствоиностранныхдел",
    "ж",
    "ёлка",
    "елка",
    "japárov",
    "japarov",
    "naïve",
    "kyrgyz",
    "kyrgyzstan",
    "лавров",
    "й",
    "2024",
    "s",
    "ѣ",
    "ᲀ",
    "в",
    "über",
    "αθηνα",
    "中文",
    "the",
];

const PREFIXES: &[&str] = &[
    "a",
    "ab",
    "abcd",
    "abcdefgh",
    "abcdefghi",
    "abcdefgh1",
    "м",
    "ми",
    "мин",
    "мини",
    "министерство",
    "ж",
    "ё",
    "е",
    "ел",
    "j",
    "jap",
    "japar",
    "é",
    "naï",
    "nai",
    "k",
    "kyr",
    "kyrgy",
    "лав",
    "лавро",
    "ü",
    "ub",
    "ᲀ",
    "2",
    "2024",
    "α",
    "αθη",
    "中",
];

/// `w` as a text might spell it: as is, upper case, capitalised, decomposed, or with
/// rare case variants.
fn spelled(w: &str, style: u8) -> String {
    match style % 6 {
        0 => w.to_string(),
        1 => w.to_uppercase(),
        2 => {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
        3 => w
            .replace('á', "a\u{301}")
            .replace('ï', "i\u{308}")
            .replace('ё', "е\u{308}")
            .replace('й', "и\u{306}"),
        4 => w.replace('s', "ſ").replace('k', "\u{212a}"),
        _ => w.replace('в', "ᲀ"),
    }
}

fn word_text() -> impl Strategy<Value = String> {
    let seps =
        proptest::sample::select(&[" ", " ", ", ", "-", "«", "»", " — ", "’", "\u{301}", "\n"][..]);
    (
        0usize..70,
        proptest::collection::vec((proptest::sample::select(WORDS), any::<u8>(), seps), 0..40),
    )
        .prop_map(|(pad, words)| {
            // Padding moves the words across the 64-byte blocks of the fold.
            let mut s = "y".repeat(pad);
            s.push(' ');
            for (w, style, sep) in words {
                s.push_str(&spelled(w, style));
                s.push_str(sep);
            }
            s
        })
}

fn term() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(WORDS).prop_map(str::to_string),
        2 => proptest::sample::select(PREFIXES).prop_map(|p| format!("{p}*")),
        2 => proptest::collection::vec(proptest::sample::select(WORDS), 2..5)
            .prop_map(|ws| format!("\"{}\"", ws.join(" "))),
    ]
}

fn rule() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => term(),
        2 => (term(), term(), 0u32..5).prop_map(|(a, b, d)| format!("{a} NEAR/{d} {b}")),
        1 => (proptest::sample::select(&["title:", "content:", "category:"][..]), term())
            .prop_map(|(f, t)| format!("{f}{t}")),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("({a} AND NOT {b})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// No regex is skipped that would match, whatever its literals are folded,
    /// compacted or merged into.
    #[test]
    fn the_regex_prefilter_never_hides_a_match(
        rules in proptest::collection::vec(proptest::sample::select(REGEXES), 1..10),
        docs in proptest::collection::vec((hostile_text(), hostile_text()), 1..4),
    ) {
        let rules: Vec<String> = rules.iter().map(|s| s.to_string()).collect();
        agree(&rules, &docs)?;
    }

    /// Words, prefixes and phrases of every length, spelled every way, anywhere in a
    /// value.
    #[test]
    fn words_prefixes_and_phrases_match_as_the_reference_says(
        rules in proptest::collection::vec(rule(), 1..8),
        docs in proptest::collection::vec((word_text(), word_text()), 1..3),
    ) {
        agree(&rules, &docs)?;
    }
}
