use super::*;

fn sample(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/samples")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse_ok(bytes: &[u8], base: Option<&str>) -> ParsedFeed {
    match parse_feed(bytes, None, base) {
        Ok(f) => f,
        Err(e) => panic!("parse failed: {e}"),
    }
}

#[test]
fn samples_parse_with_expected_items() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "agency-news.xml",
            8,
            "Lavrov arrives in Kyrgyzstan for two-day visit",
        ),
        (
            "world-atom.xml",
            6,
            "Lavrov in Bishkek: what is on the table",
        ),
        ("releases.json", 6, "Example Tool 4.3.0 released"),
        (
            "ru-news-1251.xml",
            6,
            "Лавров прибыл в Киргизию с рабочим визитом",
        ),
    ];
    for (name, count, title) in cases {
        let feed = parse_ok(&sample(name), None);
        assert_eq!(feed.items.len(), *count, "{name}");
        assert!(
            feed.items.iter().any(|i| i.title == *title),
            "{name} lacks {title:?}"
        );
        assert!(
            feed.items.iter().all(|i| i.key.starts_with("guid:")),
            "{name}: stable guids"
        );
        assert!(
            feed.items.iter().all(|i| i.published.is_some()),
            "{name}: dated items"
        );
    }
}

#[test]
fn windows_1251_sample_is_real_cp1251_and_reads_as_cyrillic() {
    let bytes = sample("ru-news-1251.xml");
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the sample must be cp1251 bytes, not UTF-8"
    );
    assert_eq!(decode(&bytes, None).encoding, "windows-1251");
    let feed = parse_ok(&bytes, None);
    assert_eq!(feed.title.as_deref(), Some("Пример новостей"));
    let all: String = feed
        .items
        .iter()
        .map(|i| format!("{} {} ", i.title, i.summary))
        .collect();
    for word in [
        "Лавров",
        "Киргизию",
        "Кыргызстан",
        "ОДКБ",
        "ШОС",
        "Ещё",
        "пройдёт",
    ] {
        assert!(all.contains(word), "missing {word}");
    }
    assert_eq!(feed.ttl_minutes, Some(15));
}

#[test]
fn samples_share_a_story_across_feeds_by_normalised_link() {
    let agency = parse_ok(&sample("agency-news.xml"), None);
    let world = parse_ok(&sample("world-atom.xml"), None);
    let a = agency
        .items
        .iter()
        .find(|i| i.title.starts_with("Lavrov arrives"));
    let w = world
        .items
        .iter()
        .find(|i| i.title.starts_with("Lavrov in Bishkek"));
    let (Some(a), Some(w)) = (a, w) else {
        panic!("shared story missing")
    };
    assert_ne!(a.link, w.link, "the Atom copy carries utm parameters");
    assert_eq!(a.norm_link, w.norm_link);
    assert_eq!(
        w.summary,
        "Russia\u{2019}s foreign minister is in Kyrgyzstan for talks on migration and security."
    );
}

#[test]
fn fields_become_plain_text() {
    let feed = parse_ok(&sample("agency-news.xml"), None);
    let csto = &feed.items[0];
    assert!(
        csto.summary
            .starts_with("Foreign ministers of the CSTO (Collective")
    );
    assert!(!csto.summary.contains('<'));
    assert_eq!(csto.categories, vec!["Politics".to_string()]);
    let lavrov = &feed.items[1];
    assert!(
        lavrov
            .summary
            .contains("Kyrgyzstan\u{2019}s capital on Sunday. He is expected")
    );
    let draw = &feed.items[3];
    assert_eq!(draw.title, "City derby ends in 2\u{2013}2 draw");
    let releases = parse_ok(&sample("releases.json"), None);
    assert_eq!(releases.items[0].authors, vec!["Release Bot".to_string()]);
    assert_eq!(
        releases.items[0].content,
        "Adds proxy support and faster startup."
    );
}

const GUIDLESS: &str = r#"<rss version="2.0"><channel><title>t</title>
<item><title>No guid, has link</title><link>/story/1?utm_source=x</link></item>
<item><title>No guid, no link</title><description>Body &amp; more</description></item>
</channel></rss>"#;

#[test]
fn guidless_items_get_the_same_keys_on_every_parse() {
    let first = parse_ok(GUIDLESS.as_bytes(), Some("https://Example.com/feed.xml"));
    let second = parse_ok(GUIDLESS.as_bytes(), Some("https://Example.com/feed.xml"));
    let keys: Vec<&str> = first.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        second
            .items
            .iter()
            .map(|i| i.key.as_str())
            .collect::<Vec<_>>()
    );
    assert_eq!(keys[0], "link://example.com/story/1");
    assert_eq!(
        first.items[0].link.as_deref(),
        Some("https://example.com/story/1?utm_source=x")
    );
    assert_eq!(first.items[0].guid, None);
    assert!(keys[1].starts_with("hash:"));
    assert_eq!(
        first.items[1].guid, None,
        "feed-rs's generated id must not leak"
    );
}

#[test]
fn errors_name_the_problem() {
    let cases: &[(&str, &str)] = &[
        ("", "the server returned an empty body"),
        ("  \n\t ", "the server returned an empty body"),
        (
            "<!DOCTYPE html><html><head><title>Shop</title></head><body>Hi</body></html>",
            "feedwatch discover URL",
        ),
        (
            "<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>",
            "user_agent",
        ),
        (
            "<rss version=\"2.0\"><channel><title>t</title><item><title>cut",
            "cut off",
        ),
        (
            "<rss version=\"2.0\"><channel><item><title>a</title></item></channel>",
            "cut off",
        ),
        (
            "{\"version\": \"https://jsonfeed.org/version/1.1\", \"items\": [{\"id\": \"1\"",
            "JSON Feed",
        ),
        ("<catalog><book/></catalog>", "root element is <catalog>"),
        ("plain words", "neither XML nor JSON"),
        (
            "<rss version=\"2.0\"><channel><item></wrong></channel></rss>",
            "malformed",
        ),
    ];
    for (input, want) in cases {
        match parse_feed(input.as_bytes(), None, None) {
            Ok(f) => panic!("{input:?} parsed: {f:?}"),
            Err(e) => assert!(e.to_string().contains(want), "{input:?}: {e}"),
        }
    }
}

#[test]
fn formats_and_dialects_parse() {
    let cases: &[(&str, &str)] = &[
        (
            "<rss version=\"0.91\"><channel><title>c</title><item><title>RSS 0.91</title><link>http://e.com/1</link></item></channel></rss>",
            "RSS 0.91",
        ),
        (
            "<rss><channel><item><title>no version</title></item></channel></rss>",
            "no version",
        ),
        (
            "<rss version=\"0.94\"><channel><item><title>v0.94</title></item></channel></rss>",
            "v0.94",
        ),
        (
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\"><channel><title>c</title></channel><item><title>RSS 1.0</title><link>http://e.com/1</link></item></rdf:RDF>",
            "RSS 1.0",
        ),
        (
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://my.netscape.com/rdf/simple/0.9/\"><item><title>RSS 0.90</title><link>http://e.com/1</link></item></rdf:RDF>",
            "RSS 0.90",
        ),
        (
            "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><entry><title type=\"text/plain\">Atom 0.3</title><id>x</id><issued>2026-01-02T03:04:05Z</issued></entry></feed>",
            "Atom 0.3",
        ),
        (
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><title type=\"\">Atom &nbsp;1.0 &#0;</title><id>x</id></entry></feed>",
            "Atom 1.0 \u{FFFD}",
        ),
        (
            "{\"version\": \"https://jsonfeed.org/version/1\", \"items\": [{\"id\": \"1\", \"title\": \"JSON 1.0\"}]}",
            "JSON 1.0",
        ),
        (
            "{\"version\": \"http://jsonfeed.org/version/1\", \"items\": [{\"id\": 7, \"title\": \"JSON http\", \"tags\": \"a, b\"}]}",
            "JSON http",
        ),
        (
            "<rss version=\"2.0\"><channel><item><title>AT&T &eacute;t&eacute; &bogus; \u{1}</title></item></channel></rss>",
            "AT&T été &bogus; \u{FFFD}",
        ),
    ];
    for (input, title) in cases {
        let feed = parse_ok(input.as_bytes(), None);
        assert_eq!(
            feed.items.first().map(|i| i.title.as_str()),
            Some(*title),
            "{input}"
        );
    }
}

#[test]
fn rss_channel_schedule_hints() {
    let doc = "<rss version=\"2.0\"><channel><title>t</title><ttl>30</ttl>\
               <skipHours><hour>1</hour><hour>2</hour></skipHours>\
               <skipDays><day>Sunday</day></skipDays></channel></rss>";
    let feed = parse_ok(doc.as_bytes(), None);
    assert_eq!(
        (feed.ttl_minutes, feed.skip_hours, feed.skip_days),
        (Some(30), vec![1, 2], vec![6])
    );
}

#[test]
fn published_falls_back_to_updated() {
    let doc = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><id>a</id><title>t</title>\
               <updated>2026-03-04T05:06:07Z</updated></entry></feed>";
    let feed = parse_ok(doc.as_bytes(), None);
    assert_eq!(
        feed.items[0].published.map(|d| d.to_rfc3339()),
        Some("2026-03-04T05:06:07+00:00".into())
    );
}

/// Inputs the fuzzer found (fuzz/regressions/parse): each must parse or fail, never panic.
#[test]
fn fuzz_regressions() {
    // A second `<?xml ... encoding=...?>` after the start made quick-xml panic while
    // switching decoders.
    let late_declaration =
        include_bytes!("../../fuzz/regressions/parse/late-xml-declaration-encoding");
    // The fuzz target reads the first byte as the choice of HTTP charset (0: none).
    let _ = parse_feed(&late_declaration[1..], None, None);
    let doc = "<rss version=\"2.0\"><channel><title>t</title><?xml version=\"1.0\" \
               encoding=\"windows-1251\"?><item><title>Лавров</title></item></channel></rss>";
    let feed = parse_ok(doc.as_bytes(), None);
    assert_eq!(feed.items[0].title, "Лавров");
}

/// An XML declaration written in a CDATA section: the section is split around it for
/// quick-xml, and the item reads as before (the `<?…?>` is markup to the HTML-to-text
/// step, like any tag in a title).
#[test]
fn a_declaration_inside_cdata_leaves_the_item_whole() {
    let feed = parse_ok(
        br#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title><![CDATA[Start files with <?xml version="1.0"?> always]]></title>
<guid>a</guid></item></channel></rss>"#,
        None,
    );
    assert_eq!(feed.items.len(), 1);
    assert_eq!(feed.items[0].title, "Start files with always");
}
